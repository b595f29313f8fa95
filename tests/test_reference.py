"""QBWCServer's reference-class interface: hooks, request_data, config(), create_qwc_file()."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from werkzeug.test import Client

from qbwc_spyne import QBWCServer, __version__
from qbwc_spyne.events import ErrorCode, ErrorEvent
from qbwc_spyne.exceptions import (
    ConfigurationError,
    QBWCError,
    QBWCServerError,
    QWCError,
    QWCFileExistsError,
)
from qbwc_spyne.qwc import QWCFile
from qbwc_spyne.server._reference import CODE_PAGES, HOOK_EVENTS, REQUIRED_QWC_PROPERTIES
from qbwc_spyne.testing import FakeQuickBooks, WebConnector, WSGITransport, make_client

from .helpers import QBXML_REQUEST, SOAP_ENV, TNS, TRAFFIC, RecordingHandler

HCP = (TRAFFIC / "qbxml.HCPResponse.QBPro2014.xml").read_text()
AUTHENTICATE = (TRAFFIC / "authenticate.request.xml").read_text()  # user foo, password bar
SERVER_VERSION = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
    f'<serverVersion xmlns="{TNS}"/></soap:Body></soap:Envelope>'
)
CUSTOMERS = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="1" statusCode="0" '
    'statusSeverity="Info" statusMessage="Status OK"><CustomerRet><FullName>A</FullName>'
    "</CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>"
)


def answer(response_data: str, operation: str) -> list[str]:
    """The texts under ``<operation>Result`` of a response envelope."""
    root = etree.fromstring(response_data.encode())
    result = root.find(f".//{{{TNS}}}{operation}Result")
    assert result is not None, response_data
    return [result.text or ""] if len(result) == 0 else [child.text or "" for child in result]


def filled(server: QBWCServer, **changes: Any) -> QBWCServer:
    """Set every required QWC property to a valid value, then ``changes``."""
    values: dict[str, Any] = {
        "qwc_file_info_app_name": "Shop sync",
        "qwc_file_info_app_url": "https://shop.example.com/qbwc",
        "qwc_file_info_app_support_url": "https://shop.example.com/help",
        "qwc_file_info_app_description": "Orders to QuickBooks",
        "qwc_file_info_user": "shop",
        "qwc_file_info_owner_id": "{6B063959-81B0-4622-85D6-F548C8CCB517}",
        "qwc_file_info_file_id": "{90A44FB5-33D9-4815-AC85-BC87A7E7D1EB}",
    }
    values.update(changes)
    for name, value in values.items():
        setattr(server, name, value)
    return server


class TestHooks:
    def test_each_of_the_twelve_hooks_fires_with_its_event(self):
        """A session through all eleven operations fires every hook once, with its event class."""
        server = QBWCServer()
        fired: list[tuple[str, type]] = []

        def record(name: str, **values: Any) -> Any:
            def hook(event: Any) -> None:
                fired.append((name, type(event)))
                for key, value in values.items():
                    setattr(event, key, value)

            return hook

        server.on_server_version = record("on_server_version", version="7.1")
        server.on_client_version = record("on_client_version", warning_message="old")
        server.on_authenticate = record("on_authenticate", company_file="C:\\co.qbw")
        requests_sent = iter([QBXML_REQUEST, ""])

        def send_request(event: Any) -> None:
            fired.append(("on_send_request", type(event)))
            event.request = next(requests_sent)

        server.on_send_request = send_request
        server.on_receive_response = record("on_receive_response", percent_done=50)
        server.on_get_last_error = record("on_get_last_error", interactive_mode=True)
        server.on_get_interactive_url = record("on_get_interactive_url", url="https://x.test/i")
        server.on_interactive_done = record("on_interactive_done", response="Continue")
        server.on_interactive_rejected = record("on_interactive_rejected", response_message="ok")
        server.on_connection_error = record("on_connection_error")
        server.on_close_connection = record("on_close_connection", response_message="Bye")
        server.on_error = record("on_error")

        wc = make_client(WSGITransport(server)).service
        assert wc.serverVersion() == "7.1"
        assert wc.clientVersion("2.3.0.215") == "W:old"
        ticket, company = wc.authenticate("shop", "pw")[:2]
        assert company == "C:\\co.qbw"
        assert "<CustomerQueryRq" in wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
        assert wc.receiveResponseXML(ticket, CUSTOMERS, "", "") == 50
        assert not wc.sendRequestXML(ticket, "", "", "US", 13, 0)  # "" (zeep: None)
        assert wc.getLastError(ticket) == "Interactive mode"
        assert wc.getInteractiveURL(ticket, "sid") == "https://x.test/i"
        assert wc.interactiveDone(ticket) == "Continue"
        assert wc.interactiveRejected(ticket, "User rejected") == "ok"
        assert wc.connectionError(ticket, "0x80040408", "Could not start QuickBooks.") == "done"
        assert wc.closeConnection(ticket) == "Bye"
        wc.sendRequestXML("no-such-ticket", "", "", "US", 13, 0)  # on_error: unknown ticket

        assert sorted({name for name, _ in fired}) == sorted(HOOK_EVENTS)
        for name, event_class in fired:
            assert event_class is HOOK_EVENTS[name], name

    def test_without_an_on_authenticate_hook_every_user_is_refused(self, caplog):
        """No check assigned is no one let in: nvu, no session, and a warning says why."""
        server = QBWCServer()
        wc = make_client(WSGITransport(server)).service
        assert wc.authenticate("shop", "pw")[1] == "nvu"
        assert len(server.store) == 0  # type: ignore[arg-type]
        assert "no on_authenticate hook is assigned" in caplog.text

    def test_a_hook_left_unchanged_keeps_the_events_defaults(self):
        """accept defaults to True, as in the reference class; percent_done to 100."""
        server = QBWCServer()
        server.on_authenticate = lambda event: None
        server.on_send_request = lambda event: setattr(event, "request", QBXML_REQUEST)
        quickbooks = FakeQuickBooks()
        result = WebConnector(server, user="shop", password="pw", quickbooks=quickbooks).update()
        assert result.ok, result.transcript()
        assert result.operations().count("receiveResponseXML") == 1

    def test_a_raising_hook_gets_the_safe_answer_and_on_error(self):
        """on_send_request raising: "" to the Web Connector, the exception to on_error."""
        server = QBWCServer()
        errors: list[ErrorEvent] = []
        server.on_authenticate = lambda event: None

        def fail(event: Any) -> None:
            raise ZeroDivisionError("boom")

        server.on_send_request = fail
        server.on_error = errors.append
        wc = make_client(WSGITransport(server)).service
        ticket = wc.authenticate("shop", "pw")[0]
        assert not wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
        assert [e.error_code for e in errors] == [ErrorCode.HANDLER_FAILED]
        assert isinstance(errors[0].exception, ZeroDivisionError)

    @pytest.mark.parametrize("name", sorted(HOOK_EVENTS))
    @pytest.mark.parametrize("value", [5, "on_authenticate", b"x", [print]])
    def test_a_hook_that_is_not_callable_is_refused(self, name, value):
        """The error names the hook and the event it takes; the hook assigned before stays."""
        server = QBWCServer()
        before = print
        setattr(server, name, before)
        with pytest.raises(ConfigurationError) as error:
            setattr(server, name, value)
        assert str(error.value).startswith(f"{name} must be a callable")
        assert HOOK_EVENTS[name].__name__ in str(error.value)
        assert getattr(server, name) is before

    def test_without_an_on_error_hook_a_failure_is_logged(self, caplog):
        """on_error unassigned: the QBWCHandler default, a warning naming what raised."""
        server = QBWCServer()
        server.on_authenticate = lambda event: None

        def fail(event: Any) -> None:
            raise ValueError("no request today")

        server.on_send_request = fail
        wc = make_client(WSGITransport(server)).service
        ticket = wc.authenticate("shop", "pw")[0]
        assert not wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
        assert "on_send_request raised ValueError: no request today" in caplog.text

    def test_hooks_and_properties_are_documented_on_the_class(self):
        """help(QBWCServer) shows each hook's and property's one-line description."""
        assert "authenticates" in (QBWCServer.on_authenticate.__doc__ or "")
        assert "required" in (QBWCServer.qwc_file_info_user.__doc__ or "")

    def test_none_removes_a_hook(self):
        """Assigning None puts the default back: here, refusing every user."""
        server = QBWCServer()
        server.on_authenticate = lambda event: None
        server.on_authenticate = None
        assert server.on_authenticate is None
        wc = make_client(WSGITransport(server)).service
        assert wc.authenticate("shop", "pw")[1] == "nvu"

    def test_a_server_with_a_handler_refuses_hooks(self):
        """Hooks would never fire beside a handler: assigning one is an error naming why."""
        server = QBWCServer(RecordingHandler())
        assert server.on_authenticate is None
        with pytest.raises(ConfigurationError) as error:
            server.on_authenticate = lambda event: None
        assert "RecordingHandler" in str(error.value)
        assert server.on_authenticate is None

    def test_the_two_servers_hooks_are_their_own(self):
        """Hooks live on the instance: a second server does not see the first's."""
        first, second = QBWCServer(), QBWCServer()
        first.on_authenticate = print
        assert second.on_authenticate is None


class TestRequestData:
    def test_process_request_reads_request_data_and_fills_response_data(self):
        """The reference class's loop; the bytes returned are response_data's."""
        server = QBWCServer()
        server.on_server_version = lambda event: setattr(event, "version", "1.2")
        server.request_data = SERVER_VERSION
        returned = server.process_request()
        assert answer(server.response_data, "serverVersion") == ["1.2"]
        assert returned == server.response_data.encode("utf-8")
        assert server.response_data.startswith("<?xml")

    def test_todays_bytes_form_is_unchanged_and_leaves_the_properties_alone(self):
        """process_request(body) returns bytes and does not touch request_data/response_data."""
        server = QBWCServer()
        server.request_data = "kept"
        response = server.process_request(SERVER_VERSION.encode())
        assert response.startswith(b"<?xml")
        assert (server.request_data, server.response_data) == ("kept", "")

    @pytest.mark.parametrize(
        "request_data",
        [
            "",
            "   \r\n",
            "not xml",
            "<soap:Envelope",
            "\ufeff<a>",
            '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
            AUTHENTICATE.replace("</soap:Envelope>", ""),
        ],
    )
    def test_bad_request_data_gets_the_wsgi_apps_one_line_fault(self, request_data):
        """Empty, blank, non-XML, DOCTYPE, truncated: byte for byte what the WSGI app answers."""
        calls: list[Any] = []
        server = QBWCServer()
        server.on_authenticate = calls.append
        server.request_data = request_data
        server.process_request()
        wsgi = Client(server).post(
            "/", data=request_data.encode(), content_type="text/xml; charset=utf-8"
        )
        assert server.response_data.encode() == wsgi.get_data()
        fault = etree.fromstring(wsgi.get_data()).find(f".//{{{SOAP_ENV}}}Fault")
        assert fault is not None
        assert "\n" not in fault.findtext("faultstring", "") and fault.findtext("faultstring")
        assert calls == [] and len(server.store) == 0  # type: ignore[arg-type]

    @pytest.mark.parametrize("value", [AUTHENTICATE.encode(), None, 5])
    def test_request_data_takes_text_only(self, value):
        """bytes (the usual slip) is refused with the fix in the message; the old value stays."""
        server = QBWCServer()
        server.request_data = "before"
        with pytest.raises(ConfigurationError) as error:
            server.request_data = value
        assert "request_data takes a str" in str(error.value)
        assert server.request_data == "before"

    @pytest.mark.parametrize("encoding", ["utf-16", "iso-8859-1", "cp1252", "UTF-8", "utf8"])
    def test_text_decoded_from_another_encoding_is_read(self, encoding):
        """request_data is text: a declaration naming the body's old encoding does not break it."""
        users: list[str] = []
        server = QBWCServer()
        server.on_authenticate = lambda event: users.append(event.user)
        body = AUTHENTICATE.replace('encoding="utf-8"', f'encoding="{encoding}"').replace(
            ">foo<", ">Zoë<"
        )
        server.request_data = body.encode(encoding).decode(encoding)
        server.process_request()
        assert users == ["Zoë"], server.response_data

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=st.text(max_size=300) | st.text(alphabet="<>?=\"'/ :xmlsoapEnvelopeBody"))
    def test_any_text_gets_an_xml_answer_and_never_raises(self, text):
        """Hostile text of any kind, lone surrogates included: response_data is always XML."""
        server = QBWCServer()
        server.request_data = text
        server.process_request()
        assert server.response_data.startswith("<?xml")
        etree.fromstring(server.response_data.encode())

    def test_each_thread_reads_its_own_response(self):
        """Two threads share one server: each sets, processes and reads back its own call."""
        server = QBWCServer()
        server.on_server_version = lambda event: setattr(event, "version", "9.9")
        server.on_authenticate = lambda event: setattr(event, "accept", False)
        both_set, both_processed = threading.Barrier(2), threading.Barrier(2)
        seen: dict[str, str] = {}

        def call(operation: str, body: str) -> None:
            server.request_data = body
            both_set.wait()  # the other thread's request_data is set too
            server.process_request()
            both_processed.wait()  # and its response_data written
            seen[operation] = server.response_data

        threads = [
            threading.Thread(target=call, args=("serverVersion", SERVER_VERSION)),
            threading.Thread(target=call, args=("authenticate", AUTHENTICATE)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answer(seen["serverVersion"], "serverVersion") == ["9.9"]
        assert answer(seen["authenticate"], "authenticate")[1] == "nvu"


class TestConfig:
    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("QBType", "0"),
            ("Style", "Document"),
            ("CodePage", "65001"),
            ("MaskSensitive", "True"),
            ("BuildInfo", __version__),
            ("ProcessIdleEvents", "True"),
            ("SelectWaitMillis", "20"),
            ("UseInternalSecurityAPI", "True"),
        ],
    )
    def test_defaults_read_back_as_text(self, name, value):
        """config("NAME") returns the setting as a string, defaults as documented."""
        assert QBWCServer().config(name) == value

    def test_license_info_says_no_key_is_needed(self):
        """LicenseInfo is read-only text."""
        assert "MIT" in QBWCServer().config("LicenseInfo")

    @pytest.mark.parametrize(
        ("word", "value"),
        [
            ("True", "True"),
            ("tRUE", "True"),
            ("1", "True"),
            ("yes", "True"),
            ("YES", "True"),
            ("False", "False"),
            ("false", "False"),
            ("0", "False"),
            ("No", "False"),
            ("nO", "False"),
            (" no ", "False"),
        ],
    )
    def test_booleans_in_any_case(self, word, value):
        """True/False/1/0/Yes/No in any case set a boolean, read back as True or False."""
        server = QBWCServer()
        server.config(f"MaskSensitive={'False' if value == 'True' else 'True'}")
        assert server.config(f"MaskSensitive={word}") == ""
        assert server.config("MaskSensitive") == value

    def test_names_are_not_case_sensitive(self):
        """config("qbtype=1") sets QBType; config("QBTYPE") reads it."""
        server = QBWCServer()
        server.config("qbtype=1")
        server.config("style=docwrapped")
        assert (server.config("QBTYPE"), server.config("Style")) == ("1", "DocWrapped")

    @pytest.mark.parametrize(
        ("string", "code", "field"),
        [
            ("QBType=7", 104, "QBType"),
            ("QBType=", 104, "QBType"),
            ("QBType=POS", 104, "QBType"),
            ("Style=Wrapped", 104, "Style"),
            ("MaskSensitive=maybe", 107, "MaskSensitive"),
            ("MaskSensitive=", 107, "MaskSensitive"),
            ("ProcessIdleEvents=2", 107, "ProcessIdleEvents"),
            ("CodePage=abc", 105, "CodePage"),
            ("CodePage=-1", 105, "CodePage"),
            ("CodePage=20000", 104, "CodePage"),
            ("SelectWaitMillis=1.5", 105, "SelectWaitMillis"),
            ("Colour=red", 211, "Colour"),
            ("Colour", 211, "Colour"),
            ("", 211, ""),
            ("=1", 211, ""),
            ("BuildInfo=9.9", 402, "BuildInfo"),
            ("LicenseInfo=key", 402, "LicenseInfo"),
        ],
    )
    def test_bad_settings_are_refused_with_the_reference_number(self, string, code, field):
        """Each refusal carries the reference code and names the setting; nothing changes."""
        server = QBWCServer()
        before = {name: server.config(name) for name in ("QBType", "Style", "CodePage")}
        with pytest.raises(QBWCServerError) as error:
            server.config(string)
        assert (error.value.code, error.value.field) == (code, field)
        assert str(error.value).startswith(f"{code}: ")
        assert field in error.value.message
        assert isinstance(error.value, QBWCError)
        assert {name: server.config(name) for name in before} == before

    @pytest.mark.parametrize("value", [None, b"QBType=1", 1])
    def test_config_takes_text_only(self, value):
        """A value that is not a str is refused clearly, not with an AttributeError."""
        with pytest.raises(ConfigurationError) as error:
            QBWCServer().config(value)
        assert str(error.value).startswith("config takes")

    @pytest.mark.parametrize(
        ("qb_type", "style", "written"),
        [("0", "Document", ("QBFS", "Document")), ("1", "RPC", ("QBPOS", "RPC"))],
    )
    def test_qbtype_and_style_reach_the_qwc_file(self, tmp_path, qb_type, style, written):
        """QBType 0/1 is written as QBFS/QBPOS, and Style as set."""
        server = filled(QBWCServer())
        server.config(f"QBType={qb_type}")
        server.config(f"Style={style}")
        server.create_qwc_file(str(tmp_path / "x.qwc"))
        qwc = QWCFile.parse(tmp_path / "x.qwc")
        assert (qwc.qb_type, qwc.style) == written

    @pytest.mark.parametrize("style", ["DocWrapped", "RPC"])
    def test_a_style_this_server_does_not_answer_is_written_with_a_warning(
        self, tmp_path, caplog, style
    ):
        """Style "should not be set" for this server, says the document: written, with a warning."""
        server = filled(QBWCServer())
        server.config(f"Style={style}")
        server.create_qwc_file(tmp_path / "x.qwc")
        assert QWCFile.parse(tmp_path / "x.qwc").style == style
        assert f"Style {style} makes the Web Connector call in a style" in caplog.text

    def test_the_default_style_is_written_without_a_warning(self, tmp_path, caplog):
        """Document, the style this server answers, logs nothing."""
        filled(QBWCServer()).create_qwc_file(tmp_path / "x.qwc")
        assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    def test_every_known_code_page_is_accepted_and_encodable(self):
        """Each CodePage accepted has a Python codec; 65001 is UTF-8."""
        import codecs

        server = QBWCServer()
        for number, codec in CODE_PAGES.items():
            server.config(f"CodePage={number}")
            assert server.config("CodePage") == str(number)
            assert "é".encode(codecs.lookup(codec).name, "replace")
        assert codecs.lookup(CODE_PAGES[65001]).name == "utf-8"


class TestMaskSensitive:
    PASSWORD = "s3cret-pw"

    def authenticate(self, server: QBWCServer, body: str) -> None:
        server.on_authenticate = lambda event: None
        server.request_data = body.replace(">bar<", f">{self.PASSWORD}<")
        server.process_request()

    def test_by_default_the_password_is_masked_in_the_debug_record(self, caplog):
        """The server's DEBUG record of on_authenticate shows *** for the password."""
        caplog.set_level(logging.DEBUG)
        server = QBWCServer()
        self.authenticate(server, AUTHENTICATE)
        records = [r for r in caplog.records if r.name == "qbwc_spyne.reference"]
        assert any("on_authenticate" in r.getMessage() for r in records)
        assert "password='***'" in caplog.text
        assert self.PASSWORD not in caplog.text

    def test_false_shows_it_in_the_servers_record_only(self, caplog):
        """MaskSensitive=False: the server's own record shows it; spyne's body logs never do."""
        caplog.set_level(logging.DEBUG)
        server = QBWCServer()
        server.config("MaskSensitive=False")
        self.authenticate(server, AUTHENTICATE)
        # A body spyne cannot parse: the fault is logged, never the body.
        self.authenticate(server, AUTHENTICATE.replace("</soap:Envelope>", "<x></soap:Envelope>"))
        ours = [r.getMessage() for r in caplog.records if r.name == "qbwc_spyne.reference"]
        others = [r.getMessage() for r in caplog.records if r.name != "qbwc_spyne.reference"]
        assert any(f"password={self.PASSWORD!r}" in message for message in ours)
        assert any("XMLSyntaxError" in message for message in others)  # the bad body was logged
        assert not any(self.PASSWORD in message for message in others)

    def test_large_fields_are_cut_in_the_debug_record(self, caplog):
        """A multi-megabyte response is not copied into the log."""
        caplog.set_level(logging.DEBUG, logger="qbwc_spyne.reference")
        server = QBWCServer()
        server.on_authenticate = lambda event: None
        server.on_send_request = lambda event: setattr(event, "request", QBXML_REQUEST)
        wc = make_client(WSGITransport(server)).service
        ticket = wc.authenticate("shop", "pw")[0]
        wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
        huge = CUSTOMERS.replace("<FullName>A", "<FullName>" + "A" * 2_000_000)
        wc.receiveResponseXML(ticket, huge, "", "")
        assert max(len(r.getMessage()) for r in caplog.records) < 5_000


class TestProperties:
    @pytest.mark.parametrize(
        ("name", "value", "code"),
        [
            ("qwc_file_info_auth_flags", "0x10", 104),
            ("qwc_file_info_auth_flags", "-0x1", 104),
            ("qwc_file_info_auth_flags", "lots", 104),
            ("qwc_file_info_personal_data_pref", 3, 104),
            ("qwc_file_info_unattended_mode_pref", -1, 104),
            ("qwc_file_info_unattended_mode_pref", True, 104),
            ("qwc_file_info_update_interval", -60, 105),
            ("qwc_file_info_update_interval", "60", 105),
            ("qwc_file_info_update_interval", 1.5, 105),
            ("overwrite", "yes", 107),
            ("overwrite", 1, 107),
            ("qwc_file_info_notify", None, 107),
        ],
    )
    def test_values_out_of_range_are_refused_with_the_reference_number(self, name, value, code):
        """The error names the property; the value set before stays."""
        server = QBWCServer()
        before = getattr(server, name)
        with pytest.raises(QBWCServerError) as error:
            setattr(server, name, value)
        assert (error.value.code, error.value.field) == (code, name)
        assert name in str(error.value)
        assert getattr(server, name) == before

    @pytest.mark.parametrize(
        "name",
        [
            name
            for name in dir(QBWCServer)
            if name.startswith("qwc_file_info_")
            and name != "qwc_file_info_auth_flags"
            and getattr(QBWCServer, name).default == ""
        ],
    )
    def test_text_a_qwc_file_cannot_carry_is_error_111(self, name):
        """A NUL or an ESC in a text property is 111 "Invalid special characters in string"."""
        server = QBWCServer()
        setattr(server, name, "kept")
        for text in ("Shop\x00", "\x1b[31mred"):
            with pytest.raises(QBWCServerError) as error:
                setattr(server, name, text)
            assert (error.value.code, error.value.field) == (111, name)
            assert error.value.message.startswith("Invalid special characters in string: ")
        assert getattr(server, name) == "kept"

    @pytest.mark.parametrize("flags", ["0x0", "0", "0x1", "0x2", "0xA", "0xf", "0XF", "15", ""])
    def test_auth_flags_text_in_range_is_kept_as_given(self, flags):
        """The reference type is a string: it reads back as set."""
        server = QBWCServer()
        server.qwc_file_info_auth_flags = flags
        assert server.qwc_file_info_auth_flags == flags

    @pytest.mark.parametrize("value", [15, None, b"0xF"])
    def test_auth_flags_takes_text_only(self, value):
        """An int is refused with a clear error: the reference type is a string such as "0xF"."""
        server = QBWCServer()
        with pytest.raises(ConfigurationError) as error:
            server.qwc_file_info_auth_flags = value
        assert "qwc_file_info_auth_flags takes a str" in str(error.value)

    def test_properties_belong_to_their_server(self):
        """Two servers keep their own QWC properties."""
        first, second = QBWCServer(), QBWCServer()
        first.qwc_file_info_app_name = "A"
        assert second.qwc_file_info_app_name == ""


class TestCreateQwcFile:
    def test_every_property_is_written(self, tmp_path):
        """All seventeen qwc_file_info_* properties reach the file, under the QWC names."""
        server = filled(
            QBWCServer(),
            qwc_file_info_app_id="APP-1",
            qwc_file_info_app_display_name="Shop",
            qwc_file_info_app_unique_name="shop-sync",
            qwc_file_info_auth_flags="0xA",
            qwc_file_info_cert_url="https://shop.example.com/cert",
            qwc_file_info_is_read_only=True,
            qwc_file_info_notify=True,
            qwc_file_info_personal_data_pref=2,
            qwc_file_info_unattended_mode_pref=1,
            qwc_file_info_update_interval=900,
        )
        path = tmp_path / "shop.qwc"
        server.create_qwc_file(str(path))
        assert QWCFile.parse(path) == QWCFile(
            app_name="Shop sync",
            app_url="https://shop.example.com/qbwc",
            app_support_url="https://shop.example.com/help",
            app_description="Orders to QuickBooks",
            user="shop",
            owner_id="{6B063959-81B0-4622-85D6-F548C8CCB517}",
            file_id="{90A44FB5-33D9-4815-AC85-BC87A7E7D1EB}",
            app_id="APP-1",
            app_display_name="Shop",
            app_unique_name="shop-sync",
            auth_flags=0xA,
            cert_url="https://shop.example.com/cert",
            is_read_only=True,
            notify=True,
            personal_data_pref=2,
            unattended_mode_pref=1,
            update_interval=900,
        )
        root = etree.fromstring(path.read_bytes())
        assert root.findtext("AuthFlags") == "0xA"
        assert root.findtext("Scheduler/RunEveryNMinutes") == "15"

    @pytest.mark.parametrize("name", REQUIRED_QWC_PROPERTIES)
    @pytest.mark.parametrize("value", ["", "  "])
    def test_a_missing_required_property_is_error_201_naming_it(self, tmp_path, name, value):
        """201 "Required field unspecified", the property named, nothing written."""
        server = filled(QBWCServer(), **{name: value})
        path = tmp_path / "shop.qwc"
        with pytest.raises(QBWCServerError) as error:
            server.create_qwc_file(str(path))
        assert (error.value.code, error.value.field) == (201, name)
        assert error.value.message == f"Required field unspecified: {name}"
        assert not path.exists()

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"qwc_file_info_owner_id": "6B063959"}, "qwc_file_info_owner_id"),
            ({"qwc_file_info_app_url": "http://shop.example.com/"}, "qwc_file_info_app_url"),
            (
                {"qwc_file_info_app_support_url": "https://other.test/"},
                "qwc_file_info_app_support_url",
            ),
            ({"qwc_file_info_cert_url": "http://shop.example.com/c"}, "qwc_file_info_cert_url"),
        ],
    )
    def test_what_qwcfile_refuses_is_refused_naming_the_property(self, tmp_path, changes, field):
        """The same validation as QWCFile; the error names the reference property; no file."""
        server = filled(QBWCServer(), **changes)
        path = tmp_path / "shop.qwc"
        with pytest.raises(QWCError) as error:
            server.create_qwc_file(path)
        assert error.value.field == field and str(error.value).startswith(field)
        assert not path.exists()

    def test_an_existing_file_is_kept_unless_overwrite(self, tmp_path):
        """overwrite defaults to False: the file is left as it was; True replaces it."""
        path = tmp_path / "shop.qwc"
        path.write_text("precious")
        server = filled(QBWCServer())
        assert server.overwrite is False
        with pytest.raises(QWCFileExistsError):
            server.create_qwc_file(str(path))
        assert path.read_text() == "precious"
        server.overwrite = True
        server.create_qwc_file(str(path))
        assert QWCFile.parse(path).user == "shop"
