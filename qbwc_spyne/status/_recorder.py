"""The status recorder: what each Web Connector call changes in its connection's status.

:class:`StatusRecorder` is a call observer of the protocol core: told of
each answered Web Connector call, it works out what the call changed in
its connection's status and adds the call to its session's transcript, in
one transaction of the :class:`~qbwc_spyne.status.StatusStore`.
:func:`~qbwc_spyne.status.connection_status` reads the status back with
the queue's job counts, trouble first.

What a call changes
-------------------
- authenticate: a login the handler accepted (a session, or "none": nothing
  to do) is the user's; it may create the user's row. A refused login
  ("nvu") or "busy" only notes an error on a row that exists: a caller who
  knows no password must not be able to add rows.
- sendRequestXML: the first one of a session carries QuickBooks' HostQuery
  and CompanyQuery answers: product, version, company and qbXML versions.
- receiveResponseXML: the percentage (100 is a successful update; -1 an
  error, with QuickBooks' hresult if it gave one).
- connectionError: QuickBooks could not be reached, and why.
- getLastError: the message the Web Connector shows, unless "NoOp".
- closeConnection: the session is over (a success if it had no error).
- a call whose session expired (or whose ticket is unknown): the status
  that names that session as current no longer does, and its transcript ends.

The Web Connector's version
---------------------------
clientVersion carries a version and nothing else: no user, no ticket. The
Web Connector calls it just before authenticate, so the recorder keeps
the versions it saw in the last ``version_window`` seconds and gives the
next accepted login that version when every one of them agrees. Its
limits: it works when clientVersion and authenticate reach the same
process (one process, or sticky connections; the Web Connector keeps its
HTTP connection open, but a load balancer may not); when two Web
Connectors of different versions log in within the window, neither is
given one (never a wrong one); and a user whose clientVersion went to
another process keeps the version last attributed to it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from .._xml import parse_qbxml
from ..exceptions import QBWCError
from ..protocol._calls import Call
from ..protocol._session import Session, SessionState
from ._model import CallEntry, StatusStore, StatusUpdate, ticket_key

__all__ = ["StatusRecorder"]

logger = logging.getLogger("qbwc_spyne")

#: Operations that carry no user and no ticket.
_ANONYMOUS = ("serverVersion", "clientVersion")

#: getLastError answers that are not errors.
_NOT_ERRORS = ("NoOp", "Interactive mode", "")

#: authenticate's second element when no session is created.
_NVU, _BUSY, _NONE = "nvu", "busy", "none"

#: Status columns a session's every call sets, not worth a write by themselves.
_ROUTINE = frozenset({"last_seen", "session_calls", "session_started", "ticket", "ticket_key"})


def _ticket_argument(call: Call) -> str:
    value = call.arguments.get("ticket", call.arguments.get("wcTicket"))
    return value if isinstance(value, str) else ""


def _host_facts(session: Session) -> dict[str, Any]:
    """Product, version, company and qbXML versions from the session's HCP answers."""
    facts: dict[str, Any] = {}
    try:
        if session.host_response:
            host = parse_qbxml(session.host_response).find(".//HostRet")
            if host is not None:
                facts["product"] = host.findtext("ProductName") or ""
                major, minor = host.findtext("MajorVersion"), host.findtext("MinorVersion")
                if major:
                    facts["qb_version"] = f"{major}.{minor or 0}"
                versions = [v.text or "" for v in host.iterfind("SupportedQBXMLVersion")]
                facts["qbxml_versions"] = ",".join(v.strip() for v in versions if v.strip())
        if session.company_response:
            company = parse_qbxml(session.company_response).find(".//CompanyRet")
            if company is not None:
                facts["company_name"] = company.findtext("CompanyName") or ""
    except QBWCError:
        pass  # the core reported the unreadable answer already; the status keeps what it had
    return facts


def _summary(value: Any) -> str:
    """An answer as text (authenticate's is a list)."""
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    return "" if value is None else str(value)


class StatusRecorder:
    """Keeps each connection's status and each session's transcript, from the calls.

    Give it to the server as an observer:

    .. code-block:: python

        from qbwc_spyne import MemoryJobQueue, QueueHandler, make_wsgi_app
        from qbwc_spyne.auth import PasswordCheck, hash_password
        from qbwc_spyne.status import MemoryStatusStore, StatusRecorder

        passwords = PasswordCheck({"shop": hash_password("s3cret")})
        handler = QueueHandler(MemoryJobQueue(), passwords=passwords)
        app = make_wsgi_app(handler, observers=[StatusRecorder(MemoryStatusStore())])

    Each call costs the store a status upsert and a transcript row, most of
    the time (the session counts its calls, so the transcript's count needs
    no write of its own). A failure to record is logged and never changes
    what the Web Connector is answered.

    Args:
        store: where the status and transcripts go.
        transcripts: keep session transcripts (default True); False: status only.
        version_window: seconds a clientVersion is remembered for the next
            login (see the module's notes on its limits).
        min_interval: a call that changes nothing in the status but the
            time last seen writes it at most once per this many seconds per
            session (its transcript, when kept, still gets the call).

    .. versionadded:: Unreleased
    """

    def __init__(
        self,
        store: StatusStore,
        *,
        transcripts: bool = True,
        version_window: float = 60.0,
        min_interval: float = 5.0,
    ) -> None:
        self.store = store
        self.transcripts = transcripts
        self.version_window = version_window
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._versions: deque[tuple[float, str]] = deque(maxlen=64)
        self._written: dict[str, float] = {}  # ticket digest -> when its status was last written

    # -- the observer ---------------------------------------------------------------------------

    def on_call(self, call: Call) -> None:
        """Record one answered call (see the module's notes for what each one changes).

        Args:
            call: the call, as the core served it.

        Raises:
            StorageError: the store failed (the core logs it and answers as it would have).
        """
        if call.operation == "clientVersion":
            version = call.arguments.get("strVersion")
            if isinstance(version, str) and version:
                with self._lock:
                    self._versions.append((call.started, version[:100]))
            return
        if call.operation in _ANONYMOUS:
            return
        if call.operation == "authenticate":
            self._authenticate(call)
            return
        session = call.session
        if session is None:
            ticket = _ticket_argument(call)
            # Only rows that name this ticket change: a made-up ticket changes nothing.
            if ticket and call.error_code == "session_expired":
                self.store.end_session(
                    ticket,
                    at=call.started,
                    outcome="expired",
                    error_code=call.error_code,
                    error_message=f"{call.operation} came for a session that had expired",
                )
            elif ticket and call.error_code == "unknown_ticket":
                self.store.end_session(
                    ticket,
                    at=call.started,
                    outcome="ended unseen",
                    error_code=call.error_code,
                    error_message=f"{call.operation} came for a session the server no longer has",
                )
            return
        values, outcome = self._session_call(call, session)
        update = StatusUpdate(
            user=session.user,
            company_file=session.company_file or None,
            values=values,
            ends=session.ticket if outcome is not None else None,
        )
        routine = self._routine(session.ticket, values, call.started, ended=outcome is not None)
        if self.transcripts:
            entry = self._entry(call, session, outcome=outcome)
            self.store.record(update=None if routine else update, entry=entry)
        elif not routine:
            self.store.record(update=update)

    # -- per operation --------------------------------------------------------------------------

    def _client_version(self, at: float) -> str | None:
        """The version every clientVersion of the last window agrees on, or None."""
        with self._lock:
            seen = {v for t, v in self._versions if at - self.version_window <= t <= at}
        return seen.pop() if len(seen) == 1 else None

    def _authenticate(self, call: Call) -> None:
        answer = call.answer if isinstance(call.answer, list) else []
        second = str(answer[1]) if len(answer) > 1 else ""
        user, at = call.user, call.started
        if not user:
            return
        values: dict[str, Any] = {}
        if second in (_NVU, _BUSY) or (call.session is None and second != _NONE):
            # Not (or not yet) the user's: note the error on a row that exists.
            if second == _NVU:
                code, message = "nvu", "authenticate refused the user name or password"
            else:
                code = call.error_code or "busy"
                message = "authenticate answered busy: the Web Connector will try again later"
            values = {"last_error_code": code, "last_error_message": message, "last_error_at": at}
            self.store.record(
                update=StatusUpdate(user=user, company_file=None, values=values, create=False)
            )
            return
        values["last_seen"] = at
        version = self._client_version(at)
        if version is not None:
            values["client_version"] = version
        session = call.session
        if session is None:  # "none": nothing to do, a successful update
            values.update(last_success=at, ticket=None, ticket_key=None, progress=None)
            self.store.record(update=StatusUpdate(user=user, company_file=None, values=values))
            return
        values.update(
            ticket=session.ticket[:8],
            ticket_key=ticket_key(session.ticket),
            session_started=session.created or at,
            session_calls=session.calls,
            progress=0,
        )
        update = StatusUpdate(user=user, company_file=session.company_file or None, values=values)
        entry = self._entry(call, session, starts=True) if self.transcripts else None
        self.store.record(update=update, entry=entry)
        self._routine(session.ticket, values, at, ended=False)

    def _session_call(self, call: Call, session: Session) -> tuple[dict[str, Any], str | None]:
        """The status columns a session's call sets, and the outcome if it ended the session."""
        at = call.started
        values: dict[str, Any] = {
            "last_seen": at,
            "session_calls": session.calls,
            "ticket": session.ticket[:8],
            "ticket_key": ticket_key(session.ticket),
            # Again on each call: a session whose company file differs from the
            # row authenticate went to (a user with two) makes its own row whole.
            "session_started": session.created or at,
        }
        outcome: str | None = None
        operation, answer = call.operation, call.answer
        if operation == "sendRequestXML" and call.arguments.get("strHCPResponse"):
            values.update(_host_facts(session))
        elif operation == "receiveResponseXML" and isinstance(answer, int):
            values["progress"] = answer
            if answer == 100:
                values["last_success"] = at
            elif answer < 0:
                hresult = call.arguments.get("hresult")
                values["last_error_code"] = hresult or call.error_code or "error"
                values["last_error_message"] = session.last_error[:1000] or None
                values["last_error_at"] = at
        elif operation == "connectionError":
            values["connection_error_code"] = str(call.arguments.get("hresult") or "")[:100]
            values["connection_error_message"] = str(call.arguments.get("message") or "")[:1000]
            values["connection_error_at"] = at
        elif operation == "getLastError" and isinstance(answer, str) and answer not in _NOT_ERRORS:
            values["last_error_code"] = call.error_code or "last_error"
            values["last_error_message"] = answer[:1000]
            values["last_error_at"] = at
        elif operation == "closeConnection":
            values.update(ticket=None, ticket_key=None)
            if session.last_error:
                outcome = f"error: {session.last_error[:200]}"
            elif session.state is SessionState.FINISHED and not call.failed:
                outcome = "completed"
                values["last_success"] = at
            else:
                outcome = f"closed while {session.state.value}"
        if call.error_code and "last_error_code" not in values:
            values["last_error_code"] = call.error_code
            values["last_error_message"] = (session.last_error or call.error_code)[:1000]
            values["last_error_at"] = at
        return values, outcome

    def _entry(
        self, call: Call, session: Session, *, starts: bool = False, outcome: str | None = None
    ) -> CallEntry:
        arguments = dict(call.arguments)
        for name in ("ticket", "wcTicket"):
            if isinstance(arguments.get(name), str):
                arguments[name] = f"{arguments[name][:8]}..."
        arguments.pop("strPassword", None)  # never given by the core; never kept either
        return CallEntry(
            ticket=session.ticket,
            user=session.user,
            company_file=session.company_file,
            operation=call.operation,
            at=call.started,
            duration=call.duration,
            arguments=arguments,
            answer=_summary(call.answer),
            error_code=call.error_code,
            job_id=call.job_id,
            starts=starts,
            outcome=outcome,
            number=session.calls,
        )

    def _routine(self, ticket: str, values: dict[str, Any], at: float, *, ended: bool) -> bool:
        """Whether this status write may be skipped: nothing but the time, written lately.

        Notes the write when it is not skipped.
        """
        key = ticket_key(ticket)
        with self._lock:
            if ended:
                self._written.pop(key, None)
                return False
            if set(values) - _ROUTINE:
                self._written[key] = at
                return False
            last = self._written.get(key)
            if last is not None and at - last < self.min_interval:
                return True
            if len(self._written) > 10_000:  # sessions that died unseen: forget them
                self._written.clear()
            self._written[key] = at
            return False
