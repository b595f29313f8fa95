"""The queue's state in a session: one key of ``session.data``, read and written typed.

``QBWCHandler`` tells subclasses to keep their per-session state in
``session.data``; the queue keeps its own under :data:`STATE_KEY` alone, so
a subclass may use any other key (``"job"``, ``"version"``...) without
touching the queue's. :class:`QueueState` is a view of that one dict: each
attribute reads and writes it directly, so the session store saves
whatever the queue changed, even on a call that raised, with nothing to
remember to write back.

A session saved by a release that kept these values at the top of
``session.data`` (they were the queue's keys then) is read the old way
once: on a call after its first sendRequestXML with no :data:`STATE_KEY`
yet, the old keys move under it. A new session always has the key from its
first sendRequestXML on, so a subclass's own keys are never taken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from ..protocol._session import Session

__all__ = ["STATE_KEY", "QueueState"]

#: The key of ``session.data`` the queue's state lives under.
STATE_KEY = "qbwc_spyne.queue"

T = TypeVar("T")


class _Slot(Generic[T]):
    """One attribute of :class:`QueueState`, kept in its dict under the attribute's name.

    A value equal to the default is not stored (the session stays small);
    a mutable default is stored on first read, so changing it in place sticks.
    """

    def __init__(self, default: Callable[[], T], *, mutable: bool = False) -> None:
        self._default = default
        self._mutable = mutable
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Slot[T]: ...

    @overload
    def __get__(self, obj: QueueState, owner: type) -> T: ...

    def __get__(self, obj: QueueState | None, owner: type) -> _Slot[T] | T:
        if obj is None:
            return self
        if self._name in obj.data:
            value: T = obj.data[self._name]
            return value
        default = self._default()
        if self._mutable:
            obj.data[self._name] = default
        return default

    def __set__(self, obj: QueueState, value: T) -> None:
        if value == self._default():
            obj.data.pop(self._name, None)
        else:
            obj.data[self._name] = value


def _none() -> Any:
    return None


class QueueState:
    """The queue's state in one session, typed (see the module's docstring).

    Attributes:
        job: the id of the job in flight in this session, if any.
        version: the qbXML version the session writes.
        started_job, started_at: the job whose request (or first page)
            went out last, and when: a watermark is never later than that.
        sent: a request of this session went out.
        live: a live request of this session went out.
        units: jobs and pages done in this session, for the progress bar.
        pages_left: pages an iterator still has, for the progress bar.
        left: jobs waiting for this session's company file, as counted and
            then kept by the session's own claims and releases (None: not
            counted yet): the progress bar needs no count per call.
        outcomes: how many jobs left the session each way ("done",
            "failed", "pending"...), each job counted once, by its last way.
        returned: the jobs (ids, as text) that went back to waiting from
            this session, and how: if the session sends one again, its
            earlier count is taken back. Only these are kept by id, so the
            state stays small however many jobs a session runs.
        failures: the first failures, in words, for closeConnection.
        closing: the read-only request that ends the update went out.
        pause: getLastError is to answer "NoOp".
        idle_since: when the queue ran dry in a session kept open.

    .. versionadded:: Unreleased
    """

    job: _Slot[int | None] = _Slot(_none)
    version: _Slot[str | None] = _Slot(_none)
    started_job: _Slot[int | None] = _Slot(_none)
    started_at: _Slot[float | None] = _Slot(_none)
    sent: _Slot[bool] = _Slot(bool)
    live: _Slot[bool] = _Slot(bool)
    units: _Slot[int] = _Slot(int)
    pages_left: _Slot[int | None] = _Slot(_none)
    left: _Slot[int | None] = _Slot(_none)
    outcomes: _Slot[dict[str, int]] = _Slot(dict, mutable=True)
    returned: _Slot[dict[str, str]] = _Slot(dict, mutable=True)
    failures: _Slot[list[str]] = _Slot(list, mutable=True)
    closing: _Slot[bool] = _Slot(bool)
    pause: _Slot[bool] = _Slot(bool)
    idle_since: _Slot[float | None] = _Slot(_none)

    def __init__(self, session: Session) -> None:
        found = session.data.get(STATE_KEY)
        if not isinstance(found, dict):
            found = {}
            # Calls 1 and 2 are authenticate and the first sendRequestXML, which
            # always makes the key: without it later, the session is older.
            if session.calls > 2:
                found.update(_adopted(session.data))
            session.data[STATE_KEY] = found
        self.data: dict[str, Any] = found

    @property
    def finished(self) -> int:
        """How many jobs this session was finished with (each counted once)."""
        return sum(self.outcomes.values())

    def count(self, job_id: int, outcome: str, *, waiting: bool) -> None:
        """Count a job that left the session ``outcome``; ``waiting``: it went back to wait."""
        earlier = self.returned.pop(str(job_id), None)
        if earlier is not None and self.outcomes.get(earlier):
            self.outcomes[earlier] -= 1  # sent again: its last way is the one that counts
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if waiting:
            self.returned[str(job_id)] = outcome


#: The keys the queue kept at the top of ``session.data`` before, and their types.
_OLD_KEYS: dict[str, type | tuple[type, ...]] = {
    "job": int,
    "version": str,
    "sent": bool,
    "live": bool,
    "units": int,
    "pages_left": int,
    "closing": bool,
    "pause": bool,
    "idle_since": (int, float),
    "failures": list,
}


def _adopted(data: dict[str, Any]) -> dict[str, Any]:
    """The state a session of the older layout kept, moved under the one key."""
    state: dict[str, Any] = {}
    for name, kind in _OLD_KEYS.items():
        value = data.pop(name, None)
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            state[name] = value
    started = data.pop("started", None)
    if isinstance(started, dict):
        state["started_job"], state["started_at"] = started.get("job"), started.get("at")
    outcomes = data.pop("outcomes", None)
    if isinstance(outcomes, dict):
        state["outcomes"] = {k: v for k, v in outcomes.items() if isinstance(v, int)}
    data.pop("finished", None)
    return state
