"""Connection status, session transcripts and job history: recorded from real sessions."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from qbwc_spyne import (
    JobContext,
    JobKind,
    JobState,
    MemoryJobQueue,
    QueueHandler,
    SQLJobQueue,
    SQLSessionStore,
    make_wsgi_app,
    qbxml,
)
from qbwc_spyne.exceptions import ConfigurationError, SchemaVersionError
from qbwc_spyne.jobs import retry_job
from qbwc_spyne.protocol._calls import Call
from qbwc_spyne.status import (
    ConnectionStatus,
    MemoryStatusStore,
    SessionTranscript,
    SQLStatusStore,
    StatusRecorder,
    connection_status,
)
from qbwc_spyne.store._migrations import SCHEMA_VERSION
from qbwc_spyne.store._sql import Database
from qbwc_spyne.store._status import CallEntry, StatusUpdate, cut
from qbwc_spyne.testing import FakeQuickBooks

from .helpers import FakeClock, sqlite_connect, update

ROOT = Path(__file__).resolve().parent.parent


class AddCustomer(JobKind):
    """Adds the customer named in the payload."""

    name = "add_customer"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": ctx.payload["name"]}})


class ListCustomers(JobKind):
    """Asks for every customer in one answer (a long one)."""

    name = "list_customers"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"ActiveStatus": "All"})


class ListCustomersWhole(ListCustomers):
    """The same, for a live caller that needs the whole answer."""

    name = "list_customers_whole"
    keep_full_response = True


def books(customers: int = 0, **options) -> FakeQuickBooks:
    qb = FakeQuickBooks(**options)
    if customers:
        qb.load({"customers": [{"Name": f"Customer {n:04}"} for n in range(customers)]})
    return qb


def serve(queue, status, *, clock=None, session_store=None, **options):
    """A QueueHandler app recording into ``status``; returns (handler, app)."""
    clock = clock or FakeClock()
    handler = QueueHandler(
        queue,
        passwords=lambda user, pw: pw == "pw",
        kinds=[AddCustomer(), ListCustomers(), ListCustomersWhole()],
        clock=clock,
        **options,
    )
    app = make_wsgi_app(
        handler, store=session_store, clock=clock, observers=[StatusRecorder(status)]
    )
    return handler, app


@pytest.fixture(params=["memory", "file", "postgresql"])
def queue(request, tmp_path):
    """The queue in memory, in a SQLite file and on PostgreSQL."""
    if request.param == "memory":
        yield MemoryJobQueue()
        return
    made: SQLJobQueue
    if request.param == "file":
        made = SQLJobQueue(tmp_path / "jobs.db")
    else:
        postgres = request.getfixturevalue("postgres")
        made = SQLJobQueue(postgres.url(), prefix=request.getfixturevalue("pg_prefix"))
    yield made
    made.close()


def response_of(queue: SQLJobQueue, job_id: int) -> str:
    job = queue.get(job_id)
    assert job is not None and job.response is not None
    return job.response


def session_of(store: SQLStatusStore, ref: str | int) -> SessionTranscript:
    transcript = store.session(ref)
    assert transcript is not None
    return transcript


def transitions(queue, job_id):
    return [(e.from_state, e.to_state) for e in queue.history(job_id)]


P, F, D, X, B = JobState.PENDING, JobState.IN_FLIGHT, JobState.DONE, JobState.FAILED, None


class TestJobHistory:
    def test_one_row_per_transition_in_order_including_a_retry(self, queue):
        """created, sent, failed, retried, sent again, done: six rows, in that order."""
        job = queue.enqueue(user="shop", kind="k", now=1.0)
        queue.claim(user="shop", company_file="", ticket="ticket-one", now=2.0, lease=60)
        queue.fail(job.id, ticket="ticket-one", now=3.0, code="3100", message="name in use")
        queue.retry(job.id, now=4.0)
        queue.claim(user="shop", company_file="", ticket="ticket-two", now=5.0, lease=60)
        queue.complete(job.id, ticket="ticket-two", now=6.0)
        history = queue.history(job.id)
        assert [(e.from_state, e.to_state) for e in history] == [
            (None, P),
            (P, F),
            (F, X),
            (X, P),
            (P, F),
            (F, D),
        ]
        assert [e.at for e in history] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        assert history[1].message == "sent in session ticket-o..."
        assert history[2].message == "3100: name in use"

    def test_a_refused_transition_writes_no_row(self, queue):
        """A compare-and-set that does not apply (wrong ticket) leaves the history as it was."""
        job = queue.enqueue(user="shop", kind="k", now=1.0)
        queue.claim(user="shop", company_file="", ticket="mine", now=2.0, lease=60)
        assert not queue.complete(job.id, ticket="theirs", now=3.0)
        assert not queue.retry(job.id, now=3.0)
        assert transitions(queue, job.id) == [(None, P), (P, F)]

    def test_sweeps_and_blocked_dependants_are_recorded_too(self, queue):
        """The lease sweep and the dependants a failure blocks each get their row."""
        first = queue.enqueue(user="shop", kind="k", now=1.0)
        second = queue.enqueue(user="shop", kind="k", depends_on=[first.id], now=1.0)
        queue.claim(user="shop", company_file="", ticket="t", now=2.0, lease=1)
        queue.release_expired(now=10.0, reconcilable=None, message="lost")
        queue.claim(user="shop", company_file="", ticket="t2", now=11.0, lease=60)
        queue.fail(first.id, ticket="t2", now=12.0, code="1", message="x")
        assert transitions(queue, first.id) == [(None, P), (P, F), (F, P), (P, F), (F, X)]
        blocked = queue.history(second.id)
        assert [(e.from_state, e.to_state) for e in blocked] == [(None, P), (P, JobState.BLOCKED)]
        assert blocked[1].message == f"Job {first.id} it depends on is failed."

    def test_a_purged_job_takes_its_history_with_it(self, queue):
        """Purge deletes the history of the jobs it deletes or makes tombstones."""
        gone = queue.enqueue(user="shop", kind="k", now=1.0)
        keyed = queue.enqueue(user="shop", kind="k", key="order 1", now=1.0)
        kept = queue.enqueue(user="shop", kind="k", now=1.0)
        for job in (gone, keyed):
            queue.claim(user="shop", company_file="", ticket="t", now=2.0, lease=60)
            queue.complete(job.id, ticket="t", now=3.0)
        assert queue.purge(done_before=100.0) == 2
        assert queue.history(gone.id) == [] and queue.history(keyed.id) == []
        assert transitions(queue, kept.id) == [(None, P)]
        assert queue.history(10**6) == [] and queue.history(2**64) == []


class TestCounts:
    def test_counts_match_the_jobs_listed(self, queue):
        """counts() and counts_by_user() agree with jobs(), state by state, user by user."""
        for n in range(12):
            job = queue.enqueue(user=f"u{n % 3}", kind="k", now=1.0)
            if n % 4 == 1:
                queue.claim(user=job.user, company_file="", ticket=f"t{n}", now=2, lease=60)
                queue.fail(job.id, ticket=f"t{n}", now=3, code="1", message="x")
            elif n % 4 == 2:
                queue.cancel(job.id, now=3)
        everyone = queue.jobs()
        expected = {s: sum(j.state is s for j in everyone) for s in JobState}
        assert queue.counts() == expected
        by_user = queue.counts_by_user()
        for user in ("u0", "u1", "u2"):
            mine = [j for j in everyone if j.user == user]
            assert by_user[user] == {s: sum(j.state is s for j in mine) for s in JobState}
            assert queue.counts(user=user) == by_user[user]

    def test_users_asked_for_without_jobs_get_zeros(self, queue):
        """Every user asked for is in the answer; nobody else is."""
        queue.enqueue(user="a", kind="k")
        users = [f"user {n}" for n in range(1200)] + ["a"]  # more than one IN list
        found = queue.counts_by_user(users)
        assert set(found) == set(users)
        assert found["a"][P] == 1 and sum(found["user 7"].values()) == 0

    def test_only_the_states_asked_for_are_counted(self, queue):
        """states=: those counted, the others 0; users with jobs in none of them are left out."""
        done = queue.enqueue(user="a", kind="k")
        queue.claim(user="a", company_file="", ticket="t", now=1, lease=60)
        queue.complete(done.id, ticket="t", now=2)
        queue.enqueue(user="b", kind="k")
        found = queue.counts_by_user(states=[P, X])
        assert set(found) == {"b"} and found["b"][P] == 1 and sum(found["b"].values()) == 1
        asked = queue.counts_by_user(["a", "b"], states=[D])
        assert asked["a"][D] == 1 and sum(asked["b"].values()) == 0
        assert sum(queue.counts_by_user(["a"], states=[])["a"].values()) == 0

    def test_a_replaced_job_is_not_counted(self, queue):
        """A failed job whose key was queued again: only its replacement counts."""
        job = queue.enqueue(user="a", kind="k", key="k1", now=1)
        queue.claim(user="a", company_file="", ticket="t", now=2, lease=60)
        queue.fail(job.id, ticket="t", now=3, code="1", message="x")
        queue.enqueue(user="a", kind="k", key="k1", if_exists="replace", now=4)
        counts = queue.counts(user="a")
        assert counts[X] == 0 and counts[P] == 1


class TestResponses:
    @pytest.mark.parametrize("cap", [0, -5, 1.5, "256k", True, None])
    def test_a_response_cap_that_is_not_a_positive_int_is_refused(self, cap):
        """QueueHandler(response_cap=...) of the wrong kind: ConfigurationError naming it."""
        with pytest.raises(ConfigurationError, match="response_cap"):
            QueueHandler(MemoryJobQueue(), passwords=lambda u, p: True, response_cap=cap)

    def test_a_done_job_keeps_its_answer_and_a_failed_one_too(self, queue):
        """complete() and fail() save the response given; None keeps what was there."""
        ok = queue.enqueue(user="a", kind="k")
        bad = queue.enqueue(user="a", kind="k")
        queue.claim(user="a", company_file="", ticket="t", now=1, lease=60)
        assert queue.complete(ok.id, ticket="t", now=2, response="<ok/>")
        queue.claim(user="a", company_file="", ticket="t", now=3, lease=60)
        assert queue.fail(bad.id, ticket="t", now=4, code="3100", message="m", response="<no/>")
        assert queue.get(ok.id).response == "<ok/>" and queue.get(bad.id).response == "<no/>"
        retry_job(queue, bad.id, now=5)
        queue.claim(user="a", company_file="", ticket="t", now=6, lease=60)
        queue.complete(bad.id, ticket="t", now=7)
        assert queue.get(bad.id).response == "<no/>"

    def test_a_long_answer_is_cut_and_says_so_unless_the_kind_keeps_it_whole(self, tmp_path):
        """300 customers: cut at the cap with a note; the whole-answer kind keeps every byte."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        handler, app = serve(queue, MemoryStatusStore(), response_cap=4096)
        cut_job = handler.enqueue("list_customers", user="shop")
        whole_job = handler.enqueue("list_customers_whole", user="shop")
        result = update(app, books(300))
        assert result.ok, result.transcript()
        answers = [
            c.arguments["response"] for c in result.calls if c.operation == "receiveResponseXML"
        ]
        assert len(answers) == 2 and all(len(a.encode()) > 20_000 for a in answers)
        kept = response_of(queue, cut_job.id)
        head, note = kept.rsplit("\n", 1)
        assert answers[0].startswith(head) and len(head.encode()) <= 4096
        assert (
            note
            == f"<!-- truncated: the first 4096 of {len(answers[0].encode())} bytes are kept -->"
        )
        assert response_of(queue, whole_job.id) == answers[1]


def _on_one_database(request, tmp_path):
    """(queue, status store) on one database: a SQLite file, or PostgreSQL."""
    if request.param == "file":
        return SQLJobQueue(tmp_path / "qbwc.db"), SQLStatusStore(tmp_path / "qbwc.db")
    url = request.getfixturevalue("postgres").url()
    prefix = request.getfixturevalue("pg_prefix")
    return SQLJobQueue(url, prefix=prefix), SQLStatusStore(url, prefix=prefix)


@pytest.fixture(params=["file", "postgresql"])
def recorded(request, tmp_path):
    """A queue and a status store on one database, and an app that records into it."""
    queue, status = _on_one_database(request, tmp_path)
    clock = FakeClock()
    handler, app = serve(queue, status, clock=clock)
    yield queue, status, handler, app, clock
    queue.close()
    status.close()


class TestRecorder:
    def test_a_whole_session_fills_the_status_and_its_transcript(self, recorded):
        """Every field the session could tell, from a simulated update over a real SQLite file."""
        queue, status, handler, app, clock = recorded
        jobs = [handler.enqueue("add_customer", user="shop", payload={"name": n}) for n in "AB"]
        qb = books(versions=["13.0", "14.0", "15.0"], company_name="Acme Ltd")
        result = update(app, qb, version="2.3.0.215")
        assert result.ok, result.transcript()
        (row,) = connection_status(status, queue, now=clock.now)
        assert row.user == "shop" and row.company_file == qb.company_file
        assert row.client_version == "2.3.0.215"
        assert row.product == qb.product and row.company_name == "Acme Ltd"
        assert row.qbxml_versions == ["13.0", "14.0", "15.0"]
        assert row.last_seen == row.last_success == clock.now
        assert row.ticket is None and row.progress == 100
        session_calls = [
            c for c in result.calls if c.operation not in ("serverVersion", "clientVersion")
        ]
        assert row.session_calls == len(session_calls)
        assert row.last_error_code is None and row.jobs_pending == row.jobs_failed == 0
        (listed,) = status.sessions(user="shop")
        transcript = status.session(listed.id)
        assert transcript == status.session(result.ticket)
        assert transcript.ticket_prefix == result.ticket[:8]
        assert transcript.outcome == "completed" and transcript.ended == clock.now
        assert [c.operation for c in transcript.calls] == [c.operation for c in session_calls]
        sent = [c.job_id for c in transcript.calls if c.operation == "sendRequestXML"]
        answered = [c.job_id for c in transcript.calls if c.operation == "receiveResponseXML"]
        assert sent == answered == [j.id for j in jobs]
        assert transcript.calls[0].answer.startswith(result.ticket[:8] + "...")

    def test_a_failed_job_and_its_error_show_and_come_first(self, recorded):
        """A job QuickBooks refuses: jobs_failed 1, the error noted, that user listed first."""
        queue, status, handler, app, clock = recorded
        qb = books()
        handler.enqueue("add_customer", user="calm", payload={"name": "Fine"})
        assert update(app, qb, user="calm").ok
        taken = books()
        taken.load({"customers": [{"Name": "Fine"}]})
        handler.enqueue("add_customer", user="shop", payload={"name": "Fine"})  # a duplicate
        result = update(app, taken, user="shop")
        assert result.ok, result.transcript()
        rows = connection_status(status, queue, now=clock.now)
        assert [r.user for r in rows] == ["shop", "calm"]
        assert rows[0].jobs_failed == 1 and rows[1].jobs_failed == 0

    def test_a_refused_login_adds_no_row_but_marks_a_known_one(self, recorded):
        """nvu for a stranger writes nothing; for a known user it is its last error."""
        _queue, status, _handler, app, clock = recorded
        assert update(app, books(), user="nobody", password="guess").status == "auth failed"
        assert status.statuses() == []
        assert update(app, books(), user="shop").status == "no work"  # "none" makes the row
        clock.advance(60)
        update(app, books(), user="shop", password="wrong")
        (row,) = status.statuses()
        assert row.last_error_code == "nvu" and row.last_error_at == clock.now
        assert row.last_success == clock.now - 60

    def test_made_up_tickets_and_huge_names_change_nothing(self, recorded):
        """Calls with forged tickets and a 1 MB user name: no row added, none changed."""
        from qbwc_spyne.testing import WSGITransport, make_client

        _queue, status, _handler, app, _clock = recorded
        assert update(app, books()).status == "no work"
        before = status.statuses()
        wc = make_client(WSGITransport(app)).service
        for ticket in ("forged", "x" * 100_000, ""):
            wc.getLastError(ticket)
            wc.sendRequestXML(ticket, "<QBXML/>", "C:\\evil.qbw", "US", 13, 0)
            wc.closeConnection(ticket)
        wc.clientVersion("9" * 1_000_000)
        wc.authenticate("u" * 1_000_000, "wrong")  # refused: nvu
        assert status.statuses() == before and status.sessions() == []

    def test_quickbooks_not_running_is_the_connection_error(self, recorded):
        """connectionError's hresult and message, and when."""
        _queue, status, handler, app, clock = recorded
        handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        qb = books()
        qb.running = False
        result = update(app, qb)
        assert not result.ok
        (row,) = status.statuses()
        assert row.connection_error_code == "0x80040408" and row.connection_error_at == clock.now
        assert row.connection_error_message
        transcript = status.session(result.ticket)
        assert transcript.outcome is not None and transcript.outcome.startswith("error")

    def test_a_session_dying_midway_leaves_the_status_consistent(self, recorded):
        """The Web Connector vanishes after one request: shown open, then not once expired."""
        queue, status, handler, app, clock = recorded
        handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        qb = books()
        from qbwc_spyne.testing import WSGITransport, make_client

        wc = make_client(WSGITransport(app)).service
        ticket, _ = wc.authenticate("shop", "pw")
        assert wc.sendRequestXML(ticket, qb.hcp_response(), qb.company_file, "US", 13, 0)
        (row,) = status.statuses()
        assert row.ticket == ticket[:8] and row.session_calls == 2
        clock.advance(1801)  # longer than the session timeout
        (row,) = connection_status(status, queue, now=clock.now)
        assert row.ticket is None  # not shown as open, though nobody has said so yet
        assert wc.getLastError(ticket)  # the Web Connector comes back, too late
        (row,) = status.statuses()
        assert row.ticket is None and row.last_error_code == "session_expired"
        transcript = status.session(ticket)
        assert transcript.outcome == "expired" and transcript.ended == clock.now
        assert [c.operation for c in transcript.calls] == ["authenticate", "sendRequestXML"]
        clock.advance(10)
        assert update(app, books()).status == "no work"  # the next update, from the start
        (row,) = status.statuses()
        assert row.last_success == clock.now and row.ticket is None

    def test_a_user_with_two_company_files_has_two_rows_and_one_open_session(self, recorded):
        """Each company file its own row; a session's end clears it from both."""
        queue, status, handler, app, clock = recorded
        first = books(company_file=r"C:\Books\Acme.qbw", company_name="Acme")
        second = books(company_file=r"C:\Books\Beta.qbw", company_name="Beta")
        for qb in (first, second):
            handler.enqueue("add_customer", user="shop", payload={"name": "A"})
            clock.advance(60)
            assert update(app, qb).ok
        rows = {r.company_file: r for r in connection_status(status, queue, now=clock.now)}
        assert set(rows) == {first.company_file, second.company_file}
        assert rows[first.company_file].company_name == "Acme"
        assert rows[second.company_file].company_name == "Beta"
        assert rows[second.company_file].last_success == clock.now
        assert [r.ticket for r in rows.values()] == [None, None]

    def test_a_new_session_closes_one_that_died_unseen(self, recorded):
        """A session never closed nor met again: its transcript is marked abandoned."""
        _queue, status, handler, app, clock = recorded
        handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        from qbwc_spyne.testing import WSGITransport, make_client

        wc = make_client(WSGITransport(app)).service
        dead, _ = wc.authenticate("shop", "pw")
        clock.advance(5)
        handler.enqueue("add_customer", user="shop", payload={"name": "B"})
        assert update(app, books()).ok
        old = status.session(dead)
        assert old.outcome == "abandoned" and old.ended == old.last_at

    def test_client_versions_that_disagree_are_given_to_nobody(self):
        """Two Web Connectors of different versions log in together: no version is guessed."""
        store = MemoryStatusStore()
        recorder = StatusRecorder(store, version_window=60)

        def login(user, at, ticket):
            from qbwc_spyne import Session

            session = Session(ticket=ticket, user=user, created=at, last_seen=at, calls=1)
            recorder.on_call(
                Call(
                    operation="authenticate",
                    started=at,
                    user=user,
                    ticket=ticket,
                    session=session,
                    answer=[ticket, ""],
                )
            )

        for at, version in ((100.0, "2.3.0.215"), (101.0, "2.2.0.71")):
            recorder.on_call(
                Call(operation="clientVersion", started=at, arguments={"strVersion": version})
            )
        login("a", 102.0, "T-a")
        recorder.on_call(
            Call(operation="clientVersion", started=300.0, arguments={"strVersion": "2.3.0.215"})
        )
        login("b", 301.0, "T-b")
        login("c", 400.0, "T-c")  # long after: no version seen lately
        versions = {row.user: row.client_version for row in store.statuses()}
        assert versions == {"a": "", "b": "2.3.0.215", "c": ""}

    def test_calls_that_change_nothing_worth_keeping_write_nothing(self):
        """serverVersion and clientVersion never write; status-only, a bare call waits its turn."""
        written: list[str] = []

        class Counting(MemoryStatusStore):
            # The real store; it only notes which call each transaction was for.
            def record(self, *, update=None, entry=None):
                written.append(calls[-1])
                super().record(update=update, entry=entry)

        calls: list[str] = []
        status = Counting()
        clock = FakeClock()
        handler = QueueHandler(MemoryJobQueue(), passwords=lambda u, pw: pw == "pw",
                               kinds=[AddCustomer()], clock=clock)  # fmt: skip
        recorder = StatusRecorder(status, transcripts=False, min_interval=60)

        class Noting:
            def on_call(self, call):
                calls.append(call.operation)

        app = make_wsgi_app(handler, clock=clock, observers=[Noting(), recorder])
        for n in range(3):
            handler.enqueue("add_customer", user="shop", payload={"name": f"C{n}"})
        result = update(app, books())
        assert result.ok
        assert "serverVersion" not in written and "clientVersion" not in written
        # The first sendRequestXML brings QuickBooks' facts; the next two only the time.
        assert written.count("sendRequestXML") == 1
        assert written.count("receiveResponseXML") == 3 and written[-1] == "closeConnection"
        (row,) = status.statuses()
        assert row.progress == 100 and row.ticket is None and row.product

    def test_the_stores_and_queues_meet_their_interfaces(self, tmp_path):
        """The status stores are StatusStores; the queues, with their new methods, JobQueues."""
        from qbwc_spyne.jobs import JobQueue
        from qbwc_spyne.status import StatusStore

        file = SQLStatusStore(tmp_path / "s.db")
        assert isinstance(MemoryStatusStore(), StatusStore) and isinstance(file, StatusStore)
        assert isinstance(MemoryJobQueue(), JobQueue)
        file.close()

    def test_a_status_update_naming_an_unknown_column_is_refused(self):
        """A column that is not a status column: ValueError, and nothing written."""
        store = MemoryStatusStore()
        with pytest.raises(ValueError, match="not status columns"):
            store.record(update=StatusUpdate(user="u", company_file="", values={"user": "x"}))
        assert store.statuses() == []

    def test_a_store_that_fails_does_not_change_the_answer(self, tmp_path, caplog):
        """The status table is dropped under it: the update still succeeds, the failure logged."""
        queue = MemoryJobQueue()
        status = SQLStatusStore(tmp_path / "status.db")
        handler, app = serve(queue, status)
        db = sqlite_connect(tmp_path / "status.db", isolation_level=None)
        db.execute("DROP TABLE qbwc_connections")
        handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        assert update(app, books()).ok
        assert "StatusRecorder.on_call raised" in caplog.text


SCENARIOS = ("ok", "refused", "down", "nvu", "dies", "none")


class TestRecorderModel:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        steps=st.lists(
            st.tuples(
                st.sampled_from(["ann", "bob"]),
                st.sampled_from(SCENARIOS),
                st.sampled_from([1.0, 90.0, 2000.0]),
            ),
            min_size=1,
            max_size=10,
        )
    )
    def test_any_sequence_of_updates_leaves_the_status_the_model_predicts(self, steps):
        """Random updates of two users (ok, refused job, QuickBooks down, bad password, a Web
        Connector that dies, no work): each row says what the model says, at most 3 transcripts."""
        from qbwc_spyne.testing import WSGITransport, make_client

        status, queue, clock = MemoryStatusStore(keep_sessions=3), MemoryJobQueue(), FakeClock()
        handler, app = serve(queue, status, clock=clock)
        model: dict[str, dict[str, Any]] = {}
        sessions = {"ann": 0, "bob": 0}
        for user, scenario, wait in steps:
            clock.advance(wait)
            now = clock.now
            known = user in model
            qb = books()
            if scenario in ("ok", "refused", "down", "dies"):
                handler.enqueue("add_customer", user=user, payload={"name": "Taken"})
            if scenario == "refused":
                qb.load({"customers": [{"Name": "Taken"}]})
            if scenario == "down":
                qb.running = False
            if scenario == "dies":
                wc = make_client(WSGITransport(app)).service
                ticket, company = wc.authenticate(user, "pw")
                row = model.setdefault(user, {"success": None, "down": None, "nvu": None})
                row["seen"] = now
                if company == "none":  # its job is still in flight in a session that died
                    row["ticket"], row["success"] = None, now
                    continue
                wc.sendRequestXML(ticket, qb.hcp_response(), qb.company_file, "US", 13, 0)
                row["ticket"] = ticket[:8]
                sessions[user] += 1
                continue
            result = update(app, qb, user=user, password="bad" if scenario == "nvu" else "pw")
            if scenario == "nvu":
                if known:
                    model[user]["nvu"] = now
                continue
            row = model.setdefault(user, {"success": None, "down": None, "nvu": None})
            row["ticket"], row["seen"] = None, now
            if result.status in ("ok", "no work"):
                row["success"] = now
            if scenario == "down":
                row["down"] = now
            if result.status != "no work":
                sessions[user] += 1
        rows = {r.user: r for r in status.statuses()}
        assert set(rows) == set(model)
        for user, expected in model.items():
            found = rows[user]
            assert found.last_seen == expected["seen"]
            assert found.last_success == expected["success"]
            assert found.connection_error_at == expected["down"]
            assert found.ticket == expected["ticket"]
            if expected["nvu"] is not None and expected["nvu"] > (found.last_seen or 0):
                assert found.last_error_code == "nvu"
            transcripts = status.sessions(user=user)
            assert len(transcripts) == min(sessions[user], 3)
            assert all(t.ended is not None for t in transcripts[1:])  # only the newest may be open


def _record_user(url: str, prefix: str, user: str) -> bool:
    """In another process: one update of ``user`` recorded into the shared database."""
    queue = SQLJobQueue(url, prefix=prefix)
    status = SQLStatusStore(url, prefix=prefix)
    handler, app = serve(queue, status, session_store=SQLSessionStore(url, prefix=prefix))
    for n in range(3):
        handler.enqueue("add_customer", user=user, payload={"name": f"{user} {n}"})
    result = update(app, books(company_name=f"{user} Ltd"), user=user, version=f"2.3.{len(user)}")
    return result.ok


class TestProcesses:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
    def test_two_processes_recording_for_different_users(self, backend, tmp_path, request):
        """Two processes, one database, at once: each user's row and transcript are its own."""
        if backend == "sqlite":
            url, prefix = f"sqlite:///{tmp_path / 'qbwc.db'}", "qbwc_"
        else:
            url = request.getfixturevalue("postgres").url()
            prefix = request.getfixturevalue("pg_prefix")
        SQLJobQueue(url, prefix=prefix).close()
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            outcomes = pool.starmap(
                _record_user, [(url, prefix, "east"), (url, prefix, "westerly")]
            )
        assert outcomes == [True, True]
        status = SQLStatusStore(url, prefix=prefix)
        queue = SQLJobQueue(url, prefix=prefix)
        rows = {r.user: r for r in connection_status(status, queue)}
        assert set(rows) == {"east", "westerly"}
        for user, row in rows.items():
            assert row.company_name == f"{user} Ltd" and row.client_version == f"2.3.{len(user)}"
            assert row.progress == 100 and row.ticket is None and row.jobs_pending == 0
            (listed,) = status.sessions(user=user)
            transcript = session_of(status, listed.id)
            assert transcript.outcome == "completed" and transcript.user == user
            added = [c for c in transcript.calls if c.operation == "sendRequestXML"]
            assert len(added) == 3
        status.close()
        queue.close()


def _all_text(path: Path) -> str:
    """Every value of every table in the file, as text."""
    db = sqlite3.connect(path)
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


class TestTranscripts:
    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        password=st.text(
            alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
            min_size=10,
            max_size=40,
        )
    )
    def test_no_password_is_ever_kept(self, password):
        """A planted password, right or wrong, appears nowhere in the database afterwards."""
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "qbwc.db"
            queue = SQLJobQueue(path)
            status = SQLStatusStore(path)
            handler = QueueHandler(
                queue, passwords=lambda u, pw: pw == password, kinds=[AddCustomer()]
            )
            app = make_wsgi_app(handler, observers=[StatusRecorder(status)])
            handler.enqueue("add_customer", user="shop", payload={"name": "A"})
            assert update(app, books(), password=password).ok
            update(app, books(), password=password + "x")  # a wrong one too
            queue.close()
            status.close()
            assert password not in _all_text(path)

    def test_no_body_over_the_cap_is_kept(self, tmp_path):
        """Requests and answers of 20 KiB and more: every stored text is within 2 KiB."""
        path = tmp_path / "qbwc.db"
        queue = SQLJobQueue(path)
        status = SQLStatusStore(path)
        handler, app = serve(queue, status)
        handler.enqueue("list_customers", user="shop")
        handler.enqueue("add_customer", user="shop", payload={"name": "N" * 41})
        result = update(app, books(300))
        assert result.ok
        transcript = session_of(status, result.ticket)
        texts = [c.answer for c in transcript.calls] + [
            v for c in transcript.calls for v in c.arguments.values() if isinstance(v, str)
        ]
        assert max(len(t.encode()) for t in texts) <= 2048
        assert any(t.endswith(" bytes]") and "[truncated: " in t for t in texts)
        db = sqlite_connect(path)
        stored = db.execute("SELECT arguments, answer FROM qbwc_transcript_calls").fetchall()
        assert all(len(a.encode()) <= 2048 * 6 and len(b.encode()) <= 2048 for a, b in stored)

    @given(value=st.text(), limit=st.integers(min_value=40, max_value=300))
    def test_cut_keeps_a_head_and_says_how_long_it_was(self, value, limit):
        """cut(): within the limit, a prefix of the value, and a note when anything went."""
        kept = cut(value, limit)
        size = len(value.encode("utf-8", "surrogatepass"))
        assert len(kept.encode("utf-8", "surrogatepass")) <= max(
            limit, size if kept == value else 0
        )
        if size <= limit:
            assert kept == value
        else:
            head, _, note = kept.rpartition("... [truncated: ")
            assert value.startswith(head) and note == f"{size} bytes]"

    def test_each_user_keeps_its_last_sessions_only(self, tmp_path):
        """keep_sessions=3 and 5 sessions: the 3 newest remain, with their calls; no orphan call."""
        path = tmp_path / "qbwc.db"
        queue = SQLJobQueue(path)
        status = SQLStatusStore(path, keep_sessions=3)
        handler, app = serve(queue, status)
        tickets = []
        for n in range(5):
            handler.enqueue("add_customer", user="shop", payload={"name": f"C{n}"})
            handler.enqueue("add_customer", user="other", payload={"name": f"C{n}"})
            tickets.append(update(app, books()).ticket)
            update(app, books(), user="other")
        kept = status.sessions(user="shop")
        assert [t.ticket_prefix for t in kept] == [t[:8] for t in reversed(tickets[2:])]
        assert status.session(tickets[0]) is None and len(status.sessions(user="other")) == 3
        db = sqlite_connect(path)
        orphans = db.execute(
            "SELECT count(*) FROM qbwc_transcript_calls WHERE transcript_id NOT IN"
            " (SELECT id FROM qbwc_transcripts)"
        ).fetchone()
        assert orphans == (0,)

    def test_a_long_session_keeps_its_first_calls_and_counts_them_all(self):
        """max_calls=4: four calls kept, every call counted."""
        status = MemoryStatusStore(max_calls=4)
        handler, app = serve(MemoryJobQueue(), status)
        for n in range(4):
            handler.enqueue("add_customer", user="shop", payload={"name": f"C{n}"})
        result = update(app, books())
        transcript = session_of(status, result.ticket)
        assert len(transcript.calls) == 4
        assert transcript.call_count == len(result.calls) - 2  # serverVersion, clientVersion

    @pytest.mark.parametrize(
        ("limit", "offset"), [(-1, 0), (0, -1), ("10", 0), (10, 2**70), (True, 0), (10_001, 0)]
    )
    def test_a_bad_page_is_a_clear_error(self, limit, offset):
        """A limit or offset that is not an int in range: ValueError naming it."""
        with pytest.raises(ValueError, match=r"limit|offset"):
            MemoryStatusStore().sessions(limit=limit, offset=offset)

    def test_a_page_past_the_end_is_empty_and_unknown_sessions_are_none(self):
        """A huge offset gives no rows; an unknown id, ticket or a bad type gives None."""
        store = MemoryStatusStore()
        assert store.sessions(offset=2**53) == []
        refs: list[Any] = [1, 2**80, "no such ticket", 1.5, True, None]
        for ref in refs:
            assert store.session(ref) is None


class TestConnectionStatus:
    def test_trouble_comes_first(self):
        """Failed or unknown jobs, then a recent error, then silence, then the rest by name."""
        store, queue, now = MemoryStatusStore(), MemoryJobQueue(), 1_000_000.0

        def seen(user, **values):
            values.setdefault("last_seen", now - 60)
            store.record(update=StatusUpdate(user=user, company_file="C", values=values))

        seen("fine", last_success=now - 60)
        seen("erred", last_success=now - 600, last_error_at=now - 60, last_error_code="x")
        seen("silent", last_seen=now - 3 * 86400, last_success=now - 3 * 86400)
        seen("broken", last_success=now - 60)
        job = queue.enqueue(user="broken", kind="k")
        queue.claim(user="broken", company_file="", ticket="t", now=now, lease=60)
        queue.fail(job.id, ticket="t", now=now, code="1", message="x")
        queue.enqueue(user="never", kind="k")  # jobs, but never connected
        rows = connection_status(store, queue, now=now)
        assert [r.user for r in rows] == ["broken", "erred", "never", "silent", "fine"]
        assert rows[2] == ConnectionStatus(user="never", jobs_pending=1)
        assert [r.user for r in connection_status(store, queue, "erred", now=now)] == ["erred"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qbwc_spyne", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


class TestCommand:
    @pytest.mark.parametrize("recorded", ["file"], indirect=True)
    def test_status_prints_a_table_and_json(self, recorded, tmp_path):
        """The same rows as connection_status(), as JSON; one line per connection as a table."""
        queue, status, handler, app, _clock = recorded
        handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        assert update(app, books()).ok
        handler.enqueue("add_customer", user="late", payload={"name": "B"})
        path = str(tmp_path / "qbwc.db")
        shown = cli("status", path, "--json")
        assert shown.returncode == 0, shown.stderr
        rows = json.loads(shown.stdout)
        assert rows == [asdict(r) for r in connection_status(status, queue)]
        table = cli("status", f"sqlite:///{path}", "--user", "shop")
        assert table.returncode == 0 and len(table.stdout.splitlines()) == 2
        assert table.stdout.splitlines()[1].startswith("shop ")

    def test_status_on_postgresql(self, postgres, pg_prefix):
        """The same command on a PostgreSQL URL and a prefix: the rows recorded there."""
        queue = SQLJobQueue(postgres.url(), prefix=pg_prefix)
        status = SQLStatusStore(postgres.url(), prefix=pg_prefix)
        status.record(update=StatusUpdate(user="pg user", company_file="C", values={}))
        queue.enqueue(user="pg user", kind="k")
        shown = cli("status", postgres.url(), "--prefix", pg_prefix, "--json")
        assert shown.returncode == 0, shown.stderr
        assert [(r["user"], r["jobs_pending"]) for r in json.loads(shown.stdout)] == [
            ("pg user", 1)
        ]
        queue.close()
        status.close()

    def test_status_of_a_missing_database_is_one_line(self, tmp_path):
        """No file: one line on stderr, exit 1, nothing created."""
        missing = tmp_path / "none.db"
        result = cli("status", str(missing))
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert not missing.exists()


def _strip_to_version_3(db: Database) -> None:
    """Turn the current tables back into version 3's, as that release made them."""
    p = db.prefix

    def work(conn):
        for name in ("job_events", "connections", "transcripts", "transcript_calls"):
            conn.execute(text(f"DROP TABLE {p}{name}"))
        if db.sqlite:
            conn.execute(text(f"DROP TRIGGER {p}job_created"))
            conn.execute(text(f"DROP TRIGGER {p}job_moved"))
        else:
            conn.execute(text(f"DROP TRIGGER {p}job_created ON {p}jobs"))
            conn.execute(text(f"DROP TRIGGER {p}job_moved ON {p}jobs"))
            conn.execute(text(f"DROP FUNCTION {p}job_event()"))
        conn.execute(text(f"ALTER TABLE {p}jobs DROP COLUMN response"))
        conn.execute(text(f"DROP INDEX {p}jobs_waiting_files"))
        conn.execute(text(f"ALTER TABLE {p}jobs DROP COLUMN company_key"))
        # Made at the current version directly: its one row says so; version 3 made it say 3.
        conn.execute(text(f"UPDATE {p}schema_version SET version = 3"))

    db.run(work, what="test")


class TestUpgradeFrom3:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
    def test_the_upgrade_from_version_3_keeps_every_job(self, backend, tmp_path, request):
        """Jobs in every state survive; each starts its history with one row; new ones follow."""
        if backend == "sqlite":
            url, prefix = str(tmp_path / "v3.db"), "qbwc_"
        else:
            url, prefix = (
                request.getfixturevalue("postgres").url(),
                request.getfixturevalue("pg_prefix"),
            )
        queue = SQLJobQueue(url, prefix=prefix)
        for n in range(6):
            job = queue.enqueue(user="shop", kind="k", key=f"k{n}", payload={"n": n}, now=1.0)
            if n % 3:
                queue.claim(user="shop", company_file="", ticket="t", now=2.0, lease=60)
                if n % 3 == 1:
                    queue.complete(job.id, ticket="t", now=3.0)
        before = queue.jobs()
        queue.close()
        db = Database(url, prefix=prefix)
        _strip_to_version_3(db)
        with pytest.raises(SchemaVersionError) as caught:
            SQLJobQueue(url, prefix=prefix)
        assert caught.value.found == 3 and caught.value.wanted == SCHEMA_VERSION == 5
        queue = SQLJobQueue(url, prefix=prefix, upgrade=True)
        assert queue.jobs() == before
        for job in before:
            (event,) = queue.history(job.id)
            assert event.from_state is None and event.to_state is job.state
            assert event.message == "history starts at schema version 4"
        pending = next(j for j in before if j.state is P)
        queue.claim(user="shop", company_file="", ticket="t2", now=5.0, lease=60)
        assert transitions(queue, pending.id)[-1] == (P, F)
        status = SQLStatusStore(url, prefix=prefix)
        status.record(update=StatusUpdate(user="shop", company_file="C", values={"last_seen": 5.0}))
        assert [r.user for r in status.statuses()] == ["shop"]
        queue.close()
        status.close()
        db.close()

    def test_the_transcript_entry_of_an_unknown_session_is_dropped(self):
        """A call for a ticket with no transcript (recording began mid-session) adds nothing."""
        store = MemoryStatusStore()
        store.record(
            entry=CallEntry(
                ticket="T",
                user="u",
                company_file="",
                operation="getLastError",
                at=1.0,
                duration=0.0,
            )
        )
        assert store.sessions() == [] and store.session("T") is None
