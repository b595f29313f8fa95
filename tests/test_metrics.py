"""Prometheus metrics and the call's fields on every log record, over a real HTTP server."""

from __future__ import annotations

import importlib
import json
import logging
import os
import pkgutil
import signal
import sqlite3
import subprocess
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.test import Client

import qbwc_spyne
from qbwc_spyne import (
    JobContext,
    JobKind,
    JobState,
    LiveClient,
    MemoryJobQueue,
    MemorySessionStore,
    QueueHandler,
    SQLJobQueue,
    make_wsgi_app,
    qbxml,
)
from qbwc_spyne.events import ErrorCode
from qbwc_spyne.exceptions import LiveTimeout
from qbwc_spyne.log import JSONFormatter
from qbwc_spyne.metrics import Metrics
from qbwc_spyne.protocol._calls import Call
from qbwc_spyne.protocol._core import Core
from qbwc_spyne.server._logging import FIELDS, CallFields
from qbwc_spyne.server._metrics import MAX_CODES, exposition
from qbwc_spyne.testing import (
    FakeQuickBooks,
    HTTPTransport,
    WebConnector,
    WSGITransport,
    make_client,
)

from .helpers import (
    DEPRECATED_MODULES,
    AddInvoice,
    FakeClock,
    RecordingHandler,
    free_port,
    raises,
    update,
    wait_until_serving,
)

ROOT = Path(__file__).resolve().parent.parent
#: Seconds between each job's enqueue and the update that runs it.
WAIT = 42.0


class AddCustomer(JobKind):
    """Adds the customer named in the payload."""

    name = "add_customer"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": ctx.payload["name"]}})

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        pass


class SyncCustomers(JobKind):
    """Pages through every customer, two at a time: one job, several responses."""

    name = "sync_customers"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"MaxReturned": 2}, iterator="Start")

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        pass


def kinds() -> list[JobKind]:
    return [AddCustomer(), AddInvoice(), SyncCustomers()]


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 from a thread of this process; yield the URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET the metrics at ``url``; every sample by name and labels, parsed by prometheus_client."""
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def samples(scraped: dict, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one metric, by labels."""
    return {labels: value for (sample, labels), value in scraped.items() if sample == name}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(tmp_path) -> Iterator[SQLJobQueue]:
    jobs = SQLJobQueue(tmp_path / "jobs.db")
    yield jobs
    jobs.close()


@pytest.fixture
def quickbooks() -> FakeQuickBooks:
    books = FakeQuickBooks()
    books.load({"items": [{"type": "ItemService", "Name": "Labor"}]})
    books.add_customers(3)
    return books


@pytest.fixture
def service(queue, clock, make_handler) -> Iterator[tuple[str, QueueHandler]]:
    """A QueueHandler on a SQLite file, served with metrics on 127.0.0.1; its URL."""
    handler = make_handler(kinds=kinds(), clock=clock)
    metrics = Metrics(queue=queue)
    with serving(make_wsgi_app(handler, metrics=metrics, clock=clock)) as url:
        yield url, handler


def enqueue_the_day(handler: QueueHandler, clock: FakeClock) -> dict[str, int]:
    """Two customers to add, an invoice for nobody (3140), a sync of three pages; then WAIT."""
    ids = {
        "first": handler.enqueue("add_customer", user="shop", payload={"name": "Ann"}).id,
        "orphan": handler.enqueue("add_invoice", user="shop", payload={"customer": "Nobody"}).id,
        "second": handler.enqueue("add_customer", user="shop", payload={"name": "Bob"}).id,
        "sync": handler.enqueue("sync_customers", user="shop").id,
    }
    clock.advance(WAIT)
    return ids


class TestCalls:
    def test_a_session_counts_each_call_by_operation_and_outcome(self, service, clock, quickbooks):
        """An update, one with no work, a wrong password, a stale ticket: counted exactly."""
        url, handler = service
        enqueue_the_day(handler, clock)
        worked = update(url, quickbooks)
        assert worked.ok, worked.transcript()
        idle = update(url, quickbooks)
        assert idle.status == "no work"
        refused = update(url, quickbooks, password="guess")
        assert refused.status == "auth failed"
        stale = make_client(HTTPTransport()).create_service(WebConnector.SERVICE, url)
        stale.getLastError(ticket="00000000-dead-beef-0000-000000000000")

        calls = samples(scrape(url + "metrics"), "qbwc_calls_total")
        # 4 jobs: two adds, the failed invoice, and a sync of 5 customers (3
        # and the 2 added) in pages of 2, 3 responses: 6 requests and 6 responses.
        assert {dict(k)["operation"] + " " + dict(k)["outcome"]: v for k, v in calls.items()} == {
            "serverVersion ok": 3,
            "clientVersion ok": 3,
            "authenticate ok": 1,
            "authenticate none": 1,
            "authenticate nvu": 1,
            "sendRequestXML request": 6,
            "receiveResponseXML more": 5,
            "receiveResponseXML done": 1,
            "closeConnection ok": 1,
            "getLastError unknown_ticket": 1,
        }
        made = len(worked.calls) + len(idle.calls) + len(refused.calls) + 1
        assert sum(calls.values()) == made

    def test_sessions_are_counted_from_authenticate_to_close(self, service, clock, quickbooks):
        """One session started and closed; none active after it, one active in the middle."""
        url, handler = service
        enqueue_the_day(handler, clock)
        client = make_client(HTTPTransport()).create_service(WebConnector.SERVICE, url)
        ticket, _company = client.authenticate(strUserName="shop", strPassword="pw")
        middle = scrape(url + "metrics")
        assert middle[("qbwc_sessions_active", ())] == 1
        assert middle[("qbwc_sessions_started_total", ())] == 1
        client.closeConnection(ticket=ticket)
        after = scrape(url + "metrics")
        assert after[("qbwc_sessions_active", ())] == 0
        assert samples(after, "qbwc_sessions_ended_total") == {(("reason", "closed"),): 1}

    def test_a_session_never_met_again_ends_as_abandoned(self, queue, clock, make_handler):
        """Silent past the session timeout: no longer active, ended as abandoned, once."""
        metrics = Metrics(queue=queue, clock=clock)
        handler = make_handler(kinds=kinds(), clock=clock)
        handler.enqueue("add_customer", user="shop", payload={"name": "Ann"})
        app = make_wsgi_app(handler, metrics=metrics, clock=clock, session_timeout=600)
        client = make_client(WSGITransport(app)).service
        client.authenticate(strUserName="shop", strPassword="pw")
        clock.advance(599)
        assert parse(metrics)[("qbwc_sessions_active", ())] == 1
        clock.advance(2)
        for _ in range(2):  # the second scrape finds nothing more to end
            scraped = parse(metrics)
            assert scraped[("qbwc_sessions_active", ())] == 0
            assert samples(scraped, "qbwc_sessions_ended_total") == {(("reason", "abandoned"),): 1}

    def test_call_latency_is_observed_once_per_call(self, service, clock, quickbooks):
        """The latency histogram's count per operation equals the calls made."""
        url, handler = service
        enqueue_the_day(handler, clock)
        result = update(url, quickbooks)
        counts = samples(scrape(url + "metrics"), "qbwc_call_duration_seconds_count")
        made = Counter(result.operations())
        assert {dict(k)["operation"]: v for k, v in counts.items()} == made


class TestJobs:
    def test_a_failed_job_adds_one_to_its_status_code(self, service, clock, quickbooks):
        """The invoice for a customer QuickBooks does not know: errors_total{code="3140"} + 1."""
        url, handler = service
        ids = enqueue_the_day(handler, clock)
        before = scrape(url + "metrics")
        assert ("qbwc_errors_total", (("code", "3140"),)) not in before
        update(url, quickbooks)
        assert handler.queue.get(ids["orphan"]).error_code == "3140"
        errors = samples(scrape(url + "metrics"), "qbwc_errors_total")
        assert errors == {(("code", "3140"),): 1}

    def test_job_latency_is_observed_once_per_done_job(self, service, clock, quickbooks):
        """Three jobs done (one of them over three pages): three observations of WAIT seconds."""
        url, handler = service
        enqueue_the_day(handler, clock)
        update(url, quickbooks)
        scraped = scrape(url + "metrics")
        count = samples(scraped, "qbwc_job_duration_seconds_count")
        total = samples(scraped, "qbwc_job_duration_seconds_sum")
        assert count == {(("kind", "add_customer"),): 2, (("kind", "sync_customers"),): 1}
        assert total == {(("kind", "add_customer"),): 2 * WAIT, (("kind", "sync_customers"),): WAIT}

    def test_jobs_by_state_equal_the_queue_s_counts(self, service, clock, quickbooks):
        """After an update, a cancel and another user's job: the gauge is the queue's count."""
        url, handler = service
        enqueue_the_day(handler, clock)
        update(url, quickbooks)
        handler.enqueue("add_customer", user="other", payload={"name": "Cy"})
        cancelled = handler.enqueue("add_customer", user="other", payload={"name": "Di"})
        handler.queue.cancel(cancelled.id, now=clock())
        gauge = samples(scrape(url + "metrics"), "qbwc_jobs")
        counted = Counter(job.state.value for job in handler.queue.jobs())
        assert counted == {"done": 3, "failed": 1, "pending": 1, "cancelled": 1}
        assert gauge == {(("state", s.value),): counted.get(s.value, 0) for s in JobState}

    def test_a_failing_metrics_queue_changes_no_answer(self, clock, tmp_path, caplog, make_handler):
        """Metrics on a queue whose table is gone: the same answers, a logged line, a scrape."""
        broken_path = tmp_path / "broken.db"
        broken = SQLJobQueue(broken_path)
        with closing(sqlite3.connect(broken_path)) as db, db:  # closed, not only committed
            rows = db.execute("SELECT type, name FROM sqlite_master WHERE name LIKE 'qbwc_%'")
            for kind, name in sorted(rows.fetchall(), key=lambda row: row[0] != "trigger"):
                if kind in ("trigger", "table"):
                    db.execute(f"DROP {kind} IF EXISTS {name}")
        answers = []
        for number, metrics in enumerate((None, Metrics(queue=broken))):
            jobs = SQLJobQueue(tmp_path / f"jobs{number}.db")
            handler = make_handler(jobs, kinds=kinds(), clock=clock)
            handler.enqueue("add_customer", user="shop", payload={"name": "Ann"})
            app = make_wsgi_app(handler, metrics=metrics, clock=clock)
            with serving(app) as url:
                result = update(url, FakeQuickBooks())
                answers.append([(c.operation, c.result) for c in result.calls[3:]])
                if metrics is not None:
                    scraped = scrape(url + "metrics")
            jobs.close()
        broken.close()
        assert answers[0] == answers[1] and answers[0][-1][0] == "closeConnection"
        assert samples(scraped, "qbwc_calls_total")  # the calls still counted
        assert not samples(scraped, "qbwc_jobs")  # the jobs left out, not the scrape
        assert any(
            "Metrics.on_call raised for receiveResponseXML" in r.message for r in caplog.records
        )
        assert any("could not count jobs by state" in r.message for r in caplog.records)


class TestBounds:
    def test_a_live_client_reports_its_requests_to_the_metrics(self, queue):
        """LiveClient(observe=metrics.observe_live_request): a timed-out request counted once."""
        metrics = Metrics(queue=queue)
        client = LiveClient(queue, observe=metrics.observe_live_request)
        with pytest.raises(LiveTimeout):
            client.request("shop", qbxml.Rq("CustomerQueryRq", {"MaxReturned": 1}), timeout=0.2)
        scraped = parse(metrics)
        count = samples(scraped, "qbwc_live_request_duration_seconds_count")
        assert count == {(("outcome", "timeout"),): 1}
        assert scraped[("qbwc_live_request_duration_seconds_sum", (("outcome", "timeout"),))] > 0
        assert scraped[("qbwc_jobs", (("state", "cancelled"),))] == 1  # never sent: cancelled

    def test_made_up_hresults_cannot_grow_the_registry(self):
        """Failed jobs with 250 distinct hresults and a hostile code: at most MAX_CODES + other."""
        queue = MemoryJobQueue()
        metrics = Metrics(queue=queue)
        codes = [f"0x{n:08X}" for n in range(250)] + ["<script>alert(1)</script>"]
        for code in codes:
            job = queue.enqueue(user="u", kind="k")
            queue.claim(user="u", company_file="", ticket="t", now=1.0, lease=60.0)
            assert queue.fail(job.id, ticket="t", now=2.0, code=code, message="m")
            metrics.on_call(Call(operation="receiveResponseXML", started=0.0, job_id=job.id))
        errors = samples(parse(metrics), "qbwc_errors_total")
        assert len(errors) == MAX_CODES + 1
        assert errors[(("code", "other"),)] == len(codes) - MAX_CODES
        assert sum(errors.values()) == len(codes)

    def test_live_requests_keep_known_outcomes_only(self):
        """observe_live_request: known outcomes by name, any other word as other."""
        metrics = Metrics()
        metrics.observe_live_request(1.5, "ok")
        metrics.observe_live_request(0.5, "ok")
        metrics.observe_live_request(60, "timeout")
        metrics.observe_live_request(2, "user 42 said no")
        scraped = parse(metrics)
        count = samples(scraped, "qbwc_live_request_duration_seconds_count")
        assert count == {
            (("outcome", "ok"),): 2,
            (("outcome", "timeout"),): 1,
            (("outcome", "other"),): 1,
        }
        assert scraped[("qbwc_live_request_duration_seconds_sum", (("outcome", "ok"),))] == 2.0

    def test_no_label_names_a_user_or_ticket(self, service, clock, quickbooks):
        """After a session, no label value holds the user name or any part of the ticket."""
        url, handler = service
        enqueue_the_day(handler, clock)
        result = update(url, quickbooks)
        values = {value for _, labels in scrape(url + "metrics") for _, value in labels}
        assert "shop" not in values
        assert not any(result.ticket[:8] in value for value in values)


def parse(metrics: Metrics) -> dict:
    """Scrape ``metrics`` in-process, through what ``metrics=`` mounts at /metrics."""
    response = Client(exposition(metrics)).get("/")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


class TestExposition:
    def test_metrics_are_served_under_a_mount_prefix(self, queue, clock, make_handler):
        """Mounted at /qbwc: GET /qbwc/metrics serves them; the endpoint still answers."""
        handler = make_handler(kinds=kinds(), clock=clock)
        app = DispatcherMiddleware(
            make_wsgi_app(handler, metrics=Metrics(queue=queue)),
            {"/qbwc": make_wsgi_app(handler, metrics=Metrics(queue=queue))},
        )
        client = Client(app)
        scraped = client.get("/qbwc/metrics")
        assert scraped.status_code == 200 and "qbwc_jobs{" in scraped.get_data(as_text=True)
        assert client.get("/qbwc?wsdl").status_code == 200
        assert client.get("/qbwc/other").status_code == 404

    def test_without_metrics_the_path_is_the_status_page(self, make_handler):
        """make_wsgi_app without metrics: GET /metrics is the endpoint's text page, as before."""
        handler = make_handler()
        page = Client(make_wsgi_app(handler)).get("/metrics").get_data(as_text=True)
        assert page.startswith("QuickBooks Web Connector endpoint") and "qbwc_calls" not in page

    def test_metrics_given_both_ways_count_each_call_once(self, queue, make_handler):
        """make_wsgi_app(observers=[m], metrics=m): one update, each call counted once."""
        metrics = Metrics(queue=queue)
        handler = make_handler(kinds=kinds())
        handler.enqueue("add_customer", user="shop", payload={"name": "Ann"})
        app = make_wsgi_app(handler, observers=[metrics], metrics=metrics)
        result = WebConnector(app, user="shop", password="pw").update()
        assert result.ok, result.transcript()
        calls = samples(parse(metrics), "qbwc_calls_total")
        assert sum(calls.values()) == len(result.calls)

    def test_make_metrics_app_still_serves_them_and_warns_once(self, monkeypatch):
        """The deprecated make_metrics_app serves what /metrics serves, and says what to use."""
        monkeypatch.setattr(qbwc_spyne._deprecation, "warned", set())
        metrics = Metrics()
        metrics.observe_live_request(1, "ok")
        with pytest.warns(DeprecationWarning, match=r"metrics=metrics"):
            app = qbwc_spyne.make_metrics_app(metrics)
        response = Client(app).get("/")
        assert response.status_code == 200
        assert "qbwc_live_request_duration_seconds_count" in response.get_data(as_text=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert Client(qbwc_spyne.make_metrics_app(metrics)).get("/").status_code == 200

    def test_the_public_metrics_module_names_the_metrics(self):
        """qbwc_spyne.metrics is where Metrics is imported from."""
        from qbwc_spyne import metrics as public

        assert public.Metrics is Metrics
        assert public.multiprocess_dir() == (os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None)
        assert not hasattr(public, "make_metrics_app")

    def test_two_metrics_in_one_process_do_not_clash(self):
        """Each Metrics has its own registry by default."""
        first, second = Metrics(), Metrics()
        first.observe_live_request(1, "ok")
        assert samples(parse(second), "qbwc_live_request_duration_seconds_count") == {}


# -- log fields ------------------------------------------------------------------------


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def library_records() -> Iterator[list[logging.LogRecord]]:
    """Every record of the library's loggers, at any level."""
    keep = _Keep()
    library = logging.getLogger("qbwc_spyne")
    level = library.level
    library.addHandler(keep)
    library.setLevel(logging.DEBUG)
    try:
        yield keep.records
    finally:
        library.removeHandler(keep)
        library.setLevel(level)


# A process that logs through the library with a formatter naming the call's fields.
FORMATTED = """
import logging, sys
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter(
    "%(levelname)s user=[%(qbwc_user)s] ticket=[%(qbwc_ticket)s] job=[%(qbwc_job)s]"
    " op=[%(qbwc_operation)s] %(message)s"
))
library = logging.getLogger("qbwc_spyne")
library.addHandler(handler)
library.setLevel(logging.INFO)
"""


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter; its output, checked to have ended well."""
    done = subprocess.run(
        [sys.executable, "-c", FORMATTED + code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    # logging prints "--- Logging error ---" to stderr when a format fails.
    assert "Logging error" not in done.stderr, done.stderr
    return done


class TestLogFields:
    def test_a_dashboard_process_has_the_fields(self):
        """A process that only serves the dashboard, never the endpoint: the fields are there."""
        done = run_python(
            """
import re
from werkzeug.test import Client
from qbwc_spyne import MemoryJobQueue
from qbwc_spyne.dashboard import make_dashboard_app
browser = Client(make_dashboard_app(MemoryJobQueue(), password="pw"))
form = browser.get("/login")
csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
assert browser.post("/login", data={"csrf": csrf, "password": "wrong"}).status_code == 401
assert "qbwc_spyne.server._server" not in sys.modules
"""
        )
        assert "WARNING user=[] ticket=[] job=[] op=[] dashboard: a wrong password" in done.stdout

    def test_a_live_client_process_has_the_fields(self):
        """A web worker that only sends live requests: its records carry the fields."""
        done = run_python(
            """
from qbwc_spyne import LiveClient, MemoryJobQueue
from qbwc_spyne.exceptions import QuickBooksOffline
from qbwc_spyne.qbxml import Rq
from qbwc_spyne.status import MemoryStatusStore

def observe(seconds, outcome):
    raise RuntimeError("a broken observer")

client = LiveClient(MemoryJobQueue(), status=MemoryStatusStore(), observe=observe)
try:
    client.request("shop", Rq("CustomerQueryRq", {}), timeout=5)
except QuickBooksOffline:
    pass
assert "qbwc_spyne.server._server" not in sys.modules
"""
        )
        line = "ERROR user=[] ticket=[] job=[] op=[] the live request observer raised"
        assert line in done.stdout

    def test_every_library_logger_has_the_fields_without_a_server(self):
        """Import every module, build no server: each logger of the library has the filter."""
        run_python(
            """
import importlib, pkgutil
import qbwc_spyne
from qbwc_spyne.server._logging import CallFields
for module in pkgutil.walk_packages(qbwc_spyne.__path__, "qbwc_spyne."):
    if module.name != "qbwc_spyne.__main__":
        importlib.import_module(module.name)
names = [n for n in logging.Logger.manager.loggerDict if n.startswith("qbwc_spyne")]
assert "qbwc_spyne" in names and "qbwc_spyne.reference" in names, names
for name in names:
    assert any(isinstance(f, CallFields) for f in logging.getLogger(name).filters), name
"""
        )

    def test_other_libraries_records_are_left_alone(self):
        """The fields are the library's: another logger's record gains none of them."""
        done = run_python(
            """
import qbwc_spyne
other = logging.getLogger("someone.else")
record = other.makeRecord("someone.else", logging.INFO, "x.py", 1, "hi", (), None)
other.handle(record)
print(sorted(name for name in vars(record) if name.startswith("qbwc_")))
"""
        )
        assert done.stdout.strip() == "[]"

    def test_every_log_line_of_a_session_has_the_four_fields(self, service, clock, quickbooks):
        """Each record names user, ticket prefix, job and operation; the failed job's names it."""
        url, handler = service
        ids = enqueue_the_day(handler, clock)
        with library_records() as records:
            result = update(url, quickbooks)
        assert len(records) >= 3  # session started, the failed job, session ended
        for record in records:
            fields = {name: getattr(record, name) for name in FIELDS}
            assert fields["qbwc_user"] == "shop", record.getMessage()
            assert fields["qbwc_ticket"] == result.ticket[:8], record.getMessage()
            assert fields["qbwc_operation"] in result.operations()
        (failed,) = [r for r in records if "failed: 3140" in r.getMessage()]
        assert failed.qbwc_job == str(ids["orphan"])  # type: ignore[attr-defined]
        assert failed.qbwc_operation == "receiveResponseXML"  # type: ignore[attr-defined]

    def test_json_lines_carry_the_fields(self, service, clock, quickbooks):
        """JSONFormatter: one JSON object a record, with the four fields and the message."""
        url, handler = service
        enqueue_the_day(handler, clock)
        with library_records() as records:
            result = update(url, quickbooks)
        lines = [JSONFormatter().format(record) for record in records]
        assert all("\n" not in line for line in lines)
        entries = [json.loads(line) for line in lines]
        started = next(e for e in entries if "started" in e["message"])
        assert started["qbwc_operation"] == "authenticate"
        assert started["qbwc_ticket"] == result.ticket[:8]
        assert started["qbwc_user"] == "shop" and started["qbwc_job"] == ""
        assert started["logger"] == "qbwc_spyne" and started["level"] == "INFO"
        assert started["time"].endswith("+00:00")

    def test_outside_a_call_the_fields_are_empty(self, make_handler):
        """A record written outside any call has the fields, empty."""
        make_wsgi_app(make_handler())
        with library_records() as records:
            logging.getLogger("qbwc_spyne").warning("outside")
            logging.getLogger("qbwc_spyne.reference").warning("outside too")
        assert [[getattr(r, name) for name in FIELDS] for r in records] == [["", "", "", ""]] * 2

    def test_a_long_user_name_is_shortened_and_json_escapes_newlines(self, clock, make_handler):
        """A 5,000-character user name with a newline: one line, 120 characters of it."""
        handler = make_handler(kinds=kinds(), clock=clock)
        handler.enqueue("add_customer", user="x\n" * 2500, payload={"name": "Ann"})
        app = make_wsgi_app(handler, clock=clock)
        with library_records() as records:
            WebConnector(app, user="x\n" * 2500, password="pw").update()
        assert records
        for record in records:
            assert len(record.qbwc_user) == 120  # type: ignore[attr-defined]
            assert "\n" not in JSONFormatter().format(record)

    def test_every_library_logger_names_the_call(self, make_handler):
        """Once a server is built, each logger of every imported library module has the filter."""
        for module in pkgutil.walk_packages(qbwc_spyne.__path__, "qbwc_spyne."):
            # The deprecated modules only re-export (and warn): they log nothing.
            if module.name not in ("qbwc_spyne.__main__", *DEPRECATED_MODULES):
                importlib.import_module(module.name)
        make_wsgi_app(make_handler())
        names = [n for n in logging.Logger.manager.loggerDict if n.startswith("qbwc_spyne")]
        assert "qbwc_spyne" in names and "qbwc_spyne.reference" in names
        for name in names:
            filters = logging.getLogger(name).filters
            assert any(isinstance(f, CallFields) for f in filters), name

    def test_a_second_metrics_on_one_registry_is_refused(self):
        """Two Metrics on one registry: prometheus-client's ValueError, not doubled counts."""
        registry = CollectorRegistry()
        Metrics(registry=registry)
        with pytest.raises(ValueError, match="Duplicated timeseries"):
            Metrics(registry=registry)

    def test_an_exception_goes_into_the_json_entry(self):
        """A record with exc_info: its traceback under "exception"."""
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.getLogger("qbwc_spyne").makeRecord(
                "qbwc_spyne", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
            )
        entry = json.loads(JSONFormatter().format(record))
        assert "ValueError: boom" in entry["exception"]
        assert entry["qbwc_user"] == ""  # not through a filter: the keys still there


# -- the command line ------------------------------------------------------------------


@pytest.mark.wire
def test_serve_metrics_serves_them_beside_the_endpoint(tmp_path):
    """qbwc-spyne serve --metrics: after a simulated update, /metrics counts its calls."""
    port = free_port()
    (tmp_path / "metrics_app.py").write_text(
        "import os\n"
        "from examples.customer_mirror import make_handler\n"
        "def handler():\n"
        "    return make_handler(os.environ['QBWC_DEMO_DATA'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QBWC_DEMO_DATA": str(tmp_path / "data")}
    server = subprocess.Popen(
        [
            *[sys.executable, "-m", "qbwc_spyne", "serve", "metrics_app:handler()"],
            *["--port", str(port), "--metrics"],
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        assert wait_until_serving(url, lambda: server.poll() is None), "serve did not start"
        quickbooks = FakeQuickBooks.from_json(ROOT / "examples" / "demo_company.json")
        result = WebConnector(url, user="demo", password="demo-password", quickbooks=quickbooks)
        assert result.update().ok
        scraped = scrape(url + "metrics")
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=10)
    assert scraped[("qbwc_calls_total", (("operation", "closeConnection"), ("outcome", "ok")))] == 1
    assert sum(samples(scraped, "qbwc_jobs").values()) >= 1
    assert f"Metrics: {url}metrics" in output


def test_serve_metrics_refuses_a_wsgi_app():
    """--metrics applies to a handler: a WSGI app target is one line, exit 1."""
    result = subprocess.run(
        [sys.executable, "-m", "qbwc_spyne", "serve", "examples.flask_mount:app", "--metrics"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "apply to a handler, not a WSGI app" in result.stderr


@pytest.mark.wire
def test_under_several_gunicorn_workers_any_scrape_counts_every_call(tmp_path):
    """Workers replaced every 4 requests, PROMETHEUS_MULTIPROC_DIR set: each scrape has it all."""
    port = free_port()
    (tmp_path / "prom").mkdir()
    (tmp_path / "workers_app.py").write_text(
        "import os\n"
        "from examples.customer_mirror import make_handler\n"
        "from qbwc_spyne import SQLSessionStore, make_wsgi_app\n"
        "from qbwc_spyne.metrics import Metrics\n"
        "handler = make_handler(os.environ['QBWC_DEMO_DATA'])\n"
        "store = SQLSessionStore(os.path.join(os.environ['QBWC_DEMO_DATA'], 'sessions.db'))\n"
        "app = make_wsgi_app(handler, store=store, metrics=Metrics(queue=handler.queue))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
        "QBWC_DEMO_DATA": str(tmp_path / "data"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    log = tmp_path / "access.log"
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--worker-class", "sync", "--workers", "2"),
            # Each worker is replaced after 4 requests, so the update's calls
            # are served by several processes, and the scrapes by later ones.
            *("--max-requests", "4"),
            *("--bind", f"127.0.0.1:{port}", "--access-logfile", str(log)),
            *("--access-logformat", "%(p)s %(m)s", "workers_app:app"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        assert wait_until_serving(url, lambda: server.poll() is None, within=60)
        quickbooks = FakeQuickBooks.from_json(ROOT / "examples" / "demo_company.json")
        result = WebConnector(url, user="demo", password="demo-password", quickbooks=quickbooks)
        done = result.update()
        assert done.ok, done.transcript()
        scrapes = [scrape(url + "metrics") for _ in range(8)]
    finally:
        server.terminate()
        server.wait(timeout=30)
    pids = {line.split()[0] for line in log.read_text().splitlines()}
    assert len(pids) >= len(done.calls) // 4, "a worker served at most 4 requests"
    for scraped in scrapes:
        assert sum(samples(scraped, "qbwc_calls_total").values()) == len(done.calls)
        assert scraped[("qbwc_sessions_started_total", ())] == 1
        assert scraped[("qbwc_sessions_active", ())] == 0
        assert scraped[("qbwc_jobs", (("state", "done"),))] == 2


# -- any sequence of calls ----------------------------------------------------------

#: What each operation's outcome may be, as the README's table says.
ALLOWED = {
    "serverVersion": {"ok"},
    "clientVersion": {"ok", "warn", "refuse", "upgrade"},
    "authenticate": {"ok", "none", "busy", "nvu"},
    "sendRequestXML": {"request", "empty"},
    "receiveResponseXML": {"more", "done", "error"},
    "getLastError": {"noop", "interactive", "error"},
    "connectionError": {"retry", "done"},
    "closeConnection": {"ok"},
    "getInteractiveURL": {"url", "empty"},
    "interactiveDone": {"done", "not_done"},
    "interactiveRejected": {"rejected"},
}
FLOW = ["authenticate", "sendRequestXML", "receiveResponseXML", "getLastError", "closeConnection"]
REFUSED = {"unknown_ticket", "session_expired", "protocol_violation", "failure"}

HANDLER_ANSWERS: dict[str, list[dict[str, Any]]] = {
    "authenticate": [{}, {"no_work": True}, {"busy": True}, {"accept": False}],
    "client_version": [{}, {"warning_message": "w"}, {"error_message": "e"}],
    "send_request": [{"request": "<QBXML/>"}, {}],
    "receive_response": [{"percent_done": 50}, {"percent_done": 100}, {"percent_done": -1}],
    "get_last_error": [{}, {"pause": True}, {"interactive_mode": True}],
    "connection_error": [{}, {"company_file": "other.qbw"}],
    "interactive_done": [{}, {"response": "Continue"}],
    "get_interactive_url": [{"url": "https://example.com/"}, {}],
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_sequence_of_calls_keeps_the_counts_consistent(data):
    """Hypothesis: random calls, answers, raises and idle gaps; counts add up, labels stay known."""
    clock = FakeClock()
    handler = RecordingHandler()
    metrics = Metrics()
    core = Core(handler, MemorySessionStore(), clock=clock, observers=[metrics])
    tickets = ["no-such-ticket"]
    started = closed = 0
    steps = data.draw(st.integers(1, 40), label="steps")
    for _ in range(steps):
        for event, answers in HANDLER_ANSWERS.items():
            handler.answers[event] = data.draw(st.sampled_from(answers))
        if data.draw(st.integers(0, 9)) == 0:
            handler.answers["send_request"] = raises(RuntimeError("handler bug"))
        if data.draw(st.integers(0, 9)) == 0:
            clock.advance(2000.0)  # past the session timeout
        # Mostly the latest session, in the order of an update, so that
        # sessions go far; any ticket and any operation otherwise.
        ticket = data.draw(st.one_of(st.just(tickets[-1]), st.sampled_from(tickets)))
        operation = data.draw(st.one_of(st.sampled_from(FLOW), st.sampled_from(sorted(ALLOWED))))
        before = len(handler.errors)
        if operation == "authenticate":
            answer = core.authenticate("shop", "pw")
            if answer[1] not in ("nvu", "busy", "none"):
                started += 1
                tickets.append(answer[0])
        elif operation == "closeConnection":
            known = core.store.get(ticket) is not None
            core.close_connection(ticket)
            codes = {e.error_code for e in handler.errors[before:]}
            closed += known and ErrorCode.SESSION_EXPIRED not in codes
        else:
            call_operation(core, operation, ticket)
    scraped = parse(metrics)
    calls = samples(scraped, "qbwc_calls_total")
    assert sum(calls.values()) == steps
    for labels in calls:
        operation, outcome = dict(labels)["operation"], dict(labels)["outcome"]
        assert outcome in ALLOWED[operation] | REFUSED, (operation, outcome)
    ended = samples(scraped, "qbwc_sessions_ended_total")
    assert scraped[("qbwc_sessions_started_total", ())] == started
    assert ended.get((("reason", "closed"),), 0) == closed
    assert scraped[("qbwc_sessions_active", ())] == started - sum(ended.values()) >= 0


def call_operation(core: Core, operation: str, ticket: str) -> None:
    """Make one call other than authenticate and closeConnection, with plain arguments."""
    if operation == "serverVersion":
        core.server_version()
    elif operation == "clientVersion":
        core.client_version("2.3.0.215")
    elif operation == "sendRequestXML":
        core.send_request_xml(ticket, "", "c.qbw", "US", 13, 0)
    elif operation == "receiveResponseXML":
        core.receive_response_xml(ticket, "<QBXML/>", None, None)
    elif operation == "getLastError":
        core.get_last_error(ticket)
    elif operation == "connectionError":
        core.connection_error(ticket, "0x80040400", "lost")
    elif operation == "getInteractiveURL":
        core.get_interactive_url(ticket, "s")
    elif operation == "interactiveDone":
        core.interactive_done(ticket)
    else:
        core.interactive_rejected(ticket, "no")
