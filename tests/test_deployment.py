"""The deployment sample and the gunicorn benchmark run as the README says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_gunicorn import SETTINGS
from qbwc_spyne.testing import WebConnector

from .helpers import free_port, wait_until_serving

pytestmark = pytest.mark.wire

ROOT = Path(__file__).resolve().parent.parent


def test_sample_gunicorn_conf_is_accepted_with_the_measured_settings():
    """gunicorn --check-config reads examples/gunicorn.conf.py: gthread, keep-alive 75 s."""
    result = subprocess.run(
        [
            *(sys.executable, "-m", "gunicorn", "-c", "examples/gunicorn.conf.py"),
            *("--check-config", "--print-config", "examples.customer_sync:app"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    settings = dict(
        (name.strip(), value.strip())
        for name, _, value in (line.partition("=") for line in result.stdout.splitlines())
    )
    assert settings["worker_class"] == "gthread"
    assert settings["keepalive"] == "75"
    assert settings["bind"] == "['127.0.0.1:8000']"


def test_gunicorn_benchmark_counts_every_update():
    """A tiny run: each setting's row (granian's too, when installed) counts its updates,
    all completed, none reset."""
    result = subprocess.run(
        [
            *(sys.executable, "-m", "bench.bench_gunicorn", "--updates", "3"),
            *("--pause-min", "0", "--pause-max", "0.05", "--slow", "1"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines()[2:] if line.strip()]
    assert len(rows) == len(SETTINGS) >= 3, result.stdout
    for row in rows:
        completed, resets, other = row[36:].split()[1:4]
        assert (completed, resets, other) == ("3", "0", "0"), (row, result.stderr[-2000:])


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_library_lines_reach_gunicorns_log_with_the_sample_conf(tmp_path, log_format):
    """With the sample settings, an update leaves the library's session lines in the log.

    With QBWC_LOG_FORMAT=json, as JSON objects naming the call's user and operation.
    """

    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "QBWC_BIND": f"127.0.0.1:{port}",
        "QBWC_SESSIONS": str(tmp_path / "sessions.db"),
        "QBWC_LOG_FORMAT": log_format,
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "-c", "examples/gunicorn.conf.py"),
                "examples.customer_sync:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            started = wait_until_serving(url, lambda: server.poll() is None, within=60)
            assert started, log.read_text()
            result = WebConnector(url, user="nobody", password="wrong").update()
            assert result.status == "auth failed", result.transcript()
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = log.read_text()
    assert "authenticate: user 'nobody'" in text, text[-2000:]
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    if log_format == "json":
        (refused,) = [e for e in entries if "authenticate: user 'nobody'" in e["message"]]
        assert refused["qbwc_user"] == "nobody" and refused["qbwc_operation"] == "authenticate"
        assert refused["logger"] == "qbwc_spyne" and refused["level"] == "INFO"
    else:
        assert entries == []
