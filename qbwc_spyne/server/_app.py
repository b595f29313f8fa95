"""The Web Connector's endpoint: the WSGI app, and ``process_request`` for other hosts.

Strategy: everything that can be refused without parsing XML is refused
here, before spyne sees a byte: a wrong method, a wrong Content-Type or
charset, a body over the size limit or not in UTF-8, any DOCTYPE or entity
declaration. What passes is handed to spyne (``_soap.py``, ``_service.py``),
whose parser is told the encoding (UTF-8), so that it reads exactly the
characters the DOCTYPE check read. spyne parses the envelope and calls the
protocol core. spyne's own faults (malformed XML, an unknown operation, a
value of the wrong type) are cut to a one-line faultstring, since they may
quote the offending input, and logged as one line: operation, size and
error, never the body.

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
from typing import TYPE_CHECKING, Any, TypedDict

from .._version import __version__
from .._xml import UTF8_NAMES, XMLError, check_utf8_prolog
from ..exceptions import BadRequestError, ConfigurationError, RemoteProtocolError
from ..protocol._calls import CallObserver
from ..protocol._core import UNKNOWN_TICKET_MESSAGE, Core
from ..protocol._handler import QBWCHandler
from ..protocol._ports import SessionStore
from ..store._stores import MemorySessionStore
from ._logging import install_log_filters
from ._soap import fault, operation_of, read_fault, spyne_app

if TYPE_CHECKING:
    from ._metrics import Metrics

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "SESSIONS_PER_PROCESS",
    "EndpointOptions",
    "WebConnectorApp",
    "make_wsgi_app",
]

logger = logging.getLogger("qbwc_spyne")

#: Real receiveResponseXML bodies run to tens of MB.
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024

WSDL_FILE = Path(__file__).resolve().parent / "QBWebConnectorSvc.wsdl"
_XML = "text/xml; charset=utf-8"
_CHARSET = re.compile(r";\s*charset\s*=\s*(\"[^\"]*\"|[^;\s]*)", re.IGNORECASE)
_MENTIONS_PASSWORD = re.compile(rb"(?i)strpassword")
_REASONS = {
    400: "Bad Request",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

#: Why tickets go unknown when several processes keep sessions in memory: logged
#: once at the first request, and added to what the Web Connector's user reads.
SESSIONS_PER_PROCESS = (
    "This server runs several worker processes and keeps sessions in memory"
    " (MemorySessionStore): each process knows only the sessions it started, so most"
    " calls reach a process that does not know the ticket. Give make_wsgi_app a shared"
    " store (store=SQLSessionStore(path), or SQLSessionStore(url) across hosts),"
    " or serve with one worker process."
)


class EndpointOptions(TypedDict, total=False):
    """The endpoint's keyword arguments after the handler (see :class:`WebConnectorApp`)."""

    store: SessionStore | None
    public_url: str | None
    max_body_bytes: int
    session_timeout: float
    max_connection_retries: int
    clock: Callable[[], float]
    observers: Iterable[CallObserver]
    metrics: Metrics | None


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


class WebConnectorApp:
    """A Web Connector endpoint serving a handler: a WSGI callable, and ``process_request``.

    :func:`make_wsgi_app` builds one. It is the endpoint alone: the
    reference class's own interface (``qwc_file_info_*``, hooks,
    ``config()``, ``create_qwc_file()``) is :class:`~qbwc_spyne.QBWCServer`'s,
    which is this app with that interface added.

    Args:
        handler: the application's :class:`~qbwc_spyne.QBWCHandler`.
        store: where sessions live; a :class:`~qbwc_spyne.MemorySessionStore`
            if not given (one process only: use
            :class:`~qbwc_spyne.SQLSessionStore` for several workers).
        public_url: the endpoint's URL as the Web Connector reaches it, for
            the WSDL's ``soap:address`` behind a proxy; by default the URL
            of the ``?wsdl`` request.
        max_body_bytes: the largest request body accepted (413 above it).
        session_timeout: seconds a session may stay idle before it expires.
        max_connection_retries: connectionError retries allowed per session.
        clock: the time source, for tests.
        observers: told of every call once it is answered (connection
            status, metrics); see ``qbwc_spyne.protocol._calls.Call``.
        metrics: a :class:`~qbwc_spyne.metrics.Metrics`: added to the
            observers, and served at ``GET /metrics`` beside the endpoint
            (under a prefix: ``GET <prefix>/metrics``).

    Raises:
        ConfigurationError: a handler that is not a QBWCHandler, or a bad limit.

    .. versionadded:: Unreleased
       The endpoint's own class; it was :class:`~qbwc_spyne.QBWCServer`.
    """

    # False: spyne's generic reader and serializer instead of the compiled
    # ones (_wire.py), for the benchmark's and the tests' comparisons.
    _compiled = True

    def __init__(
        self,
        handler: QBWCHandler,
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
        if max_body_bytes <= 0:
            raise ConfigurationError("max_body_bytes must be positive")
        self._metrics_app: Callable[..., Iterable[bytes]] | None = None
        if metrics is not None:
            from ._metrics import exposition

            observers = list(observers)
            if metrics not in observers:  # given both ways, it still counts each call once
                observers.append(metrics)
            # Its sessions are active as long as the core's.
            metrics.session_timeout = session_timeout
            self._metrics_app = exposition(metrics)
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
        self._spyne = spyne_app(self.core, max_body_bytes=max_body_bytes, compiled=self._compiled)
        wsdl = WSDL_FILE.read_text(encoding="utf-8")
        match = re.search(r'(<soap:address location=")[^"]*(")', wsdl)
        if match is None:
            raise ConfigurationError(f"{WSDL_FILE} has no soap:address")
        self._wsdl_head, self._wsdl_tail = wsdl[: match.end(1)], wsdl[match.start(2) :]

    def __setattr__(self, name: str, value: Any) -> None:
        # The reference class's hooks (on_authenticate, ...) are QBWCServer's:
        # assigned here one would never fire, as the handler answers every call.
        if name.startswith("on_") and not hasattr(type(self), name):
            raise ConfigurationError(
                f"{name} would never fire: this endpoint serves its handler; write {name}"
                " as a method of your QBWCHandler (or use QBWCServer() and its hooks)"
            )
        super().__setattr__(name, value)

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
            return self._send(start_response, status, fault("Client", str(exc)))
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
            # (_soap._Soap11): a document saying otherwise is refused, not misread.
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
        # No charset: spyne would decode the body with it (see _soap._Soap11).
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
                operation_of(body),
                len(body),
                environ.get("REMOTE_ADDR", "?"),
                type(exc).__name__,
            )
            return self._send(
                start_response,
                "500 Internal Server Error",
                fault("Client", "The request is not a call of this service that can be read."),
            )
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status = captured[0]
        if not status.startswith("200"):
            code, message = read_fault(payload)
            operation = operation_of(body)
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
            payload = fault(code, message)
        return self._send(start_response, status, payload)

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

    def process_request(self, request_data: bytes) -> bytes:
        """Serve one SOAP request; return the response bytes.

        For hosts that are not WSGI: read the HTTP body yourself, call this,
        and send the result with ``Content-Type: text/xml; charset=utf-8``.
        It runs the same pipeline as the WSGI app, checks included; a fault
        comes back as a SOAP Fault document.

        Args:
            request_data: the HTTP body.

        Returns:
            The response body: a SOAP answer, or a one-line SOAP fault for a
            body that cannot be served. Nothing is raised for bad input.
        """
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


def make_wsgi_app(
    handler: QBWCHandler,
    *,
    store: SessionStore | None = None,
    public_url: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    **options: Any,
) -> WebConnectorApp:
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
            ``observers``, ``metrics``; see :class:`WebConnectorApp`.

    Returns:
        A :class:`WebConnectorApp`, which is the WSGI callable.

    .. versionchanged:: Unreleased
       Returns a :class:`WebConnectorApp`, the endpoint without the
       reference class's interface (it was a :class:`~qbwc_spyne.QBWCServer`).
    """
    return WebConnectorApp(
        handler, store=store, public_url=public_url, max_body_bytes=max_body_bytes, **options
    )
