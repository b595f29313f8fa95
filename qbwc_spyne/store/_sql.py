"""The database under the session store and the job queue: SQLite or PostgreSQL.

Theory of operation
-------------------
Both backends go through SQLAlchemy Core; the statements are written once
in the subset of SQL the two share (``"user"`` and ``"key"`` quoted, since
PostgreSQL reserves ``user``), and only the engine differs:

- SQLite keeps today's model: one connection per process behind a lock,
  WAL mode, and every write in ``BEGIN IMMEDIATE``, so writes of several
  processes are serialized by the file lock and never deadlock.
- PostgreSQL gets a connection pool per process, shared by the stores of
  one database (same URL and pool settings); a connection is pinged
  before its first use in each Web Connector call, so a server that
  restarted costs no call, and a call's further statements cost no ping.
  One statement runs in autocommit (no BEGIN, no COMMIT: each is a round
  trip). Writes run
  at READ COMMITTED when they are one compare-and-set statement, and at
  SERIALIZABLE when they read before they write (enqueue, fail, cancel,
  retry); a serialization failure or a deadlock is retried a bounded number
  of times, then raised as :class:`~qbwc_spyne.exceptions.StorageError`.

A connection never crosses a fork (gunicorn forks its workers after loading
the app): a process that finds itself with another pid than the one that
opened the engine starts afresh.
"""

from __future__ import annotations

import functools
import os
import random
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import Connection, Engine, Executable, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from .._extras import needs_extra
from ..exceptions import ConfigurationError, DatabaseURLError, StorageError
from ..protocol._calls import current_call

__all__ = ["Database", "database_url"]

T = TypeVar("T")

#: SQLSTATEs worth running the transaction again for: serialization failure, deadlock,
#: and a unique key taken by a transaction that committed while this one ran.
RETRYABLE = frozenset({"40001", "40P01", "23505"})
#: How many times a transaction is tried before its failure is raised.
ATTEMPTS = 5

_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,39}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def database_url(target: str | os.PathLike[str]) -> URL:
    """The SQLAlchemy URL of ``target``: a database URL, or a plain path to a SQLite file.

    One rule for every place a database is named (the stores, ``--db``,
    ``--store``): ``sqlite:PATH`` is the file PATH as ``sqlite:///PATH`` is,
    and ``postgres://``, which hosting platforms put in ``DATABASE_URL``,
    is PostgreSQL.

    Args:
        target: ``sqlite:///jobs.db``, ``sqlite:jobs.db``,
            ``postgresql+psycopg://user@host/db``, ``postgresql://...`` or
            ``postgres://...`` (psycopg 3 is used), or a file path.

    Returns:
        The URL, its driver named.

    Raises:
        DatabaseURLError: the URL is malformed or names another database or driver.
    """
    text = os.fspath(target)
    if "://" not in text:
        if text.startswith("sqlite:") and text != "sqlite:":
            return URL.create("sqlite", database=text[len("sqlite:") :])
        # A scheme without // (redis:x, postgresql:db) is a mistake, not a file
        # to create; one letter and a colon is a Windows drive.
        if not text or _SCHEME.match(text):
            raise DatabaseURLError(
                f"malformed database URL {_safe(text)!r}: expected sqlite:PATH,"
                " sqlite:///PATH, postgresql://USER@HOST/DATABASE or a file path"
            )
        return URL.create("sqlite", database=text)
    try:
        url = make_url(text)
    except ArgumentError:
        raise DatabaseURLError(f"malformed database URL {_safe(text)!r}") from None
    except ValueError as exc:  # e.g. a port that is not a number
        raise DatabaseURLError(f"malformed database URL {_safe(text)!r}: {exc}") from None
    # Read from the scheme's text: asking SQLAlchemy for the driver imports
    # the dialect, and an unknown one fails with a NoSuchModuleError.
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if url.host or not url.database:
            raise DatabaseURLError(
                f"malformed SQLite URL {text!r}: expected sqlite:///relative.db,"
                " sqlite:////absolute/path.db or sqlite:PATH"
            )
        return url.set(drivername="sqlite")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg", "psycopg2"):
        # psycopg 3 is the driver shipped with the postgres extra; a bare
        # postgresql:// (which SQLAlchemy maps to psycopg2) means it too.
        if not url.database:
            raise DatabaseURLError(f"malformed PostgreSQL URL {_safe(text)!r}: no database name")
        return url.set(drivername="postgresql+psycopg")
    raise DatabaseURLError(
        f"unsupported database URL scheme {url.drivername[:40]!r}:"
        " use sqlite:///PATH, sqlite:PATH or postgresql://USER@HOST/DATABASE"
    )


def _safe(text: str) -> str:
    """A URL as it may be shown: without its password."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", text)


class Database:
    """One database, opened once per process, with the transactions the stores need.

    Args:
        target: a database URL, a path to a SQLite file, or a SQLAlchemy
            :class:`~sqlalchemy.Engine` (SQLite or PostgreSQL).
        prefix: prepended to every table name.
        timeout: seconds a SQLite write waits for another process's lock,
            and seconds a PostgreSQL connection attempt waits.
        create: whether a missing SQLite file may be created.
        pool_size: connections each process keeps open to PostgreSQL, in one
            pool shared by the stores of the same URL, pool size and timeout.

    Raises:
        DatabaseURLError: ``target`` is a malformed or unsupported URL.
        ConfigurationError: ``prefix`` is not a lower-case SQL name.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | Engine | URL,
        *,
        prefix: str = "qbwc_",
        timeout: float = 10.0,
        create: bool = True,
        pool_size: int = 5,
    ) -> None:
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise ConfigurationError(
                f"table prefix must be lower-case letters, digits and _, not {prefix!r}"
            )
        self.prefix = prefix
        self._timeout = timeout
        self._create = create
        self._pool_size = pool_size
        self._given: Engine | None = None
        if isinstance(target, Engine) and target.dialect.name != "sqlite":
            self._given = target
            _ping_once_per_call(target)
            self.url = target.url
        elif isinstance(target, Engine):
            # SQLite needs its connections made as above (WAL, the write lock
            # taken up front): the engine's URL is used, not its pool.
            self.url = target.url
        elif isinstance(target, URL):
            self.url = target
        else:
            self.url = database_url(target)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise DatabaseURLError(f"unsupported database {self.dialect!r}")
        self.sqlite = self.dialect == "sqlite"
        #: How the database is named in messages: no password.
        self.display = (
            (self.url.database or ":memory:")
            if self.sqlite
            else self.url.render_as_string(hide_password=True)
        )
        self._lock = threading.RLock()
        self._pid = -1
        self._engine: Engine | None = None
        self._conn: Connection | None = None  # SQLite: this process's one connection
        self._compiled_cache: dict[Executable, tuple[str, list[str]]] = {}
        self._shared: tuple[Any, ...] | None = None  # the key of the pool shared (PostgreSQL)

    # -- engines ------------------------------------------------------------------------------

    def engine(self) -> Engine:
        """This process's engine (made, or made afresh after a fork)."""
        with self._lock:
            pid = os.getpid()
            if self._engine is None or self._pid != pid:
                if self._engine is not None and not self.sqlite:
                    # The parent's connections stay the parent's: forget them, unclosed.
                    self._engine.dispose(close=False)
                    self._shared = None  # the parent's count, not this process's
                self._conn = None
                self._engine = self._given or self._make_engine()
                self._pid = pid
            return self._engine

    def _make_engine(self) -> Engine:
        if self.sqlite:
            # The connections are made by a function that does not hold this
            # object: SQLAlchemy keeps its pool, and so the creator, alive in a
            # global registry, and a store dropped unclosed (a MemoryJobQueue in
            # a test, say) must still close its connection, since Python 3.13
            # warns of each one collected open. Only in the process that opened
            # it: after a fork it is the parent's.
            opened: list[sqlite3.Connection] = []
            path = self.url.database or ":memory:"
            connect = functools.partial(_sqlite_connect, path, self._timeout, self._create, opened)
            weakref.finalize(self, _close_in_owner, opened, os.getpid())
            # No reset on return: every transaction here is begun and ended
            # explicitly, and the finalizer above may already have closed the
            # connection when SQLAlchemy's own would roll it back.
            engine = create_engine(
                "sqlite://", creator=connect, poolclass=StaticPool, pool_reset_on_return=None
            )

            @event.listens_for(engine, "begin")
            def begin(conn: Connection) -> None:
                # pysqlite's own transaction handling is off (isolation_level=None):
                # writes take the file's write lock up front, reads do not, and one
                # statement alone is its own transaction (the driver's COMMIT is then
                # a no-op). Sent to the driver directly: this runs on every call.
                statement = conn.get_execution_options().get("qbwc_begin")
                if statement:
                    conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]

            return engine
        # Stores of one database share this process's pool: a call then pings
        # one connection, not one per store (sessions, queue, status).
        key = (
            os.getpid(),
            self.url.render_as_string(hide_password=False),
            self._pool_size,
            self._timeout,
        )
        with _SHARED_LOCK:
            shared = _SHARED.get(key)
            if shared is None:
                shared = _SHARED[key] = [self._pool(), 0]
            shared[1] += 1
            self._shared = key
            pool: Engine = shared[0]
            return pool

    def _pool(self) -> Engine:
        try:
            engine = create_engine(
                self.url,
                pool_size=self._pool_size,
                max_overflow=self._pool_size,
                # The connection returned last is taken first: a call's statements
                # use one connection, pinged once.
                pool_use_lifo=True,
                pool_timeout=self._timeout,
                connect_args={"connect_timeout": max(1, round(self._timeout))},
            )
        except ImportError:  # the driver, an extra
            raise ConfigurationError(
                needs_extra("PostgreSQL", package="psycopg 3", extra="postgres")
            ) from None
        _ping_once_per_call(engine)
        return engine

    def close(self) -> None:
        """Close this process's connections; the next call opens them again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._engine is not None and self._given is None:
                if self._release_shared():
                    self._engine.dispose()
                self._engine = None

    def _release_shared(self) -> bool:
        """Stop using the shared pool; whether this store was its last user."""
        key, self._shared = self._shared, None
        if key is None:
            return True
        with _SHARED_LOCK:
            shared = _SHARED.get(key)
            if shared is None:
                return True
            shared[1] -= 1
            if shared[1] > 0:
                return False
            del _SHARED[key]
            return True

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def _connection(self, begin: str, isolation: str | None) -> Iterator[Connection]:
        if self.sqlite:
            # One connection per process, shared by threads under the lock.
            with self._lock:
                self._driver()  # the one door to the file, for both paths
                conn = self._sqlite_connection().execution_options(qbwc_begin=begin)
                with conn.begin():
                    yield conn
            return
        options: dict[str, Any] = {}
        if isolation is not None:
            options["isolation_level"] = isolation
        with self.engine().connect() as conn:
            if options:
                conn = conn.execution_options(**options)
            with conn.begin():
                yield conn

    def run(
        self,
        work: Callable[[Connection], T],
        *,
        what: str,
        write: bool = True,
        serializable: bool = False,
        single: bool = False,
    ) -> T:
        """Run ``work`` in one transaction, retried on a serialization failure or deadlock.

        Args:
            work: the statements; it may run more than once, so it changes
                nothing outside the database.
            what: names the database in errors, e.g. "the job queue".
            write: take SQLite's write lock at the start (``BEGIN IMMEDIATE``).
            serializable: on PostgreSQL, run at SERIALIZABLE (for work that
                reads before it writes).
            single: ``work`` runs one statement, which the database makes its
                own transaction (no ``BEGIN`` nor ``COMMIT``: a third of the
                round trips), unless ``serializable``.

        Returns:
            What ``work`` returns, once its transaction committed.

        Raises:
            StorageError: the database failed, or the transaction failed
                :data:`ATTEMPTS` times over.
        """
        isolation = None
        if serializable and not self.sqlite:
            isolation = "SERIALIZABLE"
        elif single and not self.sqlite:
            # One statement is a transaction of its own: BEGIN and COMMIT
            # would be two more round trips to the server.
            isolation = "AUTOCOMMIT"
        begin = "" if single else "BEGIN IMMEDIATE" if write else "BEGIN"
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self._connection(begin, isolation) as conn:
                    return work(conn)
            except DBAPIError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if code in RETRYABLE and attempt < ATTEMPTS:
                    # Back off a little, at random, so the two sides do not collide again.
                    time.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311
                    continue
                raise self.error(exc, what, attempts=attempt if code in RETRYABLE else 0) from exc
            except (SQLAlchemyError, sqlite3.Error) as exc:  # sqlite3's: from BEGIN, sent directly
                raise self.error(exc, what) from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def one(
        self, statement: Executable, params: Mapping[str, Any], *, what: str
    ) -> tuple[list[Mapping[Any, Any]], int]:
        """Run one statement as its own transaction; return its rows and its row count.

        The calls the Web Connector makes most (a session saved and loaded,
        a job claimed or completed) are one statement each. On SQLite the
        statement, compiled by SQLAlchemy once, goes straight to this
        process's driver connection: SQLAlchemy's execution machinery would
        otherwise cost more than SQLite itself. PostgreSQL takes the usual
        path, with its retries.

        Args:
            statement: a statement without expanding (IN list) parameters.
            params: its parameters by name.
            what: names the database in errors.

        Raises:
            StorageError: the database failed.
        """
        if not self.sqlite:

            def work(conn: Connection) -> tuple[list[Mapping[Any, Any]], int]:
                result = conn.execute(statement, params)
                rows: list[Mapping[Any, Any]] = (
                    list(result.mappings()) if result.returns_rows else []
                )
                return rows, result.rowcount

            return self.run(work, what=what, single=True)
        with self._lock:
            try:
                raw = self._driver()
                sql, names = self._compiled(statement)
                values = [params[name] for name in names]
                cursor = raw.cursor()
                try:
                    cursor.row_factory = sqlite3.Row
                    cursor.execute(sql, values)
                    rows: list[Mapping[Any, Any]] = cursor.fetchall()
                    if raw.in_transaction:  # pragma: no cover - the driver began one itself
                        raw.commit()
                    return rows, cursor.rowcount
                finally:
                    cursor.close()
            except sqlite3.Error as exc:
                raise self.error(exc, what) from exc
            except SQLAlchemyError as exc:  # opening the connection
                raise self.error(exc, what) from exc

    def _sqlite_connection(self) -> Connection:
        """This process's one SQLite connection (call with the lock held)."""
        engine = self.engine()
        if self._conn is None or self._conn.closed:
            self._conn = engine.connect()
        return self._conn

    def _driver(self) -> sqlite3.Connection:
        """This process's sqlite3 connection (call with the lock held)."""
        return self._sqlite_connection().connection.driver_connection  # type: ignore[return-value]

    def _compiled(self, statement: Executable) -> tuple[str, list[str]]:
        found = self._compiled_cache.get(statement)
        if found is None:
            compiled = statement.compile(dialect=self.engine().dialect)  # type: ignore[attr-defined]
            found = (compiled.string, list(compiled.positiontup or ()))
            self._compiled_cache[statement] = found
        return found

    def error(self, exc: BaseException, what: str, *, attempts: int = 0) -> StorageError:
        """A one-line StorageError for a database failure, naming the database (no password)."""
        original = getattr(exc, "orig", None) or exc
        detail = (str(original).strip().splitlines() or [type(original).__name__])[0]
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            detail = f"connection lost ({detail})"
        if attempts:
            detail = f"gave up after {attempts} attempts: {detail}"
        where = (
            self.display
            if self.sqlite
            else f"{self.url.host or 'localhost'}:{self.url.port or 5432}/{self.url.database}"
        )
        return StorageError(f"{what} at {where}: {detail}")


def _ping_once_per_call(engine: Engine) -> None:
    """Ping a pooled connection before its first use in each Web Connector call.

    A ping before each statement (``pool_pre_ping``) would double the round
    trips of a call; a server that restarted between two calls is still found
    by the ping, not by a call's statement (one that goes away during a call
    fails that call whatever is pinged). Outside a call (the command line,
    an enqueue), every use is pinged. Once per engine, however many stores
    share it.
    """
    if engine in _PINGED:
        return
    _PINGED.add(engine)
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        call = current_call()
        if call is not None and record.info.get("qbwc_call") is call:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool drops this connection and checks out another.
            raise DisconnectionError(str(exc)) from exc
        record.info["qbwc_call"] = call


_PINGED: weakref.WeakSet[Engine] = weakref.WeakSet()

#: PostgreSQL pools of this process, by (pid, URL, pool size, timeout):
#: [engine, stores using it]. The last store closed disposes of it.
_SHARED: dict[tuple[Any, ...], list[Any]] = {}
_SHARED_LOCK = threading.Lock()


def _sqlite_connect(
    path: str, timeout: float, create: bool, opened: list[sqlite3.Connection]
) -> sqlite3.Connection:
    """A sqlite3 connection as the stores use it, noted in ``opened``."""
    if create or path == ":memory:":
        target, uri = path, False
    else:
        # mode=rw: SQLite refuses a missing file instead of creating it.
        target, uri = f"file:{quote(Path(path).as_posix())}?mode=rw", True
    conn = sqlite3.connect(
        target, timeout=timeout, isolation_level=None, check_same_thread=False, uri=uri
    )
    opened.append(conn)
    try:
        if path != ":memory:":
            # WAL: the readers and the writer of several processes proceed together.
            # It stays set in the file; a file opened read-only was set when made.
            if create:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _close_in_owner(opened: list[sqlite3.Connection], pid: int) -> None:
    """Close a dropped store's SQLite connections, in the process that opened them only."""
    if os.getpid() == pid:
        for conn in opened:
            conn.close()
