"""Jobs waiting for the Web Connector, and where they are kept.

A job is one unit of work for one Web Connector user (and optionally one
company file): a registered *kind* that builds the qbXML request when it is
sent and handles the response, a JSON payload, a priority, and the jobs it
depends on. Jobs outlive the process: they name their kind, they do not
pickle functions.

States::

    pending ──claim──> in_flight ──complete──> done
       ^                  │  │  └──fail──> failed ──> its dependants: blocked
       │                  │  └─ release (lease expired, session ended, connectionError):
       └── a query ───────┘       a query goes back to pending,
                                  a write goes to reconcile (if its kind can)
                                  or unknown (the operator: resolve_unknown)
    reconcile ──claim──> in_flight (sends the kind's reconcile query)
    pending, reconcile, blocked, unknown, failed ──cancel──> cancelled
    failed, unknown, blocked, cancelled ──retry──> pending (or blocked)

Theory of operation
-------------------
Every change of state is one ``UPDATE ... WHERE id = ? AND state = ?``
(and ``AND ticket = ?`` for a job in flight): a compare-and-set that
reports whether it happened. Nothing reads a whole row, changes it in
Python and writes it back, so a late answer, an operator and a lease sweep
can race and the loser's change is refused instead of undoing the
winner's. Each transition runs in one ``BEGIN IMMEDIATE`` transaction with
its follow-up (the dependants it blocks or unblocks).

Dependencies live in ``qbwc_job_deps`` (indexed both ways); the jobs below
one are found with a recursive query, never by loading the queue.

A key names the work for good: enqueueing a (user, key) that exists gives
the existing job back, whatever its state, unless the caller asks for it to
be queued again (``if_exists="replace"``, for a finished job only). The
replaced job keeps its row, marked ``replaced_by``, and cannot be retried.

The schema is versioned with ``PRAGMA user_version``; files written by
earlier releases are upgraded in place when opened.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any

from ..exceptions import InvalidJobError, KeyConflictError, NotAQueueDatabaseError, StorageError
from ._interfaces import FINISHED, PROGRESS_FIELDS, IfExists, Job, JobState
from ._sqlite import SQLiteBacked

__all__ = ["MemoryJobQueue", "SQLiteJobQueue"]

logger = logging.getLogger("qbwc_spyne")


#: States of a dependency that keep its dependants from ever running.
_BLOCKING = ("failed", "cancelled", "blocked")
_BLOCKING_SQL = "('failed', 'cancelled', 'blocked')"


# -- schema ---------------------------------------------------------------------------------

#: The layout this release writes; files at 0 with a ``qbwc_jobs`` table are the first layout.
SCHEMA_VERSION = 2

_JOBS_TABLE = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    company_file TEXT NOT NULL,
    priority INTEGER NOT NULL,
    key TEXT,
    replaced_by INTEGER,
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
    staged_checkpoint TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    warning TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
)
"""

_INDEXES = (
    "CREATE INDEX qbwc_jobs_runnable ON qbwc_jobs (user, state, priority DESC, id)",
    # The lease sweep and purge look jobs up by state and time, for every user.
    "CREATE INDEX qbwc_jobs_lease ON qbwc_jobs (state, lease_until)",
    "CREATE INDEX qbwc_jobs_finished ON qbwc_jobs (state, updated)",
    "CREATE UNIQUE INDEX qbwc_jobs_key ON qbwc_jobs (user, key)"
    " WHERE key IS NOT NULL AND replaced_by IS NULL",
    "CREATE TABLE qbwc_job_deps ("
    " job_id INTEGER NOT NULL, depends_on INTEGER NOT NULL, PRIMARY KEY (job_id, depends_on))",
    "CREATE INDEX qbwc_job_deps_reverse ON qbwc_job_deps (depends_on, job_id)",
)

# Version 1 -> 2: dependencies move from a JSON column to their own table;
# keys become unique for good (older finished jobs sharing a key are marked
# replaced by the next one); checkpoints gain their staged half.
_COPIED = (
    "id, user, kind, payload, company_file, priority, key, state, attempts, ticket,"
    " lease_until, reconciling, request, writes, iterator_id, pages, checkpoint,"
    " error_code, error_message, warning, created, updated"
)
_UPGRADE_FROM_1 = (
    _JOBS_TABLE.format(name="qbwc_jobs_v2"),
    f"INSERT INTO qbwc_jobs_v2 ({_COPIED}, staged_checkpoint, replaced_by)"  # noqa: S608
    f" SELECT {_COPIED}, 'null', NULL FROM qbwc_jobs",
    "CREATE TABLE qbwc_job_deps_v2 (job_id INTEGER NOT NULL, depends_on INTEGER NOT NULL)",
    "INSERT INTO qbwc_job_deps_v2 (job_id, depends_on)"
    " SELECT DISTINCT j.id, CAST(d.value AS INTEGER)"
    " FROM qbwc_jobs AS j, json_each(j.depends_on) AS d",
    "UPDATE qbwc_jobs_v2 SET replaced_by = (SELECT MIN(n.id) FROM qbwc_jobs_v2 AS n"
    " WHERE n.user = qbwc_jobs_v2.user AND n.key = qbwc_jobs_v2.key AND n.id > qbwc_jobs_v2.id)"
    " WHERE key IS NOT NULL",
    "DROP TABLE qbwc_jobs",
    "ALTER TABLE qbwc_jobs_v2 RENAME TO qbwc_jobs",
)
# After _INDEXES has made the dependency table.
_DEPS_FROM_1 = (
    "INSERT INTO qbwc_job_deps (job_id, depends_on)"
    " SELECT job_id, depends_on FROM qbwc_job_deps_v2",
    "DROP TABLE qbwc_job_deps_v2",
)

_COLUMNS = (
    "user", "kind", "payload", "company_file", "priority", "key", "replaced_by", "state",
    "attempts", "ticket", "lease_until", "reconciling", "request", "writes", "iterator_id",
    "pages", "checkpoint", "staged_checkpoint", "error_code", "error_message", "warning",
    "created", "updated",
)  # fmt: skip
_JSON = ("payload", "checkpoint", "staged_checkpoint")

# Runnable: waiting, and every dependency done.
_RUNNABLE = """
SELECT * FROM qbwc_jobs AS j
WHERE j.user = ? AND j.state IN ('pending', 'reconcile')
  AND NOT EXISTS (
    SELECT 1 FROM qbwc_job_deps AS d JOIN qbwc_jobs AS p ON p.id = d.depends_on
    WHERE d.job_id = j.id AND p.state != 'done')
"""

# Every job below ?, directly or not.
_BELOW = """
WITH RECURSIVE below (id) AS (
    SELECT job_id FROM qbwc_job_deps WHERE depends_on = ?
    UNION
    SELECT d.job_id FROM qbwc_job_deps AS d JOIN below AS b ON d.depends_on = b.id
)
"""

# What a job leaving flight no longer has.
_LAND = (
    "ticket = NULL, lease_until = NULL, iterator_id = NULL, reconciling = 0,"
    " staged_checkpoint = 'null', updated = ?"
)

_NULL = json.dumps(None)


def _row_to_job(row: sqlite3.Row, depends_on: list[int]) -> Job:
    values = dict(row)
    for name in _JSON:
        values[name] = json.loads(values[name])
    values["state"] = JobState(values["state"])
    values["reconciling"] = bool(values["reconciling"])
    values["writes"] = bool(values["writes"])
    return Job(depends_on=depends_on, **values)


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    # SQLite caps the parameters of one statement; keep well below.
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _json_text(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidJobError(f"{what} is not JSON: {exc}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(
    *,
    user: Any,
    kind: Any,
    payload: Any,
    company_file: Any,
    priority: Any,
    depends_on: Any,
    key: Any,
    if_exists: Any,
    now: Any,
) -> tuple[str, list[int]]:
    """Check enqueue's arguments; return the payload as JSON text and the dependency ids."""
    if not isinstance(user, str) or not user.strip():
        raise InvalidJobError(f"user must be a non-blank string, not {user!r}")
    if not isinstance(kind, str) or not kind.strip():
        raise InvalidJobError(f"kind must be a non-blank string, not {kind!r}")
    if payload is not None and not isinstance(payload, dict):
        raise InvalidJobError(
            f"payload must be a dict of JSON values, not {type(payload).__name__}"
        )
    if payload is not None and not all(isinstance(name, str) for name in payload):
        raise InvalidJobError("payload keys must be strings")
    text = _json_text(payload or {}, "payload")
    if not isinstance(company_file, str):
        raise InvalidJobError(f"company_file must be a string, not {company_file!r}")
    if not _is_int(priority):
        raise InvalidJobError(f"priority must be an int, not {priority!r}")
    if not -(2**63) <= priority < 2**63:
        raise InvalidJobError(f"priority {priority} does not fit in 64 bits")
    if isinstance(depends_on, (str, bytes)):
        raise InvalidJobError("depends_on must be job ids, not a string")
    try:
        ids = list(depends_on)
    except TypeError:
        raise InvalidJobError(f"depends_on must be job ids, not {depends_on!r}") from None
    if not all(_is_int(i) for i in ids):
        raise InvalidJobError(f"depends_on must be int job ids, not {ids!r}")
    if key is not None and (not isinstance(key, str) or not key.strip()):
        raise InvalidJobError(f"key must be None or a non-blank string, not {key!r}")
    if if_exists not in ("return", "replace"):
        raise InvalidJobError(f'if_exists must be "return" or "replace", not {if_exists!r}')
    if not isinstance(now, (int, float)) or isinstance(now, bool) or not math.isfinite(now):
        raise InvalidJobError(f"now must be a finite number, not {now!r}")
    return text, sorted(set(ids))


class SQLiteJobQueue(SQLiteBacked):
    """Jobs in a SQLite file, shared by the processes of one machine.

    Args:
        path: the database file.
        timeout: seconds a write waits for another process's lock.
        create: create the file and its tables when missing (the default).
            With False, a file that does not exist or holds no job queue
            raises :class:`~qbwc_spyne.exceptions.NotAQueueDatabaseError`
            and nothing is created.

    Raises:
        NotAQueueDatabaseError: the file is not a SQLite database, or (with
            ``create=False``) holds no job queue, or holds a newer layout.
        StorageError: the file could not be opened or upgraded.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 10.0, create: bool = True
    ) -> None:
        try:
            super().__init__(path, timeout=timeout, create=create)
        except sqlite3.Error as exc:
            if not create and "unable to open" in str(exc):
                raise NotAQueueDatabaseError(f"no job queue at {path}") from None
            raise StorageError(f"the job queue at {path}: {exc}") from exc

    # -- opening and upgrading --------------------------------------------------------------

    def _prepare(self, conn: sqlite3.Connection) -> None:
        try:
            version, tables = self._layout(conn)
        except sqlite3.DatabaseError as exc:
            raise NotAQueueDatabaseError(f"{self.path} is not a SQLite database ({exc})") from None
        if version == SCHEMA_VERSION and "qbwc_job_deps" in tables:
            self._journal(conn)
            return
        if version > SCHEMA_VERSION:
            raise NotAQueueDatabaseError(
                f"{self.path} holds a job queue of a newer release (layout {version})"
            )
        if version == 0 and "qbwc_jobs" not in tables and not self._create:
            raise NotAQueueDatabaseError(f"{self.path} holds no job queue")
        legacy = version == 0 and "qbwc_jobs" in tables
        if version != 0 or (legacy and not self._legacy(conn)):
            raise NotAQueueDatabaseError(f"{self.path} holds tables that are not a job queue")
        self._journal(conn)
        self._upgrade(conn)

    @staticmethod
    def _layout(conn: sqlite3.Connection) -> tuple[int, set[str]]:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {
            str(row[0])
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        return version, tables

    @staticmethod
    def _legacy(conn: sqlite3.Connection) -> bool:
        """Whether the qbwc_jobs table is the first layout's (a depends_on JSON column)."""
        columns = {str(row[1]) for row in conn.execute("PRAGMA table_info(qbwc_jobs)")}
        return "depends_on" in columns and "state" in columns

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Create or upgrade the schema to SCHEMA_VERSION, in one transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have done it while this one waited for the lock.
            version, tables = self._layout(conn)
            if version != SCHEMA_VERSION:
                if "qbwc_jobs" in tables:
                    row = conn.execute(
                        "SELECT seq FROM sqlite_sequence WHERE name = 'qbwc_jobs'"
                    ).fetchone()
                    for statement in (*_UPGRADE_FROM_1, *_INDEXES, *_DEPS_FROM_1):
                        conn.execute(statement)
                    # Ids are never reused, even those of jobs deleted before the upgrade.
                    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'qbwc_jobs'")
                    conn.execute(
                        "INSERT INTO sqlite_sequence (name, seq)"
                        " SELECT 'qbwc_jobs', MAX(COALESCE(MAX(id), 0), ?) FROM qbwc_jobs",
                        (int(row[0]) if row else 0,),
                    )
                else:
                    for statement in (_JOBS_TABLE.format(name="qbwc_jobs"), *_INDEXES):
                        conn.execute(statement)
                # A constant, not a parameter: PRAGMA takes none.
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- plumbing -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connect()
            except sqlite3.Error as exc:
                raise StorageError(f"the job queue at {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; sqlite3 errors become StorageError."""
        with self._lock:
            conn: sqlite3.Connection | None = None
            try:
                conn = self._connect()
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn is not None and conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"the job queue at {self.path}: {exc}") from exc
                raise

    @staticmethod
    def _dependencies(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            rows = conn.execute(
                "SELECT job_id, depends_on FROM qbwc_job_deps"  # noqa: S608  (placeholders only)
                f" WHERE job_id IN ({_placeholders(chunk)}) ORDER BY job_id, depends_on",
                chunk,
            )
            for job_id, dependency in rows:
                found[job_id].append(dependency)
        return found

    def _jobs_of(self, conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[Job]:
        deps = self._dependencies(conn, [row["id"] for row in rows])
        return [_row_to_job(row, deps[row["id"]]) for row in rows]

    def _load(self, conn: sqlite3.Connection, job_id: int) -> Job | None:
        row = conn.execute("SELECT * FROM qbwc_jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else self._jobs_of(conn, [row])[0]

    @staticmethod
    def _head(conn: sqlite3.Connection, job_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT id, user, kind, state, ticket, replaced_by FROM qbwc_jobs WHERE id = ?",
            (job_id,),
        ).fetchone()
        return row

    @staticmethod
    def _log(row: sqlite3.Row | Job, before: str, after: str) -> None:
        # Ids, kind and user only: payloads and requests may hold customer data.
        if isinstance(row, Job):
            job_id, kind, user = row.id, row.kind, row.user
        else:
            job_id, kind, user = row["id"], row["kind"], row["user"]
        logger.info("job %s (%s) of %s: %s -> %s", job_id, kind, user, before, after)

    # -- adding and reading -------------------------------------------------------------------

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
        """Add a job; return it as stored (its payload as JSON gives it back).

        A key names the work for good: if the user already has a job with
        this ``key``, that job is returned, whatever its state (done
        included), and nothing is written. With ``if_exists="replace"`` a
        finished (done, failed, cancelled) job's key is queued again as a
        new job, which starts from the old job's checkpoint; an unfinished
        one is returned as it is.

        Args:
            user: the Web Connector user whose sessions run it.
            kind: the name of a registered job kind.
            payload: JSON values for the kind.
            company_file: the company file it must run against ("" for any).
            priority: higher runs first.
            depends_on: ids of existing jobs that must be done first.
            key: names the work, e.g. ``"invoice 1042"``.
            if_exists: "return" (the default) or "replace".
            now: the time, in seconds since the epoch.

        Returns:
            The new job, or the existing one its key names.

        Raises:
            InvalidJobError: a blank or non-string user or kind, a payload
                that is not a dict of JSON values, a priority that is not an
                int, a dependency that does not exist, a bad ``if_exists``.
            KeyConflictError: the key names a job of another kind.
            StorageError: the database could not be written.
        """
        text, ids = _validate(
            user=user,
            kind=kind,
            payload=payload,
            company_file=company_file,
            priority=priority,
            depends_on=depends_on,
            key=key,
            if_exists=if_exists,
            now=now,
        )
        with self._write() as conn:
            replacing: Job | None = None
            if key is not None:
                row = conn.execute(
                    "SELECT * FROM qbwc_jobs WHERE user = ? AND key = ? AND replaced_by IS NULL",
                    (user, key),
                ).fetchone()
                if row is not None:
                    existing = self._jobs_of(conn, [row])[0]
                    if existing.kind != kind:
                        raise KeyConflictError(
                            f"key {key!r} of user {user!r} already names job {existing.id}"
                            f" of kind {existing.kind!r}, not {kind!r}",
                            existing_id=existing.id,
                        )
                    if if_exists != "replace" or existing.state not in FINISHED:
                        return existing
                    replacing = existing
            states = self._states(conn, ids) if ids else {}
            missing = [i for i in ids if i not in states]
            if missing:
                raise InvalidJobError(f"depends on jobs that do not exist: {missing}")
            stopped = [i for i in ids if states[i] in _BLOCKING]
            state, message = JobState.PENDING, None
            if stopped:
                state = JobState.BLOCKED
                message = f"Job {stopped[0]} it depends on is {states[stopped[0]]}."
            checkpoint = _NULL if replacing is None else json.dumps(replacing.checkpoint)
            if replacing is not None:
                # Free the key for the new row, then point the old one at it.
                conn.execute(
                    "UPDATE qbwc_jobs SET replaced_by = 0 WHERE id = ? AND replaced_by IS NULL",
                    (replacing.id,),
                )
            values = {
                "user": user,
                "kind": kind,
                "payload": text,
                "company_file": company_file,
                "priority": priority,
                "key": key,
                "replaced_by": None,
                "state": state.value,
                "attempts": 0,
                "ticket": None,
                "lease_until": None,
                "reconciling": 0,
                "request": None,
                "writes": 0,
                "iterator_id": None,
                "pages": 0,
                "checkpoint": checkpoint,
                "staged_checkpoint": _NULL,
                "error_code": None,
                "error_message": message,
                "warning": None,
                "created": now,
                "updated": now,
            }
            cursor = conn.execute(
                # Column names are the constants above; values go as parameters.
                f"INSERT INTO qbwc_jobs ({', '.join(_COLUMNS)})"  # noqa: S608
                f" VALUES ({_placeholders(_COLUMNS)})",
                [values[name] for name in _COLUMNS],
            )
            job_id = int(cursor.lastrowid or 0)
            if replacing is not None:
                conn.execute(
                    "UPDATE qbwc_jobs SET replaced_by = ? WHERE id = ?", (job_id, replacing.id)
                )
            if ids:
                conn.executemany(
                    "INSERT INTO qbwc_job_deps (job_id, depends_on) VALUES (?, ?)",
                    [(job_id, i) for i in ids],
                )
        # As stored: the JSON read back, as build() will see it after any reload.
        job = Job(
            **{
                **values,
                "id": job_id,
                "depends_on": ids,
                "payload": json.loads(text),
                "checkpoint": json.loads(checkpoint),
                "staged_checkpoint": None,
                "state": state,
                "reconciling": False,
                "writes": False,
            }
        )
        self._log(job, "new", job.state.value)
        return job

    @staticmethod
    def _states(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, str]:
        states: dict[int, str] = {}
        for chunk in _chunks(ids):
            rows = conn.execute(
                f"SELECT id, state FROM qbwc_jobs WHERE id IN ({_placeholders(chunk)})",  # noqa: S608
                chunk,
            )
            states.update((int(i), str(s)) for i, s in rows)
        return states

    def get(self, job_id: int) -> Job | None:
        with self._read() as conn:
            return self._load(conn, job_id)

    def jobs(self, *, user: str | None = None, states: Iterable[JobState] = ()) -> list[Job]:
        clauses, params = [], []
        if user is not None:
            clauses.append("user = ?")
            params.append(user)
        wanted = [s.value for s in states]
        if wanted:
            clauses.append(f"state IN ({_placeholders(wanted)})")
            params.extend(wanted)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._read() as conn:
            query = f"SELECT * FROM qbwc_jobs{where} ORDER BY id"  # noqa: S608  (placeholders only)
            return self._jobs_of(conn, conn.execute(query, params).fetchall())

    def runnable(self, *, user: str) -> list[Job]:
        with self._read() as conn:
            rows = conn.execute(_RUNNABLE + " ORDER BY priority DESC, id", (user,)).fetchall()
            return self._jobs_of(conn, rows)

    # -- transitions ----------------------------------------------------------------------------

    def claim(
        self, *, user: str, company_file: str, ticket: str, now: float, lease: float
    ) -> Job | None:
        with self._write() as conn:
            row = conn.execute(
                _RUNNABLE + " AND (j.company_file = '' OR lower(j.company_file) = lower(?))"
                " ORDER BY j.priority DESC, j.id LIMIT 1",
                (user, company_file),
            ).fetchone()
            if row is None:
                return None
            cursor = conn.execute(
                "UPDATE qbwc_jobs SET state = 'in_flight',"
                " reconciling = CASE WHEN state = 'reconcile' THEN 1 ELSE 0 END,"
                " ticket = ?, lease_until = ?, staged_checkpoint = 'null', updated = ?"
                " WHERE id = ? AND state = ?",
                (ticket, now + lease, now, row["id"], row["state"]),
            )
            if cursor.rowcount != 1:  # pragma: no cover - the write lock is held
                return None
            job = self._load(conn, row["id"])
        self._log(row, row["state"], "in_flight")
        return job

    def progress(self, job_id: int, *, ticket: str, now: float, **changes: Any) -> bool:
        """Update fields of a job in flight in ``ticket``; True if it is still ours.

        Args:
            job_id: the job.
            ticket: the session it must be in flight in.
            now: the time.
            changes: new values of ``PROGRESS_FIELDS`` (iterator_id, pages,
                lease_until, attempts, request, writes, staged_checkpoint, warning).

        Returns:
            Whether the job was in flight in ``ticket`` and was updated.

        Raises:
            InvalidJobError: a field that progress does not change.
        """
        unknown = set(changes) - PROGRESS_FIELDS
        if unknown:
            raise InvalidJobError(f"progress cannot change {sorted(unknown)}")
        names = sorted(changes)
        values = [
            _json_text(changes[n], n)
            if n == "staged_checkpoint"
            else int(changes[n])
            if n == "writes"
            else changes[n]
            for n in names
        ]
        assignments = "".join(f"{name} = ?, " for name in names)
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE qbwc_jobs SET {assignments}updated = ?"  # noqa: S608  (constant names)
                " WHERE id = ? AND state = 'in_flight' AND ticket = ?",
                [*values, now, job_id, ticket],
            )
            return cursor.rowcount == 1

    def complete(
        self,
        job_id: int,
        *,
        ticket: str,
        now: float,
        warning: str | None = None,
        keep_request: bool = False,
    ) -> bool:
        with self._write() as conn:
            head = self._head(conn, job_id)
            cursor = conn.execute(
                "UPDATE qbwc_jobs SET state = 'done',"  # noqa: S608  (constant text)
                " checkpoint = CASE WHEN staged_checkpoint = 'null' THEN checkpoint"
                " ELSE staged_checkpoint END,"
                " request = CASE WHEN ? = 1 THEN request ELSE NULL END,"
                " warning = COALESCE(?, warning), error_code = NULL, error_message = NULL,"
                f" {_LAND} WHERE id = ? AND state = 'in_flight' AND ticket = ?",
                (int(keep_request), warning, now, job_id, ticket),
            )
            done = cursor.rowcount == 1
        if done and head is not None:
            self._log(head, "in_flight", "done")
        return done

    def fail(self, job_id: int, *, ticket: str, now: float, code: str, message: str) -> bool:
        with self._write() as conn:
            head = self._head(conn, job_id)
            cursor = conn.execute(
                "UPDATE qbwc_jobs SET state = 'failed', error_code = ?, error_message = ?,"  # noqa: S608
                f" {_LAND} WHERE id = ? AND state = 'in_flight' AND ticket = ?",
                (code, message, now, job_id, ticket),
            )
            if cursor.rowcount != 1 or head is None:
                return False
            blocked = self._block_below(conn, job_id, "failed", now)
        self._log(head, "in_flight", "failed")
        for row in blocked:
            self._log(row, row["state"], "blocked")
        return True

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
        if to not in (JobState.PENDING, JobState.RECONCILE, JobState.UNKNOWN):
            raise InvalidJobError(f"release goes to pending, reconcile or unknown, not {to.value}")
        with self._write() as conn:
            head = self._head(conn, job_id)
            cursor = conn.execute(
                "UPDATE qbwc_jobs SET state = ?, error_code = ?, error_message = ?,"  # noqa: S608
                f" request = NULL, {_LAND} WHERE id = ? AND state = 'in_flight' AND ticket = ?",
                (to.value, code, message, now, job_id, ticket),
            )
            done = cursor.rowcount == 1
        if done and head is not None:
            self._log(head, "in_flight", to.value)
        return done

    def release_expired(
        self, *, now: float, reconcilable: Collection[str] | None, message: str
    ) -> list[Job]:
        kinds = [] if reconcilable is None else sorted(reconcilable)
        can_reconcile = (
            "1 = 1"
            if reconcilable is None
            else f"kind IN ({_placeholders(kinds)})"
            if kinds
            else "1 = 0"
        )
        where = "state = 'in_flight' AND lease_until < ?"
        with self._read() as conn:
            # Most calls find nothing: look before taking the write lock.
            found = conn.execute(
                f"SELECT 1 FROM qbwc_jobs WHERE {where} LIMIT 1",  # noqa: S608  (constant)
                (now,),
            ).fetchone()
            if found is None:
                return []
        with self._write() as conn:
            ids = [
                int(row[0])
                for row in conn.execute(
                    f"SELECT id FROM qbwc_jobs WHERE {where}",  # noqa: S608  (constant text)
                    (now,),
                )
            ]
            if not ids:
                return []
            # One statement for every user's expired jobs, on the (state, lease_until) index.
            conn.execute(
                "UPDATE qbwc_jobs SET state = CASE"  # noqa: S608  (placeholders only)
                " WHEN reconciling = 1 THEN 'reconcile' WHEN writes = 0 THEN 'pending'"
                f" WHEN {can_reconcile} THEN 'reconcile' ELSE 'unknown' END,"
                " error_message = CASE WHEN reconciling = 0 AND writes = 1 THEN ?"
                " ELSE error_message END,"
                f" request = NULL, {_LAND} WHERE {where}",
                (*kinds, message, now, now),
            )
            released = [job for i in ids if (job := self._load(conn, i)) is not None]
        for job in released:
            self._log(job, "in_flight", job.state.value)
        return released

    def _block_below(
        self, conn: sqlite3.Connection, job_id: int, why: str, now: float
    ) -> list[sqlite3.Row]:
        """Block the waiting jobs below ``job_id``; return them as they were."""
        waiting = "state IN ('pending', 'reconcile')"
        rows = conn.execute(
            _BELOW + "SELECT id, user, kind, state FROM qbwc_jobs"  # noqa: S608  (constant)
            f" WHERE id IN (SELECT id FROM below) AND {waiting}",
            (job_id,),
        ).fetchall()
        if rows:
            conn.execute(
                _BELOW + "UPDATE qbwc_jobs SET state = 'blocked', error_message = ?, updated = ?"  # noqa: S608
                f" WHERE id IN (SELECT id FROM below) AND {waiting}",
                (job_id, f"Job {job_id} it depends on is {why}.", now),
            )
        return list(rows)

    def _unblock_below(
        self, conn: sqlite3.Connection, job_id: int, now: float
    ) -> list[sqlite3.Row]:
        """Unblock the jobs below ``job_id`` that nothing else keeps blocked, level by level."""
        free = (
            "state = 'blocked' AND id IN (SELECT id FROM below) AND NOT EXISTS ("
            " SELECT 1 FROM qbwc_job_deps AS d JOIN qbwc_jobs AS p ON p.id = d.depends_on"
            " WHERE d.job_id = qbwc_jobs.id AND p.state IN ('failed', 'cancelled', 'blocked'))"
        )
        unblocked: list[sqlite3.Row] = []
        while True:  # each round frees one more level; a job is freed once, so it ends
            rows = conn.execute(
                _BELOW + f"SELECT id, user, kind, state FROM qbwc_jobs WHERE {free}",  # noqa: S608
                (job_id,),
            ).fetchall()
            if not rows:
                return unblocked
            conn.execute(
                _BELOW + "UPDATE qbwc_jobs SET state = 'pending', error_message = NULL,"  # noqa: S608
                f" updated = ? WHERE {free}",
                (job_id, now),
            )
            unblocked.extend(rows)

    def abandon_reconcile(self, job_id: int, *, now: float, message: str) -> bool:
        with self._write() as conn:
            head = self._head(conn, job_id)
            cursor = conn.execute(
                "UPDATE qbwc_jobs SET state = 'unknown', error_message = ?, updated = ?"
                " WHERE id = ? AND state = 'reconcile'",
                (message, now, job_id),
            )
            done = cursor.rowcount == 1
        if done and head is not None:
            self._log(head, "reconcile", "unknown")
        return done

    def cancel(self, job_id: int, *, now: float) -> bool:
        with self._write() as conn:
            head = self._head(conn, job_id)
            if head is None or head["state"] not in (
                "pending",
                "reconcile",
                "blocked",
                "unknown",
                "failed",
            ):
                return False
            cursor = conn.execute(
                "UPDATE qbwc_jobs SET state = 'cancelled', updated = ? WHERE id = ? AND state = ?",
                (now, job_id, head["state"]),
            )
            if cursor.rowcount != 1:  # pragma: no cover - the write lock is held
                return False
            blocked = self._block_below(conn, job_id, "cancelled", now)
        self._log(head, head["state"], "cancelled")
        for row in blocked:
            self._log(row, row["state"], "blocked")
        return True

    def retry(self, job_id: int, *, now: float) -> bool:
        with self._write() as conn:
            head = self._head(conn, job_id)
            if (
                head is None
                or head["replaced_by"] is not None
                or head["state"] not in ("failed", "unknown", "blocked", "cancelled")
            ):
                return False
            conn.execute(
                "UPDATE qbwc_jobs SET state = CASE WHEN EXISTS ("  # noqa: S608  (constant)
                " SELECT 1 FROM qbwc_job_deps AS d JOIN qbwc_jobs AS p ON p.id = d.depends_on"
                f" WHERE d.job_id = qbwc_jobs.id AND p.state IN {_BLOCKING_SQL})"
                " THEN 'blocked' ELSE 'pending' END,"
                " error_code = NULL, error_message = NULL, iterator_id = NULL, request = NULL,"
                " staged_checkpoint = 'null', updated = ?"
                " WHERE id = ? AND state = ? AND replaced_by IS NULL",
                (now, job_id, head["state"]),
            )
            after = self._head(conn, job_id)
            state = after["state"] if after is not None else head["state"]
            unblocked = self._unblock_below(conn, job_id, now) if state == "pending" else []
        self._log(head, head["state"], state)
        for row in unblocked:
            self._log(row, "blocked", "pending")
        return True

    def resolve_unknown(self, job_id: int, *, happened: bool, now: float) -> bool:
        to = "done" if happened else "pending"
        with self._write() as conn:
            head = self._head(conn, job_id)
            cursor = conn.execute(
                "UPDATE qbwc_jobs SET state = ?, error_code = NULL, error_message = NULL,"
                " request = NULL, iterator_id = NULL, staged_checkpoint = 'null', updated = ?"
                " WHERE id = ? AND state = 'unknown'",
                (to, now, job_id),
            )
            done = cursor.rowcount == 1
        if done and head is not None:
            self._log(head, "unknown", to)
        return done

    def purge(self, *, done_before: float) -> int:
        """Delete finished jobs last changed before ``done_before``, and their dependency rows.

        Args:
            done_before: seconds since the epoch.

        Returns:
            How many jobs were deleted. A finished job that an unfinished
            job depends on is kept, so that job can still learn its fate.
        """
        with self._write() as conn:
            ids = [
                int(row[0])
                for row in conn.execute(
                    "SELECT id FROM qbwc_jobs AS j"
                    " WHERE state IN ('done', 'failed', 'cancelled') AND updated < ?"
                    " AND NOT EXISTS (SELECT 1 FROM qbwc_job_deps AS d"
                    " JOIN qbwc_jobs AS u ON u.id = d.job_id WHERE d.depends_on = j.id"
                    " AND u.state NOT IN ('done', 'failed', 'cancelled'))",
                    (done_before,),
                )
            ]
            for chunk in _chunks(ids):
                marks = _placeholders(chunk)
                conn.execute(
                    f"DELETE FROM qbwc_job_deps WHERE job_id IN ({marks})"  # noqa: S608
                    f" OR depends_on IN ({marks})",
                    [*chunk, *chunk],
                )
                conn.execute(f"DELETE FROM qbwc_jobs WHERE id IN ({marks})", chunk)  # noqa: S608
        if ids:
            logger.info("purged %d finished jobs", len(ids))
        return len(ids)


class MemoryJobQueue(SQLiteJobQueue):
    """Jobs in memory, for tests and single-process servers.

    The SQLite queue on an in-memory database: the same code, so the same
    behaviour, with nothing on disk.
    """

    def __init__(self) -> None:
        super().__init__(":memory:")
