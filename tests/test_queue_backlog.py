"""The queue under a backlog: what a call costs, purges, company files, session state, races."""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import qbwc_spyne.store._queue as queue_module
from qbwc_spyne import (
    Job,
    JobContext,
    JobKind,
    JobState,
    LiveClient,
    MemoryJobQueue,
    QueueHandler,
    SQLJobQueue,
    make_wsgi_app,
    qbxml,
)
from qbwc_spyne.exceptions import LiveTimeout
from qbwc_spyne.queue._operator import in_flight_notes, recover_jobs
from qbwc_spyne.queue._ports import fold_company_file
from qbwc_spyne.queue._state import STATE_KEY
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

from .backlog import USER, AddCustomer, Session, bulk_pending, counting
from .helpers import FakeClock


@pytest.fixture(params=["sqlite", "postgresql"])
def make_queue(request, tmp_path):
    """Makes queues on a SQLite file, or on the test cluster (each its own prefix)."""
    made: list[SQLJobQueue] = []

    def make() -> SQLJobQueue:
        if request.param == "sqlite":
            made.append(SQLJobQueue(tmp_path / f"jobs{len(made)}.db"))
        else:
            postgres = request.getfixturevalue("postgres")
            prefix = f"{request.getfixturevalue('pg_prefix')}{len(made)}_"
            made.append(SQLJobQueue(postgres.url(), prefix=prefix))
        return made[-1]

    yield make
    for queue in made:
        queue.close()


def got(queue: Any, job_id: int) -> Job:
    """The job, which must exist."""
    job = queue.get(job_id)
    assert job is not None, f"no job {job_id}"
    return job


def handler_for(queue: Any, clock: FakeClock | None = None, **options: Any) -> QueueHandler:
    return QueueHandler(
        queue,
        passwords=lambda user, password: True,
        kinds=[AddCustomer(), *options.pop("kinds", [])],
        clock=clock or FakeClock(),
        **options,
    )


def per_call(queue: SQLJobQueue, session: Session, calls: list[str]) -> tuple[list[int], int]:
    """Statements of each call, and the most job rows any call read."""
    counts, most = [], 0
    real = queue_module._row_to_job
    rows: list[int] = []

    def reading(row: Any) -> Any:
        rows.append(1)
        return real(row)

    queue_module._row_to_job = reading
    try:
        for call in calls:
            rows.clear()
            with counting(queue) as sent:
                getattr(session, call)()
            counts.append(len(sent))
            most = max(most, len(rows))
    finally:
        queue_module._row_to_job = real
    return counts, most


class TestPerCallCost:
    CALLS = ["authenticate"] + ["send", "receive"] * 4

    def test_a_call_costs_the_queue_the_same_at_10_and_1000_pending(self, make_queue):
        """Each call sends as many statements with 1,000 jobs waiting as with 10, and reads
        two job rows at most: authenticate and the progress bar no longer load the backlog."""
        measured = {}
        for pending in (10, 1000):
            queue = make_queue()
            bulk_pending(queue, pending)
            measured[pending] = per_call(queue, Session(handler_for(queue)), self.CALLS)
        assert measured[10] == measured[1000]
        assert measured[1000][1] <= 2

    def test_the_queue_side_of_each_call_is_two_statements(self, make_queue):
        """authenticate: the first runnable job, with whether a lease ran out; sendRequestXML: the
        claim and the request's record; receiveResponseXML: the job and its completion, which
        once a session counts the jobs left for the progress bar (then whether any can run)."""
        queue = make_queue()
        bulk_pending(queue, 50)
        counts, _ = per_call(queue, Session(handler_for(queue)), self.CALLS)
        if not queue._db.sqlite:  # each statement its transaction's: its COMMIT counted too
            counts = [n // 2 for n in counts]
        assert counts == [1, 2, 3, 2, 2, 2, 2, 2, 2]

    def test_the_last_answer_ends_the_update_with_one_count(self, make_queue):
        """When the session's own count runs out, one count says nothing is left: 100."""
        queue = make_queue()
        bulk_pending(queue, 2)
        session = Session(handler_for(queue))
        session.authenticate()
        assert [session.send() and session.receive() for _ in range(2)] == [50, 100]

    def test_authenticate_settles_unreconcilable_jobs_one_by_one_not_the_whole_list(
        self, make_queue
    ):
        """Jobs to reconcile whose kind has no reconcile query are made unknown as found; the
        first job that can be sent stops the walk, whatever waits behind it."""
        queue = make_queue()
        stuck = []
        for n in range(3):
            job = queue.enqueue(user=USER, kind="add_customer", payload={"name": f"S{n}"})
            queue.claim(user=USER, company_file="", ticket="dead", now=1.0, lease=1)
            queue.progress(job.id, ticket="dead", now=1.0, writes=True)
            stuck.append(job.id)
        queue.release_expired(now=10.0, reconcilable=None, message="lost")
        bulk_pending(queue, 500)
        session = Session(handler_for(queue))
        _counts, most = per_call(queue, session, ["authenticate"])
        assert session.ticket and most == len(stuck) + 1
        assert {got(queue, i).state for i in stuck} == {JobState.UNKNOWN}

    def test_the_backlog_statements_walk_their_indexes_on_sqlite(self, tmp_path):
        """The first runnable job (alone and with a login's lease check), the waiting count
        (alone and in a completion) and a purge batch read an index in order:
        no table scan, no sort of the backlog (20 users with 1,000 jobs each, and ours)."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        for n in range(20):
            bulk_pending(queue, 1000, user=f"user{n}")
        bulk_pending(queue, 100)
        db = sqlite3.connect(tmp_path / "jobs.db")
        db.execute("ANALYZE")
        values = {
            "user": USER, "company_key": "", "limit": 1, "state": "done", "before": 1.0,
            "after": 0.0, "after_id": 0, "batch": 500,
        }  # fmt: skip

        def plan(statement: Any) -> str:
            sql, names = queue._db._compiled(statement)
            rows = db.execute("EXPLAIN QUERY PLAN " + sql, [values[n] for n in names])
            return " | ".join(str(r[-1]) for r in rows)

        first = plan(queue._sql.runnable_here_first)
        assert "qbwc_jobs_waiting" in first and "TEMP B-TREE" not in first
        assert "COVERING INDEX qbwc_jobs_waiting_files" in plan(queue._sql.waiting)
        batch = plan(queue._sql.purge_batch)
        assert "qbwc_jobs_finished" in batch and "TEMP B-TREE" not in batch
        # A login's statement, and the completion that counts the jobs left.
        values.update(now=1.0, id=1, ticket="t", pages=None, staged="null", keep=0)
        values.update(response=None, warning=None)
        login = plan(queue._sql.first_runnable)
        assert "qbwc_jobs_waiting" in login and "qbwc_jobs_lease" in login
        assert "TEMP B-TREE" not in login and "SCAN j" not in login
        done = plan(queue._sql.complete_counting)
        assert "SEARCH w USING COVERING INDEX qbwc_jobs_waiting_files (user=?" in done
        db.close()
        queue.close()

    def test_the_backlog_statements_use_their_indexes_on_postgresql(self, postgres, pg_prefix):
        """On PostgreSQL too: 20 users with 1,000 jobs each, and ours; fresh statistics."""
        queue = SQLJobQueue(postgres.url(), prefix=pg_prefix)
        for n in range(20):
            bulk_pending(queue, 1000, user=f"user{n}")
        bulk_pending(queue, 100)
        sql = queue._sql

        def plan(statement: Any, params: dict[str, Any]) -> str:
            def work(conn: Any) -> str:
                rows = conn.execute(text("EXPLAIN " + statement.text), params)
                return " | ".join(str(r[0]) for r in rows)

            return queue._db.run(work, what="test", write=False)

        first = plan(sql.runnable_here_first, {"user": USER, "company_key": "", "limit": 1})
        assert "jobs_waiting" in first and "Seq Scan" not in first
        # The planner picks among the indexes on (user, ...): any, but never the table.
        count = plan(sql.waiting, {"user": USER, "company_key": ""})
        assert "Index" in count and "Seq Scan" not in count
        login = plan(sql.first_runnable, {"user": USER, "now": 1.0})
        assert "jobs_waiting" in login and "Seq Scan" not in login
        queue.close()


# -- one rule for "the same company file" ----------------------------------------------------

#: Letters of several scripts, with the ones whose case rules are special.
LETTERS = st.characters(categories=("Lu", "Ll", "Lt"), exclude_characters="\x00") | st.sampled_from(
    "ßẞİıſςΣσǅǄǆﬁÉéÅåÇçĲĳΩωЖж"
)


def recased(draw: Any, name: str) -> str:
    """``name`` with each character's case changed at random, and maybe decomposed."""
    changes = [str.upper, str.lower, str.title, str.casefold, lambda c: c]
    out = "".join(draw(st.sampled_from(changes))(c) for c in name)
    return unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), out)


@st.composite
def two_names(draw: Any) -> tuple[str, str]:
    name = "C:\\QB\\" + draw(st.text(LETTERS, min_size=1, max_size=8)) + ".QBW"
    other = recased(draw, name) if draw(st.booleans()) else draw(st.text(LETTERS, max_size=8))
    return name, other


class TestCompanyFiles:
    def test_a_company_file_in_another_case_of_another_script_is_the_same_file(self, queue):
        """C:\\QB\\ÉTÉ.QBW queued, c:\\qb\\été.qbw open: claimed, counted and runnable alike
        (SQLite's lower() folds ASCII only, so the claim found nothing while progress said
        work remained)."""
        job = queue.enqueue(user=USER, kind="k", company_file="C:\\QB\\ÉTÉ.QBW")
        here = "c:\\qb\\e\u0301te\u0301.qbw"  # decomposed accents, as some tools write them
        assert queue.waiting(user=USER, company_file=here) == 1
        assert [j.id for j in queue.runnable(user=USER, company_file=here, limit=1)] == [job.id]
        claimed = queue.claim(user=USER, company_file=here, ticket="t", now=1.0, lease=60)
        assert claimed is not None and claimed.id == job.id
        assert claimed.company_file == "C:\\QB\\ÉTÉ.QBW"  # the name as given is kept

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(names=two_names())
    def test_claims_counts_and_the_rule_agree_for_any_name(self, names):
        """Whatever the case and script, SQL's answers follow fold_company_file exactly."""
        queued, open_ = names
        queue = MemoryJobQueue()
        queue.enqueue(user=USER, kind="k", company_file=queued)
        same = fold_company_file(queued) == fold_company_file(open_)
        assert queue.waiting(user=USER, company_file=open_) == int(same)
        assert len(queue.runnable(user=USER, company_file=open_)) == int(same)
        taken = queue.claim(user=USER, company_file=open_, ticket="t", now=1.0, lease=60)
        assert (taken is not None) is same
        queue.close()

    def test_an_upgraded_queue_folds_the_company_files_it_had(self, tmp_path):
        """A file of schema version 4 (no folded column) is upgraded: its jobs are claimed by
        the new rule."""
        path = tmp_path / "jobs.db"
        queue = SQLJobQueue(path)
        job = queue.enqueue(user=USER, kind="k", company_file="C:\\QB\\ÉTÉ.QBW")
        queue.close()
        db = sqlite3.connect(path)
        db.execute("DROP INDEX qbwc_jobs_waiting_files")
        db.execute("ALTER TABLE qbwc_jobs DROP COLUMN company_key")
        db.execute("UPDATE qbwc_schema_version SET version = 4")
        db.commit()
        db.close()
        queue = SQLJobQueue(path, upgrade=True)
        taken = queue.claim(user=USER, company_file="c:\\qb\\été.qbw", ticket="t", now=1, lease=9)
        assert taken is not None and taken.id == job.id
        queue.close()


# -- a live request's timeout racing its session ----------------------------------------------

ANSWER = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="{id}"'
    ' statusCode="{code}" statusSeverity="{severity}" statusMessage="as QuickBooks said"/>'
    "</QBXMLMsgsRs></QBXML>"
)

#: A session's steps on the live job, each in its own transition.
LIFECYCLES = [
    [],  # no session asked
    ["claim"],  # claimed, not yet sent
    ["claim", "send"],  # QuickBooks has it
    ["claim", "send", "fail"],  # QuickBooks answered with an error (3140)
    ["claim", "send", "complete"],  # QuickBooks answered OK
    ["claim", "send", "expire"],  # the session died: its lease ran out, the query is back
    ["claim", "send", "expire", "claim", "send", "fail"],  # sent again, then failed
]


class Racing:
    """The queue as the live client sees it, a session acting at chosen moments.

    ``before`` run just before the client's read of the job, ``between``
    between that read and the client's withdrawal (or cancel), ``after``
    after it (their transitions may then be refused).
    """

    def __init__(self, queue: SQLJobQueue, clock: FakeClock, user: str) -> None:
        self.queue, self.clock, self.user = queue, clock, user
        self.before: list[str] = []
        self.between: list[str] = []
        self.after: list[str] = []
        self.ran = False  # QuickBooks was given the request before the client let go
        self.answered = False  # and its answer landed before the client let go
        self.let_go = False  # the client has let go: the steps now only go on

    def __getattr__(self, name: str) -> Any:
        return getattr(self.queue, name)

    def step(self, name: str, job_id: int) -> None:
        q, now = self.queue, self.clock()
        if name == "claim":
            q.claim(user=self.user, company_file="", ticket="s", now=now, lease=60)
        elif name == "send":
            sent = q.progress(job_id, ticket="s", now=now, attempts=1, writes=False)
            self.ran = self.ran or (sent and not self.let_go)
        elif name in ("fail", "complete"):
            code, severity = ("3140", "Error") if name == "fail" else ("0", "Info")
            answer = ANSWER.format(id=job_id, code=code, severity=severity)
            if name == "fail":
                done = q.fail(job_id, ticket="s", now=now, code=code, message="m", response=answer)
            else:
                done = q.complete(job_id, ticket="s", now=now, response=answer)
            self.answered = self.answered or (done and not self.let_go)
        else:  # the lease runs out, and a sweep releases the query to pending
            q.release_expired(now=now + 3600, reconcilable=None, message="lost")

    def get(self, job_id: int) -> Any:
        while self.before:
            self.step(self.before.pop(0), job_id)
        found = self.queue.get(job_id)
        self.clock.advance(3600)  # the deadline has passed by the client's next look
        return found

    def _letting_go(self, job_id: int) -> None:
        while self.between:
            self.step(self.between.pop(0), job_id)

    def withdraw(self, job_id: int, *, now: float) -> Any:
        self._letting_go(job_id)
        return self.queue.withdraw(job_id, now=now)

    def cancel(self, job_id: int, *, now: float) -> bool:
        self._letting_go(job_id)
        return self.queue.cancel(job_id, now=now)


class TestLiveTimeoutRaces:
    @pytest.mark.parametrize("how", ["timeout", "given up"])
    def test_a_timeout_racing_the_session_never_loses_the_answer_nor_lies_about_sent(
        self, how, queue
    ):
        """A failure, a success or a lease expiry between the client's last read and its
        letting go, in random interleavings: an answer that landed is returned (a failed job
        is never cancelled), and LiveTimeout.sent is True whenever QuickBooks was given it."""
        rng = random.Random(1604)
        clock = FakeClock(time.time())
        for trial in range(150):
            user = f"user{trial}"  # each trial's session claims its own job only
            racing = Racing(queue, clock, user)
            steps = list(rng.choice(LIFECYCLES))
            cut = sorted(rng.randint(0, len(steps)) for _ in range(2))
            racing.before = steps[: cut[0]]
            racing.between = steps[cut[0] : cut[1]]
            racing.after = steps[cut[1] :]
            client = LiveClient(racing, poll=0.001, clock=clock)
            rq = qbxml.Rq("CustomerQueryRq", {"FullName": "A"})
            outcome: Any
            try:
                if how == "timeout":
                    outcome = client.request(user, rq, timeout=30)
                else:
                    stop = threading.Event()
                    stop.set()
                    outcome = client._run(user, rq, timeout=30, company_file="", stop=stop)[0]
            except Exception as exc:
                outcome = exc
            (job,) = queue.jobs(user=user)
            racing.let_go = True
            for name in racing.after:  # the session goes on; refused where the job is gone
                racing.step(name, job.id)
            job = got(queue, job.id)
            where = f"trial {trial}: {steps} cut at {cut}: {outcome!r}"
            if racing.answered:
                assert isinstance(outcome, qbxml.Result), where
                assert job.state in (JobState.FAILED, JobState.DONE) and job.response, where
            if isinstance(outcome, LiveTimeout) and racing.ran:
                assert outcome.sent, where
            assert not (job.state is JobState.CANCELLED and job.response), where
        queue.close()


# -- purge in batches ---------------------------------------------------------------------------


class TestPurgeInBatches:
    def test_purge_never_holds_the_write_lock_longer_than_one_batch(self, tmp_path):
        """1,200 finished jobs purged in batches of 100: each batch is one transaction of a
        bounded number of statements touching 100 jobs at most, and between two batches a
        session on another connection, which never waits for a lock, claims and completes."""
        path = tmp_path / "jobs.db"
        purger = SQLJobQueue(path)
        bulk_pending(purger, 1200)
        db = sqlite3.connect(path)
        db.execute("UPDATE qbwc_jobs SET state = 'done', updated = 5.0")
        db.execute("UPDATE qbwc_jobs SET \"key\" = 'k' || id WHERE id % 3 = 0")  # tombstones
        db.commit()
        db.close()
        kept = purger.enqueue(user=USER, kind="k", depends_on=[7], now=1.0)  # 7 stays: needed
        session = SQLJobQueue(path, timeout=0)  # a locked file fails at once: no waiting
        batches: list[tuple[int, int]] = []
        sessions_served = []
        real = purger._write

        def batch(work: Any, **options: Any) -> Any:
            with counting(purger) as sent:
                result = real(work, **options)
            batches.append((result[0], len(sent)))
            # Another connection's session, between two batches.
            job = session.enqueue(user="other", kind="k", now=20.0)
            taken = session.claim(user="other", company_file="", ticket="t", now=20.0, lease=60)
            assert taken is not None and taken.id == job.id
            assert session.complete(job.id, ticket="t", now=20.0)
            sessions_served.append(job.id)
            return result

        purger._write = batch  # type: ignore[method-assign]
        assert purger.purge(done_before=10.0, batch=100) == 1199
        assert max(jobs for jobs, _ in batches) <= 100
        assert max(statements for _, statements in batches) <= 7  # BEGIN ... COMMIT
        assert len(sessions_served) == len(batches) >= 12
        assert purger.get(7) is not None and purger.get(kept.id) is not None
        assert got(purger, 3).purged and purger.get(4) is None
        session.close()
        purger.close()

    def test_a_second_purge_reads_past_the_tombstones_of_the_first(self, tmp_path):
        """Tombstones are finished jobs that stay: a purge walks past them, never again."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        for n in range(30):
            job = queue.enqueue(user=USER, kind="k", key=f"k{n}", now=1.0)
            assert queue.withdraw(job.id, now=2.0) is not None
        assert queue.purge(done_before=10.0, batch=7) == 30
        assert queue.purge(done_before=10.0, batch=7) == 0
        assert all(job.purged for job in queue.jobs())
        queue.close()

    def test_a_batch_size_out_of_range_is_refused(self, queue: MemoryJobQueue):
        """0, negative, over 500 and non-int batches are mistakes, said so."""
        for bad in (0, -1, 501, 2.5, True):
            with pytest.raises(Exception, match="batch must be an int from 1 to 500"):
                queue.purge(done_before=1.0, batch=bad)  # type: ignore[arg-type]


# -- the queue's session state under one key ----------------------------------------------------

#: Every key the queue kept at the top of ``session.data`` before it had one of its own.
OLD_KEYS = (
    "job", "version", "started", "sent", "live", "units", "pages_left", "outcomes",
    "failures", "finished", "closing", "pause", "idle_since",
)  # fmt: skip


class SyncCustomers(JobKind):
    """Pages through customers, ten at a time."""

    name = "sync_customers"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"MaxReturned": 10}, iterator="Start")


class AddCustomerReconciled(AddCustomer):
    """Adds a customer; whether a lost add happened, a query by its name tells."""

    name = "add_customer_reconciled"

    def reconcile(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"FullName": ctx.payload["name"]})


class Meddling(QueueHandler):
    """A subclass keeping its own state under every key the queue used to use."""

    untouched: list[bool]

    def _around(self, event: Any, call: Any) -> None:
        data = event.session.data if event.session is not None else None
        if data is None:
            return call(event)
        mine = {key: f"mine {n} at call {event.session.calls}" for n, key in enumerate(OLD_KEYS)}
        data.update(mine)
        call(event)
        self.untouched.append(all(data[key] == value for key, value in mine.items()))

    def on_send_request(self, event: Any) -> None:
        self._around(event, super().on_send_request)

    def on_receive_response(self, event: Any) -> None:
        self._around(event, super().on_receive_response)

    def on_get_last_error(self, event: Any) -> None:
        self._around(event, super().on_get_last_error)

    def on_close_connection(self, event: Any) -> None:
        self._around(event, super().on_close_connection)


class TestSessionState:
    def test_a_subclass_writing_every_key_the_queue_used_breaks_nothing(self, queue, clock):
        """An iterated sync, adds and a failure, with the subclass writing "job", "version",
        "outcomes"... before and after the queue's every call: the update ends as it would,
        the closing words count right, and the queue never touches the subclass's keys."""
        handler = Meddling(
            queue,
            passwords=lambda user, password: True,
            kinds=[AddCustomer(), SyncCustomers()],
            clock=clock,
        )
        handler.untouched = []
        quickbooks = FakeQuickBooks()
        quickbooks.add_customers(25)
        quickbooks.load({"customers": [{"Name": "Taken"}]})
        sync = handler.enqueue("sync_customers", user=USER)
        adds = [handler.enqueue("add_customer", user=USER, payload={"name": n}) for n in "AB"]
        taken = handler.enqueue("add_customer", user=USER, payload={"name": "Taken"})
        result = WebConnector(
            make_wsgi_app(handler), user=USER, password="pw", quickbooks=quickbooks, noop_delay=0
        ).update()
        assert result.ok, result.messages
        assert got(queue, sync.id).state is JobState.DONE and got(queue, sync.id).pages == 3
        assert [got(queue, j.id).state for j in adds] == [JobState.DONE] * 2
        assert result.close_message.startswith(f"3 done, 1 failed: job {taken.id} (add_customer)")
        assert handler.untouched and all(handler.untouched)

    def test_a_session_saved_in_the_old_layout_goes_on_after_an_upgrade(self, queue):
        """A session whose job went out under a release that kept the queue's keys at the top of
        session.data: its answer is taken, and the job is done, not orphaned."""
        handler = handler_for(queue)
        job = queue.enqueue(user=USER, kind="add_customer", payload={"name": "A"})
        session = Session(handler)
        session.authenticate()
        session.send()
        store = session.core.store
        saved = store.get(session.ticket)
        assert saved is not None
        state = saved.data.pop(STATE_KEY)
        saved.data.update(
            job=state["job"], version=state["version"], sent=True,
            started={"job": state["started_job"], "at": state["started_at"]},
            outcomes={"done": 2}, units=2,
        )  # fmt: skip
        store.put(saved)
        assert session.receive() == 100
        assert got(queue, job.id).state is JobState.DONE
        assert session.close() == "3 done"  # two from before the upgrade, and this one

    def test_the_session_state_stays_the_same_size_however_many_jobs_the_session_runs(self, queue):
        """After 5 jobs and after 300, the queue's state in the session is as long (give or
        take the digits of its counts): a call saves it whole, so it must not grow."""
        bulk_pending(queue, 400)
        session = Session(handler_for(queue))
        session.authenticate()
        sizes = {}
        for n in range(1, 301):
            session.send()
            session.receive()
            if n in (5, 300):
                saved = session.core.store.get(session.ticket)
                assert saved is not None
                sizes[n] = len(json.dumps(saved.data[STATE_KEY]))
        assert sizes[300] - sizes[5] <= 8


# -- a newcomer's first hour ----------------------------------------------------------------------


class TestSmallThings:
    def test_a_job_queued_without_a_clock_is_created_now_not_in_1970(self, queue):
        """enqueue() without ``now`` stamps the wall clock."""
        before = time.time()
        job = queue.enqueue(user=USER, kind="k")
        after = time.time()
        assert before <= job.created <= after and before <= got(queue, job.id).created <= after

    def test_a_write_sent_again_and_done_in_one_session_is_counted_once_as_done(self, clock, queue):
        """A lost write reconciled as not having happened goes back and is sent again in the
        same session: the closing words say "1 done", not "1 done, 1 to send again"."""
        handler = handler_for(queue, clock, kinds=[AddCustomerReconciled()], lease=30)
        job = handler.enqueue("add_customer_reconciled", user=USER, payload={"name": "A"})
        handler.enqueue("add_customer", user=USER, payload={"name": "B"})
        queue.claim(user=USER, company_file="", ticket="dead", now=clock(), lease=30)
        queue.progress(job.id, ticket="dead", now=clock(), writes=True)
        clock.advance(31)
        result = WebConnector(
            make_wsgi_app(handler), user=USER, password="pw", quickbooks=FakeQuickBooks(),
            noop_delay=0,
        ).update()  # fmt: skip
        assert result.ok and got(queue, job.id).state is JobState.DONE
        assert result.close_message == "2 done"

    def test_a_job_held_by_a_crashed_session_is_named_and_released_on_the_operators_word(
        self, caplog, clock, queue
    ):
        """Its lease has minutes to run: a login finds no work and says which job is in
        flight until when; recover releases nothing, recover with force releases it."""
        handler = handler_for(queue, clock)
        job = handler.enqueue("add_customer", user=USER, payload={"name": "A"})
        queue.claim(user=USER, company_file="", ticket="crashed", now=clock(), lease=300)
        caplog.set_level(logging.INFO, logger="qbwc_spyne")
        assert Session(handler).authenticate() == "none"
        (note,) = in_flight_notes(queue, user=USER)
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(clock() + 300))
        assert note.startswith(f"job {job.id} (add_customer) of 'shop' is in flight until {until}")
        assert note in caplog.text
        assert recover_jobs(queue, now=clock()) == []
        (released,) = recover_jobs(queue, now=clock(), force=True)
        assert released.id == job.id and released.state is JobState.PENDING
        assert in_flight_notes(queue) == []
        assert Session(handler).authenticate() == ""


def test_the_backlog_benchmark_prints_each_call_beside_the_smallest_backlog():
    """bench_backlog runs (tiny sizes) and prints every call's row and the drain's line."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_backlog", "--backlogs", "10", "40", "--jobs", "3",
         "--sessions", "1", "--drain", "20"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for row in (*("authenticate", "sendRequestXML", "receiveResponseXML"), "queue statements"):
        assert done.stdout.count(f"\n{row}") >= 1, done.stdout
    assert "SQLite: drain 20 jobs in one update" in done.stdout
