"""Serving the Web Connector: the WSGI app, and ``process_request`` for other hosts.

Strategy: everything that can be refused without parsing XML is refused
here, before spyne sees a byte: a wrong method, a wrong Content-Type or
charset, a body over the size limit or not in UTF-8, any DOCTYPE or entity
declaration. What passes is handed to spyne (``_service.py``), whose parser
is told the encoding (UTF-8), so that it reads exactly the characters the
DOCTYPE check read. spyne parses the envelope and calls the protocol core.
spyne's own faults (malformed XML, an unknown operation, a value of the
wrong type) are cut to a one-line faultstring, since they may quote the
offending input, and logged as one line: operation, size and error, never
the body.

Paths: unmounted (an empty ``SCRIPT_NAME``, as under ``gunicorn app:app``)
the app answers at every path, so an AppURL ending in ``/qbwc`` works as
well as one ending in ``/``. Mounted under a prefix, it answers at the
prefix, and a 404 elsewhere names it. ``GET`` without ``?wsdl`` answers a
short text page: what the endpoint is, where its WSDL is, and a health line.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import spyne.const
from lxml import etree
from spyne import Application
from spyne.error import ValidationError
from spyne.evmgr import EventManager
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from .._version import __version__
from .._xml import UTF8_NAMES, XMLError, check_utf8_prolog, utf8_parser
from ..exceptions import BadRequestError, ConfigurationError, RemoteProtocolError
from ..protocol._calls import CallObserver
from ..protocol._core import UNKNOWN_TICKET_MESSAGE, Core
from ..protocol._handler import QBWCHandler
from ..store._interfaces import SessionStore
from ..store._stores import MemorySessionStore
from ._logging import install_log_filters
from ._reference import ReferenceInterface
from ._service import NAMESPACE, QBWebConnectorSvc
from ._wire import READERS, WRITERS

if TYPE_CHECKING:
    from ._metrics import Metrics

__all__ = ["DEFAULT_MAX_BODY_BYTES", "QBWCServer", "make_wsgi_app"]

logger = logging.getLogger("qbwc_spyne")

#: Real receiveResponseXML bodies run to tens of MB.
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024

# spyne runs a full gc.collect() when a call's context closes, at most once
# a second, "to have file descriptors returned in a timely manner" (spyne's
# comment): for the files of its MIME attachments, which this service never
# reads. A full collection costs milliseconds per call once the process
# holds a few hundred thousand objects, and the answer is already written by
# then. Python's own generational collector still runs as usual. This is
# spyne's setting for the whole process: any spyne service in it is affected.
spyne.const.MIN_GC_INTERVAL = float("inf")

WSDL_FILE = Path(__file__).resolve().parent / "QBWebConnectorSvc.wsdl"
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_ENVELOPE, _HEADER, _BODY, _FAULT = (
    f"{{{_SOAP_ENV}}}{name}" for name in ("Envelope", "Header", "Body", "Fault")
)
_XML = "text/xml; charset=utf-8"

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


def _fault(code: str, message: str) -> bytes:
    """A SOAP 1.1 Fault envelope with a one-line faultstring."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{_SOAP_ENV}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:{code}</faultcode><faultstring>{escape(message, quote=False)}"
        "</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


# The envelope's first element inside soap:Body names the operation.
_OPERATION = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([A-Za-z]{1,40})\b")
_OPERATIONS = frozenset(QBWebConnectorSvc.public_methods)
_CHARSET = re.compile(r";\s*charset\s*=\s*(\"[^\"]*\"|[^;\s]*)", re.IGNORECASE)


_MENTIONS_PASSWORD = re.compile(rb"(?i)strpassword")


def _operation(body: bytes) -> str:
    """The operation a body calls, for the log: a WSDL name, or "?" (never body text)."""
    match = _OPERATION.search(body, 0, 4096)
    name = match.group(1).decode("ascii") if match else ""
    return name if name in _OPERATIONS else "?"


def _parse_envelope(data: bytes, parser: etree.XMLParser) -> Any:
    """Parse the SOAP envelope (one function, so that tests can watch every parse)."""
    return etree.XMLID(data, parser)


class _Soap11(Soap11):  # type: ignore[misc]
    """spyne's SOAP 1.1, reading UTF-8 only and each string element's text once.

    spyne's parser takes the encoding from the document, and logs the
    whole body at ERROR when it cannot parse it. This one is told the
    encoding (see ``_xml.utf8_parser``) and logs nothing: the server logs
    the fault as one line.

    spyne's own reader converts an element's text to a Python string twice
    (to validate it, then to keep it): about 20 ms each on the 30 MB text of
    a large receiveResponseXML. Validation is unchanged.

    Requests of our eleven operations are read by the readers compiled
    from the WSDL (``_wire.py``), which give spyne's arguments and spyne's
    faults; ``compiled=False`` keeps spyne's generic reader, for the tests
    and the benchmark that compare the two.
    """

    def __init__(self, *args: Any, compiled: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: False: spyne's generic reader, for comparisons (bench, tests).
        self.compiled = compiled
        # spyne's parser flags (remove_pis, strip_cdata, ...) less those
        # utf8_parser sets itself.
        self._parser_options = {
            key: value
            for key, value in self.parser_kwargs.items()
            if key not in ("encoding", "resolve_entities", "load_dtd", "no_network", "huge_tree")
        }
        self._threads = threading.local()

    def _parser(self) -> etree.XMLParser:
        """This thread's parser: lxml's must not be shared between threads, and a
        reused one skips building its dictionaries again on every call."""
        parser: etree.XMLParser | None = getattr(self._threads, "parser", None)
        if parser is None:
            parser = self._threads.parser = utf8_parser(**self._parser_options)
        return parser

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        # The server checked the method and Content-Type already, and never
        # passes a charset: spyne decoding the body would undo the checks.
        data = b"".join(ctx.in_string)
        try:
            ctx.in_document = _parse_envelope(data, self._parser())
        except etree.XMLSyntaxError as exc:
            raise Fault("Client.XMLSyntaxError", str(exc)) from None

    def unicode_from_element(self, ctx: Any, cls: Any, element: Any) -> Any:
        text = element.text
        if not cls.validate_string(cls, text):
            raise ValidationError(text)
        value = self.from_unicode(cls, "" if text is None else text)
        if not cls.validate_native(cls, value):
            raise ValidationError(value)
        return value

    def decompose_incoming_envelope(self, ctx: Any, message: str = "request") -> None:
        """Find the Header and the operation element in the Body.

        spyne's own looks them up with XPath; this walks the envelope's
        children once and sets the same context fields. An envelope whose
        Body has no element first is refused with a fault: spyne 2.14 fails
        on it with an AttributeError, which no SOAP client can read.
        """
        envelope, xmlids = ctx.in_document
        if envelope.tag != _ENVELOPE:
            super().decompose_incoming_envelope(ctx, message)  # spyne's fault
            return
        header = body = None
        for child in envelope:
            if child.tag == _BODY and body is None:
                body = child
            elif child.tag == _HEADER and header is None:
                header = child
        if header is None and body is None:
            super().decompose_incoming_envelope(ctx, message)  # spyne's fault
            return
        if body is None or len(body) == 0 or body[0].tag.__class__ is not str:
            raise Fault("Client.SoapError", "The SOAP Body holds no operation element.")
        if xmlids or not self.compiled:
            # spyne resolves SOAP-encoding href references to ids first.
            super().decompose_incoming_envelope(ctx, message)
            return
        ctx.in_document = envelope
        operation = body[0]
        if operation.tag == _FAULT:
            ctx.in_body_doc = operation
            return
        ctx.in_header_doc = None if header is None else header.getchildren()
        ctx.in_body_doc = operation
        ctx.method_request_string = operation.tag
        # What spyne's validate_body does, less its DEBUG log of the whole
        # envelope (which would hold the password of an authenticate).
        self.validate_document(operation)

    def deserialize(self, ctx: Any, message: str) -> None:
        """Read a request with its operation's compiled reader (``_wire.py``).

        spyne's generic walk stays for what the reader hands back (None: an
        attribute, a node it does not read) and for anything that is not one
        of our requests; faults are spyne's own either way.
        """
        descriptor = ctx.descriptor
        reader = READERS.get(descriptor.name) if self.compiled and descriptor else None
        body = ctx.in_body_doc
        if reader is None or message != self.REQUEST or body is None:
            super().deserialize(ctx, message)
            return
        self.event_manager.fire_event("before_deserialize", ctx)
        values = reader(self, ctx, body)
        if values is None:
            values = self.from_element(ctx, descriptor.in_message, body)
        ctx.in_object = values
        self.event_manager.fire_event("after_deserialize", ctx)


class _Soap11Out(Soap11):  # type: ignore[misc]
    """spyne's SOAP 1.1 writer, answering with each operation's compiled writer (``_wire.py``).

    The writer prints the bytes spyne's serializer would print (a test
    holds them equal) without building an lxml tree. Faults, and values
    the writer hands back (None: a type or a character it does not print),
    go through spyne's serializer.
    """

    def __init__(self, *args: Any, compiled: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compiled = compiled

    def serialize(self, ctx: Any, message: str) -> Any:
        writer = WRITERS.get(ctx.descriptor.name) if self.compiled and ctx.descriptor else None
        out = ctx.out_object
        if (
            writer is None
            or message != self.RESPONSE
            or ctx.out_error is not None
            or out is None
            or len(out) != 1
        ):
            return super().serialize(ctx, message)
        written = writer(out[0])
        if written is None:
            return super().serialize(ctx, message)
        self.event_manager.fire_event("before_serialize", ctx)
        # spyne's create_out_string reads out_document; this is what it would write.
        ctx.out_string = [written]
        self.event_manager.fire_event("after_serialize", ctx)
        return None

    def create_out_string(self, ctx: Any, charset: str | None = None) -> None:
        if ctx.out_string is None:
            super().create_out_string(ctx, charset)


class _EventManager(EventManager):  # type: ignore[misc]
    """spyne's event manager, firing the same handlers without building an empty set first.

    spyne's ``fire_event`` looks its handlers up with ``handlers.get(name,
    oset())``, which builds an ordered set, in Python, for each of the dozen
    events of a call though none has a listener: about a microsecond each.
    """

    def fire_event(self, event_name: str, ctx: Any, *args: Any, **kwargs: Any) -> None:
        handlers = self.handlers.get(event_name)
        if handlers:
            for handler in handlers:
                handler(ctx, *args, **kwargs)


#: Why tickets go unknown when several processes keep sessions in memory: logged
#: once at the first request, and added to what the Web Connector's user reads.
SESSIONS_PER_PROCESS = (
    "This server runs several worker processes and keeps sessions in memory"
    " (MemorySessionStore): each process knows only the sessions it started, so most"
    " calls reach a process that does not know the ticket. Give make_wsgi_app a shared"
    " store (store=SQLiteSessionStore(path), or SQLSessionStore(url) across hosts),"
    " or serve with one worker process."
)


class _Core(Core):
    """The protocol core, saying why a ticket is unknown when the server knows why.

    The Web Connector shows getLastError's and closeConnection's text to its
    user, who is the one to pass it on.
    """

    #: Appended to the unknown-ticket answer; set when the server found the cause.
    unknown_ticket_cause = ""

    def get_last_error(self, ticket: str | None) -> str:
        return self._explained(super().get_last_error(ticket))

    def close_connection(self, ticket: str | None) -> str:
        return self._explained(super().close_connection(ticket))

    def _explained(self, answer: str) -> str:
        if self.unknown_ticket_cause and answer == UNKNOWN_TICKET_MESSAGE:
            return f"{answer} {self.unknown_ticket_cause}"
        return answer


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class QBWCServer(ReferenceInterface):
    """A Web Connector service: a WSGI callable, and ``process_request`` for other hosts.

    It also has the QBWCServer reference class's own interface (the
    README's "Coming from the reference class"): ``QBWCServer()`` without a
    handler answers through hooks assigned as attributes
    (``server.on_authenticate = check``), and ``request_data``,
    ``process_request()``, ``response_data``, ``config()`` and
    ``create_qwc_file()`` work as that class documents.

    Args:
        handler: the application's :class:`~qbwc_spyne.QBWCHandler`; None
            (the default) to answer through the assigned hooks.
        store: where sessions live; a :class:`~qbwc_spyne.MemorySessionStore`
            if not given (one process only: use
            :class:`~qbwc_spyne.SQLiteSessionStore` for several workers).
        public_url: the endpoint's URL as the Web Connector reaches it, for
            the WSDL's ``soap:address`` behind a proxy; by default the URL
            of the ``?wsdl`` request.
        max_body_bytes: the largest request body accepted (413 above it).
        session_timeout: seconds a session may stay idle before it expires.
        max_connection_retries: connectionError retries allowed per session.
        clock: the time source, for tests.
        observers: told of every call once it is answered (connection
            status, metrics); see ``qbwc_spyne.protocol._calls.Call``.
        metrics: a :class:`~qbwc_spyne.Metrics`: added to the observers,
            and served at ``GET /metrics`` beside the endpoint (under a
            prefix: ``GET <prefix>/metrics``).

    Raises:
        ConfigurationError: a handler that is not a QBWCHandler, or a bad limit.

    .. versionchanged:: Unreleased
       ``observers`` and ``metrics`` added.
    """

    # False: spyne's generic reader and serializer instead of the compiled
    # ones (_wire.py), for the benchmark's and the tests' comparisons.
    _compiled = True

    def __init__(
        self,
        handler: QBWCHandler | None = None,
        *,
        store: SessionStore | None = None,
        public_url: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        session_timeout: float = 1800.0,
        max_connection_retries: int = 3,
        clock: Callable[[], float] = time.time,
        observers: Iterable[CallObserver] = (),
        metrics: Metrics | None = None,
    ) -> None:
        handler = self._init_reference(handler)
        if max_body_bytes <= 0:
            raise ConfigurationError("max_body_bytes must be positive")
        self._metrics_app: Callable[..., Iterable[bytes]] | None = None
        if metrics is not None:
            from ._metrics import make_metrics_app

            observers = list(observers)
            if metrics not in observers:  # given both ways, it still counts each call once
                observers.append(metrics)
            # Its sessions are active as long as the core's.
            metrics.session_timeout = session_timeout
            self._metrics_app = make_metrics_app(metrics)
        self.core = _Core(
            handler,
            store if store is not None else MemorySessionStore(),
            clock=clock,
            session_timeout=session_timeout,
            max_connection_retries=max_connection_retries,
            observers=observers,
        )
        self.public_url = public_url
        self.max_body_bytes = max_body_bytes
        self._served = False  # the first request checks how the server runs the app
        self._first = threading.Lock()
        install_log_filters()
        application = Application(
            [QBWebConnectorSvc],
            tns=NAMESPACE,
            name="QBWebConnectorSvc",
            # Soft validation checks types and occurrence while reading, at
            # no extra pass over the document; huge_tree admits the large
            # text nodes of real responses (no DTD ever reaches the parser).
            in_protocol=_Soap11(validator="soft", huge_tree=True, compiled=self._compiled),
            out_protocol=_Soap11Out(compiled=self._compiled),
        )
        application.qbwc_core = self.core
        # Bodies were size-checked already. spyne reads block_length bytes at a
        # time and joins the blocks: one block the size of the limit means one
        # read and no copy of a large body. The chunks spyne yields back are
        # joined in _call_spyne so that every response has a Content-Length.
        self._spyne = WsgiApplication(
            application, max_content_length=max_body_bytes, block_length=max_body_bytes
        )
        if self._compiled:
            for owner in (application, application.in_protocol, application.out_protocol):
                owner.event_manager = _EventManager(owner, owner.event_manager.handlers)
            self._spyne.event_manager = _EventManager(
                self._spyne, self._spyne.event_manager.handlers
            )
        wsdl = WSDL_FILE.read_text(encoding="utf-8")
        match = re.search(r'(<soap:address location=")[^"]*(")', wsdl)
        if match is None:
            raise ConfigurationError(f"{WSDL_FILE} has no soap:address")
        self._wsdl_head, self._wsdl_tail = wsdl[: match.end(1)], wsdl[match.start(2) :]

    @property
    def store(self) -> SessionStore:
        """The session store."""
        return self.core.store

    @property
    def handler(self) -> QBWCHandler:
        """The application's handler."""
        return self.core.handler

    # -- WSGI ------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not self._served:
            self._check_processes(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        prefix = environ.get("SCRIPT_NAME", "")
        if (
            self._metrics_app is not None
            and method == "GET"
            and environ.get("PATH_INFO", "") == "/metrics"
        ):
            return self._metrics_app(environ, start_response)
        if prefix and environ.get("PATH_INFO", "") not in ("", "/"):
            return self._send(
                start_response,
                "404 Not Found",
                f"Not Found. The QuickBooks Web Connector endpoint here is {prefix}"
                f" (its WSDL: {prefix}?wsdl).\n".encode(),
                "text/plain",
            )
        if method == "GET":
            if environ.get("QUERY_STRING", "").lower() == "wsdl":
                return self._send(start_response, "200 OK", self._wsdl(environ))
            return self._page(environ, start_response)
        if method != "POST":
            return self._send(
                start_response,
                "405 Method Not Allowed",
                b"POST a SOAP 1.1 request, GET ?wsdl for the WSDL, or GET for a status page.\n",
                "text/plain",
                [("Allow", "GET, POST")],
            )
        try:
            body = self._read(environ)
        except RemoteProtocolError as exc:
            logger.warning("refused a request from %s: %s", environ.get("REMOTE_ADDR", "?"), exc)
            status = f"{exc.error_status_hint} {_REASONS[exc.error_status_hint]}"
            if exc.error_status_hint == 415:
                return self._send(start_response, status, f"{exc}\n".encode(), "text/plain")
            return self._send(start_response, status, _fault("Client", str(exc)))
        return self._call_spyne(environ, start_response, body)

    def _check_processes(self, environ: Environ) -> None:
        """At the first request: say so when sessions will be lost between processes.

        Only the WSGI server knows whether it runs the app in several
        processes (``wsgi.multiprocess``, PEP 3333). With sessions in memory
        every call reaching another process than authenticate's finds no
        session, and the Web Connector's user reads "unknown ticket": the
        operator is told once, with the fix, and the user's text says it too.
        """
        with self._first:
            if self._served:
                return
            self._served = True
            if environ.get("wsgi.multiprocess") and isinstance(self.store, MemorySessionStore):
                logger.error(SESSIONS_PER_PROCESS)
                self.core.unknown_ticket_cause = SESSIONS_PER_PROCESS

    def _read(self, environ: Environ) -> bytes:
        """Return the body, checked for everything refused before parsing.

        Raises:
            BadRequestError: with the HTTP status to answer as its hint: 415
                for a Content-Type or charset other than text/xml in UTF-8,
                413 for a body over the limit, 500 (a SOAP fault) for an empty
                body, one not in UTF-8, or one declaring a DTD.
        """
        content_type = environ.get("CONTENT_TYPE", "")
        mime = content_type.partition(";")[0]
        if mime.strip().lower() != "text/xml":
            raise BadRequestError(
                f"Content-Type must be text/xml (SOAP 1.1), not {content_type[:60]!r}",
                error_status_hint=415,
            )
        charset = _CHARSET.search(content_type)
        name = "utf-8" if charset is None else charset.group(1).strip('"').lower()
        if name not in UTF8_NAMES:
            raise BadRequestError(
                f"the charset must be utf-8, not {name[:40]!r}", error_status_hint=415
            )
        try:
            declared = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            raise BadRequestError("Content-Length is not a number") from None
        if declared > self.max_body_bytes:
            raise BadRequestError(
                f"the body of {declared} bytes exceeds the limit of {self.max_body_bytes}",
                error_status_hint=413,
            )
        stream = environ["wsgi.input"]
        # Without a Content-Length, read one byte past the limit to detect it.
        body: bytes = stream.read(declared if declared >= 0 else self.max_body_bytes + 1)
        if len(body) > self.max_body_bytes:
            raise BadRequestError(
                f"the body exceeds the limit of {self.max_body_bytes} bytes",
                error_status_hint=413,
            )
        if not body.strip():
            raise BadRequestError("the request body is empty", error_status_hint=500)
        if "ascii" in name and not body.isascii():
            raise BadRequestError(f"the body is not {name}: send utf-8", error_status_hint=415)
        try:
            # What the parser reads is UTF-8 whatever the document says
            # (_Soap11): a document saying otherwise is refused, not misread.
            check_utf8_prolog(body)
        except XMLError as exc:
            raise BadRequestError(str(exc), error_status_hint=500) from None
        return body

    def _page(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        """The text page a browser or a health check gets from GET without ?wsdl."""
        url = self._url(environ)
        try:
            # One read of the store: a session store that cannot be read
            # means no session can be served.
            self.store.get("status-page-probe")
        except Exception as exc:  # any store failure is the health line's news
            status, health = (
                "503 Service Unavailable",
                f"unavailable: the session store failed ({type(exc).__name__})",
            )
        else:
            status, health = "200 OK", "ok"
        page = (
            f"QuickBooks Web Connector endpoint (qbwc_spyne {__version__}).\n"
            f"The Web Connector POSTs SOAP 1.1 here: {url}\n"
            f"WSDL: {url}?wsdl\n"
            "Put this URL in the AppURL of the QWC file the Web Connector imports.\n"
            f"status: {health}\n"
        )
        return self._send(start_response, status, page.encode(), "text/plain")

    def _call_spyne(
        self, environ: Environ, start_response: StartResponse, body: bytes
    ) -> Iterable[bytes]:
        inner = dict(environ)
        inner["wsgi.input"] = io.BytesIO(body)
        inner["CONTENT_LENGTH"] = str(len(body))
        # No charset: spyne would decode the body with it (see _Soap11).
        inner["CONTENT_TYPE"] = "text/xml"
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured[:] = [status, headers]

        try:
            # Straight to spyne's SOAP handling: the WSDL requests its __call__
            # tells apart (rebuilding the URL for them) were answered above.
            chunks = self._spyne.handle_rpc(inner, capture)
        except Exception as exc:
            # spyne 2.14 fails with a Python error, not a fault, on some
            # envelopes: an attribute named like an element of the operation,
            # a soap:Fault sent as a request. Each is the client's error.
            logger.warning(
                "answered %s (%d bytes) from %s with a Client fault: spyne could not read it (%s)",
                _operation(body),
                len(body),
                environ.get("REMOTE_ADDR", "?"),
                type(exc).__name__,
            )
            return self._send(
                start_response,
                "500 Internal Server Error",
                _fault("Client", "The request is not a call of this service that can be read."),
            )
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status = captured[0]
        if not status.startswith("200"):
            code, message = self._read_fault(payload)
            operation = _operation(body)
            # A parser's message quotes the input near the error (lxml: "CData
            # section not finished <text>"), so for a body that may carry a
            # password only the fault code reaches the log. The sender, who
            # wrote the body, still gets the whole faultstring.
            logged = message
            if operation in ("authenticate", "?") or _MENTIONS_PASSWORD.search(body):
                logged = "(the message is not logged: it may quote the password)"
            logger.warning(
                "answered %s (%d bytes) from %s with a %s fault: %s",
                operation,
                len(body),
                environ.get("REMOTE_ADDR", "?"),
                code,
                logged,
            )
            payload = _fault(code, message)
        return self._send(start_response, status, payload)

    @staticmethod
    def _read_fault(payload: bytes) -> tuple[str, str]:
        """Return the fault code (unprefixed) and a one-line faultstring of spyne's fault."""
        try:
            root = etree.fromstring(payload, etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError:
            return "Server", "The server could not answer the request."
        code = root.findtext(f".//{{{_SOAP_ENV}}}Fault/faultcode") or "Server"
        text = root.findtext(f".//{{{_SOAP_ENV}}}Fault/faultstring") or "SOAP fault"
        return code.rpartition(":")[2] or "Server", _one_line(text)

    def _url(self, environ: Environ) -> str:
        """The endpoint's URL: ``public_url``, or the URL of this request."""
        if self.public_url is not None:
            return self.public_url
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or (
            f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
        )
        return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"

    def _wsdl(self, environ: Environ) -> bytes:
        return f"{self._wsdl_head}{escape(self._url(environ))}{self._wsdl_tail}".encode()

    @staticmethod
    def _send(
        start_response: StartResponse,
        status: str,
        body: bytes,
        content_type: str = _XML,
        extra: list[tuple[str, str]] | None = None,
    ) -> list[bytes]:
        if content_type == "text/plain":
            content_type = "text/plain; charset=utf-8"
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        start_response(status, headers + (extra or []))
        return [body]

    # -- other hosts -------------------------------------------------------------

    def process_request(self, request_data: bytes | None = None) -> bytes:
        """Serve one SOAP request; return the response bytes.

        For hosts that are not WSGI (the reference class's model): read the
        HTTP body yourself, call this, and send the result with
        ``Content-Type: text/xml; charset=utf-8``. It runs the same pipeline
        as the WSGI app, checks included; a fault comes back as a SOAP Fault
        document.

        Args:
            request_data: the HTTP body. Without it, the ``request_data``
                property is served and the answer also goes to the
                ``response_data`` property, as the reference class does.

        Returns:
            The response body: a SOAP answer, or a one-line SOAP fault for a
            body that cannot be served. Nothing is raised for bad input.
        """
        if request_data is None:
            self.response_data = ""
            response = self.process_request(self._request_bytes())
            self.response_data = response.decode("utf-8")
            return response
        environ: Environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "CONTENT_TYPE": _XML,
            "CONTENT_LENGTH": str(len(request_data)),
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(request_data),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        return b"".join(self(environ, lambda status, headers, exc_info=None: None))


_REASONS = {
    400: "Bad Request",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}


def make_wsgi_app(
    handler: QBWCHandler,
    *,
    store: SessionStore | None = None,
    public_url: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    **options: Any,
) -> QBWCServer:
    """Return a WSGI application serving ``handler`` to the Web Connector.

    The app answers POSTed SOAP 1.1, ``GET ?wsdl`` with the WSDL
    (``soap:address`` set to ``public_url``, or to the request's URL), and
    ``GET`` with a short status page. Served on its own it answers at every
    path (``/`` and ``/qbwc`` alike); mounted under a URL prefix, it answers
    at the prefix and 404s elsewhere, naming the prefix.

    Args:
        handler: the application's handler.
        store: where sessions live (default: in memory, one process).
        public_url: the endpoint's public URL, when behind a proxy.
        max_body_bytes: the largest request body accepted.
        **options: ``session_timeout``, ``max_connection_retries``, ``clock``,
            ``observers``, ``metrics``; see :class:`QBWCServer`.

    Returns:
        A :class:`QBWCServer`, which is the WSGI callable.
    """
    return QBWCServer(
        handler, store=store, public_url=public_url, max_body_bytes=max_body_bytes, **options
    )
