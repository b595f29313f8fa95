"""The benchmarks run and print their tables (tiny sizes; no figure is judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(module: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_server_benchmark_prints_every_operation_and_the_floors():
    """Each operation compiled, released, generic and bare; the large call beside lxml."""
    out = run(
        "bench.bench_server", "--calls", "3", "--records", "300", "--repeat", "1", "--profile"
    )
    per_call, large = out.split("receiveResponseXML of")
    for operation in ("serverVersion", "authenticate", "receiveResponseXML", "interactiveRejected"):
        # The release's columns are dashes where there is no git history.
        assert re.search(
            rf"^{operation} +\d+ +(\d+ +[\d.]+|- +-) +\d+ +[\d.]+ +\d+ +[\d.]+$", per_call, re.M
        )
    assert "release: the server of commit" in per_call
    assert re.search(r"^  spyne \(context, events, dispatch, WSGI\) +\d+%$", per_call, re.M)
    for case in ("qbwc_spyne", "generic", "bare spyne", "lxml parse"):
        assert re.search(rf"^{case} +\d+ ", large, re.M)


def test_queue_benchmark_prints_the_sync_and_the_streaming_rows():
    """The sync beside the fake QuickBooks alone; streaming beside the whole-document parse."""
    out = run(
        "bench.bench_queue",
        "--customers",
        "600",
        "--page",
        "100",
        "--records",
        "500",
        "--repeat",
        "1",
    )
    assert "Sync of 600 customers" in out and "fake QuickBooks alone (floor)" in out
    assert "qbxml.stream" in out and "lxml whole-document parse" in out


def test_schema_benchmark_prints_each_figure_beside_its_floor():
    """The checked build beside the unchecked one; typed reading beside untyped, both ways."""
    out = run(
        "bench.bench_schema", "--lines", "5", "--builds", "5", "--records", "300", "--repeat", "1"
    )
    assert "Generated schema module" in out
    assert "schema: ordered, checked" in out and "unchecked, as given (floor)" in out
    for case in ("stream typed", "stream (floor)", "whole typed", "whole (floor)"):
        assert case in out


def test_metrics_benchmark_prints_each_operation_with_and_without_the_observer():
    """Each operation of a session beside no observer; the observer alone, with a job read."""
    out = run("bench.bench_metrics", "--calls", "3")
    for operation in ("authenticate", "sendRequestXML", "receiveResponseXML", "closeConnection"):
        assert re.search(rf"^{operation} +\d+ +\d+ +-?\d+$", out, re.MULTILINE), out
    assert "a call naming no job" in out and "naming a done job (SQLite)" in out


def test_live_benchmark_prints_each_latency_beside_the_noop_wait():
    """Hot, cold and the hundred-request rows, each answered in one session and in order."""
    out = run(
        "bench.bench_live",
        *("--noop-delay", "0.05", "--hot-samples", "3", "--run-every", "0.3"),
        *("--cold-samples", "2", "--threads", "2", "--each", "2"),
    )
    assert "NoOp wait 0.05 s" in out
    assert "hot session, 3 requests" in out and "cold start, RunEveryNSeconds=0.3" in out
    assert "4 requests from 2 threads, one session" in out
    assert "in order: True, sessions: 1" in out


def test_dashboard_benchmark_prints_each_page_beside_the_floor():
    """The connections page beside the plain GROUP BY, and the jobs pages, at a tiny size."""
    out = run("bench.bench_dashboard", "--users", "20", "--jobs", "500", "--repeat", "1")
    assert "Dashboard over 20 users and 500 jobs" in out
    for case in ("connections page", "floor: SELECT", "jobs page 10^30 (past the end)"):
        assert case in out
