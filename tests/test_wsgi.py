"""The WSGI app end to end, in-process: zeep plays the Web Connector via werkzeug's Client."""

from __future__ import annotations

import io
import logging
import threading

import pytest
from lxml import etree
from werkzeug.test import Client

from qbwc_spyne import MemorySessionStore, QBWCHandler, QBWCServer, SQLSessionStore, make_wsgi_app
from qbwc_spyne.events import ErrorCode
from qbwc_spyne.exceptions import ConfigurationError, StorageError
from qbwc_spyne.protocol._core import UNKNOWN_TICKET_MESSAGE
from qbwc_spyne.server._app import WebConnectorApp
from qbwc_spyne.server._reference import ReferenceInterface
from qbwc_spyne.testing import WSGITransport, make_client

from .helpers import (
    QBXML_REQUEST,
    TNS,
    TRAFFIC,
    RecordingHandler,
    fault_of,
    raises,
    soap_body_child,
    traffic,
)

HCP = (TRAFFIC / "qbxml.HCPResponse.QBPro2014.xml").read_text()
COMPANY = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Test Sample.qbw"
SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def as_text(values):
    """zeep reads an empty <string/> item as None; the Web Connector reads it as ""."""
    return ["" if v is None else v for v in values]


def make(handler, **options):
    """A server for ``handler``, a zeep service proxy on it, and the transport's log."""
    server = QBWCServer(handler, **options)
    transport = WSGITransport(server)
    return server, make_client(transport).service, transport


def assert_all_valid(transport, schema):
    """Every response was 200, text/xml, began with <?xml and is valid against wsdl/'s schema."""
    assert transport.exchanges
    for exchange in transport.exchanges:
        assert exchange.status_code == 200
        assert exchange.response_headers["Content-Type"] == "text/xml; charset=utf-8"
        schema.assertValid(soap_body_child(exchange.response))


class TestSessions:
    def test_whole_session_in_the_web_connectors_order(self, schema):
        """serverVersion, clientVersion, authenticate, 3 rounds, closeConnection: answers as set."""
        percents = iter([33, 66, 100])
        handler = RecordingHandler(
            server_version={"version": "shop-sync 1.2"},
            authenticate={"company_file": COMPANY},
            send_request={"request": QBXML_REQUEST},
            receive_response=lambda e: setattr(e, "percent_done", next(percents)),
            close_connection={"response_message": "Synced"},
        )
        _, wc, transport = make(handler)
        assert wc.serverVersion() == "shop-sync 1.2"
        assert wc.clientVersion("2.3.0.215") is None  # "" on the wire
        ticket, company = wc.authenticate("shop", "secret")
        assert company == COMPANY
        results = []
        for hcp in (HCP, "", ""):
            assert wc.sendRequestXML(ticket, hcp, COMPANY, "US", 13, 0) == QBXML_REQUEST
            results.append(wc.receiveResponseXML(ticket, "<QBXML/>", "", ""))
        assert results == [33, 66, 100]
        assert wc.closeConnection(ticket) == "Synced"
        assert "<HostQueryRs" in handler.named("send_request")[2].host_response
        assert_all_valid(transport, schema)

    def test_noop_pause_then_the_request(self, schema):
        """ "" from sendRequestXML, NoOp from getLastError, then the request on the next call."""
        requests = iter(["", QBXML_REQUEST])
        handler = RecordingHandler(
            authenticate={},
            send_request=lambda e: setattr(e, "request", next(requests)),
            get_last_error={"pause": True},
        )
        _, wc, transport = make(handler)
        ticket = wc.authenticate("u", "p")[0]
        assert wc.sendRequestXML(ticket, HCP, "", "US", 13, 0) is None
        assert wc.getLastError(ticket) == "NoOp"
        assert wc.sendRequestXML(ticket, "", "", "US", 13, 0) == QBXML_REQUEST
        assert wc.receiveResponseXML(ticket, "<QBXML/>", "", "") == 100
        assert wc.closeConnection(ticket) == "OK"
        assert_all_valid(transport, schema)

    def test_interactive_mode(self, schema):
        """getLastError asks for interactive mode; URL, interactiveDone, then requests resume."""
        requests = iter(["", QBXML_REQUEST])
        handler = RecordingHandler(
            authenticate={},
            send_request=lambda e: setattr(e, "request", next(requests)),
            get_last_error={"interactive_mode": True},
            get_interactive_url={"url": "https://app.example.com/approve"},
        )
        _, wc, transport = make(handler)
        ticket = wc.authenticate("u", "p")[0]
        assert wc.sendRequestXML(ticket, HCP, "", "US", 13, 0) is None
        assert wc.getLastError(ticket) == "Interactive mode"
        assert wc.getInteractiveURL(ticket, "session-7") == "https://app.example.com/approve"
        assert wc.interactiveDone(ticket) == "Done"
        assert wc.sendRequestXML(ticket, "", "", "US", 13, 0) == QBXML_REQUEST
        assert_all_valid(transport, schema)

    def test_interactive_rejected(self, schema):
        """interactiveRejected passes the reason and shows the handler's message."""
        handler = RecordingHandler(
            authenticate={},
            get_last_error={"interactive_mode": True},
            interactive_rejected={"response_message": "Nothing was changed"},
        )
        _, wc, transport = make(handler)
        ticket = wc.authenticate("u", "p")[0]
        wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
        wc.getLastError(ticket)
        assert (
            wc.interactiveRejected(ticket, "User rejected interactive mode")
            == "Nothing was changed"
        )
        assert (
            handler.named("interactive_rejected")[0].reason_message
            == "User rejected interactive mode"
        )
        assert_all_valid(transport, schema)

    def test_connection_error_retry_with_another_company_file(self, schema):
        """connectionError returns the other company file; the retry's requests name it."""
        other = r"C:\Company Files\Other.qbw"
        handler = RecordingHandler(
            authenticate={"company_file": COMPANY},
            connection_error={"company_file": other},
            send_request={"request": QBXML_REQUEST},
        )
        _, wc, transport = make(handler)
        ticket, company = wc.authenticate("u", "p")
        assert company == COMPANY
        assert wc.connectionError(ticket, "0x80040408", "Could not start QuickBooks.") == other
        assert wc.sendRequestXML(ticket, HCP, other, "US", 13, 0) == QBXML_REQUEST
        assert handler.named("send_request")[0].company_file == other
        assert_all_valid(transport, schema)

    def test_negative_percent_then_get_last_error(self, schema):
        """-1 from receiveResponseXML; getLastError returns the handler's reason."""

        def fail(event):
            event.session.last_error = "Customer 42 was rejected by QuickBooks"
            event.percent_done = -1

        handler = RecordingHandler(
            authenticate={}, send_request={"request": QBXML_REQUEST}, receive_response=fail
        )
        _, wc, transport = make(handler)
        ticket = wc.authenticate("u", "p")[0]
        wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
        assert wc.receiveResponseXML(ticket, "<QBXML/>", "", "") == -1
        assert wc.getLastError(ticket) == "Customer 42 was rejected by QuickBooks"
        assert wc.closeConnection(ticket) == "OK"
        assert_all_valid(transport, schema)

    @pytest.mark.parametrize(
        ("answer", "expected"),
        [
            ({"accept": False}, ["nvu"]),
            ({"busy": True}, ["busy"]),
            ({"no_work": True}, ["none"]),
            ({"update_delay": 60, "update_interval": 300}, ["", "60", "300"]),
        ],
    )
    def test_authenticate_answers(self, answer, expected, schema):
        """Each authenticate branch as the ArrayOfString the Web Connector reads."""
        _, wc, transport = make(RecordingHandler(authenticate=answer))
        result = as_text(wc.authenticate("u", "p"))
        assert result[1:] == expected
        assert_all_valid(transport, schema)

    def test_client_version_answers_on_the_wire(self):
        """E:, W: and O: answers reach the client as written."""
        _, wc, _ = make(RecordingHandler(client_version={"required_version": "2.3"}))
        assert wc.clientVersion("2.1.0.30") == "O:2.3"

    def test_unknown_ticket_never_faults(self, schema):
        """Each session operation with an unknown ticket answers its safe value."""
        handler = RecordingHandler()
        _, wc, transport = make(handler)
        assert wc.sendRequestXML("bogus", "", "", "US", 13, 0) is None
        assert wc.getLastError("bogus") == UNKNOWN_TICKET_MESSAGE
        assert wc.receiveResponseXML("bogus", "<QBXML/>", "", "") == -1
        assert wc.connectionError("bogus", "0x80040408", "x") == "done"
        assert wc.closeConnection("bogus") == UNKNOWN_TICKET_MESSAGE
        assert {e.error_code for e in handler.errors} == {ErrorCode.UNKNOWN_TICKET}
        assert_all_valid(transport, schema)

    def test_handler_raising_mid_session_is_no_fault(self, schema):
        """A raising on_receive_response answers -1, getLastError explains, on_error fired."""
        handler = RecordingHandler(
            authenticate={},
            send_request={"request": QBXML_REQUEST},
            receive_response=raises(RuntimeError("ledger locked")),
        )
        _, wc, transport = make(handler)
        ticket = wc.authenticate("u", "p")[0]
        wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
        assert wc.receiveResponseXML(ticket, "<QBXML/>", "", "") == -1
        assert "ledger locked" in wc.getLastError(ticket)
        assert handler.errors[0].error_code == ErrorCode.HANDLER_FAILED
        assert_all_valid(transport, schema)


class TestRecordedTraffic:
    """The sample requests in tests/data/traffic, posted byte for byte."""

    @pytest.fixture
    def session(self):
        handler = RecordingHandler(
            authenticate={"session_ticket": "354f40b4-b661-4472-a13f-8abf13a743c3"},
            send_request={"request": QBXML_REQUEST},
            receive_response={"percent_done": 50},
        )
        server = QBWCServer(handler)
        return handler, Client(server)

    def post(self, client, name, action):
        body = traffic(name)
        response = client.post(
            "/",
            data=body,
            headers={**SOAP_HEADERS, "SOAPAction": f'"http://developer.intuit.com/{action}"'},
        )
        assert response.status_code == 200, response.get_data()[:300]
        return soap_body_child(response.get_data())

    def result(self, element, action):
        assert element.tag == f"{{{TNS}}}{action}Response"
        return element.find(f"{{{TNS}}}{action}Result")

    def test_session_replayed_from_the_traffic_files(self, session, schema):
        """serverVersion ... closeConnection from the captured bodies, each answer checked."""
        handler, client = session
        steps = [
            ("serverVersion.request.xml", "serverVersion"),
            ("clientVersion.request.xml", "clientVersion"),
            ("authenticate.request.xml", "authenticate"),
            ("sendRequestXML.first.request.xml", "sendRequestXML"),
            ("receiveResponseXML.ItemInventoryQueryRs.request.xml", "receiveResponseXML"),
            ("sendRequestXML.subsequent.request.xml", "sendRequestXML"),
            ("receiveResponseXML.InvoiceAddRs.request.xml", "receiveResponseXML"),
            ("sendRequestXML.subsequent.request.xml", "sendRequestXML"),
            ("receiveResponseXML.hresult-error.request.xml", "receiveResponseXML"),
            ("getLastError.request.xml", "getLastError"),
            ("connectionError.request.xml", "connectionError"),
            ("closeConnection.request.xml", "closeConnection"),
        ]
        results = []
        for name, action in steps:
            element = self.post(client, name, action)
            schema.assertValid(element)
            results.append(self.result(element, action))
        strings = [s.text or "" for s in results[2].iterfind(f"{{{TNS}}}string")]
        assert strings == ["354f40b4-b661-4472-a13f-8abf13a743c3", ""]
        assert results[3].text == QBXML_REQUEST
        assert [results[i].text for i in (4, 6, 8)] == ["50", "50", "50"]
        assert handler.named("client_version")[0].client_version == "2.1.0.30"
        assert handler.named("authenticate")[0].user == "foo"
        first, second = handler.named("receive_response")[:2]
        sent = etree.fromstring(traffic("receiveResponseXML.ItemInventoryQueryRs.request.xml"))
        assert first.success and first.response == sent.findtext(f".//{{{TNS}}}response")
        assert first.response.count("<ItemInventoryRet>") == 16
        assert "<InvoiceAddRs" in second.response
        failed = handler.named("receive_response")[2]
        assert not failed.success and failed.error_code == "0x80040400"
        assert handler.named("connection_error")[0].error_message == "Could not start QuickBooks."
        assert results[11].text == "OK"
        assert handler.errors == []

    def test_first_send_request_carries_the_hcp_response(self, session):
        """The captured strHCPResponse is split into host, company and prefs responses."""
        handler, client = session
        self.post(client, "authenticate.request.xml", "authenticate")
        self.post(client, "sendRequestXML.first.request.xml", "sendRequestXML")
        event = handler.named("send_request")[0]
        assert "<ProductName>QuickBooks Pro 2014</ProductName>" in event.host_response
        assert "<CompanyQueryRs" in event.company_response
        assert "<PreferencesQueryRs" in event.prefs_response
        assert (event.qbxml_country, event.qbxml_major_version, event.qbxml_minor_version) == (
            "US",
            13,
            0,
        )

    def test_prefixed_result_items_are_in_intuits_namespace(self, session):
        """ArrayOfString items are <string> elements qualified in http://developer.intuit.com/."""
        _, client = session
        element = self.post(client, "authenticate.request.xml", "authenticate")
        items = element.find(f"{{{TNS}}}authenticateResult")
        assert [item.tag for item in items] == [f"{{{TNS}}}string"] * 2


def valid_call(client: Client) -> bytes:
    response = client.post("/", data=traffic("serverVersion.request.xml"), headers=SOAP_HEADERS)
    assert response.status_code == 200
    return response.get_data()


class TestBadInput:
    @pytest.fixture
    def client(self):
        return Client(
            QBWCServer(RecordingHandler(server_version={"version": "v1"}), max_body_bytes=64 * 1024)
        )

    @pytest.mark.parametrize(
        ("body", "code", "message"),
        [
            (b"<soap:Envelope", "Client.XMLSyntaxError", ""),
            (
                traffic("serverVersion.request.xml").replace(b"serverVersion", b"stealData"),
                "Client.ResourceNotFound",
                "stealData",
            ),
            (
                traffic("sendRequestXML.subsequent.request.xml").replace(b">13<", b">abc<"),
                "Client.ValidationError",
                "abc",
            ),
            (
                traffic("sendRequestXML.subsequent.request.xml").replace(b">13<", b">99999999999<"),
                "Client.ValidationError",
                "",
            ),
            (
                traffic("sendRequestXML.subsequent.request.xml").replace(
                    b"<qbXMLMinorVers>0</qbXMLMinorVers>", b""
                ),
                "Client.ValidationError",
                "qbXMLMinorVers",
            ),
            (
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
                + traffic("serverVersion.request.xml")[38:],
                "Client",
                "DOCTYPE",
            ),
            (
                b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
                "Client",
                "DOCTYPE",
            ),
            (
                '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x><x/>'.encode("utf-16"),
                "Client",
                "UTF-8",
            ),
            (b"   ", "Client", "empty"),
        ],
        ids=[
            "malformed",
            "unknown-operation",
            "wrong-type",
            "int32-overflow",
            "missing-element",
            "internal-entity",
            "external-dtd",
            "utf16-doctype",
            "empty-body",
        ],
    )
    def test_each_bad_request_gets_a_one_line_fault_and_the_server_goes_on(
        self, client, body, code, message
    ):
        """SOAP 1.1 Fault, HTTP 500, one-line faultstring; the next valid call is answered."""
        response = client.post("/", data=body, headers=SOAP_HEADERS)
        assert response.status_code == 500
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        faultcode, faultstring = fault_of(response.get_data())
        assert faultcode == f"soap:{code}"
        assert message in faultstring and "\n" not in faultstring and len(faultstring) <= 300
        assert b"v1" in valid_call(client)

    def test_body_over_the_limit_is_refused_before_reading(self, client):
        """A Content-Length over max_body_bytes gets 413 without the body being read."""

        class Unreadable(io.BytesIO):
            def read(self, *args):
                raise AssertionError("the body must not be read")

        response = client.post(
            "/",
            input_stream=Unreadable(),
            headers=SOAP_HEADERS,
            environ_overrides={"CONTENT_LENGTH": str(10**9)},
        )
        assert response.status_code == 413
        assert "exceeds the limit" in fault_of(response.get_data())[1]
        valid_call(client)

    def test_chunked_body_over_the_limit_is_refused(self, client):
        """Without a Content-Length the read stops one byte past the limit."""
        body = b"<x>" + b"a" * 70_000 + b"</x>"
        response = client.post(
            "/", data=body, headers=SOAP_HEADERS, environ_overrides={"CONTENT_LENGTH": ""}
        )
        assert response.status_code == 413
        valid_call(client)

    @pytest.mark.parametrize("content_type", ["application/json", "application/soap+xml", ""])
    def test_wrong_content_type_gets_415(self, client, content_type):
        """Only text/xml (SOAP 1.1) is accepted."""
        response = client.post(
            "/", data=traffic("serverVersion.request.xml"), headers={"Content-Type": content_type}
        )
        assert response.status_code == 415
        assert b"text/xml" in response.get_data()

    def test_other_methods_get_405_naming_what_is_allowed(self, client):
        """PUT and DELETE get 405; the Allow header's methods are answered."""
        for response in (client.put("/", data=b"x"), client.delete("/")):
            assert response.status_code == 405
            assert response.headers["Allow"] == "GET, POST"
        assert client.get("/").status_code == 200
        assert client.post("/", data=traffic("serverVersion.request.xml"), headers=SOAP_HEADERS)

    def test_logs_hold_neither_passwords_nor_large_bodies(self, caplog):
        """A malformed 2 MB authenticate is logged shortened, password redacted."""
        client = Client(QBWCServer(RecordingHandler()))
        body = (
            b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            b'<soap:Body><authenticate xmlns="http://developer.intuit.com/"><strUserName>u</strUserName>'
            b"<strPassword>hunter2</strPassword><pad>" + b"x" * 2_000_000 + b"</soap:Body>"
        )
        with caplog.at_level(logging.DEBUG):
            response = client.post("/", data=body, headers=SOAP_HEADERS)
        assert response.status_code == 500
        assert caplog.records, "the refusal must be logged"
        assert "hunter2" not in caplog.text
        assert len(caplog.text) < 20_000

    def test_password_is_not_logged_when_authenticate_fails(self, caplog):
        """A failing on_authenticate is logged by the default on_error, password left out."""

        class Handler(QBWCHandler):
            def on_authenticate(self, event):
                raise RuntimeError(f"user store down for {event.user}")

        server = QBWCServer(Handler())
        body = traffic("authenticate.request.xml").replace(b">bar<", b">hunter2<")
        with caplog.at_level(logging.DEBUG):
            response = Client(server).post("/", data=body, headers=SOAP_HEADERS)
        assert b"busy" in response.get_data()
        assert "user store down for foo" in caplog.text
        assert "hunter2" not in caplog.text


class TestEndpoint:
    @pytest.fixture
    def client(self):
        return Client(QBWCServer(RecordingHandler(server_version={"version": "v1"})))

    @pytest.mark.parametrize("path", ["/", "/qbwc", "/qbwc/", "/any/where.asmx"])
    def test_unmounted_app_answers_at_every_path(self, client, path):
        """Served alone (gunicorn app:app), an AppURL ending in /qbwc works like one ending in /."""
        response = client.post(
            path, data=traffic("serverVersion.request.xml"), headers=SOAP_HEADERS
        )
        assert response.status_code == 200 and b"v1" in response.get_data()
        wsdl = client.get(f"{path}?wsdl").get_data()
        assert f'location="http://localhost{path}"'.encode() in wsdl

    def test_get_answers_a_status_page(self, client):
        """GET without ?wsdl: what this is, where the WSDL is, and a health line."""
        response = client.get("/qbwc")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        page = response.get_data(as_text=True)
        assert "QuickBooks Web Connector endpoint" in page
        assert "WSDL: http://localhost/qbwc?wsdl" in page
        assert page.rstrip().endswith("status: ok")

    def test_status_page_reports_a_failing_session_store(self):
        """A session store that cannot be read makes the health line say so, with 503."""

        class BrokenStore(MemorySessionStore):
            def get(self, ticket):
                raise StorageError("database is locked")

        client = Client(QBWCServer(RecordingHandler(), store=BrokenStore()))
        response = client.get("/")
        assert response.status_code == 503
        assert "status: unavailable: the session store failed" in response.get_data(as_text=True)

    def test_mounted_app_404s_elsewhere_naming_its_path(self):
        """Under a prefix, a sub-path gets a 404 whose body names the endpoint and its WSDL."""
        from werkzeug.middleware.dispatcher import DispatcherMiddleware
        from werkzeug.wrappers import Response

        site = DispatcherMiddleware(Response("home"), {"/qbwc": make_wsgi_app(RecordingHandler())})
        response = Client(site).post("/qbwc/other", data=b"<x/>", headers=SOAP_HEADERS)
        assert response.status_code == 404
        assert "endpoint here is /qbwc (its WSDL: /qbwc?wsdl)" in response.get_data(as_text=True)
        assert Client(site).get("/qbwc").status_code == 200


class TestHosting:
    def test_process_request_serves_non_wsgi_hosts(self):
        """process_request(bytes) -> bytes runs the same pipeline, checks included."""
        server = QBWCServer(RecordingHandler(server_version={"version": "9"}))
        answer = server.process_request(traffic("serverVersion.request.xml"))
        assert soap_body_child(answer).findtext(f"{{{TNS}}}serverVersionResult") == "9"
        code, text = fault_of(server.process_request(b"<!DOCTYPE x><x/>"))
        assert code == "soap:Client" and "DOCTYPE" in text

    def test_make_wsgi_app_under_a_url_prefix(self, schema):
        """Mounted under /qbwc with werkzeug's dispatcher, the app answers at the prefix."""
        from werkzeug.middleware.dispatcher import DispatcherMiddleware
        from werkzeug.wrappers import Response

        app = make_wsgi_app(
            RecordingHandler(authenticate={}), public_url="https://shop.example.com/qbwc"
        )
        site = DispatcherMiddleware(Response("shop home"), {"/qbwc": app})
        transport = WSGITransport(site, path="/qbwc")
        wc = make_client(transport).service
        assert wc.authenticate("u", "p")[1] is None
        assert Client(site).get("/").get_data() == b"shop home"
        served = Client(site).get("/qbwc?wsdl").get_data()
        assert b'location="https://shop.example.com/qbwc"' in served
        assert_all_valid(transport, schema)

    def test_concurrent_sessions_from_several_threads(self, tmp_path, schema):
        """8 threads run whole sessions at once on one handler and one SQLite store."""
        percents: dict[str, int] = {}

        def progress(event):
            done = event.session.data.get("rounds", 0) + 1
            event.session.data["rounds"] = done
            event.percent_done = 100 if done == 3 else done * 30

        handler = RecordingHandler(
            authenticate={}, send_request={"request": QBXML_REQUEST}, receive_response=progress
        )
        server = QBWCServer(handler, store=SQLSessionStore(tmp_path / "sessions.db"))
        failures: list[BaseException] = []

        def run(n: int) -> None:
            try:
                transport = WSGITransport(server)
                wc = make_client(transport).service
                ticket = wc.authenticate(f"user{n}", "p")[0]
                answers = []
                for hcp in (HCP, "", ""):
                    assert wc.sendRequestXML(ticket, hcp, "", "US", 13, 0) == QBXML_REQUEST
                    answers.append(wc.receiveResponseXML(ticket, "<QBXML/>", "", ""))
                assert wc.closeConnection(ticket) == "OK"
                percents[ticket] = answers[-1]
                assert answers == [30, 60, 100]
                assert_all_valid(transport, schema)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert len(percents) == 8 and set(percents.values()) == {100}
        assert handler.errors == []


def test_response_bytes_begin_with_the_xml_declaration():
    """Nothing precedes <?xml: no BOM, no whitespace."""
    server = QBWCServer(RecordingHandler(authenticate={}))
    for name in (
        "serverVersion.request.xml",
        "authenticate.request.xml",
        "getLastError.request.xml",
    ):
        answer = server.process_request(traffic(name))
        assert answer.startswith(b"<?xml version=")
        etree.fromstring(answer)


class TestTheEndpointAndTheReferenceClass:
    """make_wsgi_app's endpoint carries no reference-class facade; QBWCServer carries it all."""

    @staticmethod
    def facade() -> set[str]:
        """The reference class's own public names: what QBWCServer adds to the endpoint."""
        return {name for name in dir(ReferenceInterface) if not name.startswith("_")}

    def test_the_facade_is_the_reference_classs_interface(self):
        """Its properties, hooks, config(), create_qwc_file() and the request/response data."""
        names = self.facade()
        assert {"config", "create_qwc_file", "overwrite", "request_data", "response_data"} <= names
        assert len([n for n in names if n.startswith("qwc_file_info_")]) == 17
        assert len([n for n in names if n.startswith("on_")]) == 12

    def test_make_wsgi_app_returns_the_endpoint_without_the_facade(self):
        """The app is a WebConnectorApp, not a QBWCServer, and has none of the facade's names."""
        app = make_wsgi_app(RecordingHandler(server_version={"version": "7"}))
        assert type(app) is WebConnectorApp
        assert not isinstance(app, QBWCServer)
        assert [name for name in self.facade() if hasattr(app, name)] == []
        answer = app.process_request(traffic("serverVersion.request.xml"))
        assert soap_body_child(answer).findtext(f"{{{TNS}}}serverVersionResult") == "7"

    def test_qbwc_server_with_a_handler_has_the_whole_facade_and_serves(self):
        """QBWCServer(handler): an endpoint like make_wsgi_app's, with every facade name."""
        server = QBWCServer(RecordingHandler(server_version={"version": "8"}))
        assert isinstance(server, WebConnectorApp)
        assert [name for name in self.facade() if not hasattr(server, name)] == []
        server.qwc_file_info_app_name = "Shop"
        assert server.qwc_file_info_app_name == "Shop"
        assert server.config("Style") == "Document"
        server.request_data = traffic("serverVersion.request.xml").decode()
        answer = server.process_request()
        assert soap_body_child(answer).findtext(f"{{{TNS}}}serverVersionResult") == "8"
        assert server.response_data == answer.decode()

    def test_a_hook_assigned_to_the_endpoint_is_refused_as_it_would_never_fire(self):
        """The handler answers; a reference-style hook on make_wsgi_app's app is a mistake."""
        app = make_wsgi_app(RecordingHandler())
        with pytest.raises(ConfigurationError, match=r"on_authenticate.*QBWCHandler"):
            app.on_authenticate = lambda event: None
        app.public_url = "https://example.com/qbwc"  # its own attributes stay settable

    def test_the_endpoints_are_the_same_on_the_wire(self):
        """The same handler answers the same bytes through either class."""
        body = traffic("serverVersion.request.xml")
        handler = RecordingHandler(server_version={"version": "9"})
        assert make_wsgi_app(handler).process_request(body) == QBWCServer(handler).process_request(
            body
        )
