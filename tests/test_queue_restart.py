"""The demo integration restarted between updates posts its invoice once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from qbwc_spyne.testing import FakeQuickBooks

from .helpers import free_port, update

ROOT = Path(__file__).resolve().parent.parent
COMPANY = ROOT / "examples" / "demo_company.json"


def demo_invoices(qb: FakeQuickBooks) -> list[str]:
    return [
        r.findtext("RefNumber")
        for r in qb.records["Invoice"].values()
        if r.findtext("RefNumber") == "DEMO-1"
    ]


def test_make_app_twice_on_the_same_files_posts_the_invoice_once(tmp_path):
    """Start-up enqueues the invoice by key: the second start finds it done, not new."""
    from examples.customer_mirror import PASSWORD, USER, make_app

    qb = FakeQuickBooks.from_json(COMPANY)
    first = update(make_app(tmp_path), qb, user=USER, password=PASSWORD)
    assert first.ok, first.transcript()
    assert demo_invoices(qb) == ["DEMO-1"]
    second = update(make_app(tmp_path), qb, user=USER, password=PASSWORD)
    assert second.status == "no work", second.transcript()
    assert demo_invoices(qb) == ["DEMO-1"]


def start_server(port: int, data: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QBWC_DEMO_DATA": str(data)}
    server = subprocess.Popen(
        [sys.executable, "-m", "qbwc_spyne", "serve", "examples.customer_mirror:make_app()",
         "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):  # bounded: 30 s at most
        try:
            if requests.get(url + "?wsdl", timeout=1).ok:
                return server
        except requests.RequestException:
            time.sleep(0.1)
        if server.poll() is not None:
            break
    server.kill()
    raise AssertionError(f"the demo server did not start: {server.communicate()[0]}")


def stop(server: subprocess.Popen[str]) -> None:
    server.send_signal(signal.SIGINT)
    server.communicate(timeout=20)


def test_restarting_the_demo_server_between_updates_posts_nothing_twice(tmp_path):
    """Two server processes, one after the other, on the same files: one DEMO-1 invoice."""
    from examples.customer_mirror import PASSWORD, USER

    qb = FakeQuickBooks.from_json(COMPANY)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    data = tmp_path / "data"
    server = start_server(port, data)
    try:
        first = update(url, qb, user=USER, password=PASSWORD)
    finally:
        stop(server)
    assert first.ok, first.transcript()
    assert "Finished 2 jobs: 2 done" in first.messages[-1]
    server = start_server(port, data)
    try:
        second = update(url, qb, user=USER, password=PASSWORD)
    finally:
        stop(server)
    assert second.status == "no work", second.transcript()
    assert demo_invoices(qb) == ["DEMO-1"]
