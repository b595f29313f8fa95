"""The qbwc-spyne command line, run as users run it: in a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from qbwc_spyne import QBWCServer
from qbwc_spyne.auth import PasswordCheck
from qbwc_spyne.cli._cli import build_parser
from qbwc_spyne.qwc import QWCFile

from .helpers import QBXML_REQUEST, RecordingHandler, free_port, sqlite_connect, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "qbwc_spyne"]


def run(
    *args: str,
    stdin: str = "",
    cwd: Path = ROOT,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    # The caller's QBWC_PASSWORD must not leak into a test of where the password comes from.
    environment = {k: v for k, v in os.environ.items() if k != "QBWC_PASSWORD"}
    environment.update({"PYTHONPATH": str(ROOT), **(env or {})})
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=environment,
        check=False,
        # No controlling terminal, as under cron or CI: nothing can prompt.
        start_new_session=True,
    )


@dataclass
class Served:
    """A ``qbwc-spyne serve`` process: its URL, and what it printed once it stopped."""

    url: str
    output: str = ""


@contextmanager
def serve_command(
    target: str, *options: str, cwd: Path, env: Mapping[str, str | None]
) -> Iterator[Served]:
    """Run ``qbwc-spyne serve TARGET`` on a free port until the block ends (SIGINT, as Ctrl-C).

    ``env`` is added to this process's environment; a None value removes the variable.
    """
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    server = subprocess.Popen(
        [*CLI, "serve", target, "--port", str(port), *options],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(f"http://127.0.0.1:{port}/")
    try:
        assert wait_until_serving(served.url, lambda: server.poll() is None), "serve did not start"
        yield served
    finally:
        server.send_signal(signal.SIGINT)
        served.output, _ = server.communicate(timeout=10)


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 1
    assert result.stderr.startswith("qbwc-spyne: error: ") and text in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_version_and_help():
    """--version prints the version; --help names every command and gunicorn for production."""
    assert run("--version").stdout.startswith("qbwc-spyne 0.")
    help_text = run("--help").stdout
    for command in ("serve", "qwc", "simulate", "hash-password", "demo"):
        assert command in help_text
    assert "gunicorn" in run("serve", "--help").stdout


class TestQwc:
    def test_writes_a_valid_file_from_options(self, tmp_path):
        """Options make a file the Web Connector accepts, with stable IDs."""
        out = tmp_path / "shop.qwc"
        result = run(
            "qwc",
            "--app-name",
            "Shop",
            "--app-url",
            "https://s.example.com/qbwc",
            "--support-url",
            "https://s.example.com/help",
            "--description",
            "Shop sync",
            "--user",
            "shop",
            "--interval",
            "600",
            "-o",
            str(out),
        )
        assert result.returncode == 0, result.stderr
        qwc = QWCFile.parse(out)
        assert (qwc.app_name, qwc.user, qwc.update_interval) == ("Shop", "shop", 600)
        assert run("qwc", "--check", str(out)).stdout.strip() == f"{out}: valid"

    def test_writes_from_toml_and_refuses_to_overwrite(self, tmp_path):
        """A [qwc] table; an existing file is an error without --overwrite."""
        toml = tmp_path / "qwc.toml"
        toml.write_text(
            '[qwc]\napp_name = "Shop"\napp_url = "http://localhost:8000/"\n'
            'app_support_url = "http://localhost:8000/help"\napp_description = "d"\n'
            'user = "shop"\nauth_flags = "0xF"\n'
        )
        out = tmp_path / "shop.qwc"
        assert run("qwc", "--toml", str(toml), "-o", str(out)).returncode == 0
        assert QWCFile.parse(out).auth_flags == 0xF
        again = run("qwc", "--toml", str(toml), "-o", str(out))
        assert_one_line_error(again, f"{out} exists: --overwrite replaces it")
        assert run("qwc", "--toml", str(toml), "-o", str(out), "--overwrite").returncode == 0

    @pytest.mark.parametrize(
        ("args", "text"),
        [
            (
                [
                    "--app-name",
                    "Shop",
                    "--user",
                    "u",
                    "--app-url",
                    "http://shop.example.com/",
                    "--support-url",
                    "http://shop.example.com/",
                    "--description",
                    "d",
                ],
                "--app-url must use https",
            ),
            (
                ["--app-name", "Shop"],
                "--app-url is required; --support-url is required;"
                " --description is required; --user is required",
            ),
        ],
    )
    def test_invalid_properties_are_one_line_errors(self, args, text):
        """Every problem at once, each named by its option; exit 1; no traceback."""
        assert_one_line_error(run("qwc", *args), text)

    def test_check_reports_a_broken_file(self, tmp_path):
        """--check on a file with a bad OwnerID names the field."""
        bad = tmp_path / "bad.qwc"
        bad.write_text("<QBWCXML><AppName>A</AppName><OwnerID>nope</OwnerID></QBWCXML>")
        assert_one_line_error(run("qwc", "--check", str(bad)), "app_url is required")


def test_hash_password_prints_a_verifiable_hash():
    """hash-password --stdin prints an Argon2 hash that PasswordCheck accepts."""
    result = run("hash-password", "--stdin", stdin="s3cret\n")
    assert result.returncode == 0
    digest = result.stdout.strip()
    assert PasswordCheck({"u": digest}).verify("u", "s3cret")
    assert_one_line_error(run("hash-password", "--stdin", stdin="\n"), "empty")


def test_serve_refuses_a_bad_target():
    """A target that cannot be loaded is one line, exit 1."""
    assert_one_line_error(run("serve", "no_such_module:app"), "cannot load no_such_module:app")
    assert_one_line_error(run("serve", "examples"), "module:attribute")
    assert_one_line_error(
        run("serve", "examples.customer_mirror:CustomerMirror", "--store", "redis:x"),
        "--store: malformed database URL 'redis:x'",
    )
    assert_one_line_error(
        run("serve", "examples.flask_mount:app", "--store", "memory"),
        "apply to a handler, not a WSGI app",
    )


def test_serve_refuses_a_handler_class_it_cannot_create(tmp_path):
    """A handler class with a hook left abstract: one line naming it, not a traceback."""
    (tmp_path / "abstract_app.py").write_text(
        "from qbwc_spyne import QBWCHandler\nclass Handler(QBWCHandler):\n    pass\n"
    )
    result = run("serve", "abstract_app:Handler", cwd=tmp_path)
    assert_one_line_error(result, "cannot create abstract_app:Handler")
    assert "on_authenticate" in result.stderr


def test_simulate_refuses_a_missing_company_file(tmp_path):
    """A company JSON that cannot be read is one line, exit 1."""
    result = run(
        "simulate",
        "http://127.0.0.1:9/",
        "--user",
        "u",
        "--password",
        "p",
        "--company",
        str(tmp_path / "missing.json"),
    )
    assert_one_line_error(result, "missing.json")


def test_simulate_reports_an_unreachable_server_in_one_line():
    """Nothing listening: one line naming the connection failure, exit 1."""
    result = run(
        "simulate", f"http://127.0.0.1:{free_port()}/", "--user", "u", "--password", "p", "--quiet"
    )
    assert_one_line_error(result, "the update failed")


@pytest.mark.wire
def test_serve_then_simulate_over_http(tmp_path):
    """serve the demo integration; simulate drives it with a company JSON; transcript as JSON."""
    env = {"QBWC_DEMO_DATA": str(tmp_path / "data")}
    with serve_command("examples.customer_mirror:make_app()", cwd=ROOT, env=env) as served:
        url = served.url
        transcript = tmp_path / "transcript.json"
        result = run(
            "simulate",
            url,
            "--user",
            "demo",
            "--password-stdin",
            "--company",
            str(ROOT / "examples" / "demo_company.json"),
            "--json",
            str(transcript),
            stdin="demo-password\n",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "status: ok" in result.stdout and "Finished 2 jobs" in result.stdout
        assert "progress: 100%" in result.stderr
        calls = json.loads(transcript.read_text())["calls"]
        assert [c["operation"] for c in calls].count("sendRequestXML") == 6
        wrong = run("simulate", url, "--user", "demo", "--password", "nope", "--quiet")
        assert wrong.returncode == 1 and "status: auth failed" in wrong.stdout
    assert f"Serving examples.customer_mirror:make_app() for the Web Connector at {url}" in (
        served.output
    )
    assert f"WSDL: {url}?wsdl" in served.output


@pytest.mark.wire
def test_demo_runs_to_completion(tmp_path):
    """qbwc-spyne demo: 23 customers in 5 pages, the invoice's TxnID stored, demo.qwc written."""
    result = run("demo", "--directory", str(tmp_path / "data"), "--qwc", str(tmp_path / "demo.qwc"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "23 mirrored of 23 in QuickBooks, in 5 pages of 5 (all match)" in result.stdout
    assert "found in QuickBooks" in result.stdout
    assert "mirror_customers done, add_invoice done" in result.stdout
    qwc = QWCFile.parse(tmp_path / "demo.qwc")
    assert qwc.app_url == "http://localhost:8000/" and qwc.user == "demo"


def test_demo_from_an_installed_package_says_it_runs_from_a_checkout(tmp_path):
    """The package without its checkout (examples/ not importable): one line naming make demo."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "qbwc_spyne", site / "qbwc_spyne")
    work = tmp_path / "work"
    # Another project's examples/ in the working directory is not the demo.
    (work / "examples").mkdir(parents=True)
    (work / "examples" / "__init__.py").write_text("")
    (work / "examples" / "demo.py").write_text(
        "import pathlib\npathlib.Path('decoy-ran').touch()\ndef run(**options): return 0\n"
    )
    result = subprocess.run(
        [*CLI, "demo"],
        capture_output=True,
        text=True,
        cwd=work,
        check=False,
        env={**os.environ, "PYTHONPATH": str(site)},
        timeout=60,
    )
    assert_one_line_error(result, "runs from a source checkout")
    assert "make demo" in result.stderr
    assert not (work / "decoy-ran").exists() and not (work / "demo.qwc").exists()


def test_jobs_commands_over_a_sqlite_queue(tmp_path):
    """jobs list/show/retry/cancel read and steer the queue; mistakes are one line."""
    from qbwc_spyne import JobState, SQLJobQueue

    db = tmp_path / "jobs.db"
    queue = SQLJobQueue(db)
    first = queue.enqueue(user="shop", kind="add_customer", payload={"name": "A"})
    second = queue.enqueue(user="shop", kind="add_invoice", depends_on=[first.id])
    queue.close()
    listing = run("jobs", "list", "--db", str(db))
    assert (
        listing.returncode == 0
        and "add_customer" in listing.stdout
        and "add_invoice" in listing.stdout
    )
    assert "kind: add_customer" in run(
        "jobs", "show", str(first.id), "--db", str(db)
    ).stdout.replace("  ", "")
    assert (
        run("jobs", "cancel", str(first.id), "--db", str(db)).stdout.strip()
        == f"job {first.id} is now cancelled"
    )
    blocked = run("jobs", "list", "--db", str(db), "--state", "blocked").stdout
    assert "add_invoice" in blocked and "add_customer" not in blocked
    assert run("jobs", "retry", str(first.id), "--db", str(db)).returncode == 0
    assert SQLJobQueue(db).get(second.id).state is JobState.PENDING  # type: ignore[union-attr]
    assert_one_line_error(
        run("jobs", "retry", str(first.id), "--db", str(db)), "only failed, unknown"
    )
    assert_one_line_error(run("jobs", "show", "99", "--db", str(db)), "no job 99")
    assert_one_line_error(run("jobs", "list", "--db", str(tmp_path / "none.db")), "no database at")


# -- simulate: what the Web Connector's user sees ------------------------------------------


@contextmanager
def serving(handler: RecordingHandler) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 from a thread of this process; yield the URL."""
    server = make_server("127.0.0.1", 0, QBWCServer(handler), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def one_round(close_message: str) -> RecordingHandler:
    """A handler that sends one request, is done at 100%, and closes with ``close_message``."""
    return RecordingHandler(
        send_request={"request": QBXML_REQUEST},
        receive_response={"percent_done": 100},
        close_connection={"response_message": close_message},
    )


@pytest.mark.wire
class TestSimulate:
    FAILED = "2 done, 1 failed: Invoice 1042 \u2014 customer not found"

    def test_close_connection_message_is_the_last_line(self):
        """The application's closing words stand apart, after the transcript, as the last line."""
        with serving(one_round(self.FAILED)) as url:
            result = run("simulate", url, "--user", "u", "--password", "p", "--quiet")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[-2:] == ["Update completed: ok", f"The application says: {self.FAILED}"]
        assert lines[-3] == ""  # set apart from the transcript

    def test_no_work_is_not_a_failure(self):
        """authenticate "none": exit 0, and the output says there was nothing to do."""
        with serving(RecordingHandler(authenticate={"no_work": True})) as url:
            result = run("simulate", url, "--user", "shop", "--password", "p", "--quiet")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "status: no work" in result.stdout
        no_work, hint = result.stdout.splitlines()[-2:]
        assert no_work.startswith("No work: the application has nothing")
        # A crash mid-sync looks the same from here: say where to look, and the way out.
        assert "jobs recover --force" in hint

    def test_busy_is_still_a_failure(self):
        """Only "no work" joins "ok": a busy application exits 1."""
        with serving(RecordingHandler(authenticate={"busy": True})) as url:
            result = run("simulate", url, "--user", "u", "--password", "p", "--quiet")
        assert result.returncode == 1 and "Update FAILED: busy" in result.stdout

    def test_password_from_the_environment_is_used_and_never_shown(self, tmp_path):
        """QBWC_PASSWORD authenticates; it appears in neither output nor the JSON transcript."""

        def check(event):
            event.accept = event.password == "s3cret-env"

        handler = one_round("done")
        handler.answers["authenticate"] = check
        transcript = tmp_path / "run.json"
        with serving(handler) as url:
            good = run(
                "simulate", url, "--user", "u", "--quiet", "--json", str(transcript),
                env={"QBWC_PASSWORD": "s3cret-env"},
            )  # fmt: skip
            bad = run("simulate", url, "--user", "u", "--quiet", env={"QBWC_PASSWORD": "nope"})
        assert good.returncode == 0, good.stdout + good.stderr
        assert bad.returncode == 1 and "status: auth failed" in bad.stdout
        for text in (good.stdout, good.stderr, transcript.read_text()):
            assert "s3cret-env" not in text


def test_simulate_without_a_password_or_terminal_is_one_line():
    """No --password, no --password-stdin, no QBWC_PASSWORD, no terminal: one line, exit 1."""
    result = run("simulate", "http://127.0.0.1:9/", "--user", "u", "--quiet")
    assert_one_line_error(result, "no password and no terminal")
    assert "QBWC_PASSWORD" in result.stderr and "--password-stdin" in result.stderr


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("localhost:8000/qbwc", "write http://localhost:8000/qbwc"),
        ("127.0.0.1:8000", "write http://127.0.0.1:8000"),
        ("shop.example.com/qbwc", "write http://shop.example.com/qbwc"),
        ("ftp://shop.example.com/qbwc", "write http://shop.example.com/qbwc"),
    ],
)
def test_simulate_url_without_a_scheme_names_the_fix(url, fix):
    """A URL without http:// or https://: one line naming the fix, before asking for a password."""
    result = run("simulate", url, "--user", "u", "--quiet")
    assert_one_line_error(result, fix)


# -- help, qwc --interval, serve --log-level -------------------------------------------------


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (commands,) = [
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    return dict(commands.choices)


@pytest.mark.parametrize(
    "command", ["serve", "qwc", "simulate", "hash-password", "explain", "demo"]
)
def test_every_option_has_help_that_shows_its_default(command):
    """Each option and argument explains itself; one with a default says what it is."""
    for action in subcommands()[command]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"{command} {name} has no help"
        if action.default not in (None, False):
            assert "default" in action.help, f"{command} {name} hides its default"


def test_qwc_interval_says_seconds_and_notes_the_rounding(tmp_path):
    """--interval is seconds; 100 s is written as 2 minutes and the command says so."""
    base = ["qwc", "--app-name", "Shop", "--user", "shop", "--app-url", "http://localhost/"]
    base += ["--support-url", "http://localhost/", "--description", "d"]
    assert "seconds between automatic updates" in run("qwc", "--help").stdout
    rounded = run(*base, "--interval", "100", "-o", str(tmp_path / "a.qwc"))
    assert rounded.returncode == 0, rounded.stderr
    assert "100 s is written as RunEveryNMinutes 2 (120 s)" in rounded.stderr
    assert QWCFile.parse(tmp_path / "a.qwc").update_interval == 120
    exact = run(*base, "--interval", "600", "-o", str(tmp_path / "b.qwc"))
    assert exact.returncode == 0 and "note:" not in exact.stderr


@pytest.mark.parametrize(
    ("options", "shown", "hidden"),
    [
        ([], ["INFO qbwc_spyne: loaded at info"], ["loaded at debug"]),
        (["--log-level", "debug"], ["loaded at info", "DEBUG qbwc_spyne: loaded at debug"], []),
        (["--log-level", "WARNING"], [], ["loaded at info", "loaded at debug"]),
    ],
)
def test_serve_configures_logging_at_info_by_default(tmp_path, options, shown, hidden):
    """serve logs the library's INFO lines unless --log-level says otherwise."""
    (tmp_path / "logging_app.py").write_text(
        "import logging\n"
        "from qbwc_spyne import QBWCHandler\n"
        'logging.getLogger("qbwc_spyne").info("loaded at info")\n'
        'logging.getLogger("qbwc_spyne").debug("loaded at debug")\n'
        "class Handler(QBWCHandler):\n"
        "    def on_authenticate(self, event):\n        pass\n"
    )
    # A port already taken: serve loads the target, then stops (werkzeug says why).
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run("serve", "logging_app:Handler", "--port", port, *options, cwd=tmp_path)
    assert result.returncode == 1 and port in result.stderr
    for text in shown:
        assert text in result.stderr
    for text in hidden:
        assert text not in result.stderr


class TestJobs:
    """The jobs subcommands, run in-process."""

    def jobs(self, capsys, *args):
        from qbwc_spyne.cli._cli import main

        status = main(["jobs", *args])
        out, err = capsys.readouterr()
        return status, out, err

    def queue_file(self, tmp_path):
        from qbwc_spyne import SQLJobQueue

        db = tmp_path / "jobs.db"
        queue = SQLJobQueue(db)
        first = queue.enqueue(
            user="shop", kind="add_invoice", payload={"ref": "1042"}, key="1042", now=1.7e9
        )
        queue.enqueue(user="shop", kind="add_invoice", depends_on=[first.id], now=1.7e9)
        return db, queue, first

    def test_show_prints_iso_times_and_plain_values(self, tmp_path, capsys):
        """No epoch floats, no None, no JobState(...) or other reprs."""
        db, _, first = self.queue_file(tmp_path)
        status, out, _ = self.jobs(capsys, "show", str(first.id), "--db", str(db))
        fields = dict(line.strip().split(": ", 1) for line in out.splitlines())
        assert status == 0
        assert fields["created"] == "2023-11-14T22:13:20+00:00"
        assert fields["state"] == "pending" and fields["payload"] == '{"ref": "1042"}'
        assert fields["ticket"] == "-" and fields["writes"] == "no"
        assert fields["depends_on"] == "-"
        for text in ("None", "JobState", "1700000000", "False"):
            assert text not in out

    def test_db_falls_back_to_the_environment(self, tmp_path, capsys, monkeypatch):
        """QBWC_SPYNE_DB names the file when --db is not given."""
        db, _, _ = self.queue_file(tmp_path)
        monkeypatch.setenv("QBWC_SPYNE_DB", str(db))
        status, out, _ = self.jobs(capsys, "list")
        assert status == 0 and out.count("add_invoice") == 2
        monkeypatch.delenv("QBWC_SPYNE_DB")
        status, _, err = self.jobs(capsys, "list")
        assert status == 1 and "QBWC_SPYNE_DB" in err

    @pytest.mark.parametrize("what", ["text file", "sessions database", "empty file"])
    def test_a_file_that_is_not_a_queue_is_one_line_and_left_untouched(
        self, tmp_path, capsys, what
    ):
        """One line on stderr, exit 1; the file is unchanged and nothing is created beside it."""

        path = tmp_path / "other.db"
        if what == "text file":
            path.write_text("name,amount\nAda,12\n" * 50)
        elif what == "sessions database":
            # A session store's file of the previous release: no job tables.
            with sqlite_connect(path) as db:
                db.execute(
                    "CREATE TABLE qbwc_sessions ("
                    " ticket TEXT PRIMARY KEY, last_seen REAL NOT NULL, session TEXT NOT NULL)"
                )
            db.close()
        else:
            path.touch()
        before = path.read_bytes()
        status, out, err = self.jobs(capsys, "list", "--db", str(path))
        assert status == 1 and out == ""
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert path.read_bytes() == before
        assert [p.name for p in tmp_path.iterdir()] == ["other.db"]

    def test_recover_purge_and_resolve(self, tmp_path, capsys):
        """recover releases stuck jobs; resolve settles an unknown write; purge drops the done."""
        from qbwc_spyne import JobState

        db, queue, first = self.queue_file(tmp_path)
        queue.claim(user="shop", company_file="", ticket="t", now=0, lease=1)
        queue.progress(first.id, ticket="t", now=0, writes=True)
        status, out, _ = self.jobs(capsys, "recover", "--db", str(db))
        assert status == 0 and f"job {first.id} (add_invoice) of shop is now reconcile" in out
        queue.claim(user="shop", company_file="", ticket="t2", now=0, lease=60)
        queue.release(first.id, ticket="t2", now=0, to=JobState.UNKNOWN, message="lost")
        status, out, _ = self.jobs(capsys, "resolve", str(first.id), "--happened", "--db", str(db))
        assert out.strip() == f"job {first.id} is now done"
        status, out, err = self.jobs(
            capsys, "resolve", str(first.id), "--happened", "--db", str(db)
        )
        assert status == 1 and "only unknown jobs are resolved" in err
        status, out, _ = self.jobs(capsys, "purge", "--days", "0", "--db", str(db))
        assert status == 0 and out.strip() == "0 finished job(s) purged"  # a pending job needs it
        queue.cancel(2, now=0)
        status, out, _ = self.jobs(capsys, "purge", "--days", "0", "--db", str(db))
        assert out.strip() == "2 finished job(s) purged"
        # The keyed job stays as a tombstone, so its key still names its work.
        assert [(j.id, j.purged, j.payload) for j in queue.jobs()] == [(first.id, True, {})]

    def test_recover_names_a_job_held_by_a_crashed_session_and_force_releases_it(
        self, tmp_path, capsys
    ):
        """Nothing due: recover says which job is in flight and until when; --force frees it."""
        db, queue, first = self.queue_file(tmp_path)
        now = time.time()
        queue.claim(user="shop", company_file="", ticket="t", now=now, lease=300)
        queue.progress(first.id, ticket="t", now=now, writes=True)
        status, out, _ = self.jobs(capsys, "recover", "--db", str(db))
        lines = out.splitlines()
        assert status == 0 and lines[0] == "0 job(s) released"
        assert lines[1].startswith(f"job {first.id} (add_invoice) of 'shop' is in flight until ")
        assert lines[1].endswith("--force releases it now") and len(lines) == 2
        status, out, _ = self.jobs(capsys, "recover", "--force", "--db", str(db))
        # A write that may have been sent goes to reconcile, never back to pending.
        assert out.splitlines() == [
            f"job {first.id} (add_invoice) of shop is now reconcile",
            "1 job(s) released",
        ]
        assert queue.get(first.id).state.value == "reconcile"

    @pytest.mark.parametrize("days", ["nan", "inf", "-inf", "-1", "1e308"])
    def test_purge_refuses_days_that_are_not_a_finite_age(self, tmp_path, capsys, days):
        """--days nan, inf or negative: one line on stderr, exit 1, nothing purged."""
        db, queue, _ = self.queue_file(tmp_path)
        queue.cancel(2, now=0)
        status, out, err = self.jobs(capsys, "purge", f"--days={days}", "--db", str(db))
        assert status == 1 and out == "" and "--days" in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert len(queue.jobs()) == 2 and not queue.jobs()[1].purged

    def test_retry_of_a_job_that_would_stay_blocked_fails_naming_the_blocker(
        self, tmp_path, capsys
    ):
        """Not "is now blocked" and exit 0: one line naming the dependency, exit 1."""
        db, queue, first = self.queue_file(tmp_path)
        queue.claim(user="shop", company_file="", ticket="t", now=0, lease=60)
        queue.fail(first.id, ticket="t", now=0, code="3140", message="no customer")
        status, out, err = self.jobs(capsys, "retry", "2", "--db", str(db))
        assert status == 1 and out == ""
        assert f"job {first.id} it depends on is failed" in err
        assert len(err.strip().splitlines()) == 1

    def test_help_names_the_defaults(self, capsys):
        """Each option says its default."""
        from qbwc_spyne.cli._cli import main

        with pytest.raises(SystemExit):
            main(["jobs", "purge", "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: 30.0)" in text and "QBWC_SPYNE_DB" in text


def test_serve_dashboard_without_a_password_refuses_and_says_how(tmp_path):
    """--dashboard with neither variable set: one line naming the variable, no server."""
    env = {"QBWC_DEMO_DATA": str(tmp_path / "data"), "QBWC_SPYNE_DASHBOARD_PASSWORD": ""}
    result = run(
        "serve", "examples.customer_mirror:make_app()", "--port", "0", "--dashboard", env=env
    )
    assert_one_line_error(result, "QBWC_SPYNE_DASHBOARD_PASSWORD")


def test_serve_dashboard_needs_a_queue(tmp_path):
    """A handler without a job queue has nothing to show: one line saying so."""
    (tmp_path / "plain_app.py").write_text(
        "from qbwc_spyne import QBWCHandler\nclass Handler(QBWCHandler):\n"
        "    def on_authenticate(self, event):\n        pass\n"
    )
    env = {"QBWC_SPYNE_DASHBOARD_PASSWORD": "pw"}
    result = run("serve", "plain_app:Handler", "--dashboard", cwd=tmp_path, env=env)
    assert_one_line_error(result, "TARGET must be a QueueHandler")


@pytest.mark.wire
def test_serve_dashboard_mounts_it_beside_the_endpoint(tmp_path):
    """The endpoint still serves its WSDL at /, and /dashboard/ asks for the password."""
    env = {
        "QBWC_DEMO_DATA": str(tmp_path / "data"),
        "QBWC_SPYNE_DASHBOARD_PASSWORD": "operator-password",
    }
    target = "examples.customer_mirror:make_app()"
    with serve_command(target, "--dashboard", cwd=ROOT, env=env) as served:
        url = served.url
        import requests

        session = requests.Session()
        form = session.get(url + "dashboard/jobs", timeout=10)
        assert form.status_code == 200 and "password" in form.text
        assert form.url == url + "dashboard/login?next=/dashboard/jobs"
        csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
        jobs = session.post(
            url + "dashboard/login",
            data={"csrf": csrf, "password": "operator-password", "next": "/dashboard/jobs"},
            timeout=10,
        )
        assert jobs.status_code == 200 and "mirror_customers" in jobs.text
    assert f"Dashboard: {url}dashboard/" in served.output
    assert "operator-password" not in served.output


@pytest.mark.wire
def test_serve_dashboard_shows_what_the_apps_status_recorder_records(tmp_path):
    """An app that records status: its sessions appear on the served dashboard's pages."""
    (tmp_path / "recorded_app.py").write_text(
        "from qbwc_spyne import QueueHandler, SQLJobQueue, make_wsgi_app\n"
        "from qbwc_spyne.status import SQLStatusStore, StatusRecorder\n"
        "queue = SQLJobQueue('jobs.db')\n"
        "handler = QueueHandler(queue, passwords=lambda user, password: password == 'pw')\n"
        "app = make_wsgi_app(handler, observers=[StatusRecorder(SQLStatusStore('jobs.db'))])\n"
    )
    env = {"QBWC_SPYNE_DASHBOARD_TOKEN": "script-token", "QBWC_SPYNE_DASHBOARD_PASSWORD": None}
    with serve_command("recorded_app:app", "--dashboard", cwd=tmp_path, env=env) as served:
        url = served.url
        import requests

        from qbwc_spyne import SQLJobQueue
        from qbwc_spyne.testing import WebConnector

        queue = SQLJobQueue(tmp_path / "jobs.db")
        queue.enqueue(user="shop", kind="unregistered")  # work, so a session opens
        queue.close()
        result = WebConnector(url, user="shop", password="pw").update()
        assert result.ok, result.transcript()
        bearer = {"Authorization": "Bearer script-token"}
        connections = requests.get(url + "dashboard/", headers=bearer, timeout=10)
        assert connections.status_code == 200 and ">shop<" in connections.text
        sessions = requests.get(url + "dashboard/sessions", headers=bearer, timeout=10)
        assert sessions.status_code == 200 and "No session on this page." not in sessions.text
        live = requests.get(url + "dashboard/live", headers=bearer, timeout=10)
        assert 'id="check"' in live.text


@pytest.mark.wire
def test_serve_a_queue_handler_with_dashboard_and_metrics_serves_every_part(tmp_path):
    """A QueueHandler as TARGET: endpoint, /metrics and /dashboard/, its status beside the jobs."""
    (tmp_path / "queue_app.py").write_text(
        "from qbwc_spyne import QueueHandler, SQLJobQueue\n"
        "handler = QueueHandler(SQLJobQueue('jobs.db'),"
        " passwords=lambda user, password: password == 'pw')\n"
    )
    env = {"QBWC_SPYNE_DASHBOARD_TOKEN": "script-token", "QBWC_SPYNE_DASHBOARD_PASSWORD": None}
    with serve_command(
        "queue_app:handler", "--dashboard", "--metrics", cwd=tmp_path, env=env
    ) as served:
        url = served.url
        import requests

        from qbwc_spyne import SQLJobQueue
        from qbwc_spyne.testing import WebConnector

        queue = SQLJobQueue(tmp_path / "jobs.db")
        queue.enqueue(user="shop", kind="unregistered")  # work, so a session opens
        queue.close()
        result = WebConnector(url, user="shop", password="pw").update()
        assert result.ok, result.transcript()
        metrics = requests.get(url + "metrics", timeout=10)
        assert metrics.status_code == 200 and "qbwc_calls_total" in metrics.text
        refused = requests.get(url + "dashboard/", timeout=10, allow_redirects=False)
        assert refused.status_code == 303
        bearer = {"Authorization": "Bearer script-token"}
        connections = requests.get(url + "dashboard/", headers=bearer, timeout=10)
        assert connections.status_code == 200 and ">shop<" in connections.text
    assert f"Metrics: {url}metrics" in served.output
    assert f"Dashboard: {url}dashboard/" in served.output
    status = run("status", str(tmp_path / "jobs.db"), "--json")
    assert status.returncode == 0, status.stderr
    assert [row["user"] for row in json.loads(status.stdout)] == ["shop"]


class TestServedDashboardLiveClient:
    """serve --dashboard gives its live client a status store, and the metrics when on."""

    def served(self, monkeypatch: pytest.MonkeyPatch, metrics: bool) -> tuple[Any, Any, Any]:
        """An app made with make_wsgi_app, composed with its dashboard as serve does it."""
        from qbwc_spyne import MemoryJobQueue, QueueHandler, make_app, make_wsgi_app
        from qbwc_spyne.cli._serve import _metrics, dashboard_settings

        monkeypatch.setenv("QBWC_SPYNE_DASHBOARD_TOKEN", "script-token")
        handler = QueueHandler(MemoryJobQueue(), passwords=lambda user, password: password == "pw")
        counted = _metrics(handler) if metrics else None
        app = make_wsgi_app(handler, metrics=counted)
        served = make_app(app, **dashboard_settings())
        assert served.dashboard is not None
        return app, served.dashboard.live, counted

    def test_a_user_never_seen_is_offline_at_once_not_after_the_timeout(self, monkeypatch):
        """The live check of an unknown user raises QuickBooksOffline; nothing is queued."""
        from qbwc_spyne.exceptions import QuickBooksOffline

        _app, live, _metrics = self.served(monkeypatch, metrics=False)
        with pytest.raises(QuickBooksOffline) as caught:
            live.health("nobody", timeout=5)  # without a status store: a 5 s LiveTimeout
        assert caught.value.reason == "never seen" and live.queue.jobs() == []

    def test_the_status_store_is_filled_by_the_apps_calls_and_live_requests_are_counted(
        self, monkeypatch
    ):
        """A recorder on the served app fills the store its live client reads; metrics count it."""
        from qbwc_spyne.status import StatusRecorder

        app, live, counted = self.served(monkeypatch, metrics=True)
        (recorder,) = [o for o in app.core.observers if isinstance(o, StatusRecorder)]
        assert recorder.store is live.status_store
        live.observe(0.5, "ok")
        assert (
            counted.registry.get_sample_value(
                "qbwc_live_request_duration_seconds_count", {"outcome": "ok"}
            )
            == 1
        )
        from qbwc_spyne.testing import WebConnector

        live.queue.enqueue(user="shop", kind="unregistered")  # work, so a session opens
        assert WebConnector(app, user="shop", password="pw").update().ok
        (row,) = live.status_store.statuses(user="shop")
        assert row.last_seen is not None


def test_serve_dashboard_of_an_app_with_one_already_is_one_line(tmp_path):
    """An App that make_app gave a dashboard: --dashboard would hide it, so it is refused."""
    (tmp_path / "made_app.py").write_text(
        "from qbwc_spyne import MemoryJobQueue, QueueHandler, make_app\n"
        "app = make_app(QueueHandler(MemoryJobQueue(), passwords=lambda u, p: False),"
        " dashboard=True, dashboard_token='t')\n"
    )
    result = run(
        "serve",
        "made_app:app",
        "--port",
        str(free_port()),
        "--dashboard",
        cwd=tmp_path,
        env={"QBWC_SPYNE_DASHBOARD_TOKEN": "script-token"},
    )
    assert_one_line_error(result, "made_app:app serves a dashboard already: drop --dashboard")
