"""The dashboard in a real browser: headless Chromium driven by Playwright, over real HTTP.

The endpoint and the dashboard are served side by side by a werkzeug server
on 127.0.0.1 (the dashboard at /dashboard), over a real SQLite file, and the
simulated Web Connector runs its updates against the same server. The
browser is the system's Chromium (Playwright's own download is never used).
Without Chromium or Playwright these tests are skipped, unless
``QBWC_SPYNE_REQUIRE_BROWSER=1`` (CI), where they fail instead.

Each page is saved as a screenshot under ``build/screenshots/`` (or the
directory in ``QBWC_SPYNE_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from qbwc_spyne import (
    JobState,
    QueueHandler,
    SQLiteJobQueue,
    make_wsgi_app,
)
from qbwc_spyne.dashboard import make_dashboard_app
from qbwc_spyne.queue._live import LiveClient
from qbwc_spyne.status import SQLStatusStore, StatusRecorder
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

from .helpers import AddInvoice, free_port

REQUIRE_ENV = "QBWC_SPYNE_REQUIRE_BROWSER"
PASSWORD = "the operator's password"
#: The Web Connector's password: it must never appear on a page.
WC_PASSWORD = "wc-secret-4711"
HOSTILE = "<script>alert('x')</script>"
SCREENSHOTS = Path(
    os.environ.get(
        "QBWC_SPYNE_SCREENSHOTS", Path(__file__).resolve().parent.parent / "build" / "screenshots"
    )
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.wire


def _unavailable(why: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from the system's packages, for this module's tests."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        _unavailable("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Site:
    """The endpoint and the dashboard on one real server, and what they share."""

    url: str
    queue: SQLiteJobQueue
    quickbooks: FakeQuickBooks
    endpoint: Any

    @property
    def dashboard(self) -> str:
        return self.url + "/dashboard"

    def update(self) -> None:
        """One scheduled update of the simulated Web Connector, over HTTP."""
        result = WebConnector(
            self.url + "/", user="shop", password=WC_PASSWORD, quickbooks=self.quickbooks
        ).update()
        assert result.status in ("ok", "no work"), result.transcript()

    def update_when_asked(self) -> threading.Thread:
        """Run the next update as soon as a job waits (in a thread; a bounded wait)."""

        def wait_then_update() -> None:
            for _ in range(3000):
                if self.queue.runnable(user="shop"):
                    self.update()
                    return
                time.sleep(0.01)

        thread = threading.Thread(target=wait_then_update)
        thread.start()
        return thread


def _serve(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    queue = SQLiteJobQueue(tmp_path / "jobs.db")
    status = SQLStatusStore(tmp_path / "jobs.db")
    handler = QueueHandler(
        queue, passwords=lambda user, pw: pw == WC_PASSWORD, kinds=[AddInvoice()], keep_alive=0
    )
    endpoint = make_wsgi_app(handler, observers=[StatusRecorder(status)])
    live = LiveClient(queue, status=status, poll=0.02)
    dashboard = make_dashboard_app(queue, status=status, live=live, password=PASSWORD)
    app = DispatcherMiddleware(endpoint, {"/dashboard": dashboard})
    quickbooks = FakeQuickBooks.from_json({"items": [{"Name": "Labor"}]})
    for url in _serve(app):
        yield Site(url, queue, quickbooks, endpoint)
    live.close()
    status.close()
    queue.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh browser context (no cookies); any dialog a page opens is recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.dialogs = []
    opened.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
    yield opened
    context.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page: Any, site: Site, password: str = PASSWORD) -> None:
    page.goto(site.dashboard + "/")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


class TestInABrowser:
    def test_a_wrong_password_is_refused(self, page, site):
        """The form says so, and the pages still ask for the password."""
        page.goto(site.dashboard + "/jobs")
        screenshot(page, "login")
        log_in(page, site, "guess")
        assert page.inner_text("#wrong") == "That password is wrong."
        page.goto(site.dashboard + "/jobs")
        assert page.url.startswith(site.dashboard + "/login")

    def test_a_failed_job_shows_its_explanation_and_retry_runs_it_at_the_next_update(
        self, page, site
    ):
        """Failed with words for the bookkeeper; Retry; the next update runs it; done."""
        job = site.queue.enqueue(
            user="shop", kind="add_invoice", payload={"customer": "Acme"}, now=time.time()
        )
        site.update()
        assert site.queue.get(job.id).state is JobState.FAILED

        log_in(page, site)
        screenshot(page, "connections")
        page.goto(site.dashboard + "/jobs?state=failed")
        screenshot(page, "jobs")
        page.click(f"#jobs a[href$='/jobs/{job.id}']")
        assert "3140" in page.inner_text("#error")
        assert "missing or inactive" in page.inner_text("#explanation")
        screenshot(page, "job")

        site.quickbooks.load({"customers": [{"Name": "Acme"}]})
        page.click("#retry")
        assert page.inner_text("#note") == "The job will be sent at the next update."
        assert page.inner_text("#state") == "pending"
        site.update()
        page.reload()
        assert page.inner_text("#state") == "done"
        assert page.inner_text("#attempts") == "2"

    def test_a_customer_named_like_a_script_injects_nothing(self, page, site):
        """No dialog opens, and the name shows as the text it is, on the list and the job."""
        job = site.queue.enqueue(
            user="shop", kind="add_invoice", payload={"customer": HOSTILE}, now=time.time()
        )
        site.update()
        log_in(page, site)
        page.goto(f"{site.dashboard}/jobs/{job.id}")
        assert HOSTILE in page.inner_text("#error")
        assert HOSTILE in page.inner_text("#payload")
        page.goto(site.dashboard + "/jobs")
        assert HOSTILE in page.inner_text("#jobs")
        assert page.eval_on_selector_all("main script", "nodes => nodes.length") == 0
        assert page.dialogs == []

    def test_a_post_without_the_csrf_token_is_refused(self, page, site, browser):
        """A logged-in browser sent from another page to press Retry gets 403; nothing changes."""
        job = site.queue.enqueue(
            user="shop", kind="add_invoice", payload={"customer": "Nobody"}, now=time.time()
        )
        site.update()
        log_in(page, site)
        forged = (
            f'<form method="post" action="{site.dashboard}/jobs/{job.id}/retry">'
            '<button id="go">Win a prize</button></form>'
        )
        for elsewhere in _serve(Response(forged, mimetype="text/html")):
            page.goto(elsewhere + "/")
            with page.expect_navigation() as refused:
                page.click("#go")
            assert refused.value.status == 403
            assert "security token is missing or wrong" in page.inner_text("#message")
        assert site.queue.get(job.id).state is JobState.FAILED

    def test_a_session_shows_its_calls_and_never_the_password(self, page, site):
        """The update appears on Connections and Sessions; its transcript holds no password."""
        site.queue.enqueue(
            user="shop", kind="add_invoice", payload={"customer": "Nobody"}, now=time.time()
        )
        site.update()
        log_in(page, site)
        assert "shop" in page.inner_text("#connections")
        assert "1 failed job(s)" in page.inner_text("#connections")
        page.goto(site.dashboard + "/sessions")
        screenshot(page, "sessions")
        page.click("#sessions tbody a")
        calls = page.inner_text("#calls")
        for operation in (
            "authenticate",
            "sendRequestXML",
            "receiveResponseXML",
            "closeConnection",
        ):
            assert operation in calls
        screenshot(page, "session")
        assert WC_PASSWORD not in page.content()

    def test_a_health_check_from_the_live_page(self, page, site):
        """Check: the Web Connector's next update answers the HostQuery; the page shows it."""
        site.update()  # the Web Connector has been seen: the user is not offline
        log_in(page, site)
        page.goto(site.dashboard + "/live")
        page.fill("input[name=user]", "shop")
        updating = site.update_when_asked()
        page.click("#check")
        updating.join(timeout=60)
        health = page.inner_text("#health")
        assert "latency" in health and "13.0" in health
        screenshot(page, "live")
