"""The dashboard as a WSGI app: who gets in, what a POST needs, bad filters, escaping, buttons."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import unquote, urljoin, urlsplit

import lxml.html
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from qbwc_spyne import JobState, MemoryJobQueue, SQLJobQueue
from qbwc_spyne.dashboard import make_dashboard_app
from qbwc_spyne.dashboard._app import SHOWN_CHARS, layout_xml
from qbwc_spyne.exceptions import ConfigurationError
from qbwc_spyne.status import MemoryStatusStore, SQLStatusStore
from qbwc_spyne.store._status import CallEntry, StatusUpdate

from .helpers import FakeClock, sqlite_connect

PASSWORD = "correct horse battery staple"
TOKEN = "a-token-for-scripts"
HOSTILE = "<script>alert('x')</script>"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:300]
    return found.group(1)


def cookie_of(client: Client) -> str:
    cookie = client.get_cookie("qbwc_dashboard")
    assert cookie is not None
    return cookie.value


def log_in(client: Client, password: str = PASSWORD) -> int:
    """Log in through the form as a browser does; return the answer's status."""
    form = client.get("/login")
    answer = client.post("/login", data={"csrf": csrf_of(form.text), "password": password})
    return answer.status_code


def failed_job(queue, *, user="shop", kind="add_invoice", code="3140", message="bad ref"):
    """A job that QuickBooks refused, as a session leaves it."""
    job = queue.enqueue(user=user, kind=kind, payload={"customer": "Acme"})
    claimed = queue.claim(user=user, company_file="", ticket="t", now=1.0, lease=60.0)
    assert claimed is not None and claimed.id == job.id
    assert queue.fail(job.id, ticket="t", now=2.0, code=code, message=message)
    return queue.get(job.id)


def unknown_job(queue, *, user="shop"):
    """A write whose session died before its answer: the operator must say what happened."""
    job = queue.enqueue(user=user, kind="add_invoice")
    assert queue.claim(user=user, company_file="", ticket="t", now=1.0, lease=60.0)
    assert queue.progress(job.id, ticket="t", now=1.5, writes=True, request="<QBXML/>")
    assert queue.release(job.id, ticket="t", now=2.0, to=JobState.UNKNOWN, message="lost")
    return queue.get(job.id)


@pytest.fixture
def app(queue):
    return make_dashboard_app(queue, password=PASSWORD, token=TOKEN, page_size=5)


@pytest.fixture
def client(app) -> Client:
    """A browser that has logged in."""
    browser = Client(app)
    assert log_in(browser) == 303
    return browser


class TestStart:
    def test_no_password_and_no_token_refuses_to_start_and_says_how(self, queue):
        """There is no open dashboard: the error names the argument and the variable to set."""
        with pytest.raises(ConfigurationError) as caught:
            make_dashboard_app(queue)
        assert "password=" in str(caught.value)
        assert "QBWC_SPYNE_DASHBOARD_PASSWORD" in str(caught.value)

    @pytest.mark.parametrize("blank", ["", "   "])
    def test_a_blank_password_or_token_is_refused(self, queue, blank):
        """An empty secret is no secret."""
        with pytest.raises(ConfigurationError, match="non-blank"):
            make_dashboard_app(queue, password=blank)
        with pytest.raises(ConfigurationError, match="non-blank"):
            make_dashboard_app(queue, token=blank)

    def test_a_page_size_below_one_is_refused(self, queue):
        """Pages of no job would never end."""
        with pytest.raises(ConfigurationError, match="page_size"):
            make_dashboard_app(queue, password=PASSWORD, page_size=0)


class TestPackaging:
    def test_every_template_and_the_stylesheet_ship_in_the_wheel(self):
        """setup.cfg's package data matches each file the dashboard reads beside its code."""
        import configparser
        from fnmatch import fnmatch
        from pathlib import Path

        import qbwc_spyne.dashboard

        root = Path(__file__).resolve().parent.parent
        config = configparser.ConfigParser()
        config.read(root / "setup.cfg")
        patterns = [
            p.strip() for p in config["options.package_data"]["qbwc_spyne.dashboard"].split(",")
        ]
        folder = Path(qbwc_spyne.dashboard.__file__).parent
        files = [f.name for f in folder.iterdir() if f.suffix in (".html", ".css")]
        assert "job.html" in files and "dashboard.css" in files
        assert [f for f in files if not any(fnmatch(f, p) for p in patterns)] == []


class TestLogin:
    def test_a_page_without_login_sends_the_browser_to_the_login_form(self, app):
        """A GET redirects to the login form, remembering where it was going."""
        answer = Client(app).get("/jobs?state=failed")
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/login?next=/jobs?state%3Dfailed"

    def test_a_head_request_without_login_is_sent_to_log_in_too(self, app):
        """HEAD is a GET without the body: the same redirect, not a refusal."""
        assert Client(app).head("/jobs").status_code == 303

    def test_a_wrong_password_is_refused_and_gives_no_login(self, app):
        """401 with the form again, and the pages still send the browser to log in."""
        browser = Client(app)
        assert log_in(browser, "not the password") == 401
        assert browser.get("/jobs").status_code == 303

    def test_the_right_password_gives_a_strict_httponly_cookie(self, app):
        """The login cookie is not for scripts and is never sent from another site."""
        browser = Client(app)
        form = browser.get("/login")
        answer = browser.post("/login", data={"csrf": csrf_of(form.text), "password": PASSWORD})
        assert answer.status_code == 303
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert browser.get("/jobs").status_code == 200

    def test_login_gives_a_new_session_id(self, app):
        """A session id planted before login is worth nothing after it (no fixation)."""
        browser = Client(app)
        form = browser.get("/login")
        before = cookie_of(browser)
        browser.post("/login", data={"csrf": csrf_of(form.text), "password": PASSWORD})
        after = cookie_of(browser)
        assert before.split(".")[0] != after.split(".")[0]

    def test_a_login_post_without_the_forms_token_is_refused(self, app):
        """Even the right password is refused from a page that is not the login form."""
        answer = Client(app).post("/login", data={"password": PASSWORD})
        assert answer.status_code == 403

    def test_a_tampered_cookie_is_no_login(self, client):
        """Changing the cookie's logged-in field breaks its signature."""
        value = cookie_of(client)
        body, mac = value.split(".")
        client.set_cookie("qbwc_dashboard", f"{body}x.{mac}")
        assert client.get("/jobs").status_code == 303

    def test_a_cookie_from_another_key_is_no_login(self, queue, client):
        """Another dashboard (another secret key) does not honour this one's cookie."""
        other = Client(make_dashboard_app(queue, password=PASSWORD))
        other.set_cookie("qbwc_dashboard", cookie_of(client))
        assert other.get("/jobs").status_code == 303

    def test_a_login_expires(self, queue):
        """After its lifetime a login cookie no longer opens the pages."""
        clock = FakeClock(time.time())
        browser = Client(make_dashboard_app(queue, password=PASSWORD, clock=clock))
        assert log_in(browser) == 303
        assert browser.get("/jobs").status_code == 200
        clock.advance(13 * 3600)
        assert browser.get("/jobs").status_code == 303

    def test_the_bearer_token_opens_the_pages(self, app):
        """A script sends the token instead of logging in."""
        answer = Client(app).get("/jobs", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200

    def test_a_wrong_bearer_token_is_refused(self, app):
        """401, and the page says the token is wrong."""
        answer = Client(app).get("/jobs", headers={"Authorization": "Bearer nope"})
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == "Bearer"

    def test_a_bearer_token_is_refused_when_only_a_password_was_set(self, queue):
        """No token configured: every token is wrong."""
        app = make_dashboard_app(queue, password=PASSWORD)
        answer = Client(app).get("/jobs", headers={"Authorization": f"Bearer {PASSWORD}"})
        assert answer.status_code == 401

    @pytest.mark.parametrize(
        "target",
        [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil",
            # Browsers drop tabs and newlines from a URL: "/\t/x" would be "//x".
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/\r\n/evil.example/",
            "/\x85/evil.example/",
            "/%2e%2e/elsewhere",
        ],
    )
    def test_login_never_redirects_to_another_site(self, app, target):
        """next= outside the dashboard is replaced by the connections page."""
        browser = Client(app)
        form = browser.get("/login")
        answer = browser.post(
            "/login", data={"csrf": csrf_of(form.text), "password": PASSWORD, "next": target}
        )
        assert answer.headers["Location"] == "/"

    @settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        target=st.one_of(
            st.text(),
            st.text(alphabet="/\\.:%@?#\t\n\r ea2").map(lambda rest: "/ops/" + rest),
            st.text().map(lambda rest: "/ops/" + rest),
        )
    )
    @example(target="/ops/\t/evil.example/")
    @example(target="/ops/\n/evil.example/")
    @example(target="/ops/../elsewhere")
    @example(target="/elsewhere")
    @example(target="/ops/jobs?state=failed")
    def test_login_redirects_only_to_the_dashboards_own_paths(self, queue, target):
        """Whatever next= says, the Location stays on the dashboard's site, under its prefix."""
        app = make_dashboard_app(queue, password=PASSWORD)
        browser = Client(app)
        base = "http://dash.test/ops/"
        form = browser.get("/login", base_url=base, query_string={"next": target})
        assert form.status_code == 200
        hidden = re.search(r'name="next" value="([^"]*)"', form.text)
        assert hidden is not None and hidden.group(1).startswith("/ops/")
        answer = browser.post(
            "/login",
            base_url=base,
            data={"csrf": csrf_of(form.text), "password": PASSWORD, "next": target},
        )
        assert answer.status_code == 303
        location = answer.headers["Location"]
        assert not re.search(r"[\x00-\x20\x7f-\x9f\\\\]", location)
        followed = urlsplit(urljoin(base + "login", location))
        assert followed.netloc == "dash.test"
        assert followed.path.startswith("/ops/")
        assert all(unquote(part) not in (".", "..") for part in followed.path.split("/"))
        if target.startswith("/ops/jobs"):
            assert location == target

    def test_logout_ends_the_login(self, client):
        """After logging out the pages ask for the password again."""
        page = client.get("/")
        assert client.post("/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
        assert client.get("/jobs").status_code == 303


class TestGuessing:
    def attempt(self, browser: Client, password: str, address: str = "192.0.2.1") -> int:
        form = browser.get("/login", environ_base={"REMOTE_ADDR": address})
        answer = browser.post(
            "/login",
            data={"csrf": csrf_of(form.text), "password": password},
            environ_base={"REMOTE_ADDR": address},
        )
        return answer.status_code

    def test_ten_wrong_passwords_make_that_address_wait_even_with_the_right_one(self, queue):
        """The 11th try is 429, right password or not, until the window passes; then it works."""
        clock = FakeClock(time.time())
        browser = Client(make_dashboard_app(queue, password=PASSWORD, clock=clock))
        assert [self.attempt(browser, f"guess {n}") for n in range(10)] == [401] * 10
        assert self.attempt(browser, PASSWORD) == 429
        assert self.attempt(browser, PASSWORD, address="198.51.100.7") == 303
        clock.advance(301)
        assert self.attempt(browser, PASSWORD) == 303

    def test_the_wait_is_said_and_nothing_is_compared(self, queue, caplog):
        """429 names the wait in Retry-After; a refused try is not logged as a wrong password."""
        clock = FakeClock(time.time())
        app = make_dashboard_app(queue, password=PASSWORD, clock=clock)
        browser = Client(app)
        for n in range(10):
            self.attempt(browser, f"guess {n}")
            clock.advance(10)
        here = {"REMOTE_ADDR": "192.0.2.1"}
        form = browser.get("/login", environ_base=here)
        caplog.clear()
        answer = browser.post(
            "/login", data={"csrf": csrf_of(form.text), "password": "x"}, environ_base=here
        )
        assert answer.status_code == 429
        # The first of the ten was 100 s ago: 200 s until it is 300 s old.
        assert answer.headers["Retry-After"] == "200"
        assert "wrong password" not in caplog.text

    def test_the_guard_remembers_a_bounded_number_of_addresses(self):
        """A flood of addresses cannot grow memory: the least recently wrong are forgotten."""
        from qbwc_spyne.dashboard._auth import LoginGuard

        guard = LoginGuard(limit=2, window=60.0, max_addresses=2)
        for address in ("a", "a", "b", "b", "c"):
            guard.failed(address, now=0.0)
        assert guard.wait("a", now=1.0) == 0.0  # forgotten: it was the oldest
        assert guard.wait("b", now=1.0) == 59.0
        assert guard.wait("b", now=60.0) == 0.0

    def test_wrong_bearer_tokens_count_too(self, app):
        """Ten wrong tokens from one address, then even the right one waits."""
        client = Client(app)
        for n in range(10):
            assert client.get("/", headers={"Authorization": f"Bearer {n}"}).status_code == 401
        assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 429


class TestCSRF:
    def test_a_post_without_the_token_is_refused_and_changes_nothing(self, queue, client):
        """403, and the failed job is still failed."""
        job = failed_job(queue)
        answer = client.post(f"/jobs/{job.id}/retry")
        assert answer.status_code == 403
        assert queue.get(job.id).state is JobState.FAILED

    def test_another_sessions_token_is_refused(self, app, queue, client):
        """A token lifted from another login does not fit this one."""
        job = failed_job(queue)
        other = Client(app)
        assert log_in(other) == 303
        stolen = csrf_of(other.get(f"/jobs/{job.id}").text)
        answer = client.post(f"/jobs/{job.id}/retry", data={"csrf": stolen})
        assert answer.status_code == 403
        assert queue.get(job.id).state is JobState.FAILED

    def test_a_post_without_login_is_refused(self, app, queue):
        """No cookie, no token: 403, nothing changed."""
        job = failed_job(queue)
        assert Client(app).post(f"/jobs/{job.id}/cancel").status_code == 403
        assert queue.get(job.id).state is JobState.FAILED

    def test_a_script_with_the_bearer_token_needs_no_csrf_token(self, app, queue):
        """A browser never sends the Authorization header by itself: no forgery to fear."""
        job = failed_job(queue)
        answer = Client(app).post(
            f"/jobs/{job.id}/retry", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert answer.status_code == 303
        assert queue.get(job.id).state is JobState.PENDING


class TestBadInput:
    @pytest.mark.parametrize(
        "path", ["/jobs/99999", "/jobs/99999/request.xml", "/sessions/nope", "/nowhere"]
    )
    def test_an_unknown_id_or_page_is_404(self, client, path):
        """Nothing there: 404 with a page saying so."""
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.mimetype == "text/html"

    @pytest.mark.parametrize(
        "path",
        [
            "/jobs/9223372036854775808",
            "/jobs/" + "9" * 40,
            "/jobs/9223372036854775808/request.xml",
            "/jobs/9223372036854775808/response.xml",
            "/sessions/9223372036854775808",
        ],
    )
    def test_an_id_past_64_bits_is_404(self, client, path):
        """An id no store can hold: 404 like any other id that does not exist."""
        assert client.get(path).status_code == 404

    def test_a_button_on_an_unknown_job_is_404(self, client):
        """A POST for a job that does not exist changes nothing and says 404."""
        page = client.get("/jobs")
        answer = client.post("/jobs/424242/retry", data={"csrf": csrf_of(page.text)})
        assert answer.status_code == 404

    @pytest.mark.parametrize(
        "query",
        [
            "state=bogus",
            "state=FAILED",
            "page=0",
            "page=-1",
            "page=abc",
            "page=1.5",
            "page=",
            "user=a%00b",
            "kind=" + "k" * 201,
            "q=" + "k" * 201,
            "q=SO%0A1",
        ],
    )
    def test_a_malformed_filter_is_400_saying_what_is_wrong(self, client, query):
        """400, and the page names the filter at fault."""
        answer = client.get(f"/jobs?{query}")
        assert answer.status_code == 400
        name = query.split("=")[0]
        assert name in answer.text

    @pytest.mark.parametrize("page", ["3", "1000000", "9" * 60])
    def test_a_page_past_the_end_is_empty_not_an_error(self, queue, client, page):
        """However large the page number, the answer is an empty page."""
        for _ in range(7):
            queue.enqueue(user="shop", kind="k")
        answer = client.get(f"/jobs?page={page}")
        assert answer.status_code == 200
        assert "No job on this page." in answer.text
        assert "7 jobs" in answer.text

    def test_resolve_without_saying_whether_it_happened_is_400(self, queue, client):
        """The operator must say yes or no; the job stays unknown."""
        job = unknown_job(queue)
        page = client.get(f"/jobs/{job.id}")
        answer = client.post(
            f"/jobs/{job.id}/resolve", data={"csrf": csrf_of(page.text), "happened": "maybe"}
        )
        assert answer.status_code == 400
        assert queue.get(job.id).state is JobState.UNKNOWN


def page_ids(answer) -> list[int]:
    root = lxml.html.fromstring(answer.text)
    return [
        int(a.text)
        for a in root.xpath("//table[@id='jobs']/tbody/tr/td/a[contains(@href, '/jobs/')]")
    ]


class PlainQueue:
    """A JobQueue of someone else's making: everything but the SQL queues' jobs_page."""

    def __init__(self) -> None:
        self._inner = MemoryJobQueue()

    def __getattr__(self, name: str):
        if name == "jobs_page":
            raise AttributeError(name)
        return getattr(self._inner, name)


class TestJobs:
    def test_any_job_queue_is_paged_and_filtered_too(self):
        """A queue without jobs_page: the same pages, filters and empty page past the end."""
        queue = PlainQueue()
        ids = [queue.enqueue(user="shop", kind=kind).id for kind in ("a", "b") * 4]
        browser = Client(make_dashboard_app(queue, password=PASSWORD, page_size=3))
        assert log_in(browser) == 303
        assert page_ids(browser.get("/jobs")) == ids[::-1][:3]
        assert page_ids(browser.get("/jobs?kind=a&page=2")) == ids[::2][::-1][3:]
        assert page_ids(browser.get("/jobs?page=" + "9" * 30)) == []

    def test_a_database_gone_is_503_not_a_traceback(self, tmp_path):
        """The queue's table vanished: the page says so with 503, and the log keeps why."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        browser = Client(make_dashboard_app(queue, password=PASSWORD))
        assert log_in(browser) == 303
        with sqlite_connect(tmp_path / "jobs.db") as conn:
            conn.execute("DROP TABLE qbwc_jobs")
        answer = browser.get("/jobs")
        assert answer.status_code == 503
        assert "could not be read" in answer.text and "Traceback" not in answer.text
        queue.close()

    def test_jobs_are_listed_newest_first_in_pages(self, queue, client):
        """Page 1 holds the newest five, page 2 the rest."""
        ids = [queue.enqueue(user="shop", kind="k").id for _ in range(7)]
        assert page_ids(client.get("/jobs")) == ids[::-1][:5]
        assert page_ids(client.get("/jobs?page=2")) == ids[::-1][5:]

    def test_filters_keep_only_matching_jobs(self, queue, client):
        """user, state and kind each narrow the list, and together they combine."""
        mine = failed_job(queue, user="shop", kind="add_invoice")
        queue.enqueue(user="shop", kind="add_invoice")
        queue.enqueue(user="other", kind="add_invoice")
        queue.enqueue(user="shop", kind="sync")
        answer = client.get("/jobs?user=shop&state=failed&kind=add_invoice")
        assert page_ids(answer) == [mine.id]
        assert len(page_ids(client.get("/jobs?kind=add_invoice"))) == 3
        assert len(page_ids(client.get("/jobs?user=other"))) == 1

    def test_a_failed_job_shows_its_error_in_words(self, queue, client):
        """QuickBooks' code, its message, and the catalogue's words for the user."""
        job = failed_job(queue, code="3140", message='There is an invalid reference to "Acme"')
        root = lxml.html.fromstring(client.get(f"/jobs/{job.id}").text)
        error = root.get_element_by_id("error").text_content()
        assert "3140" in error and 'invalid reference to "Acme"' in error
        explanation = root.get_element_by_id("explanation").text_content()
        assert "missing or inactive" in explanation

    def test_our_own_error_code_is_not_explained_as_quickbooks(self, queue, client):
        """A schema failure is ours: no QuickBooks explanation is invented for it."""
        job = failed_job(queue, code="schema", message="CustomerAdd: Name is required")
        page = client.get(f"/jobs/{job.id}").text
        assert "Name is required" in page
        assert 'id="explanation"' not in page

    def test_the_request_is_truncated_on_the_page_and_whole_in_the_download(self, queue, client):
        """A long document shows its start; the download link gives all of it."""
        job = unknown_job(queue)
        document = "<QBXML>" + "x" * 10_000 + "</QBXML>"
        queue.retry(job.id, now=3.0)
        assert queue.claim(user="shop", company_file="", ticket="t2", now=4.0, lease=60.0)
        assert queue.progress(job.id, ticket="t2", now=4.5, request=document, writes=True)
        root = lxml.html.fromstring(client.get(f"/jobs/{job.id}").text)
        shown = root.get_element_by_id("request").text_content()
        assert shown.startswith("<QBXML>\n  xxx") and len(shown) <= SHOWN_CHARS + len("\n…")
        download = client.get(f"/jobs/{job.id}/request.xml")
        assert download.text == document
        assert download.headers["Content-Disposition"].startswith("attachment;")

    def test_dependencies_are_linked_with_their_state(self, queue, client):
        """A job's page names each job it waits for, and where that stands."""
        first = failed_job(queue)
        second = queue.enqueue(user="shop", kind="k", depends_on=[first.id])
        root = lxml.html.fromstring(client.get(f"/jobs/{second.id}").text)
        listed = root.get_element_by_id("dependencies").text_content()
        assert f"job {first.id}" in listed and "failed" in listed


class TestButtons:
    def press(self, client, job_id, action, **form):
        page = client.get(f"/jobs/{job_id}")
        return client.post(f"/jobs/{job_id}/{action}", data={"csrf": csrf_of(page.text), **form})

    def test_retry_sends_a_failed_job_again(self, queue, client):
        """Retry: the job is pending, and its page says it will go at the next update."""
        job = failed_job(queue)
        answer = self.press(client, job.id, "retry")
        assert answer.status_code == 303
        assert queue.get(job.id).state is JobState.PENDING
        assert "next update" in client.get(answer.headers["Location"]).text

    def test_cancel_cancels(self, queue, client):
        """Cancel: the job is cancelled."""
        job = queue.enqueue(user="shop", kind="k")
        assert self.press(client, job.id, "cancel").status_code == 303
        assert queue.get(job.id).state is JobState.CANCELLED

    @pytest.mark.parametrize(("said", "state"), [("yes", JobState.DONE), ("no", JobState.PENDING)])
    def test_resolve_unknown_on_the_operators_word(self, queue, client, said, state):
        """It happened: done. It did not: sent again."""
        job = unknown_job(queue)
        assert self.press(client, job.id, "resolve", happened=said).status_code == 303
        assert queue.get(job.id).state is state

    def test_a_button_the_job_has_moved_past_is_refused_with_the_reason(self, queue, client):
        """Retry on a job that is already pending: 409, the queue's reason, nothing changed."""
        job = failed_job(queue)
        page = client.get(f"/jobs/{job.id}")
        queue.retry(job.id, now=5.0)  # another operator was quicker
        answer = client.post(f"/jobs/{job.id}/retry", data={"csrf": csrf_of(page.text)})
        assert answer.status_code == 409
        refused = lxml.html.fromstring(answer.text).get_element_by_id("refused").text_content()
        assert "is pending" in refused
        assert queue.get(job.id).state is JobState.PENDING


def assert_no_markup_from(page: str, text: str) -> None:
    """No script element, no event handler attribute; the text is there as text."""
    root = lxml.html.fromstring(page)
    assert root.xpath("//script") == []
    assert not [a for el in root.iter() for a in getattr(el, "attrib", {}) if a.startswith("on")]
    assert text in root.text_content()


class TestEscaping:
    def test_a_hostile_name_shows_as_text_on_every_page(self, queue, client):
        """A customer, user and kind named like a script are text on the list and the job."""
        job = failed_job(queue, user=HOSTILE, kind=HOSTILE, message=f"no customer {HOSTILE}")
        for path in ["/", "/jobs", f"/jobs/{job.id}", "/jobs?user=" + HOSTILE]:
            answer = client.get(path, query_string=None)
            assert answer.status_code == 200, path
            assert HOSTILE not in answer.text, path
            assert_no_markup_from(answer.text, HOSTILE)

    def test_every_page_forbids_scripts(self, client):
        """The Content-Security-Policy allows no script at all: defence behind escaping."""
        for path in ["/", "/jobs", "/sessions", "/live", "/login"]:
            policy = client.get(path).headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "script-src" not in policy

    @settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        message=st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80
        ).filter(lambda s: s.strip() == s and "  " not in s)
    )
    def test_any_error_text_is_shown_as_text(self, queue, client, message):
        """Whatever QuickBooks (or a customer's name) puts in an error shows as text."""
        job = failed_job(queue, message=message)
        answer = client.get(f"/jobs/{job.id}")
        assert_no_markup_from(answer.text, message)


def made_queue(request, tmp_path):
    """The queue ``request.param`` names: in a SQLite file, on PostgreSQL, or a PlainQueue."""
    if request.param == "plain":
        return PlainQueue()
    made: SQLJobQueue
    if request.param == "file":
        made = SQLJobQueue(tmp_path / "jobs.db")
    else:
        postgres = request.getfixturevalue("postgres")
        made = SQLJobQueue(postgres.url(), prefix=request.getfixturevalue("pg_prefix"))
    request.addfinalizer(made.close)
    return made


@pytest.fixture(params=["file", "postgresql"])
def sql_queue(request, tmp_path):
    """The queue in a SQLite file and on PostgreSQL."""
    return made_queue(request, tmp_path)


class TestJobsPage:
    def test_a_page_is_newest_first_with_the_count_of_matches(self, sql_queue):
        """jobs_page filters in the database and counts every match, not just the page."""
        ids = [
            sql_queue.enqueue(user=user, kind=kind).id
            for user in ("a", "b")
            for kind in ("x", "y")
            for _ in range(3)
        ]
        page, total = sql_queue.jobs_page(user="a", kind="y", limit=2, offset=1)
        assert total == 3
        assert [job.id for job in page] == ids[3:6][::-1][1:3]

    def test_an_offset_past_the_end_reads_nothing_whatever_its_size(self, sql_queue):
        """An offset no SQL integer holds is an empty page, not an overflow."""
        sql_queue.enqueue(user="a", kind="x")
        assert sql_queue.jobs_page(offset=10**40) == ([], 1)

    def test_a_state_filter_keeps_those_states(self, sql_queue):
        """states narrows the page and the count."""
        sql_queue.enqueue(user="a", kind="x")
        second = sql_queue.enqueue(user="a", kind="x")
        assert sql_queue.cancel(second.id, now=1.0)
        page, total = sql_queue.jobs_page(states=[JobState.CANCELLED])
        assert (total, [job.id for job in page]) == (1, [second.id])


@pytest.fixture(params=["file", "postgresql"])
def sql_dashboard(request, tmp_path):
    """A dashboard over a job queue and a status store in a SQLite file and on PostgreSQL."""
    queue: SQLJobQueue
    if request.param == "file":
        queue, status = SQLJobQueue(tmp_path / "d.db"), SQLStatusStore(tmp_path / "d.db")
    else:
        postgres = request.getfixturevalue("postgres")
        prefix = request.getfixturevalue("pg_prefix")
        queue = SQLJobQueue(postgres.url(), prefix=prefix)
        status = SQLStatusStore(postgres.url(), prefix=prefix)
    yield queue, make_dashboard_app(queue, status=status, token=TOKEN)
    queue.close()
    status.close()


class TestHugeIds:
    @pytest.mark.parametrize(
        "path",
        [
            "/jobs/{}",
            "/jobs/{}/request.xml",
            "/jobs/{}/response.xml",
            "/sessions/{}",
        ],
    )
    @pytest.mark.parametrize("job_id", [2**63 - 1, 2**63, 10**40])
    def test_a_page_for_an_id_past_the_database_is_404(self, sql_dashboard, path, job_id):
        """The largest id SQL holds, and any larger: 404, no overflow from the database."""
        queue, app = sql_dashboard
        job = queue.enqueue(user="shop", kind="k")
        browser = Client(app)
        assert browser.get(f"/jobs/{job.id}", headers=BEARER).status_code == 200
        assert browser.get(path.format(job_id), headers=BEARER).status_code == 404

    @pytest.mark.parametrize("action", ["retry", "cancel", "resolve"])
    @pytest.mark.parametrize("job_id", [2**63 - 1, 2**63, 10**40])
    def test_a_button_for_an_id_past_the_database_is_404(self, sql_dashboard, action, job_id):
        """A POST for such an id: 404, and the jobs that exist are untouched."""
        queue, app = sql_dashboard
        job = queue.enqueue(user="shop", kind="k")
        answer = Client(app).post(
            f"/jobs/{job_id}/{action}", data={"happened": "yes"}, headers=BEARER
        )
        assert answer.status_code == 404
        assert queue.get(job.id).state is JobState.PENDING


NOW = 1_800_000_000.0


def seen(status, user, *, at=NOW - 60, **values):
    """A status row for ``user``, as the recorder would leave it."""
    status.record(
        update=StatusUpdate(
            user=user, company_file="C:\\Co.qbw", values={"last_seen": at, **values}
        )
    )


@pytest.fixture
def status():
    return MemoryStatusStore()


@pytest.fixture
def watched(queue, status):
    """A browser logged in to a dashboard that has a status store, at a fixed time."""
    app = make_dashboard_app(queue, status=status, password=PASSWORD, clock=FakeClock(NOW))
    browser = Client(app)
    assert log_in(browser) == 303
    return browser


def connection_users(answer) -> list[str]:
    root = lxml.html.fromstring(answer.text)
    return [a.text for a in root.xpath("//table[@id='connections']/tbody/tr/td[1]/a[1]")]


class TestConnections:
    def test_trouble_comes_first(self, queue, status, watched):
        """Failed jobs, an error after the last success, a user long unseen: above the calm."""
        seen(status, "calm", last_success=NOW - 60)
        seen(
            status,
            "erred",
            last_success=NOW - 600,
            last_error_at=NOW - 300,
            last_error_code="0x80040408",
            last_error_message="could not start QuickBooks",
        )
        seen(status, "stale", at=NOW - 3 * 86400, last_success=NOW - 3 * 86400)
        failed_job(queue, user="failing")
        failed_job(queue, user="failing")
        users = connection_users(watched.get("/"))
        assert users[-1] == "calm"
        assert set(users[:3]) == {"erred", "stale", "failing"}
        page = lxml.html.fromstring(watched.get("/").text).text_content()
        assert "2 failed job(s)" in page
        assert "the last update ended in an error" in page
        assert "not seen since" in page

    def test_a_user_with_jobs_but_no_recorded_call_still_has_a_row(self, queue, status, watched):
        """The queue's users without a status row are listed, their status unknown."""
        queue.enqueue(user="newcomer", kind="k")
        assert connection_users(watched.get("/")) == ["newcomer"]

    def test_the_connections_page_shows_what_the_status_knows(self, status, watched):
        """Product, version, company, Web Connector version and the open session's progress."""
        seen(
            status,
            "shop",
            product="QuickBooks Pro",
            qb_version="33.0",
            company_name="Acme",
            client_version="2.3.0.215",
            ticket="abcdef12",
            progress=40,
        )
        text = lxml.html.fromstring(watched.get("/").text).text_content()
        for shown in ("QuickBooks Pro 33.0", "Acme", "2.3.0.215", "abcdef12…, 40%"):
            assert shown in text


def record_session(status, *, user="shop", ticket="T" * 36, password_in=""):
    """A short session's transcript: authenticate, one request, close."""
    calls = [
        ("authenticate", {"strUserName": user}, f'["{ticket}", ""]', True, None),
        ("sendRequestXML", {"ticket": ticket, "strHCPResponse": HOSTILE}, "<QBXML/>", False, None),
        ("closeConnection", {"ticket": ticket}, "OK", False, "completed"),
    ]
    for n, (operation, arguments, answer, starts, outcome) in enumerate(calls):
        status.record(
            entry=CallEntry(
                ticket=ticket,
                user=user,
                company_file="",
                operation=operation,
                at=NOW + n,
                duration=0.01,
                arguments=arguments,
                answer=answer,
                starts=starts,
                outcome=outcome,
            )
        )


class TestSessions:
    def test_recent_sessions_link_to_their_calls(self, status, watched):
        """The list names each session by its ticket's prefix; its page lists its calls."""
        record_session(status)
        listing = lxml.html.fromstring(watched.get("/sessions").text)
        link = listing.xpath("//table[@id='sessions']//a")[0]
        assert link.text == "TTTTTTTT…"
        page = watched.get(link.get("href"))
        calls = lxml.html.fromstring(page.text).get_element_by_id("calls").text_content()
        assert "authenticate" in calls and "sendRequestXML" in calls and "closeConnection" in calls
        assert_no_markup_from(page.text, HOSTILE)
        assert "T" * 36 not in page.text

    def test_an_unknown_session_is_404(self, watched):
        """A transcript id that does not exist: 404."""
        assert watched.get("/sessions/999").status_code == 404

    @pytest.mark.parametrize("query", ["page=0", "page=x", "user=%01"])
    def test_a_malformed_sessions_filter_is_400(self, watched, query):
        """The sessions list checks its filters as the jobs list does."""
        assert watched.get(f"/sessions?{query}").status_code == 400

    def test_a_huge_sessions_page_is_empty(self, status, watched):
        """Past the kept sessions: an empty page, whatever the number."""
        record_session(status)
        answer = watched.get("/sessions?page=" + "9" * 40)
        assert answer.status_code == 200 and "No session on this page." in answer.text


class TestHistory:
    def test_a_job_page_shows_each_transition_in_order(self, queue, client):
        """Created, sent, failed, retried: one row each, oldest first."""
        job = failed_job(queue)
        queue.retry(job.id, now=3.0)
        root = lxml.html.fromstring(client.get(f"/jobs/{job.id}").text)
        rows = root.xpath("//table[@id='history']/tbody/tr")
        moves = [(r[1].text_content(), r[2].text_content()) for r in rows]
        assert moves == [
            ("new", "pending"),
            ("pending", "in_flight"),
            ("in_flight", "failed"),
            ("failed", "pending"),
        ]


class TestLive:
    def test_a_health_check_answers_through_the_web_connector(self, queue):
        """The form's check is a real HostQuery round trip, shown with its latency."""
        from qbwc_spyne import QueueHandler, make_wsgi_app
        from qbwc_spyne.queue._live import LiveClient
        from qbwc_spyne.testing import FakeQuickBooks, WebConnector

        handler = QueueHandler(queue, passwords=lambda user, pw: pw == "pw", keep_alive=0)
        endpoint = make_wsgi_app(handler)
        app = make_dashboard_app(queue, live=LiveClient(queue, poll=0.01), password=PASSWORD)
        browser = Client(app)
        assert log_in(browser) == 303

        def connector() -> None:
            # The Web Connector's next update, once the check is queued (bounded wait).
            for _ in range(1000):
                if queue.runnable(user="shop"):
                    break
                time.sleep(0.01)
            WebConnector(endpoint, user="shop", password="pw", quickbooks=FakeQuickBooks()).update()

        worker = threading.Thread(target=connector)
        worker.start()
        form = browser.get("/live")
        answer = browser.post("/live", data={"csrf": csrf_of(form.text), "user": "shop"})
        worker.join(timeout=60)
        assert answer.status_code == 200
        health = lxml.html.fromstring(answer.text).get_element_by_id("health").text_content()
        assert "QuickBooks" in health and "latency" in health and "13.0" in health

    def test_a_user_never_seen_fails_fast_and_says_so(self, queue, status):
        """With a status store, an unknown user is offline at once: no wait for a timeout."""
        from qbwc_spyne.queue._live import LiveClient

        live = LiveClient(queue, status=status)
        app = make_dashboard_app(queue, live=live, status=status, password=PASSWORD)
        browser = Client(app)
        assert log_in(browser) == 303
        form = browser.get("/live")
        answer = browser.post("/live", data={"csrf": csrf_of(form.text), "user": "nobody"})
        failure = lxml.html.fromstring(answer.text).get_element_by_id("failure").text_content()
        assert failure.startswith("QuickBooksOffline:") and "never seen" in failure

    def test_the_page_says_it_is_waiting_before_the_answer_comes(self, queue):
        """The page streams: the check's waiting line arrives while the check is queued and
        unanswered; the answer follows when the Web Connector's update brings it."""
        from qbwc_spyne import QueueHandler, make_wsgi_app
        from qbwc_spyne.queue._live import LiveClient
        from qbwc_spyne.testing import FakeQuickBooks, WebConnector

        handler = QueueHandler(queue, passwords=lambda user, pw: pw == "pw", keep_alive=0)
        endpoint = make_wsgi_app(handler)
        app = make_dashboard_app(queue, live=LiveClient(queue, poll=0.01), password=PASSWORD)
        browser = Client(app)
        assert log_in(browser) == 303
        form = browser.get("/live")
        answer = browser.post(
            "/live", data={"csrf": csrf_of(form.text), "user": "shop"}, buffered=False
        )
        assert answer.status_code == 200
        pieces = answer.iter_encoded()
        head = ""
        while 'id="waiting"' not in head:
            head += next(pieces).decode()
        # Said before any answer: no Web Connector has run yet, so none can have come.
        assert 'id="verdict"' not in head
        for _ in range(1000):  # the check is queued by its own thread (a bounded wait)
            if queue.runnable(user="shop"):
                break
            time.sleep(0.01)
        WebConnector(endpoint, user="shop", password="pw", quickbooks=FakeQuickBooks()).update()
        page = head + "".join(piece.decode() for piece in pieces)
        root = lxml.html.fromstring(page)
        assert root.get_element_by_id("verdict").text_content() == "QuickBooks answered."
        assert "13.0" in root.get_element_by_id("health").text_content()

    def test_a_user_seen_recently_but_gone_gets_a_clear_answer_when_the_wait_ends(
        self, queue, status
    ):
        """Seen a minute ago, no session open, no update comes: the page says what it waits
        for, then that nothing was sent to QuickBooks; the check is cancelled."""
        from qbwc_spyne.queue._live import LIVE_KIND, LiveClient

        seen(status, "shop", at=time.time() - 60)
        live = LiveClient(queue, status=status, poll=0.01)
        app = make_dashboard_app(
            queue, live=live, status=status, password=PASSWORD, live_timeout=0.5
        )
        browser = Client(app)
        assert log_in(browser) == 303
        form = browser.get("/live")
        answer = browser.post("/live", data={"csrf": csrf_of(form.text), "user": "shop"})
        root = lxml.html.fromstring(answer.text)
        waiting = root.get_element_by_id("waiting").text_content()
        assert "No session is open" in waiting and "next scheduled update" in waiting
        assert root.get_element_by_id("verdict").text_content() == (
            "No answer within 0.5 s: the Web Connector did not ask for work in that time,"
            " so nothing was sent to QuickBooks."
        )
        assert root.get_element_by_id("failure").text_content().startswith("LiveTimeout:")
        assert root.get_element_by_id("ended").text_content().startswith("Ended after")
        checks = [job for job in queue.jobs(user="shop") if job.kind == LIVE_KIND]
        assert [job.state for job in checks] == [JobState.CANCELLED]

    @pytest.mark.parametrize("user", ["", "   ", "a\x00b"])
    def test_a_health_check_without_a_user_is_400(self, queue, user):
        """The form must name a user; nothing is queued."""
        from qbwc_spyne.queue._live import LiveClient

        app = make_dashboard_app(queue, live=LiveClient(queue), password=PASSWORD)
        browser = Client(app)
        assert log_in(browser) == 303
        form = browser.get("/live")
        answer = browser.post("/live", data={"csrf": csrf_of(form.text), "user": user})
        assert answer.status_code == 400
        assert queue.jobs() == []

    def test_the_live_timeout_must_be_positive(self, queue):
        """A zero or endless wait is a configuration error."""
        for bad in (0, -1, float("inf")):
            with pytest.raises(ConfigurationError, match="live_timeout"):
                make_dashboard_app(queue, password=PASSWORD, live_timeout=bad)


def shown_text(answer, element_id: str) -> str:
    return lxml.html.fromstring(answer.text).get_element_by_id(element_id).text_content()


class TestRequestShown:
    def test_a_job_retried_says_its_request_is_built_anew(self, queue, client):
        """Pending again after Retry: not "a done job's request is cleared", which it is not."""
        job = queue.enqueue(user="shop", kind="k")
        assert queue.claim(user="shop", company_file="", ticket="t", now=1.0, lease=60.0)
        assert queue.progress(job.id, ticket="t", now=1.5, request="<QBXML/>", attempts=1)
        assert queue.fail(job.id, ticket="t", now=2.0, code="3140", message="bad ref")
        assert queue.retry(job.id, now=3.0)
        said = shown_text(client.get(f"/jobs/{job.id}"), "no-request")
        assert "queued again" in said and "done job" not in said

    def test_a_job_never_sent_says_so(self, queue, client):
        """A new job has no request yet: it is built when a session sends the job."""
        job = queue.enqueue(user="shop", kind="k")
        assert shown_text(client.get(f"/jobs/{job.id}"), "no-request").startswith("Not sent yet")

    def test_a_job_just_claimed_says_it_is_being_sent(self, queue, client):
        """Claimed by a session that has not built its request yet: not "cleared"."""
        job = queue.enqueue(user="shop", kind="k")
        assert queue.claim(user="shop", company_file="", ticket="t", now=1.0, lease=60.0)
        assert shown_text(client.get(f"/jobs/{job.id}"), "no-request").startswith("Being sent")

    def test_a_done_job_says_its_request_was_cleared(self, queue, client):
        """Done without keep_request: the request is cleared, and the page says why."""
        job = queue.enqueue(user="shop", kind="k")
        assert queue.claim(user="shop", company_file="", ticket="t", now=1.0, lease=60.0)
        assert queue.progress(job.id, ticket="t", now=1.5, request="<QBXML/>")
        assert queue.complete(job.id, ticket="t", now=2.0)
        said = shown_text(client.get(f"/jobs/{job.id}"), "no-request")
        assert "done job's request is cleared" in said

    def test_the_request_and_answer_are_laid_out_one_element_a_line(self, queue, client):
        """qbXML sent as one line is shown indented, an element per line, text kept whole."""
        job = queue.enqueue(user="shop", kind="k")
        document = (
            '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?>'
            '<QBXML><QBXMLMsgsRq onError="stopOnError"><CustomerAddRq requestID="1">'
            "<CustomerAdd><Name>Acme &amp; Sons</Name><Memo></Memo></CustomerAdd>"
            "</CustomerAddRq></QBXMLMsgsRq></QBXML>"
        )
        assert queue.claim(user="shop", company_file="", ticket="t", now=1.0, lease=60.0)
        assert queue.progress(job.id, ticket="t", now=1.5, request=document)
        answer = '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerAddRs statusCode="0"/>'
        assert queue.fail(job.id, ticket="t", now=2.0, code="1", message="m", response=answer)
        page = client.get(f"/jobs/{job.id}")
        assert shown_text(page, "request").splitlines() == [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<?qbxml version="13.0"?>',
            "<QBXML>",
            '  <QBXMLMsgsRq onError="stopOnError">',
            '    <CustomerAddRq requestID="1">',
            "      <CustomerAdd>",
            "        <Name>Acme &amp; Sons</Name>",
            "        <Memo></Memo>",
            "      </CustomerAdd>",
            "    </CustomerAddRq>",
            "  </QBXMLMsgsRq>",
            "</QBXML>",
        ]
        # A truncated answer (the queue caps what it keeps) is laid out as far as it goes.
        assert (
            shown_text(page, "response").splitlines()[-1] == '    <CustomerAddRs statusCode="0"/>'
        )

    def test_a_huge_answer_shows_only_its_laid_out_head(self, queue, client):
        """256 KiB of answer: the page holds at most SHOWN_CHARS of it, and says it was cut."""
        job = queue.enqueue(user="shop", kind="k")
        rows = "".join(f"<CustomerRet><Name>c{n}</Name></CustomerRet>" for n in range(8000))
        huge = (
            f"<QBXML><QBXMLMsgsRs><CustomerQueryRs>{rows}</CustomerQueryRs></QBXMLMsgsRs></QBXML>"
        )
        assert len(huge) > 256 * 1024
        assert queue.claim(user="shop", company_file="", ticket="t", now=1.0, lease=60.0)
        assert queue.fail(job.id, ticket="t", now=2.0, code="1", message="m", response=huge)
        shown = shown_text(client.get(f"/jobs/{job.id}"), "response")
        assert len(shown) <= SHOWN_CHARS + len("\n…") and shown.endswith("\n…")
        assert "        <Name>c0</Name>" in shown.splitlines()


def _ink(text: str) -> str:
    """The characters that are not white space."""
    return re.sub(r"\s", "", text)


#: Elements as qbXML has them: text or children, never both.
_names = st.sampled_from(["QBXML", "CustomerAdd", "Name", "Memo", "a", "B-1", "x.y"])
_values = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).filter(
    lambda t: t.strip() == t
)


_attributes = st.lists(
    st.tuples(st.sampled_from(["requestID", "onError", "iterator"]), _values),
    max_size=2,
    unique_by=lambda pair: pair[0],
)


def _build(name, attributes, content):
    from lxml import etree

    element = etree.Element(name, dict(attributes))
    if isinstance(content, str):
        element.text = content or None
    else:
        element.extend(content)
    return element


_trees = st.recursive(
    st.builds(_build, _names, _attributes, _values),
    lambda children: st.builds(
        _build, _names, _attributes, st.lists(children, min_size=1, max_size=3)
    ),
    max_leaves=12,
)


class TestLayout:
    @given(text=st.text(max_size=300))
    @example(text='<a b=">"><c/>text <!-- x > y --></a>')
    @example(text="<a><![CDATA[ <b> ]]></a><")
    @example(text='<a b="unclosed><c>')
    def test_only_white_space_changes_whatever_the_text(self, text):
        """Any text, well formed or not, truncated anywhere: the same characters, in order."""
        assert _ink(layout_xml(text)) == _ink(text)

    @given(tree=_trees)
    def test_a_well_formed_document_reads_back_as_the_same_tree(self, tree):
        """Laid out and parsed again (blank text dropped), it is the same document."""
        from lxml import etree

        original = etree.tostring(tree, encoding="unicode")
        again = etree.fromstring(layout_xml(original), etree.XMLParser(remove_blank_text=True))
        assert etree.tostring(again, encoding="unicode") == original

    def test_entities_are_shown_never_expanded(self):
        """A document declaring entities lays out as the text it is: a reference stays one."""
        bomb = (
            '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            "<x><y>&b;&b;&b;</y></x>"
        )
        laid = layout_xml(bomb)
        assert "  <y>&b;&b;&b;</y>" in laid.splitlines()
        assert len(laid) < len(bomb) + 20


class TestSearch:
    @pytest.fixture(params=["plain", "file", "postgresql"])
    def any_queue(self, request, tmp_path):
        """A queue paged by the dashboard itself, and the SQL queues, which page in SQL."""
        return made_queue(request, tmp_path)

    def jobs(self, queue):
        return {
            "key": queue.enqueue(user="shop", kind="k", key="SO-1001").id,
            "payload": queue.enqueue(user="shop", kind="k", payload={"order": "SO-2002"}).id,
            "quoted": queue.enqueue(user="shop", kind="k", payload={"c": 'Müller "Söhne"'}).id,
            "percent": queue.enqueue(user="shop", kind="k", payload={"n": "100% done"}).id,
            "digits": queue.enqueue(user="shop", kind="k", payload={"n": "1000 done"}).id,
            "other": queue.enqueue(user="other", kind="k", payload={"order": "SO-2002b"}).id,
        }

    @pytest.mark.parametrize(
        ("search", "found"),
        [
            ("SO-1001", ["key"]),
            ("so-1001", ["key"]),  # letters in either case
            (" SO-1001 ", ["key"]),  # pasted with the white space around it
            ("SO-2002", ["payload", "other"]),
            ('Müller "Söhne"', ["quoted"]),  # as the payload's JSON writes it
            ("100%", ["percent"]),  # LIKE's characters stand for themselves
            ("0_d", []),
            ("1!", []),
        ],
    )
    def test_a_search_finds_jobs_by_key_or_payload_text(self, any_queue, search, found):
        """The jobs list finds an order number in a key or a payload, on every queue."""
        ids = self.jobs(any_queue)
        browser = Client(make_dashboard_app(any_queue, password=PASSWORD, page_size=50))
        assert log_in(browser) == 303
        answer = browser.get("/jobs", query_string={"q": search})
        assert page_ids(answer) == sorted((ids[name] for name in found), reverse=True)

    def test_a_search_combines_with_the_filters_and_pages(self, any_queue):
        """user narrows a search; the pager keeps the search; the count counts matches."""
        ids = [any_queue.enqueue(user="shop", kind="k", key=f"SO-{n}").id for n in range(7)]
        any_queue.enqueue(user="other", kind="k", key="SO-x")
        any_queue.enqueue(user="shop", kind="k", key="INV-1")
        browser = Client(make_dashboard_app(any_queue, password=PASSWORD, page_size=5))
        assert log_in(browser) == 303
        first = browser.get("/jobs?user=shop&q=SO-")
        assert page_ids(first) == ids[::-1][:5]
        assert "7 jobs; page 1 of 2" in first.text
        root = lxml.html.fromstring(first.text)
        assert root.xpath("//form[@class='filters']//input[@name='q']/@value") == ["SO-"]
        older = root.xpath("//nav[@class='pager']/a[text()='Older']/@href")[0]
        assert page_ids(browser.get(older)) == ids[::-1][5:]

    def test_jobs_page_searches_in_the_database_and_counts_the_matches(self, sql_queue):
        """search pages with the same LIMIT and OFFSET; the count is of matches only."""
        ids = [
            sql_queue.enqueue(user="a", kind="x", payload={"order": f"A{n}"}).id for n in range(5)
        ]
        sql_queue.enqueue(user="a", kind="x", payload={"order": "B"})
        page, total = sql_queue.jobs_page(search="a", limit=2, offset=1)
        assert total == 5
        assert [job.id for job in page] == ids[::-1][1:3]


def tick(client, path="/jobs"):
    """The bulk form's security token, from the jobs list a browser shows."""
    return csrf_of(client.get(path).text)


class TestBulk:
    def test_retry_ticked_retries_each_of_them_and_no_other(self, queue, client):
        """Three failed jobs, two ticked: those two are pending, the third still failed."""
        jobs = [failed_job(queue) for _ in range(3)]
        answer = client.post(
            "/jobs/bulk",
            data={"csrf": tick(client), "action": "retry", "job": [jobs[0].id, jobs[2].id]},
        )
        assert answer.status_code == 200
        assert shown_text(answer, "summary").startswith("2 of 2 retried")
        states = [queue.get(job.id).state for job in jobs]
        assert states == [JobState.PENDING, JobState.FAILED, JobState.PENDING]

    def test_cancel_ticked_cancels_each_of_them(self, queue, client):
        """Two pending jobs ticked: both cancelled."""
        jobs = [queue.enqueue(user="shop", kind="k") for _ in range(2)]
        answer = client.post(
            "/jobs/bulk",
            data={"csrf": tick(client), "action": "cancel", "job": [j.id for j in jobs]},
        )
        assert answer.status_code == 200
        assert [queue.get(j.id).state for j in jobs] == [JobState.CANCELLED] * 2

    def test_a_job_that_moved_on_is_refused_with_its_reason_and_the_rest_still_go(
        self, queue, client
    ):
        """One ticked job was retried meanwhile: 409, its reason shown, the other retried."""
        first, second = failed_job(queue), failed_job(queue)
        token = tick(client)
        queue.retry(first.id, now=5.0)  # another operator was quicker
        answer = client.post(
            "/jobs/bulk", data={"csrf": token, "action": "retry", "job": [first.id, second.id]}
        )
        assert answer.status_code == 409
        assert shown_text(answer, "summary").startswith("1 of 2 retried")
        assert "is pending" in shown_text(answer, "outcomes")
        assert queue.get(second.id).state is JobState.PENDING

    def test_the_result_page_leads_back_to_the_same_filtered_list(self, queue, client):
        """The list's filters travel with the form: Back returns to them."""
        job = failed_job(queue)
        form = client.get("/jobs?state=failed&q=Acme").text
        fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))
        assert fields["state"] == "failed" and fields["q"] == "Acme"
        answer = client.post("/jobs/bulk", data={**fields, "action": "retry", "job": job.id})
        back = lxml.html.fromstring(answer.text).get_element_by_id("back").get("href")
        assert urlsplit(back).path == "/jobs"
        assert sorted(urlsplit(back).query.split("&")) == ["q=Acme", "state=failed"]

    def test_a_forged_bulk_post_without_the_token_is_refused_and_changes_nothing(
        self, queue, client
    ):
        """Logged in, but the form's token missing or wrong: 403, every job as it was."""
        jobs = [failed_job(queue) for _ in range(2)]
        ids = [j.id for j in jobs]
        other = Client(client.application)
        assert log_in(other) == 303
        for token in ({}, {"csrf": "forged"}, {"csrf": tick(other)}):
            answer = client.post("/jobs/bulk", data={**token, "action": "retry", "job": ids})
            assert answer.status_code == 403
        assert [queue.get(i).state for i in ids] == [JobState.FAILED] * 2

    def test_a_bulk_post_without_login_is_refused(self, app, queue):
        """No cookie, no bearer token: 403 before anything is read."""
        job = failed_job(queue)
        answer = Client(app).post("/jobs/bulk", data={"action": "cancel", "job": job.id})
        assert answer.status_code == 403
        assert queue.get(job.id).state is JobState.FAILED

    def test_a_script_with_the_bearer_token_acts_in_bulk(self, app, queue):
        """The bearer token needs no form token, as for one job's buttons."""
        job = failed_job(queue)
        answer = Client(app).post(
            "/jobs/bulk", data={"action": "cancel", "job": job.id}, headers=BEARER
        )
        assert answer.status_code == 200
        assert queue.get(job.id).state is JobState.CANCELLED

    @pytest.mark.parametrize(
        "form",
        [
            {"action": "retry"},  # nothing ticked
            {"action": "purge", "job": "1"},
            {"action": "retry", "job": "abc"},
            {"action": "retry", "job": "0"},
            {"action": "retry", "job": "9" * 30},
            {"action": "retry", "job": [str(n) for n in range(1, 7)]},  # more than a page (5)
            {"action": "retry", "job": "1", "state": "bogus"},  # the way back is checked first
        ],
    )
    def test_a_malformed_bulk_form_is_400_and_changes_nothing(self, queue, client, form):
        """Each mistake is named; no job moves."""
        job = failed_job(queue)
        answer = client.post("/jobs/bulk", data={"csrf": tick(client), **form})
        assert answer.status_code == 400
        assert queue.get(job.id).state is JobState.FAILED

    def test_only_jobs_a_button_can_move_have_a_tick_box(self, queue, client):
        """A done job can be neither retried nor cancelled: nothing to tick."""
        done = queue.enqueue(user="shop", kind="k")
        assert queue.claim(user="shop", company_file="", ticket="t", now=1.0, lease=60.0)
        assert queue.complete(done.id, ticket="t", now=2.0)
        failed = failed_job(queue)
        ticks = lxml.html.fromstring(client.get("/jobs").text).xpath("//input[@name='job']/@value")
        assert ticks == [str(failed.id)]


class TestSessionPages:
    @pytest.fixture
    def paged(self, queue, status):
        app = make_dashboard_app(
            queue, status=status, password=PASSWORD, page_size=2, clock=FakeClock(NOW)
        )
        browser = Client(app)
        assert log_in(browser) == 303
        return browser

    def older_link(self, answer) -> list[str]:
        return lxml.html.fromstring(answer.text).xpath("//nav[@class='pager']/a[text()='Older']")

    def test_one_session_has_no_older_page(self, status, paged):
        """One session on page 1: no Older link to an empty page."""
        record_session(status)
        assert self.older_link(paged.get("/sessions")) == []

    def test_older_leads_to_the_sessions_past_this_page_and_ends_there(self, status, paged):
        """Three sessions, two a page: Older on page 1, page 2 holds the third and no Older."""
        for n in range(3):
            record_session(status, ticket=f"{n}" * 36)
        first = paged.get("/sessions")
        assert len(self.older_link(first)) == 1
        second = paged.get("/sessions?page=2")
        assert len(lxml.html.fromstring(second.text).xpath("//table[@id='sessions']//a")) == 1
        assert self.older_link(second) == []
