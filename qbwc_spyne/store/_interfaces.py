"""The storage interfaces: what the protocol and the queue may rely on.

:class:`SessionStore` keeps sessions between two Web Connector calls;
:class:`JobQueue` keeps jobs, and every change of a job's state is one of
its compare-and-set transitions. :class:`Job` and :class:`JobState` are what
a queue hands out. The backends (``_stores``, ``_queue``) implement these;
code outside this folder imports only this module.
"""

from __future__ import annotations

import enum
import time
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from ..protocol._session import Session

__all__ = [
    "FINISHED",
    "PROGRESS_FIELDS",
    "ConnectionStatus",
    "IfExists",
    "Job",
    "JobEvent",
    "JobQueue",
    "JobState",
    "SessionStore",
    "StatusSource",
    "connection_status",
    "fold_company_file",
    "released_state",
    "session_open",
]


@runtime_checkable
class SessionStore(Protocol):
    """Saves and loads sessions by ticket. Implementations must be thread-safe."""

    def get(self, ticket: str) -> Session | None:
        """Return a copy of the session with this ticket, or None."""

    def put(self, session: Session) -> None:
        """Save the session, replacing any saved under the same ticket."""

    def delete(self, ticket: str) -> None:
        """Forget the session; a missing ticket is not an error."""

    def purge(self, idle_before: float) -> int:
        """Delete sessions last seen before ``idle_before``; return how many."""


class JobState(enum.Enum):
    """Where a job stands."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    #: Its write's outcome is unknown; the kind's reconcile query will tell.
    RECONCILE = "reconcile"
    DONE = "done"
    FAILED = "failed"
    #: A job it depends on failed or was cancelled.
    BLOCKED = "blocked"
    #: Its write's outcome is unknown and its kind cannot reconcile: the operator decides.
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


#: States a job never leaves by itself: its work is over.
FINISHED = (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(kw_only=True)
class Job:
    """A job and its progress.

    Attributes:
        id: the queue's id; also the qbXML requestID of its requests.
        user: the Web Connector user whose sessions run it.
        kind: the registered kind that builds its request and handles its response.
        payload: the kind's input, JSON values.
        company_file: the company file it must run against; "" for any.
        priority: higher runs first; equal priorities run in id order.
        depends_on: ids of jobs that must be done before this one is sent.
        key: an application key (e.g. an order number) naming the work; unique per user.
        replaced_by: the job its key was queued again as (``if_exists="replace"``).
        state: see :class:`JobState`.
        attempts: how many times it was sent.
        ticket: the session it is in flight in.
        lease_until: when an in-flight job is given up on.
        reconciling: whether the request in flight is the reconcile query.
        request: the last request document sent (an iterator's criteria);
            cleared when the job is done unless the queue is asked to keep it.
        writes: whether that request changes QuickBooks.
        iterator_id: the iterator being continued.
        pages: pages of an iterated query handled so far.
        checkpoint: JSON recorded by the last iteration that completed; an
            interrupted query restarts from it.
        staged_checkpoint: JSON recorded during the iteration in progress;
            it becomes ``checkpoint`` only when that iteration completes.
        error_code, error_message: why it failed (statusCode or hresult).
        warning: the last warning QuickBooks gave for it.
        created, updated: times, in seconds since the epoch.
        purged: the job was purged and its row kept only for its key: its
            payload, request, checkpoint and error text are gone.
        response: the last answer document QuickBooks gave for it, saved when
            it was done or failed; possibly truncated (it then ends with a
            comment saying so).

    .. versionchanged:: Unreleased
       ``purged`` and ``response`` added.
    """

    id: int
    user: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    company_file: str = ""
    priority: int = 0
    depends_on: list[int] = field(default_factory=list)
    key: str | None = None
    replaced_by: int | None = None
    state: JobState = JobState.PENDING
    attempts: int = 0
    ticket: str | None = None
    lease_until: float | None = None
    reconciling: bool = False
    request: str | None = None
    writes: bool = False
    iterator_id: str | None = None
    pages: int = 0
    checkpoint: Any = None
    staged_checkpoint: Any = None
    error_code: str | None = None
    error_message: str | None = None
    warning: str | None = None
    created: float = 0.0
    updated: float = 0.0
    purged: bool = False
    response: str | None = None


@dataclass(frozen=True, kw_only=True)
class JobEvent:
    """One change of a job's state, as its history keeps it.

    Attributes:
        job_id: the job.
        at: when, in seconds since the epoch (the queue's clock).
        from_state: the state it left; None when the job was created (or,
            for a job older than the history, when the history starts).
        to_state: the state it entered.
        message: what the change says: the session it was sent in (the
            ticket's first 8 characters), the error or warning, or None.

    .. versionadded:: Unreleased
    """

    job_id: int
    at: float
    from_state: JobState | None
    to_state: JobState
    message: str | None = None


def released_state(job: Job, reconcilable: Collection[str] | None) -> JobState:
    """Where a job in flight goes when its session lets go of it without its answer.

    The one rule, whether the session closed, QuickBooks was lost or the
    lease ran out. Whether the kind's reconcile query can be made for this
    job is asked later, when it is about to be sent: a kind that gives none
    then moves the job to ``unknown``.

    Args:
        job: the job in flight.
        reconcilable: the kinds that define a reconcile query; None: any kind.

    Returns:
        ``reconcile`` for a reconcile query (nothing changed: ask again);
        ``pending`` for a query (ask again, from its checkpoint); for a write,
        whose outcome is unknown, ``reconcile`` when its kind is reconcilable,
        else ``unknown`` (the operator decides).
    """
    if job.reconciling:
        return JobState.RECONCILE
    if not job.writes:
        return JobState.PENDING
    if reconcilable is None or job.kind in reconcilable:
        return JobState.RECONCILE
    return JobState.UNKNOWN


def fold_company_file(name: str) -> str:
    """The form in which two company file names are the same file: the one rule.

    Windows compares paths without case, in every script: ``C:\\QB\\ÉTÉ.QBW``
    and ``c:\\qb\\été.qbw`` are one file. The queue stores this form beside
    each job's name (folded once, in Python) and its claims compare it in
    SQL, so SQL and Python never disagree (SQLite's ``lower()`` folds ASCII
    only). Composed and decomposed accents are one form too.

    Args:
        name: a company file path as the Web Connector or the application gives it.

    Returns:
        ``name`` normalized (NFC) and case-folded; "" stays "" (any file).

    .. versionadded:: Unreleased
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


IfExists = Literal["return", "replace"]

#: Fields :meth:`JobQueue.progress` may change on a job in flight.
PROGRESS_FIELDS = frozenset(
    {
        "iterator_id",
        "pages",
        "lease_until",
        "attempts",
        "request",
        "writes",
        "staged_checkpoint",
        "warning",
    }
)


@runtime_checkable
class JobQueue(Protocol):
    """Keeps jobs. Implementations must be safe for several processes and threads.

    Every method that changes a job's state is a compare-and-set: it
    applies only if the job is in the state it expects (and, for a job in
    flight, owned by the ticket given), and returns whether it did.
    """

    def enqueue(
        self,
        *,
        user: str,
        kind: str,
        payload: dict[str, Any] | None = None,
        company_file: str = "",
        priority: int = 0,
        depends_on: Iterable[int] = (),
        key: str | None = None,
        if_exists: IfExists = "return",
        now: float | None = None,
    ) -> Job:
        """Add a job and return it as stored; an existing (user, key) returns that job.

        ``now`` is the time it is created (None: the wall clock).

        ``if_exists="replace"`` queues a finished job's key again; the
        unfinished jobs that depended on the old job depend on the new one,
        and those the old one's failure blocked are unblocked.
        """

    def get(self, job_id: int) -> Job | None:
        """The job with this id, or None."""

    def jobs(self, *, user: str | None = None, states: Iterable[JobState] = ()) -> list[Job]:
        """Jobs in id order, optionally of one user and in some states."""

    def claim(
        self, *, user: str, company_file: str, ticket: str, now: float, lease: float
    ) -> Job | None:
        """Take the next runnable job of ``user`` for ``company_file``: in flight in ``ticket``.

        Runnable: pending or to reconcile, every job it depends on done,
        its company file "" or ``company_file`` (the same file by
        :func:`fold_company_file`). Highest priority first, then oldest.
        """

    def runnable(
        self, *, user: str, company_file: str | None = None, limit: int | None = None
    ) -> list[Job]:
        """The user's runnable jobs, in the order :meth:`claim` would take them.

        ``company_file``: only those a claim for that file would take (None:
        any file); ``limit``: at most that many (None: all). Asking for one
        reads one row, however many jobs wait.
        """

    def waiting(self, *, user: str, company_file: str) -> int:
        """How many of the user's jobs wait (pending or to reconcile) for ``company_file``.

        Jobs for any file ("") count too; a job waiting on a dependency counts.
        """

    def progress(self, job_id: int, *, ticket: str, now: float, **changes: Any) -> bool:
        """Update fields of a job in flight in ``ticket`` (see ``PROGRESS_FIELDS``)."""

    def complete(
        self,
        job_id: int,
        *,
        ticket: str,
        now: float,
        warning: str | None = None,
        keep_request: bool = False,
        response: str | None = None,
        pages: int | None = None,
        staged_checkpoint: Any = None,
    ) -> bool:
        """in_flight -> done; the staged checkpoint becomes the checkpoint.

        ``response``, when given, is kept as the job's last answer;
        ``pages`` and ``staged_checkpoint``, when given (not None), are
        recorded first, in the same statement.
        """

    def fail(
        self,
        job_id: int,
        *,
        ticket: str,
        now: float,
        code: str,
        message: str,
        response: str | None = None,
    ) -> bool:
        """in_flight -> failed; the jobs that depend on it are blocked.

        ``response``, when given, is kept as the job's last answer.
        """

    def release(
        self,
        job_id: int,
        *,
        ticket: str,
        now: float,
        to: JobState,
        code: str | None = None,
        message: str | None = None,
    ) -> bool:
        """in_flight -> pending, reconcile or unknown: the session lets go of it."""

    def release_expired(
        self,
        *,
        now: float,
        reconcilable: Collection[str] | None,
        message: str,
        force: bool = False,
    ) -> list[Job]:
        """Release every job whose lease ran out, of any user; return them as released.

        By :func:`released_state`: a query goes back to pending; a write to
        reconcile when its kind is in ``reconcilable`` (None: any kind), else
        to unknown; an unknown write's error message becomes ``message``.
        ``force`` releases every job in flight, its lease run out or not.
        """

    def abandon_reconcile(self, job_id: int, *, now: float, message: str) -> bool:
        """reconcile -> unknown: its kind gives no reconcile query, the operator decides."""

    def cancel(self, job_id: int, *, now: float) -> bool:
        """pending, reconcile, blocked, unknown or failed -> cancelled; dependants blocked."""

    def withdraw(self, job_id: int, *, now: float) -> Job | None:
        """pending or reconcile -> cancelled; dependants blocked; the job as it is now, or None.

        For a request whose caller stopped waiting: unlike :meth:`cancel` it
        never takes a failed or done job, whose answer must not be lost.
        The row it returns is read by the same statement that changed it.
        """

    def retry(self, job_id: int, *, now: float) -> bool:
        """failed, unknown, blocked or cancelled -> pending; dependants unblocked.

        Refused for a job whose key was queued again, for a purged job, and
        while a job it depends on is failed, cancelled or blocked (the job
        would stay blocked: retry or replace that one first).
        """

    def resolve_unknown(self, job_id: int, *, happened: bool, now: float) -> bool:
        """unknown -> done (the write happened) or pending (it did not: send it)."""

    def purge(self, *, done_before: float, batch: int = 500) -> int:
        """Forget finished jobs last changed before ``done_before``; return how many.

        A job that an unfinished job depends on is kept. A keyed job is
        kept as a tombstone (``purged``) so its key still names its work.
        A purged job's history goes with it. Each ``batch`` jobs are one
        transaction: other writers wait for one batch at most.
        """

    def counts(self, *, user: str | None = None) -> dict[JobState, int]:
        """How many jobs are in each state (every state present, 0 for none).

        Replaced jobs (their key was queued again) are not counted: the new
        job stands for their work.

        Args:
            user: count this user's jobs only; None: every user's.
        """

    def counts_by_user(
        self, users: Iterable[str] | None = None, *, states: Iterable[JobState] | None = None
    ) -> dict[str, dict[JobState, int]]:
        """:meth:`counts` for many users at once, in one query.

        Args:
            users: the users wanted; None: every user with a job.
            states: the states counted (None: all); the others are 0.

        Returns:
            For each user (each one asked for, even with no jobs), the counts by state.
        """

    def history(self, job_id: int) -> list[JobEvent]:
        """The job's changes of state, oldest first: one per transition.

        Empty for a job that does not exist (or was purged).
        """


# -- connection status ----------------------------------------------------------------


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
    queue: JobQueue | None = None,
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
