"""The Web Connector conversation as a state machine, with no I/O of its own.

Theory of operation
-------------------
The Web Connector drives; we answer. Each of its calls becomes one method
here, named after the WSDL operation in snake_case, taking and returning
plain Python values (the spyne adapter in ``_service.py`` does the SOAP).
The core holds no state between calls: the session is loaded from the store
by ticket, moved along ``_TRANSITIONS``, and saved again. The clock and the
ticket source are handed in, so tests can drive time.

A call the session's state does not expect (a response with no request
outstanding, say) is a protocol violation: ``on_error`` fires and the call
gets its operation's failure value. So does a call whose ticket is unknown
or expired, and a call whose handler raised.

Strategy for failures: the Web Connector aborts the whole update with a
QBWC10xx dialog when a call returns a SOAP fault, so once a ticket exists no
failure becomes a fault. Each operation has a failure value that the Web
Connector handles gracefully (``_FAILURE``): "" from sendRequestXML and -1
from receiveResponseXML both lead to getLastError, which explains; "done"
from connectionError ends the update; "busy" from authenticate means "try
later". ``Core._serve`` applies it to anything that escapes, store errors
included.
"""

from __future__ import annotations

import copy
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .._xml import XMLError, split_hcp_response
from ..codes import describe
from ..exceptions import ConfigurationError, HandlerError, StorageError
from . import _events as ev
from ._calls import Call, CallObserver, _current, current_call, notify
from ._handler import QBWCHandler
from ._ports import SessionStore
from ._session import Session, SessionState

__all__ = ["Core", "version_newer"]

logger = logging.getLogger("qbwc_spyne")

T = TypeVar("T")

READY = SessionState.READY
AWAITING_RESPONSE = SessionState.AWAITING_RESPONSE
AWAITING_LAST_ERROR = SessionState.AWAITING_LAST_ERROR
INTERACTIVE = SessionState.INTERACTIVE
FINISHED = SessionState.FINISHED

# (state, operation) -> {outcome: next state}. A (state, operation) pair with
# no row is a call the Web Connector does not make in that state.
_TRANSITIONS: dict[tuple[SessionState, str], dict[str, SessionState]] = {
    (READY, "sendRequestXML"): {"request": AWAITING_RESPONSE, "no request": AWAITING_LAST_ERROR},
    (AWAITING_RESPONSE, "receiveResponseXML"): {
        "more": READY,
        "complete": FINISHED,
        "failed": AWAITING_LAST_ERROR,
    },
    (INTERACTIVE, "getInteractiveURL"): {"url": INTERACTIVE},
    (INTERACTIVE, "interactiveDone"): {"done": READY, "not done": INTERACTIVE},
    (INTERACTIVE, "interactiveRejected"): {"rejected": FINISHED},
}
for _state in SessionState:
    # "getLastError is called when sendRequestXML returned '' or
    # receiveResponseXML returned a negative number" -- but answering it is
    # harmless in any state, and its answer decides what happens next.
    _TRANSITIONS[(_state, "getLastError")] = {
        "pause": READY,
        "interactive": INTERACTIVE,
        "error": FINISHED,
    }
    # QuickBooks can fail to open at the start, or be lost later on.
    _TRANSITIONS[(_state, "connectionError")] = {"retry": READY, "done": FINISHED}

# What each operation answers when it cannot be served (see the docstring).
UNKNOWN_TICKET_MESSAGE = "The session ticket is unknown or the session has expired."
#: closeConnection's answer when the handler raised: the Web Connector shows
#: it to its user, who must not read "OK" over an update whose end was lost.
CLOSE_FAILED_MESSAGE = "The update ended, but the server could not finish it: its log says why."

_FAILURE: dict[str, Any] = {
    "serverVersion": "",
    "clientVersion": "",
    "authenticate": ["", "busy"],
    "sendRequestXML": "",
    "receiveResponseXML": -1,
    "connectionError": "done",
    "getLastError": UNKNOWN_TICKET_MESSAGE,
    "closeConnection": UNKNOWN_TICKET_MESSAGE,
    "getInteractiveURL": "",
    "interactiveDone": "Done",
    "interactiveRejected": "",
}

#: The words authenticate's second element may carry besides a company file.
NVU, BUSY, NONE = "nvu", "busy", "none"

# How the INFO log names authenticate's answers that create no session.
_NO_SESSION = {NVU: "refused (nvu)", BUSY: "busy", NONE: "no work (none)"}


def _short(text: str, limit: int = 200) -> str:
    """One line of at most ``limit`` characters, for the log."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _new_ticket() -> str:
    # A GUID, as the Web Connector's own examples use, from the OS's
    # cryptographic source: a ticket is the only credential of later calls.
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


def _add(store: SessionStore, session: Session) -> bool:
    """Save a new session unless its ticket is taken; return whether it was saved.

    A store with ``add`` does it in one statement; any other in two.
    """
    add = getattr(store, "add", None)
    if add is not None:
        return bool(add(session))
    if store.get(session.ticket) is not None:
        return False
    store.put(session)
    return True


def _take(store: SessionStore, ticket: str) -> Session | None:
    """Remove the session with ``ticket`` from the store and return it (None: none).

    A store with ``take`` does it in one statement; any other in two.
    """
    take = getattr(store, "take", None)
    if take is not None:
        found: Session | None = take(ticket)
        return found
    session = store.get(ticket)
    if session is not None:
        store.delete(ticket)
    return session


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def version_newer(required: str, actual: str) -> bool:
    """Tell whether dotted version ``required`` is newer than ``actual``."""
    req, act = _version_tuple(required), _version_tuple(actual)
    width = max(len(req), len(act))
    return req + (0,) * (width - len(req)) > act + (0,) * (width - len(act))


class Core:
    """Serves each Web Connector operation by firing the handler's events.

    Args:
        handler: the application's handler.
        store: where sessions live between calls.
        clock: returns the time in seconds since the epoch.
        new_ticket: returns a fresh session ticket.
        session_timeout: seconds a session may stay idle before it expires.
        max_connection_retries: connectionError retries allowed per session
            before "done" is answered whatever the handler says.
        observers: told of every call once it is answered (see
            :class:`~qbwc_spyne.protocol._calls.Call`): connection status,
            metrics, transcripts.

    .. versionchanged:: Unreleased
       ``observers`` added.
    """

    def __init__(
        self,
        handler: QBWCHandler,
        store: SessionStore,
        *,
        clock: Callable[[], float] = time.time,
        new_ticket: Callable[[], str] = _new_ticket,
        session_timeout: float = 1800.0,
        max_connection_retries: int = 3,
        observers: Iterable[CallObserver] = (),
    ) -> None:
        if not isinstance(handler, QBWCHandler):
            raise ConfigurationError(f"handler must be a QBWCHandler, not {type(handler).__name__}")
        if session_timeout <= 0:
            raise ConfigurationError("session_timeout must be positive")
        self.handler = handler
        self.store = store
        self.clock = clock
        self.new_ticket = new_ticket
        self.session_timeout = session_timeout
        self.max_connection_retries = max_connection_retries
        self.observers: list[CallObserver] = list(observers)
        self._next_purge = 0.0

    # -- plumbing -----------------------------------------------------------

    def _serve(
        self, operation: str, serve: Callable[[], T], arguments: dict[str, Any] | None = None
    ) -> T:
        """Run one operation; anything that escapes becomes its failure value.

        The call's record is :func:`current_call` while it runs, and goes to
        the observers with the answer.
        """
        call = Call(operation=operation, started=self.clock(), arguments=arguments or {})
        token = _current.set(call)
        began = time.perf_counter()
        try:
            answer = serve()
        except Exception as exc:
            call.failed = True
            # The operator must see this even when on_error is overridden:
            # the Web Connector got a failure value and no one else knows why.
            logger.error(
                "%s failed (%s); the Web Connector was answered %r. Check the session"
                " store and the handler; the traceback follows.",
                operation,
                type(exc).__name__,
                _FAILURE[operation],
                exc_info=exc,
            )
            self._error(
                ev.ErrorCode.INTERNAL_ERROR,
                f"{operation} failed: {type(exc).__name__}: {exc}",
                operation,
                exc,
            )
            # A copy: a list answer must not be shared between calls.
            answer = copy.copy(_FAILURE[operation])
        finally:
            call.duration = time.perf_counter() - began
            _current.reset(token)
        call.answer = answer
        if self.observers:
            # Still the current call for the observers: their log lines name
            # it, and their statements share the call's pinged connections.
            token = _current.set(call)
            try:
                notify(self.observers, call)
            finally:
                _current.reset(token)
        return answer

    def _error(
        self,
        code: ev.ErrorCode,
        description: str,
        operation: str,
        exc: BaseException | None = None,
        session: Session | None = None,
    ) -> None:
        call = current_call()
        if call is not None:
            call.error_code = code.name.lower()
        event = ev.ErrorEvent(
            error_code=code,
            description=description,
            operation=operation,
            exception=exc,
            session=session,
        )
        try:
            self.handler.on_error(event)
        except Exception:
            logger.exception("on_error raised while reporting: %s", description)

    def _fire(
        self,
        method: Callable[[Any], None],
        event: Any,
        operation: str,
        session: Session | None,
        hint: str = "",
    ) -> BaseException | None:
        """Call a handler method; return what it raised, after logging and reporting it.

        ``hint`` tells the operator what the answer given means and what to do.
        """
        try:
            method(event)
        except Exception as exc:
            # Logged here, with the traceback, whatever on_error does: the
            # handler's author is the one who must see it. A store's failure
            # is the database's (an outage), not the handler's code.
            if isinstance(exc, StorageError):
                hint = f"{hint.partition('. Fix the handler')[0]}. The database failed: {exc}"
            logger.error(
                "%s raised %s%s; the traceback follows.",
                method.__name__,
                type(exc).__name__,
                hint,
                exc_info=exc,
            )
            self._error(
                ev.ErrorCode.HANDLER_FAILED,
                f"{method.__name__} raised {type(exc).__name__}: {exc}",
                operation,
                exc,
                session,
            )
            return exc
        return None

    def _load(self, ticket: str | None, operation: str, *, take: bool = False) -> Session | None:
        """Find the live session for ``ticket``, or report why there is none.

        With ``take``, the session is removed from the store as it is read
        (closeConnection: one statement where a SQL store has it).
        """
        session = None
        if ticket:
            session = _take(self.store, ticket) if take else self.store.get(ticket)
        if session is None:
            self._error(ev.ErrorCode.UNKNOWN_TICKET, UNKNOWN_TICKET_MESSAGE, operation)
            return None
        now = self.clock()
        if now - session.last_seen > self.session_timeout:
            if not take:
                self.store.delete(session.ticket)
            self._log_end(session, f"expired after {now - session.last_seen:.0f} s idle", now)
            self._error(
                ev.ErrorCode.SESSION_EXPIRED,
                f"session idle for {now - session.last_seen:.0f} s, longer than "
                f"the {self.session_timeout:.0f} s allowed",
                operation,
                session=session,
            )
            return None
        session.last_seen = now
        session.calls += 1
        call = current_call()
        if call is not None:
            call.session, call.user, call.ticket = session, session.user, session.ticket
        return session

    @staticmethod
    def _log_end(session: Session, outcome: str, now: float) -> None:
        """The INFO line that ends every session (part of the ticket only, never a password)."""
        logger.info(
            "session %s... ended: user %r, company %r, outcome: %s, %d calls, %.1f s",
            session.ticket[:8],
            _short(session.user, 120),
            _short(session.company_file, 120),
            outcome,
            session.calls,
            max(now - session.created, 0.0),
        )

    def _purge_expired(self) -> None:
        """Reclaim sessions never met again; a failure must not refuse a login."""
        now = self.clock()
        if now < self._next_purge:
            return
        # Expired sessions are refused when met; this only reclaims the space
        # of those never met again, so once a minute is enough, and a failed
        # purge (a store locked by another process, say) waits a minute too
        # rather than slowing every login.
        self._next_purge = now + 60.0
        try:
            purged = self.store.purge(now - self.session_timeout)
        except Exception as exc:
            logger.warning(
                "could not purge expired sessions (%s: %s); logins go on, next try in 60 s",
                type(exc).__name__,
                _short(str(exc)),
            )
            return
        if purged:
            logger.info("purged %d sessions idle for over %.0f s", purged, self.session_timeout)

    def _expects(self, session: Session, operation: str) -> bool:
        """Check that ``operation`` may come in the session's state."""
        if (session.state, operation) in _TRANSITIONS:
            return True
        message = f"Unexpected {operation} call while the session is {session.state.value}."
        session.last_error = message
        self.store.put(session)
        self._error(ev.ErrorCode.PROTOCOL_VIOLATION, message, operation, session=session)
        return False

    def _move(self, session: Session, operation: str, outcome: str) -> None:
        session.state = _TRANSITIONS[(session.state, operation)][outcome]
        self.store.put(session)

    # -- the operations -------------------------------------------------------

    def server_version(self) -> str:
        """serverVersion: return the text the Web Connector displays."""

        def serve() -> str:
            event = ev.ServerVersionEvent()
            self._fire(self.handler.on_server_version, event, "serverVersion", None)
            return str(event.version)

        return self._serve("serverVersion", serve)

    def client_version(self, str_version: str | None) -> str:
        """clientVersion: return "", "W:<text>", "E:<text>" or "O:<version>"."""

        def serve() -> str:
            event = ev.ClientVersionEvent(client_version=str_version or "")
            if self._fire(self.handler.on_client_version, event, "clientVersion", None):
                return ""
            if event.error_message:
                return f"E:{event.error_message}"
            if event.warning_message:
                return f"W:{event.warning_message}"
            if event.required_version and version_newer(
                event.required_version, event.client_version
            ):
                return f"O:{event.required_version}"
            return ""

        return self._serve("clientVersion", serve, {"strVersion": str_version})

    def authenticate(self, user: str | None, password: str | None) -> list[str]:
        """authenticate: return [ticket, "nvu"|"busy"|"none"|company file, delay?, interval?].

        A session is created only when there is work, that is when the
        second element names a company file ("" = the open one).
        """

        def serve() -> list[str]:
            # Within the call, so its statements share the call's pinged
            # connection; a failed purge is no reason to refuse a login
            # (_purge_expired logs it and goes on).
            self._purge_expired()
            now = self.clock()
            event = ev.AuthenticateEvent(
                user=user or "", password=password or "", session_ticket=self.new_ticket()
            )
            call = current_call()
            if call is not None:
                call.user = event.user
            raised = self._fire(
                self.handler.on_authenticate,
                event,
                "authenticate",
                None,
                hint=f" for user {_short(event.user, 120)!r}; the Web Connector was answered"
                " 'busy' and will try again at its next scheduled update. Fix the handler"
                " or set event.accept = False",
            )
            if raised:
                return [event.session_ticket, BUSY]
            ticket = str(event.session_ticket)
            if not event.accept:
                answer = NVU
            elif event.busy:
                answer = BUSY
            elif event.no_work:
                answer = NONE
            else:
                answer = str(event.company_file)
                session = Session(
                    ticket=ticket,
                    user=event.user,
                    company_file=answer,
                    created=now,
                    last_seen=now,
                    calls=1,
                )
                if not ticket or not _add(self.store, session):
                    # A ticket the handler chose must not take over a live session.
                    self._error(
                        ev.ErrorCode.HANDLER_FAILED,
                        "on_authenticate set a session_ticket that is empty or already in use",
                        "authenticate",
                    )
                    return [ticket, BUSY]
                call = current_call()
                if call is not None:
                    call.session, call.ticket = session, ticket
            if answer in _NO_SESSION:
                logger.info(
                    "authenticate: user %r: %s", _short(event.user, 120), _NO_SESSION[answer]
                )
            else:
                logger.info("session %s... started: user %r", ticket[:8], _short(event.user, 120))
            result = [ticket, answer]
            if event.update_delay is not None or event.update_interval is not None:
                result.append("" if event.update_delay is None else str(int(event.update_delay)))
            if event.update_interval is not None:
                result.append(str(int(event.update_interval)))
            return result

        return self._serve("authenticate", serve, {"strUserName": user})

    def send_request_xml(
        self,
        ticket: str | None,
        hcp_response: str | None,
        company_file: str | None,
        country: str | None,
        major_version: int | None,
        minor_version: int | None,
    ) -> str:
        """sendRequestXML: return the next qbXML request, or "" to signal getLastError."""

        def serve() -> str:
            session = self._load(ticket, "sendRequestXML")
            if session is None or not self._expects(session, "sendRequestXML"):
                return ""
            if hcp_response:
                self._keep_hcp(session, hcp_response)
            session.company_file = company_file or session.company_file
            session.qbxml_country = country or session.qbxml_country
            session.qbxml_major_version = major_version or session.qbxml_major_version
            session.qbxml_minor_version = minor_version or 0
            event = ev.SendRequestEvent(
                session_ticket=session.ticket,
                company_response=session.company_response,
                host_response=session.host_response,
                prefs_response=session.prefs_response,
                company_file=session.company_file,
                qbxml_country=session.qbxml_country,
                qbxml_major_version=session.qbxml_major_version,
                qbxml_minor_version=session.qbxml_minor_version,
                session=session,
            )
            raised = self._fire(self.handler.on_send_request, event, "sendRequestXML", session)
            request = "" if raised else str(event.request or "")
            if raised:
                session.last_error = f"The application failed to build a request: {raised}"
            elif not request and not session.last_error:
                session.last_error = "The application had no request to send."
            self._move(session, "sendRequestXML", "request" if request else "no request")
            return request

        return self._serve(
            "sendRequestXML",
            serve,
            {
                "ticket": ticket,
                "strHCPResponse": hcp_response,
                "strCompanyFileName": company_file,
                "qbXMLCountry": country,
                "qbXMLMajorVers": major_version,
                "qbXMLMinorVers": minor_version,
            },
        )

    def _keep_hcp(self, session: Session, hcp_response: str) -> None:
        try:
            host, company, prefs = split_hcp_response(hcp_response)
        except XMLError as exc:
            self._error(
                ev.ErrorCode.BAD_INPUT,
                f"strHCPResponse could not be read: {exc}",
                "sendRequestXML",
                exc,
                session,
            )
            return
        session.host_response, session.company_response, session.prefs_response = (
            host,
            company,
            prefs,
        )

    def receive_response_xml(
        self,
        ticket: str | None,
        response: str | None,
        hresult: str | None,
        message: str | None,
    ) -> int:
        """receiveResponseXML: return the percentage done (0-100), or -1 for an error."""

        def serve() -> int:
            session = self._load(ticket, "receiveResponseXML")
            if session is None or not self._expects(session, "receiveResponseXML"):
                return -1
            success = not hresult
            if not success:
                session.last_error = f"QuickBooks reported {describe(hresult or '', message or '')}"
            event = ev.ReceiveResponseEvent(
                session_ticket=session.ticket,
                response=response or "",
                error_code=hresult or "",
                error_message=message or "",
                success=success,
                session=session,
            )
            raised = self._fire(
                self.handler.on_receive_response, event, "receiveResponseXML", session
            )
            if not raised:
                try:
                    # "QBWC throws an error if the return value contains a decimal."
                    percent = max(min(int(event.percent_done), 100), -1)
                except (TypeError, ValueError):
                    raised = HandlerError(
                        f"percent_done must be a number, not {event.percent_done!r}",
                        operation="receiveResponseXML",
                    )
                    self._error(
                        ev.ErrorCode.HANDLER_FAILED,
                        str(raised),
                        "receiveResponseXML",
                        raised,
                        session,
                    )
            if raised:
                session.last_error = f"The application failed to process the response: {raised}"
                percent = -1
            if percent < 0 and not session.last_error:
                session.last_error = "The application reported an error."
            outcome = "failed" if percent < 0 else "complete" if percent == 100 else "more"
            self._move(session, "receiveResponseXML", outcome)
            return percent

        return self._serve(
            "receiveResponseXML",
            serve,
            {"ticket": ticket, "response": response, "hresult": hresult, "message": message},
        )

    def connection_error(self, ticket: str | None, hresult: str | None, message: str | None) -> str:
        """connectionError: return a company file to retry with, or "done"."""

        def serve() -> str:
            session = self._load(ticket, "connectionError")
            if session is None:
                return "done"
            # The catalogue's words tell the bookkeeper what to do (open
            # QuickBooks, the right company file...), not just the code.
            why = describe(hresult or "", message or "") or "no reason given"
            session.last_error = f"QuickBooks could not be opened: {why}"
            event = ev.ConnectionErrorEvent(
                session_ticket=session.ticket,
                error_code=hresult or "",
                error_message=message or "",
                session=session,
            )
            raised = self._fire(self.handler.on_connection_error, event, "connectionError", session)
            retry = "" if raised else str(event.company_file or "")
            if retry and session.connection_retries >= self.max_connection_retries:
                # "Don't retry the same operation in response to the
                # connectionError more than a couple of times."
                retry = ""
            if retry:
                session.connection_retries += 1
                session.company_file = retry
            self._move(session, "connectionError", "retry" if retry else "done")
            return retry or "done"

        return self._serve(
            "connectionError", serve, {"ticket": ticket, "hresult": hresult, "message": message}
        )

    def get_last_error(self, ticket: str | None) -> str:
        """getLastError: return "NoOp", "Interactive mode" or an error message."""

        def serve() -> str:
            session = self._load(ticket, "getLastError")
            if session is None:
                return UNKNOWN_TICKET_MESSAGE
            event = ev.GetLastErrorEvent(
                session_ticket=session.ticket, error_message=session.last_error, session=session
            )
            if self._fire(self.handler.on_get_last_error, event, "getLastError", session):
                event = ev.GetLastErrorEvent(
                    session_ticket=session.ticket, error_message=session.last_error
                )
            if event.pause:
                answer, outcome = "NoOp", "pause"
            elif event.interactive_mode:
                answer, outcome = "Interactive mode", "interactive"
            else:
                answer, outcome = str(event.error_message or ""), "error"
            if outcome != "error":
                session.last_error = ""
            self._move(session, "getLastError", outcome)
            return answer

        return self._serve("getLastError", serve, {"ticket": ticket})

    def close_connection(self, ticket: str | None) -> str:
        """closeConnection: end the session; return the status text to show."""

        def serve() -> str:
            # Gone from the store whatever the handler does: the session is over.
            session = self._load(ticket, "closeConnection", take=True)
            if session is None:
                return UNKNOWN_TICKET_MESSAGE
            event = ev.CloseConnectionEvent(session_ticket=session.ticket, session=session)
            raised = self._fire(self.handler.on_close_connection, event, "closeConnection", session)
            message = CLOSE_FAILED_MESSAGE if raised else str(event.response_message)
            if session.last_error:
                outcome = f"error: {_short(session.last_error)}"
            elif session.state is FINISHED:
                outcome = "completed"
            else:
                outcome = f"closed while {session.state.value}"
            self._log_end(session, f"{outcome}; closeConnection {_short(message)!r}", self.clock())
            return message

        return self._serve("closeConnection", serve, {"ticket": ticket})

    def get_interactive_url(self, ticket: str | None, session_id: str | None) -> str:
        """getInteractiveURL: return the URL the Web Connector opens."""

        def serve() -> str:
            session = self._load(ticket, "getInteractiveURL")
            if session is None or not self._expects(session, "getInteractiveURL"):
                return ""
            event = ev.GetInteractiveURLEvent(
                session_ticket=session.ticket, session_id=session_id or "", session=session
            )
            raised = self._fire(
                self.handler.on_get_interactive_url, event, "getInteractiveURL", session
            )
            self._move(session, "getInteractiveURL", "url")
            return "" if raised else str(event.url)

        return self._serve(
            "getInteractiveURL", serve, {"wcTicket": ticket, "sessionID": session_id}
        )

    def interactive_done(self, ticket: str | None) -> str:
        """interactiveDone: return "Done" when the interactive session is over."""

        def serve() -> str:
            session = self._load(ticket, "interactiveDone")
            if session is None or not self._expects(session, "interactiveDone"):
                return "Done"
            event = ev.InteractiveDoneEvent(session_ticket=session.ticket, session=session)
            raised = self._fire(self.handler.on_interactive_done, event, "interactiveDone", session)
            response = "Done" if raised else str(event.response)
            self._move(session, "interactiveDone", "done" if response == "Done" else "not done")
            return response

        return self._serve("interactiveDone", serve, {"wcTicket": ticket})

    def interactive_rejected(self, ticket: str | None, reason: str | None) -> str:
        """interactiveRejected: return the message to show the user."""

        def serve() -> str:
            session = self._load(ticket, "interactiveRejected")
            if session is None or not self._expects(session, "interactiveRejected"):
                return ""
            event = ev.InteractiveRejectedEvent(
                session_ticket=session.ticket, reason_message=reason or "", session=session
            )
            raised = self._fire(
                self.handler.on_interactive_rejected, event, "interactiveRejected", session
            )
            self._move(session, "interactiveRejected", "rejected")
            return "" if raised else str(event.response_message)

        return self._serve("interactiveRejected", serve, {"wcTicket": ticket, "reason": reason})
