"""Where sessions live between two Web Connector calls.

The Web Connector keeps no state: each call carries only the ticket, and the
next call of a session may reach another worker process, or a server that
restarted in between. So every session is saved after every call, and the
store is the only place it lives.

Strategy: the HCP responses the first sendRequestXML brings (host, company
and preferences: tens of KB) are most of a session's size and do not change
after, so each store keeps them apart from the rest and writes them only
when they change; a call's save writes the small rest. What it last loaded
or saved of each session object is the store's own record
(:class:`StoredHCP`), not a field of the session.

Each operation is one statement, its own transaction: a call loads its
session (SELECT) and saves it (UPDATE); authenticate saves a new one with
:meth:`~SQLSessionStore.add`, whose insert also refuses a ticket in use;
closeConnection reads and deletes it with :meth:`~SQLSessionStore.take`.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from typing import Any

from sqlalchemy import Engine, Executable, Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL

from ..exceptions import NotAQueueDatabaseError, StorageError
from ..protocol._session import HCP_FIELDS, Session, hcp_of
from ._migrations import open_schema, schema
from ._sql import Database

__all__ = ["MemorySessionStore", "SQLSessionStore", "StoredHCP"]

_HCP = tuple[str, str, str]


class MemorySessionStore:
    """Sessions in a dict: for tests and single-process servers.

    Sessions are kept as JSON text, as the SQL store keeps them, so that
    a handler that puts a non-JSON value in ``session.data`` fails here the
    same way it would in production. The HCP responses are kept as the
    strings they are (strings cannot change), not copied on every call.
    """

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[str, tuple[str, str, str], float]] = {}
        self._lock = threading.Lock()

    def get(self, ticket: str) -> Session | None:
        with self._lock:
            saved = self._sessions.get(ticket)
        return None if saved is None else _unpacked(saved)

    def put(self, session: Session) -> None:
        text = json.dumps(session.to_dict(hcp=False))
        with self._lock:
            self._sessions[session.ticket] = (text, hcp_of(session), session.last_seen)

    def add(self, session: Session) -> bool:
        """Save a new session, unless one has its ticket; return whether it was saved."""
        text = json.dumps(session.to_dict(hcp=False))
        with self._lock:
            if session.ticket in self._sessions:
                return False
            self._sessions[session.ticket] = (text, hcp_of(session), session.last_seen)
        return True

    def take(self, ticket: str) -> Session | None:
        """Forget the session with this ticket and return it (None: there was none)."""
        with self._lock:
            saved = self._sessions.pop(ticket, None)
        if saved is None:
            return None
        return None if saved is None else _unpacked(saved)

    def delete(self, ticket: str) -> None:
        with self._lock:
            self._sessions.pop(ticket, None)

    def purge(self, idle_before: float) -> int:
        with self._lock:
            stale = [t for t, (_, _, seen) in self._sessions.items() if seen < idle_before]
            for ticket in stale:
                del self._sessions[ticket]
        return len(stale)

    def __len__(self) -> int:
        return len(self._sessions)


def _unpacked(saved: tuple[str, tuple[str, str, str], float]) -> Session:
    """A session as the memory store keeps it, made a session again."""
    text, hcp, _ = saved
    session = Session.from_dict(json.loads(text))
    session.host_response, session.company_response, session.prefs_response = hcp
    return session


class StoredHCP:
    """The HCP responses each session object had when its store last loaded or saved it.

    What tells a store that a call's save may leave the HCP responses as they
    are (see the module's notes). It is the store's to know, not the
    session's: a session carries its value only. The map is keyed by the
    session *object*, as the question is "did this object change since I gave
    it out": by ``id()``, since a :class:`Session` (a dataclass compared by
    value) is unhashable, with a weak reference whose callback drops the
    entry when the object goes, before its id can be another object's. So
    the map holds only the sessions of calls in progress.

    The comparison is cheap: strings loaded and not replaced are the same objects.
    """

    def __init__(self) -> None:
        self._held: dict[int, tuple[weakref.ref[Session], _HCP]] = {}

    def changed(self, session: Session) -> _HCP | None:
        """The session's HCP responses if the store has not seen them on this object, else None."""
        current = hcp_of(session)
        entry = self._held.get(id(session))
        if entry is not None and entry[0]() is session and entry[1] == current:
            return None
        return current

    def stored(self, session: Session, hcp: _HCP) -> None:
        """Record that the store holds ``hcp`` as this session object's HCP responses."""
        key = id(session)
        held = self._held

        def drop(ref: weakref.ref[Session]) -> None:
            # Called as the session is freed: its id is not yet anyone else's.
            entry = held.get(key)
            if entry is not None and entry[0] is ref:
                held.pop(key, None)

        held[key] = (weakref.ref(session, drop), hcp)

    def forget(self, session: Session) -> None:
        """Forget what the store holds for this session: its next save writes them again."""
        self._held.pop(id(session), None)

    def __len__(self) -> int:
        return len(self._held)


class SQLSessionStore:
    """Sessions in a SQL database (SQLite or PostgreSQL), shared by every host that opens it.

    Args:
        target: a database URL (``sqlite:///sessions.db``,
            ``postgresql+psycopg://user:password@host/db``), a path to a
            SQLite file, or a SQLAlchemy engine.
        prefix: prepended to the name of each table (``qbwc_sessions``...).
        create: create the tables in an empty database (the default). With
            False, a database without them is refused and nothing is written.
        upgrade: upgrade tables of an older release in place. Without it
            such tables are refused with the command that upgrades them.
        timeout: seconds a SQLite write waits for another process's lock;
            seconds a PostgreSQL connection attempt waits.
        pool_size: connections each process keeps to PostgreSQL (one pool for
            every store of the same database and settings).

    Raises:
        DatabaseURLError: a malformed or unsupported URL.
        SchemaVersionError: tables of an older release and no ``upgrade``.
        StorageError: the database could not be reached, opened or upgraded;
            each method raises it too when the database fails.

    .. versionadded:: 0.2.0

    .. versionchanged:: Unreleased
       ``create`` added: every store and queue takes the same parameters.
       It replaces ``SQLiteSessionStore``, which is now a deprecated alias
       of this class.
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
        #: What this store last loaded or saved of each session object's HCP responses.
        self._stored = StoredHCP()
        try:
            open_schema(self._db, create=create, upgrade=upgrade, need="sessions")
        except NotAQueueDatabaseError as exc:
            self._db.close()
            raise StorageError(f"session store {self.path}: {exc}") from None
        except BaseException:
            self._db.close()
            raise
        table = schema(self._db.prefix).sessions
        self._get = text(f"SELECT session, hcp FROM {table.name} WHERE ticket = :ticket")
        self._put = _upsert(table, postgresql=not self._db.sqlite)
        # A call's save: the row is there (authenticate wrote it whole), and
        # its HCP responses stay as they are.
        self._update = text(
            f"UPDATE {table.name} SET last_seen = :last_seen, session = :session"
            " WHERE ticket = :ticket"
        )
        # authenticate's save: a new ticket must not take over a live session.
        # RETURNING tells whether it was saved (the row count may not, on PostgreSQL).
        self._add = (
            _insert(table, postgresql=not self._db.sqlite)
            .on_conflict_do_nothing(index_elements=[table.c.ticket])
            .returning(table.c.ticket)
        )
        self._delete = text(f"DELETE FROM {table.name} WHERE ticket = :ticket")
        # closeConnection reads the session it ends: the read and the delete are one statement.
        self._take = text(f"DELETE FROM {table.name} WHERE ticket = :ticket RETURNING session, hcp")
        self._purge = text(f"DELETE FROM {table.name} WHERE last_seen < :before")

    def _run(self, statement: Executable, params: dict[str, Any]) -> tuple[list[Any], int]:
        # Each method is one statement, its own transaction.
        return self._db.one(statement, params, what="session store")

    def get(self, ticket: str) -> Session | None:
        rows, _ = self._run(self._get, {"ticket": ticket})
        return self._loaded(rows[0]) if rows else None

    def put(self, session: Session) -> None:
        values = _row(session)
        changed = self._stored.changed(session)
        if changed is None and self._run(self._update, values)[1]:
            return
        # New, with new HCP responses, or gone since it was loaded (deleted
        # by another process): the whole row.
        hcp = hcp_of(session) if changed is None else changed
        values["hcp"] = json.dumps(hcp) if any(hcp) else None
        self._run(self._put, values)
        self._stored.stored(session, hcp)

    def add(self, session: Session) -> bool:
        """Save a new session, unless one has its ticket, in one statement.

        Args:
            session: the session authenticate made.

        Returns:
            Whether it was saved (False: a session with its ticket exists, and is left alone).

        Raises:
            StorageError: the database failed.
        """
        hcp = hcp_of(session)
        values = {**_row(session), "hcp": json.dumps(hcp) if any(hcp) else None}
        if not self._run(self._add, values)[0]:
            return False
        self._stored.stored(session, hcp)
        return True

    def take(self, ticket: str) -> Session | None:
        """Forget the session with this ticket and return it, in one statement.

        Args:
            ticket: the session's ticket.

        Returns:
            The session as it was saved, or None when there was none.

        Raises:
            StorageError: the database failed.
        """
        rows, _ = self._run(self._take, {"ticket": ticket})
        return self._loaded(rows[0]) if rows else None

    def delete(self, ticket: str) -> None:
        self._run(self._delete, {"ticket": ticket})

    def purge(self, idle_before: float) -> int:
        return self._run(self._purge, {"before": idle_before})[1]

    def close(self) -> None:
        """Close this process's connections; the next call opens them again."""
        self._db.close()

    def _loaded(self, row: Any) -> Session:
        """A session from its row (``session`` and ``hcp`` columns)."""
        values = json.loads(row["session"])
        saved = row["hcp"]
        if saved is not None:
            values.update(zip(HCP_FIELDS, json.loads(saved), strict=True))
        session = Session.from_dict(values)
        if saved is not None or HCP_FIELDS[0] not in values:
            self._stored.stored(session, hcp_of(session))
        # else a row of schema version 3, the HCP responses inside the JSON:
        # the next save moves them to their column.
        return session


def _row(session: Session) -> dict[str, Any]:
    """The columns of a session's row but its HCP responses."""
    return {
        "ticket": session.ticket,
        "last_seen": session.last_seen,
        "session": json.dumps(session.to_dict(hcp=False)),
    }


def _insert(table: Table, *, postgresql: bool) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return pg_insert(table) if postgresql else sqlite_insert(table)


def _upsert(table: Table, *, postgresql: bool) -> Executable:
    """INSERT, or UPDATE the row with the same ticket: one statement on either database."""
    insert = _insert(table, postgresql=postgresql)
    upsert: Executable = insert.on_conflict_do_update(
        index_elements=[table.c.ticket],
        set_={
            "last_seen": insert.excluded.last_seen,
            "session": insert.excluded.session,
            "hcp": insert.excluded.hcp,
        },
    )
    return upsert
