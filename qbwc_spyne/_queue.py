"""Jobs waiting for the Web Connector, and where they are kept.

A job is one unit of work for one Web Connector user (and optionally one
company file): a registered *kind* that builds the qbXML request when it is
sent and handles the response, a JSON payload, a priority, and the jobs it
depends on. Jobs outlive the process: they name their kind, they do not
pickle functions.

States::

    pending ──claim──> in_flight ──response──> done
       ^                  │  │                 failed ──> its dependants: blocked
       │                  │  └─ lease expires / session ends:
       └── a query ───────┘       a query goes back to pending,
                                  a write goes to reconcile (if its kind can)
                                  or unknown (the operator decides)
    reconcile ──claim──> in_flight (sends the kind's reconcile query)

Claiming is row by row in one transaction, so two workers never take the
same job, and no state is held in the process.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._sqlite import SQLiteBacked

__all__ = ["Job", "JobQueue", "JobState", "MemoryJobQueue", "SQLiteJobQueue"]


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
        key: an application key (e.g. an order number), unique among a user's unfinished jobs.
        state: see :class:`JobState`.
        attempts: how many times it was sent.
        ticket: the session it is in flight in.
        lease_until: when an in-flight job is given up on.
        reconciling: whether the request in flight is the reconcile query.
        request: the last request document sent (an iterator's criteria).
        writes: whether that request changes QuickBooks.
        iterator_id: the iterator being continued.
        pages: pages of an iterated query handled so far.
        checkpoint: JSON the kind recorded to restart an interrupted query from.
        error_code, error_message: why it failed (statusCode or hresult).
        warning: the last warning QuickBooks gave for it.
        created, updated: times, in seconds since the epoch.
    """

    id: int
    user: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    company_file: str = ""
    priority: int = 0
    depends_on: list[int] = field(default_factory=list)
    key: str | None = None
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
    error_code: str | None = None
    error_message: str | None = None
    warning: str | None = None
    created: float = 0.0
    updated: float = 0.0


@runtime_checkable
class JobQueue(Protocol):
    """Keeps jobs. Implementations must be safe for several processes and threads."""

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
        now: float = 0.0,
    ) -> Job:
        """Add a job; if the user has an unfinished job with this ``key``, return that one."""

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

    def save(self, job: Job) -> None:
        """Store the job's fields."""


_COLUMNS = (
    "user", "kind", "payload", "company_file", "priority", "depends_on", "key", "state",
    "attempts", "ticket", "lease_until", "reconciling", "request", "writes", "iterator_id",
    "pages", "checkpoint", "error_code", "error_message", "warning", "created", "updated",
)  # fmt: skip
_JSON = ("payload", "depends_on", "checkpoint")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS qbwc_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    company_file TEXT NOT NULL,
    priority INTEGER NOT NULL,
    depends_on TEXT NOT NULL,
    key TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    ticket TEXT,
    lease_until REAL,
    reconciling INTEGER NOT NULL,
    request TEXT,
    writes INTEGER NOT NULL,
    iterator_id TEXT,
    pages INTEGER NOT NULL,
    checkpoint TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    warning TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS qbwc_jobs_runnable ON qbwc_jobs (user, state, priority DESC, id);
CREATE UNIQUE INDEX IF NOT EXISTS qbwc_jobs_key ON qbwc_jobs (user, key)
    WHERE key IS NOT NULL AND state NOT IN ('done', 'failed', 'cancelled');
"""

# The next runnable job: every dependency done. json_each reads the id list.
_RUNNABLE = """
SELECT * FROM qbwc_jobs AS j
WHERE j.user = ? AND j.state IN ('pending', 'reconcile')
  AND NOT EXISTS (
    SELECT 1 FROM json_each(j.depends_on) AS d
    LEFT JOIN qbwc_jobs AS p ON p.id = d.value
    WHERE p.id IS NULL OR p.state != 'done')
"""


def _row_to_job(row: sqlite3.Row) -> Job:
    values = dict(row)
    for name in _JSON:
        values[name] = json.loads(values[name])
    values["state"] = JobState(values["state"])
    values["reconciling"] = bool(values["reconciling"])
    values["writes"] = bool(values["writes"])
    return Job(**values)


class SQLiteJobQueue(SQLiteBacked):
    """Jobs in a SQLite file, shared by the processes of one machine.

    A claim is one ``BEGIN IMMEDIATE`` transaction, so two workers never
    take one job.

    Args:
        path: the database file (created with its table when missing).
        timeout: seconds a write waits for another process's lock.
    """

    SCHEMA = _SCHEMA

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
        now: float = 0.0,
    ) -> Job:
        job = Job(
            id=0,
            user=user,
            kind=kind,
            payload=dict(payload or {}),
            company_file=company_file,
            priority=priority,
            depends_on=list(depends_on),
            key=key,
            created=now,
            updated=now,
        )
        values = self._values(job)
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                if key is not None:
                    row = conn.execute(
                        "SELECT * FROM qbwc_jobs WHERE user = ? AND key = ?"
                        " AND state NOT IN ('done', 'failed', 'cancelled')",
                        (user, key),
                    ).fetchone()
                    if row is not None:
                        conn.execute("COMMIT")
                        return _row_to_job(row)
                missing = [
                    d
                    for d in job.depends_on
                    if conn.execute("SELECT 1 FROM qbwc_jobs WHERE id = ?", (d,)).fetchone() is None
                ]
                if missing:
                    raise ValueError(f"depends on jobs that do not exist: {missing}")
                cursor = conn.execute(
                    # Column names are the constants above; values go as parameters.
                    f"INSERT INTO qbwc_jobs ({', '.join(_COLUMNS)})"  # noqa: S608
                    f" VALUES ({', '.join('?' * len(_COLUMNS))})",
                    values,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        job.id = int(cursor.lastrowid or 0)
        return job

    @staticmethod
    def _values(job: Job) -> list[Any]:
        values = []
        for name in _COLUMNS:
            value = getattr(job, name)
            if name in _JSON:
                value = json.dumps(value)
            elif name == "state":
                value = value.value
            values.append(value)
        return values

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            row = (
                self._connect()
                .execute("SELECT * FROM qbwc_jobs WHERE id = ?", (job_id,))
                .fetchone()
            )
        return None if row is None else _row_to_job(row)

    def jobs(self, *, user: str | None = None, states: Iterable[JobState] = ()) -> list[Job]:
        clauses, params = [], []
        if user is not None:
            clauses.append("user = ?")
            params.append(user)
        wanted = [s.value for s in states]
        if wanted:
            clauses.append(f"state IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            query = f"SELECT * FROM qbwc_jobs{where} ORDER BY id"  # noqa: S608  (placeholders only)
            rows = self._connect().execute(query, params)
            return [_row_to_job(row) for row in rows.fetchall()]

    def runnable(self, *, user: str) -> list[Job]:
        with self._lock:
            rows = self._connect().execute(_RUNNABLE + " ORDER BY priority DESC, id", (user,))
            return [_row_to_job(row) for row in rows.fetchall()]

    def claim(
        self, *, user: str, company_file: str, ticket: str, now: float, lease: float
    ) -> Job | None:
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    _RUNNABLE + " AND (j.company_file = '' OR lower(j.company_file) = lower(?))"
                    " ORDER BY j.priority DESC, j.id LIMIT 1",
                    (user, company_file),
                ).fetchone()
                if row is None:
                    conn.execute("COMMIT")
                    return None
                job = _row_to_job(row)
                job.reconciling = job.state is JobState.RECONCILE
                job.state = JobState.IN_FLIGHT
                job.ticket = ticket
                job.lease_until = now + lease
                job.updated = now
                self._update(conn, job)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return job

    def save(self, job: Job) -> None:
        with self._lock:
            self._update(self._connect(), job)

    def _update(self, conn: sqlite3.Connection, job: Job) -> None:
        assignments = ", ".join(f"{name} = ?" for name in _COLUMNS)
        conn.execute(
            f"UPDATE qbwc_jobs SET {assignments} WHERE id = ?",  # noqa: S608  (constant columns)
            [*self._values(job), job.id],
        )


class MemoryJobQueue(SQLiteJobQueue):
    """Jobs in memory, for tests and single-process servers.

    The SQLite queue on an in-memory database: the same code, so the same
    behaviour, with nothing on disk.
    """

    def __init__(self) -> None:
        super().__init__(":memory:")
