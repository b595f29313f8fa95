"""What the operator's views cost: job counts for every user, the status page, the recorder.

Run ``python -m bench.bench_status``.

1. ``counts_by_user`` of the states a status shows (pending, reconcile,
   failed, unknown) over 1,000 users and 100,000 jobs (the connections
   page's one query), every user at once and a page of 1,000 named users;
   and ``connection_status`` for all 1,000 (status rows read, counts added,
   sorted trouble first). Target: well under 300 ms, the page's budget.
2. What the recorder adds to a Web Connector update: one update of 200
   jobs through the simulated Web Connector and the fake QuickBooks on a
   SQLite file, with and without ``StatusRecorder``, per call; and the
   recorder alone, fed 500 calls of one session.

SQLite always; PostgreSQL too with ``--postgres URL`` or initdb on PATH.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import customer_page
from qbwc_spyne import (
    JobContext,
    JobKind,
    JobState,
    QueueHandler,
    Session,
    SQLJobQueue,
    SQLSessionStore,
    make_wsgi_app,
    qbxml,
)
from qbwc_spyne.protocol._calls import Call
from qbwc_spyne.status import SQLStatusStore, StatusRecorder, connection_status
from qbwc_spyne.store._status import StatusUpdate
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

#: How the jobs of the big queue are spread over the states, per 100.
SPREAD = (("done", 80), ("pending", 12), ("failed", 5), ("unknown", 2), ("cancelled", 1))


def fill(queue: SQLJobQueue, status: SQLStatusStore, users: int, jobs: int) -> None:
    """``jobs`` jobs spread over ``users`` users and the states, and one status row per user."""
    db = queue._db
    states = [state for state, share in SPREAD for _ in range(share)]
    rows = [
        {
            "user": f"user{n % users:04}",
            "kind": "k",
            "state": states[n % len(states)],
            "now": float(n),
        }
        for n in range(jobs)
    ]
    columns = (
        f'INSERT INTO {db.prefix}jobs ("user", kind, payload, company_file, priority, state,'
        " attempts, reconciling, writes, pages, checkpoint, staged_checkpoint, created, updated)"
        " VALUES (:user, :kind, '{}', '', 0, :state, 0, 0, 0, 0, 'null', 'null', :now, :now)"
    )
    db.run(lambda conn: conn.execute(text(columns), rows), what="bench")
    for n in range(users):
        status.record(
            update=StatusUpdate(
                user=f"user{n:04}",
                company_file=f"C:\\Company {n}.qbw",
                values={"last_seen": 1e9 + n, "last_success": 1e9 + n - n % 7},
            )
        )


def best_ms(work: Callable[[], Any], repeat: int) -> float:
    """The median of ``repeat`` timings of ``work``, in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def views(url: str, prefix: str, users: int, jobs: int, repeat: int) -> dict[str, float]:
    queue = SQLJobQueue(url, prefix=prefix)
    status = SQLStatusStore(url, prefix=prefix)
    try:
        fill(queue, status, users, jobs)
        named = [f"user{n:04}" for n in range(users)]
        assert len(connection_status(status, queue)) == users
        shown = [JobState.PENDING, JobState.RECONCILE, JobState.FAILED, JobState.UNKNOWN]
        return {
            "every user": best_ms(lambda: queue.counts_by_user(states=shown), repeat),
            "named users": best_ms(lambda: queue.counts_by_user(named, states=shown), repeat),
            "connection_status": best_ms(lambda: connection_status(status, queue), repeat),
        }
    finally:
        queue.close()
        status.close()


class AddCustomer(JobKind):
    name = "add_customer"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": ctx.payload["name"]}})


def update_ms_per_call(folder: Path, jobs: int, record: bool) -> float:
    """One update of ``jobs`` jobs on a fresh SQLite file; milliseconds per Web Connector call."""
    path = folder / f"update-{record}-{time.perf_counter_ns()}.db"
    queue = SQLJobQueue(f"sqlite:///{path}")
    handler = QueueHandler(queue, passwords=lambda u, p: p == "pw", kinds=[AddCustomer()])
    for n in range(jobs):
        handler.enqueue("add_customer", user="shop", payload={"name": f"Customer {n}"})
    status = SQLStatusStore(f"sqlite:///{path}")
    observers = [StatusRecorder(status)] if record else []
    app = make_wsgi_app(handler, store=SQLSessionStore(path), observers=observers)
    connector = WebConnector(
        app, user="shop", password="pw", quickbooks=FakeQuickBooks(strict=False)
    )
    started = time.perf_counter()
    result = connector.update()
    elapsed = time.perf_counter() - started
    assert result.ok, result.transcript()
    queue.close()
    status.close()
    return elapsed * 1000 / len(result.calls)


def recorder_us_per_call(folder: Path, calls: int) -> float:
    """The recorder alone: microseconds per receiveResponseXML of one session, on a SQLite file."""
    store = SQLStatusStore(f"sqlite:///{folder / f'alone-{time.perf_counter_ns()}.db'}")
    recorder = StatusRecorder(store)
    session = Session(ticket="T" * 36, user="shop", company_file="C:\\a.qbw", created=1.0, calls=1)
    recorder.on_call(
        Call(operation="authenticate", started=1.0, user="shop", ticket=session.ticket,
             session=session, answer=[session.ticket, ""])
    )  # fmt: skip
    body = customer_page(10)  # a response of about 3 KiB, cut to 2 KiB in the transcript
    started = time.perf_counter()
    for n in range(calls):
        session.calls += 1
        recorder.on_call(
            Call(operation="receiveResponseXML", started=2.0 + n, user="shop",
                 ticket=session.ticket, session=session, answer=50,
                 arguments={"ticket": session.ticket, "response": body})
        )  # fmt: skip
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed * 1e6 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--update-jobs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a throwaway cluster)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_status_"))
    cluster = None
    try:
        results = {"SQLite": views(f"sqlite:///{folder / 'views.db'}", "qbwc_", args.users,
                                   args.jobs, args.repeat)}  # fmt: skip
        url = args.postgres
        if url is None and shutil.which("initdb"):
            from tests.postgres import Cluster

            cluster = Cluster()
            url = cluster.url()
        if url is not None:
            results["PostgreSQL"] = views(url, "benchstatus_", args.users, args.jobs, args.repeat)
        print(
            f"{args.users:,} users, {args.jobs:,} jobs: median of {args.repeat} runs, milliseconds"
        )
        print(f"{'':34}{'counts, every user':>20}{'counts, named':>15}{'status page':>13}")
        for name, row in results.items():
            print(
                f"{name:34}{row['every user']:>20.1f}{row['named users']:>15.1f}"
                f"{row['connection_status']:>13.1f}"
            )
        if "PostgreSQL" not in results:
            print("PostgreSQL: skipped (no initdb on PATH and no --postgres URL)")
        plain, recorded = [], []
        for _ in range(args.repeat):  # interleaved, so both see the same machine
            plain.append(update_ms_per_call(folder, args.update_jobs, record=False))
            recorded.append(update_ms_per_call(folder, args.update_jobs, record=True))
        without, with_ = statistics.median(plain), statistics.median(recorded)
        print(f"update of {args.update_jobs} jobs, SQLite file, ms per call (median):")
        print(f"{'  without the recorder':34}{without:>8.2f}")
        print(f"{'  with StatusRecorder':34}{with_:>8.2f}   (+{with_ - without:.2f} ms)")
        alone = statistics.median(recorder_us_per_call(folder, 500) for _ in range(args.repeat))
        print(f"{'the recorder alone, us per call':34}{alone:>8.0f}")
    finally:
        if cluster is not None:
            cluster.remove()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
