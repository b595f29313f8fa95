"""A newcomer's first hour: the README's forms work, and every mistake is one line.

Each test here is something a newcomer met, followed literally from the
README on a fresh clone and from a built wheel: a database URL as hosting
platforms write it, a typo in a scheme, a target that is no factory, a
server that is not there, an extra not installed, a memory session store
under several gunicorn workers, a database outage read as a handler bug.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.serving import make_server
from werkzeug.test import Client

from qbwc_spyne import QBWCHandler, QueueHandler, SQLJobQueue, SQLSessionStore, make_wsgi_app
from qbwc_spyne.app import make_app
from qbwc_spyne.cli import _cli, _common, _serve
from qbwc_spyne.exceptions import ConfigurationError, DatabaseURLError, StorageError
from qbwc_spyne.metrics import Metrics
from qbwc_spyne.protocol._core import UNKNOWN_TICKET_MESSAGE
from qbwc_spyne.server._app import SESSIONS_PER_PROCESS
from qbwc_spyne.store._sql import Database, database_url
from qbwc_spyne.testing import WebConnector

from .helpers import free_port, traffic, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "qbwc_spyne"]


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Any:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("QBWC_", "PYTHON"))}
    environment.update({"PYTHONPATH": str(ROOT), **(env or {})})
    return subprocess.run(
        [*CLI, *args],
        input="",
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=120,
        check=False,
        start_new_session=True,
    )


def assert_one_line(result: Any, text: str = "") -> None:
    """A mistake: exit non-zero, one line on stderr saying ``text``, no traceback."""
    assert result.returncode != 0, result.stdout
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and text in result.stderr, result.stderr


# -- one rule for every database option -----------------------------------------------------


class TestDatabaseURLs:
    @pytest.mark.parametrize(
        ("given", "driver", "database"),
        [
            ("postgres://u:pw@db.example.com/shop", "postgresql+psycopg", "shop"),
            ("postgresql://u@db.example.com/shop", "postgresql+psycopg", "shop"),
            ("postgresql+psycopg://u@db.example.com/shop", "postgresql+psycopg", "shop"),
            ("sqlite:sessions.db", "sqlite", "sessions.db"),
            ("sqlite:/var/lib/qbwc/sessions.db", "sqlite", "/var/lib/qbwc/sessions.db"),
            ("sqlite:///sessions.db", "sqlite", "sessions.db"),
            ("sessions.db", "sqlite", "sessions.db"),
            ("C:/qbwc/sessions.db", "sqlite", "C:/qbwc/sessions.db"),
        ],
    )
    def test_every_form_the_readme_and_hosting_platforms_use_is_accepted(
        self, given, driver, database
    ):
        """postgres:// (DATABASE_URL's form) is PostgreSQL; sqlite:PATH a file, as for --store."""
        url = database_url(given)
        assert (url.drivername, url.database) == (driver, database)

    @pytest.mark.parametrize(
        ("given", "says"),
        [
            ("sqllite:///x.db", "unsupported database URL scheme 'sqllite'"),
            ("postgress://u@h/db", "unsupported database URL scheme 'postgress'"),
            ("redis:x", "malformed database URL 'redis:x'"),
            ("postgresql:shop", "malformed database URL"),
        ],
    )
    def test_a_misspelt_scheme_is_one_error_not_a_missing_plugin(self, given, says):
        """The driver is read from the text: SQLAlchemy's NoSuchModuleError never escapes."""
        with pytest.raises(DatabaseURLError, match=says):
            database_url(given)

    @given(st.text(max_size=60) | st.from_regex(r"[a-z+]{1,12}:(//)?[\w@:/.%-]{0,30}"))
    @settings(max_examples=500, deadline=None)
    def test_any_text_is_a_url_or_a_database_url_error(self, text):
        """Whatever an option or DATABASE_URL holds: a URL, or DatabaseURLError in one line."""
        try:
            url = database_url(text)
        except DatabaseURLError as exc:
            assert "\n" not in str(exc)
        else:
            assert url.drivername in ("sqlite", "postgresql+psycopg")

    @pytest.mark.parametrize(
        "args",
        [
            ("db", "upgrade", "--db", "sqlite:{dir}/a.db"),
            ("db", "check", "--db", "sqlite:{dir}/a.db"),
            ("jobs", "list", "--db", "sqlite:{dir}/a.db"),
            ("status", "--db", "sqlite:{dir}/a.db"),
            ("status", "sqlite:{dir}/a.db"),
            ("status", "{dir}/a.db"),
            ("jobs", "list", "--db", "sqlite:///{dir}/a.db"),
        ],
    )
    def test_every_database_option_reads_the_same_forms(self, tmp_path, args):
        """--db sqlite:PATH works as --store sqlite:PATH does; status takes --db too."""
        if args[:2] != ("db", "upgrade"):
            assert run("db", "upgrade", "--db", str(tmp_path / "a.db")).returncode == 0
        result = run(*(a.format(dir=tmp_path) for a in args))
        assert result.returncode == 0, result.stderr

    def test_db_check_on_postgres_scheme_reaches_the_server(self):
        """postgres:// is tried as PostgreSQL: nothing listens, so one line naming the host."""
        port = free_port()
        result = run("db", "check", "--db", f"postgres://u:s3cret@127.0.0.1:{port}/shop")
        assert_one_line(result, f"127.0.0.1:{port}/shop")
        assert "s3cret" not in result.stderr


# -- every subcommand, every kind of mistake --------------------------------------------------


QUICKSTART_APP = textwrap.dedent(
    """
    from qbwc_spyne import QBWCHandler, make_wsgi_app

    class Sync(QBWCHandler):
        def on_authenticate(self, event):
            event.accept = event.user == "shop" and event.password == "s3cret"

    handler = Sync()
    app = make_wsgi_app(handler)

    def broken():
        raise RuntimeError("the factory could not start\\nsecond line")
    """
)

#: A QWC file's properties, all valid, as the README's TOML example gives them.
README_TOML = """[qwc]
app_name = "Shop sync"
app_url = "https://shop.example.com/qbwc"
app_support_url = "https://shop.example.com/help"
app_description = "Orders to QuickBooks"
user = "shop"
"""

MISTAKES = [
    ("serve", "app:handler()", "--port", "0"),
    ("serve", "app:broken()", "--port", "0"),
    ("serve", "app:nothing", "--port", "0"),
    ("serve", "no_such_module:app"),
    ("serve", "app:handler", "--store", "sqllite:///x.db"),
    ("serve", "app:handler", "--store", "sqlite:"),
    ("serve", "app:handler", "--port", "http"),
    ("serve", "app:handler", "--port", "99999"),
    ("serve", "app:handler", "--port", "-1"),
    ("serve", "app:handler", "--host", "no-such-host.invalid", "--port", "0"),
    ("serve",),
    ("serve", "app:handler", "--dashboard"),
    ("explain", "banana"),
    ("explain", "banana", "--json"),
    ("explain",),
    ("qwc",),
    ("qwc", "--app-name", "Shop"),
    ("qwc", "--interval", "soon"),
    ("qwc", "--toml", "missing.toml"),
    ("qwc", "--toml", "bad.toml"),
    ("qwc", "--toml", "typed.toml"),
    ("qwc", "--toml", "readme.toml", "--app-url", "https://[::1/qbwc"),
    ("qwc", "--check", "missing.qwc"),
    ("qwc", "--check", "bad.toml"),
    ("simulate", "http://127.0.0.1:{closed}/qbwc", "--user", "shop", "--password", "x"),
    ("simulate", "127.0.0.1:8000/qbwc", "--user", "shop", "--password", "x"),
    ("simulate", "http://127.0.0.1:{closed}/qbwc", "--password", "x"),
    ("simulate", "http://127.0.0.1:{closed}/", "--user", "u", "--company", "missing.json"),
    ("simulate", "http://127.0.0.1:{closed}/", "--user", "u"),
    ("simulate", "http://[::1/qbwc", "--user", "u", "--password", "x"),
    ("hash-password", "--stdin"),
    ("jobs",),
    ("jobs", "list"),
    ("jobs", "list", "--db", "missing.db"),
    ("jobs", "list", "--db", "mysql://u@h/db"),
    ("jobs", "show", "one", "--db", "x.db"),
    ("jobs", "show", "99999999999999999999999", "--db", "jobs.db"),
    ("jobs", "retry", "99999999999999999999999", "--db", "jobs.db"),
    ("jobs", "show", "1", "--db", "bad.toml"),
    ("jobs", "purge", "--days", "nan", "--db", "x.db"),
    ("jobs", "resolve", "1", "--db", "x.db"),
    ("db", "check"),
    ("db", "check", "--db", "missing.db"),
    ("db", "upgrade", "--db", "postgresql:shop"),
    ("db", "frobnicate"),
    ("status",),
    ("status", "--db", "sqllite:///x.db"),
    ("status", "missing.db"),
    ("no-such-command",),
    ("--no-such-option",),
]


@pytest.fixture(scope="module")
def reader_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reader's directory: the quickstart's app.py and a few broken files."""
    directory = tmp_path_factory.mktemp("reader")
    (directory / "app.py").write_text(QUICKSTART_APP)
    (directory / "bad.toml").write_text("[qwc\napp_name = ")
    (directory / "typed.toml").write_text("[qwc]\napp_name = 5\nupdate_interval = 'soon'\n")
    (directory / "readme.toml").write_text(README_TOML)
    SQLJobQueue(directory / "jobs.db").close()
    (directory / "unknown.toml").write_text(README_TOML + 'colour = "red"\n')
    return directory


@pytest.mark.parametrize("args", MISTAKES, ids=" ".join)
def test_every_mistake_is_one_line_on_stderr_and_no_traceback(reader_dir, args):
    """Each subcommand given a mistake: exit non-zero, one stderr line, no Traceback."""
    closed = str(free_port())
    result = run(*(a.replace("{closed}", closed) for a in args), cwd=reader_dir)
    assert_one_line(result)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("serve", "app:handler()"), "app:handler() calls app:handler, which is a Sync"),
        (("serve", "app:broken()"), "app:broken() raised RuntimeError: the factory could not"),
        (("explain", "banana"), "'banana' is no error code"),
        (("simulate", "http://127.0.0.1:{closed}/qbwc", "--user", "shop", "--password", "x"),
         "cannot connect to 127.0.0.1:{closed}: Connection refused"),
        (("serve", "app:handler", "--store", "sqllite:///x.db"),
         "--store: unsupported database URL scheme 'sqllite'"),
        (("qwc", "--toml", "typed.toml"),
         "app_name in the --toml file must be text, not int;"),
        (("qwc", "--toml", "bad.toml"), "bad.toml: "),
        (("status", "jobs.db", "--db", "other.db"),
         "two databases given, jobs.db and --db other.db: give one"),
        (("simulate", "http://[::1/qbwc", "--user", "u", "--password", "x"),
         "the URL 'http://[::1/qbwc' cannot be read: Invalid IPv6 URL"),
        (("qwc", "--toml", "unknown.toml"), "colour in unknown.toml is not a QWC property"),
        (("qwc", "--toml", "readme.toml", "--app-url", "https://[::1/qbwc"),
         "--app-url is not an http(s) URL: 'https://[::1/qbwc'"),
        (("qwc", "--toml", "readme.toml", "--app-url", "https://shop.example.com:99999/"),
         "--app-url is not an http(s) URL"),
        (("serve", "app:handler", "--port", "99999"),
         "argument --port: must be a port number, 0 to 65535, not '99999'"),
        (("serve", "app:handler", "--host", "no-such-host.invalid", "--port", "0"),
         "cannot listen on no-such-host.invalid:0: "),
    ],
)  # fmt: skip
def test_the_line_says_what_is_wrong(reader_dir, args, says):
    """The one line names the cause, not urllib3's retries or a Python traceback."""
    closed = str(free_port())
    result = run(*(a.replace("{closed}", closed) for a in args), cwd=reader_dir)
    assert_one_line(result, says.replace("{closed}", closed))
    assert "HTTPConnectionPool" not in result.stderr and "Max retries" not in result.stderr


def test_serve_on_a_port_in_use_says_so_in_one_line(reader_dir):
    """werkzeug's own two lines and exit are not what the user reads: one line of ours."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        result = run("serve", "app:handler", "--port", port, cwd=reader_dir)
    assert_one_line(result, f"{_common.PROG}: error: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in result.stderr and "--port chooses another port" in result.stderr


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (404, "answered HTTP 404, not the Web Connector service"),
        (405, "answered HTTP 405, not the Web Connector service"),
        (500, "answered HTTP 500, a server error: see the server's log"),
    ],
)
def test_simulate_tells_a_wrong_path_from_a_failing_server_in_one_line(tmp_path, status, says):
    """A site whose endpoint is elsewhere answers 404: one line naming the status and the path.

    An endpoint that fails (500 without a SOAP fault) is not blamed on the path.
    """
    from werkzeug.wrappers import Response

    site = make_server("127.0.0.1", 0, Response("not here", status=status), threaded=True)
    thread = __import__("threading").Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{site.server_port}/wrong"
        result = run("simulate", url, "--user", "shop", "--password", "x", "--quiet")
    finally:
        site.shutdown()
        site.server_close()
    assert_one_line(result, f"{url} {says}")


# -- the extras name the line that installs them -------------------------------------------


def without(monkeypatch: pytest.MonkeyPatch, module: str, *importers: str) -> None:
    """Import ``module`` fails, as when its extra is not installed; ``importers`` import again."""
    monkeypatch.setitem(sys.modules, module, None)  # `import module` raises ImportError
    for name in [m for m in sys.modules if m.startswith(importers)]:
        monkeypatch.delitem(sys.modules, name)


def test_simulate_without_the_testing_extra_gives_the_pip_line(monkeypatch, capsys):
    """After pip install '.[server]', simulate says the exact command that installs zeep."""
    without(monkeypatch, "zeep", "qbwc_spyne.testing")
    assert _cli.main(["simulate", "http://127.0.0.1:1/", "--user", "u", "--password", "x"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'qbwc_spyne[testing]'" in err and "pip install '.[testing]'" in err
    assert err.count("\n") == 1


def test_metrics_without_the_metrics_extra_gives_the_pip_line(monkeypatch):
    """serve --metrics without prometheus-client: the same form of message."""
    without(monkeypatch, "prometheus_client", "qbwc_spyne.server._metrics")
    with pytest.raises(_common.CommandError, match=r"pip install 'qbwc_spyne\[metrics\]'"):
        _serve._metrics(Accepting())


def test_postgresql_without_psycopg_gives_the_pip_line(monkeypatch):
    """The postgres extra missing: a ConfigurationError with the install line, no ImportError."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    database = Database("postgres://u@127.0.0.1/shop")
    with pytest.raises(ConfigurationError, match=r"pip install 'qbwc_spyne\[postgres\]'"):
        database.engine()


# -- qwc ---------------------------------------------------------------------------------


def test_qwc_interval_of_30_seconds_is_written_as_run_every_n_seconds(tmp_path):
    """--interval 30, as the live-request section recommends: RunEveryNSeconds 30, no note."""
    out = tmp_path / "shop.qwc"
    result = run(
        "qwc",
        *("--app-name", "Shop", "--user", "shop", "--description", "d"),
        *("--app-url", "http://localhost:8000/", "--support-url", "http://localhost:8000/"),
        *("--interval", "30", "-o", str(out)),
    )
    assert result.returncode == 0 and "note:" not in result.stderr, result.stderr
    assert "<RunEveryNSeconds>30</RunEveryNSeconds>" in out.read_text()


def test_qwc_help_marks_the_required_options():
    """--help shows which options must be given (here or in the --toml file)."""
    text = run("qwc", "--help").stdout
    assert "required, here or in the --toml file" in text
    for option in ("--app-name", "--app-url", "--support-url", "--description", "--user"):
        line = next(line for line in text.splitlines() if line.strip().startswith(option))
        assert option in line
    required = text.split("required, here or in the --toml file")[1]
    assert all(o in required for o in ("--app-name", "--app-url", "--description", "--user"))
    assert "--owner-id" not in required


# -- gunicorn, as the Quickstart runs it -----------------------------------------------------


def gunicorn(tmp_path: Path, app: str, *options: str) -> tuple[Any, str, Path]:
    """gunicorn serving ``app`` from tmp_path on 127.0.0.1 with the package's settings."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    output = log.open("w")
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", app, "-c", "python:qbwc_spyne.gunicorn"),
            *("--bind", f"127.0.0.1:{port}", *options),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output.close()
    url = f"http://127.0.0.1:{port}/"
    assert wait_until_serving(url, lambda: server.poll() is None, within=60), log.read_text()
    return server, url, log


def stop(server: Any) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.mark.wire
def test_the_quickstarts_gunicorn_command_logs_the_librarys_lines(tmp_path):
    """gunicorn app:app -c python:qbwc_spyne.gunicorn: each session's line reaches the log."""
    (tmp_path / "app.py").write_text(
        QUICKSTART_APP.replace(
            "app = make_wsgi_app(handler)",
            "from qbwc_spyne import SQLSessionStore\n"
            "app = make_wsgi_app(handler, store=SQLSessionStore('sessions.db'))",
        )
    )
    server, url, log = gunicorn(tmp_path, "app:app")
    try:
        for _ in range(2):
            result = WebConnector(url, user="shop", password="wrong").update()
            assert result.status == "auth failed", result.transcript()
    finally:
        stop(server)
    text = log.read_text()
    assert text.count("authenticate: user 'shop'") == 2, text[-3000:]
    assert SESSIONS_PER_PROCESS not in text  # a shared store: nothing to warn of


@pytest.mark.wire
def test_several_gunicorn_workers_with_memory_sessions_log_one_error_naming_the_fix(tmp_path):
    """The default MemorySessionStore under 2 workers: an ERROR at the first request, the fix."""
    (tmp_path / "app.py").write_text(QUICKSTART_APP)
    server, url, log = gunicorn(tmp_path, "app:app", "--workers", "2")
    try:
        import requests

        answer = requests.post(
            url,
            data=traffic("getLastError.request.xml", ticket="not-a-ticket"),
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=30,
        )
    finally:
        stop(server)
    text = log.read_text()
    assert text.count(SESSIONS_PER_PROCESS) >= 1, text[-3000:]
    assert "store=SQLSessionStore(path)" in answer.text
    assert UNKNOWN_TICKET_MESSAGE in answer.text


@pytest.mark.wire
def test_gunicorns_log_level_and_error_logfile_apply_to_the_librarys_lines(tmp_path):
    """Options on gunicorn's command line win over the package's settings, for logging too.

    --log-level warning keeps the library's INFO lines out, its ERROR in;
    --error-logfile receives them, as it receives gunicorn's own.
    """
    (tmp_path / "app.py").write_text(QUICKSTART_APP)
    error_log = tmp_path / "error.log"
    server, url, log = gunicorn(
        tmp_path, "app:app", "--workers", "2", "--log-level", "warning",
        "--error-logfile", str(error_log),
    )  # fmt: skip
    try:
        for _ in range(2):
            result = WebConnector(url, user="shop", password="wrong").update()
            assert result.status == "auth failed", result.transcript()
    finally:
        stop(server)
    text = error_log.read_text()
    assert SESSIONS_PER_PROCESS in text, (text[-3000:], log.read_text()[-3000:])
    assert "authenticate: user 'shop'" not in text + log.read_text()


# -- a memory store in several processes, in-process ------------------------------------------


class Accepting(QBWCHandler):
    def on_authenticate(self, event: Any) -> None:
        event.accept = True


def get_last_error(app: Any, multiprocess: bool) -> str:
    response = Client(app).post(
        "/",
        data=traffic("getLastError.request.xml", ticket="not-a-ticket"),
        content_type="text/xml; charset=utf-8",
        environ_overrides={"wsgi.multiprocess": multiprocess},
    )
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("multiprocess", "store", "warned"),
    [(True, "memory", True), (False, "memory", False), (True, "sqlite", False)],
)
def test_memory_sessions_in_several_processes_are_named_once_and_to_the_user(
    tmp_path, caplog, multiprocess, store, warned
):
    """wsgi.multiprocess with a MemorySessionStore: one ERROR, and getLastError says why."""
    sessions = SQLSessionStore(tmp_path / "s.db") if store == "sqlite" else None
    app = make_wsgi_app(Accepting(), store=sessions)
    with caplog.at_level(logging.ERROR, logger="qbwc_spyne"):
        answers = [get_last_error(app, multiprocess) for _ in range(3)]
    errors = [r for r in caplog.records if SESSIONS_PER_PROCESS in r.getMessage()]
    assert len(errors) == (1 if warned else 0)
    assert all(UNKNOWN_TICKET_MESSAGE in answer for answer in answers)
    assert all(("MemorySessionStore" in answer) == warned for answer in answers)


# -- a database outage is the database's ---------------------------------------------------


def test_a_storage_error_in_authenticate_is_logged_as_the_databases_not_the_handlers(caplog):
    """An outage under the library's own handler: the line blames the database, not the handler."""

    class Outage(QBWCHandler):
        def on_authenticate(self, event: Any) -> None:
            raise StorageError("the database at db.internal:5432/shop: connection refused")

    result = WebConnector(make_wsgi_app(Outage()), user="shop", password="x").update()
    assert result.status != "ok"
    (line,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "The database failed: the database at db.internal:5432/shop" in line
    assert "Fix the handler" not in line


# -- serve --dashboard: one status, and its live requests counted -------------------------


def test_the_served_dashboard_keeps_status_in_the_queues_database(tmp_path, monkeypatch):
    """Without a recorder of the app's own, status goes beside the jobs: `status` agrees."""
    monkeypatch.setenv("QBWC_SPYNE_DASHBOARD_TOKEN", "script-token")
    queue = SQLJobQueue(tmp_path / "jobs.db")
    handler = QueueHandler(queue, passwords=lambda user, password: password == "pw")
    app = make_wsgi_app(handler)
    served = make_app(app, **_serve.dashboard_settings())
    queue.enqueue(user="shop", kind="unregistered")  # work, so a session opens
    assert WebConnector(served, user="shop", password="pw").update().ok
    result = run("status", str(tmp_path / "jobs.db"), "--json")
    assert result.returncode == 0, result.stderr
    assert [row["user"] for row in json.loads(result.stdout)] == ["shop"]
    assert served.status is not None and served.live is not None
    assert served.live.status_store is served.status
    assert served.status.statuses(user="shop")


def test_the_served_dashboards_live_requests_reach_the_apps_metrics(monkeypatch):
    """An app made with metrics=: the dashboard's live client reports to those same metrics."""
    from qbwc_spyne import MemoryJobQueue

    monkeypatch.setenv("QBWC_SPYNE_DASHBOARD_TOKEN", "script-token")
    metrics = Metrics()
    handler = QueueHandler(MemoryJobQueue(), passwords=lambda user, password: True)
    served = make_app(make_wsgi_app(handler, metrics=metrics), **_serve.dashboard_settings())
    assert served.live is not None and served.live.observe is not None
    served.live.observe(0.25, "offline")
    count = metrics.registry.get_sample_value(
        "qbwc_live_request_duration_seconds_count", {"outcome": "offline"}
    )
    assert count == 1


# -- the examples write nothing into the clone ---------------------------------------------


def test_the_seed_style_example_writes_its_qwc_file_outside_the_clone(tmp_path):
    """Run from the clone's root without --qwc: the file lands in the temporary directory."""
    server = subprocess.Popen(
        [sys.executable, "-m", "examples.seed_style_server", "--port", "0"],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TMPDIR": str(tmp_path),
            "PYTHONUNBUFFERED": "1",
        },
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert f"import {tmp_path / 'seed_style.qwc'}" in line, line
    assert (tmp_path / "seed_style.qwc").is_file()
    assert not (ROOT / "seed_style.qwc").exists()


QWC_VALUES = st.text(max_size=40)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "--app-name",
                    "--app-url",
                    "--support-url",
                    "--description",
                    "--user",
                    "--owner-id",
                    "--file-id",
                    "--interval",
                    "--qb-type",
                ]
            ),
            QWC_VALUES | st.sampled_from(["https://shop.example.com/q", "30", "-5", "QBPOS"]),
        ),
        max_size=9,
    )
)
@settings(max_examples=200, deadline=None)
def test_qwc_given_any_options_writes_a_file_or_says_why_in_one_line(options):
    """Whatever values the options get: a valid file on stdout, or one error line, exit 1 or 2."""
    import contextlib
    import io

    # --option=value: a value starting with "-" is a value, not another option.
    out, err = io.StringIO(), io.StringIO()
    status: Any
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = _cli.main(["qwc", *(f"{option}={value}" for option, value in options)])
        except SystemExit as exit_:  # argparse's refusal
            status = exit_.code
    if status == 0:
        from qbwc_spyne.qwc import QWCFile

        QWCFile.parse(out.getvalue()).validate()
    else:
        assert status in (1, 2) and err.getvalue().count("\n") == 1, err.getvalue()
