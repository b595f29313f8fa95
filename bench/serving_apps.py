"""The WSGI apps bench_serving puts behind each server, chosen by ``BENCH_APP``.

Run by the servers (``gunicorn bench.serving_apps:app``), not imported by
the bench itself, so that each server process builds only its own app:

- ``qbwc_memory``, ``qbwc_sqlite``: qbwc_spyne with a handler that does
  what a real one must at least do (a request per sendRequestXML, the
  progress in the session's data), on ``MemorySessionStore`` or on
  ``SQLSessionStore`` at ``BENCH_SQLITE``;
- ``bare_spyne``: the same generated spyne service over a core that returns
  constants (the framework's own cost: the floor);
- ``qbwc_kit``: qbwc-kit's ``QBWCService`` with five one-request tasks,
  mounted as bare WSGI as its README says;
- ``canned``: one fixed answer to every POST, for the load generator's
  ceiling.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from qbwc_spyne import MemorySessionStore, QBWCHandler, SQLSessionStore, make_wsgi_app
from qbwc_spyne.events import AuthenticateEvent, ReceiveResponseEvent, SendRequestEvent

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Requests per session: 13 calls are clientVersion, authenticate, this
#: many sendRequestXML and receiveResponseXML, closeConnection.
REQUESTS = 5
USER, PASSWORD = "bench", "bench-password"
REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?><QBXML>'
    '<QBXMLMsgsRq onError="stopOnError"><CustomerQueryRq requestID="1"><MaxReturned>100'
    "</MaxReturned></CustomerQueryRq></QBXMLMsgsRq></QBXML>"
)
#: What the canned server answers: enough for the load generator's checks.
CANNED = (
    b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope'
    b' xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<cannedResponse><string>canned-ticket</string><string></string>"
    b"<sendRequestXMLResult>&lt;QBXML/&gt;</sendRequestXMLResult>"
    b"<receiveResponseXMLResult>20</receiveResponseXMLResult>"
    b"</cannedResponse></soap:Body></soap:Envelope>"
)


class BenchHandler(QBWCHandler):
    """Accepts the bench user; sends REQUESTS requests, then reports 100 percent."""

    def on_authenticate(self, event: AuthenticateEvent) -> None:
        event.accept = event.user == USER and event.password == PASSWORD

    def on_send_request(self, event: SendRequestEvent) -> None:
        event.request = REQUEST

    def on_receive_response(self, event: ReceiveResponseEvent) -> None:
        assert event.session is not None  # receiveResponseXML always has its session
        done = event.session.data.get("done", 0) + 1
        event.session.data["done"] = done
        event.percent_done = 100 * done // REQUESTS


def qbwc_kit_app() -> WSGIApp:
    from qbwc_kit import QBWCService, SimpleTask, StaticAuthenticator

    class OneRequest(SimpleTask):  # type: ignore[misc]
        def build(self, ctx: Any) -> str:
            return REQUEST

        def handle(self, ctx: Any, response: Any) -> None:
            pass

    service = QBWCService(
        authenticator=StaticAuthenticator(
            USER, PASSWORD, [OneRequest(f"t{n}") for n in range(REQUESTS)]
        )
    )

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        answer = service.dispatch(environ["wsgi.input"].read(length)).encode()
        start_response(
            "200 OK",
            [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(answer)))],
        )
        return [answer]

    return app


def canned_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response(
        "200 OK",
        [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(CANNED)))],
    )
    return [CANNED]


def make(name: str) -> WSGIApp:
    """The app called ``name`` (see the module docstring)."""
    if name == "qbwc_memory":
        return make_wsgi_app(BenchHandler(), store=MemorySessionStore())
    if name == "qbwc_sqlite":
        return make_wsgi_app(BenchHandler(), store=SQLSessionStore(os.environ["BENCH_SQLITE"]))
    if name == "bare_spyne":
        from bench.bench_server import bare_spyne

        return bare_spyne()
    if name == "qbwc_kit":
        return qbwc_kit_app()
    if name == "canned":
        return canned_app
    raise ValueError(f"no bench app {name!r}")


app = make(os.environ.get("BENCH_APP", "canned"))
