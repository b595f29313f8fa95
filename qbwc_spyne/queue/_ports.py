"""The job model and the queue's ports: what the queue layer asks of storage.

:class:`Job`, :class:`JobState` and :class:`JobEvent` are what a queue
hands out. The ports are split by audience: :class:`SessionQueue` (what a
session running jobs uses), :class:`OperatorQueue` (what an operator, the
dashboard and a live request use) and :class:`QueueNotifications` (a queue
that can tell of jobs landing); :class:`JobQueue` is all three, and what a
backend implements (the SQL and memory queues in ``store`` do).

This module imports nothing of the package: storage and the queue's
handler both build on it.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "FINISHED",
    "PROGRESS_FIELDS",
    "IfExists",
    "Job",
    "JobEvent",
    "JobQueue",
    "JobState",
    "Notifications",
    "OperatorQueue",
    "QueueNotifications",
    "SessionQueue",
    "fold_company_file",
    "released_state",
]


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

#: Fields :meth:`SessionQueue.progress` may change on a job in flight.
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


class _Shared(Protocol):
    """What a session and an operator both use of a queue: reading jobs, releasing leases."""

    def get(self, job_id: int) -> Job | None:
        """The job with this id, or None."""

    def jobs(self, *, user: str | None = None, states: Iterable[JobState] = ()) -> list[Job]:
        """Jobs in id order, optionally of one user and in some states."""

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

        Sessions call it at login; an operator calls
        :func:`~qbwc_spyne.jobs.recover_jobs`.
        """


@runtime_checkable
class SessionQueue(_Shared, Protocol):
    """What a session of :class:`~qbwc_spyne.QueueHandler` uses of a queue: its job's life.

    Every method that changes a job's state is a compare-and-set: it
    applies only if the job is in the state it expects (and, for a job in
    flight, owned by the ticket given), and returns whether it did.
    Implementations must be safe for several processes and threads.

    .. versionadded:: Unreleased
    """

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

    def first_runnable(self, *, user: str, now: float) -> tuple[Job | None, bool]:
        """The user's first runnable job, and whether any job's lease has run out.

        One read for a login: the job :meth:`runnable` with ``limit=1``
        gives, and whether :meth:`release_expired` has anything to release
        (a job of any user in flight past its lease at ``now``).
        """

    def waiting(self, *, user: str, company_file: str) -> int:
        """How many of the user's jobs wait (pending or to reconcile) for ``company_file``.

        Jobs for any file ("") count too; a job waiting on a dependency counts.
        """

    def resume(self, job_id: int, *, ticket: str, now: float, lease: float) -> Job | None:
        """The job in flight in ``ticket``, its lease renewed to ``now + lease``.

        None when it is not in flight in ``ticket`` (it landed, or its
        lease ran out and it was released).
        """

    def progress(self, job_id: int, *, ticket: str, now: float, **changes: Any) -> bool:
        """Update fields of a job in flight in ``ticket`` (see ``PROGRESS_FIELDS``)."""

    def progress_counting(
        self,
        job_id: int,
        *,
        ticket: str,
        now: float,
        user: str,
        company_file: str,
        **changes: Any,
    ) -> int | None:
        """:meth:`progress`, then :meth:`waiting` for ``user`` and ``company_file``.

        Returns the count, or None when the job was not in flight in
        ``ticket`` (nothing changed). A SQL queue does both in one statement.
        """

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

    def complete_counting(
        self, job_id: int, *, user: str, company_file: str, **options: Any
    ) -> int | None:
        """:meth:`complete` (``options`` are its keywords), then :meth:`waiting`.

        Returns how many of the user's jobs wait for ``company_file`` once
        the job is done, or None when it was not in flight in ``ticket``.
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

    def abandon_reconcile(self, job_id: int, *, now: float, message: str) -> bool:
        """reconcile -> unknown: its kind gives no reconcile query, the operator decides."""


@runtime_checkable
class OperatorQueue(_Shared, Protocol):
    """What an operator, a dashboard or a live request uses of a queue.

    The state changes here (:meth:`cancel`, :meth:`retry`,
    :meth:`resolve_unknown`, :meth:`withdraw`) are the storage port:
    compare-and-sets that say whether they applied. The operator's door,
    which raises with the reason for a refusal, is the functions
    :func:`~qbwc_spyne.jobs.retry_job`,
    :func:`~qbwc_spyne.jobs.cancel_job`,
    :func:`~qbwc_spyne.jobs.resolve_unknown` and
    :func:`~qbwc_spyne.jobs.recover_jobs`.

    .. versionadded:: Unreleased
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

        The storage port: it does not check that a kind of that name is
        registered. Application code enqueues through
        :meth:`~qbwc_spyne.QueueHandler.enqueue`, which does.

        ``now`` is the time it is created (None: the wall clock).

        ``if_exists="replace"`` queues a finished job's key again; the
        unfinished jobs that depended on the old job depend on the new one,
        and those the old one's failure blocked are unblocked.
        """

    def jobs_page(
        self,
        *,
        user: str | None = None,
        states: Iterable[JobState] = (),
        kind: str | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Job], int]:
        """One page of jobs, newest first, and how many jobs match: an operator's list.

        ``search`` keeps the jobs whose key or payload holds the text
        (ASCII letters in either case). An offset past the last match gives
        an empty page.
        """

    def cancel(self, job_id: int, *, now: float) -> bool:
        """pending, reconcile, blocked, unknown or failed -> cancelled; dependants blocked.

        The storage port, a compare-and-set that says whether it applied.
        An operator calls :func:`~qbwc_spyne.jobs.cancel_job`,
        which raises with the reason when it is refused.
        """

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

        The storage port, a compare-and-set that says whether it applied.
        An operator calls :func:`~qbwc_spyne.jobs.retry_job`,
        which raises with the reason when it is refused.
        """

    def resolve_unknown(self, job_id: int, *, happened: bool, now: float) -> bool:
        """unknown -> done (the write happened) or pending (it did not: send it).

        The storage port, a compare-and-set that says whether it applied.
        An operator calls :func:`~qbwc_spyne.jobs.resolve_unknown`,
        which raises with the reason when it is refused.
        """

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


@runtime_checkable
class Notifications(Protocol):
    """A listener for jobs that land (done or failed), from any process.

    .. versionadded:: Unreleased
    """

    def wait(self, timeout: float) -> list[int]:
        """The ids of jobs that landed, as soon as one does or after ``timeout`` seconds."""

    def close(self) -> None:
        """Stop listening."""


@runtime_checkable
class QueueNotifications(Protocol):
    """A queue that can tell a waiting process of jobs landing (PostgreSQL can).

    .. versionadded:: Unreleased
    """

    @property
    def listens(self) -> bool:
        """Whether :meth:`notifications` can tell of jobs landing."""

    def notifications(self) -> Notifications:
        """A listener that hears each job done or failed, from any process.

        Raises:
            StorageError: the queue cannot notify (check :attr:`listens`
                first), or its database could not be reached.
        """


@runtime_checkable
class JobQueue(SessionQueue, OperatorQueue, QueueNotifications, Protocol):
    """Keeps jobs: what every audience uses. Implementations must be thread-safe.

    Safe for several processes too: a queue is shared by every process
    that serves the Web Connector and by the operator's tools.

    Every method that changes a job's state is a compare-and-set: it
    applies only if the job is in the state it expects (and, for a job in
    flight, owned by the ticket given), and returns whether it did.

    .. versionchanged:: Unreleased
       The union of :class:`SessionQueue`, :class:`OperatorQueue` and
       :class:`QueueNotifications`; ``first_runnable``, ``resume``,
       ``progress_counting``, ``complete_counting``, ``jobs_page``,
       ``listens`` and ``notifications`` are part of it.
    """
