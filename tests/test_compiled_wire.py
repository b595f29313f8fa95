"""The compiled reader and writer (server/_wire.py) against spyne's generic ones.

Two servers, alike but for the SOAP protocol's reader and writer, are
handed the same requests: the server as it ships, and one reading and
writing through spyne's generic element walk and serializer (today's
path, kept for this comparison and the benchmark). Their cores record the
arguments each call was read into and answer a value made from them, so
that equal responses and equal recordings mean equal reading and writing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any
from unittest import mock
from xml.sax.saxutils import escape

import pytest
import spyne.const
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from qbwc_spyne import QBWCServer
from qbwc_spyne.server._wire import READERS, WRITERS
from tools import codegen

from .helpers import TRAFFIC, RecordingHandler, fault_of, soap_body_child

TNS = "http://developer.intuit.com/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
OPERATIONS = {op.name: op for op in codegen.read_operations()}
TICKET = "354f40b4-b661-4472-a13f-8abf13a743c3"


class GenericServer(QBWCServer):
    """The server reading and writing through spyne's generic code, as before."""

    _compiled = False


class FakeCore:
    """Records each call's arguments; answers ``answer`` or a value made of the arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.answer: Any = None
        self.echo = True

    def _method(self, operation: str) -> Any:
        result_type = OPERATIONS[operation].result.type

        def method(*args: Any) -> Any:
            self.calls.append((operation, args))
            if not self.echo:
                return self.answer
            if result_type == "s:int":
                return len(repr(args))
            if result_type == "tns:ArrayOfString":
                return [repr(args), "", *(str(a) for a in args if a is not None)]
            return repr(args)

        return method

    def __getattr__(self, name: str) -> Any:
        for op in OPERATIONS.values():
            if op.core_method == name:
                return self._method(op.name)
        raise AttributeError(name)


def _server(cls: type[QBWCServer]) -> tuple[QBWCServer, FakeCore]:
    server = cls(RecordingHandler(), max_body_bytes=64 * 1024 * 1024)
    core = FakeCore()
    # The spyne service reaches the core through the application (make_wsgi_app).
    server._spyne.app.qbwc_core = core
    return server, core


@pytest.fixture(scope="module")
def pair() -> tuple[tuple[QBWCServer, FakeCore], tuple[QBWCServer, FakeCore]]:
    return _server(QBWCServer), _server(GenericServer)


def both(pair: Any, body: bytes) -> tuple[bytes, bytes]:
    """Serve ``body`` on both servers; return their responses, checked to record alike."""
    (compiled, compiled_core), (generic, generic_core) = pair
    compiled_core.calls.clear()
    generic_core.calls.clear()
    logging.disable(logging.CRITICAL)  # each fault is logged; thousands of them here
    try:
        ours, theirs = compiled.process_request(body), generic.process_request(body)
    finally:
        logging.disable(logging.NOTSET)
    assert compiled_core.calls == generic_core.calls
    return ours, theirs


# -- building requests ---------------------------------------------------------


@dataclass(frozen=True)
class Child:
    """One element of an operation's wrapper, as the envelope will spell it."""

    name: str
    text: str | None
    namespace: str | None = TNS  # None: no namespace at all
    attributes: str = ""
    inner: str = ""  # raw markup after the text: comments, nested elements, CDATA


@dataclass(frozen=True)
class Request:
    operation: str
    children: tuple[Child, ...]
    namespace: str = TNS
    operation_attributes: str = ""
    header: str = ""
    before_operation: str = ""  # raw markup in the Body before the operation element
    after_children: tuple[str, ...] = field(default=())

    def render(self) -> bytes:
        parts = []
        for child in self.children:
            ns = "" if child.namespace == TNS else f' xmlns="{child.namespace or ""}"'
            text = "" if child.text is None else escape(child.text)
            if child.text is None and not child.inner:
                parts.append(f"<{child.name}{ns}{child.attributes} />")
            else:
                parts.append(
                    f"<{child.name}{ns}{child.attributes}>{text}{child.inner}</{child.name}>"
                )
        parts.extend(self.after_children)
        return (
            '<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
            'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
            f"{self.header}<soap:Body>{self.before_operation}"
            f'<{self.operation} xmlns="{self.namespace}"{self.operation_attributes}>'
            f"{''.join(parts)}</{self.operation}></soap:Body></soap:Envelope>"
        ).encode()


VALID_TEXT = {"s:string": TICKET, "s:int": "13"}


def valid(operation: str) -> Request:
    """The operation's request with every element, in order, of the right type."""
    return Request(
        operation=operation,
        children=tuple(
            Child(name=p.name, text=VALID_TEXT[p.type]) for p in OPERATIONS[operation].parameters
        ),
    )


# Texts that sit at the edges of spyne's reading: integers it takes or
# refuses, strings with markup, white space and characters outside ASCII.
TEXTS = [
    "",
    "0",
    "13",
    "-1",
    "+1",
    " 13 ",
    "\t7\n",
    "013",
    "999999999",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "99999999999999999999",
    "1_000",
    "0x10",
    "1e3",
    "1.5",
    "١٣",
    "x",
    "é&<>\"'",
    "a\r\nb",
    "]]>",
    TICKET,
]
NAMES = sorted({p.name for op in OPERATIONS.values() for p in op.parameters} | {"bogus", "Ticket"})
ATTRIBUTES = [
    ' xsi:nil="true"',
    ' xsi:nil="false"',
    ' xsi:nil="1"',
    ' xsi:type="xsd:string"',
    ' xsi:type="xsd:int"',
    ' foo="1"',
    ' ticket="x"',
    ' xmlns:q="urn:q" q:x="1"',
]
INNER = ["<!-- c -->", "<b>c</b>d", "<![CDATA[<x>&]]>", "<?pi x?>", "<ticket>n</ticket>"]
NAMESPACES = [TNS, None, "urn:other"]


def _mutate(draw: Any, request: Request) -> Request:
    children = list(request.children)
    kind = draw(
        st.sampled_from(
            [
                "drop",
                "duplicate",
                "swap",
                "rename",
                "text",
                "any text",
                "empty",
                "attribute",
                "namespace",
                "inner",
                "unknown element",
                "comment",
                "operation",
            ]
        )
    )
    if kind == "operation":
        change = draw(st.sampled_from(["namespace", "attribute", "name", "header", "before"]))
        if change == "namespace":
            return replace(request, namespace=draw(st.sampled_from(["urn:other", ""])))
        if change == "attribute":
            return replace(request, operation_attributes=draw(st.sampled_from(ATTRIBUTES)))
        if change == "name":
            return replace(request, operation=draw(st.sampled_from([*OPERATIONS, "fooBar"])))
        if change == "header":
            return replace(request, header="<soap:Header><h>1</h></soap:Header>")
        return replace(request, before_operation=draw(st.sampled_from(["<!-- c -->", " "])))
    if kind == "unknown element":
        at = draw(st.integers(0, len(children)))
        children.insert(at, Child(name=draw(st.sampled_from(NAMES)), text="u"))
        return replace(request, children=tuple(children))
    if kind == "comment":
        return replace(request, after_children=("<!-- end -->",))
    if not children:
        return request
    i = draw(st.integers(0, len(children) - 1))
    child = children[i]
    if kind == "drop":
        del children[i]
    elif kind == "duplicate":
        children.insert(i, replace(child, text=draw(st.sampled_from(TEXTS))))
    elif kind == "swap":
        j = draw(st.integers(0, len(children) - 1))
        children[i], children[j] = children[j], children[i]
    elif kind == "rename":
        children[i] = replace(child, name=draw(st.sampled_from(NAMES)))
    elif kind == "text":
        children[i] = replace(child, text=draw(st.sampled_from(TEXTS)))
    elif kind == "any text":
        children[i] = replace(child, text=draw(st.text(max_size=12)))
    elif kind == "empty":
        children[i] = replace(child, text=None)
    elif kind == "attribute":
        children[i] = replace(child, attributes=draw(st.sampled_from(ATTRIBUTES)))
    elif kind == "namespace":
        children[i] = replace(child, namespace=draw(st.sampled_from(NAMESPACES)))
    else:
        children[i] = replace(child, inner=draw(st.sampled_from(INNER)))
    return replace(request, children=tuple(children))


@st.composite
def mutated_requests(draw: Any) -> bytes:
    """A valid request of one of the eleven operations, mutated up to five times."""
    request = valid(draw(st.sampled_from(sorted(OPERATIONS))))
    for _ in range(draw(st.integers(0, 5))):
        request = _mutate(draw, request)
    return request.render()


def _xml_text(text: str) -> bool:
    return all(
        c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD or ord(c) > 0xFFFF
        for c in text
    )


class TestReaderEquivalence:
    """Whatever the request, the compiled reader and spyne's agree: arguments, or fault."""

    @settings(
        max_examples=4000,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=mutated_requests())
    def test_mutated_requests_are_read_alike(self, pair, body):
        """Hypothesis: thousands of mutated envelopes get byte-identical answers or faults."""
        ours, theirs = both(pair, body)
        assert ours == theirs

    @pytest.mark.parametrize(
        "name", sorted(p.name for p in TRAFFIC.iterdir() if p.name.endswith(".request.xml"))
    )
    def test_real_captures_are_read_alike_and_answered(self, pair, name):
        """Every captured Web Connector request: same arguments, same bytes, and no fault."""
        ours, theirs = both(pair, (TRAFFIC / name).read_bytes())
        assert ours == theirs
        assert not soap_body_child(ours).tag.endswith("Fault")

    def test_the_compiled_reader_serves_the_valid_requests(self, pair):
        """The fast path is taken: each operation's reader returns the arguments itself."""
        (compiled, core), _ = pair
        for name in OPERATIONS:
            assert name in READERS
            core.calls.clear()
            compiled.process_request(valid(name).render())
            expected = tuple(
                13 if p.type == "s:int" else TICKET for p in OPERATIONS[name].parameters
            )
            assert core.calls == [(name, expected)]


class TestReaderFaults:
    """Bad requests get spyne's own faults, one line each, from the compiled reader."""

    @pytest.mark.parametrize(
        ("request_", "code", "text"),
        [
            (
                replace(valid("sendRequestXML"), children=valid("sendRequestXML").children[:4]),
                "Client.ValidationError",
                "'qbXMLMajorVers' member does not respect frequency constraints.",
            ),
            (
                replace(
                    valid("getLastError"),
                    children=(Child(name="ticket", text="a"), Child(name="ticket", text="b")),
                ),
                "Client.ValidationError",
                "'ticket' member does not respect frequency constraints.",
            ),
            (
                replace(
                    valid("sendRequestXML"),
                    children=(
                        *valid("sendRequestXML").children[:4],
                        Child(name="qbXMLMajorVers", text="thirteen"),
                        Child(name="qbXMLMinorVers", text="0"),
                    ),
                ),
                "Client.ValidationError",
                "Could not cast 'thirteen' to integer",
            ),
            (
                replace(valid("getLastError"), operation="getLastErrors"),
                "Client.ResourceNotFound",
                "Requested resource '{http://developer.intuit.com/}getLastErrors' not found",
            ),
        ],
        ids=["missing element", "repeated element", "wrong type", "unknown operation"],
    )
    def test_fault_code_and_one_line_faultstring(self, pair, request_, code, text):
        """A missing, repeated or mistyped element, or an unknown operation: spyne's fault."""
        ours, theirs = both(pair, request_.render())
        assert ours == theirs
        assert fault_of(ours) == (f"soap:{code}", text)

    def test_unknown_elements_are_ignored_as_spyne_does(self, pair):
        """An element the contract does not declare is skipped, not refused (spyne's rule)."""
        (compiled, core), _ = pair
        request = valid("getLastError")
        request = replace(request, children=(*request.children, Child(name="bogus", text="x")))
        core.calls.clear()
        compiled.process_request(request.render())
        assert core.calls == [("getLastError", (TICKET,))]

    @pytest.mark.parametrize("body", ["", " ", "<!-- nothing -->"], ids=repr)
    def test_a_body_without_an_operation_is_a_fault_not_a_crash(self, pair, body):
        """An empty Body is a Client.SoapError fault on both paths (spyne alone raised)."""
        ours, theirs = both(pair, _envelope(body))
        assert ours == theirs
        assert fault_of(ours) == (
            "soap:Client.SoapError",
            "The SOAP Body holds no operation element.",
        )

    @pytest.mark.parametrize(
        "body",
        [
            "<soap:Fault><faultcode>x</faultcode><faultstring>y</faultstring></soap:Fault>",
            f'<getLastError xmlns="{TNS}"><ticket ticket="x">a</ticket></getLastError>',
        ],
        ids=["a fault as the request", "an attribute named like an element"],
    )
    def test_envelopes_spyne_fails_on_get_a_client_fault(self, pair, body, caplog):
        """spyne raises a Python error on these; the client gets a fault, the log one line."""
        (compiled, _), _ = pair
        with caplog.at_level(logging.WARNING, logger="qbwc_spyne"):
            response = compiled.process_request(_envelope(body))
        assert fault_of(response) == (
            "soap:Client",
            "The request is not a call of this service that can be read.",
        )
        (record,) = [r for r in caplog.records if r.name == "qbwc_spyne"]
        assert "spyne could not read it (AttributeError)" in record.getMessage()

    @pytest.mark.parametrize(
        ("envelope", "code", "text"),
        [
            (b"<Envelope/>", "Client.SoapError", f"No {{{SOAP}}}Envelope element was found!"),
            (
                f'<soap:Envelope xmlns:soap="{SOAP}"/>'.encode(),
                "Client.SoapError",
                "Soap envelope is empty!",
            ),
            (
                f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Header/></soap:Envelope>'.encode(),
                "Client.SoapError",
                "The SOAP Body holds no operation element.",
            ),
        ],
        ids=["not an envelope", "an empty envelope", "a header and no body"],
    )
    def test_envelope_faults_are_spyne_own_on_both_paths(self, pair, envelope, code, text):
        """A wrong root, an empty envelope, no Body: the same fault from both paths."""
        ours, theirs = both(pair, envelope)
        assert ours == theirs
        assert fault_of(ours) == (f"soap:{code}", text)

    def test_ids_in_the_envelope_are_resolved_by_spyne(self, pair):
        """An envelope with id attributes (SOAP-encoding references) is read by spyne, alike."""
        request = valid("getLastError")
        ticket = replace(request.children[0], attributes=' id="t1"')
        body = replace(request, children=(ticket,)).render()
        ours, theirs = both(pair, body)
        assert ours == theirs
        assert not soap_body_child(ours).tag.endswith("Fault")

    @pytest.mark.parametrize("operation", sorted(OPERATIONS))
    def test_a_node_that_is_not_an_element_goes_to_spyne(self, operation):
        """The server's parser drops comments; a reader handed one leaves the wrapper to spyne."""
        wrapper = etree.fromstring(f'<{operation} xmlns="{TNS}"><!-- c --></{operation}>')
        assert READERS[operation](None, None, wrapper) is None


def _envelope(body: str) -> bytes:
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


# -- the writer ------------------------------------------------------------------

BIG = ("<QBXML>é&amp;€😀\r\n" * 300_000)[:4_000_000]  # a multi-MB string, every escape in it
STRING_SHAPES: list[Any] = [
    "",
    None,
    "héllo wörld € 😀",
    "&<>\"' ]]> a\r\nb\tc",
    BIG,
    "a\x00b",
    "\ufffe",
]
INT_SHAPES: list[Any] = [0, 100, -1, 2**31 - 1, -(2**31), None, 2**31, True, "5", 2.0]
ARRAY_SHAPES: list[Any] = [
    None,
    [],
    ["a", "b"],
    [TICKET, "", "5", "60"],
    ["é&<>", None],
    [None, None, "x", "\r"],
    ("a", "b"),
    ["a", 5],
    ["a\x01"],
    "ab",
]
SHAPES: dict[str, list[Any]] = {
    "s:string": STRING_SHAPES,
    "s:int": INT_SHAPES,
    "tns:ArrayOfString": ARRAY_SHAPES,
}
# The shapes the compiled writer prints itself; the others are spyne's to refuse.
PRINTED: dict[str, list[Any]] = {
    "s:string": STRING_SHAPES[:5],
    "s:int": INT_SHAPES[:6],
    "tns:ArrayOfString": ARRAY_SHAPES[:7],
}


def _cases() -> Iterator[Any]:
    for name, op in OPERATIONS.items():
        for i, value in enumerate(SHAPES[op.result.type]):
            yield pytest.param(name, value, id=f"{name}-{i}")


class TestWriterBytes:
    """The compiled writer prints, byte for byte, what spyne's serializer prints."""

    @pytest.mark.parametrize(("operation", "value"), list(_cases()))
    def test_every_operation_and_value_shape(self, pair, operation, value):
        """Empty, None, non-ASCII, &<>, multi-MB, arrays of 2 and 4, wrong types: equal bytes."""
        (_, compiled_core), (_, generic_core) = pair
        for core in (compiled_core, generic_core):
            core.echo, core.answer = False, value
        try:
            ours, theirs = both(pair, valid(operation).render())
        finally:
            for core in (compiled_core, generic_core):
                core.echo = True
        assert ours == theirs
        printed = PRINTED[OPERATIONS[operation].result.type]
        if any(value is shape for shape in printed):
            # The compiled writer made these bytes (and they are an answer, not a fault).
            assert WRITERS[operation](value) == ours
            assert not soap_body_child(ours).tag.endswith("Fault")
        else:
            # spyne's serializer answers these, as it always did.
            assert WRITERS[operation](value) is None

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        operation=st.sampled_from(sorted(OPERATIONS)),
        texts=st.lists(st.text(max_size=30), max_size=4),
    )
    def test_any_text_is_printed_as_spyne_prints_it(self, pair, operation, texts):
        """Hypothesis: any text (XML can carry) in any result is written byte-identically."""
        (_, compiled_core), (_, generic_core) = pair
        kind = OPERATIONS[operation].result.type
        value: Any = {"s:string": "".join(texts), "s:int": len(texts)}.get(kind, texts)
        for core in (compiled_core, generic_core):
            core.echo, core.answer = False, value
        try:
            ours, theirs = both(pair, valid(operation).render())
        finally:
            for core in (compiled_core, generic_core):
                core.echo = True
        assert ours == theirs
        if all(_xml_text(t) for t in texts):
            assert WRITERS[operation](value) == ours


class TestSpyneStaysTheFramework:
    """spyne's events still reach their listeners; its periodic full collection is off."""

    def test_listeners_hear_every_event_of_a_call(self):
        """Application, protocol and WSGI listeners are called once per event, in order."""
        server, _ = _server(QBWCServer)
        heard: list[str] = []
        app = server._spyne.app
        owners = {
            "wsgi_call": server._spyne,
            "before_deserialize": app.in_protocol,
            "method_call": app,
            "after_serialize": app.out_protocol,
            "method_context_closed": app,
        }
        for event, owner in owners.items():
            owner.event_manager.add_listener(event, lambda ctx, event=event: heard.append(event))
        response = server.process_request(valid("getLastError").render())
        assert not soap_body_child(response).tag.endswith("Fault")
        assert heard == list(owners)

    def test_no_full_collection_when_a_call_closes(self):
        """spyne's gc.collect() on context close (once a second) never runs."""
        server, _ = _server(QBWCServer)
        with mock.patch("gc.collect") as collect:
            for _ in range(3):
                server.process_request(valid("getLastError").render())
        assert collect.call_count == 0
        assert float("inf") == spyne.const.MIN_GC_INTERVAL
