"""Test doubles and checks shared by the test modules."""

from __future__ import annotations

import ast
import contextlib
import copy
import socket
import sqlite3
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from lxml import etree

from qbwc_spyne import JobContext, JobKind, QBWCHandler, make_wsgi_app, qbxml
from qbwc_spyne.events import ErrorEvent
from qbwc_spyne.testing import FakeQuickBooks, UpdateResult, WebConnector
from tools import codegen_docs

DATA = Path(__file__).resolve().parent / "data"
TRAFFIC = DATA / "traffic"
WSDL = Path(__file__).resolve().parent.parent / "wsdl" / "QBWebConnectorSvc.wsdl"
TNS = "http://developer.intuit.com/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS = {
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "s": "http://www.w3.org/2001/XMLSchema",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
}

QBXML_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?>'
    '<QBXML><QBXMLMsgsRq onError="stopOnError"><CustomerQueryRq requestID="1">'
    "<MaxReturned>5</MaxReturned></CustomerQueryRq></QBXMLMsgsRq></QBXML>"
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Answer = dict[str, Any] | Callable[[Any], None]


class RecordingHandler(QBWCHandler):
    """Answers each event with preset field values (or a callable) and records it.

    ``answers`` maps an event name (``"authenticate"``, ``"send_request"``, ...)
    to a dict of field values to set, or to a callable that receives the event.
    """

    def __init__(self, **answers: Answer) -> None:
        self.answers = answers
        self.events: list[tuple[str, Any]] = []
        self.errors: list[ErrorEvent] = []

    def _answer(self, name: str, event: Any) -> None:
        answer = self.answers.get(name)
        if callable(answer):
            answer(event)
        elif answer:
            for key, value in answer.items():
                setattr(event, key, value)
        # Record a snapshot: the session object changes on later calls.
        self.events.append((name, copy.deepcopy(event)))

    def named(self, name: str) -> list[Any]:
        """Return the events of one kind, in order."""
        return [event for n, event in self.events if n == name]

    def on_authenticate(self, event: Any) -> None:
        self._answer("authenticate", event)

    def on_server_version(self, event: Any) -> None:
        self._answer("server_version", event)

    def on_client_version(self, event: Any) -> None:
        self._answer("client_version", event)

    def on_send_request(self, event: Any) -> None:
        self._answer("send_request", event)

    def on_receive_response(self, event: Any) -> None:
        self._answer("receive_response", event)

    def on_connection_error(self, event: Any) -> None:
        self._answer("connection_error", event)

    def on_get_last_error(self, event: Any) -> None:
        self._answer("get_last_error", event)

    def on_close_connection(self, event: Any) -> None:
        self._answer("close_connection", event)

    def on_get_interactive_url(self, event: Any) -> None:
        self._answer("get_interactive_url", event)

    def on_interactive_done(self, event: Any) -> None:
        self._answer("interactive_done", event)

    def on_interactive_rejected(self, event: Any) -> None:
        self._answer("interactive_rejected", event)

    def on_error(self, event: ErrorEvent) -> None:
        self.errors.append(event)


def update(
    target: Any,
    quickbooks: FakeQuickBooks,
    *,
    user: str = "shop",
    password: str = "pw",
    store: Any = None,
    **options: Any,
) -> UpdateResult:
    """One scheduled update of the simulated Web Connector, without its 5 s pauses after NoOp.

    Args:
        target: a handler (served by :func:`make_wsgi_app` on ``store``), a WSGI
            app, or the URL of a running server.
        quickbooks: the company the Web Connector answers from.
        user: the Web Connector's user name.
        password: its password.
        store: the session store of the app made for a handler.
        **options: more :class:`WebConnector` options (``progress``, ``version``, ...).
    """
    if isinstance(target, QBWCHandler):
        target = make_wsgi_app(target, store=store)
    elif store is not None:
        raise TypeError("store= is for a handler; an app or a URL has its own")
    return WebConnector(
        target, user=user, password=password, quickbooks=quickbooks, noop_delay=0, **options
    ).update()


def raises(exc: Exception) -> Callable[[Any], None]:
    """An answer that raises ``exc``."""

    def answer(event: Any) -> None:
        raise exc

    return answer


def response_schema() -> etree.XMLSchema:
    """The XML Schema in wsdl/, to validate response bodies against."""
    root = etree.parse(str(WSDL)).getroot()
    original = root.find("wsdl:types/s:schema", WSDL_NS)
    # The tns: prefix in type="tns:ArrayOfString" is declared on the WSDL's
    # root, so the standalone schema must declare it too.
    schema = etree.Element(original.tag, attrib=dict(original.attrib), nsmap=root.nsmap)
    schema.extend(copy.deepcopy(child) for child in original)
    return etree.XMLSchema(schema)


def soap_body_child(response: bytes) -> etree._Element:
    """Check ``response`` is a SOAP 1.1 envelope led by ``<?xml``; return the Body's child."""
    assert response.startswith(b"<?xml"), response[:40]
    root = etree.fromstring(response)
    assert root.tag == f"{{{SOAP_ENV}}}Envelope"
    body = root.find(f"{{{SOAP_ENV}}}Body")
    assert body is not None and len(body) == 1
    child: etree._Element = body[0]
    return child


def fault_of(response: bytes) -> tuple[str, str]:
    """Return (faultcode, faultstring) of a SOAP 1.1 Fault response."""
    child = soap_body_child(response)
    assert child.tag == f"{{{SOAP_ENV}}}Fault", etree.tostring(child)[:200]
    return child.findtext("faultcode") or "", child.findtext("faultstring") or ""


def traffic(name: str, ticket: str | None = None) -> bytes:
    """A sample request body from tests/data/traffic, with its ticket replaced."""
    data = (TRAFFIC / name).read_bytes()
    if ticket is not None:
        data = data.replace(b"354f40b4-b661-4472-a13f-8abf13a743c3", ticket.encode())
    return data


_OPENED: list[sqlite3.Connection] = []


def sqlite_connect(path: Any, **options: Any) -> sqlite3.Connection:
    """A sqlite3 connection for a test to look at a file with, closed when the test ends.

    Python 3.13 warns of a connection collected open, and warnings are
    errors here. The library's own connections are not made this way, so a
    leak of theirs still fails.
    """
    conn = sqlite3.connect(path, **options)
    _OPENED.append(conn)
    return conn


def close_test_connections() -> None:
    """Close what :func:`sqlite_connect` opened."""
    while _OPENED:
        _OPENED.pop().close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(
    url: str, alive: Callable[[], bool], *, within: float = 30.0, probe_timeout: float = 1.0
) -> bool:
    """Ask for ``url``?wsdl until it answers 200; False once ``alive()`` is False or time is up."""
    deadline = time.monotonic() + within
    while alive() and time.monotonic() < deadline:
        try:
            if requests.get(url + "?wsdl", timeout=probe_timeout).status_code == 200:
                return True
        except (requests.RequestException, OSError):
            # Refused, reset or timed out while the server boots: ask again.
            pass
        time.sleep(0.1)
    return False


class AddInvoice(JobKind):
    """Adds an invoice for the customer named in the payload: QuickBooks answers 3140 for none."""

    name = "add_invoice"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq(
            "InvoiceAddRq",
            {
                "InvoiceAdd": {
                    "CustomerRef": {"FullName": ctx.payload["customer"]},
                    "InvoiceLineAdd": {"ItemRef": {"FullName": "Labor"}, "Quantity": 1},
                }
            },
        )

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        pass


#: The package's public modules: what an application may import (``examples/`` does only these).
#: The public modules: one list, the reference's (each has a page), which
#: tests/test_docs_site.py holds to the package's own modules.
PUBLIC_MODULES = codegen_docs.API_MODULES
#: The layers (ARCHITECTURE.md): packages without an underscore, whose names
#: say what each holds, but no one's to import: their public names are
#: re-exported by the public modules above.
LAYER_PACKAGES = (
    "qbwc_spyne.cli",
    "qbwc_spyne.protocol",
    "qbwc_spyne.queue",
    "qbwc_spyne.server",
    "qbwc_spyne.store",
)
#: Modules that moved, kept importable with a DeprecationWarning.
DEPRECATED_MODULES = ("qbwc_spyne.errors", "qbwc_spyne.server_errors")


# -- code shown to readers, run line by line -------------------------------------------


def statement_lines(text: str) -> set[int]:
    """The line of every statement of ``text`` but docstrings, which never "run"."""
    tree = ast.parse(text)
    docstrings = {
        id(node.body[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        and ast.get_docstring(node, clean=False) is not None
    }
    return {
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt) and id(node) not in docstrings
    }


@contextlib.contextmanager
def recording_lines(
    files: frozenset[str] | set[str], lines: set[tuple[str, int]]
) -> Iterator[None]:
    """Add to ``lines`` each (file, line) of ``files`` that runs.

    The trace function takes the place of any other (coverage's) while it
    records: coverage's C tracer, called from Python, would put itself back.
    """

    def tracer(frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename not in files:
            return None
        lines.add((frame.f_code.co_filename, frame.f_lineno))
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)
