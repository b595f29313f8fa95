"""The protocol core on its own: each operation's mapping to the wire, and the state machine."""

from __future__ import annotations

import logging
import re
import sqlite3
import uuid

import pytest

from qbwc_spyne import MemorySessionStore, QBWCHandler, SQLSessionStore
from qbwc_spyne.codes import explain
from qbwc_spyne.events import AuthenticateEvent, ErrorCode, SessionState
from qbwc_spyne.exceptions import ConfigurationError, StorageError
from qbwc_spyne.protocol._core import (
    CLOSE_FAILED_MESSAGE,
    UNKNOWN_TICKET_MESSAGE,
    Core,
    version_newer,
)

from .helpers import QBXML_REQUEST, TRAFFIC, RecordingHandler, raises

HCP = (TRAFFIC / "qbxml.HCPResponse.QBPro2014.xml").read_text()
COMPANY = r"C:\Company Files\Test.qbw"


def start(core: Core) -> str:
    """Authenticate and return the ticket of the new session."""
    ticket, answer = core.authenticate("user", "secret")[:2]
    assert answer == ""
    return ticket


def send(core: Core, ticket: str, hcp: str = "") -> str:
    return core.send_request_xml(ticket, hcp, COMPANY, "US", 13, 0)


class TestHandlerContract:
    def test_handler_without_on_authenticate_cannot_be_instantiated(self):
        """No server accepts everyone by accident: on_authenticate is abstract."""

        class Lazy(QBWCHandler):
            pass

        with pytest.raises(TypeError, match="on_authenticate"):
            Lazy()  # type: ignore[abstract]

    def test_core_refuses_something_that_is_not_a_handler(self):
        """A plain object is refused at construction, not at the first call."""
        with pytest.raises(ConfigurationError):
            Core(object(), MemorySessionStore())  # type: ignore[arg-type]

    def test_password_is_not_in_the_event_repr(self):
        """An AuthenticateEvent logged by repr does not leak the password."""
        event = AuthenticateEvent(user="u", password="hunter2")
        assert "hunter2" not in repr(event)


class TestServerAndClientVersion:
    def test_server_version_returns_the_handlers_text(self, make_core):
        """serverVersion returns event.version."""
        core = make_core(RecordingHandler(server_version={"version": "2.5"}))
        assert core.server_version() == "2.5"

    @pytest.mark.parametrize(
        ("answer", "expected"),
        [
            ({}, ""),
            ({"error_message": "upgrade"}, "E:upgrade"),
            ({"warning_message": "old"}, "W:old"),
            ({"error_message": "bad", "warning_message": "old"}, "E:bad"),
            ({"required_version": "2.2"}, "O:2.2"),
            ({"required_version": "2.1.0.30"}, ""),
            ({"required_version": "2.1"}, ""),
            ({"required_version": "2.1.0.31"}, "O:2.1.0.31"),
            ({"warning_message": "old", "required_version": "3.0"}, "W:old"),
        ],
    )
    def test_client_version_maps_event_fields_to_the_wire(self, answer, expected, make_core):
        """E: beats W:, W: beats O:, and O: is sent only when the client is older."""
        core = make_core(RecordingHandler(client_version=answer))
        assert core.client_version("2.1.0.30") == expected

    @pytest.mark.parametrize(
        ("required", "actual", "newer"),
        [("2.2", "2.1.0.30", True), ("2.1", "2.1.0.0", False), ("10.0", "9.9", True)],
    )
    def test_version_comparison_is_numeric(self, required, actual, newer):
        """Dotted versions compare part by part as numbers, not as text."""
        assert version_newer(required, actual) is newer

    def test_client_version_handler_failure_lets_the_update_proceed(self, make_core):
        """A raising on_client_version answers "" and fires on_error."""
        handler = RecordingHandler(client_version=raises(RuntimeError("boom")))
        assert make_core(handler).client_version("2.1") == ""
        assert handler.errors[0].error_code == ErrorCode.HANDLER_FAILED


class TestAuthenticate:
    def test_accepted_user_gets_a_random_guid_ticket_and_a_session(self, core, store):
        """A ticket is a version-4 GUID; each authenticate gets another; a session is stored."""
        first, second = core.authenticate("u", "p"), core.authenticate("u", "p")
        assert first[1] == "" and len(first) == 2
        assert uuid.UUID(first[0]).version == 4
        assert first[0] != second[0]
        session = store.get(first[0])
        assert session is not None and session.user == "u" and session.state is SessionState.READY

    @pytest.mark.parametrize(
        ("answer", "word"),
        [
            ({"accept": False}, "nvu"),
            ({"busy": True}, "busy"),
            ({"no_work": True}, "none"),
            ({"accept": False, "busy": True}, "nvu"),
        ],
    )
    def test_refusals_answer_their_word_and_create_no_session(self, answer, word, store, make_core):
        """nvu, busy and none create no session, so the ticket is useless afterwards."""
        core = make_core(RecordingHandler(authenticate=answer))
        ticket, result = core.authenticate("u", "p")
        assert result == word
        assert store.get(ticket) is None

    def test_company_file_is_the_second_element(self, store, make_core):
        """A company file set by the handler is returned for the Web Connector to open."""
        core = make_core(RecordingHandler(authenticate={"company_file": COMPANY}))
        ticket, result = core.authenticate("u", "p")
        assert result == COMPANY
        assert store.get(ticket).company_file == COMPANY

    @pytest.mark.parametrize(
        ("answer", "tail"),
        [
            ({"update_delay": 60}, ["60"]),
            ({"update_interval": 300}, ["", "300"]),
            ({"update_delay": 0, "update_interval": 300}, ["0", "300"]),
            ({"no_work": True, "update_delay": 60}, ["60"]),
        ],
    )
    def test_delay_and_interval_are_sent_only_when_set(self, answer, tail, make_core):
        """The third and fourth elements appear only when the handler set them."""
        core = make_core(RecordingHandler(authenticate=answer))
        assert core.authenticate("u", "p")[2:] == tail

    def test_handler_may_choose_its_own_ticket(self, store, make_core):
        """A session_ticket set by the handler is the ticket."""
        core = make_core(RecordingHandler(authenticate={"session_ticket": "mine"}))
        assert core.authenticate("u", "p")[0] == "mine"
        assert store.get("mine") is not None

    def test_a_handler_ticket_never_takes_over_a_live_session(self, store, make_core):
        """Reusing a live session's ticket answers busy and leaves that session alone."""
        handler = RecordingHandler(authenticate={"session_ticket": "same"})
        core = make_core(handler)
        core.authenticate("alice", "p")
        assert core.authenticate("bob", "p") == ["same", "busy"]
        assert store.get("same").user == "alice"
        assert handler.errors[0].error_code == ErrorCode.HANDLER_FAILED

    def test_handler_that_raises_gets_busy_and_on_error(self, store, make_core):
        """A failing on_authenticate answers busy (try later), never a fault."""
        handler = RecordingHandler(authenticate=raises(ValueError("db down")))
        ticket, word = make_core(handler).authenticate("u", "p")
        assert word == "busy" and store.get(ticket) is None
        assert "db down" in handler.errors[0].description

    def test_none_username_and_password_become_empty_strings(self, handler, core):
        """Missing elements reach the handler as "", not None."""
        core.authenticate(None, None)
        event = handler.named("authenticate")[0]
        assert (event.user, event.password) == ("", "")

    def test_expired_sessions_are_purged_on_authenticate(self, core, store, clock):
        """Idle sessions do not pile up in the store."""
        old = start(core)
        clock.advance(1801)
        start(core)
        assert store.get(old) is None and len(store) == 1


class TestSendRequest:
    def test_first_call_splits_the_hcp_response_into_three_documents(self, core, handler, store):
        """host, company and prefs responses are standalone qbXML kept on the session."""
        ticket = start(core)
        send(core, ticket, HCP)
        event = handler.named("send_request")[0]
        assert (
            "<HostQueryRs" in event.host_response and "<CompanyQueryRs" not in event.host_response
        )
        assert "<CompanyQueryRs" in event.company_response
        assert "<PreferencesQueryRs" in event.prefs_response
        for document in (event.host_response, event.company_response, event.prefs_response):
            assert document.startswith('<?xml version="1.0" ?>')
        session = store.get(ticket)
        assert session.host_response == event.host_response
        assert (event.qbxml_country, event.qbxml_major_version) == ("US", 13)
        assert event.company_file == COMPANY

    def test_later_calls_still_see_the_hcp_responses(self, make_core):
        """The HCP responses of the first call are given to every later call of the session."""
        handler = RecordingHandler(
            authenticate={},
            send_request={"request": QBXML_REQUEST},
            receive_response={"percent_done": 50},
        )
        core = make_core(handler)
        ticket = start(core)
        send(core, ticket, HCP)
        core.receive_response_xml(ticket, "<QBXML/>", "", "")
        send(core, ticket, "")
        first, second = handler.named("send_request")
        assert second.host_response == first.host_response != ""

    def test_request_is_returned_and_a_response_is_then_expected(self, store, make_core):
        """A request moves the session to awaiting its response."""
        core = make_core(RecordingHandler(authenticate={}, send_request={"request": QBXML_REQUEST}))
        ticket = start(core)
        assert send(core, ticket) == QBXML_REQUEST
        assert store.get(ticket).state is SessionState.AWAITING_RESPONSE

    def test_empty_request_leads_to_get_last_error_with_a_message(self, core):
        """With nothing set, "" is returned and getLastError explains instead of showing ""."""
        ticket = start(core)
        assert send(core, ticket) == ""
        assert core.get_last_error(ticket) == "The application had no request to send."

    def test_handler_error_message_reaches_get_last_error(self, make_core):
        """A handler that records session.last_error has it shown by getLastError."""

        def refuse(event):
            event.session.last_error = "Nothing to sync yet"

        core = make_core(RecordingHandler(authenticate={}, send_request=refuse))
        ticket = start(core)
        assert send(core, ticket) == ""
        assert core.get_last_error(ticket) == "Nothing to sync yet"

    def test_handler_that_raises_returns_empty_and_get_last_error_carries_it(self, make_core):
        """A raising on_send_request is no fault: "" then getLastError with the message."""
        handler = RecordingHandler(authenticate={}, send_request=raises(KeyError("customer 7")))
        core = make_core(handler)
        ticket = start(core)
        assert send(core, ticket) == ""
        assert "customer 7" in core.get_last_error(ticket)
        assert handler.errors[0].error_code == ErrorCode.HANDLER_FAILED
        assert isinstance(handler.errors[0].exception, KeyError)

    def test_unknown_ticket_returns_empty_and_get_last_error_says_why(self, core, handler):
        """An unknown ticket gets "" and getLastError names the cause; on_error fires."""
        assert send(core, "no-such-ticket") == ""
        assert core.get_last_error("no-such-ticket") == UNKNOWN_TICKET_MESSAGE
        assert handler.errors[0].error_code == ErrorCode.UNKNOWN_TICKET

    def test_expired_session_is_refused_and_forgotten(self, core, handler, store, clock):
        """A session idle past the timeout is deleted at its next call."""
        ticket = start(core)
        clock.advance(1800.5)
        assert send(core, ticket) == ""
        assert store.get(ticket) is None
        assert handler.errors[0].error_code == ErrorCode.SESSION_EXPIRED

    def test_activity_keeps_a_session_alive(self, clock, make_core):
        """The idle timeout counts from the last call, not from authenticate."""
        core = make_core(
            RecordingHandler(
                authenticate={},
                receive_response={"percent_done": 10},
                send_request={"request": QBXML_REQUEST},
            ),
        )
        ticket = start(core)
        for _ in range(3):
            clock.advance(1000)
            assert send(core, ticket) == QBXML_REQUEST
            assert core.receive_response_xml(ticket, "<QBXML/>", "", "") == 10

    def test_malformed_hcp_response_is_reported_and_the_session_goes_on(self, make_core):
        """An unreadable strHCPResponse fires on_error(BAD_INPUT); the request still goes out."""
        handler = RecordingHandler(authenticate={}, send_request={"request": QBXML_REQUEST})
        core = make_core(handler)
        ticket = start(core)
        assert send(core, ticket, "<QBXML><unclosed>") == QBXML_REQUEST
        assert handler.errors[0].error_code == ErrorCode.BAD_INPUT

    def test_hcp_response_with_a_doctype_is_not_parsed(self, make_core):
        """Entities in the embedded qbXML are never expanded."""
        handler = RecordingHandler(authenticate={}, send_request={"request": QBXML_REQUEST})
        core = make_core(handler)
        ticket = start(core)
        bomb = '<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaa">]><QBXML>&a;</QBXML>'
        send(core, ticket, bomb)
        assert handler.errors[0].error_code == ErrorCode.BAD_INPUT
        assert handler.named("send_request")[0].host_response == ""


class TestReceiveResponse:
    def make(self, make_core, percent=None, **answers):
        answers.setdefault("authenticate", {})
        answers.setdefault("send_request", {"request": QBXML_REQUEST})
        if percent is not None:
            answers["receive_response"] = {"percent_done": percent}
        handler = RecordingHandler(**answers)
        core = make_core(handler)
        ticket = start(core)
        send(core, ticket)
        return core, handler, ticket

    @pytest.mark.parametrize(
        ("percent", "expected", "state"),
        [
            (None, 100, SessionState.FINISHED),
            (40, 40, SessionState.READY),
            (33.9, 33, SessionState.READY),
            (250, 100, SessionState.FINISHED),
            (-5, -1, SessionState.AWAITING_LAST_ERROR),
        ],
    )
    def test_percent_done_is_an_int_at_most_100(self, store, percent, expected, state, make_core):
        """Decimals are dropped, values above 100 capped, negatives sent as -1."""
        core, _, ticket = self.make(make_core, percent)
        assert core.receive_response_xml(ticket, "<QBXML/>", "", "") == expected
        assert store.get(ticket).state is state

    def test_success_is_true_only_without_hresult(self, make_core):
        """success reflects the hresult; the error fields are passed through."""
        core, handler, ticket = self.make(make_core, 50)
        core.receive_response_xml(ticket, "<QBXML/>", "", "")
        send(core, ticket)
        core.receive_response_xml(ticket, "", "0x80040400", "QuickBooks found an error")
        ok, failed = handler.named("receive_response")
        assert ok.success and ok.response == "<QBXML/>"
        assert not failed.success
        assert (failed.error_code, failed.error_message) == (
            "0x80040400",
            "QuickBooks found an error",
        )

    def test_negative_percent_then_get_last_error_shows_the_hresult(self, make_core):
        """After a failed response, getLastError shows what QuickBooks reported, in words too."""
        core, _, ticket = self.make(make_core, -1)
        assert core.receive_response_xml(ticket, "", "0x80040400", "parse error") == -1
        words = explain("0x80040400").user
        expected = f"QuickBooks reported 0x80040400: parse error — {words}"
        assert core.get_last_error(ticket) == expected

    def test_handler_that_raises_returns_minus_one(self, make_core):
        """A raising on_receive_response answers -1 and getLastError carries the message."""
        core, handler, ticket = self.make(make_core, receive_response=raises(ValueError("bad row")))
        assert core.receive_response_xml(ticket, "<QBXML/>", "", "") == -1
        assert "bad row" in core.get_last_error(ticket)
        assert handler.errors[0].error_code == ErrorCode.HANDLER_FAILED

    def test_unknown_ticket_returns_minus_one(self, core):
        """receiveResponseXML with an unknown ticket answers -1, not a fault."""
        assert core.receive_response_xml("nope", "<QBXML/>", "", "") == -1

    def test_response_without_outstanding_request_is_a_protocol_violation(self, core, handler):
        """A response before any request is refused with -1 and explained."""
        ticket = start(core)
        assert core.receive_response_xml(ticket, "<QBXML/>", "", "") == -1
        assert handler.errors[0].error_code == ErrorCode.PROTOCOL_VIOLATION
        assert "Unexpected receiveResponseXML" in core.get_last_error(ticket)
        assert handler.named("receive_response") == []

    def test_request_while_a_response_is_due_is_a_protocol_violation(self, make_core):
        """Two sendRequestXML in a row: the second gets "" and on_error fires."""
        core, handler, ticket = self.make(make_core)
        assert send(core, ticket) == ""
        assert handler.errors[0].error_code == ErrorCode.PROTOCOL_VIOLATION
        assert len(handler.named("send_request")) == 1


class TestConnectionError:
    def test_default_ends_the_update(self, core, handler):
        """Without a company file to retry with, the answer is "done"."""
        ticket = start(core)
        assert core.connection_error(ticket, "0x80040408", "Could not start QuickBooks.") == "done"
        event = handler.named("connection_error")[0]
        assert (event.error_code, event.error_message) == (
            "0x80040408",
            "Could not start QuickBooks.",
        )

    def test_company_file_is_returned_until_the_retry_limit(self, make_core):
        """The handler's company file is returned 3 times, then "done"."""
        core = make_core(
            RecordingHandler(authenticate={}, connection_error={"company_file": COMPANY})
        )
        ticket = start(core)
        answers = [core.connection_error(ticket, "0x80040408", "x") for _ in range(5)]
        assert answers == [COMPANY, COMPANY, COMPANY, "done", "done"]

    def test_retry_limit_is_configurable(self, make_core):
        """max_connection_retries=1 allows one retry."""
        core = make_core(
            RecordingHandler(authenticate={}, connection_error={"company_file": COMPANY}),
            max_connection_retries=1,
        )
        ticket = start(core)
        assert [core.connection_error(ticket, "h", "m") for _ in range(2)] == [COMPANY, "done"]

    def test_unknown_ticket_answers_done(self, core):
        """connectionError with an unknown ticket ends the update."""
        assert core.connection_error("nope", "0x80040408", "x") == "done"


class TestGetLastError:
    @pytest.mark.parametrize(
        ("answer", "expected", "state"),
        [
            ({"pause": True}, "NoOp", SessionState.READY),
            ({"interactive_mode": True}, "Interactive mode", SessionState.INTERACTIVE),
            ({"error_message": "Custom"}, "Custom", SessionState.FINISHED),
            ({"pause": True, "interactive_mode": True}, "NoOp", SessionState.READY),
        ],
    )
    def test_event_fields_map_to_the_wire(self, store, answer, expected, state, make_core):
        """pause -> NoOp, interactive_mode -> "Interactive mode", else error_message."""
        core = make_core(RecordingHandler(authenticate={}, get_last_error=answer))
        ticket = start(core)
        send(core, ticket)
        assert core.get_last_error(ticket) == expected
        assert store.get(ticket).state is state

    def test_pause_lets_the_web_connector_ask_again(self, make_core):
        """After NoOp the next sendRequestXML is served normally."""
        requests = iter(["", QBXML_REQUEST])

        def answer(event):
            event.request = next(requests)

        core = make_core(
            RecordingHandler(authenticate={}, send_request=answer, get_last_error={"pause": True})
        )
        ticket = start(core)
        assert send(core, ticket) == ""
        assert core.get_last_error(ticket) == "NoOp"
        assert send(core, ticket) == QBXML_REQUEST

    def test_handler_that_raises_still_returns_the_last_error(self, make_core):
        """A raising on_get_last_error falls back to the recorded error."""

        def refuse(event):
            event.session.last_error = "recorded"

        core = make_core(
            RecordingHandler(
                authenticate={}, send_request=refuse, get_last_error=raises(RuntimeError("x"))
            )
        )
        ticket = start(core)
        send(core, ticket)
        assert core.get_last_error(ticket) == "recorded"


class TestCloseConnection:
    def test_close_returns_the_message_and_ends_the_session(self, store, make_core):
        """closeConnection answers response_message and deletes the session."""
        core = make_core(
            RecordingHandler(authenticate={}, close_connection={"response_message": "Synced 5"})
        )
        ticket = start(core)
        assert core.close_connection(ticket) == "Synced 5"
        assert store.get(ticket) is None
        assert core.close_connection(ticket) == UNKNOWN_TICKET_MESSAGE

    def test_default_message_is_ok(self, core):
        """With nothing set, closeConnection answers "OK"."""
        assert core.close_connection(start(core)) == "OK"

    def test_session_is_deleted_even_if_the_handler_raises(self, store, make_core):
        """A raising on_close_connection still ends the session, and the user is not told OK."""
        core = make_core(RecordingHandler(authenticate={}, close_connection=raises(OSError("x"))))
        ticket = start(core)
        assert core.close_connection(ticket) == CLOSE_FAILED_MESSAGE
        assert "OK" not in CLOSE_FAILED_MESSAGE and "log" in CLOSE_FAILED_MESSAGE
        assert store.get(ticket) is None


class TestInteractive:
    def interactive_session(self, make_core, **answers):
        answers.update(authenticate={}, get_last_error={"interactive_mode": True})
        handler = RecordingHandler(**answers)
        core = make_core(handler)
        ticket = start(core)
        send(core, ticket)
        assert core.get_last_error(ticket) == "Interactive mode"
        return core, handler, ticket

    def test_url_done_and_back_to_requests(self, store, make_core):
        """getInteractiveURL returns the url; interactiveDone "Done" lets requests resume."""
        core, handler, ticket = self.interactive_session(
            make_core, get_interactive_url={"url": "https://app.example.com/fix"}
        )
        assert core.get_interactive_url(ticket, "sid-1") == "https://app.example.com/fix"
        assert handler.named("get_interactive_url")[0].session_id == "sid-1"
        assert core.interactive_done(ticket) == "Done"
        assert store.get(ticket).state is SessionState.READY

    def test_interactive_not_done_keeps_polling(self, store, make_core):
        """A response other than Done keeps the session interactive."""
        core, _, ticket = self.interactive_session(
            make_core, interactive_done={"response": "Continue"}
        )
        assert core.interactive_done(ticket) == "Continue"
        assert store.get(ticket).state is SessionState.INTERACTIVE

    def test_rejected_returns_the_message_and_finishes(self, store, make_core):
        """interactiveRejected passes the reason and returns response_message."""
        core, handler, ticket = self.interactive_session(
            make_core, interactive_rejected={"response_message": "Sync cancelled"}
        )
        assert (
            core.interactive_rejected(ticket, "User rejected interactive mode") == "Sync cancelled"
        )
        assert (
            handler.named("interactive_rejected")[0].reason_message
            == "User rejected interactive mode"
        )
        assert store.get(ticket).state is SessionState.FINISHED

    def test_interactive_calls_outside_interactive_mode_are_refused(self, core, handler):
        """getInteractiveURL in a plain session answers "" and reports a violation."""
        ticket = start(core)
        assert core.get_interactive_url(ticket, "") == ""
        assert handler.errors[0].error_code == ErrorCode.PROTOCOL_VIOLATION


class TestFailuresNeverEscape:
    class BrokenStore(MemorySessionStore):
        def get(self, ticket):
            raise OSError("disk gone")

        def add(self, session):
            raise OSError("disk gone")

        def take(self, ticket):
            raise OSError("disk gone")

    @pytest.mark.parametrize(
        ("call", "expected"),
        [
            (lambda c: c.send_request_xml("t", "", "", "US", 13, 0), ""),
            (lambda c: c.receive_response_xml("t", "", "", ""), -1),
            (lambda c: c.connection_error("t", "", ""), "done"),
            (lambda c: c.get_last_error("t"), UNKNOWN_TICKET_MESSAGE),
            (lambda c: c.close_connection("t"), UNKNOWN_TICKET_MESSAGE),
            (lambda c: c.get_interactive_url("t", ""), ""),
            (lambda c: c.interactive_done("t"), "Done"),
            (lambda c: c.interactive_rejected("t", ""), ""),
            (lambda c: c.authenticate("u", "p"), ["", "busy"]),
        ],
    )
    def test_store_failure_gives_the_operations_failure_value(self, call, expected, make_core):
        """A broken store is reported through on_error and answered with the safe value."""
        handler = RecordingHandler(authenticate={})
        core = make_core(handler, store=self.BrokenStore())
        assert call(core) == expected
        assert handler.errors[-1].error_code == ErrorCode.INTERNAL_ERROR
        assert "disk gone" in handler.errors[-1].description

    def test_failure_value_lists_are_not_shared(self, make_core):
        """Mutating one failure answer does not change the next one."""
        core = make_core(RecordingHandler(), store=self.BrokenStore())
        core.authenticate("u", "p").append("x")
        assert core.authenticate("u", "p") == ["", "busy"]

    def test_on_error_that_raises_is_swallowed(self, caplog, make_core):
        """A failing on_error does not turn the answer into a fault."""

        class Handler(RecordingHandler):
            def on_error(self, event):
                raise RuntimeError("alerting down")

        core = make_core(Handler())
        assert core.get_last_error("unknown") == UNKNOWN_TICKET_MESSAGE
        assert "on_error raised" in caplog.text

    def test_non_json_session_data_is_refused_safely(self, make_core):
        """session.data must be JSON: a set is reported, not turned into a fault."""

        def keep_a_set(event):
            event.session.data["seen"] = {1, 2}
            event.request = QBXML_REQUEST

        handler = RecordingHandler(authenticate={}, send_request=keep_a_set)
        core = make_core(handler)
        ticket = start(core)
        assert send(core, ticket) == ""
        assert handler.errors[-1].error_code == ErrorCode.INTERNAL_ERROR


def test_whole_session_with_several_requests(store, make_core):
    """authenticate, three request/response rounds with rising percentages, close."""
    percents = iter([33, 66, 100])

    def progress(event):
        event.percent_done = next(percents)
        event.session.data["rounds"] = event.session.data.get("rounds", 0) + 1

    handler = RecordingHandler(
        authenticate={}, send_request={"request": QBXML_REQUEST}, receive_response=progress
    )
    core = make_core(handler)
    ticket = start(core)
    results = []
    for hcp in (HCP, "", ""):
        assert send(core, ticket, hcp) == QBXML_REQUEST
        results.append(core.receive_response_xml(ticket, "<QBXML/>", "", ""))
    assert results == [33, 66, 100]
    assert store.get(ticket).data == {"rounds": 3}
    assert core.close_connection(ticket) == "OK"
    assert re.fullmatch(r"[0-9a-f-]{36}", ticket)


def test_non_numeric_percent_done_is_a_handler_error(make_core):
    """percent_done = "half" answers -1 and reports a HandlerError."""
    from qbwc_spyne.exceptions import HandlerError

    handler = RecordingHandler(
        authenticate={},
        send_request={"request": QBXML_REQUEST},
        receive_response={"percent_done": "half"},
    )
    core = make_core(handler)
    ticket = start(core)
    send(core, ticket)
    assert core.receive_response_xml(ticket, "<QBXML/>", "", "") == -1
    assert isinstance(handler.errors[0].exception, HandlerError)
    assert "percent_done must be a number" in core.get_last_error(ticket)


class TestOperatorSees:
    @pytest.mark.parametrize("outcome", [{"accept": True}, {"no_work": True}, "raise"])
    def test_a_megabyte_user_name_is_logged_cut_short(self, caplog, outcome, make_core):
        """The user name comes from the request: every line that names it stays short."""
        caplog.set_level(logging.DEBUG)

        class Raising(QBWCHandler):
            def on_authenticate(self, event):
                raise KeyError("users table")

        handler = Raising() if outcome == "raise" else RecordingHandler(authenticate=outcome)
        core = make_core(handler)
        ticket = core.authenticate("u" * 1_000_000, "secret")[0]
        core.close_connection(ticket)
        assert caplog.records
        assert max(len(r.getMessage()) for r in caplog.records) < 1_000

    def test_on_authenticate_raising_is_logged_at_error_with_a_hint(self, caplog, make_core):
        """busy is answered, and an ERROR record carries the exception and what to do."""

        class Handler(QBWCHandler):
            def on_authenticate(self, event):
                raise KeyError("users table")

            def on_error(self, event):
                pass  # an application's own on_error must not hide it

        core = make_core(Handler())
        assert core.authenticate("shop", "secret")[1] == "busy"
        (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)
        assert "'busy'" in record.getMessage() and "Fix the handler" in record.getMessage()
        assert "secret" not in caplog.text

    def test_a_store_failure_is_logged_at_error_whatever_on_error_does(self, caplog, make_core):
        """An exception that escapes an operation is logged at ERROR with its traceback."""

        class Handler(RecordingHandler):
            def on_error(self, event):
                pass

        core = make_core(Handler(authenticate={}), store=TestFailuresNeverEscape.BrokenStore())
        assert core.get_last_error("t") == UNKNOWN_TICKET_MESSAGE
        (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert "getLastError failed (OSError)" in record.getMessage()
        assert record.exc_info is not None

    def test_one_info_line_ends_each_session(self, caplog, clock, make_core):
        """user, company, outcome, calls and duration; a ticket prefix, never the whole ticket."""
        handler = RecordingHandler(
            authenticate={"company_file": COMPANY},
            send_request={"request": QBXML_REQUEST},
            receive_response={"percent_done": 100},
            close_connection={"response_message": "2 done"},
        )
        core = make_core(handler)
        ticket = core.authenticate("shop", "secret")[0]
        clock.advance(2.5)
        send(core, ticket, HCP)
        core.receive_response_xml(ticket, "<QBXML/>", "", "")
        assert core.close_connection(ticket) == "2 done"
        (line,) = [r.getMessage() for r in caplog.records if "ended" in r.getMessage()]
        assert line == (
            f"session {ticket[:8]}... ended: user 'shop', company {COMPANY!r}, outcome:"
            " completed; closeConnection '2 done', 4 calls, 2.5 s"
        )
        assert ticket not in caplog.text and "secret" not in caplog.text

    def test_a_session_that_failed_or_expired_says_so(self, caplog, clock, make_core):
        """The end line carries the last error, or the expiry."""
        handler = RecordingHandler(authenticate={}, send_request={})
        core = make_core(handler)
        failed = start(core)
        send(core, failed)
        core.get_last_error(failed)
        core.close_connection(failed)
        idle = start(core)
        clock.advance(1801)
        core.get_last_error(idle)
        ended = [r.getMessage() for r in caplog.records if "ended" in r.getMessage()]
        assert "outcome: error: The application had no request to send." in ended[0]
        assert "outcome: expired after 1801 s idle" in ended[1]

    def test_authenticate_answers_without_a_session_are_logged(self, caplog, make_core):
        """nvu, none and busy each leave an INFO line naming the user."""
        for answer, words in (
            ({"accept": False}, "refused (nvu)"),
            ({"no_work": True}, "no work (none)"),
            ({"busy": True}, "busy"),
        ):
            caplog.clear()
            make_core(RecordingHandler(authenticate=answer)).authenticate("u", "p")
            assert f"authenticate: user 'u': {words}" in caplog.text


class TestPurgeNeverRefusesALogin:
    class PurgeFails(MemorySessionStore):
        def __init__(self) -> None:
            super().__init__()
            self.purges = 0

        def purge(self, idle_before):
            self.purges += 1
            raise StorageError("database is locked")

    def test_a_failing_purge_leaves_the_login_to_succeed(self, caplog, clock, make_core):
        """The purge raises; authenticate still opens the session, and the failure is a WARNING."""
        store = self.PurgeFails()
        handler = RecordingHandler(authenticate={})
        core = make_core(handler, store=store)
        ticket, answer = core.authenticate("u", "p")
        assert answer == "" and store.get(ticket) is not None
        assert handler.errors == []
        assert "could not purge expired sessions" in caplog.text
        core.authenticate("u", "p")
        assert store.purges == 1, "a failed purge waits its minute, it does not slow every login"
        clock.advance(61)
        core.authenticate("u", "p")
        assert store.purges == 2

    def test_a_sqlite_lock_held_during_the_purge_refuses_no_login(self, tmp_path, make_core):
        """Another connection holds the write lock while the purge runs: the login goes on."""
        path = tmp_path / "sessions.db"

        class LockedDuringPurge(SQLSessionStore):
            def purge(self, idle_before):
                other = sqlite3.connect(path, isolation_level=None)
                other.execute("BEGIN IMMEDIATE")
                try:
                    return super().purge(idle_before)
                finally:
                    other.execute("ROLLBACK")
                    other.close()

        store = LockedDuringPurge(path, timeout=0.05)
        with pytest.raises(StorageError, match="locked"):
            store.purge(0.0)
        ticket, answer = make_core(RecordingHandler(authenticate={}), store=store).authenticate(
            "u", "p"
        )
        assert answer == "" and store.get(ticket) is not None


class TestObservers:
    """Every call reaches the observers once answered, and they cannot change the answer."""

    class Recorder:
        def __init__(self) -> None:
            self.calls: list = []

        def on_call(self, call) -> None:
            self.calls.append(call)

    def test_each_call_reaches_the_observer_with_its_user_session_and_answer(
        self, handler, make_core
    ):
        """A whole session: one record per call, user and ticket known from authenticate on."""
        handler.answers["send_request"] = {"request": QBXML_REQUEST}
        seen = self.Recorder()
        core = make_core(handler, observers=[seen])
        core.client_version("2.3.0.36")
        ticket = start(core)
        send(core, ticket)
        core.receive_response_xml(ticket, "<QBXML/>", "", "")
        core.close_connection(ticket)
        assert [c.operation for c in seen.calls] == [
            "clientVersion",
            "authenticate",
            "sendRequestXML",
            "receiveResponseXML",
            "closeConnection",
        ]
        assert seen.calls[0].arguments == {"strVersion": "2.3.0.36"}
        assert all(c.user == "user" and c.ticket == ticket for c in seen.calls[1:])
        assert seen.calls[2].answer == QBXML_REQUEST
        assert seen.calls[3].answer == 100
        assert seen.calls[2].session is not None and seen.calls[2].session.ticket == ticket

    def test_the_password_is_never_among_the_arguments(self, core):
        """authenticate's record names the user and leaves the password out."""
        seen = self.Recorder()
        core.observers.append(seen)
        core.authenticate("user", "hunter2")
        assert "hunter2" not in repr(seen.calls[0])

    def test_an_unknown_ticket_is_reported_by_its_error_code(self, core):
        """The record of a refused call says why, by the ErrorCode's name."""
        seen = self.Recorder()
        core.observers.append(seen)
        assert core.get_last_error("nope") == UNKNOWN_TICKET_MESSAGE
        assert seen.calls[0].error_code == "unknown_ticket"
        assert seen.calls[0].session is None

    def test_a_failure_value_is_marked_failed(self, core, store, monkeypatch):
        """A store error becomes the failure value, and the record says the call failed."""
        seen = self.Recorder()
        core.observers.append(seen)
        ticket = start(core)

        def broken(ticket):
            raise StorageError("database is locked")

        monkeypatch.setattr(store, "get", broken)
        assert send(core, ticket) == ""
        assert seen.calls[-1].failed and seen.calls[-1].error_code == "internal_error"

    def test_an_observer_that_raises_does_not_change_the_answer(self, core, caplog):
        """The Web Connector gets its answer; the observer's error is logged once."""

        class Broken:
            def on_call(self, call) -> None:
                raise RuntimeError("metrics down")

        core.observers.append(Broken())
        ticket, answer = core.authenticate("user", "secret")[:2]
        assert answer == "" and ticket
        assert "Broken.on_call raised for authenticate" in caplog.text

    def test_the_call_is_current_while_the_handler_runs(self, handler, make_core):
        """Code below the core (a handler, the queue) can name the call it serves."""
        from qbwc_spyne.protocol._calls import current_call

        during: list = []
        handler.answers["send_request"] = lambda event: during.append(current_call())
        core = make_core(handler)
        ticket = start(core)
        send(core, ticket)
        assert during[0].operation == "sendRequestXML" and during[0].ticket == ticket
        assert current_call() is None

    def test_the_call_is_still_current_while_the_observers_are_told(self, make_core):
        """An observer (the status recorder) writes within the call it records: its log
        lines name it, and on PostgreSQL its statements share the call's pinged connection."""
        from qbwc_spyne.protocol._calls import current_call

        seen: list = []

        class Watching:
            def on_call(self, call) -> None:
                seen.append(current_call() is call)

        core = make_core(RecordingHandler(authenticate={}), observers=[Watching()])
        start(core)
        assert seen == [True] and current_call() is None
