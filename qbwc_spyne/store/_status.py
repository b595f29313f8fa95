"""What the operator sees: each connection's status, and the transcripts of recent sessions.

A :class:`~qbwc_spyne.status.StatusStore` keeps one row per Web Connector
user and company file (:class:`~qbwc_spyne.status.ConnectionStatus`) and,
per session, a :class:`~qbwc_spyne.status.SessionTranscript` with its
calls. The :class:`~qbwc_spyne.status.StatusRecorder` writes them as the
calls are answered; the operator's tools read them. The model and the
interface are the status package's (``qbwc_spyne.status._model``); this
module holds the stores that implement it.

Theory of operation
-------------------
Each answered call writes in as few statements as it can, each statement
its own transaction (a status row and a transcript's call are facts of
their own: neither needs the other): the status row's upsert (only the
columns the call changed), and, for a session's call, a row of its
transcript. The status row is keyed by (user, company file). A call that
comes before the company file is known (authenticate) goes to the user's
most recently seen row, found by the upsert itself; when a user's first
session names its company file, the row made before it (company "") is
renamed to it, so a user with one company file has one row.

A transcript's row is written when its session starts, ends, changes
company file or passes ``max_calls``, not on every call: while it is open,
its call count and last call are read from its calls (at most
``max_calls`` rows, through their index), and written into the row when
it ends. A call whose number in its session is known (the recorder gives
it: the session counts its calls) is one statement.

A ticket is a credential while its session lives, and the people who read
a status or a transcript need not hold one: the tables keep a digest of
the ticket (to find the session's rows) and its first 8 characters (to
show), never the ticket. Bodies in a transcript are cut to ``body_cap``
bytes; a transcript keeps at most ``max_calls`` calls (it still counts
them all), and each user keeps the last ``keep_sessions`` transcripts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Executable, Table, text
from sqlalchemy.engine import URL

from ..exceptions import NotAQueueDatabaseError, StorageError

# The model is the status package's: these stores implement its StatusStore.
from ..status._model import (
    CallEntry,
    ConnectionStatus,
    SessionTranscript,
    StatusStore,
    StatusUpdate,
    TranscriptCall,
    ticket_key,
    ticket_prefix,
)
from ._migrations import CONNECTION_COLUMNS, open_schema, schema
from ._sql import Database

__all__ = [
    "BODY_CAP",
    "CallEntry",
    "ConnectionStatus",
    "MemoryStatusStore",
    "SQLStatusStore",
    "SessionTranscript",
    "StatusStore",
    "StatusUpdate",
    "TranscriptCall",
    "cut",
    "ticket_key",
    "ticket_prefix",
]

#: Bytes of a body a transcript keeps, by default.
BODY_CAP = 2048

#: The columns of a status row a call may set: all but its key (the table is
#: defined once, in ``_migrations``).
STATUS_COLUMNS = CONNECTION_COLUMNS


def cut(value: str, limit: int) -> str:
    """``value`` if it fits in ``limit`` bytes of UTF-8; else its head and a note, within ``limit``.

    The note says how long the value was, so a cut body is never taken for a whole one.
    """
    data = value.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return value
    note = f"... [truncated: {len(data)} bytes]"
    head = data[: max(limit - len(note), 0)].decode("utf-8", errors="ignore")  # no half character
    return f"{head}{note}"


# -- SQL --------------------------------------------------------------------------------------


def _time(value: Any) -> float | None:
    return None if value is None else float(value)


def _row_to_status(row: Mapping[Any, Any]) -> ConnectionStatus:
    versions = row["qbxml_versions"]
    return ConnectionStatus(
        user=row["user"],
        company_file=row["company_file"],
        last_seen=_time(row["last_seen"]),
        last_success=_time(row["last_success"]),
        session_started=_time(row["session_started"]),
        last_error_at=_time(row["last_error_at"]),
        connection_error_at=_time(row["connection_error_at"]),
        client_version=row["client_version"] or "",
        product=row["product"] or "",
        qb_version=row["qb_version"] or "",
        company_name=row["company_name"] or "",
        qbxml_versions=versions.split(",") if versions else [],
        ticket=row["ticket"],
        session_calls=int(row["session_calls"] or 0),
        progress=None if row["progress"] is None else int(row["progress"]),
        last_error_code=row["last_error_code"],
        last_error_message=row["last_error_message"],
        connection_error_code=row["connection_error_code"],
        connection_error_message=row["connection_error_message"],
    )


def _row_to_transcript(
    row: Mapping[Any, Any], calls: list[TranscriptCall] | None = None
) -> SessionTranscript:
    return SessionTranscript(
        id=int(row["id"]),
        ticket_prefix=row["ticket_prefix"],
        user=row["user"],
        company_file=row["company_file"],
        started=float(row["started"]),
        last_at=float(row["last_at"]),
        ended=None if row["ended"] is None else float(row["ended"]),
        outcome=row["outcome"],
        call_count=int(row["calls"]),
        calls=calls or [],
    )


def _check_page(limit: Any, offset: Any) -> None:
    for name, value, top in (("limit", limit, 10_000), ("offset", offset, 2**53)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
            raise ValueError(f"{name} must be an int from 0 to {top}, not {value!r}")


class SQLStatusStore:
    """Connection status and session transcripts in a SQL database (SQLite or PostgreSQL).

    The tables live beside the job queue's, under the same prefix.

    Args:
        target: a database URL, a path to a SQLite file, a SQLAlchemy
            engine, or an open :class:`~qbwc_spyne.store._sql.Database`
            (shared, for instance, with a job queue of the same process).
        prefix: prepended to the name of each table (ignored for a ``Database``).
        create: create the tables in an empty database (the default). With
            False, a database without them is refused and nothing is written.
        upgrade: upgrade tables of an older release in place.
        timeout: seconds a SQLite write waits for another process's lock;
            seconds a PostgreSQL connection attempt waits (ignored for a
            ``Database``).
        pool_size: connections each process keeps to PostgreSQL (ignored
            for a ``Database``).
        keep_sessions: transcripts kept per user; older ones are deleted
            when a new session begins.
        max_calls: calls kept per transcript (the rest are only counted).
        body_cap: bytes of each body (arguments, answers) a transcript keeps.

    Raises:
        DatabaseURLError: a malformed or unsupported URL.
        SchemaVersionError: tables of an older release and no ``upgrade``.
        NotAQueueDatabaseError: tables of our names that are not ours.
        StorageError: the database failed; each method raises it too.
        ValueError: a negative ``keep_sessions``, ``max_calls`` or ``body_cap``.

    .. versionadded:: Unreleased
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | Engine | URL | Database,
        *,
        prefix: str = "qbwc_",
        create: bool = True,
        upgrade: bool = False,
        timeout: float = 10.0,
        pool_size: int = 5,
        keep_sessions: int = 50,
        max_calls: int = 500,
        body_cap: int = BODY_CAP,
    ) -> None:
        for name, value in (
            ("keep_sessions", keep_sessions),
            ("max_calls", max_calls),
            ("body_cap", body_cap),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an int of 0 or more, not {value!r}")
        self.keep_sessions, self.max_calls, self.body_cap = keep_sessions, max_calls, body_cap
        self._own = not isinstance(target, Database)
        self._db = (
            target
            if isinstance(target, Database)
            else Database(
                target, prefix=prefix, timeout=timeout, create=create, pool_size=pool_size
            )
        )
        try:
            open_schema(self._db, create=create, upgrade=upgrade, need="sessions")
        except BaseException as exc:
            if self._own:
                self._db.close()
            # Without create, a missing file is not made: it holds no tables, as
            # an empty one does, and is refused alike.
            if not create and isinstance(exc, StorageError) and "unable to open" in str(exc):
                raise NotAQueueDatabaseError(f"no job queue at {self._db.display}") from None
            raise
        s = schema(self._db.prefix)
        self._table: Table = s.connections
        self._postgresql = not self._db.sqlite
        self._upserts: dict[tuple[tuple[str, ...], bool], Executable] = {}
        #: (user, company) rows this process has written: their "" row needs no rename.
        self._known: set[tuple[str, str]] = set()
        #: The company file this process last wrote in each open transcript (by ticket digest).
        self._companies: dict[str, str] = {}
        c, t, k = s.connections.name, s.transcripts.name, s.calls.name
        # The user's most recently seen row: where a call goes before its company file is known.
        self._latest = (
            f'SELECT o.company_file FROM {c} AS o WHERE o."user" = :user'
            " ORDER BY o.last_seen DESC, o.company_file LIMIT 1"
        )
        # The row made before the company file was known becomes that company's.
        self._rename = text(
            f"UPDATE {c} SET company_file = :company WHERE \"user\" = :user AND company_file = ''"
            f' AND NOT EXISTS (SELECT 1 FROM {c} AS o WHERE o."user" = :user'
            " AND o.company_file = :company)"
        )
        self._end_status = text(
            f"UPDATE {c} SET ticket = NULL, ticket_key = NULL,"
            " last_error_code = COALESCE(:code, last_error_code),"
            " last_error_message = CASE WHEN CAST(:code AS TEXT) IS NULL"
            " THEN last_error_message ELSE :message END,"
            " last_error_at = CASE WHEN CAST(:code AS TEXT) IS NULL THEN last_error_at ELSE :at END"
            " WHERE ticket_key = :key"
        )
        self._clear_ticket = text(
            f"UPDATE {c} SET ticket = NULL, ticket_key = NULL WHERE ticket_key = :key"
        )
        # An open transcript's count and last call, from its calls (see the module's notes).
        greatest = "GREATEST" if self._postgresql else "MAX"
        kept = f"(SELECT COUNT(*) FROM {k} AS x WHERE x.transcript_id = {t}.id)"
        last = (
            f"(SELECT x.at FROM {k} AS x WHERE x.transcript_id = {t}.id ORDER BY x.id DESC LIMIT 1)"
        )
        calls_now = (
            f"CASE WHEN {t}.ended IS NULL THEN {greatest}({t}.calls, {kept}) ELSE {t}.calls END"
        )
        latest_at = f"{greatest}({t}.last_at, COALESCE({last}, {t}.last_at))"
        last_now = f"CASE WHEN {t}.ended IS NULL THEN {latest_at} ELSE {t}.last_at END"
        self._end_transcript = text(
            f"UPDATE {t} SET calls = {calls_now}, last_at = {last_now}, ended = :at,"
            " outcome = :outcome WHERE ticket_key = :key AND ended IS NULL"
        )
        self._abandon = text(
            f"UPDATE {t} SET calls = {calls_now}, last_at = {last_now}, ended = {last_now},"
            " outcome = 'abandoned'"
            ' WHERE "user" = :user AND ended IS NULL AND ticket_key != :key'
        )
        # The user's other transcripts, told by the insert itself: most logins
        # abandon none and trim none, and so cost no statement for either.
        self._open = text(
            f'INSERT INTO {t} (ticket_key, ticket_prefix, "user", company_file, started,'
            " last_at, calls) VALUES (:key, :prefix, :user, :company, :at, :at, 0)"
            " ON CONFLICT (ticket_key) DO NOTHING RETURNING"
            f' (SELECT COUNT(*) FROM {t} AS o WHERE o."user" = :user AND o.ticket_key != :key'
            " AND o.ended IS NULL) AS open,"
            f' (SELECT COUNT(*) FROM {t} AS o WHERE o."user" = :user AND o.ticket_key != :key)'
            " AS others"
        )
        keep = f'SELECT id FROM {t} WHERE "user" = :user ORDER BY id DESC LIMIT :keep'
        self._trim_calls = text(
            f"DELETE FROM {k} WHERE transcript_id IN (SELECT id FROM {t}"
            f' WHERE "user" = :user AND id NOT IN ({keep}))'
        )
        self._trim = text(f'DELETE FROM {t} WHERE "user" = :user AND id NOT IN ({keep})')
        self._add_call = text(
            f"INSERT INTO {k} (transcript_id, operation, at, duration, arguments, answer,"
            " error_code, job_id) SELECT id, CAST(:operation AS TEXT), :at, :duration,"
            " CAST(:arguments AS TEXT), CAST(:answer AS TEXT), CAST(:error_code AS TEXT),"
            f" CAST(:job_id AS BIGINT) FROM {t} WHERE ticket_key = :key AND calls < :max_calls"
        )
        self._count_call = text(
            f"UPDATE {t} SET calls = CASE WHEN CAST(:number AS BIGINT) > 0 THEN :number"
            " ELSE calls + 1 END, last_at = :at,"
            " company_file = CASE WHEN CAST(:company AS TEXT) = '' THEN company_file"
            " ELSE :company END,"
            " ended = CASE WHEN CAST(:outcome AS TEXT) IS NULL THEN ended ELSE :at END,"
            " outcome = COALESCE(:outcome, outcome) WHERE ticket_key = :key"
        )
        self._statuses = text(f'SELECT * FROM {c} ORDER BY "user", company_file')
        self._statuses_of = text(
            f'SELECT * FROM {c} WHERE "user" = :user ORDER BY "user", company_file'
        )
        head = (
            f'id, ticket_prefix, "user", company_file, started, {last_now} AS last_at, ended,'
            f" outcome, {calls_now} AS calls"
        )
        self._list = text(f"SELECT {head} FROM {t} ORDER BY id DESC LIMIT :limit OFFSET :offset")
        self._list_of = text(
            f'SELECT {head} FROM {t} WHERE "user" = :user ORDER BY id DESC'
            " LIMIT :limit OFFSET :offset"
        )
        self._by_id = text(f"SELECT {head} FROM {t} WHERE id = :id")
        self._by_key = text(f"SELECT {head} FROM {t} WHERE ticket_key = :key")
        self._calls = text(
            "SELECT operation, at, duration, arguments, answer, error_code, job_id"
            f" FROM {k} WHERE transcript_id = :id ORDER BY id"
        )

    def close(self) -> None:
        """Close this process's connections (of a database this store opened)."""
        if self._own:
            self._db.close()

    # -- writing --------------------------------------------------------------------------------

    def _one(self, statement: Executable, params: Mapping[str, Any]) -> list[Mapping[Any, Any]]:
        """Run one statement as its own transaction; return its rows."""
        return self._db.one(statement, params, what="the status store")[0]

    def _upsert(self, names: tuple[str, ...], latest: bool) -> Executable:
        """Write the row of a user and company file: the user's latest row with ``latest``."""
        found = self._upserts.get((names, latest))
        if found is None:
            company = f"COALESCE(({self._latest}), '')" if latest else ":company_file"
            columns = "".join(f", {name}" for name in names)
            values = "".join(f", :{name}" for name in names)
            change = (
                "DO UPDATE SET " + ", ".join(f"{name} = excluded.{name}" for name in names)
                if names
                else "DO NOTHING"  # the row, nothing else
            )
            found = text(
                f'INSERT INTO {self._table.name} ("user", company_file{columns})'
                f' VALUES (:user, {company}{values}) ON CONFLICT ("user", company_file) {change}'
            )
            self._upserts[(names, latest)] = found
        return found

    def _update(self, names: tuple[str, ...], latest: bool) -> Executable:
        """Change a row that exists: the user's latest with ``latest``."""
        assignments = ", ".join(f"{name} = :{name}" for name in names)
        company = f"({self._latest})" if latest else ":company_file"
        return text(
            f"UPDATE {self._table.name} SET {assignments}"
            f' WHERE "user" = :user AND company_file = {company}'
        )

    def _apply_update(self, update: StatusUpdate) -> None:
        company = update.company_file
        if company and (update.user, company) not in self._known:
            self._one(self._rename, {"user": update.user, "company": company})
        names = tuple(sorted(update.values))
        params = {**update.values, "user": update.user, "company_file": company}
        if update.create:
            self._one(self._upsert(names, latest=company is None), params)
        elif names:
            self._one(self._update(names, latest=company is None), params)
        if update.ends:
            self._one(self._clear_ticket, {"key": ticket_key(update.ends)})

    def _apply_entry(self, entry: CallEntry) -> None:
        key = ticket_key(entry.ticket)
        if entry.starts:
            params = {"user": entry.user, "key": key}
            opened = self._one(
                self._open,
                {
                    **params,
                    "prefix": ticket_prefix(entry.ticket),
                    "company": entry.company_file,
                    "at": entry.at,
                },
            )
            if opened and opened[0]["open"]:
                self._one(self._abandon, params)
            if opened and opened[0]["others"] >= self.keep_sessions:
                trim = {"user": entry.user, "keep": self.keep_sessions}
                self._one(self._trim_calls, trim)
                self._one(self._trim, trim)
            if len(self._companies) > 10_000:  # transcripts that ended unseen: forget them
                self._companies.clear()
            self._companies[key] = entry.company_file
        number = entry.number
        if not number or number <= self.max_calls:
            arguments = {
                name: self._scrub(value, entry.ticket) for name, value in entry.arguments.items()
            }
            self._one(
                self._add_call,
                {
                    "key": key,
                    "operation": entry.operation,
                    "at": entry.at,
                    "duration": entry.duration,
                    "arguments": json.dumps(arguments, ensure_ascii=False),
                    "answer": self._scrub(entry.answer, entry.ticket),
                    "error_code": entry.error_code,
                    "job_id": entry.job_id,
                    "max_calls": self.max_calls,
                },
            )
        moved = entry.company_file and self._companies.get(key) != entry.company_file
        if not number or number > self.max_calls or entry.outcome is not None or moved:
            # What the calls alone cannot tell: a count the store keeps, a call
            # past max_calls, the end, a new company file.
            self._one(
                self._count_call,
                {
                    "key": key,
                    "at": entry.at,
                    "company": entry.company_file,
                    "outcome": entry.outcome,
                    "number": number,
                },
            )
            self._companies[key] = entry.company_file
        if entry.outcome is not None:
            self._companies.pop(key, None)

    def _scrub(self, value: Any, ticket: str) -> Any:
        """A value as a transcript keeps it: the ticket as its prefix, bodies cut."""
        if not isinstance(value, str):
            return value
        if ticket:
            value = value.replace(ticket, f"{ticket_prefix(ticket)}...")
        return cut(value, self.body_cap)

    def record(self, *, update: StatusUpdate | None = None, entry: CallEntry | None = None) -> None:
        """Apply one call: its status change and its transcript call.

        Each statement is its own transaction (see the module's notes): one
        for the status and one for the call, most of the time.

        Args:
            update: the status row's change, if any.
            entry: the call, for its session's transcript, if any.

        Raises:
            ValueError: ``update`` names a column that is not a status column
                (before anything is written).
            StorageError: the database failed.
        """
        if update is not None:
            unknown = set(update.values) - STATUS_COLUMNS
            if unknown:
                raise ValueError(f"not status columns: {sorted(unknown)}")
            self._apply_update(update)
            if update.company_file:
                self._known.add((update.user, update.company_file))
        if entry is not None:
            self._apply_entry(entry)

    def end_session(
        self,
        ticket: str,
        *,
        at: float,
        outcome: str,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Close a session that ended unseen: its status no longer names it, its transcript ends.

        Args:
            ticket: the session's ticket.
            at: when it was found ended.
            outcome: what its transcript says, e.g. "expired".
            error_code: noted as the status's last error's code, when given.
            error_message: noted as the status's last error's message, when given.

        Raises:
            StorageError: the database failed.
        """
        key = ticket_key(ticket)

        def work(conn: Connection) -> None:
            conn.execute(
                self._end_status,
                {"key": key, "code": error_code, "message": error_message, "at": at},
            )
            conn.execute(self._end_transcript, {"key": key, "at": at, "outcome": outcome})

        self._db.run(work, what="the status store")

    # -- reading --------------------------------------------------------------------------------

    def statuses(self, *, user: str | None = None) -> list[ConnectionStatus]:
        """Every status row, or one user's, by user and company file (job counts 0).

        Raises:
            StorageError: the database could not be read.
        """
        if user is None:
            rows, _ = self._db.one(self._statuses, {}, what="the status store")
        else:
            rows, _ = self._db.one(self._statuses_of, {"user": user}, what="the status store")
        return [_row_to_status(row) for row in rows]

    def sessions(
        self, *, user: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[SessionTranscript]:
        """Transcripts, newest first, without their calls.

        Args:
            user: one user's only.
            limit: at most this many (0 to 10,000).
            offset: skip this many of the newest first.

        Raises:
            ValueError: a limit or offset that is not an int in range.
            StorageError: the database could not be read.
        """
        _check_page(limit, offset)
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        statement = self._list
        if user is not None:
            statement, params["user"] = self._list_of, user
        rows, _ = self._db.one(statement, params, what="the status store")
        return [_row_to_transcript(row) for row in rows]

    def session(self, ref: str | int) -> SessionTranscript | None:
        """One transcript with its calls.

        Args:
            ref: the transcript's id, or its session's ticket.

        Returns:
            The transcript, or None when there is none.

        Raises:
            StorageError: the database could not be read.
        """
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            return None
        if isinstance(ref, int) and not -(2**63) <= ref < 2**63:
            return None

        def work(conn: Connection) -> SessionTranscript | None:
            if isinstance(ref, int):
                row = conn.execute(self._by_id, {"id": ref}).mappings().first()
            else:
                row = conn.execute(self._by_key, {"key": ticket_key(ref)}).mappings().first()
            if row is None:
                return None
            calls = [
                TranscriptCall(
                    operation=c["operation"],
                    at=float(c["at"]),
                    duration=float(c["duration"]),
                    arguments=json.loads(c["arguments"]),
                    answer=c["answer"],
                    error_code=c["error_code"],
                    job_id=None if c["job_id"] is None else int(c["job_id"]),
                )
                for c in conn.execute(self._calls, {"id": row["id"]}).mappings()
            ]
            return _row_to_transcript(row, calls)

        return self._db.run(work, what="the status store", write=False)


class MemoryStatusStore(SQLStatusStore):
    """Status and transcripts in memory, for tests and single-process servers.

    The SQL store on a private in-memory SQLite database: the same code,
    so the same behaviour.

    .. versionadded:: Unreleased
    """

    def __init__(
        self, *, keep_sessions: int = 50, max_calls: int = 500, body_cap: int = BODY_CAP
    ) -> None:
        super().__init__(
            URL.create("sqlite", database=":memory:"),
            keep_sessions=keep_sessions,
            max_calls=max_calls,
            body_cap=body_cap,
        )
