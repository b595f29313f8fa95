"""The qbwc-spyne command line, run as users run it: in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from qbwc_spyne.auth import PasswordCheck
from qbwc_spyne.qwc import QWCFile

from .test_wire import free_port

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "qbwc_spyne"]


def run(
    *args: str, stdin: str = "", cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
        check=False,
    )


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
        assert_one_line_error(run("qwc", "--toml", str(toml), "-o", str(out)), "File exists")
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
                "app_url must use https",
            ),
            (["--app-name", "Shop"], "user is required"),
        ],
    )
    def test_invalid_properties_are_one_line_errors(self, args, text):
        """Validation errors name the field; exit 1; no traceback."""
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
        "--store must be",
    )
    assert_one_line_error(
        run("serve", "examples.flask_mount:app", "--store", "memory"),
        "apply to a handler, not a WSGI app",
    )


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
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QBWC_DEMO_DATA": str(tmp_path / "data")}
    server = subprocess.Popen(
        [*CLI, "serve", "examples.customer_mirror:make_app()", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "?wsdl", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
            assert time.monotonic() < deadline and server.poll() is None, "serve did not start"
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
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=10)
    assert f"Serving examples.customer_mirror:make_app() for the Web Connector at {url}" in output
    assert f"WSDL: {url}?wsdl" in output


@pytest.mark.wire
def test_demo_runs_to_completion(tmp_path):
    """qbwc-spyne demo: 23 customers in 5 pages, the invoice's TxnID stored, demo.qwc written."""
    began = time.monotonic()
    result = run("demo", "--directory", str(tmp_path / "data"), "--qwc", str(tmp_path / "demo.qwc"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - began < 30
    assert "23 mirrored of 23 in QuickBooks, in 5 pages of 5 (all match)" in result.stdout
    assert "found in QuickBooks" in result.stdout
    assert "mirror_customers done, add_invoice done" in result.stdout
    qwc = QWCFile.parse(tmp_path / "demo.qwc")
    assert qwc.app_url == "http://localhost:8000/" and qwc.user == "demo"


def test_demo_outside_a_checkout_says_where_it_lives(tmp_path):
    """Run elsewhere, the demo explains itself in one line."""
    env_result = subprocess.run(
        [*CLI, "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert_one_line_error(env_result, "examples/ of a qbwc_spyne checkout")


def test_jobs_commands_over_a_sqlite_queue(tmp_path):
    """jobs list/show/retry/cancel read and steer the queue; mistakes are one line."""
    from qbwc_spyne import JobState, SQLiteJobQueue

    db = tmp_path / "jobs.db"
    queue = SQLiteJobQueue(db)
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
    assert SQLiteJobQueue(db).get(second.id).state is JobState.PENDING  # type: ignore[union-attr]
    assert_one_line_error(
        run("jobs", "retry", str(first.id), "--db", str(db)), "only failed, unknown"
    )
    assert_one_line_error(run("jobs", "show", "99", "--db", str(db)), "no job 99")
    assert_one_line_error(run("jobs", "list", "--db", str(tmp_path / "none.db")), "no job database")
