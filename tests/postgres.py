"""A throwaway PostgreSQL cluster for the tests, made from initdb and pg_ctl on PATH.

One cluster per test session, in a temporary directory, listening on
127.0.0.1 on a free port; removed at the end. Each test gets its own table
prefix in one database. Without the server binaries the tests that need it
are skipped, saying what to install, unless QBWC_SPYNE_REQUIRE_POSTGRES=1
(as CI sets), which makes that a failure.

PostgreSQL refuses to run as root: as root, the cluster runs as the
``postgres`` user when there is one, else ``nobody``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["Cluster", "pg_prefix", "postgres"]

REQUIRE_ENV = "QBWC_SPYNE_REQUIRE_POSTGRES"
INSTALL = (
    "PostgreSQL's server binaries (initdb, pg_ctl) are not on PATH: install them"
    " (Debian/Ubuntu: apt-get install postgresql, then put /usr/lib/postgresql/*/bin"
    " on PATH) to run the PostgreSQL tests"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster of our own: start, stop (to play the database going away), remove."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="qbwc-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.runner: list[str] = []
        if os.geteuid() == 0:
            user = "postgres"
            try:
                pwd.getpwnam(user)
            except KeyError:
                user = "nobody"
            entry = pwd.getpwnam(user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.runner = ["runuser", "-u", user, "--"]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 300\n"
                # No fsync: a throwaway cluster. Commits stay synchronous, so one stopped
                # with -m immediate (the database going away) keeps what it acknowledged.
                "fsync = off\nfull_page_writes = off\n"
            )
        self.start()
        self.psql("CREATE DATABASE qbwc")

    def _run(self, *command: str) -> str:
        done = subprocess.run(
            [*self.runner, *command], capture_output=True, text=True, check=False, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def start(self) -> None:
        log = self.root / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop at once, closing every client's connection (the database "goes away")."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def psql(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            conn.execute(sql.encode())

    def dsn(self, database: str = "qbwc") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str = "qbwc") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """The session's PostgreSQL cluster; skipped (or failed, in CI) without the binaries."""
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {INSTALL}")
        pytest.skip(INSTALL)
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.remove()


_prefixes = itertools.count(1)


@pytest.fixture
def pg_prefix(postgres: Cluster) -> str:
    """A table prefix no other test of the session uses."""
    return f"t{os.getpid()}_{next(_prefixes)}_"
