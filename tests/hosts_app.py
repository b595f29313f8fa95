"""The app the many-hosts tests serve with gunicorn: a queue of customer writes on PostgreSQL.

The database URL and table prefix come from QBWC_TEST_DB and QBWC_TEST_PREFIX.
"""

from __future__ import annotations

import os

from qbwc_spyne import (
    JobContext,
    JobKind,
    QBWCServer,
    QueueHandler,
    SQLJobQueue,
    SQLSessionStore,
    make_wsgi_app,
    qbxml,
)


class AddCustomer(JobKind):
    """Adds the customer named in the payload; reconciles by FullName."""

    name = "add_customer"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": ctx.payload["name"]}})

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        pass

    def reconcile(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"FullName": ctx.payload["name"]})


def make_handler() -> QueueHandler:
    url, prefix = os.environ["QBWC_TEST_DB"], os.environ["QBWC_TEST_PREFIX"]
    lease = float(os.environ.get("QBWC_TEST_LEASE", "60"))
    queue = SQLJobQueue(url, prefix=prefix, pool_size=4)
    return QueueHandler(
        queue, passwords=lambda user, password: password == "pw", kinds=[AddCustomer()], lease=lease
    )


def make_app() -> QBWCServer:
    url, prefix = os.environ["QBWC_TEST_DB"], os.environ["QBWC_TEST_PREFIX"]
    return make_wsgi_app(make_handler(), store=SQLSessionStore(url, prefix=prefix, pool_size=4))
