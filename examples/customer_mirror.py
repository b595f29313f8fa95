"""The demo integration: mirror QuickBooks' customers into SQLite, then add an invoice.

Each update pages through every customer with a qbXML iterator, five at a
time, upserting them into a SQLite database of the application's own; then
it adds an invoice for the first customer and records the TxnID QuickBooks
returns. Everything the handler must remember between calls lives in
``session.data``, so the server can restart, or another worker take the
next call, in the middle of an update.

Serve it for a real Web Connector with ``make serve``, or::

    gunicorn 'examples.customer_mirror:make_app()' --bind 127.0.0.1:8000
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from qbwc_spyne import QBWCHandler, QBWCServer, Session, SQLiteSessionStore, make_wsgi_app
from qbwc_spyne.auth import PasswordCheck, hash_password
from qbwc_spyne.events import (
    AuthenticateEvent,
    CloseConnectionEvent,
    ReceiveResponseEvent,
    SendRequestEvent,
    ServerVersionEvent,
)
from qbwc_spyne.qbxml import parse

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


def request(body: str, version: str = "13.0") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n'
        f'<QBXML><QBXMLMsgsRq onError="stopOnError">{body}</QBXMLMsgsRq></QBXML>'
    )


class CustomerMirror(QBWCHandler):
    """Mirrors customers with an iterator of PAGE_SIZE, then adds one invoice.

    Args:
        database: the application's SQLite file.
        passwords: the password check; by default USER with PASSWORD.
    """

    def __init__(self, database: str | os.PathLike[str], passwords: PasswordCheck | None = None):
        self.database = Path(database)
        self.passwords = passwords or PasswordCheck({USER: hash_password(PASSWORD)})
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.database, timeout=10)

    def on_server_version(self, event: ServerVersionEvent) -> None:
        event.version = "qbwc_spyne customer mirror 1.0"

    def on_authenticate(self, event: AuthenticateEvent) -> None:
        event.accept = self.passwords.verify(event.user, event.password)

    def on_send_request(self, event: SendRequestEvent) -> None:
        session = event.session
        assert session is not None
        data = session.data
        if data.get("phase", "customers") == "customers":
            # The same criteria on every page, as iterators require.
            iterator = 'iterator="Start"'
            if "iterator_id" in data:
                iterator_id = escape(data["iterator_id"], {'"': "&quot;"})
                iterator = f'iterator="Continue" iteratorID="{iterator_id}"'
            event.request = request(
                f'<CustomerQueryRq requestID="page-{data.get("pages", 0) + 1}" {iterator}>'
                f"<MaxReturned>{PAGE_SIZE}</MaxReturned><ActiveStatus>All</ActiveStatus>"
                "</CustomerQueryRq>"
            )
        else:
            with self._connect() as db:
                row = db.execute(
                    "SELECT list_id FROM customers ORDER BY full_name LIMIT 1"
                ).fetchone()
            event.request = request(
                '<InvoiceAddRq requestID="invoice"><InvoiceAdd>'
                f"<CustomerRef><ListID>{escape(row[0])}</ListID></CustomerRef>"
                f"<RefNumber>DEMO-{session.ticket[:8]}</RefNumber>"
                f"<InvoiceLineAdd><ItemRef><FullName>{INVOICE_ITEM}</FullName></ItemRef>"
                "<Quantity>3</Quantity><Rate>95.00</Rate></InvoiceLineAdd>"
                "</InvoiceAdd></InvoiceAddRq>"
            )

    def on_receive_response(self, event: ReceiveResponseEvent) -> None:
        session = event.session
        assert session is not None
        if not event.success:
            session.last_error = f"QuickBooks could not run the request: {event.error_message}"
            event.percent_done = -1
            return
        rs = parse(event.response).find("QBXMLMsgsRs")[0]
        code = int(rs.get("statusCode", "0"))
        if code >= 1000:  # 1 is "no match", 500-999 warnings: neither is fatal
            session.last_error = f"QuickBooks error {code}: {rs.get('statusMessage')}"
            event.percent_done = -1
            return
        if rs.tag == "CustomerQueryRs":
            event.percent_done = self._customers(session, rs)
        else:
            self._invoice(session, rs)
            event.percent_done = 100

    def _customers(self, session: Session, rs: etree._Element) -> int:
        rows = [
            (
                c.findtext("ListID"),
                c.findtext("FullName"),
                c.findtext("EditSequence"),
                c.findtext("TimeModified"),
                c.findtext("IsActive") == "true",
            )
            for c in rs.iterfind("CustomerRet")
        ]
        # Each page is committed before the next is asked for.
        with self._connect() as db:
            db.executemany(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?) ON CONFLICT(list_id) DO UPDATE SET"
                " full_name=excluded.full_name, edit_sequence=excluded.edit_sequence,"
                " time_modified=excluded.time_modified, is_active=excluded.is_active",
                rows,
            )
        data = session.data
        data["pages"] = data.get("pages", 0) + 1
        data["customers"] = data.get("customers", 0) + len(rows)
        remaining = int(rs.get("iteratorRemainingCount", "0"))
        if remaining > 0:
            data["iterator_id"] = rs.get("iteratorID")
            # The invoice is the last step: customers fill 90% of the bar.
            return int(90 * data["customers"] // (data["customers"] + remaining))
        data.pop("iterator_id", None)
        data["phase"] = "invoice"
        return 90

    def _invoice(self, session: Session, rs: etree._Element) -> None:
        invoice = rs.find("InvoiceRet")
        assert invoice is not None
        with self._connect() as db:
            db.execute(
                "INSERT INTO invoices VALUES (?, ?, ?, ?)",
                (
                    invoice.findtext("TxnID"),
                    invoice.findtext("CustomerRef/ListID"),
                    invoice.findtext("RefNumber"),
                    invoice.findtext("Subtotal"),
                ),
            )
        session.data["invoice"] = invoice.findtext("TxnID")
        session.data["phase"] = "done"

    def on_close_connection(self, event: CloseConnectionEvent) -> None:
        data = event.session.data if event.session else {}
        if data.get("phase") == "done":
            event.response_message = (
                f"Mirrored {data.get('customers', 0)} customers in {data.get('pages', 0)} pages; "
                f"invoice {data.get('invoice')}"
            )


def make_app(
    directory: str | os.PathLike[str] | None = None, public_url: str | None = None
) -> QBWCServer:
    """The demo's WSGI app: the handler, its data and sessions in ``directory``.

    ``directory`` defaults to $QBWC_DEMO_DATA, else ``demo-data``.
    """
    folder = Path(directory or os.environ.get("QBWC_DEMO_DATA", "demo-data"))
    folder.mkdir(parents=True, exist_ok=True)
    return make_wsgi_app(
        CustomerMirror(folder / "mirror.db"),
        store=SQLiteSessionStore(folder / "sessions.db"),
        public_url=public_url,
    )
