"""The dashboard in a real browser: headless Chromium driven by Playwright, over real HTTP.

The endpoint and the dashboard are served side by side by a werkzeug server
on 127.0.0.1 (the dashboard at /dashboard), over a real SQLite file, and the
simulated Web Connector runs its updates against the same server. The
browser is the system's Chromium (Playwright's own download is never used).
Without Chromium or Playwright these tests are skipped, unless
``QBWC_SPYNE_REQUIRE_BROWSER=1`` (CI), where they fail instead.

Each page is saved as a screenshot under ``build/screenshots/`` (or the
directory in ``QBWC_SPYNE_SCREENSHOTS``). With ``QBWC_SPYNE_DOCS_IMAGES=docs/images``
(``make screenshots``) the pages the documentation shows are saved there too,
under the names the pages use.
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

from qbwc_spyne import JobState, QueueHandler, SQLJobQueue, make_wsgi_app
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
#: The documentation's pictures: which screenshot each is, by the name the pages use,
#: and the window's width: the connections' columns all fit only on a wide screen.
DOCS_IMAGES = {"job": ("dashboard.png", 1280), "connections": ("dashboard-connections.png", 1920)}
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
    queue: SQLJobQueue
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
    queue = SQLJobQueue(tmp_path / "jobs.db")
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
    # Taken only on request: a picture that changes (its times, its session
    # ids) at every run would make every test run a change to the repository.
    docs_images = os.environ.get("QBWC_SPYNE_DOCS_IMAGES")
    if docs_images and name in DOCS_IMAGES:
        Path(docs_images).mkdir(parents=True, exist_ok=True)
        file_name, width = DOCS_IMAGES[name]
        size = page.viewport_size
        page.set_viewport_size({"width": width, "height": size["height"]})
        page.screenshot(path=str(Path(docs_images) / file_name), full_page=True)
        page.set_viewport_size(size)


#: Each word (a run of characters that are not white space) in a table cell, outside
#: <code> (qbXML, which may break anywhere), that the browser laid out on more than
#: one line: the word and the lines' tops.
SPLIT_WORDS = """
() => {
  const split = [];
  for (const cell of document.querySelectorAll("main td, main th")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.parentElement.closest("code")) continue;
      for (const word of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (tops.size > 1) split.push(word[0] + " " + [...tops].join("/"));
      }
    }
  }
  return split;
}
"""
#: Widths of the screens operators use, from a small laptop to a desktop.
WIDTHS = (1024, 1280, 1440, 1920)


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

    @pytest.mark.parametrize("target", ["one", "bulk"])
    def test_a_post_without_the_csrf_token_is_refused(self, page, site, target):
        """A logged-in browser sent from another page to press Retry (on one job, or on
        several at once) gets 403; nothing changes."""
        job = site.queue.enqueue(
            user="shop", kind="add_invoice", payload={"customer": "Nobody"}, now=time.time()
        )
        site.update()
        log_in(page, site)
        action, fields = f"{site.dashboard}/jobs/{job.id}/retry", ""
        if target == "bulk":
            action = f"{site.dashboard}/jobs/bulk"
            fields = f'<input name="action" value="retry"><input name="job" value="{job.id}">'
        forged = (
            f'<form method="post" action="{action}">{fields}<button id="go">Win</button></form>'
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

    def test_a_health_check_shows_it_is_waiting_then_the_answer(self, page, site):
        """Check: the page says at once what it waits for and how long it has waited; the
        Web Connector's next update answers the HostQuery; the page shows the answer."""
        site.update()  # the Web Connector has been seen: the user is not offline
        log_in(page, site)
        page.goto(site.dashboard + "/live")
        page.fill("input[name=user]", "shop")
        page.click("#check")
        waiting = page.wait_for_selector("#waiting")
        assert "No session is open" in waiting.inner_text()
        # The second line: the first second waited, drawn over "Waiting for the answer".
        page.wait_for_selector(".progress .waited:nth-child(2)")
        assert page.query_selector("#verdict") is None  # no update has run: no answer yet
        screenshot(page, "live-waiting")
        site.update_when_asked().join(timeout=60)
        health = page.wait_for_selector("#health").inner_text()
        assert "latency" in health and "13.0" in health
        assert page.inner_text("#verdict") == "QuickBooks answered."
        screenshot(page, "live")

    def test_no_word_is_split_in_any_table_at_common_widths(self, page, site):
        """Operation names, users, kinds, states and dates break between words only, on
        every page with a table, from a 1024-pixel laptop to a 1920-pixel desktop."""
        for n in range(3):
            site.queue.enqueue(
                user="shop",
                kind="add_invoice",
                key=f"SO-{n:05}",
                payload={"customer": "Nobody"},
                now=time.time(),
            )
        site.update()
        log_in(page, site)
        page.goto(site.dashboard + "/sessions")
        session = page.get_attribute("#sessions tbody a", "href")
        job = site.queue.jobs(user="shop")[0].id
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for path in ("/", "/jobs", "/sessions", session, f"/jobs/{job}"):
                page.goto(
                    site.url + path if path.startswith("/dashboard") else site.dashboard + path
                )
                assert page.evaluate(SPLIT_WORDS) == [], (width, path)
                if path == "/":
                    screenshot(page, f"connections-{width}")

    def test_ticked_jobs_are_retried_together(self, page, site):
        """Three failed jobs, two ticked, Retry: those two are pending, the third failed."""
        jobs = [
            site.queue.enqueue(
                user="shop", kind="add_invoice", payload={"customer": "Nobody"}, now=time.time()
            )
            for _ in range(3)
        ]
        site.update()
        log_in(page, site)
        page.goto(site.dashboard + "/jobs?state=failed")
        for job in (jobs[0], jobs[2]):
            page.check(f"input[name=job][value='{job.id}']")
        screenshot(page, "jobs")
        page.click("#retry-selected")
        assert page.inner_text("#summary").startswith("2 of 2 retried")
        screenshot(page, "bulk")
        states = [site.queue.get(job.id).state for job in jobs]
        assert states == [JobState.PENDING, JobState.FAILED, JobState.PENDING]
        page.click("#back")
        assert page.url.endswith("/jobs?state=failed")

    def test_a_job_is_found_by_its_order_number(self, page, site):
        """Typed in the search box, an order number in a payload finds its job."""
        site.queue.enqueue(user="shop", kind="add_invoice", payload={"customer": "A"})
        wanted = site.queue.enqueue(
            user="shop", kind="add_invoice", payload={"customer": "B", "order": "SO-4711"}
        )
        log_in(page, site)
        page.goto(site.dashboard + "/jobs")
        page.fill("input[name=q]", "so-4711")
        page.click(".filters button[type=submit]")
        ids = page.eval_on_selector_all(
            "#jobs tbody td:nth-child(2) a", "a => a.map(x => x.textContent)"
        )
        assert ids == [str(wanted.id)]
