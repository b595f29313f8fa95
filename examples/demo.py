"""The demo behind `make demo` (`qbwc-spyne demo`).

It serves the customer-mirror integration (examples/customer_mirror.py) on
127.0.0.1 with SQLite sessions and a SQLite job queue, then plays the Web
Connector against it over HTTP with the simulator, QuickBooks being the
fake one loaded with examples/demo_company.json (23 customers). The queue
pages through the customers five at a time with an automatic qbXML
iterator, mirroring them into SQLite, then (a job depending on that one)
adds an invoice and records its TxnID. Last, it writes demo.qwc, which a
Web Connector on this machine can import to talk to `make serve`.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import TextIO

from werkzeug.serving import make_server

from examples.customer_mirror import PASSWORD, USER, make_app
from qbwc_spyne import SQLJobQueue
from qbwc_spyne.qwc import QWCFile, stable_file_id, stable_owner_id
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

HERE = Path(__file__).resolve().parent
COMPANY = HERE / "demo_company.json"
SERVE_URL = "http://localhost:8000/"  # where `make serve` listens


def demo_qwc() -> QWCFile:
    """The QWC file for the demo served by `make serve`."""
    name = "qbwc_spyne demo"
    return QWCFile(
        app_name=name,
        app_url=SERVE_URL,
        app_support_url=SERVE_URL + "?wsdl",
        app_description="Mirrors QuickBooks customers into SQLite (qbwc_spyne demo)",
        user=USER,
        owner_id=stable_owner_id(name),
        file_id=stable_file_id(name, USER),
        is_read_only=False,
    )


def run(
    *,
    directory: str | Path = "demo-data",
    qwc_path: str | Path = "demo.qwc",
    progress: Callable[[int], None] | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Run the demo; return 0 when everything checked out."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines
    folder = Path(directory)
    for stale in ("mirror.db", "sessions.db", "jobs.db"):
        for path in folder.glob(stale + "*"):
            path.unlink()
    server = make_server("127.0.0.1", 0, make_app(folder), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    quickbooks = FakeQuickBooks.from_json(COMPANY)
    in_quickbooks = len(quickbooks.records["Customer"])
    print(f"Serving the customer mirror at {url}", file=out)
    print(f"Fake QuickBooks: {quickbooks.company_name}, {in_quickbooks} customers\n", file=out)
    began = time.perf_counter()
    try:
        result = WebConnector(
            url,
            user=USER,
            password=PASSWORD,
            quickbooks=quickbooks,
            noop_delay=0,
            progress=progress,
        ).update()
    finally:
        server.shutdown()
    seconds = time.perf_counter() - began

    print("\nThe Web Connector's calls:", file=out)
    for number, call in enumerate(result.calls, 1):
        answer = call.result if call.operation != "sendRequestXML" else _request_name(call.result)
        print(f"  {number:>2}. {call.operation:<20} -> {str(answer)[:70]}", file=out)

    with closing(sqlite3.connect(folder / "mirror.db")) as db:
        mirrored = {row[0] for row in db.execute("SELECT list_id FROM customers")}
        invoice = db.execute("SELECT txn_id, subtotal FROM invoices").fetchone()
    expected = set(quickbooks.records["Customer"])
    pages = sum("CustomerQueryRq" in r for r in result.requests)
    jobs = SQLJobQueue(folder / "jobs.db").jobs()
    txn_ok = invoice is not None and invoice[0] in quickbooks.records["Invoice"]
    demo_qwc().write(qwc_path, overwrite=True)

    print("\nSummary", file=out)
    print(f"  status:     {result.status} ({', '.join(result.messages)})", file=out)
    print(
        f"  customers:  {len(mirrored)} mirrored of {in_quickbooks} in QuickBooks, "
        f"in {pages} pages of 5 ({'all match' if mirrored == expected else 'MISMATCH'})",
        file=out,
    )
    if invoice is not None:
        print(
            f"  invoice:    TxnID {invoice[0]}, subtotal {invoice[1]} "
            f"({'found in QuickBooks' if txn_ok else 'NOT in QuickBooks'})",
            file=out,
        )
    print(f"  jobs:       {', '.join(f'{j.kind} {j.state.value}' for j in jobs)}", file=out)
    print(f"  calls:      {len(result.calls)} in {seconds:.2f} s", file=out)
    print(f"  QWC file:   {qwc_path} (for `make serve` at {SERVE_URL})", file=out)
    all_done = all(job.state.value == "done" for job in jobs)
    return 0 if result.ok and mirrored == expected and txn_ok and all_done else 1


def _request_name(request: str) -> str:
    for name in ("CustomerQueryRq", "InvoiceAddRq"):
        if name in request:
            return f"<{name}> request" + (" (iterator Continue)" if "Continue" in request else "")
    return request[:60]


if __name__ == "__main__":
    sys.exit(run())
