"""A backlog of jobs made in one statement, and one Web Connector session driven call by call.

Shared by the backlog tests and ``bench/bench_backlog.py``: the protocol
core is driven directly (no spyne, no HTTP), so what a call costs is the
queue's and the session store's work alone, and statements can be counted
per call with SQLAlchemy's events.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event, text

from qbwc_spyne import JobContext, JobKind, MemorySessionStore, QueueHandler, SQLJobQueue, qbxml
from qbwc_spyne.protocol._core import Core
from qbwc_spyne.queue._ports import fold_company_file
from qbwc_spyne.testing import FakeQuickBooks

from .helpers import TRAFFIC

HCP = (TRAFFIC / "qbxml.HCPResponse.QBPro2014.xml").read_text()
COMPANY = r"C:\Company Files\Shop.qbw"
USER = "shop"
PASSWORD = "pw"


class AddCustomer(JobKind):
    """Adds the customer its payload names: one request, one answer."""

    name = "add_customer"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": ctx.payload["name"]}})


def bulk_pending(
    queue: SQLJobQueue,
    count: int,
    *,
    user: str = USER,
    kind: str = AddCustomer.name,
    company_file: str = "",
    now: float | None = None,
) -> None:
    """Queue ``count`` pending jobs in one INSERT (enqueue one by one takes minutes at 100,000).

    Each payload names a customer "Bulk N" (N from the job's id), as enqueue would store it.
    """
    db, stamp = queue._db, time.time() if now is None else now
    jobs = f"{db.prefix}jobs"
    statement = text(
        f'INSERT INTO {jobs} ("user", kind, payload, company_file, company_key, priority, state,'
        " attempts, reconciling, writes, pages, checkpoint, staged_checkpoint, created, updated)"
        " WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)"
        " SELECT :user, :kind, '{\"name\": \"Bulk ' || CAST(i AS TEXT) || '\"}', :file, :key,"
        " 0, 'pending', 0, 0, 0, 0, 'null', 'null', :now, :now FROM n"
    )
    params: dict[str, Any] = {
        "count": count,
        "user": user,
        "kind": kind,
        "file": company_file,
        "key": fold_company_file(company_file),
        "now": stamp,
    }
    db.run(lambda conn: conn.execute(statement, params), what="the backlog")
    if not db.sqlite:
        db.run(lambda conn: conn.execute(text(f"ANALYZE {jobs}")), what="the backlog")


@contextlib.contextmanager
def counting(queue: SQLJobQueue) -> Iterator[list[str]]:
    """Every statement the queue sends to its database while the block runs.

    SQLite: the driver's own trace (BEGIN and COMMIT included, as SQLite
    sees them). PostgreSQL: SQLAlchemy's statement events, and each COMMIT;
    psycopg begins a transaction with the first statement, unsent.
    """
    sent: list[str] = []
    db = queue._db
    if db.sqlite:

        def traced(statement: str) -> None:
            # SQLite runs RETURNING and each trigger as a subprogram of the
            # statement, and Python's trace reports each with the statement's
            # own text: one statement, however many times it is reported.
            if not sent or sent[-1] != statement:
                sent.append(statement)

        raw = db._driver()
        raw.set_trace_callback(traced)
        try:
            yield sent
        finally:
            raw.set_trace_callback(None)
        return
    engine = db.engine()

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    def committed(conn: Any) -> None:
        sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", seen)
    event.listen(engine, "commit", committed)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        event.remove(engine, "commit", committed)


class Session:
    """One Web Connector session against ``handler``, call by call, with a fake QuickBooks."""

    def __init__(self, handler: QueueHandler, quickbooks: FakeQuickBooks | None = None) -> None:
        self.core = Core(handler, MemorySessionStore(), clock=handler.clock)
        self.quickbooks = quickbooks or FakeQuickBooks()
        self.ticket = ""
        self.request = ""
        self.hcp = HCP

    def authenticate(self) -> str:
        """authenticate; the answer's second field ("" for work, "none", "nvu"...)."""
        answer = self.core.authenticate(USER, PASSWORD)
        self.ticket = answer[0]
        return answer[1]

    def send(self) -> str:
        """sendRequestXML (the HCP responses with the first); the request."""
        self.request = self.core.send_request_xml(self.ticket, self.hcp, COMPANY, "US", 13, 0)
        self.hcp = ""
        return self.request

    def receive(self) -> int:
        """The fake QuickBooks answers the last request; receiveResponseXML; the percentage."""
        answer = self.quickbooks.process(self.request)
        return self.core.receive_response_xml(
            self.ticket, answer.response, answer.hresult, answer.message
        )

    def close(self) -> str:
        """closeConnection; its message."""
        return self.core.close_connection(self.ticket)
