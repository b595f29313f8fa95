"""The tables of the session store and the job queue, and the steps between their versions.

Strategy: one small table of our own, ``<prefix>schema_version``, records
the version the tables are at; each step from one version to the next is a
function run in the same transaction as the row that records it, under a
lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock named after
the prefix), and the version is read again once the lock is held. So a
migration run twice is a no-op, and two processes upgrading at once take
turns: the second finds the work done.

Versions:

1. The first release's job table: dependencies in a JSON column, no
   version recorded (SQLite only; ``PRAGMA user_version`` 0).
2. Dependencies in their own table, keys unique for good (SQLite only;
   ``PRAGMA user_version`` 2). Sessions were kept in a table beside it.
3. Every table under a prefix, versioned here; the same layout on SQLite
   and PostgreSQL, and an index of each user's waiting jobs in the order a
   claim takes them.
4. Jobs keep their last answer (``response``); every change of a job's
   state is a row of ``job_events``, written by a trigger in the statement
   that changes it; the connection status, session transcripts and their
   calls have tables of their own. Sessions keep their HCP responses (tens
   of KB, set once per session) in a column of their own, ``hcp``, written
   when they change rather than with every call; a row of version 3 keeps
   them inside ``session`` and still loads.
5. Jobs keep their company file's folded form (``company_key``, see
   ``fold_company_file``), which claims compare, and an index of each
   user's waiting jobs by that key, which counts them without reading a
   row. A new database is created at this version directly.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    inspect,
    text,
)

from ..exceptions import NotAQueueDatabaseError, SchemaVersionError
from ..queue._ports import fold_company_file
from ._sql import Database

__all__ = [
    "CONNECTION_COLUMNS",
    "SCHEMA_VERSION",
    "Schema",
    "check",
    "create_triggers",
    "open_schema",
    "upgrade",
]

#: The version this release writes.
SCHEMA_VERSION = 5

_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite: the rowid itself
_TIME = Float(53)  # double precision on PostgreSQL, where REAL has 24 bits


@dataclass(frozen=True)
class Schema:
    """The tables under one prefix."""

    metadata: MetaData
    jobs: Table
    deps: Table
    sessions: Table
    versions: Table
    events: Table
    connections: Table
    transcripts: Table
    calls: Table


def schema(prefix: str) -> Schema:
    """The tables this release uses, under ``prefix``.

    Args:
        prefix: prepended to each table and index name.

    Returns:
        The tables, for creating them and for their quoted names.
    """
    md = MetaData()
    jobs = Table(
        f"{prefix}jobs",
        md,
        Column("id", _ID, Identity(), primary_key=True),
        Column("user", Text, nullable=False),
        Column("kind", Text, nullable=False),
        Column("payload", Text, nullable=False),
        Column("company_file", Text, nullable=False),
        Column("priority", BigInteger, nullable=False),
        Column("key", Text),
        Column("replaced_by", BigInteger),
        Column("state", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("ticket", Text),
        Column("lease_until", _TIME),
        Column("reconciling", Integer, nullable=False),
        Column("request", Text),
        Column("writes", Integer, nullable=False),
        Column("iterator_id", Text),
        Column("pages", Integer, nullable=False),
        Column("checkpoint", Text, nullable=False),
        Column("staged_checkpoint", Text, nullable=False),
        Column("error_code", Text),
        Column("error_message", Text),
        Column("warning", Text),
        Column("created", _TIME, nullable=False),
        Column("updated", _TIME, nullable=False),
        Column("response", Text),
        # fold_company_file(company_file), set once when the job is stored: the
        # one form claims and counts compare.
        Column("company_key", Text, nullable=False, server_default=""),
        # Ids are never reused, even those of purged jobs.
        sqlite_autoincrement=True,
    )
    c = jobs.c
    Index(f"{prefix}jobs_runnable", c.user, c.state, c.priority.desc(), c.id)
    # A claim walks a user's waiting jobs in the order it takes them and stops
    # at the first runnable one, instead of sorting every waiting job.
    waiting = c.state.in_(["pending", "reconcile"])
    Index(
        f"{prefix}jobs_waiting",
        c.user,
        c.priority.desc(),
        c.id,
        sqlite_where=waiting,
        postgresql_where=waiting,
    )
    # How many jobs wait for a company file: a count of this index alone (the
    # state in it too, or SQLite reads each row to check the index's own WHERE).
    Index(
        f"{prefix}jobs_waiting_files",
        c.user,
        c.company_key,
        c.state,
        sqlite_where=waiting,
        postgresql_where=waiting,
    )
    # The lease sweep and purge look jobs up by state and time, for every user.
    Index(f"{prefix}jobs_lease", c.state, c.lease_until)
    Index(f"{prefix}jobs_finished", c.state, c.updated)
    # The operator's counts by state and user read this index alone, and only
    # the states asked for (not the done jobs, most of the table).
    counted = c.replaced_by.is_(None)
    Index(
        f"{prefix}jobs_counts",
        c.state,
        c.user,
        sqlite_where=counted,
        postgresql_where=counted,
    )
    live_key = c.key.isnot(None) & c.replaced_by.is_(None)
    Index(
        f"{prefix}jobs_key",
        c.user,
        c.key,
        unique=True,
        sqlite_where=live_key,
        postgresql_where=live_key,
    )
    deps = Table(
        f"{prefix}job_deps",
        md,
        Column("job_id", BigInteger, nullable=False),
        Column("depends_on", BigInteger, nullable=False),
        PrimaryKeyConstraint("job_id", "depends_on"),
    )
    Index(f"{prefix}job_deps_reverse", deps.c.depends_on, deps.c.job_id)
    sessions = Table(
        f"{prefix}sessions",
        md,
        Column("ticket", Text, primary_key=True),
        Column("last_seen", _TIME, nullable=False),
        Column("session", Text, nullable=False),
        # The HCP responses as a JSON array, apart from the rest of the session
        # so that a call's save does not rewrite them; NULL until a session has them.
        Column("hcp", Text),
    )
    versions = Table(
        f"{prefix}schema_version",
        md,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("applied", _TIME, nullable=False),
    )
    events = Table(
        f"{prefix}job_events",
        md,
        Column("id", _ID, Identity(), primary_key=True),
        Column("job_id", BigInteger, nullable=False),
        Column("at", _TIME, nullable=False),
        Column("from_state", Text),
        Column("to_state", Text, nullable=False),
        Column("message", Text),
    )
    Index(f"{prefix}job_events_job", events.c.job_id, events.c.id)
    connections = Table(
        f"{prefix}connections",
        md,
        Column("user", Text, nullable=False),
        Column("company_file", Text, nullable=False),
        *(Column(name, _TIME) for name in _CONNECTION_TIMES),
        *(Column(name, Text) for name in _CONNECTION_TEXTS),
        *(Column(name, Integer) for name in _CONNECTION_COUNTS),
        PrimaryKeyConstraint("user", "company_file"),
    )
    Index(f"{prefix}connections_ticket", connections.c.ticket_key)
    transcripts = Table(
        f"{prefix}transcripts",
        md,
        Column("id", _ID, Identity(), primary_key=True),
        # A digest of the ticket: a live ticket is a credential, and a
        # transcript is read by people who need not hold one.
        Column("ticket_key", Text, nullable=False, unique=True),
        Column("ticket_prefix", Text, nullable=False),
        Column("user", Text, nullable=False),
        Column("company_file", Text, nullable=False),
        Column("started", _TIME, nullable=False),
        Column("last_at", _TIME, nullable=False),
        Column("ended", _TIME),
        Column("outcome", Text),
        Column("calls", Integer, nullable=False),
    )
    Index(f"{prefix}transcripts_user", transcripts.c.user, transcripts.c.started)
    Index(f"{prefix}transcripts_started", transcripts.c.started)
    calls = Table(
        f"{prefix}transcript_calls",
        md,
        Column("id", _ID, Identity(), primary_key=True),
        Column("transcript_id", BigInteger, nullable=False),
        Column("operation", Text, nullable=False),
        Column("at", _TIME, nullable=False),
        Column("duration", _TIME, nullable=False),
        Column("arguments", Text, nullable=False),
        Column("answer", Text, nullable=False),
        Column("error_code", Text),
        Column("job_id", BigInteger),
    )
    Index(f"{prefix}transcript_calls_transcript", calls.c.transcript_id, calls.c.id)
    return Schema(md, jobs, deps, sessions, versions, events, connections, transcripts, calls)


#: The connection status's time, text and count columns (see ``_status``).
_CONNECTION_TIMES = (
    "last_seen",
    "last_success",
    "session_started",
    "last_error_at",
    "connection_error_at",
)
_CONNECTION_TEXTS = (
    "client_version",
    "product",
    "qb_version",
    "company_name",
    "qbxml_versions",
    "ticket",
    "ticket_key",
    "last_error_code",
    "last_error_message",
    "connection_error_code",
    "connection_error_message",
)
_CONNECTION_COUNTS = ("session_calls", "progress")
#: Every column of a connection status row but its key (user, company file).
CONNECTION_COLUMNS = frozenset(_CONNECTION_TIMES + _CONNECTION_TEXTS + _CONNECTION_COUNTS)


def _event_message(new: str) -> str:
    """What a job event says, from the job's row after the change (``new``: NEW in a trigger).

    Sent: the session (the first 8 characters of its ticket only); done:
    the warning, if any; otherwise the error code and message the state
    change left, if any.
    """
    return (
        f"CASE WHEN {new}.state = 'in_flight'"
        f" THEN 'sent in session ' || substr(COALESCE({new}.ticket, ''), 1, 8) || '...'"
        f" WHEN {new}.state = 'done' THEN {new}.warning"
        f" WHEN {new}.error_code IS NOT NULL"
        f" THEN {new}.error_code || COALESCE(': ' || {new}.error_message, '')"
        f" ELSE {new}.error_message END"
    )


def create_triggers(db: Database, conn: Connection, s: Schema) -> None:
    """Make the triggers that write a job event for every insert and change of state.

    A trigger, not a second statement in the queue's code: the event is
    written by the very statement that changes the state, so no transition
    (one-statement claims, bulk sweeps, an operator's SQL) can miss one,
    and the queue's one-statement fast paths stay one statement.
    """
    jobs, events, p = _q(conn, s.jobs), _q(conn, s.events), db.prefix
    insert = f"INSERT INTO {events} (job_id, at, from_state, to_state, message)"
    if db.sqlite:
        for statement in (
            f"CREATE TRIGGER IF NOT EXISTS {p}job_created AFTER INSERT ON {jobs}"
            f" BEGIN {insert} VALUES (NEW.id, NEW.created, NULL, NEW.state,"
            f" {_event_message('NEW')}); END",
            f"CREATE TRIGGER IF NOT EXISTS {p}job_moved AFTER UPDATE OF state ON {jobs}"
            f" WHEN OLD.state != NEW.state"
            f" BEGIN {insert} VALUES (NEW.id, NEW.updated, OLD.state, NEW.state,"
            f" {_event_message('NEW')}); END",
        ):
            conn.exec_driver_sql(statement)
        return
    for statement in (
        f"CREATE OR REPLACE FUNCTION {p}job_event() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF TG_OP = 'INSERT' THEN {insert} VALUES (NEW.id, NEW.created, NULL,"
        f" NEW.state, {_event_message('NEW')}); ELSE {insert} VALUES (NEW.id, NEW.updated,"
        f" OLD.state, NEW.state, {_event_message('NEW')}); END IF; RETURN NULL; END $$",
        f"DROP TRIGGER IF EXISTS {p}job_created ON {jobs}",
        f"CREATE TRIGGER {p}job_created AFTER INSERT ON {jobs}"
        f" FOR EACH ROW EXECUTE FUNCTION {p}job_event()",
        f"DROP TRIGGER IF EXISTS {p}job_moved ON {jobs}",
        f"CREATE TRIGGER {p}job_moved AFTER UPDATE OF state ON {jobs}"
        f" FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)"
        f" EXECUTE FUNCTION {p}job_event()",
    ):
        conn.exec_driver_sql(statement)


# -- finding the version --------------------------------------------------------------------


def _version(db: Database, conn: Connection, s: Schema) -> int | None:
    """The version the tables are at; None when there are none under the prefix.

    Raises:
        NotAQueueDatabaseError: tables of that name that are not ours, or not a database.
    """
    names = set(inspect(conn).get_table_names())
    if s.versions.name in names:
        found = conn.execute(text(f"SELECT MAX(version) FROM {_q(conn, s.versions)}")).scalar()
        return int(found or 0)
    ours = {s.jobs.name, s.sessions.name} & names
    if not ours:
        return None
    if not db.sqlite:
        raise NotAQueueDatabaseError(
            f"{db.display} holds tables named {sorted(ours)} but no"
            f" {s.versions.name}: they are not this library's"
        )
    if s.jobs.name not in names:
        return 2  # sessions only: that table has not changed since the first release
    user_version = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    columns = {col["name"] for col in inspect(conn).get_columns(s.jobs.name)}
    if user_version == 2 and s.deps.name in names:
        return 2
    if user_version == 0 and {"depends_on", "state"} <= columns:
        return 1
    if user_version > 2:
        raise NotAQueueDatabaseError(
            f"{db.display} holds a job queue of a newer release (layout {user_version})"
        )
    raise NotAQueueDatabaseError(f"{db.display} holds tables that are not a job queue")


def _q(conn: Connection, table: Table) -> str:
    return conn.dialect.identifier_preparer.format_table(table)


# -- steps ----------------------------------------------------------------------------------

# Version 1 -> 2 (SQLite): dependencies move from a JSON column to their own
# table; keys become unique for good (older finished jobs sharing a key are
# marked replaced by the next one); checkpoints gain their staged half.
_COPIED = (
    "id, user, kind, payload, company_file, priority, key, state, attempts, ticket,"
    " lease_until, reconciling, request, writes, iterator_id, pages, checkpoint,"
    " error_code, error_message, warning, created, updated"
)
_V2_JOBS = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, kind TEXT NOT NULL,
    payload TEXT NOT NULL, company_file TEXT NOT NULL, priority INTEGER NOT NULL, key TEXT,
    replaced_by INTEGER, state TEXT NOT NULL, attempts INTEGER NOT NULL, ticket TEXT,
    lease_until REAL, reconciling INTEGER NOT NULL, request TEXT, writes INTEGER NOT NULL,
    iterator_id TEXT, pages INTEGER NOT NULL, checkpoint TEXT NOT NULL,
    staged_checkpoint TEXT NOT NULL, error_code TEXT, error_message TEXT, warning TEXT,
    created REAL NOT NULL, updated REAL NOT NULL
)
"""


def _v1_to_v2(db: Database, conn: Connection, s: Schema) -> None:
    jobs, deps, p = s.jobs.name, s.deps.name, db.prefix
    seq = conn.exec_driver_sql(f"SELECT seq FROM sqlite_sequence WHERE name = '{jobs}'").scalar()
    for statement in (
        _V2_JOBS.format(name=f"{jobs}_v2"),
        f"INSERT INTO {jobs}_v2 ({_COPIED}, staged_checkpoint, replaced_by)"
        f" SELECT {_COPIED}, 'null', NULL FROM {jobs}",
        f"CREATE TABLE {deps} ("
        " job_id INTEGER NOT NULL, depends_on INTEGER NOT NULL, PRIMARY KEY (job_id, depends_on))",
        f"INSERT OR IGNORE INTO {deps} (job_id, depends_on)"
        f" SELECT j.id, CAST(d.value AS INTEGER) FROM {jobs} AS j, json_each(j.depends_on) AS d",
        f"UPDATE {jobs}_v2 SET replaced_by = (SELECT MIN(n.id) FROM {jobs}_v2 AS n"
        f" WHERE n.user = {jobs}_v2.user AND n.key = {jobs}_v2.key AND n.id > {jobs}_v2.id)"
        " WHERE key IS NOT NULL",
        f"DROP TABLE {jobs}",
        f"ALTER TABLE {jobs}_v2 RENAME TO {jobs}",
        f"CREATE INDEX {p}jobs_runnable ON {jobs} (user, state, priority DESC, id)",
        f"CREATE INDEX {p}jobs_lease ON {jobs} (state, lease_until)",
        f"CREATE INDEX {p}jobs_finished ON {jobs} (state, updated)",
        f"CREATE UNIQUE INDEX {p}jobs_key ON {jobs} (user, key)"
        " WHERE key IS NOT NULL AND replaced_by IS NULL",
        f"CREATE INDEX {p}job_deps_reverse ON {deps} (depends_on, job_id)",
        # Ids are never reused, even those of jobs deleted before the upgrade.
        f"DELETE FROM sqlite_sequence WHERE name = '{jobs}'",
    ):
        conn.exec_driver_sql(statement)
    conn.exec_driver_sql(
        f"INSERT INTO sqlite_sequence (name, seq)"
        f" SELECT '{jobs}', MAX(COALESCE(MAX(id), 0), ?) FROM {jobs}",
        (int(seq or 0),),
    )
    conn.exec_driver_sql("PRAGMA user_version = 2")


def _v2_to_v3(db: Database, conn: Connection, s: Schema) -> None:
    # The layout of version 2 is kept; what the files of that time may lack
    # (a sessions-only file has no job tables, a jobs-only file no sessions)
    # is made, and the version is recorded from now on in its own table.
    names = set(inspect(conn).get_table_names())
    missing = [t for t in (s.jobs, s.deps, s.sessions) if t.name not in names]
    s.metadata.create_all(conn, tables=[*missing, s.versions])
    if s.jobs not in missing:
        # The one index version 3 adds to the job table.
        for index in s.jobs.indexes:
            if index.name == f"{db.prefix}jobs_waiting":
                index.create(conn)


def _v3_to_v4(db: Database, conn: Connection, s: Schema) -> None:
    # Additions only: a column, new tables, triggers. Every job is kept as it is.
    columns = {col["name"] for col in inspect(conn).get_columns(s.jobs.name)}
    if "response" not in columns:  # a jobs table made by step 2 -> 3 has it already
        conn.exec_driver_sql(f"ALTER TABLE {_q(conn, s.jobs)} ADD COLUMN response TEXT")
    s.metadata.create_all(conn, tables=[s.events, s.connections, s.transcripts, s.calls])
    for index in s.jobs.indexes:
        if index.name == f"{db.prefix}jobs_counts":
            index.create(conn, checkfirst=True)
    create_triggers(db, conn, s)
    # Jobs older than the history: one event each, saying where they stood.
    conn.exec_driver_sql(
        f"INSERT INTO {_q(conn, s.events)} (job_id, at, from_state, to_state, message)"
        f" SELECT id, updated, NULL, state, 'history starts at schema version 4'"
        f" FROM {_q(conn, s.jobs)} ORDER BY id"
    )
    # Sessions of version 3 keep their HCP responses inside ``session``:
    # they load as they are, and move to the new column at their next save.
    # A sessions table made by the step before already has the column.
    columns = {col["name"] for col in inspect(conn).get_columns(s.sessions.name)}
    if "hcp" not in columns:
        conn.execute(text(f"ALTER TABLE {_q(conn, s.sessions)} ADD COLUMN hcp TEXT"))


def _v4_to_v5(db: Database, conn: Connection, s: Schema) -> None:
    # The folded form is Python's (str.casefold), so it is filled here, one
    # UPDATE per distinct company file (a handful), not by SQL's lower().
    jobs = _q(conn, s.jobs)
    columns = {col["name"] for col in inspect(conn).get_columns(s.jobs.name)}
    if "company_key" not in columns:  # a jobs table made by step 2 -> 3 has it already
        conn.exec_driver_sql(f"ALTER TABLE {jobs} ADD COLUMN company_key TEXT NOT NULL DEFAULT ''")
    names = conn.execute(
        text(f"SELECT DISTINCT company_file FROM {jobs} WHERE company_file != ''")
    ).scalars()
    for name in list(names):
        conn.execute(
            text(f"UPDATE {jobs} SET company_key = :key WHERE company_file = :name"),
            {"key": fold_company_file(name), "name": name},
        )
    for index in s.jobs.indexes:
        if index.name == f"{db.prefix}jobs_waiting_files":
            index.create(conn, checkfirst=True)


#: Each step, by the version it starts from.
STEPS: dict[int, Callable[[Database, Connection, Schema], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
}


# -- opening --------------------------------------------------------------------------------


def _lock(db: Database, conn: Connection) -> None:
    """Serialize migrations of one prefix (SQLite: the write lock is already held)."""
    if not db.sqlite:
        key = zlib.crc32(f"qbwc_spyne schema {db.prefix}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _migrate(db: Database, conn: Connection, s: Schema, *, create: bool) -> tuple[int, int]:
    _lock(db, conn)
    found = _version(db, conn, s)  # again, now that the lock is held
    if found is None:
        if not create:
            return 0, 0
        s.metadata.create_all(conn)
        create_triggers(db, conn, s)
        conn.execute(s.versions.insert(), {"version": SCHEMA_VERSION, "applied": time.time()})
        return 0, SCHEMA_VERSION
    version = found
    while version < SCHEMA_VERSION:
        STEPS[version](db, conn, s)
        version += 1
        if version >= 3:
            conn.execute(s.versions.insert(), {"version": version, "applied": time.time()})
    return found, version


def current_version(db: Database) -> int | None:
    """The version of the tables under ``db.prefix``; None when there are none.

    Raises:
        NotAQueueDatabaseError: the tables are not this library's.
        StorageError: the database could not be read.
    """
    s = schema(db.prefix)
    return db.run(lambda conn: _version(db, conn, s), what="the database", write=False)


def upgrade(db: Database) -> tuple[int, int]:
    """Create or upgrade the tables to :data:`SCHEMA_VERSION`; return (before, after).

    Args:
        db: the database; its prefix names the tables.

    Returns:
        The version found (0 for none) and the version now.

    Raises:
        NotAQueueDatabaseError: tables of our names that are not ours, or a newer version.
        StorageError: the database failed; nothing was changed.
    """
    s = schema(db.prefix)
    before = current_version(db)
    if before is not None and before > SCHEMA_VERSION:
        raise _newer(db, before)
    if before == SCHEMA_VERSION:
        return before, before
    return db.run(lambda conn: _migrate(db, conn, s, create=True), what="the database")


def check(db: Database) -> tuple[int, int]:
    """The version found (0 for none) and the version this release needs.

    Raises:
        NotAQueueDatabaseError: tables of our names that are not ours.
        StorageError: the database could not be read.
    """
    return current_version(db) or 0, SCHEMA_VERSION


def upgrade_command(db: Database) -> str:
    """The command an operator runs to upgrade ``db`` (its URL without the password)."""
    target = db.display if db.sqlite else db.url.render_as_string(hide_password=True)
    return f"qbwc-spyne db upgrade --db {target}"


def _newer(db: Database, version: int) -> NotAQueueDatabaseError:
    return NotAQueueDatabaseError(
        f"{db.display} holds tables of a newer release (schema version {version},"
        f" this release knows {SCHEMA_VERSION})"
    )


def open_schema(db: Database, *, create: bool, upgrade: bool, need: str) -> None:
    """Make sure the tables are at this release's version before they are used.

    A database with none of our tables is created at the current version
    (when ``create``); one at an older version is upgraded only when the
    caller asks (``upgrade``), else refused with the command to run.

    Args:
        db: the database.
        create: create the tables in an empty database.
        upgrade: upgrade older tables in place.
        need: the table that must exist afterwards ("jobs" or "sessions").

    Raises:
        SchemaVersionError: older tables, and ``upgrade`` is False.
        NotAQueueDatabaseError: no tables and ``create`` is False, tables
            that are not ours, or a newer version.
        StorageError: the database failed.
    """
    s = schema(db.prefix)
    found = current_version(db)
    if found == SCHEMA_VERSION:
        return
    if found is None:
        if not create:
            raise NotAQueueDatabaseError(f"{db.display} holds no job queue")
        db.run(lambda conn: _migrate(db, conn, s, create=True), what="the database")
        return
    if found > SCHEMA_VERSION:
        raise _newer(db, found)
    if need == "jobs" and not create and found == 2:
        names = db.run(lambda c: set(inspect(c).get_table_names()), what="the database")
        if s.jobs.name not in names:
            raise NotAQueueDatabaseError(f"{db.display} holds no job queue")
    if not upgrade:
        raise SchemaVersionError(
            f"the database at {db.display} is at schema version {found}, this release"
            f" needs {SCHEMA_VERSION}: run `{upgrade_command(db)}`",
            found=found,
            wanted=SCHEMA_VERSION,
        )
    db.run(lambda conn: _migrate(db, conn, s, create=True), what="the database")
