"""The simulated Web Connector against the server: every answer honoured as the real one does."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from qbwc_spyne import QBWCServer
from qbwc_spyne.exceptions import ConfigurationError
from qbwc_spyne.testing import STATUSES, FakeQuickBooks, WebConnector

from .helpers import QBXML_REQUEST, RecordingHandler, soap_body_child

FLOW = ["serverVersion", "clientVersion", "authenticate"]


def connector(handler, quickbooks=None, **options) -> WebConnector:
    options.setdefault("noop_delay", 0)
    return WebConnector(
        QBWCServer(handler), user="u", password="p", quickbooks=quickbooks, **options
    )


def rounds(*percents: int) -> dict:
    """Answers that send QBXML_REQUEST and report the given percentages in turn."""
    queue = iter(percents)
    return {
        "authenticate": {},
        "send_request": {"request": QBXML_REQUEST},
        "receive_response": lambda e: setattr(e, "percent_done", next(queue)),
    }


class TestClientVersion:
    def test_warning_is_shown_and_the_user_continues(self):
        """W: shows the text; with accept_warning the update goes on."""
        result = connector(
            RecordingHandler(client_version={"warning_message": "Old"}, **rounds(100))
        ).update()
        assert result.ok and result.messages[0] == "Old"

    def test_warning_cancelled_by_the_user(self):
        """W: with accept_warning=False: cancelled before authenticate."""
        result = connector(
            RecordingHandler(client_version={"warning_message": "Old"}), accept_warning=False
        ).update()
        assert result.status == "cancelled" and result.operations() == FLOW[:2]

    @pytest.mark.parametrize(
        ("answer", "shown"),
        [({"error_message": "Upgrade now"}, "Upgrade now"), ({"required_version": "9.0"}, "9.0")],
    )
    def test_error_and_required_version_stop_the_update(self, answer, shown):
        """E: and O: stop before authenticate, showing the reason."""
        result = connector(RecordingHandler(client_version=answer)).update()
        assert result.status == "client refused" and shown in result.messages[0]
        assert result.operations() == FLOW[:2]


class TestAuthenticate:
    @pytest.mark.parametrize(
        ("answer", "status"),
        [
            ({"accept": False}, "auth failed"),
            ({"no_work": True}, "no work"),
            ({"busy": True}, "busy"),
            ({"update_delay": 120}, "postponed"),
        ],
    )
    def test_each_answer_ends_the_update_without_requests(self, answer, status):
        """nvu, none, busy and a postponement: no sendRequestXML, no closeConnection."""
        result = connector(RecordingHandler(authenticate=answer)).update()
        assert result.status == status and result.operations() == FLOW
        assert result.messages and "sendRequestXML" not in result.operations()

    def test_interval_is_reported(self):
        """authenticate's fourth element is the least auto-run interval."""
        result = connector(
            RecordingHandler(
                authenticate={"update_interval": 600},
                **{k: v for k, v in rounds(100).items() if k != "authenticate"},
            )
        ).update()
        assert result.ok and result.min_run_interval == 600

    def test_password_is_masked_in_the_record(self):
        """The transcript never shows the password."""
        result = WebConnector(
            QBWCServer(RecordingHandler(authenticate={"no_work": True})),
            user="u",
            password="hunter2",
            noop_delay=0,
        ).update()
        assert result.calls[2].arguments == {"strUserName": "u", "strPassword": "***"}
        assert "hunter2" not in result.transcript() + result.to_json()


class TestExchange:
    def test_percent_loop_then_close(self):
        """Requests until 100, then closeConnection; progress sees each percentage."""
        seen: list[int] = []
        handler = RecordingHandler(
            close_connection={"response_message": "Done!"}, **rounds(10, 60, 100)
        )
        result = connector(handler, progress=seen.append).update()
        assert result.ok and seen == [10, 60, 100]
        assert result.operations() == FLOW + ["sendRequestXML", "receiveResponseXML"] * 3 + [
            "closeConnection"
        ]
        assert result.messages == ["Done!"] and result.requests == [QBXML_REQUEST] * 3

    def test_only_the_first_request_carries_the_hcp_response(self):
        """strHCPResponse on the first sendRequestXML of the session, "" afterwards."""
        handler = RecordingHandler(**rounds(50, 100))
        connector(handler).update()
        first, second = handler.named("send_request")
        assert "<HostQueryRs" in first.host_response and second.host_response == first.host_response
        sent = [
            c.arguments["strHCPResponse"]
            for c in connector(RecordingHandler(**rounds(50, 100))).update().calls
            if c.operation == "sendRequestXML"
        ]
        assert sent[0].startswith("<?xml") and sent[1] == ""

    def test_quickbooks_answers_reach_the_handler(self):
        """The fake QuickBooks runs the request; its response is what the handler receives."""
        quickbooks = FakeQuickBooks()
        quickbooks.add_customers(3)
        handler = RecordingHandler(**rounds(100))
        connector(handler, quickbooks).update()
        response = handler.named("receive_response")[0].response
        assert response.count("<CustomerRet>") == 3 and handler.named("receive_response")[0].success

    def test_hresult_from_quickbooks_reaches_the_handler(self):
        """A request QuickBooks cannot parse comes back as hresult 0x80040400, empty response."""
        handler = RecordingHandler(
            authenticate={},
            send_request={"request": "<not qbxml"},
            receive_response={"percent_done": 100},
        )
        connector(handler).update()
        event = handler.named("receive_response")[0]
        assert (event.success, event.error_code, event.response) == (False, "0x80040400", "")

    def test_empty_request_then_noop_waits_and_asks_again(self):
        """ "" -> getLastError -> NoOp: the Web Connector waits noop_delay, then asks again."""
        waits: list[float] = []
        requests = iter(["", "", QBXML_REQUEST])
        handler = RecordingHandler(
            authenticate={},
            send_request=lambda e: setattr(e, "request", next(requests)),
            get_last_error={"pause": True},
            receive_response={"percent_done": 100},
        )
        result = connector(handler, noop_delay=5, sleep=waits.append).update()
        assert result.ok and waits == [5, 5]
        assert result.operations()[3:9] == ["sendRequestXML", "getLastError"] * 2 + [
            "sendRequestXML",
            "receiveResponseXML",
        ]

    def test_empty_request_with_an_error_message_ends_the_update(self):
        """getLastError's text is shown and the update ends with closeConnection."""

        def refuse(event):
            event.session.last_error = "Nothing to do: the shop is closed"

        result = connector(RecordingHandler(authenticate={}, send_request=refuse)).update()
        assert (
            result.status == "error" and result.messages[0] == "Nothing to do: the shop is closed"
        )
        assert result.operations()[-2:] == ["getLastError", "closeConnection"]

    def test_negative_percent_calls_get_last_error(self):
        """-1 from receiveResponseXML: getLastError's text is shown, then closeConnection."""

        def fail(event):
            event.session.last_error = "Bad customer"
            event.percent_done = -1

        handler = RecordingHandler(
            authenticate={}, send_request={"request": QBXML_REQUEST}, receive_response=fail
        )
        result = connector(handler).update()
        assert result.status == "error" and result.messages[0] == "Bad customer"
        assert result.operations()[-3:] == ["receiveResponseXML", "getLastError", "closeConnection"]

    def test_interactive_mode_completed(self):
        """Interactive mode: the URL is opened, interactiveDone polled, then requests go on."""
        opened: list[str] = []
        requests = iter(["", QBXML_REQUEST])
        polls = iter(["Continue", "Done"])
        handler = RecordingHandler(
            authenticate={},
            send_request=lambda e: setattr(e, "request", next(requests)),
            get_last_error={"interactive_mode": True},
            get_interactive_url={"url": "https://app.example.com/fix"},
            interactive_done=lambda e: setattr(e, "response", next(polls)),
            receive_response={"percent_done": 100},
        )

        def user_completes(url: str) -> bool:
            opened.append(url)
            return True

        result = connector(handler, interactive=user_completes).update()
        assert result.ok and opened == ["https://app.example.com/fix"]
        assert result.operations()[4:9] == [
            "getLastError",
            "getInteractiveURL",
            "interactiveDone",
            "interactiveDone",
            "sendRequestXML",
        ]

    def test_interactive_mode_rejected(self):
        """The user rejects: interactiveRejected with the reason, its message shown, closed."""
        handler = RecordingHandler(
            authenticate={},
            get_last_error={"interactive_mode": True},
            interactive_rejected={"response_message": "No changes made"},
        )
        result = connector(handler, interactive=lambda url: False).update()
        assert result.status == "interactive rejected" and "No changes made" in result.messages
        assert (
            handler.named("interactive_rejected")[0].reason_message
            == "User rejected interactive mode"
        )
        assert result.operations()[-2:] == ["interactiveRejected", "closeConnection"]


class TestConnectionErrors:
    def test_retry_with_the_company_file_the_server_returns(self):
        """QuickBooks fails once; connectionError returns the file; the retry opens it."""
        quickbooks = FakeQuickBooks()
        quickbooks.failed_opens = 1
        handler = RecordingHandler(
            connection_error={"company_file": quickbooks.company_file}, **rounds(100)
        )
        result = connector(handler, quickbooks).update()
        assert result.ok
        assert result.operations()[3:5] == ["connectionError", "sendRequestXML"]
        event = handler.named("connection_error")[0]
        assert (event.error_code, event.error_message) == (
            "0x80040408",
            "Could not start QuickBooks.",
        )
        assert handler.named("send_request")[0].company_file == quickbooks.company_file

    def test_done_ends_the_update(self):
        """QuickBooks not running and "done": the update ends, the hresult text shown."""
        quickbooks = FakeQuickBooks()
        quickbooks.running = False
        result = connector(RecordingHandler(authenticate={}), quickbooks).update()
        assert (
            result.status == "connection error" and "Could not start QuickBooks." in result.messages
        )
        assert result.operations() == [*FLOW, "connectionError", "closeConnection"]

    def test_server_retry_limit_stops_endless_retries(self):
        """A server that always retries is cut off by its own retry limit (3), then done."""
        quickbooks = FakeQuickBooks()
        quickbooks.running = False
        handler = RecordingHandler(
            authenticate={}, connection_error={"company_file": quickbooks.company_file}
        )
        result = connector(handler, quickbooks).update()
        assert result.status == "connection error"
        assert result.operations().count("connectionError") == 4


class TestGuards:
    def test_lost_response_ends_the_session_without_a_word(self):
        """The request ran in QuickBooks but its answer never reached the server."""
        quickbooks = FakeQuickBooks()
        quickbooks.lose_responses = 1
        handler = RecordingHandler(
            authenticate={},
            receive_response={"percent_done": 100},
            send_request={
                "request": '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML>'
                '<QBXMLMsgsRq onError="stopOnError"><CustomerAddRq><CustomerAdd>'
                "<Name>New</Name></CustomerAdd></CustomerAddRq></QBXMLMsgsRq></QBXML>"
            },
        )
        result = connector(handler, quickbooks).update()
        assert result.status == "response lost"
        assert result.operations()[-1] == "sendRequestXML"
        assert len(quickbooks.records["Customer"]) == 1  # QuickBooks did add it

    def test_runaway_session_is_stopped(self):
        """A server that pauses forever is stopped by max_calls."""
        handler = RecordingHandler(authenticate={}, get_last_error={"pause": True})
        result = connector(handler, max_calls=20).update()
        assert result.status == "runaway" and len(result.calls) == 20

    def test_result_keeps_raw_envelopes_and_a_transcript(self, schema):
        """One exchange per call, each a valid response; transcript and JSON name every call."""
        result = connector(RecordingHandler(**rounds(100))).update()
        assert len(result.exchanges) == len(result.calls) == 6
        for exchange in result.exchanges:
            schema.assertValid(soap_body_child(exchange.response))
            assert etree.fromstring(exchange.request) is not None
        assert result.transcript().count("\n") == 6 + len(result.messages)
        assert [
            c["operation"] for c in json.loads(result.to_json())["calls"]
        ] == result.operations()
        assert set(STATUSES) >= {"ok", "error", "runaway"}


def test_plugin_fixtures_drive_an_app(web_connector, fake_quickbooks):
    """The pytest plugin's fixtures: a connector wired to the fake company, no NoOp wait."""
    fake_quickbooks.add_customers(2)
    handler = RecordingHandler(**rounds(100))
    result = web_connector(QBWCServer(handler)).update()
    assert result.ok and handler.named("receive_response")[0].response.count("<CustomerRet>") == 2
    assert web_connector(QBWCServer(handler)).noop_delay == 0


class TestWhatTheUserSees:
    def test_close_connection_message_is_kept_apart(self):
        """closeConnection's answer is UpdateResult.close_message, and in the JSON."""
        words = "2 done, 1 failed: Invoice 1042 - customer not found"
        result = connector(
            RecordingHandler(**rounds(100), close_connection={"response_message": words})
        ).update()
        assert result.ok and result.close_message == words
        assert json.loads(result.to_json())["close_message"] == words

    def test_no_close_message_when_the_update_ends_before_closeconnection(self):
        """An update refused at authenticate never calls closeConnection: close_message is empty."""
        result = connector(RecordingHandler(authenticate={"no_work": True})).update()
        assert result.status == "no work" and result.close_message == ""

    @pytest.mark.parametrize(
        "url", ["localhost:8000/qbwc", "127.0.0.1:8000", "ftp://example.com/", "http://"]
    )
    def test_a_url_requests_cannot_post_to_is_refused_up_front(self, url):
        """No scheme, another scheme, no host: ConfigurationError naming http://."""
        with pytest.raises(ConfigurationError, match="write http://"):
            WebConnector(url, user="u", password="p")
