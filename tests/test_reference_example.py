"""The reference-class-style example over HTTP on 127.0.0.1, driven by the simulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer

import pytest
import requests

from examples.seed_style_server import PASSWORD, USER, make_http_handler, make_server, write_qwc
from qbwc_spyne import QBWCServer
from qbwc_spyne.qwc import QWCFile
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

pytestmark = pytest.mark.wire


@contextmanager
def serving(server: QBWCServer) -> Iterator[str]:
    """Serve ``server`` through the example's http.server handler; yield its URL."""
    http = ThreadingHTTPServer(("127.0.0.1", 0), make_http_handler(server))
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}/"
    finally:
        http.shutdown()
        http.server_close()
        thread.join()


class TestSeedStyleExample:
    def test_a_full_update_pages_through_every_customer(self):
        """Twelve customers, five a page: three requests, the update completes, all are read."""
        quickbooks = FakeQuickBooks()
        quickbooks.add_customers(12)
        with serving(make_server()) as url:
            result = WebConnector(url, user=USER, password=PASSWORD, quickbooks=quickbooks).update()
        assert result.ok, result.transcript()
        assert result.operations() == [
            "serverVersion",
            "clientVersion",
            "authenticate",
            *["sendRequestXML", "receiveResponseXML"] * 3,
            "closeConnection",
        ]
        assert [call.result for call in result.calls if call.operation == "receiveResponseXML"] == [
            41,
            83,
            100,
        ]
        assert result.messages == ["Read 12 customers"]
        assert result.calls[0].result == "seed-style example 1.0"

    def test_every_answer_is_text_xml_starting_with_the_declaration(self):
        """response_data goes out as the reference class asks: text/xml, nothing before <?xml."""
        quickbooks = FakeQuickBooks()
        quickbooks.add_customers(3)
        with serving(make_server()) as url:
            result = WebConnector(url, user=USER, password=PASSWORD, quickbooks=quickbooks).update()
        assert result.ok, result.transcript()
        assert len(result.exchanges) == 6
        for exchange in result.exchanges:
            assert exchange.status_code == 200
            assert exchange.response_headers["Content-Type"] == "text/xml"
            assert exchange.response.startswith(b"<?xml")

    def test_a_wrong_password_fails_authentication(self):
        """The example's on_authenticate hook refuses a wrong password: nvu, no session."""
        server = make_server()
        with serving(server) as url:
            result = WebConnector(url, user=USER, password="guess").update()
        assert result.status == "auth failed", result.transcript()
        assert server.store.get(result.ticket) is None

    def test_quickbooks_not_running_reaches_the_user(self):
        """A QuickBooks that cannot be opened ends the update with its message."""
        quickbooks = FakeQuickBooks()
        quickbooks.running = False
        with serving(make_server()) as url:
            result = WebConnector(url, user=USER, password=PASSWORD, quickbooks=quickbooks).update()
        assert result.status == "connection error", result.transcript()
        assert result.operations()[-2:] == ["connectionError", "closeConnection"]
        assert result.messages == ["Could not start QuickBooks.", "Read 0 customers"]

    def test_a_body_that_is_not_utf8_gets_400(self):
        """The HTTP handler cannot decode it into request_data, and says so."""
        with serving(make_server()) as url:
            response = requests.post(
                url, data=b"\xff\xfe<x/>", headers={"Content-Type": "text/xml"}, timeout=30
            )
        assert response.status_code == 400

    def test_a_body_over_the_limit_is_refused_unread(self):
        """Content-Length above max_body_bytes: 413, and the server never processes it."""
        server = make_server()
        server.max_body_bytes = 10
        with serving(server) as url:
            response = requests.post(
                url,
                data=b"<x>" + b"a" * 20 + b"</x>",
                headers={"Content-Type": "text/xml"},
                timeout=30,
            )
        assert response.status_code == 413  # the server's own check would answer 200 and a fault

    @pytest.mark.parametrize(
        ("body", "faultstring"),
        [(b"", b"the request body is empty"), (b"hello", b"Start tag expected")],
    )
    def test_empty_or_non_xml_gets_the_one_line_fault(self, body, faultstring):
        """The body goes to request_data as it is; response_data is the server's one-line fault."""
        with serving(make_server()) as url:
            response = requests.post(
                url, data=body, headers={"Content-Type": "text/xml"}, timeout=30
            )
        assert response.headers["Content-Type"] == "text/xml"
        assert response.content.startswith(b"<?xml")
        assert b"<faultstring>" + faultstring in response.content
        assert b"\n" not in response.content

    def test_the_qwc_file_names_the_endpoint(self, tmp_path):
        """write_qwc goes through create_qwc_file; the file reads back with the URL and user."""
        path = tmp_path / "seed_style.qwc"
        write_qwc(make_server(), str(path), "http://localhost:8000/")
        qwc = QWCFile.parse(path)
        assert (qwc.app_url, qwc.user, qwc.update_interval) == (
            "http://localhost:8000/",
            USER,
            3600,
        )
