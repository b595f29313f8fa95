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
    pending, reconcile ──withdraw──> cancelled (a caller stopped waiting: never a failed job)
    failed, unknown, blocked, cancelled ──retry──> pending (refused while a dependency blocks it)

Theory of operation
-------------------
Every change of state is one ``UPDATE ... WHERE id = :id AND state = :state``
(and ``AND ticket = :ticket`` for a job in flight): a compare-and-set that
reports whether it happened. Nothing reads a whole row, changes it in
Python and writes it back, so a late answer, an operator and a lease sweep
can race and the loser's change is refused instead of undoing the
winner's. A transition with a follow-up (the dependants it blocks or
unblocks) runs with it in one transaction: ``BEGIN IMMEDIATE`` on SQLite,
SERIALIZABLE on PostgreSQL, retried when PostgreSQL says it must be.

A claim is one statement too: ``UPDATE ... WHERE id = (SELECT the next
runnable job ... FOR UPDATE SKIP LOCKED) RETURNING ...``. On PostgreSQL
the row is locked as it is chosen and rows being taken by other hosts are
skipped, so many hosts claim at once without waiting on each other and
never take the same job; SQLite's write lock serializes claims anyway.

Dependencies live in ``qbwc_job_deps`` (indexed both ways); the jobs below
one are found with a recursive query, never by loading the queue.

A key names the work for good: enqueueing a (user, key) that exists gives
the existing job back, whatever its state, unless the caller asks for it to
be queued again (``if_exists="replace"``, for a finished job only). The
replaced job keeps its row, marked ``replaced_by``, and cannot be retried;
the unfinished jobs that depended on it depend on the new job. A purge
keeps a keyed job's row as a tombstone (payload ``null``), so a key still
names its work after its job is purged.

The tables and their versions are in ``_migrations``; the statements in
``_statements``; PostgreSQL's notifications of jobs landing in ``_notify``;
the SQL layer (SQLite or PostgreSQL, one connection or a pool per process)
in ``_sql``. The interfaces implemented here are the queue's ports
(``qbwc_spyne.queue._ports``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import BindParameter, Connection, Engine, TextClause, bindparam, text
from sqlalchemy.engine import URL

from ..exceptions import InvalidJobError, KeyConflictError, NotAQueueDatabaseError, StorageError
from ..queue._ports import (
    FINISHED,
    PROGRESS_FIELDS,
    IfExists,
    Job,
    JobEvent,
    JobQueue,
    JobState,
    fold_company_file,
    released_state,
)
from ._migrations import open_schema
from ._notify import JobNotifications
from ._sql import Database
from ._statements import BLOCKING, like_pattern, statements

__all__ = ["JobNotifications", "MemoryJobQueue", "SQLJobQueue"]

T = TypeVar("T")

logger = logging.getLogger("qbwc_spyne")


_NULL = json.dumps(None)


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
    too_big = [i for i in ids if not -(2**63) <= i < 2**63]
    if too_big:
        # No such job can exist, and the driver would raise OverflowError.
        raise InvalidJobError(f"depends on jobs that do not exist: {sorted(too_big)}")
    if key is not None and (not isinstance(key, str) or not key.strip()):
        raise InvalidJobError(f"key must be None or a non-blank string, not {key!r}")
    if if_exists not in ("return", "replace"):
        raise InvalidJobError(f'if_exists must be "return" or "replace", not {if_exists!r}')
    if not isinstance(now, (int, float)) or isinstance(now, bool) or not math.isfinite(now):
        raise InvalidJobError(f"now must be a finite number, not {now!r}")
    return text, sorted(set(ids))


_JSON = ("payload", "checkpoint", "staged_checkpoint")


#: A row as a mapping (SQLAlchemy's RowMapping or sqlite3.Row).
Row = Mapping[Any, Any]


def _row_to_job(row: Row) -> Job:
    values = dict(row)
    values.pop("company_key", None)  # the folded form of company_file, for SQL
    listed = values.pop("deps")
    depends_on = sorted(int(i) for i in listed.split(",")) if listed else []
    for name in _JSON:
        values[name] = json.loads(values[name])
    if values["payload"] is None:  # kept only for its key: see purge()
        values["payload"], values["purged"] = {}, True
    values["state"] = JobState(values["state"])
    values["reconciling"] = bool(values["reconciling"])
    values["writes"] = bool(values["writes"])
    return Job(depends_on=depends_on, **values)


def _chunks(values: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    # SQLite caps the parameters of one statement; keep well below.
    for start in range(0, len(values), size):
        yield values[start : start + size]


class SQLJobQueue:
    """Jobs in a SQL database (SQLite or PostgreSQL), shared by every process that opens it.

    Args:
        target: a database URL (``sqlite:///jobs.db``,
            ``postgresql+psycopg://user:password@host/db``), a path to a
            SQLite file, or a SQLAlchemy engine.
        prefix: prepended to the name of each table (``qbwc_jobs``...), so
            the tables can live beside an application's own.
        create: create the tables in an empty database (the default). With
            False, a database that holds no job queue raises
            :class:`~qbwc_spyne.exceptions.NotAQueueDatabaseError` and
            nothing is created.
        upgrade: upgrade tables of an older release in place. Without it
            such tables are refused with the command that upgrades them.
        timeout: seconds a SQLite write waits for another process's lock;
            seconds a PostgreSQL connection attempt waits.
        pool_size: connections each process keeps to PostgreSQL (one pool for
            every store of the same database and settings).

    Raises:
        DatabaseURLError: a malformed or unsupported URL.
        SchemaVersionError: tables of an older release and no ``upgrade``.
        NotAQueueDatabaseError: the file is not a SQLite database, or (with
            ``create=False``) holds no job queue, or holds a newer layout.
        StorageError: the database could not be reached, opened or upgraded.

    It implements :class:`~qbwc_spyne.queue._ports.JobQueue`: every port
    of the queue (a session's, an operator's, and notifications).

    .. versionadded:: 0.2.0

    .. versionchanged:: Unreleased
       ``SQLiteJobQueue`` is a deprecated alias of this class: a path is
       a SQLite file, with the same keywords.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | Engine | URL,
        *,
        prefix: str = "qbwc_",
        create: bool = True,
        upgrade: bool = False,
        timeout: float = 10.0,
        pool_size: int = 5,
    ) -> None:
        self._db = Database(
            target, prefix=prefix, timeout=timeout, create=create, pool_size=pool_size
        )
        self.path = self._db.display
        self._sql = statements(self._db.prefix, not self._db.sqlite)
        try:
            open_schema(self._db, create=create, upgrade=upgrade, need="jobs")
        except BaseException as exc:
            self._db.close()
            if not isinstance(exc, StorageError):
                raise
            text_ = str(exc)
            if "file is not a database" in text_:
                raise NotAQueueDatabaseError(
                    f"{self.path} is not a SQLite database (file is not a database)"
                ) from None
            if not create and "unable to open" in text_:
                raise NotAQueueDatabaseError(f"no job queue at {self.path}") from None
            raise

    def close(self) -> None:
        """Close this process's connections; the next call opens them again."""
        self._db.close()

    @property
    def listens(self) -> bool:
        """Whether :meth:`notifications` can tell of jobs landing (on PostgreSQL)."""
        return not self._db.sqlite

    def notifications(self) -> JobNotifications:
        """A connection of its own that hears each job done or failed, from any process.

        On PostgreSQL only (``LISTEN``); a live request's waiter uses it to
        wake at once instead of at its next poll.

        Raises:
            StorageError: SQLite (no such thing), or the database could not be reached.

        .. versionadded:: Unreleased
        """
        if self._db.sqlite:
            raise StorageError(f"{self.path}: SQLite cannot notify; poll instead")
        return JobNotifications(self._db, self._sql.channel)

    # -- plumbing -----------------------------------------------------------------------------

    def _read(self, work: Callable[[Connection], T], *, single: bool = False) -> T:
        return self._db.run(work, what="the job queue", write=False, single=single)

    def _write(
        self, work: Callable[[Connection], T], *, serializable: bool = False, single: bool = False
    ) -> T:
        return self._db.run(work, what="the job queue", serializable=serializable, single=single)

    def _jobs_of(self, conn: Connection, rows: Sequence[Row]) -> list[Job]:
        """Jobs from rows read with their ``deps`` column."""
        return [_row_to_job(row) for row in rows]

    def _one(self, statement: TextClause, params: dict[str, Any]) -> tuple[list[Row], int]:
        return self._db.one(statement, params, what="the job queue")

    def _load(self, conn: Connection, job_id: int) -> Job | None:
        row = conn.execute(self._sql.load, {"id": job_id}).mappings().first()
        return None if row is None else self._jobs_of(conn, [row])[0]

    def _head(self, conn: Connection, job_id: int) -> Row | None:
        return conn.execute(self._sql.head, {"id": job_id}).mappings().first()

    @staticmethod
    def _log(row: Row | Job, before: str, after: str) -> None:
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
        now: float | None = None,
    ) -> Job:
        """Add a job; return it as stored (its payload as JSON gives it back).

        A key names the work for good: if the user already has a job with
        this ``key``, that job is returned, whatever its state (done
        included), and nothing is written. With ``if_exists="replace"`` a
        finished (done, failed, cancelled) job's key is queued again as a
        new job, which starts from the old job's checkpoint; an unfinished
        one is returned as it is. The unfinished jobs that depended on the
        old job depend on the new one, and those that only the old job's
        failure or cancellation blocked are pending again, in the same
        transaction.

        Args:
            user: the Web Connector user whose sessions run it.
            kind: the name of a registered job kind.
            payload: JSON values for the kind.
            company_file: the company file it must run against ("" for any).
            priority: higher runs first.
            depends_on: ids of existing jobs that must be done first.
            key: names the work, e.g. ``"invoice 1042"``.
            if_exists: "return" (the default) or "replace".
            now: the time, in seconds since the epoch (None: the wall clock).

        Returns:
            The new job, or the existing one its key names.

        Raises:
            InvalidJobError: a blank or non-string user or kind, a payload
                that is not a dict of JSON values, a priority that is not an
                int, a dependency that does not exist, a bad ``if_exists``.
            KeyConflictError: the key names a job of another kind.
            StorageError: the database could not be written.
        """
        now = time.time() if now is None else now
        text_, ids = _validate(
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
        sql = self._sql

        def work(conn: Connection) -> tuple[Job, list[Row] | None]:
            replacing: Job | None = None
            if key is not None:
                row = conn.execute(sql.by_key, {"user": user, "key": key}).mappings().first()
                if row is not None:
                    existing = self._jobs_of(conn, [row])[0]
                    if existing.kind != kind:
                        raise KeyConflictError(
                            f"key {key!r} of user {user!r} already names job {existing.id}"
                            f" of kind {existing.kind!r}, not {kind!r}",
                            existing_id=existing.id,
                        )
                    if if_exists != "replace" or existing.state not in FINISHED:
                        return existing, None
                    replacing = existing
            states = self._states(conn, ids) if ids else {}
            missing = [i for i in ids if i not in states]
            if missing:
                raise InvalidJobError(f"depends on jobs that do not exist: {missing}")
            stopped = [i for i in ids if states[i] in BLOCKING]
            state, message = JobState.PENDING, None
            if stopped:
                state = JobState.BLOCKED
                message = f"Job {stopped[0]} it depends on is {states[stopped[0]]}."
            checkpoint = _NULL if replacing is None else json.dumps(replacing.checkpoint)
            if replacing is not None:
                # Free the key for the new row, then point the old one at it.
                conn.execute(sql.set_replaced, {"by": 0, "id": replacing.id})
            values = {
                "user": user,
                "kind": kind,
                "payload": text_,
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
                "response": None,
                "company_key": fold_company_file(company_file),
            }
            job_id = int(conn.execute(sql.insert, values).scalar_one())
            if replacing is not None:
                conn.execute(sql.set_replaced, {"by": job_id, "id": replacing.id})
            if ids:
                conn.execute(sql.insert_dep, [{"job_id": job_id, "depends_on": i} for i in ids])
            freed: list[Row] = []
            if replacing is not None:
                # The key names the work, and the jobs that waited on it wait on
                # the new job; those the old one's failure blocked run once it is done.
                conn.execute(sql.move_deps, {"new": job_id, "old": replacing.id})
                freed = self._unblock_below(conn, job_id, now)
            # As stored: the JSON read back, as build() will see it after any reload.
            job = Job(
                **{
                    **{name: value for name, value in values.items() if name != "company_key"},
                    "id": job_id,
                    "depends_on": ids,
                    "payload": json.loads(text_),
                    "checkpoint": json.loads(checkpoint),
                    "staged_checkpoint": None,
                    "state": state,
                    "reconciling": False,
                    "writes": False,
                }
            )
            return job, freed

        job, freed = self._write(work, serializable=True)
        if freed is not None:
            self._log(job, "new", job.state.value)
            for row in freed:
                self._log(row, "blocked", "pending")
        return job

    def _states(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        states: dict[int, str] = {}
        for chunk in _chunks(ids):
            rows = conn.execute(self._sql.states, {"ids": list(chunk)})
            states.update((int(i), str(s)) for i, s in rows)
        return states

    def get(self, job_id: int) -> Job | None:
        rows, _ = self._one(self._sql.load, {"id": job_id})
        return _row_to_job(rows[0]) if rows else None

    def jobs(self, *, user: str | None = None, states: Iterable[JobState] = ()) -> list[Job]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        binds: list[BindParameter[Any]] = []
        if user is not None:
            clauses.append('"user" = :user')
            params["user"] = user
        wanted = [s.value for s in states]
        if wanted:
            clauses.append("state IN :states")
            params["states"] = wanted
            binds.append(bindparam("states", expanding=True))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        query = text(f"SELECT {self._sql.whole} FROM {self._sql.jobs}{where} ORDER BY id")
        if binds:
            query = query.bindparams(*binds)

        def work(conn: Connection) -> list[Job]:
            return self._jobs_of(conn, conn.execute(query, params).mappings().all())

        return self._read(work, single=True)

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

        Args:
            user: keep only this user's jobs (None or empty: any user's).
            states: keep only the jobs in these states (None or empty: any).
            kind: keep only the jobs of this kind (None or empty: any).
            search: keep only the jobs whose key or payload holds this text
                (an order number, a customer's name), letters in either case
                (ASCII letters only: a payload's non-ASCII letters are stored
                as JSON escapes, and a key's compare by case on SQLite); None
                or empty: any. The payload is searched as its JSON text, so
                ``"`` and non-ASCII letters are looked for as JSON writes them. Every row is read
                to count the matches (no index holds text inside a payload).
            limit: the page's size, 1 or more.
            offset: jobs to skip, 0 or more.

        Returns:
            The page's jobs (highest id first) and the number that match.
            An offset past the last match gives an empty page without
            reading a row, however large it is.

        .. versionadded:: Unreleased
        """
        clauses: list[str] = []
        params: dict[str, Any] = {}
        binds: list[BindParameter[Any]] = []
        if user:
            clauses.append('"user" = :user')
            params["user"] = user
        if kind:
            clauses.append("kind = :kind")
            params["kind"] = kind
        if search:
            # LIKE's own characters stand for themselves. SQLite's LIKE ignores
            # ASCII case already (lower() on every row would triple the scan).
            like = "LIKE" if self._db.sqlite else "ILIKE"
            clauses.append(
                f"(\"key\" {like} :key_like ESCAPE '!' OR payload {like} :payload_like ESCAPE '!')"
            )
            params["key_like"] = like_pattern(search)
            params["payload_like"] = like_pattern(json.dumps(search)[1:-1])
        wanted = [s.value for s in states]
        if wanted:
            clauses.append("state IN :states")
            params["states"] = wanted
            binds.append(bindparam("states", expanding=True))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        count = text(f"SELECT count(*) FROM {self._sql.jobs}{where}")
        page = text(
            f"SELECT {self._sql.whole} FROM {self._sql.jobs}{where}"
            " ORDER BY id DESC LIMIT :limit OFFSET :offset"
        )
        if binds:
            count, page = count.bindparams(*binds), page.bindparams(*binds)

        def work(conn: Connection) -> tuple[list[Job], int]:
            total = int(conn.execute(count, params).scalar_one())
            # Past the end: nothing to read (and no offset too big for SQL).
            if offset >= total:
                return [], total
            rows = conn.execute(
                page, {**params, "limit": max(1, limit), "offset": max(0, offset)}
            ).mappings()
            return self._jobs_of(conn, rows.all()), total

        return self._read(work, single=True)

    def runnable(
        self, *, user: str, company_file: str | None = None, limit: int | None = None
    ) -> list[Job]:
        """The user's runnable jobs, in the order :meth:`claim` takes them.

        Args:
            user: the Web Connector user.
            company_file: only those a claim for this file would take (None: any file).
            limit: at most this many (None: all): the walk of the waiting
                jobs stops once they are found, however many wait.

        Returns:
            The jobs, highest priority first, then oldest.

        Raises:
            StorageError: the database could not be read.
        """
        sql = self._sql
        params: dict[str, Any] = {"user": user}
        if company_file is not None:
            params["company_key"] = fold_company_file(company_file)
        if limit is None:
            statement = sql.runnable if company_file is None else sql.runnable_here
        else:
            params["limit"] = max(0, limit)
            statement = sql.runnable_first if company_file is None else sql.runnable_here_first
        rows, _ = self._one(statement, params)
        return [_row_to_job(row) for row in rows]

    def first_runnable(self, *, user: str, now: float) -> tuple[Job | None, bool]:
        """The user's first runnable job, and whether any job's lease has run out.

        One statement for a login: the job :meth:`runnable` with ``limit=1``
        gives, and whether :meth:`release_expired` has anything to release.

        Args:
            user: the Web Connector user.
            now: the time leases are compared with.

        Returns:
            The job (None: nothing runnable), and whether some job of any
            user is in flight past its lease.

        Raises:
            StorageError: the database could not be read.

        .. versionadded:: Unreleased
        """
        rows, _ = self._one(self._sql.first_runnable, {"user": user, "now": now})
        row = dict(rows[0])
        expired = bool(row.pop("expired_lease"))
        return (None if row["id"] is None else _row_to_job(row)), expired

    def waiting(self, *, user: str, company_file: str) -> int:
        """How many of the user's jobs wait (pending or to reconcile) for ``company_file``.

        A count of an index (user, folded company file) of waiting jobs
        only: no job row is read, and done jobs are not in it.

        Args:
            user: the Web Connector user.
            company_file: the session's company file; jobs for any file count too.

        Returns:
            The number, jobs waiting on a dependency included.

        Raises:
            StorageError: the database could not be read.
        """
        params = {"user": user, "company_key": fold_company_file(company_file)}
        rows, _ = self._one(self._sql.waiting, params)
        return int(rows[0]["n"])

    # -- transitions ----------------------------------------------------------------------------

    def claim(
        self, *, user: str, company_file: str, ticket: str, now: float, lease: float
    ) -> Job | None:
        params = {
            "user": user,
            "company_key": fold_company_file(company_file),
            "ticket": ticket,
            "lease_until": now + lease,
            "now": now,
        }

        rows, _ = self._one(self._sql.claim, params)
        job = _row_to_job(rows[0]) if rows else None
        if job is not None:
            self._log(job, "reconcile" if job.reconciling else "pending", "in_flight")
        return job

    def resume(self, job_id: int, *, ticket: str, now: float, lease: float) -> Job | None:
        """The job in flight in ``ticket``, its lease renewed: one statement.

        Args:
            job_id: the job.
            ticket: the session it must be in flight in.
            now: the time.
            lease: seconds the job stays the session's from ``now``.

        Returns:
            The job as it is now, or None when it is not in flight in
            ``ticket`` (it landed, or its lease ran out and it was released).

        Raises:
            StorageError: the database could not be written.

        .. versionadded:: Unreleased
        """
        params = {"id": job_id, "ticket": ticket, "now": now, "lease_until": now + lease}
        rows, _ = self._one(self._sql.resume, params)
        return _row_to_job(rows[0]) if rows else None

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
        return self._progress(job_id, ticket, now, None, changes) is not None

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
        """:meth:`progress`, and in the same statement :meth:`waiting`.

        Args:
            job_id: as for :meth:`progress`.
            ticket: as for :meth:`progress`.
            now: as for :meth:`progress`.
            user: whose waiting jobs to count, as for :meth:`waiting`.
            company_file: the company file they wait for, as for :meth:`waiting`.
            changes: as for :meth:`progress`.

        Returns:
            How many of the user's jobs wait for ``company_file``, or None
            when the job was not in flight in ``ticket`` (nothing changed).

        Raises:
            InvalidJobError: a field that progress does not change.
            StorageError: the database could not be written.

        .. versionadded:: Unreleased
        """
        return self._progress(job_id, ticket, now, (user, company_file), changes)

    def _progress(
        self,
        job_id: int,
        ticket: str,
        now: float,
        waiting: tuple[str, str] | None,
        changes: dict[str, Any],
    ) -> int | None:
        """Apply ``changes``; None if the job is not ours, else the count (0 when not asked)."""
        unknown = set(changes) - PROGRESS_FIELDS
        if unknown:
            raise InvalidJobError(f"progress cannot change {sorted(unknown)}")
        names = tuple(sorted(changes))
        params: dict[str, Any] = {
            n: _json_text(changes[n], n)
            if n == "staged_checkpoint"
            else int(changes[n])
            if n == "writes"
            else changes[n]
            for n in names
        }
        params.update(now=now, id=job_id, ticket=ticket)
        if waiting is None:
            return 0 if self._one(self._sql.progress(names), params)[1] == 1 else None
        params.update(user=waiting[0], company_key=fold_company_file(waiting[1]))
        rows, _ = self._one(self._sql.progress(names, counting=True), params)
        return int(rows[0]["waiting"]) if rows else None

    def _land(self, statement: TextClause, params: dict[str, Any]) -> Row | None:
        """Run a one-statement transition; the row it changed (its head), or None."""
        rows, _ = self._one(statement, params)
        return rows[0] if rows else None

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
        options = {
            "ticket": ticket,
            "now": now,
            "warning": warning,
            "keep_request": keep_request,
            "response": response,
            "pages": pages,
            "staged_checkpoint": staged_checkpoint,
        }
        return self._complete(job_id, None, options) is not None

    def complete_counting(
        self, job_id: int, *, user: str, company_file: str, **options: Any
    ) -> int | None:
        """:meth:`complete`, and in the same statement :meth:`waiting`.

        Args:
            job_id: the job.
            user: whose waiting jobs to count, as for :meth:`waiting`.
            company_file: the company file they wait for, as for :meth:`waiting`.
            options: :meth:`complete`'s keyword arguments (``ticket`` and
                ``now`` required).

        Returns:
            How many of the user's jobs wait for ``company_file`` once the
            job is done, or None when it was not in flight in ``ticket``.

        Raises:
            StorageError: the database could not be written.

        .. versionadded:: Unreleased
        """
        return self._complete(job_id, (user, company_file), options)

    def _complete(
        self, job_id: int, waiting: tuple[str, str] | None, options: dict[str, Any]
    ) -> int | None:
        """The completion; None if the job was not ours, else the count (0 when not asked)."""
        params = {
            "pages": options.get("pages"),
            "staged": _json_text(options.get("staged_checkpoint"), "staged_checkpoint"),
            "keep": int(options.get("keep_request", False)),
            "response": options.get("response"),
            "warning": options.get("warning"),
            "now": options["now"],
            "id": job_id,
            "ticket": options["ticket"],
        }
        if waiting is None:
            head = self._land(self._sql.complete, params)
        else:
            params.update(user=waiting[0], company_key=fold_company_file(waiting[1]))
            head = self._land(self._sql.complete_counting, params)
        if head is None:
            return None
        self._log(head, "in_flight", "done")
        return 0 if waiting is None else int(head["waiting"])

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
        params = {
            "code": code,
            "message": message,
            "response": response,
            "now": now,
            "id": job_id,
            "ticket": ticket,
        }

        def work(conn: Connection) -> tuple[Row | None, list[Row]]:
            head = conn.execute(self._sql.fail, params).mappings().first()
            if head is None:
                return None, []
            return head, self._block_below(conn, job_id, "failed", now)

        head, blocked = self._write(work, serializable=True)
        if head is None:
            return False
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
        params = {
            "to": to.value,
            "code": code,
            "message": message,
            "now": now,
            "id": job_id,
            "ticket": ticket,
        }
        head = self._land(self._sql.release, params)
        if head is not None:
            self._log(head, "in_flight", to.value)
        return head is not None

    def release_expired(
        self,
        *,
        now: float,
        reconcilable: Collection[str] | None,
        message: str,
        force: bool = False,
    ) -> list[Job]:
        """Release every job whose lease ran out (``force``: every job in flight).

        Args:
            now: the time.
            reconcilable: the kinds with a reconcile query (None: any kind).
            message: an unknown write's error message.
            force: release jobs in flight whose lease has not run out too:
                the operator knows their session is gone (a crash) and does
                not want to wait for the lease. A session still holding one
                finds its answer refused, as after a lease ran out.

        Returns:
            The released jobs, as they are now, in id order.

        Raises:
            StorageError: the database could not be written.
        """
        found = {"now": now, "force": int(force)}
        # Most calls find nothing: look before taking the write lock.
        if not self._one(self._sql.any_expired, found)[0]:
            return []

        def work(conn: Connection) -> list[Job]:
            # Read every user's expired jobs (on the (state, lease_until)
            # index), decide in Python with the rule the sessions use, then
            # one UPDATE per destination.
            rows = conn.execute(self._sql.expired_jobs, found).mappings().all()
            groups: dict[tuple[str, int], list[int]] = {}
            for job in self._jobs_of(conn, rows):
                to = released_state(job, reconcilable)
                unknown = int(job.writes and not job.reconciling)
                groups.setdefault((to.value, unknown), []).append(job.id)
            released: list[Job] = []
            for (to_, unknown), ids in sorted(groups.items()):
                for chunk in _chunks(ids):
                    params = {
                        "to": to_,
                        "unknown": unknown,
                        "message": message,
                        "now": now,
                        "force": int(force),
                        "ids": list(chunk),
                    }
                    done = conn.execute(self._sql.release_many, params).mappings().all()
                    released.extend(self._jobs_of(conn, done))
            return sorted(released, key=lambda job: job.id)

        released = self._write(work)
        for job in released:
            self._log(job, "in_flight", job.state.value)
        return released

    def _block_below(self, conn: Connection, job_id: int, why: str, now: float) -> list[Row]:
        """Block the waiting jobs below ``job_id``; return them as they were."""
        rows = conn.execute(self._sql.waiting_below, {"id": job_id}).mappings().all()
        if rows:
            conn.execute(
                self._sql.block_below,
                {"id": job_id, "message": f"Job {job_id} it depends on is {why}.", "now": now},
            )
        return list(rows)

    def _unblock_below(self, conn: Connection, job_id: int, now: float) -> list[Row]:
        """Unblock the jobs below ``job_id`` that nothing else keeps blocked, level by level."""
        unblocked: list[Row] = []
        while True:  # each round frees one more level; a job is freed once, so it ends
            rows = conn.execute(self._sql.free_below, {"id": job_id}).mappings().all()
            if not rows:
                return unblocked
            conn.execute(self._sql.unblock_below, {"id": job_id, "now": now})
            unblocked.extend(rows)

    def abandon_reconcile(self, job_id: int, *, now: float, message: str) -> bool:
        head = self._land(self._sql.abandon, {"message": message, "now": now, "id": job_id})
        if head is not None:
            self._log(head, "reconcile", "unknown")
        return head is not None

    def cancel(self, job_id: int, *, now: float) -> bool:
        def work(conn: Connection) -> tuple[Row | None, list[Row]]:
            head = self._head(conn, job_id)
            if head is None or head["state"] not in (
                "pending",
                "reconcile",
                "blocked",
                "unknown",
                "failed",
            ):
                return None, []
            params = {"now": now, "id": job_id, "state": head["state"]}
            if conn.execute(self._sql.cancel, params).rowcount != 1:
                return None, []  # pragma: no cover - taken between the read and the write
            return head, self._block_below(conn, job_id, "cancelled", now)

        head, blocked = self._write(work, serializable=True)
        if head is None:
            return False
        self._log(head, head["state"], "cancelled")
        for row in blocked:
            self._log(row, row["state"], "blocked")
        return True

    def withdraw(self, job_id: int, *, now: float) -> Job | None:
        """Cancel a job still waiting (pending or to reconcile); block its dependants.

        For a caller that stops waiting for a request: a job that failed or
        was done meanwhile keeps its answer, and one in flight goes on.

        Args:
            job_id: the job.
            now: the time.

        Returns:
            The job as the change left it (read by the statement that made
            it), or None: it was not waiting.

        Raises:
            StorageError: the database could not be written.
        """
        if not _is_int(job_id) or not -(2**63) <= job_id < 2**63:
            return None

        def work(conn: Connection) -> tuple[Job | None, list[Row]]:
            row = conn.execute(self._sql.withdraw, {"now": now, "id": job_id}).mappings().first()
            if row is None:
                return None, []
            return _row_to_job(row), self._block_below(conn, job_id, "cancelled", now)

        job, blocked = self._write(work, serializable=True)
        if job is None:
            return None
        self._log(job, "waiting", "cancelled")
        for row in blocked:
            self._log(row, row["state"], "blocked")
        return job

    def retry(self, job_id: int, *, now: float) -> bool:
        def work(conn: Connection) -> tuple[Row | None, list[Row]]:
            head = self._head(conn, job_id)
            if (
                head is None
                or head["replaced_by"] is not None
                or head["state"] not in ("failed", "unknown", "blocked", "cancelled")
            ):
                return None, []
            params = {"now": now, "id": job_id, "state": head["state"]}
            # Refused for a purged job and while a dependency still blocks it.
            if conn.execute(self._sql.retry, params).rowcount != 1:
                return None, []
            return head, self._unblock_below(conn, job_id, now)

        head, unblocked = self._write(work, serializable=True)
        if head is None:
            return False
        self._log(head, head["state"], "pending")
        for row in unblocked:
            self._log(row, "blocked", "pending")
        return True

    def resolve_unknown(self, job_id: int, *, happened: bool, now: float) -> bool:
        to = "done" if happened else "pending"
        head = self._land(self._sql.resolve, {"to": to, "now": now, "id": job_id})
        if head is not None:
            self._log(head, "unknown", to)
        return head is not None

    def purge(self, *, done_before: float, batch: int = 500) -> int:
        """Forget finished jobs last changed before ``done_before``; drop their dependency rows.

        A job without a key is deleted. A job with a key keeps its row as a
        tombstone (id, user, kind, key, state, company file, priority,
        times; payload, request, checkpoint and error text dropped,
        ``Job.purged`` True), so the key still names its work: start-up
        code enqueueing the key again gets the tombstone back, never a
        second write. A tombstone cannot be retried; ``if_exists="replace"``
        queues its key again.

        Each batch of ``batch`` jobs is a transaction of its own: a purge of
        millions of jobs holds SQLite's write lock (or PostgreSQL's row
        locks) for one batch at a time, and every enqueue and Web Connector
        call waits at most that long. A batch reads ``batch`` rows at most,
        whatever it keeps, so its cost does not grow with the queue.

        Args:
            done_before: seconds since the epoch.
            batch: jobs read (and at most purged) per transaction, 1 to 500.

        Returns:
            How many jobs were deleted or made tombstones. A finished job
            that an unfinished job depends on is kept, so that job can
            still learn its fate.

        Raises:
            InvalidJobError: ``batch`` is not an int from 1 to 500.
            StorageError: the database failed; the batches before it stay purged.
        """
        if not _is_int(batch) or not 1 <= batch <= 500:
            raise InvalidJobError(f"batch must be an int from 1 to 500, not {batch!r}")
        sql = self._sql
        purged = 0
        for state in ("done", "failed", "cancelled"):
            cursor: tuple[float, int] = (-math.inf, 0)
            while True:
                params = {
                    "state": state,
                    "before": done_before,
                    "after": cursor[0],
                    "after_id": cursor[1],
                    "batch": batch,
                }

                def work(conn: Connection, params: dict[str, Any] = params) -> tuple[int, Any]:
                    rows = conn.execute(sql.purge_batch, params).all()
                    if not rows:
                        return 0, None
                    ids = [int(r.id) for r in rows if r.goes]
                    kept = [int(r.id) for r in rows if r.goes and r.keyed]
                    gone = [int(r.id) for r in rows if r.goes and not r.keyed]
                    if ids:
                        conn.execute(sql.purge_deps, {"ids": ids})
                        conn.execute(sql.purge_events, {"ids": ids})
                    if kept:
                        conn.execute(sql.tombstone, {"ids": kept})
                    if gone:
                        conn.execute(sql.purge_jobs, {"ids": gone})
                    last = rows[-1]
                    # A short batch was the last: no statement to find nothing more.
                    more = len(rows) == batch
                    return len(ids), (float(last.updated), int(last.id)) if more else None

                count, last = self._write(work, serializable=True)
                purged += count
                if last is None:
                    break
                cursor = last
        if purged:
            logger.info("purged %d finished jobs", purged)
        return purged

    # -- reading for operators -----------------------------------------------------------

    def counts(self, *, user: str | None = None) -> dict[JobState, int]:
        """How many jobs are in each state; replaced jobs are not counted.

        Args:
            user: this user's jobs only; None: every user's.

        Returns:
            Every state, with 0 for those no job is in.

        Raises:
            StorageError: the database could not be read.
        """
        if user is None:
            rows, _ = self._one(self._sql.counts, {})
        else:
            rows, _ = self._one(self._sql.counts_of, {"user": user})
        counts = dict.fromkeys(JobState, 0)
        for row in rows:
            counts[JobState(row["state"])] = int(row["n"])
        return counts

    def counts_by_user(
        self, users: Iterable[str] | None = None, *, states: Iterable[JobState] | None = None
    ) -> dict[str, dict[JobState, int]]:
        """:meth:`counts` for many users at once: one GROUP BY on the (state, user) index.

        Ask only for the states you show: the index is read for those alone,
        not for the done jobs that are most of a queue.

        Args:
            users: the users wanted; None: every user with a job (in those states).
            states: the states counted; None: all. The others are 0 in the answer.

        Returns:
            For each user (each one asked for, even with no jobs), every state and its count.

        Raises:
            StorageError: the database could not be read.
        """
        wanted = None if users is None else sorted(set(users))
        counted = None if states is None else sorted({s.value for s in states})
        found: dict[str, dict[JobState, int]] = {
            name: dict.fromkeys(JobState, 0) for name in wanted or ()
        }
        clauses: list[str] = ["replaced_by IS NULL"]
        binds: list[BindParameter[Any]] = []
        if counted is not None:
            clauses.append("state IN :states")
            binds.append(bindparam("states", expanding=True))
        if wanted is not None:
            clauses.append('"user" IN :users')
            binds.append(bindparam("users", expanding=True))
        query = text(
            f'SELECT "user", state, count(*) AS n FROM {self._sql.jobs}'
            f' WHERE {" AND ".join(clauses)} GROUP BY "user", state'
        ).bindparams(*binds)
        chunks = (
            [None] if wanted is None else [wanted[i : i + 500] for i in range(0, len(wanted), 500)]
        )

        def work(conn: Connection) -> list[Any]:
            rows: list[Any] = []
            for chunk in chunks:
                params: dict[str, Any] = {}
                if counted is not None:
                    params["states"] = counted or [""]  # no states: an IN list that matches none
                if chunk is not None:
                    params["users"] = chunk
                rows.extend(conn.execute(query, params))
            return rows

        for user, state_, count in self._read(work, single=len(chunks) <= 1):
            found.setdefault(str(user), dict.fromkeys(JobState, 0))[JobState(state_)] = int(count)
        return found

    def history(self, job_id: int) -> list[JobEvent]:
        """The job's changes of state, oldest first, one per transition.

        Args:
            job_id: the job.

        Returns:
            Its events; empty for a job that does not exist or was purged.

        Raises:
            StorageError: the database could not be read.
        """
        if not _is_int(job_id) or not -(2**63) <= job_id < 2**63:
            return []  # no such job can exist (and the driver would overflow)
        rows, _ = self._one(self._sql.history, {"id": job_id})
        return [
            JobEvent(
                job_id=int(row["job_id"]),
                at=float(row["at"]),
                from_state=None if row["from_state"] is None else JobState(row["from_state"]),
                to_state=JobState(row["to_state"]),
                message=row["message"],
            )
            for row in rows
        ]


class MemoryJobQueue(SQLJobQueue):
    """Jobs in memory, for tests and single-process servers.

    The SQL queue on a private in-memory SQLite database: the same code,
    so the same behaviour, with nothing on disk.
    """

    def __init__(self) -> None:
        super().__init__(URL.create("sqlite", database=":memory:"))


if TYPE_CHECKING:
    # The type checker holds the queues to every port, signatures included.
    _implements: tuple[type[JobQueue], ...] = (SQLJobQueue, MemoryJobQueue)
