"""spyne's SOAP 1.1 protocol, fitted to the eleven operations, and the envelope's helpers.

The protocol classes are spyne's own, each with one change: the request
is parsed as UTF-8 only and read by the compiled readers (``_wire.py``),
the answer printed by the compiled writers, and events fired without
spyne's per-event allocation. :func:`spyne_app` puts them together into
the spyne WSGI application the endpoint (``_app.py``) hands checked bodies
to. The helpers here read and write SOAP envelopes for the endpoint: the
one-line fault, the operation a body calls, the fault spyne answered.
"""

from __future__ import annotations

import re
import threading
from html import escape
from typing import TYPE_CHECKING, Any

import spyne.const
from lxml import etree
from spyne import Application
from spyne.error import ValidationError
from spyne.evmgr import EventManager
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from .._xml import utf8_parser
from ._service import NAMESPACE, QBWebConnectorSvc
from ._wire import READERS, WRITERS

if TYPE_CHECKING:
    from ..protocol._core import Core

__all__ = ["fault", "one_line", "operation_of", "read_fault", "spyne_app"]

# spyne runs a full gc.collect() when a call's context closes, at most once
# a second, "to have file descriptors returned in a timely manner" (spyne's
# comment): for the files of its MIME attachments, which this service never
# reads. A full collection costs milliseconds per call once the process
# holds a few hundred thousand objects, and the answer is already written by
# then. Python's own generational collector still runs as usual. This is
# spyne's setting for the whole process: any spyne service in it is affected.
spyne.const.MIN_GC_INTERVAL = float("inf")

_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_ENVELOPE, _HEADER, _BODY, _FAULT = (
    f"{{{_SOAP_ENV}}}{name}" for name in ("Envelope", "Header", "Body", "Fault")
)

# The envelope's first element inside soap:Body names the operation.
_OPERATION = re.compile(rb"<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([A-Za-z]{1,40})\b")
_OPERATIONS = frozenset(QBWebConnectorSvc.public_methods)


def fault(code: str, message: str) -> bytes:
    """A SOAP 1.1 Fault envelope with a one-line faultstring."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{_SOAP_ENV}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:{code}</faultcode><faultstring>{escape(message, quote=False)}"
        "</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def operation_of(body: bytes) -> str:
    """The operation a body calls, for the log: a WSDL name, or "?" (never body text)."""
    match = _OPERATION.search(body, 0, 4096)
    name = match.group(1).decode("ascii") if match else ""
    return name if name in _OPERATIONS else "?"


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_fault(payload: bytes) -> tuple[str, str]:
    """Return the fault code (unprefixed) and a one-line faultstring of spyne's fault."""
    try:
        root = etree.fromstring(payload, etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return "Server", "The server could not answer the request."
    code = root.findtext(f".//{{{_SOAP_ENV}}}Fault/faultcode") or "Server"
    text = root.findtext(f".//{{{_SOAP_ENV}}}Fault/faultstring") or "SOAP fault"
    return code.rpartition(":")[2] or "Server", one_line(text)


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


def spyne_app(core: Core, *, max_body_bytes: int, compiled: bool = True) -> WsgiApplication:
    """The spyne WSGI application serving the service to ``core``.

    Args:
        core: the protocol core the service's methods call.
        max_body_bytes: the largest body, already checked by the endpoint.
        compiled: False for spyne's generic reader and serializer instead of
            the compiled ones (``_wire.py``), for comparisons.
    """
    application = Application(
        [QBWebConnectorSvc],
        tns=NAMESPACE,
        name="QBWebConnectorSvc",
        # Soft validation checks types and occurrence while reading, at
        # no extra pass over the document; huge_tree admits the large
        # text nodes of real responses (no DTD ever reaches the parser).
        in_protocol=_Soap11(validator="soft", huge_tree=True, compiled=compiled),
        out_protocol=_Soap11Out(compiled=compiled),
    )
    application.qbwc_core = core
    # Bodies were size-checked already. spyne reads block_length bytes at a
    # time and joins the blocks: one block the size of the limit means one
    # read and no copy of a large body. The chunks spyne yields back are
    # joined by the endpoint so that every response has a Content-Length.
    served = WsgiApplication(
        application, max_content_length=max_body_bytes, block_length=max_body_bytes
    )
    if compiled:
        for owner in (application, application.in_protocol, application.out_protocol):
            owner.event_manager = _EventManager(owner, owner.event_manager.handlers)
        served.event_manager = _EventManager(served, served.event_manager.handlers)
    return served
