"""What a Web Connector call costs as the backlog grows, and draining one.

Run ``make bench`` (or ``python -m bench.bench_backlog``; ``--quick`` for a
short run).

1. Per call: the median time of authenticate, sendRequestXML and
   receiveResponseXML, with 100, 10,000 and 100,000 jobs pending for the
   user, through ``make_wsgi_app(QueueHandler(...))`` in-process with the
   simulated Web Connector and the fake QuickBooks (each session answers
   ``--jobs`` jobs one by one, then stops). On SQLite (a file) and on
   PostgreSQL (a throwaway cluster when initdb is on PATH, or
   ``--postgres URL``). Each figure is printed beside the 100-pending one
   as a ratio. Target: within 1.5x. Also the queue's statements per call.
2. Draining 10,000 jobs in one update, beside 100 times the time to drain
   100: a ratio of 1 is linear; the quadratic drain this replaced was ~100.

The backlog is queued with one INSERT (``tests.backlog.bulk_pending``):
enqueueing 100,000 jobs one by one would take longer than the measurement.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qbwc_spyne import QueueHandler, SQLJobQueue, make_wsgi_app
from qbwc_spyne.testing import FakeQuickBooks, WebConnector
from tests.backlog import PASSWORD, USER, AddCustomer, bulk_pending, counting

OPERATIONS = ("authenticate", "sendRequestXML", "receiveResponseXML")

#: Calls of an update before its first sendRequestXML (serverVersion,
#: clientVersion, authenticate).
_OPENING = 3


def _update(queue: SQLJobQueue, jobs: int | None) -> tuple[dict[str, list[float]], int, int]:
    """One update answering ``jobs`` jobs (None: until the queue is dry).

    Returns:
        Each operation's call times, the number of calls, and the queue's statements.
    """
    handler = QueueHandler(queue, passwords=lambda user, password: True, kinds=[AddCustomer()])
    calls = 10_000_000 if jobs is None else _OPENING + 2 * jobs
    connector = WebConnector(
        make_wsgi_app(handler),
        user=USER,
        password=PASSWORD,
        quickbooks=FakeQuickBooks(strict=False),
        noop_delay=0,
        max_calls=calls,
    )
    with counting(queue) as sent:
        result = connector.update()
    if result.status not in ("ok", "runaway"):
        raise RuntimeError(f"the update failed: {result.status}: {result.messages}")
    seconds: dict[str, list[float]] = defaultdict(list)
    for call in result.calls:
        seconds[call.operation].append(call.seconds)
    # PostgreSQL's COMMITs are counted apart: statements are what the queue asks.
    return seconds, len(result.calls), sum(s != "COMMIT" for s in sent)


def per_call(
    make: Callable[[], SQLJobQueue], backlogs: list[int], jobs: int, sessions: int
) -> dict[int, tuple[dict[str, float], float]]:
    """For each backlog: each operation's median seconds, and the queue's statements per call.

    ``sessions`` updates of ``jobs`` jobs each per backlog, and ``5 * sessions``
    more that stop after authenticate, so that its median has as many
    samples. The backlogs take turns, update by update: a machine busy with
    something else slows them all alike, not the one measured then.
    """
    queues = {n: make() for n in backlogs}
    try:
        for n, queue in queues.items():
            bulk_pending(queue, n + sessions * jobs)  # the backlog stays as sessions drain
        seconds: dict[int, dict[str, list[float]]] = {n: defaultdict(list) for n in backlogs}
        calls, statements = dict.fromkeys(backlogs, 0), dict.fromkeys(backlogs, 0)
        for size in [jobs] * sessions + [0] * (5 * sessions):
            for n, queue in queues.items():
                found, made, sent = _update(queue, size)
                for operation, times in found.items():
                    seconds[n][operation].extend(times)
                calls[n] += made
                statements[n] += sent
        return {
            n: (
                {op: statistics.median(seconds[n][op]) for op in OPERATIONS},
                statements[n] / max(1, calls[n]),
            )
            for n in backlogs
        }
    finally:
        for queue in queues.values():
            queue.close()


def drain(make: Callable[[], SQLJobQueue], backlog: int) -> float:
    """Seconds one update takes to send every one of ``backlog`` jobs."""
    queue = make()
    try:
        bulk_pending(queue, backlog)
        began = time.perf_counter()
        _update(queue, None)
        seconds = time.perf_counter() - began
        left = queue.counts(user=USER)
        if any(left[state] for state in left if state.value != "done"):
            raise RuntimeError(f"the update left jobs undone: {left}")
        return seconds
    finally:
        queue.close()


@contextmanager
def backends(postgres: str | None, directory: Path) -> Iterator[dict[str, Callable[[], Any]]]:
    """Queue factories by backend name: a fresh SQLite file or PostgreSQL prefix each time."""
    made = iter(range(1_000_000))

    def sqlite() -> SQLJobQueue:
        return SQLJobQueue(str(directory / f"jobs{next(made)}.db"))

    found: dict[str, Callable[[], Any]] = {"SQLite": sqlite}
    cluster = None
    if postgres is None and shutil.which("initdb"):
        from tests.postgres import Cluster

        cluster = Cluster()
        postgres = cluster.url()
    if postgres is not None:
        url = postgres

        def postgresql() -> SQLJobQueue:
            return SQLJobQueue(url, prefix=f"backlog{next(made)}_")

        found["PostgreSQL"] = postgresql
    try:
        yield found
    finally:
        if cluster is not None:
            cluster.remove()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--backlogs", type=int, nargs="+", default=[100, 10_000, 100_000], help="jobs pending"
    )
    parser.add_argument("--jobs", type=int, default=20, help="jobs each measured session sends")
    parser.add_argument("--sessions", type=int, default=25, help="measured sessions per backlog")
    parser.add_argument("--drain", type=int, default=10_000, help="jobs drained in one update")
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a throwaway cluster)")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: backlogs of 100 and 2,000, drain 500"
    )
    args = parser.parse_args()
    if args.quick:
        args.backlogs, args.jobs, args.sessions, args.drain = [100, 2000], 20, 2, 500
    base = args.backlogs[0]
    with (
        tempfile.TemporaryDirectory() as directory,
        backends(args.postgres, Path(directory)) as found,
    ):
        if "PostgreSQL" not in found:
            print("PostgreSQL: skipped (no initdb on PATH and no --postgres URL)\n")
        for name, make in found.items():
            print(
                f"{name}: median ms per call, {args.sessions} sessions of {args.jobs} jobs"
                f" (target: within 1.5x of {base:,} pending)\n"
            )
            header = "".join(f"{f'{n:,} pending':>16}{'x':>6}" for n in args.backlogs)
            print(f"{'call':<22}{header}")
            figures = per_call(make, args.backlogs, args.jobs, args.sessions)
            for op in OPERATIONS:
                row = "".join(
                    f"{figures[n][0][op] * 1000:>16.2f}"
                    f"{figures[n][0][op] / figures[base][0][op]:>6.2f}"
                    for n in args.backlogs
                )
                print(f"{op:<22}{row}")
            row = "".join(
                f"{figures[n][1]:>16.2f}{figures[n][1] / figures[base][1]:>6.2f}"
                for n in args.backlogs
            )
            print(f"{'queue statements/call':<22}{row}")
            small = drain(make, base)
            large = drain(make, args.drain)
            linear = small * args.drain / base
            print(
                f"\n{name}: drain {args.drain:,} jobs in one update: {large:.1f} s, against"
                f" {linear:.1f} s for {args.drain // base} x {base:,}: x {large / linear:.2f}"
                " (1 is linear)\n"
            )


if __name__ == "__main__":
    main()
