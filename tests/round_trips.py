"""Statements per Web Connector call, counted by the database itself, over the demo's update.

The demo's update (examples/customer_mirror.py: 23 customers in pages of 5,
then an invoice that depends on them; 16 calls) runs through the real WSGI
app, its session store, job queue and (optionally) status recorder on one
backend, while the database reports every statement it is sent:

- SQLite: ``Connection.set_trace_callback`` on each connection the stores
  open. SQLite reports a statement again each time it starts a trigger
  program inside it (the job queue's event triggers): those repeats, the
  same text back to back on one connection, are one statement.
- PostgreSQL: the server's own log with ``log_statement = all``, one
  ``statement:`` or ``execute`` line per statement a client sent (BEGIN and
  COMMIT included).

The application's own database (the mirror) is not counted: it is the
application's, not the library's.
"""

from __future__ import annotations

import re
import sqlite3
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from examples.customer_mirror import (
    PASSWORD,
    USER,
    AddInvoice,
    DemoHandler,
    Mirror,
    MirrorCustomers,
)
from examples.demo import COMPANY
from qbwc_spyne import SQLJobQueue, SQLSessionStore, make_wsgi_app
from qbwc_spyne.auth import PasswordCheck, hash_password
from qbwc_spyne.status import SQLStatusStore, StatusRecorder
from qbwc_spyne.store import _sql
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

__all__ = ["Counted", "PostgresLog", "SQLiteTrace", "demo_update"]

#: The targets: statements per call, averaged over the demo's update.
TARGET = {False: 3.0, True: 5.0}

#: A company file the demo's QuickBooks never opens: its jobs stay pending.
ELSEWHERE = r"C:\Company Files\Elsewhere.qbw"


class SQLiteTrace:
    """Every statement the stores' SQLite connections run, from SQLite's own trace."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @contextmanager
    def installed(self) -> Iterator[SQLiteTrace]:
        """Trace each SQLite connection the stores open while this is active."""
        opened = _sql._sqlite_connect

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            conn = opened(*args, **kwargs)
            last: list[str] = [""]

            def trace(statement: str) -> None:
                # A trigger program's start is reported with its statement's text.
                if statement != last[0]:
                    self.statements.append(statement)
                last[0] = statement

            conn.set_trace_callback(trace)
            return conn

        _sql._sqlite_connect = connect
        try:
            yield self
        finally:
            _sql._sqlite_connect = opened

    def mark(self) -> int:
        return len(self.statements)

    def since(self, mark: int) -> list[str]:
        return self.statements[mark:]


class PostgresLog:
    """Every statement the cluster is sent, from its own log (``log_statement = all``)."""

    _LINE = re.compile(r"\bLOG:  (?:statement|execute [^:]*): (.*)")

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self.path = Path(cluster.root) / "server.log"
        cluster.psql("ALTER SYSTEM SET log_statement = 'all'")
        cluster.psql("SELECT pg_reload_conf()")

    def close(self) -> None:
        self.cluster.psql("ALTER SYSTEM RESET log_statement")
        self.cluster.psql("SELECT pg_reload_conf()")

    def mark(self) -> int:
        return self.path.stat().st_size

    def since(self, mark: int) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(mark)
            text = log.read().decode("utf-8", "replace")
        return [m.group(1) for m in self._LINE.finditer(text)]


@dataclass
class Counted:
    """The statements of each call of one update, in call order."""

    operations: list[str] = field(default_factory=list)
    statements: list[list[str]] = field(default_factory=list)
    status: str = ""

    @property
    def counts(self) -> list[int]:
        return [len(s) for s in self.statements]

    @property
    def average(self) -> float:
        return sum(self.counts) / len(self.counts)

    def per_operation(self) -> dict[str, float]:
        """The mean count of each operation, in order of first appearance."""
        seen: dict[str, list[int]] = {}
        for operation, count in zip(self.operations, self.counts, strict=True):
            seen.setdefault(operation, []).append(count)
        return {op: statistics.fmean(counts) for op, counts in seen.items()}

    def breakdown(self) -> str:
        """Each call and its statements, the first words of each."""
        lines = []
        for n, (operation, statements) in enumerate(
            zip(self.operations, self.statements, strict=True), 1
        ):
            lines.append(f"{n:>2}. {operation} ({len(statements)})")
            lines.extend(f"      {' '.join(s.split())[:110]}" for s in statements)
        return "\n".join(lines)


@dataclass
class Backend:
    """Where the stores live, and the database's own report of the statements."""

    session_store: Callable[[], Any]
    job_queue: Callable[[], Any]
    status_store: Callable[[], Any]
    trace: SQLiteTrace | PostgresLog


def sqlite_backend(folder: Path, trace: SQLiteTrace) -> Backend:
    """The demo's files: sessions.db, and jobs.db for the queue and the status."""
    folder.mkdir(parents=True, exist_ok=True)
    return Backend(
        session_store=lambda: SQLSessionStore(folder / "sessions.db"),
        job_queue=lambda: SQLJobQueue(folder / "jobs.db"),
        status_store=lambda: SQLStatusStore(folder / "jobs.db"),
        trace=trace,
    )


def postgres_backend(url: str, prefix: str, log: PostgresLog) -> Backend:
    """Every table in one PostgreSQL database, under ``prefix``."""
    return Backend(
        session_store=lambda: SQLSessionStore(url, prefix=prefix),
        job_queue=lambda: SQLJobQueue(url, prefix=prefix),
        status_store=lambda: SQLStatusStore(url, prefix=prefix),
        trace=log,
    )


def demo_update(backend: Backend, *, status: bool, pending: int = 0) -> Counted:
    """Run the demo's update on ``backend``; count each call's statements.

    Args:
        backend: the stores, and the trace that counts.
        status: record status and transcripts with a :class:`StatusRecorder`.
        pending: jobs of the demo's user queued besides the demo's two, for
            a company file this update does not open: they stay pending.

    Returns:
        Each call's statements.
    """
    with tempfile.TemporaryDirectory(prefix="qbwc-roundtrips-") as scratch:
        mirror = Mirror(Path(scratch) / "mirror.db")
        queue = backend.job_queue()
        handler = DemoHandler(
            queue,
            passwords=PasswordCheck({USER: hash_password(PASSWORD)}),
            kinds=[MirrorCustomers(mirror), AddInvoice(mirror)],
        )
        sync = handler.enqueue("mirror_customers", user=USER, key="mirror")
        handler.enqueue("add_invoice", user=USER, payload={"ref": "DEMO-1"}, depends_on=[sync.id])
        for n in range(pending):
            handler.enqueue(
                "add_invoice", user=USER, payload={"ref": f"P{n}"}, company_file=ELSEWHERE
            )
        store = backend.session_store()
        observers = [StatusRecorder(backend.status_store())] if status else []
        app = make_wsgi_app(handler, store=store, observers=observers)
        counted = Counted()
        trace = backend.trace

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            mark = trace.mark()
            answer = list(app(environ, start_response))
            counted.statements.append(trace.since(mark))
            return answer

        result = WebConnector(
            counting,
            user=USER,
            password=PASSWORD,
            quickbooks=FakeQuickBooks.from_json(COMPANY),
            noop_delay=0,
        ).update()
        counted.operations = [call.operation for call in result.calls]
        counted.status = result.status
        for opened in (store, queue, *(o.store for o in observers)):
            opened.close()
        return counted
