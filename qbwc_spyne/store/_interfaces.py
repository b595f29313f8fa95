"""The storage interfaces: what the protocol and the queue may rely on.

:class:`SessionStore` keeps sessions between two Web Connector calls;
:class:`JobQueue` keeps jobs, and every change of a job's state is one of
its compare-and-set transitions. :class:`Job` and :class:`JobState` are what
a queue hands out. The backends (``_stores``, ``_queue``) implement these;
code outside this folder imports only this module.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ..protocol._session import Session

__all__ = [
    "FINISHED",
    "PROGRESS_FIELDS",
    "IfExists",
    "Job",
    "JobEvent",
    "JobQueue",
    "JobState",
    "SessionStore",
    "released_state",
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
        now: float = 0.0,
    ) -> Job:
        """Add a job and return it as stored; an existing (user, key) returns that job.

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
        its company file "" or ``company_file`` (compared without case).
        Highest priority first, then oldest.
        """

    def runnable(self, *, user: str) -> list[Job]:
        """The user's runnable jobs, in the order :meth:`claim` would take them."""

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
    ) -> bool:
        """in_flight -> done; the staged checkpoint becomes the checkpoint.

        ``response``, when given, is kept as the job's last answer.
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
        self, *, now: float, reconcilable: Collection[str] | None, message: str
    ) -> list[Job]:
        """Release every job whose lease ran out, of any user; return them as released.

        By :func:`released_state`: a query goes back to pending; a write to
        reconcile when its kind is in ``reconcilable`` (None: any kind), else
        to unknown; an unknown write's error message becomes ``message``.
        """

    def abandon_reconcile(self, job_id: int, *, now: float, message: str) -> bool:
        """reconcile -> unknown: its kind gives no reconcile query, the operator decides."""

    def cancel(self, job_id: int, *, now: float) -> bool:
        """pending, reconcile, blocked, unknown or failed -> cancelled; dependants blocked."""

    def retry(self, job_id: int, *, now: float) -> bool:
        """failed, unknown, blocked or cancelled -> pending; dependants unblocked.

        Refused for a job whose key was queued again, for a purged job, and
        while a job it depends on is failed, cancelled or blocked (the job
        would stay blocked: retry or replace that one first).
        """

    def resolve_unknown(self, job_id: int, *, happened: bool, now: float) -> bool:
        """unknown -> done (the write happened) or pending (it did not: send it)."""

    def purge(self, *, done_before: float) -> int:
        """Forget finished jobs last changed before ``done_before``; return how many.

        A job that an unfinished job depends on is kept. A keyed job is
        kept as a tombstone (``purged``) so its key still names its work.
        A purged job's history goes with it.
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
