"""Hosts of tests/hosts_app.py under gunicorn, each on its own loopback address.

Shared by the many-hosts tests and the hosts benchmark: start them, wait until
they answer, kill -9 one, and a Web Connector whose calls go to a host chosen
at random (a load balancer without stickiness).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

from qbwc_spyne import SQLJobQueue
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

__all__ = ["ADDRESSES", "Host", "connector", "serving"]

ROOT = Path(__file__).resolve().parent.parent
ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


class Host:
    """One gunicorn (2 gthread workers) serving tests/hosts_app.py on its own address."""

    def __init__(self, address: str, env: dict[str, str]) -> None:
        port = free_port(address)
        self.url = f"http://{address}:{port}/qbwc"
        self.alive = True
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "tests.hosts_app:make_app()"),
                *("--bind", f"{address}:{port}", "-w", "2", "-k", "gthread", "--threads", "8"),
                *("--keep-alive", "75", "--timeout", "120", "--log-level", "error"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kill -9 takes every worker
        )

    def wait_ready(self) -> None:
        for _ in range(300):  # bounded: 30 s
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn on {self.url} exited")
            try:
                if requests.get(self.url, timeout=1).status_code == 200:
                    return
            except (requests.RequestException, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn on {self.url} did not start")

    def kill(self) -> None:
        """kill -9 the master and its workers at once."""
        self.alive = False
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@contextmanager
def serving(
    url: str,
    prefix: str,
    *,
    lease: float = 60,
    addresses: Sequence[str] = ADDRESSES[:3],
    env: dict[str, str] | None = None,
) -> Iterator[list[Host]]:
    """Serve the database at ``url`` from one host per address; yield them once all answer.

    Args:
        url: the database URL every host shares.
        prefix: the table prefix.
        lease: the queue's lease, in seconds.
        addresses: one host on each (loopback) address.
        env: more environment for the hosts.

    Returns:
        A context manager yielding the hosts; they are stopped on leaving it.
    """
    SQLJobQueue(url, prefix=prefix).close()  # the tables, before the hosts race to make them
    env = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": str(ROOT),
        "QBWC_TEST_DB": url,
        "QBWC_TEST_PREFIX": prefix,
        "QBWC_TEST_LEASE": str(lease),
    }
    hosts = [Host(address, env) for address in addresses]
    try:
        for host in hosts:
            host.wait_ready()
        yield hosts
    finally:
        for host in hosts:
            host.stop()


def connector(hosts: list[Host], user: str, qb: FakeQuickBooks, rng: random.Random) -> WebConnector:
    """A Web Connector whose every call goes to a host chosen at random among the live ones:
    a load balancer without stickiness."""
    wc = WebConnector(hosts[0].url, user=user, password="pw", quickbooks=qb, noop_delay=0)
    send = wc.transport._send

    def anywhere(address: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        host = rng.choice([h for h in hosts if h.alive])
        return send(host.url, body, headers)

    wc.transport._send = anywhere  # type: ignore[method-assign]
    return wc
