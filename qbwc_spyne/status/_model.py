"""The connection status model: what an operator is shown, and the store it is kept in.

A :class:`StatusStore` keeps one :class:`ConnectionStatus` per Web Connector
user and company file and, per session, a :class:`SessionTranscript` with
its calls; the recorder (``_recorder``) writes them through
:class:`StatusUpdate` and :class:`CallEntry`. :func:`connection_status`
reads the rows back with the queue's job counts, trouble first, and
:func:`session_open` is the one rule for whether a row's session still
lives. The stores themselves (SQL, memory) are in ``qbwc_spyne.store``.

.. versionadded:: Unreleased
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

# The job model's states: a status counts the jobs of its user.
from ..queue._ports import JobState

__all__ = [
    "CallEntry",
    "ConnectionStatus",
    "JobCounter",
    "SessionTranscript",
    "StatusSource",
    "StatusStore",
    "StatusUpdate",
    "TranscriptCall",
    "connection_status",
    "session_open",
    "ticket_key",
    "ticket_prefix",
]


def ticket_key(ticket: str) -> str:
    """The digest a ticket is stored as: finds its rows, cannot be used as the ticket."""
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def ticket_prefix(ticket: str) -> str:
    """What is shown of a ticket: its first 8 characters."""
    return ticket[:8]


@dataclass(frozen=True, kw_only=True)
class ConnectionStatus:
    """One Web Connector user and company file, as last seen.

    Times are seconds since the epoch; None: never (or not known).

    Attributes:
        user: the Web Connector user.
        company_file: the company file its sessions reported ("" before any did).
        last_seen: the last call of this user.
        last_success: the last update that ended well: a receiveResponseXML
            answered 100, a closeConnection after no error, or an
            authenticate answered "none" (nothing to do).
        client_version: the Web Connector's version (see the recorder for
            how it is attributed), or "".
        product: QuickBooks' product name, from the session's HostQuery answer.
        qb_version: QuickBooks' major.minor version, from the same.
        company_name: the company's name, from the CompanyQuery answer.
        qbxml_versions: the qbXML versions QuickBooks supports.
        ticket: the first 8 characters of the current session's ticket; None
            when no session is open (or it expired).
        session_started: when the current (or last) session began.
        session_calls: the calls the current (or last) session has served.
        progress: the last percentage receiveResponseXML answered.
        last_error_code, last_error_message, last_error_at: the last error:
            an hresult, a percentage of -1, an error the core reported (by
            its :class:`~qbwc_spyne.events.ErrorCode` name), "nvu" for a
            refused login, or getLastError's message.
        connection_error_code, connection_error_message, connection_error_at:
            the last connectionError (QuickBooks could not be reached).
        jobs_pending, jobs_failed, jobs_unknown: the user's jobs waiting to
            be sent (pending or to reconcile), failed, and unknown, counted
            when the status is read
            (:func:`~qbwc_spyne.status.connection_status`); 0 from the store.

    .. versionadded:: Unreleased
    """

    user: str
    company_file: str = ""
    last_seen: float | None = None
    last_success: float | None = None
    client_version: str = ""
    product: str = ""
    qb_version: str = ""
    company_name: str = ""
    qbxml_versions: list[str] = field(default_factory=list)
    ticket: str | None = None
    session_started: float | None = None
    session_calls: int = 0
    progress: int | None = None
    last_error_code: str | None = None
    last_error_message: str | None = None
    last_error_at: float | None = None
    connection_error_code: str | None = None
    connection_error_message: str | None = None
    connection_error_at: float | None = None
    jobs_pending: int = 0
    jobs_failed: int = 0
    jobs_unknown: int = 0


class StatusSource(Protocol):
    """What reading a connection's status needs of a status store (``StatusStore`` has it)."""

    def statuses(self, *, user: str | None = None) -> list[ConnectionStatus]:
        """The connection status records of ``user`` (or of every user)."""


@dataclass(frozen=True, kw_only=True)
class TranscriptCall:
    """One call of a session, as its transcript keeps it.

    Attributes:
        operation: the WSDL operation, e.g. ``"sendRequestXML"``.
        at: when it arrived.
        duration: seconds it took to answer.
        arguments: what the Web Connector sent, by parameter name: no
            password, the ticket as its first 8 characters, bodies cut.
        answer: what was answered, cut the same way.
        error_code: the error the call reported, if any.
        job_id: the job it sent or answered, if any.

    .. versionadded:: Unreleased
    """

    operation: str
    at: float
    duration: float
    arguments: dict[str, Any] = field(default_factory=dict)
    answer: str = ""
    error_code: str | None = None
    job_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class SessionTranscript:
    """One session, from authenticate to its end.

    Attributes:
        id: the transcript's number (stable; pages and links use it).
        ticket_prefix: the first 8 characters of the session's ticket.
        user, company_file: whose session it was.
        started: when authenticate opened it.
        last_at: when its last call came.
        ended: when it ended (None: open, or it died unseen).
        outcome: how it ended: "completed", "error: ...", "closed while ...",
            "expired", "abandoned" (the user's next session began first); None while open.
        call_count: how many calls it had (more than ``calls`` holds when
            the transcript reached its cap).
        calls: its calls, oldest first (empty in a listing).

    .. versionadded:: Unreleased
    """

    id: int
    ticket_prefix: str
    user: str
    company_file: str
    started: float
    last_at: float
    ended: float | None = None
    outcome: str | None = None
    call_count: int = 0
    calls: list[TranscriptCall] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class StatusUpdate:
    """What one call changes in a status row.

    Attributes:
        user: the Web Connector user.
        company_file: its company file; None: the user's most recently seen row.
        values: new values of some of the status row's columns (a store
            refuses other names); None clears one.
        create: make the row when it does not exist. False for what an
            unauthenticated caller says (a refused login): such a call may
            note an error on a known user's row, never add one.
        ends: the ticket of a session this call ended: every other row
            that names it as current (another company file of the user,
            which authenticate went to before the company was known) no
            longer does.
    """

    user: str
    company_file: str | None
    values: Mapping[str, Any]
    create: bool = True
    ends: str | None = None


@dataclass(frozen=True, kw_only=True)
class CallEntry:
    """One call for a session's transcript.

    Attributes:
        ticket: the session's ticket (stored as a digest and a prefix only).
        user, company_file: the session's user and company file ("" if not yet known).
        operation, at, duration, arguments, answer, error_code, job_id: see
            :class:`TranscriptCall`; bodies are cut by the store.
        starts: this call opened the session (authenticate): a new transcript.
        outcome: this call ended the session, so; None: it goes on.
        number: the call's number in its session (authenticate is 1), as the
            session counts them; 0: not known, and the store counts the calls
            itself, with one more statement per call.
    """

    ticket: str
    user: str
    company_file: str
    operation: str
    at: float
    duration: float
    arguments: Mapping[str, Any] = field(default_factory=dict)
    answer: str = ""
    error_code: str | None = None
    job_id: int | None = None
    starts: bool = False
    outcome: str | None = None
    number: int = 0


@runtime_checkable
class StatusStore(Protocol):
    """Keeps connection status and session transcripts. Safe for several processes and threads.

    .. versionadded:: Unreleased
    """

    def record(self, *, update: StatusUpdate | None = None, entry: CallEntry | None = None) -> None:
        """Apply one call: its status change and its transcript call."""

    def end_session(
        self,
        ticket: str,
        *,
        at: float,
        outcome: str,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """A session ended unseen (expired, or its ticket is gone): clear it from its status.

        Its transcript is closed with ``outcome``; the status row that names
        it as current no longer does, and notes the error when one is given.
        """

    def statuses(self, *, user: str | None = None) -> list[ConnectionStatus]:
        """Every status row (or one user's), by user and company file; job counts 0."""

    def sessions(
        self, *, user: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[SessionTranscript]:
        """Transcripts, newest first, without their calls."""

    def session(self, ref: str | int) -> SessionTranscript | None:
        """One transcript with its calls, by its id or its session's ticket; None if unknown."""


class JobCounter(Protocol):
    """What reading a connection's status needs of a job queue (every queue has it)."""

    def counts_by_user(
        self, users: Iterable[str] | None = None, *, states: Iterable[JobState] | None = None
    ) -> dict[str, dict[JobState, int]]:
        """How many jobs each user has in each state, in one query."""


#: The job states a connection's status counts.
_COUNTED = (JobState.PENDING, JobState.RECONCILE, JobState.FAILED, JobState.UNKNOWN)


def session_open(status: ConnectionStatus, *, now: float, session_timeout: float) -> bool:
    """Whether ``status`` shows a session that is still open at ``now``.

    A status row keeps its ticket until the session closes; a Web Connector
    that vanished (the computer went off in a keep-alive window) never
    closes it. The server expires a session idle for ``session_timeout``, so
    a ticket whose last call is older than that is gone too. The status
    readers and the live client's offline check share this one rule.

    Args:
        status: a connection's status record.
        now: the time, in seconds since the epoch.
        session_timeout: the server's session timeout, in seconds.

    Returns:
        True when the row holds a ticket whose last call is within ``session_timeout``.
    """
    return (
        status.ticket is not None
        and status.last_seen is not None
        and now - status.last_seen <= session_timeout
    )


def _trouble(status: ConnectionStatus, now: float, stale_after: float) -> tuple[int, ...]:
    """Sort key: jobs needing a person, then an error since the last success, then silence."""
    success = status.last_success or 0.0
    erred = (status.last_error_at or 0.0) > success or (status.connection_error_at or 0.0) > success
    silent = status.last_seen is None or now - status.last_seen > stale_after
    return (
        -int(status.jobs_failed + status.jobs_unknown > 0),
        -int(erred),
        -int(silent),
    )


def connection_status(
    status_store: StatusSource,
    queue: JobCounter | None = None,
    user: str | None = None,
    *,
    now: float | None = None,
    session_timeout: float = 1800.0,
    stale_after: float = 86400.0,
) -> list[ConnectionStatus]:
    """Every connection's status (or one user's), with its job counts, trouble first.

    A user with jobs who has never connected is listed too (nothing seen).
    A session idle for longer than ``session_timeout`` is no longer shown as
    current: the Web Connector that held it went away without closing it.

    Args:
        status_store: where the recorder keeps the status.
        queue: the job queue to count jobs in (None: counts stay 0). A
            user's jobs are counted on each of its rows.
        user: one user only.
        now: the time (default: the clock).
        session_timeout: the server's session timeout, in seconds.
        stale_after: a connection not seen for this long is in trouble.

    Returns:
        Rows in trouble first: failed or unknown jobs; then an error or a
        connectionError since the last success; then not seen within
        ``stale_after``; then by user and company file.

    Raises:
        StorageError: the status store or the queue could not be read.
    """
    now = time.time() if now is None else now
    rows = status_store.statuses(user=user)
    counts: dict[str, dict[JobState, int]] = {}
    if queue is not None:
        counts = queue.counts_by_user(None if user is None else [user], states=_COUNTED)
    users = {row.user for row in rows}
    with_jobs = {name for name, of in counts.items() if any(of.values())}
    rows += [ConnectionStatus(user=name) for name in sorted(with_jobs - users)]
    filled = []
    for row in rows:
        of = counts.get(row.user, {})
        changes: dict[str, Any] = {
            "jobs_pending": of.get(JobState.PENDING, 0) + of.get(JobState.RECONCILE, 0),
            "jobs_failed": of.get(JobState.FAILED, 0),
            "jobs_unknown": of.get(JobState.UNKNOWN, 0),
        }
        if row.ticket is not None and not session_open(
            row, now=now, session_timeout=session_timeout
        ):
            changes["ticket"] = None
        filled.append(replace(row, **changes))
    return sorted(filled, key=lambda s: (*_trouble(s, now, stale_after), s.user, s.company_file))
