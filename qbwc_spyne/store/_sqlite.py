"""One SQLite connection per process, shared by threads: what the SQLite backends have in common."""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from pathlib import Path
from urllib.parse import quote

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
        create: create the file and the schema when missing (False: open
            an existing file only; a subclass checks its schema is there).
    """

    SCHEMA = ""

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 10.0, create: bool = True
    ) -> None:
        self.path = str(path)
        self._timeout = timeout
        self._create = create
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        with self._lock:
            self._connect()

    def _open(self) -> sqlite3.Connection:
        """A new connection; without ``create``, only to a file that exists (never made)."""
        if self._create or self.path == ":memory:":
            target, uri = self.path, False
        else:
            # mode=rw: SQLite refuses a missing file instead of creating it.
            target, uri = f"file:{quote(Path(self.path).as_posix())}?mode=rw", True
        return sqlite3.connect(
            target,
            timeout=self._timeout,
            isolation_level=None,
            check_same_thread=False,
            uri=uri,
        )

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Make the schema ready on a new connection (subclasses check or migrate it)."""
        self._journal(conn)
        conn.executescript(self.SCHEMA)

    def _journal(self, conn: sqlite3.Connection) -> None:
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")

    def _connect(self) -> sqlite3.Connection:
        """This process's connection (call with the lock held)."""
        if self._conn is None or self._pid != os.getpid():
            conn = self._open()
            conn.row_factory = sqlite3.Row
            try:
                self._prepare(conn)
            except BaseException:
                conn.close()
                raise
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
