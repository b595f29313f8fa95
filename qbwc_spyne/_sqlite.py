"""One SQLite connection per process, shared by threads: what the SQLite backends have in common."""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref

__all__ = ["SQLiteBacked"]


class SQLiteBacked:
    """A SQLite file with a schema, opened once per process and guarded by a lock.

    WAL mode lets the readers and the writer of several worker processes
    proceed together; a busy timeout makes a writer wait for another rather
    than fail. Reads and writes here are small, so one connection behind a
    lock costs less than one per thread. A connection never crosses a fork
    (gunicorn forks its workers after loading the app): each process opens
    its own.

    Args:
        path: the database file, created with the schema when missing;
            ":memory:" for a private in-memory database.
        timeout: seconds a write waits for another process's lock.
    """

    SCHEMA = ""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self.path = str(path)
        self._timeout = timeout
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        with self._lock:
            self._connect()

    def _connect(self) -> sqlite3.Connection:
        """This process's connection (call with the lock held)."""
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            if self.path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(self.SCHEMA)
            self._conn, self._pid = conn, os.getpid()
            weakref.finalize(self, _close_in_owner, conn, self._pid)
        return self._conn

    def close(self) -> None:
        """Close this process's connection; the next call reopens it."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _close_in_owner(conn: sqlite3.Connection, pid: int) -> None:
    """Close a backend's connection when the backend is dropped unclosed.

    A MemoryJobQueue in a test is rarely closed, and Python 3.13 warns of every
    connection collected open. A weakref finalizer rather than ``__del__``: it
    holds the connection, so the connection is closed before it can be
    collected, even when the backend dies in a reference cycle. Only in the
    process that opened it: a connection inherited across a fork is the
    parent's.
    """
    if os.getpid() == pid:
        conn.close()
