"""Where sessions live between two Web Connector calls.

The Web Connector keeps no state: each call carries only the ticket, and the
next call of a session may reach another worker process, or a server that
restarted in between. So every session is saved after every call, and the
store is the only place it lives.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..exceptions import StorageError
from ..protocol._session import Session
from ._sqlite import SQLiteBacked

__all__ = ["MemorySessionStore", "SQLiteSessionStore"]


class MemorySessionStore:
    """Sessions in a dict: for tests and single-process servers.

    Sessions are kept as JSON text, as the SQLite store keeps them, so that
    a handler that puts a non-JSON value in ``session.data`` fails here the
    same way it would in production.
    """

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, ticket: str) -> Session | None:
        with self._lock:
            saved = self._sessions.get(ticket)
        return None if saved is None else Session.from_dict(json.loads(saved[0]))

    def put(self, session: Session) -> None:
        text = json.dumps(session.to_dict())
        with self._lock:
            self._sessions[session.ticket] = (text, session.last_seen)

    def delete(self, ticket: str) -> None:
        with self._lock:
            self._sessions.pop(ticket, None)

    def purge(self, idle_before: float) -> int:
        with self._lock:
            stale = [t for t, (_, seen) in self._sessions.items() if seen < idle_before]
            for ticket in stale:
                del self._sessions[ticket]
        return len(stale)

    def __len__(self) -> int:
        return len(self._sessions)


class SQLiteSessionStore(SQLiteBacked):
    """Sessions in a SQLite file, shared by every process on one machine.

    Args:
        path: the database file; created with its table when missing.
        timeout: seconds a write waits for another process's lock.

    Each method raises :class:`~qbwc_spyne.exceptions.StorageError` when
    SQLite fails (a lock held past ``timeout``, a read-only or full disk).
    """

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS qbwc_sessions ("
        " ticket TEXT PRIMARY KEY, last_seen REAL NOT NULL, session TEXT NOT NULL)"
    )

    @contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        """This process's connection, under the lock; SQLite's errors as StorageError."""
        with self._lock:
            try:
                yield self._connect()
            except sqlite3.Error as exc:
                raise StorageError(f"session store {self.path}: {exc}") from exc

    def get(self, ticket: str) -> Session | None:
        with self._using() as conn:
            row = conn.execute(
                "SELECT session FROM qbwc_sessions WHERE ticket = ?", (ticket,)
            ).fetchone()
        return None if row is None else Session.from_dict(json.loads(row[0]))

    def put(self, session: Session) -> None:
        text = json.dumps(session.to_dict())
        with self._using() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO qbwc_sessions (ticket, last_seen, session)"
                " VALUES (?, ?, ?)",
                (session.ticket, session.last_seen, text),
            )

    def delete(self, ticket: str) -> None:
        with self._using() as conn:
            conn.execute("DELETE FROM qbwc_sessions WHERE ticket = ?", (ticket,))

    def purge(self, idle_before: float) -> int:
        with self._using() as conn:
            cursor = conn.execute("DELETE FROM qbwc_sessions WHERE last_seen < ?", (idle_before,))
        return cursor.rowcount
