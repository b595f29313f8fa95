"""The queue's handler, job kinds and operator functions, by their former module.

They live in ``_handler`` (:class:`QueueHandler`), ``_kinds``
(:class:`JobKind`, :class:`JobContext`) and ``_operator`` (the operator's
functions); this module keeps the old import path working for the modules
that still use it.
"""

from __future__ import annotations

from ._handler import QueueHandler
from ._kinds import JobContext, JobKind
from ._operator import (
    cancel_job,
    in_flight_notes,
    recover_jobs,
    resolve_unknown,
    retry_job,
)

__all__ = [
    "JobContext",
    "JobKind",
    "QueueHandler",
    "cancel_job",
    "in_flight_notes",
    "recover_jobs",
    "resolve_unknown",
    "retry_job",
]
