"""The SQL layer: URLs, table prefixes, schema versions, and faults, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import random
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qbwc_spyne import JobState, SQLJobQueue, SQLSessionStore
from qbwc_spyne.exceptions import (
    ConfigurationError,
    DatabaseURLError,
    NotAQueueDatabaseError,
    SchemaVersionError,
    StorageError,
)
from qbwc_spyne.store._migrations import SCHEMA_VERSION, upgrade
from qbwc_spyne.store._sql import Database

from . import test_queue_store as previous
from .helpers import sqlite_connect
from .test_stores import session

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qbwc_spyne", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def main_file(path: Path) -> None:
    """A job queue and sessions as the previous release left them (PRAGMA user_version 2)."""
    previous.TestSchemaUpgrade().make_old_file(path)
    assert SQLJobQueue(path, upgrade=True)  # to the current version ...
    db = sqlite_connect(path)  # ... then back to version 2's tables, as that release had them
    db.execute("DROP TABLE qbwc_schema_version")
    db.execute("DROP INDEX qbwc_jobs_waiting")
    db.execute("DROP TABLE qbwc_sessions")
    db.execute(previous.OLD_SESSIONS)
    db.execute("INSERT INTO qbwc_sessions VALUES ('T1', 5.0, ?)", (_session_json(),))
    db.commit()
    db.close()


def _session_json() -> str:
    import json

    return json.dumps(session("T1", 5.0).to_dict())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestURLs:
    @pytest.mark.parametrize(
        ("url", "says"),
        [
            ("postgresql+psycopg://u@127.0.0.1:notaport/db", "malformed"),
            ("postgresql+psycopg://u@127.0.0.1:5432", "no database name"),
            ("sqlite:", "malformed"),
            ("sqlite://", "malformed SQLite URL"),
            ("://nothing", "malformed"),
            ("mysql+pymysql://u@127.0.0.1/db", "unsupported database URL scheme 'mysql\\+pymysql'"),
            ("postgresql+asyncpg://u@127.0.0.1/db", "unsupported"),
            ("oracle://u@127.0.0.1/db", "unsupported"),
        ],
    )
    def test_a_bad_url_is_one_clear_error(self, url, says):
        """Malformed or unsupported: DatabaseURLError (a ValueError) saying which, in one line."""
        for make in (SQLJobQueue, SQLSessionStore):
            with pytest.raises(DatabaseURLError, match=says) as caught:
                make(url)
            assert "\n" not in str(caught.value) and isinstance(caught.value, ValueError)

    def test_a_password_never_appears_in_an_error(self):
        """A malformed URL with a password: the message hides it."""
        with pytest.raises(DatabaseURLError) as caught:
            SQLJobQueue("postgresql+psycopg://u:s3cret@127.0.0.1:notaport/db")
        assert "s3cret" not in str(caught.value)

    def test_an_unreachable_server_is_a_storage_error_naming_the_host(self):
        """Nothing listens on the port: StorageError, one line, host and port, no password."""
        port = free_port()
        url = f"postgresql+psycopg://u:s3cret@127.0.0.1:{port}/db"
        for make in (SQLJobQueue, SQLSessionStore):
            with pytest.raises(StorageError) as caught:
                make(url, timeout=2)
            message = str(caught.value)
            assert f"127.0.0.1:{port}/db" in message and "\n" not in message
            assert "s3cret" not in message

    def test_the_cli_says_one_line_for_an_unreachable_server(self, tmp_path):
        """serve --store and jobs --db: one line naming the host, no traceback."""
        url = f"postgresql+psycopg://u@127.0.0.1:{free_port()}/db"
        for args in (
            ("serve", "examples.customer_sync:CustomerSync", "--store", url),
            ("jobs", "list", "--db", url),
            ("db", "check", "--db", url),
        ):
            result = cli(*args)
            assert result.returncode == 1, result.stderr
            assert result.stderr.startswith("qbwc-spyne: error: ")
            assert "127.0.0.1:" in result.stderr and result.stderr.count("\n") == 1

    def test_a_path_and_a_sqlite_url_open_the_same_file(self, tmp_path):
        """SQLJobQueue(path), SQLJobQueue("sqlite:///path") and SQLJobQueue(path) agree."""
        path = tmp_path / "jobs.db"
        job = SQLJobQueue(f"sqlite:///{path}").enqueue(user="shop", kind="k")
        assert SQLJobQueue(path).get(job.id) == job
        assert SQLJobQueue(str(path)).get(job.id) == job

    def test_an_engine_can_be_given(self, tmp_path):
        """An application's own engine serves the queue and the store."""
        from sqlalchemy import create_engine

        engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
        queue = SQLJobQueue(engine)
        store = SQLSessionStore(engine)
        job = queue.enqueue(user="shop", kind="k")
        store.put(session())
        assert queue.get(job.id) == job and store.get("t1") == session()


class TestPrefixes:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
    def test_two_prefixes_in_one_database_do_not_meet(self, backend, tmp_path, request):
        """Jobs, ids and sessions under a_ and b_ are separate; the app's own table is untouched."""
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'app.db'}"
            a, b = "a_", "b_"
        else:
            url = request.getfixturevalue("postgres").url()
            base = request.getfixturevalue("pg_prefix")
            a, b = f"{base}a_", f"{base}b_"
        queues = [SQLJobQueue(url, prefix=p) for p in (a, b)]
        stores = [SQLSessionStore(url, prefix=p) for p in (a, b)]
        try:
            first = queues[0].enqueue(user="shop", kind="k", key="order 1")
            other = queues[1].enqueue(user="shop", kind="other", key="order 1")
            assert first.id == other.id == 1  # no KeyConflictError: another queue
            assert [j.kind for j in queues[0].jobs()] == ["k"]
            assert queues[1].claim(user="shop", company_file="", ticket="t", now=0, lease=9)
            assert getattr(queues[0].get(first.id), "state", None) is JobState.PENDING
            stores[0].put(session("T"))
            assert stores[1].get("T") is None and stores[0].get("T") == session("T")
        finally:
            for queue in queues:
                queue.close()
            for store in stores:
                store.close()

    @pytest.mark.parametrize("prefix", ["", "Qbwc_", "qbwc-", "x; DROP TABLE y; --", 7])
    def test_a_prefix_that_is_not_a_plain_name_is_refused(self, prefix, tmp_path):
        """Table names are built from the prefix: only lower-case letters, digits and _."""
        with pytest.raises(ConfigurationError, match="prefix"):
            SQLJobQueue(tmp_path / "jobs.db", prefix=prefix)
        assert not (tmp_path / "jobs.db").exists()


class TestSchemaVersions:
    def test_a_new_database_is_created_at_the_current_version(self, tmp_path):
        """One row in qbwc_schema_version: this release's version."""
        SQLJobQueue(tmp_path / "jobs.db").close()
        db = sqlite_connect(tmp_path / "jobs.db")
        assert db.execute("SELECT version FROM qbwc_schema_version").fetchall() == [
            (SCHEMA_VERSION,)
        ]

    def test_a_file_of_the_previous_release_is_refused_with_the_command(self, tmp_path):
        """PRAGMA user_version 2 tables: the queue and the store refuse, naming `db upgrade`."""
        path = tmp_path / "jobs.db"
        main_file(path)
        for make in (SQLJobQueue, SQLSessionStore):
            with pytest.raises(SchemaVersionError) as caught:
                make(path)
            message = str(caught.value)
            assert f"qbwc-spyne db upgrade --db {path}" in message and "\n" not in message
            assert caught.value.found == 2 and caught.value.wanted == SCHEMA_VERSION

    def test_the_server_refuses_to_start_on_old_tables(self, tmp_path):
        """serve --store on a file of the previous release: one line, the command to run."""
        path = tmp_path / "sessions.db"
        main_file(path)
        result = cli("serve", "examples.customer_sync:CustomerSync", "--store", f"sqlite:{path}")
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert f"run `qbwc-spyne db upgrade --db {path}`" in result.stderr

    def test_db_check_and_upgrade_on_a_file_of_the_previous_release(self, tmp_path):
        """check exits 1, upgrade keeps every job and session, check exits 0, upgrade is a no-op."""
        path = tmp_path / "jobs.db"
        main_file(path)
        before = SQLJobQueue(path, upgrade=True)  # a copy, to compare with
        jobs_before = before.jobs()
        before.close()
        main_file(tmp_path / "again.db")
        path = tmp_path / "again.db"
        checked = cli("db", "check", "--db", str(path))
        assert checked.returncode == 1 and "version 2" in checked.stdout
        upgraded = cli("db", "upgrade", "--db", f"sqlite:///{path}")
        assert upgraded.returncode == 0, upgraded.stderr
        assert f"from schema version 2 to {SCHEMA_VERSION}" in upgraded.stdout
        assert cli("db", "check", "--db", str(path)).returncode == 0
        again = cli("db", "upgrade", "--db", str(path)).stdout
        assert f"already at schema version {SCHEMA_VERSION}" in again
        assert SQLJobQueue(path).jobs() == jobs_before
        assert SQLSessionStore(path).get("T1") == session("T1", 5.0)

    def test_a_first_release_file_with_sessions_upgrades_with_nothing_lost(self, tmp_path):
        """0.1.0's job table and its session table in one file: both survive the upgrade."""
        path = tmp_path / "both.db"
        previous.TestSchemaUpgrade().make_old_file(path)
        db = sqlite_connect(path)
        db.execute(previous.OLD_SESSIONS)
        db.execute("INSERT INTO qbwc_sessions VALUES ('T1', 5.0, ?)", (_session_json(),))
        db.commit()
        db.close()
        with pytest.raises(SchemaVersionError, match="version 1"):
            SQLSessionStore(path)
        store = SQLSessionStore(path, upgrade=True)
        assert store.get("T1") == session("T1", 5.0)
        assert [j.id for j in SQLJobQueue(path).jobs()] == [1, 2, 3, 4, 6]

    def test_running_a_migration_twice_changes_nothing(self, tmp_path):
        """upgrade on an up-to-date database: (4, 4), the same rows, no second version row."""
        path = tmp_path / "jobs.db"
        main_file(path)
        db = Database(path)
        assert upgrade(db) == (2, SCHEMA_VERSION)
        dump = list(sqlite_connect(path).iterdump())
        assert upgrade(db) == (SCHEMA_VERSION, SCHEMA_VERSION)
        assert list(sqlite_connect(path).iterdump()) == dump

    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
    def test_processes_upgrading_at_once_take_turns(self, backend, tmp_path, request):
        """Four processes run `db upgrade` at once: all succeed, the work is done once."""
        prefix = "qbwc_"
        if backend == "sqlite":
            path = tmp_path / "jobs.db"
            previous.TestSchemaUpgrade().make_old_file(path)  # the longest step: 1 -> 2 -> 3
            url = str(path)
        else:
            url = request.getfixturevalue("postgres").url()
            prefix = request.getfixturevalue("pg_prefix")
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "qbwc_spyne",
                    "db",
                    "upgrade",
                    "--db",
                    url,
                    "--prefix",
                    prefix,
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outcomes = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, outcomes
        said = sorted(out.split(": ", 1)[1].strip() for out, _ in outcomes)
        assert len([s for s in said if not s.startswith("already")]) >= 1
        db = Database(url, prefix=prefix)
        from sqlalchemy import text

        rows = db.run(
            lambda c: c.execute(text(f"SELECT version FROM {prefix}schema_version")).all(),
            what="test",
        )
        # One row per version reached (each step recorded once): from 3 on the
        # old file, the current one alone on the new database.
        first = 3 if backend == "sqlite" else SCHEMA_VERSION
        assert [tuple(r) for r in rows] == [(v,) for v in range(first, SCHEMA_VERSION + 1)]
        if backend == "sqlite":
            assert [j.id for j in SQLJobQueue(path).jobs()] == [1, 2, 3, 4, 6]
        db.close()

    def test_tables_of_our_names_without_a_version_are_not_touched_on_postgresql(
        self, postgres, pg_prefix
    ):
        """An application's own <prefix>jobs table: refused, not adopted or altered."""
        postgres.psql(f"CREATE TABLE {pg_prefix}jobs (id int)", database="qbwc")
        with pytest.raises(NotAQueueDatabaseError, match="not this library's"):
            SQLJobQueue(postgres.url(), prefix=pg_prefix)


# -- faults on PostgreSQL -------------------------------------------------------------------


def failing_trigger(postgres, prefix: str, code: str, times: int) -> None:
    """Make the next ``times`` updates of the job table fail with SQLSTATE ``code``.

    A sequence counts, since it is not rolled back with the failed transaction.
    """
    postgres.psql(
        f"CREATE SEQUENCE {prefix}fails;"
        f" CREATE FUNCTION {prefix}fail() RETURNS trigger AS $$ BEGIN"
        f" IF nextval('{prefix}fails') <= {times} THEN"
        f" RAISE EXCEPTION 'injected' USING ERRCODE = '{code}'; END IF;"
        " RETURN NEW; END $$ LANGUAGE plpgsql;"
        f" CREATE TRIGGER {prefix}fail BEFORE UPDATE ON {prefix}jobs"
        f" FOR EACH ROW EXECUTE FUNCTION {prefix}fail();",
        database="qbwc",
    )


class TestRetries:
    @pytest.mark.parametrize("code", ["40001", "40P01"])
    def test_a_serialization_failure_or_deadlock_is_retried(self, postgres, pg_prefix, code):
        """Two failures, then success: the claim happens once, as if nothing failed."""
        queue = SQLJobQueue(postgres.url(), prefix=pg_prefix)
        job = queue.enqueue(user="shop", kind="k")
        failing_trigger(postgres, pg_prefix, code, times=2)
        claimed = queue.claim(user="shop", company_file="", ticket="t", now=1, lease=9)
        assert claimed is not None and claimed.id == job.id and claimed.ticket == "t"
        queue.close()

    @pytest.mark.parametrize("code", ["40001", "40P01"])
    def test_a_failure_that_persists_is_a_storage_error_after_bounded_attempts(
        self, postgres, pg_prefix, code
    ):
        """Always failing: StorageError naming the attempts; the job is as it was."""
        queue = SQLJobQueue(postgres.url(), prefix=pg_prefix)
        job = queue.enqueue(user="shop", kind="k")
        failing_trigger(postgres, pg_prefix, code, times=1000)
        with pytest.raises(StorageError, match="gave up after 5 attempts"):
            queue.claim(user="shop", company_file="", ticket="t", now=1, lease=9)
        assert getattr(queue.get(job.id), "state", None) is JobState.PENDING
        queue.close()


# -- contention on PostgreSQL ---------------------------------------------------------------


ROUNDS, JOBS = 25, 30


def _claimer(url: str, prefix: str, ticket: str, seed: int, start, out) -> None:
    import time

    queue = SQLJobQueue(url, prefix=prefix, pool_size=1)
    rng = random.Random(seed)
    for _ in range(ROUNDS):
        start.wait(120)  # the round's jobs are queued
        taken: list[int] = []
        while True:
            if rng.random() < 0.3:
                # Randomized timing: the two interleave differently in every round.
                time.sleep(rng.random() / 500)
            job = queue.claim(user="shop", company_file="", ticket=ticket, now=1, lease=600)
            if job is None:
                break
            taken.append(job.id)
            if not queue.complete(job.id, ticket=ticket, now=2):
                taken.append(-job.id)  # someone else held it: reported, and the test fails
        out.put((ticket, taken))


class TestContention:
    def test_two_processes_claiming_one_users_queue_never_take_the_same_job(
        self, postgres, pg_prefix
    ):
        """25 rounds of 30 jobs, two processes at once: each job is claimed exactly once."""
        context = multiprocessing.get_context("spawn")
        queue = SQLJobQueue(postgres.url(), prefix=pg_prefix)
        start = context.Barrier(3)
        out = context.Queue()
        seed = random.randrange(1 << 30)
        procs = [
            context.Process(
                target=_claimer,
                args=(postgres.url(), pg_prefix, f"host{n}", seed + n, start, out),
            )
            for n in range(2)
        ]
        for proc in procs:
            proc.start()
        try:
            for round_ in range(ROUNDS):
                ids = {queue.enqueue(user="shop", kind="k", priority=i % 3).id for i in range(JOBS)}
                start.wait(120)
                results = dict(out.get(timeout=120) for _ in procs)
                taken = results["host0"] + results["host1"]
                # Every job once: none twice, none lost.
                assert sorted(taken) == sorted(ids), (round_, seed, results)
        finally:
            for proc in procs:
                proc.join(60)
                if proc.exitcode is None:
                    proc.kill()
        assert [proc.exitcode for proc in procs] == [0, 0]
        assert {j.state for j in queue.jobs()} == {JobState.DONE}
        queue.close()


# -- the database going away ----------------------------------------------------------------


class TestDatabaseGoesAway:
    def test_mid_session_every_call_gets_its_safe_answer_and_the_next_update_completes(
        self, postgres, pg_prefix
    ):
        """PostgreSQL stops after QuickBooks posted the first invoice: the session ends with
        an error and no SOAP fault; once it is back, the next update posts the second
        invoice and reconciles the first, each exactly once."""
        from qbwc_spyne.testing import FakeQuickBooks

        from .helpers import FakeClock, update
        from .test_queue import AddInvoiceReconciling, setup

        clock = FakeClock()
        queue = SQLJobQueue(postgres.url(), prefix=pg_prefix, timeout=2)
        store = SQLSessionStore(postgres.url(), prefix=pg_prefix, timeout=2)
        _, handler = setup(AddInvoiceReconciling(), queue=queue, clock=clock, lease=60)
        first = handler.enqueue(
            "add_invoice_r", user="shop", payload={"customer": "Ada", "ref": "1"}
        )
        second = handler.enqueue(
            "add_invoice_r",
            user="shop",
            payload={"customer": "Ada", "ref": "2"},
            depends_on=[first.id],
        )
        stopped: list[bool] = []

        class Outage(FakeQuickBooks):
            """Posts the first invoice, then the database goes away."""

            def process(self, request):
                answer = super().process(request)
                if "InvoiceAddRq" in request and not stopped:
                    postgres.stop()
                    stopped.append(True)
                return answer

        qb = Outage()
        qb.load({"items": [{"type": "ItemService", "Name": "Labor"}]})
        qb.load({"customers": [{"Name": "Ada"}]})
        try:
            result = update(handler, qb, store=store)
            assert stopped and result.status == "error", result.transcript()
            assert "Fault" not in result.transcript()
        finally:
            if stopped:
                postgres.start()
        assert len(qb.records["Invoice"]) == 1
        clock.advance(61)
        again = update(handler, qb, store=store)
        assert again.ok, again.transcript()
        refs = sorted(r.findtext("RefNumber") for r in qb.records["Invoice"].values())
        assert refs == ["1", "2"]
        assert [getattr(queue.get(j.id), "state", None) for j in (first, second)] == [
            JobState.DONE
        ] * 2
        queue.close()
        store.close()


class TestSharedPool:
    def test_stores_of_one_database_share_one_pool_until_the_last_is_closed(
        self, postgres, pg_prefix
    ):
        """A queue and a session store on one URL use one pool (a call pings it once); closing
        one leaves the other working; closing the last disposes of the pool."""
        queue = SQLJobQueue(postgres.url(), prefix=pg_prefix)
        store = SQLSessionStore(postgres.url(), prefix=pg_prefix)
        other = SQLJobQueue(postgres.url(), prefix=pg_prefix, pool_size=2)
        assert queue._db.engine() is store._db.engine()
        assert other._db.engine() is not queue._db.engine()  # other pool settings
        engine = queue._db.engine()
        queue.close()
        store.put(session())
        assert store._db.engine() is engine
        store.close()
        assert SQLJobQueue(postgres.url(), prefix=pg_prefix)._db.engine() is not engine
        other.close()


class TestCommandLineOnPostgreSQL:
    def test_jobs_and_db_take_a_postgresql_url_and_a_prefix(self, postgres, pg_prefix):
        """db check says behind for an empty prefix, upgrade creates, jobs list reads it."""
        url = postgres.url()
        checked = cli("db", "check", "--db", url, "--prefix", pg_prefix)
        assert checked.returncode == 1 and "no tables yet" in checked.stdout
        assert cli("db", "upgrade", "--db", url, "--prefix", pg_prefix).returncode == 0
        assert cli("db", "check", "--db", url, "--prefix", pg_prefix).returncode == 0
        queue = SQLJobQueue(url, prefix=pg_prefix)
        job = queue.enqueue(user="shop", kind="add_invoice")
        queue.close()
        listing = cli("jobs", "list", "--db", url, "--prefix", pg_prefix)
        assert listing.returncode == 0 and "add_invoice" in listing.stdout
        other = cli("jobs", "list", "--db", url, "--prefix", f"{pg_prefix}none_")
        assert other.returncode == 1 and "holds no job queue" in other.stderr
        shown = cli("jobs", "cancel", str(job.id), "--db", url, "--prefix", pg_prefix)
        assert shown.stdout.strip() == f"job {job.id} is now cancelled"


class TestRacesOnPostgreSQL:
    def test_hosts_enqueueing_one_key_at_once_get_one_job(self, postgres, pg_prefix):
        """Six queues (six hosts) enqueue the same key at the same moment: one job, one id."""
        queues = [SQLJobQueue(postgres.url(), prefix=pg_prefix) for _ in range(6)]
        start = threading.Barrier(len(queues))

        def enqueue(queue: SQLJobQueue) -> int:
            start.wait(60)
            return queue.enqueue(user="shop", kind="k", key="invoice 1042").id

        try:
            with ThreadPoolExecutor(max_workers=len(queues)) as pool:
                ids = list(pool.map(enqueue, queues))
            assert len(set(ids)) == 1
            assert [j.id for j in queues[0].jobs()] == ids[:1]
        finally:
            for queue in queues:
                queue.close()
