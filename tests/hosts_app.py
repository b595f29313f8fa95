"""The app the many-hosts tests serve with gunicorn: a queue of customer writes on PostgreSQL.

The database URL and table prefix come from QBWC_TEST_DB and QBWC_TEST_PREFIX.
With QBWC_BENCH_CLAIMS set to a folder, each worker appends the time each claim
took to a file there (the hosts benchmark reads them).
"""

from __future__ import annotations

import os
import threading
import time

from qbwc_spyne import (
    Job,
    JobContext,
    JobKind,
    QueueHandler,
    SQLJobQueue,
    SQLSessionStore,
    make_wsgi_app,
    qbxml,
)
from qbwc_spyne.app import WebConnectorApp


class AddCustomer(JobKind):
    """Adds the customer named in the payload; reconciles by FullName."""

    name = "add_customer"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": ctx.payload["name"]}})

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        pass

    def reconcile(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"FullName": ctx.payload["name"]})


class TimedJobQueue(SQLJobQueue):
    """Records each claim as "finished-at seconds cpu-seconds" lines in ``log`` (one file
    per process): the time it took, and the CPU its thread spent in it."""

    def __init__(self, url: str, *, prefix: str, log: str) -> None:
        super().__init__(url, prefix=prefix, pool_size=4)
        self._timings = open(log, "a", buffering=1)  # noqa: SIM115 - open while the worker lives
        self._timings_lock = threading.Lock()

    def claim(
        self, *, user: str, company_file: str, ticket: str, now: float, lease: float
    ) -> Job | None:
        began, cpu = time.perf_counter(), time.thread_time()
        job = super().claim(
            user=user, company_file=company_file, ticket=ticket, now=now, lease=lease
        )
        took, cpu = time.perf_counter() - began, time.thread_time() - cpu
        with self._timings_lock:
            self._timings.write(f"{time.time():.6f} {took:.6f} {cpu:.6f}\n")
        return job


def make_handler() -> QueueHandler:
    url, prefix = os.environ["QBWC_TEST_DB"], os.environ["QBWC_TEST_PREFIX"]
    lease = float(os.environ.get("QBWC_TEST_LEASE", "60"))
    claims = os.environ.get("QBWC_BENCH_CLAIMS")
    queue = (
        SQLJobQueue(url, prefix=prefix, pool_size=4)
        if claims is None
        else TimedJobQueue(url, prefix=prefix, log=os.path.join(claims, f"{os.getpid()}.txt"))
    )
    return QueueHandler(
        queue, passwords=lambda user, password: password == "pw", kinds=[AddCustomer()], lease=lease
    )


def make_app() -> WebConnectorApp:
    url, prefix = os.environ["QBWC_TEST_DB"], os.environ["QBWC_TEST_PREFIX"]
    return make_wsgi_app(make_handler(), store=SQLSessionStore(url, prefix=prefix, pool_size=4))
