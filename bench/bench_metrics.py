"""What does the Metrics observer cost per call?

Run ``python -m bench.bench_metrics``. Each Web Connector operation is timed
in-process through the WSGI callable (as ``bench_server`` does), once with
no observer and once with a :class:`qbwc_spyne.metrics.Metrics`, alternating which
goes first; the median of many calls of each. Then the observer alone:
``on_call`` for a call that names no job, and for a receiveResponseXML
naming a done job on a SQLite queue file (one read of the job, then its
latency observed), the most an answered call costs it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_server import NEEDS, TICKET, BenchHandler, WSGIApp, bodies, call
from qbwc_spyne import MemorySessionStore, QBWCServer, Session, SQLJobQueue
from qbwc_spyne.events import SessionState
from qbwc_spyne.metrics import Metrics
from qbwc_spyne.protocol._calls import Call

#: The operations of a session with one request, in the order the Web Connector calls them.
OPERATIONS = ("authenticate", "sendRequestXML", "receiveResponseXML", "closeConnection")


def per_call(calls: int) -> list[tuple[str, float, float]]:
    """Median microseconds per call without and with the Metrics observer, per operation."""
    stores = {"none": MemorySessionStore(), "metrics": MemorySessionStore()}
    apps: dict[str, WSGIApp] = {
        "none": QBWCServer(BenchHandler(), store=stores["none"]),
        "metrics": QBWCServer(BenchHandler(), store=stores["metrics"], metrics=Metrics()),
    }
    every = bodies()
    rows = []
    for operation in OPERATIONS:
        timings: dict[str, list[float]] = {"none": [], "metrics": []}
        for i in range(calls):
            for name in ("none", "metrics")[:: 1 if i % 2 else -1]:
                store = stores[name]
                store.delete(TICKET)
                if operation != "authenticate":
                    now = time.time()
                    session = Session(ticket=TICKET, user="foo", created=now, last_seen=now)
                    session.state = NEEDS.get(operation, SessionState.READY)
                    store.put(session)
                start = time.perf_counter()
                call(apps[name], every[operation])
                timings[name].append(time.perf_counter() - start)
        rows.append(
            (
                operation,
                statistics.median(timings["none"]) * 1e6,
                statistics.median(timings["metrics"]) * 1e6,
            )
        )
    return rows


def observer_alone(calls: int) -> tuple[float, float]:
    """Median microseconds of ``on_call``: a call naming no job; one naming a done job."""
    with tempfile.TemporaryDirectory() as folder:
        queue = SQLJobQueue(Path(folder) / "jobs.db")
        try:
            job = queue.enqueue(user="u", kind="k", now=1.0)
            queue.claim(user="u", company_file="", ticket="t", now=2.0, lease=60.0)
            queue.complete(job.id, ticket="t", now=3.0)
            metrics = Metrics(queue=queue)
            plain = Call(operation="sendRequestXML", started=0.0, answer="<QBXML/>", ticket="t")
            done = Call(operation="receiveResponseXML", started=0.0, answer=50, job_id=job.id)
            medians = []
            for sample in (plain, done):
                timings = []
                for _ in range(calls):
                    start = time.perf_counter()
                    metrics.on_call(sample)
                    timings.append(time.perf_counter() - start)
                medians.append(statistics.median(timings) * 1e6)
        finally:
            queue.close()
    return medians[0], medians[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="calls per operation")
    args = parser.parse_args()

    print(f"Per call through the WSGI app, in-process, median of {args.calls} calls\n")
    print(f"{'operation':<22}{'no observer µs':>16}{'Metrics µs':>12}{'added µs':>10}")
    for operation, bare, observed in per_call(args.calls):
        print(f"{operation:<22}{bare:>16.0f}{observed:>12.0f}{observed - bare:>10.0f}")
    plain, done = observer_alone(args.calls)
    print(f"\nMetrics.on_call alone, median of {args.calls} calls\n")
    print(f"{'a call naming no job':<44}{plain:>8.1f} µs")
    print(f"{'receiveResponseXML naming a done job (SQLite)':<44}{done:>8.1f} µs")


if __name__ == "__main__":
    main()
