"""The demo integration: mirror QuickBooks' customers into SQLite, then add an invoice.

Two kinds of job on the queue, written with the typed objects of
:mod:`qbwc_spyne.objects` (requests built as ``CustomerQueryRq`` and
``InvoiceAddRq``, answers read as ``CustomerRet`` and ``InvoiceRet``), so
the integration holds no qbXML element name and mypy checks every field:

- ``mirror_customers`` pages through every customer, five at a time, with a
  qbXML iterator the queue continues by itself; each page is upserted into
  the application's SQLite database before the next is asked for. The
  highest TimeModified seen is the job's watermark: it becomes the
  checkpoint only when the whole sync completes (records come in ListID
  order, not time order), so an interrupted sync starts again and skips
  nothing, and a sync queued again later asks only for what changed since.
  The watermark is never later than the sync's start less the handler's
  ``clock_skew``: a customer edited while the pages are read is read again
  by the next sync (an upsert, so reading twice is harmless).
- ``add_invoice`` depends on the mirror job, so it is sent only after every
  customer is known; it bills the first customer and records the TxnID
  QuickBooks returns. If its answer is lost, a query by its RefNumber tells
  whether it was posted: it is never posted twice.

Serve it for a real Web Connector with ``make serve``, or::

    gunicorn 'examples.customer_mirror:make_app()' --bind 127.0.0.1:8000
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from qbwc_spyne import (
    JobContext,
    JobKind,
    QueueHandler,
    SQLJobQueue,
    SQLSessionStore,
    make_wsgi_app,
    objects,
    qbxml,
)
from qbwc_spyne.app import WebConnectorApp
from qbwc_spyne.auth import PasswordCheck, hash_password
from qbwc_spyne.events import CloseConnectionEvent, ServerVersionEvent

USER = "demo"
PASSWORD = os.environ.get("QBWC_DEMO_PASSWORD", "demo-password")
PAGE_SIZE = 5
INVOICE_ITEM = "Consulting"

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    list_id TEXT PRIMARY KEY, full_name TEXT NOT NULL, edit_sequence TEXT NOT NULL,
    time_modified TEXT NOT NULL, is_active INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS invoices (
    txn_id TEXT PRIMARY KEY, customer_list_id TEXT NOT NULL, ref_number TEXT, subtotal TEXT);
"""


class Mirror:
    """The application's own database."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        with self.connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits what was done (or rolls it back) and is closed."""
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:  # commit, or roll back on an exception
                yield db
        finally:
            db.close()


class MirrorCustomers(JobKind):
    """Every customer into the mirror, PAGE_SIZE at a time."""

    name = "mirror_customers"

    def __init__(self, mirror: Mirror) -> None:
        self.mirror = mirror

    def build(self, ctx: JobContext) -> objects.CustomerQueryRq:
        since = None
        if ctx.job.checkpoint:  # the last completed sync's watermark
            since = datetime.fromisoformat(ctx.job.checkpoint)
        return objects.CustomerQueryRq(
            max_returned=PAGE_SIZE,
            active_status="All",
            from_modified_date=since,
            iterator="Start",
        )

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        customers = [c for c in result.objects if isinstance(c, objects.CustomerRet)]
        rows = [
            (c.list_id, c.full_name, c.edit_sequence, _text(c.time_modified), bool(c.is_active))
            for c in customers
        ]
        with self.mirror.connect() as db:
            db.executemany(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?) ON CONFLICT(list_id) DO UPDATE SET"
                " full_name=excluded.full_name, edit_sequence=excluded.edit_sequence,"
                " time_modified=excluded.time_modified, is_active=excluded.is_active",
                rows,
            )
        for row in rows:
            ctx.watermark(row[3])  # applied when the sync completes


class AddInvoice(JobKind):
    """An invoice for the first customer of the mirror; its TxnID goes into the mirror."""

    name = "add_invoice"

    def __init__(self, mirror: Mirror) -> None:
        self.mirror = mirror

    def build(self, ctx: JobContext) -> objects.InvoiceAddRq:
        with self.mirror.connect() as db:
            (list_id,) = db.execute("SELECT list_id FROM customers ORDER BY full_name").fetchone()
        return objects.InvoiceAddRq(
            invoice_add=objects.InvoiceAdd(
                customer_ref=objects.CustomerRef(list_id=list_id),
                ref_number=ctx.payload["ref"],
                invoice_line_add=[
                    objects.InvoiceLineAdd(
                        item_ref=objects.ItemRef(full_name=INVOICE_ITEM),
                        quantity=Decimal(3),
                        rate=Decimal("95.00"),
                    )
                ],
            )
        )

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        # The answer to the InvoiceAdd, or to the reconciling query: an InvoiceRet either way.
        invoice = next(i for i in result.objects if isinstance(i, objects.InvoiceRet))
        customer = invoice.customer_ref
        with self.mirror.connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO invoices VALUES (?, ?, ?, ?)",
                (
                    invoice.txn_id,
                    customer.list_id if customer else None,
                    invoice.ref_number,
                    _text(invoice.subtotal),
                ),
            )

    def reconcile(self, ctx: JobContext) -> objects.InvoiceQueryRq:
        # Was it posted before its answer was lost? Its RefNumber says.
        return objects.InvoiceQueryRq(ref_number=[ctx.payload["ref"]])


def _text(value: object) -> str | None:
    """A typed value as the mirror stores it: times in QuickBooks' own ISO-8601 form."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class DemoHandler(QueueHandler):
    """The queue handler, with a version string and a summary in the Web Connector."""

    def on_server_version(self, event: ServerVersionEvent) -> None:
        event.version = "qbwc_spyne customer mirror 2.0"

    def on_close_connection(self, event: CloseConnectionEvent) -> None:
        super().on_close_connection(event)  # sets the outcome, e.g. "2 done"
        finished = self.queue_state(event.session).finished if event.session else 0
        event.response_message = f"Finished {finished} jobs: {event.response_message}"


def make_handler(directory: str | os.PathLike[str]) -> DemoHandler:
    """The handler, its queue and mirror in ``directory``, and the demo's two jobs queued."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    mirror = Mirror(folder / "mirror.db")
    handler = DemoHandler(
        SQLJobQueue(folder / "jobs.db"),
        passwords=PasswordCheck({USER: hash_password(PASSWORD)}),
        kinds=[MirrorCustomers(mirror), AddInvoice(mirror)],
    )
    # A key names the work for good: on a restart (or in a second worker)
    # these return the jobs already queued, done included, so the invoice
    # is posted once however often the app starts.
    sync = handler.enqueue("mirror_customers", user=USER, key="mirror")
    handler.enqueue(
        "add_invoice",
        user=USER,
        payload={"ref": "DEMO-1"},
        depends_on=[sync.id],
        key="invoice DEMO-1",
    )
    return handler


def make_app(
    directory: str | os.PathLike[str] | None = None, public_url: str | None = None
) -> WebConnectorApp:
    """The demo's WSGI app; ``directory`` defaults to $QBWC_DEMO_DATA, else ``demo-data``."""
    folder = Path(directory or os.environ.get("QBWC_DEMO_DATA", "demo-data"))
    return make_wsgi_app(
        make_handler(folder),
        store=SQLSessionStore(folder / "sessions.db"),
        public_url=public_url,
    )
