"""The storage interfaces: what the protocol may rely on, and connection status.

:class:`SessionStore` keeps sessions between two Web Connector calls. The
job model and the queue's ports live in ``qbwc_spyne.queue._ports``; their
names are still served here for the modules that import them from here.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from ..protocol._session import Session

__all__ = [
    "ConnectionStatus",
    "SessionStore",
    "StatusSource",
    "connection_status",
    "session_open",
]

#: The queue's names, served from ``queue._ports`` for the modules that still
#: import them from here. Looked up by name, not imported: the protocol layer
#: imports this module for ``SessionStore`` and must reach no queue module.
_QUEUE_NAMES = frozenset(
    {
        "FINISHED",
        "PROGRESS_FIELDS",
        "IfExists",
        "Job",
        "JobEvent",
        "JobQueue",
        "JobState",
        "fold_company_file",
        "released_state",
    }
)
_PORTS = "qbwc_spyne.queue._ports"


def __getattr__(name: str) -> Any:
    if name in _QUEUE_NAMES:
        return getattr(importlib.import_module(_PORTS), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


class _Counting(Protocol):
    """What reading a connection's status needs of a job queue (any ``JobQueue`` has it)."""

    def counts_by_user(
        self, users: Iterable[str] | None = None, *, states: Iterable[Any] | None = None
    ) -> Mapping[str, Mapping[Any, int]]:
        """How many jobs each user has in each state."""


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
    queue: _Counting | None = None,
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
    state = importlib.import_module(_PORTS).JobState
    # The job states a connection's status counts.
    counted = (state.PENDING, state.RECONCILE, state.FAILED, state.UNKNOWN)
    now = time.time() if now is None else now
    rows = status_store.statuses(user=user)
    counts: Mapping[str, Mapping[Any, int]] = {}
    if queue is not None:
        counts = queue.counts_by_user(None if user is None else [user], states=counted)
    users = {row.user for row in rows}
    with_jobs = {name for name, of in counts.items() if any(of.values())}
    rows += [ConnectionStatus(user=name) for name in sorted(with_jobs - users)]
    filled = []
    for row in rows:
        of = counts.get(row.user, {})
        changes: dict[str, Any] = {
            "jobs_pending": of.get(state.PENDING, 0) + of.get(state.RECONCILE, 0),
            "jobs_failed": of.get(state.FAILED, 0),
            "jobs_unknown": of.get(state.UNKNOWN, 0),
        }
        if row.ticket is not None and not session_open(
            row, now=now, session_timeout=session_timeout
        ):
            changes["ticket"] = None
        filled.append(replace(row, **changes))
    return sorted(filled, key=lambda s: (*_trouble(s, now, stale_after), s.user, s.company_file))
