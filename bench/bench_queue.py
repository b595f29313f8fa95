"""The queue and the qbXML reader at scale.

Run ``make bench`` (or ``python -m bench.bench_queue``).

1. 100,000 customers synced through the queue's automatic iterator in pages
   of 500, with the simulated Web Connector and the fake QuickBooks
   in-process: records per second, beside the fake QuickBooks alone
   answering the same pages (the floor: what the test rig itself costs),
   and the peak memory the sync added.
2. A 30 MB page (140,000 CustomerRet) read by ``qbxml.stream`` against lxml's whole-document
   parse of it, both reading every record's ListID: time and peak memory,
   each in a fresh process. Target: streaming's peak under a quarter of the
   whole-document parse's, at no more than 1.3x its time.
3. Cancelling one job (and blocking its dependant) with 50,000 finished
   jobs of 50 users in the queue's history, in a SQLite file: the
   dependants come from the dependency table, so the history costs nothing.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from lxml import etree

from bench.common import customer_page, in_fresh_processes, memory
from qbwc_spyne import (
    JobContext,
    JobKind,
    JobState,
    MemoryJobQueue,
    QueueHandler,
    SQLJobQueue,
    make_wsgi_app,
    qbxml,
)
from qbwc_spyne.jobs import cancel_job
from qbwc_spyne.testing import FakeQuickBooks, WebConnector


class Sync(JobKind):
    name = "sync"

    def __init__(self, page: int) -> None:
        self.page = page
        self.count = 0

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"MaxReturned": self.page}, iterator="Start")

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        self.count += len(result.records)


def sync(customers: int, page: int) -> dict[str, float]:
    # Not strict: checking each answer against the schema is the test rig's
    # cost, not the server's, and would hide the server's share in both columns.
    quickbooks = FakeQuickBooks(strict=False)
    quickbooks.add_customers(customers)
    # The floor: the fake QuickBooks answering the same pages, no server at all.
    start = time.perf_counter()
    rq = qbxml.Rq("CustomerQueryRq", {"MaxReturned": page}, request_id="1", iterator="Start")
    document = qbxml.request(rq)
    answer = qbxml.parse_response(quickbooks.process(document).response)[0]
    while answer.remaining_count:
        again = document.replace(
            'iterator="Start"', f'iterator="Continue" iteratorID="{answer.iterator_id}"'
        )
        answer = qbxml.parse_response(quickbooks.process(again).response)[0]
    floor = time.perf_counter() - start
    quickbooks.close()

    kind = Sync(page)
    handler = QueueHandler(MemoryJobQueue(), passwords=lambda user, password: True, kinds=[kind])
    handler.enqueue("sync", user="bench")
    connector = WebConnector(
        make_wsgi_app(handler), user="bench", password="x", quickbooks=quickbooks, noop_delay=0
    )
    before = memory("VmRSS")
    start = time.perf_counter()
    result = connector.update()
    seconds = time.perf_counter() - start
    if not result.ok or kind.count != customers:
        raise RuntimeError(f"the sync failed: {result.status}, {kind.count} records")
    return {"seconds": seconds, "floor": floor, "peak_extra": memory("VmHWM") - before}


def cancel_with_history(history: int) -> float:
    """Seconds to cancel one job, blocking its dependant, beside ``history`` finished jobs."""
    with tempfile.TemporaryDirectory() as folder:
        queue = SQLJobQueue(Path(folder) / "jobs.db")
        # The history goes in with one statement (enqueue would take a while
        # and is not what is measured); the rows are what enqueue writes.
        conn = sqlite3.connect(Path(folder) / "jobs.db", isolation_level=None)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO qbwc_jobs (user, kind, payload, company_file, priority, state,"
            " attempts, reconciling, writes, pages, checkpoint, staged_checkpoint, created,"
            " updated) VALUES (?, 'add_invoice', ?, '', 0, 'done', 1, 0, 0, 0, 'null', 'null',"
            " 0, 0)",
            [(f"user{n % 50}", json.dumps({"order": n})) for n in range(history)],
        )
        conn.execute("COMMIT")
        conn.close()
        first = queue.enqueue(user="shop", kind="add_customer")
        second = queue.enqueue(user="shop", kind="add_invoice", depends_on=[first.id])
        start = time.perf_counter()
        cancel_job(queue, first.id)
        seconds = time.perf_counter() - start
        blocked = queue.get(second.id)
        if blocked is None or blocked.state is not JobState.BLOCKED:
            raise RuntimeError("the dependant was not blocked")
        queue.close()
    return seconds


def measure(case: str, path: str) -> dict[str, float]:
    """In this process: read the page at ``path`` one way; time and peak memory."""
    data = Path(path).read_bytes()
    baseline = memory("VmRSS")
    start = time.perf_counter()
    count = 0
    if case == "stream":
        for _result, record in qbxml.stream(data):
            count += record.findtext("ListID") is not None
    else:
        parser = etree.XMLParser(huge_tree=True, resolve_entities=False)
        root = etree.fromstring(data, parser)
        for record in root.iterfind("QBXMLMsgsRs/CustomerQueryRs/CustomerRet"):
            count += record.findtext("ListID") is not None
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_extra": memory("VmHWM") - baseline,
        "records": count,
        "size": len(data),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=500)
    parser.add_argument(
        "--records", type=int, default=140_000, help="CustomerRet in the ~30 MB page"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--history", type=int, default=50_000, help="finished jobs beside the one cancelled"
    )
    parser.add_argument("--measure", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    mb = 1024 * 1024

    figures = sync(args.customers, args.page)
    print(
        f"Sync of {args.customers:,} customers through the queue's iterator, pages of {args.page}\n"
    )
    print(f"{'case':<34}{'seconds':>9}{'records/s':>12}{'peak MB':>9}")
    print(
        f"{'queue + simulator + fake QB':<34}{figures['seconds']:>9.2f}"
        f"{args.customers / figures['seconds']:>12,.0f}{figures['peak_extra'] / mb:>9.0f}"
    )
    print(
        f"{'fake QuickBooks alone (floor)':<34}{figures['floor']:>9.2f}"
        f"{args.customers / figures['floor']:>12,.0f}{'':>9}"
    )

    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as handle:
        handle.write(customer_page(args.records).encode())
        path = handle.name
    try:
        pages = in_fresh_processes("bench.bench_queue", ["stream", "whole"], path, args.repeat)
    finally:
        Path(path).unlink()
    size = pages["whole"]["size"]
    whole = pages["whole"]
    print(
        f"\nA {size / mb:.1f} MB page of {args.records:,} CustomerRet, median of {args.repeat} "
        "fresh processes (target: streaming peak < 0.25x, time <= 1.3x the whole parse)\n"
    )
    print(f"{'case':<28}{'time ms':>9}{'x whole':>9}{'peak MB':>9}{'x whole':>9}")
    for case, label in (("stream", "qbxml.stream"), ("whole", "lxml whole-document parse")):
        f = pages[case]
        print(
            f"{label:<28}{f['seconds'] * 1000:>9.0f}{f['seconds'] / whole['seconds']:>9.2f}"
            f"{f['peak_extra'] / mb:>9.1f}{f['peak_extra'] / whole['peak_extra']:>9.2f}"
        )

    seconds = cancel_with_history(args.history)
    print(
        f"\nCancel one job (its dependant blocked) beside {args.history:,} finished jobs: "
        f"{seconds * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
