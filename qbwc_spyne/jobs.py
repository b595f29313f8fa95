"""Jobs: the job model, job kinds, the handler that runs them, and what an operator does.

Application code registers :class:`JobKind` objects with a
:class:`QueueHandler` and enqueues with :meth:`QueueHandler.enqueue`. An
operator's actions are the functions here (:func:`retry_job`,
:func:`cancel_job`, :func:`resolve_unknown`, :func:`recover_jobs`): each
returns the job it changed and raises when the job cannot take the action.

A storage backend implements the queue's interfaces, split by who uses
them: :class:`SessionQueue` (a Web Connector session running jobs),
:class:`OperatorQueue` (operators, the dashboard, live requests, metrics)
and :class:`QueueNotifications` (wake-ups across processes);
:class:`JobQueue` is all three. The backends are in :mod:`qbwc_spyne.stores`.

.. versionadded:: Unreleased
"""

from __future__ import annotations

from .queue._handler import QueueHandler
from .queue._kinds import JobContext, JobKind
from .queue._operator import (
    cancel_job,
    in_flight_notes,
    recover_jobs,
    resolve_unknown,
    retry_job,
)
from .queue._ports import (
    Job,
    JobEvent,
    JobQueue,
    JobState,
    OperatorQueue,
    QueueNotifications,
    SessionQueue,
)

__all__ = [
    "Job",
    "JobContext",
    "JobEvent",
    "JobKind",
    "JobQueue",
    "JobState",
    "OperatorQueue",
    "QueueHandler",
    "QueueNotifications",
    "SessionQueue",
    "cancel_job",
    "in_flight_notes",
    "recover_jobs",
    "resolve_unknown",
    "retry_job",
]
