"""Waking a live request's waiter in this process when its job lands.

The queue handler calls :func:`wake` with a job's id whenever a session is
done with the job; a live request waiting in the same process is then woken
at once instead of at its next poll. Waiters in other processes learn of it
from the database (PostgreSQL's NOTIFY, or by polling SQLite): a wake is
only a hint to look again, so one that comes for another queue's job of
the same id costs one read and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["LIVE_KIND", "waiting", "wake"]

#: The kind of the jobs that carry live requests; :class:`QueueHandler` registers it.
LIVE_KIND = "qbwc.live"

_lock = threading.Lock()
_events: dict[int, list[threading.Event]] = {}


def wake(job_id: int) -> None:
    """Wake every waiter of this process on ``job_id`` (none waiting: nothing happens)."""
    with _lock:
        events = list(_events.get(job_id, ()))
    for event in events:
        event.set()


@contextmanager
def waiting(job_id: int, event: threading.Event | None = None) -> Iterator[threading.Event]:
    """An event :func:`wake` sets for ``job_id``, for as long as the block runs.

    Args:
        job_id: the job waited on.
        event: the event to set (a new one when None), for a waiter that
            others may wake too.
    """
    event = threading.Event() if event is None else event
    with _lock:
        _events.setdefault(job_id, []).append(event)
    try:
        yield event
    finally:
        with _lock:
            events = _events[job_id]
            events.remove(event)
            if not events:
                del _events[job_id]
