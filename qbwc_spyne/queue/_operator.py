"""The operator's actions on jobs: one door each, raising with the reason for a refusal.

:func:`retry_job`, :func:`cancel_job`, :func:`resolve_unknown` and
:func:`recover_jobs` are what an operator (the command line, the
dashboard, application code) calls. Each uses the queue's storage port
(:class:`~qbwc_spyne.queue._ports.OperatorQueue`), whose compare-and-sets
only say whether they applied: these functions read why not and raise it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ..exceptions import JobStateError, KeyConflictError
from ._ports import Job, JobState, OperatorQueue

__all__ = [
    "RELEASE_NOW",
    "cancel_job",
    "in_flight_notes",
    "recover_jobs",
    "resolve_unknown",
    "retry_job",
]


def _now(now: float | None) -> float:
    return time.time() if now is None else now


#: States a job may be retried from, and the states of a dependency that keep it blocked.
_RETRIABLE = (JobState.FAILED, JobState.UNKNOWN, JobState.BLOCKED, JobState.CANCELLED)
_BLOCKING = (JobState.FAILED, JobState.CANCELLED, JobState.BLOCKED)


def _refusal(queue: OperatorQueue, job_id: int, action: str, allowed: str) -> Exception:
    """Why the queue refused ``action`` on a job, as the error to raise."""
    job = queue.get(job_id)
    if job is None:
        return JobStateError(f"no job {job_id}", job_id=job_id)
    if job.replaced_by is not None and action == "retried":
        return KeyConflictError(
            f"job {job_id}'s key {job.key!r} was queued again as job {job.replaced_by}:"
            f" retry that one, or queue this work under a new key",
            existing_id=job.replaced_by,
        )
    if action == "retried" and job.purged:
        return JobStateError(
            f"job {job_id} was purged (its payload is gone): queue its key {job.key!r}"
            ' again with if_exists="replace"',
            job_id=job_id,
            state=job.state.value,
        )
    if action == "retried" and job.state in _RETRIABLE:
        for dep in job.depends_on:
            found = queue.get(dep)
            if found is not None and found.state in _BLOCKING:
                return JobStateError(
                    f"job {job_id} would stay blocked: job {dep} it depends on is"
                    f" {found.state.value}; retry or replace job {dep} first",
                    job_id=job_id,
                    state=job.state.value,
                )
    return JobStateError(
        f"job {job_id} is {job.state.value}: only {allowed} jobs are {action}",
        job_id=job_id,
        state=job.state.value,
    )


def _changed(queue: OperatorQueue, job_id: int) -> Job:
    job = queue.get(job_id)
    if job is None:  # deleted between the change and the read: purge raced us
        raise JobStateError(f"no job {job_id}", job_id=job_id)
    return job


def retry_job(queue: OperatorQueue, job_id: int, *, now: float | None = None) -> Job:
    """Send a failed, unknown, blocked or cancelled job again; unblock its dependants.

    For an ``unknown`` write this is the operator's say that it did not
    happen (:func:`resolve_unknown` says so explicitly). Dependants are
    unblocked only where no other failed or cancelled dependency still
    blocks them. A job that one of its own dependencies still blocks is
    not retried: the error names that dependency, to retry or replace first.

    Args:
        queue: the queue.
        job_id: the job.
        now: the time (default: the clock).

    Returns:
        The job as it is now.

    Raises:
        JobStateError: no such job; it is pending, in flight or done; it
            was purged; or a job it depends on is failed, cancelled or blocked.
        KeyConflictError: its key was queued again as another job since.
    """
    if not queue.retry(job_id, now=_now(now)):
        raise _refusal(queue, job_id, "retried", "failed, unknown, blocked or cancelled")
    return _changed(queue, job_id)


def cancel_job(queue: OperatorQueue, job_id: int, *, now: float | None = None) -> Job:
    """Cancel a job that is not in flight or done; block its dependants.

    Args:
        queue: the queue.
        job_id: the job.
        now: the time (default: the clock).

    Returns:
        The job as it is now.

    Raises:
        JobStateError: no such job, or it is in flight, done or already cancelled.
    """
    if not queue.cancel(job_id, now=_now(now)):
        raise _refusal(queue, job_id, "cancelled", "pending, reconcile, blocked, unknown or failed")
    return _changed(queue, job_id)


def resolve_unknown(
    queue: OperatorQueue, job_id: int, *, happened: bool, now: float | None = None
) -> Job:
    """Settle a write whose outcome is unknown, on the operator's word.

    Args:
        queue: the queue.
        job_id: a job in the ``unknown`` state.
        happened: True: it happened in QuickBooks (the job is done, its
            dependants may run); False: it did not (it is sent again).
        now: the time (default: the clock).

    Returns:
        The job as it is now.

    Raises:
        JobStateError: no such job, or it is not unknown.
    """
    if not queue.resolve_unknown(job_id, happened=happened, now=_now(now)):
        raise _refusal(queue, job_id, "resolved", "unknown")
    return _changed(queue, job_id)


def recover_jobs(
    queue: OperatorQueue, *, now: float | None = None, force: bool = False
) -> list[Job]:
    """Release every job in flight whose lease ran out, of every user; return them.

    For an operator or a periodic task: sessions do it too, at each login.
    A query goes back to pending; a write to ``reconcile``, and the next
    session of its user sends the kind's reconcile query, or marks it
    ``unknown`` if the kind has none.

    Args:
        queue: the queue.
        now: the time (default: the clock).
        force: release every job in flight now, its lease run out or not:
            after a crash mid-sync, its session is gone and waiting for the
            lease only delays the next update. A session that is in fact
            alive finds its answer refused, as after a lease ran out, and a
            write goes to ``reconcile`` (or ``unknown``): nothing is sent twice.

    Returns:
        The released jobs, as they are now.

    .. versionchanged:: Unreleased
       ``force`` added.
    """
    return queue.release_expired(
        now=_now(now),
        reconcilable=None,
        message="Outcome unknown: its session ended before the answer came.",
        force=force,
    )


#: How an operator releases a job in flight at once, as the notes below say it.
RELEASE_NOW = "`qbwc-spyne jobs recover --force` (recover_jobs(queue, force=True)) releases it now"


def in_flight_notes(
    queue: OperatorQueue, *, user: str | None = None, hint: str = RELEASE_NOW
) -> list[str]:
    """Each job in flight, in words: whose, until when, and how to release it now.

    What an operator needs when there is "no work" or a recovery released
    nothing: a job whose session died stays in flight until its lease runs
    out, and no session sends it before then.

    Args:
        queue: the queue.
        user: one user's jobs only (None: every user's).
        hint: the words that end each line: how to release the job now.

    Returns:
        One line per job in flight (one per open session at most), e.g.
        ``job 7 (add_invoice) of 'shop' is in flight until 2026-12-06
        08:05:00 UTC; `qbwc-spyne jobs recover --force` (...) releases it now``.

    Raises:
        StorageError: the queue could not be read.

    .. versionadded:: Unreleased
    """
    notes = []
    for job in queue.jobs(user=user, states=[JobState.IN_FLIGHT]):
        until = "its lease ends"
        if job.lease_until is not None:
            until = datetime.fromtimestamp(job.lease_until, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        notes.append(
            f"job {job.id} ({job.kind}) of {job.user!r} is in flight until {until}; {hint}"
        )
    return notes
