"""Live requests: how long a caller waits for QuickBooks' answer.

Run ``make bench`` (or ``python -m bench.bench_live``).

The simulated Web Connector and a fake QuickBooks that takes 50 ms per
request, in-process, on the wall clock (the Web Connector's NoOp wait is
real). Each figure is printed beside the NoOp wait, its floor:

1. In a hot session: requests arriving at random moments, one at a time;
   latency p50 and p99. Target: p50 no more than the NoOp wait + 0.5 s.
2. At a cold start: keep-alive off, the Web Connector running an update
   every ``RunEveryNSeconds`` (30), requests arriving at random moments;
   latency p50 and p99 (expected: about half the interval, and the interval).
3. 100 requests from 10 threads for one user in one hot session: all
   answered, in the order they were queued; their latency and the total time.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from qbwc_spyne import LiveClient, MemoryJobQueue, QueueHandler, make_wsgi_app, qbxml
from qbwc_spyne.testing import FakeQuickBooks, WebConnector


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Rig:
    """A queue, its handler and app, a fake QuickBooks, a client."""

    def __init__(self, *, keep_alive: float, noop_delay: float, delay: float) -> None:
        self.queue = MemoryJobQueue()
        self.handler = QueueHandler(
            self.queue, passwords=lambda user, pw: pw == "pw", keep_alive=keep_alive
        )
        self.app = make_wsgi_app(self.handler)
        self.quickbooks = FakeQuickBooks(strict=False)
        self.quickbooks.add_customers(20)
        self.quickbooks.delay = delay
        self.noop_delay = noop_delay
        self.client = LiveClient(self.queue)
        self.updates: list[Any] = []

    def web_connector(self) -> WebConnector:
        return WebConnector(
            self.app,
            user="shop",
            password="pw",
            quickbooks=self.quickbooks,
            noop_delay=self.noop_delay,
            max_calls=1_000_000,
        )

    def ask(self, name: str = "Customer 0003") -> tuple[float, qbxml.Result]:
        began = time.monotonic()
        result = self.client.request(
            "shop", qbxml.Rq("CustomerQueryRq", {"FullName": name}), timeout=600
        )
        return time.monotonic() - began, result


def in_thread(work: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def hot(rig: Rig) -> threading.Thread:
    """Start a session and make it hot with a first request; return the update's thread."""
    first = in_thread(rig.ask)
    while not rig.queue.jobs():
        time.sleep(0.001)
    update = in_thread(lambda: rig.updates.append(rig.web_connector().update()))
    first.join()
    return update


def end(rig: Rig, update: threading.Thread) -> None:
    rig.handler.keep_alive = 0  # the next ask ends the session
    update.join()


def hot_latency(samples: int, noop_delay: float, delay: float) -> list[float]:
    rig = Rig(keep_alive=3600, noop_delay=noop_delay, delay=delay)
    update = hot(rig)
    latencies = []
    for _ in range(samples):
        time.sleep(random.uniform(0, noop_delay))
        latencies.append(rig.ask()[0])
    end(rig, update)
    assert len(rig.updates) == 1 and rig.updates[0].ok
    return latencies


def cold_latency(samples: int, run_every: float, noop_delay: float, delay: float) -> list[float]:
    rig = Rig(keep_alive=0, noop_delay=noop_delay, delay=delay)
    stop = threading.Event()

    def scheduler() -> None:  # the Web Connector's auto-run
        while not stop.is_set():
            rig.updates.append(rig.web_connector().update())
            stop.wait(run_every)

    running = in_thread(scheduler)
    latencies: list[float] = []
    lock = threading.Lock()

    def caller() -> None:
        time.sleep(random.uniform(0, 2 * run_every))
        seconds, _ = rig.ask()
        with lock:
            latencies.append(seconds)

    callers = [in_thread(caller) for _ in range(samples)]
    for thread in callers:
        thread.join()
    stop.set()
    running.join()
    return latencies


def many(threads: int, each: int, noop_delay: float, delay: float) -> dict[str, Any]:
    rig = Rig(keep_alive=3600, noop_delay=noop_delay, delay=delay)
    update = hot(rig)
    answered: list[tuple[float, qbxml.Result]] = []
    lock = threading.Lock()

    def caller(number: int) -> None:
        for n in range(each):
            pair = rig.ask(f"Customer {(number + n) % 20 + 1:04d}")
            with lock:
                answered.append(pair)

    began = time.monotonic()
    callers = [in_thread(functools.partial(caller, t)) for t in range(threads)]
    for thread in callers:
        thread.join()
    total = time.monotonic() - began
    end(rig, update)
    sent = [
        int(rq.get("requestID") or 0)
        for document in rig.updates[0].requests
        for rq in qbxml.parse(document).iterfind("QBXMLMsgsRq/CustomerQueryRq")
    ][1:]
    return {
        "latencies": [seconds for seconds, _ in answered],
        "total": total,
        "answered": len(answered),
        "in_order": sent == sorted(int(r.request_id or 0) for _, r in answered),
        "sessions": len(rig.updates),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noop-delay", type=float, default=5.0)
    parser.add_argument("--delay", type=float, default=0.05, help="QuickBooks' time per request")
    parser.add_argument("--hot-samples", type=int, default=20)
    parser.add_argument("--run-every", type=float, default=30.0)
    parser.add_argument("--cold-samples", type=int, default=12)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--each", type=int, default=10)
    args = parser.parse_args(argv)

    print(f"Live requests, fake QuickBooks answering in {args.delay * 1000:.0f} ms;")
    print(f"NoOp wait {args.noop_delay:g} s (the floor of a hot request's latency).\n")
    print(f"{'case':<52} {'p50 s':>7} {'p99 s':>7}  target")
    noop = args.noop_delay
    latencies = hot_latency(args.hot_samples, noop, args.delay)
    p50 = statistics.median(latencies)
    verdict = "met" if p50 <= noop + 0.5 else "MISSED"
    print(
        f"{f'hot session, {len(latencies)} requests at random moments':<52}"
        f" {p50:>7.2f} {percentile(latencies, 0.99):>7.2f}"
        f"  p50 <= {noop + 0.5:g} s: {verdict}"
    )
    cold = cold_latency(args.cold_samples, args.run_every, noop, args.delay)
    print(
        f"{f'cold start, RunEveryNSeconds={args.run_every:g}, {len(cold)} requests':<52}"
        f" {statistics.median(cold):>7.2f} {percentile(cold, 0.99):>7.2f}"
        f"  about {args.run_every / 2:g} and {args.run_every:g} s"
    )
    found = many(args.threads, args.each, noop, args.delay)
    label = f"{found['answered']} requests from {args.threads} threads, one session"
    print(
        f"{label:<52} {statistics.median(found['latencies']):>7.2f}"
        f" {percentile(found['latencies'], 0.99):>7.2f}"
        f"  all answered in {found['total']:.1f} s, in order: {found['in_order']},"
        f" sessions: {found['sessions']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
