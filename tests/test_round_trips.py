"""Statements per Web Connector call, as the database counts them, over the demo's update.

Each statement is a round trip to PostgreSQL and a lock and a journal
write on SQLite: the counts are pinned, per call on average over the demo's
update (tests/round_trips.py says how they are counted), and per store
method.
"""

from __future__ import annotations

import pytest

from qbwc_spyne import MemorySessionStore, Session, SQLSessionStore
from qbwc_spyne.protocol._core import Core
from qbwc_spyne.status import MemoryStatusStore, SQLStatusStore
from qbwc_spyne.store._status import CallEntry, StatusUpdate

from .helpers import QBXML_REQUEST, RecordingHandler
from .round_trips import TARGET, PostgresLog, SQLiteTrace, demo_update, sqlite_backend


@pytest.fixture
def trace():
    with SQLiteTrace().installed() as installed:
        yield installed


def counted(trace: SQLiteTrace, work) -> list[str]:
    mark = trace.mark()
    work()
    return trace.since(mark)


class TestTheDemosUpdate:
    @pytest.mark.parametrize("status", [False, True], ids=["sessions and queue", "with status"])
    def test_a_call_costs_at_most_the_target_statements_on_average(self, tmp_path, trace, status):
        """SQLite's trace over the demo's 16 calls: at most 3 statements a call on average
        without a status recorder, 5 with one (BEGIN and COMMIT count)."""
        result = demo_update(sqlite_backend(tmp_path, trace), status=status)
        assert result.status == "ok" and len(result.counts) == 16
        assert result.average <= TARGET[status], result.breakdown()

    @pytest.mark.parametrize("status", [False, True], ids=["sessions and queue", "with status"])
    def test_the_count_does_not_grow_with_the_pending_jobs(self, tmp_path, trace, status):
        """Forty more pending jobs of the same user (for a company file not open) change
        no call's count."""
        few = demo_update(sqlite_backend(tmp_path / "few", trace), status=status)
        many = demo_update(sqlite_backend(tmp_path / "many", trace), status=status, pending=40)
        assert many.operations == few.operations
        assert many.counts == few.counts

    def test_a_later_page_of_an_iterator_costs_the_queue_one_statement_to_send(
        self, tmp_path, trace
    ):
        """Pages 2 to 5 of the customer query: the job's lease renewed and its row read in one
        UPDATE ... RETURNING (no read of the job, then a write)."""
        result = demo_update(sqlite_backend(tmp_path, trace), status=False)
        sends = [
            [s for s in statements if "qbwc_jobs" in s]
            for operation, statements in zip(result.operations, result.statements, strict=True)
            if operation == "sendRequestXML"
        ]
        assert [len(send) for send in sends[1:5]] == [1] * 4, result.breakdown()
        assert all(send[0].startswith("UPDATE") for send in sends[1:5])

    def test_a_login_asks_the_queue_one_statement(self, tmp_path, trace):
        """authenticate: the first runnable job and whether a lease ran out, together."""
        result = demo_update(sqlite_backend(tmp_path, trace), status=False)
        login = result.statements[result.operations.index("authenticate")]
        assert len([s for s in login if "qbwc_jobs" in s]) == 1, result.breakdown()

    def test_the_progress_bar_counts_the_jobs_left_in_the_statement_that_lands_the_answer(
        self, tmp_path, trace
    ):
        """The first page's progress and the invoice's completion each count the jobs left
        in their own UPDATE ... RETURNING: no receiveResponseXML runs a count of its own."""
        result = demo_update(sqlite_backend(tmp_path, trace), status=False)
        receives = [
            [s for s in statements if "qbwc_jobs" in s]
            for operation, statements in zip(result.operations, result.statements, strict=True)
            if operation == "receiveResponseXML"
        ]
        assert [len(receive) for receive in receives] == [2] * 6, result.breakdown()
        assert not any(s.startswith("SELECT count") for receive in receives for s in receive)

    def test_the_session_store_costs_at_most_two_statements_a_call(self, tmp_path, trace):
        """Of the same update, the session store's statements: a load and a save per call
        at most (authenticate: the purge, once a minute, and the insert; close: one)."""
        result = demo_update(sqlite_backend(tmp_path, trace), status=False)
        sessions = [[s for s in call if "qbwc_sessions" in s] for call in result.statements]
        assert max(len(call) for call in sessions) <= 2, result.breakdown()
        assert len(sessions[-1]) == 1  # closeConnection

    def test_the_status_recorder_adds_at_most_two_statements_a_call(self, tmp_path, trace):
        """What the recorder adds to the same update: a status upsert and a transcript row
        at most per call, on average (and none for serverVersion and clientVersion)."""
        bare = demo_update(sqlite_backend(tmp_path / "bare", trace), status=False)
        recorded = demo_update(sqlite_backend(tmp_path / "recorded", trace), status=True)
        added = [r - b for r, b in zip(recorded.counts, bare.counts, strict=True)]
        assert added[:2] == [0, 0]
        assert sum(added) / len(added) <= 2, recorded.breakdown()
        # A sendRequestXML after the first moves only the status's time last seen:
        # its call goes to the transcript, the status row is not rewritten.
        sends = [
            statements
            for operation, statements in zip(recorded.operations, recorded.statements, strict=True)
            if operation == "sendRequestXML"
        ]
        for statements in sends[1:]:
            assert not any("qbwc_connections" in s for s in statements)
            assert sum("qbwc_transcript_calls" in s for s in statements) == 1

    def test_postgresql_pings_once_a_call_however_many_stores(self, postgres, pg_prefix):
        """Sessions, queue and status on one database share the process's pool: a call
        pings one connection, once."""
        from .round_trips import postgres_backend

        log = PostgresLog(postgres)
        try:
            result = demo_update(postgres_backend(postgres.url(), pg_prefix, log), status=True)
        finally:
            log.close()
        pings = [sum(s.strip() == ";" for s in call) for call in result.statements]
        assert max(pings) == 1, result.breakdown()

    def test_postgresql_counts_what_its_log_says(self, postgres, pg_prefix):
        """The same update on PostgreSQL, counted from the server's statement log:
        every call is counted, and the counts are the same with 40 more pending jobs."""
        from .round_trips import postgres_backend

        log = PostgresLog(postgres)
        try:
            url = postgres.url()
            few = demo_update(postgres_backend(url, pg_prefix + "a", log), status=True)
            many = demo_update(postgres_backend(url, pg_prefix + "b", log), status=True, pending=40)
        finally:
            log.close()
        assert few.status == "ok" and sum(few.counts) > 0
        assert many.counts == few.counts


class TestSessionStatements:
    """The session store's part of a call, on a SQLite file."""

    def test_a_call_loads_and_saves_its_session_in_one_statement_each(self, tmp_path, trace):
        """sendRequestXML: one SELECT and one UPDATE of the session, no BEGIN or COMMIT."""
        handler = RecordingHandler(authenticate={}, send_request={"request": QBXML_REQUEST})
        core = Core(handler, SQLSessionStore(tmp_path / "s.db"))
        ticket = core.authenticate("u", "p")[0]
        statements = counted(
            trace, lambda: core.send_request_xml(ticket, "", "C:\\co.qbw", "US", 13, 0)
        )
        assert [s.split()[0] for s in statements] == ["SELECT", "UPDATE"]

    def test_authenticate_saves_a_new_session_in_one_statement(self, tmp_path, trace):
        """The new session's insert also refuses a ticket in use: no SELECT before it."""
        core = Core(RecordingHandler(authenticate={}), SQLSessionStore(tmp_path / "s.db"))
        core._next_purge = float("inf")  # the purge, once a minute, is counted elsewhere
        statements = counted(trace, lambda: core.authenticate("u", "p"))
        assert len(statements) == 1 and statements[0].startswith("INSERT")

    def test_close_connection_reads_and_deletes_its_session_in_one_statement(self, tmp_path, trace):
        """closeConnection: one DELETE ... RETURNING, and the handler is given the session."""
        handler = RecordingHandler(authenticate={})
        store = SQLSessionStore(tmp_path / "s.db")
        core = Core(handler, store)
        ticket = core.authenticate("u", "p")[0]
        statements = counted(trace, lambda: core.close_connection(ticket))
        assert len(statements) == 1 and statements[0].startswith("DELETE")
        assert "RETURNING" in statements[0]
        assert handler.named("close_connection")[0].session.ticket == ticket
        assert store.get(ticket) is None


class TestAddAndTake:
    def test_add_saves_a_new_session_and_refuses_a_ticket_in_use(self, any_store):
        """add: True and saved; again with the same ticket: False, the first left alone."""
        assert any_store.add(Session(ticket="t", user="alice", host_response="<h/>"))
        assert not any_store.add(Session(ticket="t", user="bob"))
        kept = any_store.get("t")
        assert kept.user == "alice" and kept.host_response == "<h/>"

    def test_take_returns_the_session_and_forgets_it(self, any_store):
        """take: the session as saved, then None; an unknown ticket: None."""
        any_store.put(Session(ticket="t", user="u", data={"n": 1}, prefs_response="<p/>"))
        taken = any_store.take("t")
        assert taken.data == {"n": 1} and taken.prefs_response == "<p/>"
        assert any_store.take("t") is None and any_store.get("t") is None

    def test_a_store_without_add_and_take_still_serves_a_whole_session(self):
        """A store that only has the protocol's four methods: authenticate refuses a
        ticket in use, and closeConnection ends the session."""

        class Plain:
            def __init__(self) -> None:
                self.inner = MemorySessionStore()

            def get(self, ticket):
                return self.inner.get(ticket)

            def put(self, session):
                self.inner.put(session)

            def delete(self, ticket):
                self.inner.delete(ticket)

            def purge(self, idle_before):
                return self.inner.purge(idle_before)

        store = Plain()
        core = Core(RecordingHandler(authenticate={"session_ticket": "same"}), store)
        assert core.authenticate("alice", "p")[:2] == ["same", ""]
        assert core.authenticate("bob", "p") == ["same", "busy"]
        assert core.close_connection("same") != "" and store.get("same") is None


class TestTranscriptsWithoutAWritePerCall:
    def test_an_open_transcript_counts_its_calls_without_its_row_written(self, tmp_path, trace):
        """Calls numbered by their session are one INSERT each; the open transcript still
        reads its count and its last call, and its end writes them into its row."""
        store = SQLStatusStore(tmp_path / "s.db")

        def entry(n: int, **extra) -> CallEntry:
            return CallEntry(
                ticket="T" * 36,
                user="u",
                company_file="",
                operation="sendRequestXML",
                at=100.0 + n,
                duration=0.0,
                number=n,
                **extra,
            )

        store.record(entry=entry(1, starts=True))
        for n in range(2, 6):
            statements = counted(trace, lambda n=n: store.record(entry=entry(n)))
            assert [s.split()[0] for s in statements] == ["INSERT"]
        (open_,) = store.sessions()
        assert (open_.call_count, open_.last_at, open_.ended) == (5, 105.0, None)
        store.record(entry=entry(6, outcome="completed"))
        ended = store.session("T" * 36)
        assert ended is not None
        assert (ended.call_count, ended.last_at, ended.ended) == (6, 106.0, 106.0)
        assert len(ended.calls) == 6
        store.close()

    def test_past_max_calls_a_call_updates_the_count_only(self):
        """max_calls=3 and calls numbered by the session: the fourth and fifth are counted,
        not kept."""
        store = MemoryStatusStore(max_calls=3)
        for n in range(1, 6):
            store.record(
                entry=CallEntry(
                    ticket="T",
                    user="u",
                    company_file="",
                    operation="receiveResponseXML",
                    at=float(n),
                    duration=0.0,
                    number=n,
                    starts=n == 1,
                )
            )
        transcript = store.session("T")
        assert transcript is not None
        assert transcript.call_count == 5 and transcript.last_at == 5.0
        assert len(transcript.calls) == 3

    def test_a_status_update_before_the_company_is_known_is_one_statement(self, tmp_path, trace):
        """authenticate's status goes to the user's latest row, found by the upsert itself."""
        store = SQLStatusStore(tmp_path / "s.db")
        store.record(update=StatusUpdate(user="u", company_file="C", values={"last_seen": 1.0}))
        statements = counted(
            trace,
            lambda: store.record(
                update=StatusUpdate(user="u", company_file=None, values={"last_seen": 2.0})
            ),
        )
        assert len(statements) == 1
        (row,) = store.statuses()
        assert (row.company_file, row.last_seen) == ("C", 2.0)
        store.close()


class TestPostgreSQLRoundTrips:
    def test_a_call_pings_its_connection_once_and_sends_no_begin_or_commit(
        self, postgres, pg_prefix
    ):
        """sendRequestXML on PostgreSQL, from the server's log: one ping for the call,
        then the session's SELECT and UPDATE, each its own transaction."""
        log = PostgresLog(postgres)
        store = SQLSessionStore(postgres.url(), prefix=pg_prefix)
        handler = RecordingHandler(authenticate={}, send_request={"request": QBXML_REQUEST})
        core = Core(handler, store)
        try:
            ticket = core.authenticate("u", "p")[0]
            mark = log.mark()
            core.send_request_xml(ticket, "", "C:\\co.qbw", "US", 13, 0)
            statements = log.since(mark)
        finally:
            log.close()
            store.close()
        assert [s.split()[0] for s in statements] == [";", "SELECT", "UPDATE"]

    def test_outside_a_call_each_use_is_pinged_once_by_an_engine_two_stores_share(
        self, postgres, pg_prefix
    ):
        """Two stores on one given engine: a use outside any call is pinged first, once,
        not once per store."""
        from sqlalchemy import create_engine

        log = PostgresLog(postgres)
        engine = create_engine(postgres.url())
        stores = [SQLSessionStore(engine, prefix=pg_prefix) for _ in range(2)]
        try:
            stores[0].put(Session(ticket="t", user="u"))
            mark = log.mark()
            stores[1].get("t")
            statements = log.since(mark)
        finally:
            log.close()
            engine.dispose()
        assert [s.split()[0] for s in statements] == [";", "SELECT"]


@pytest.fixture(params=["sqlite", "postgresql"])
def status_store(request, tmp_path):
    if request.param == "sqlite":
        store = SQLStatusStore(tmp_path / "s.db", keep_sessions=2)
    else:
        postgres = request.getfixturevalue("postgres")
        store = SQLStatusStore(
            postgres.url(), prefix=request.getfixturevalue("pg_prefix"), keep_sessions=2
        )
    yield store
    store.close()


def test_a_login_abandons_and_trims_only_when_its_insert_says_so(status_store):
    """Four logins of one user, none closed, keep_sessions=2: each older one is abandoned
    with its count and last call, and the two newest are kept."""
    for n in range(4):
        for call in range(1, 3):
            status_store.record(
                entry=CallEntry(
                    ticket=f"ticket-{n}",
                    user="u",
                    company_file="",
                    operation="authenticate" if call == 1 else "sendRequestXML",
                    at=10.0 * n + call,
                    duration=0.0,
                    number=call,
                    starts=call == 1,
                )
            )
    newest, older = status_store.sessions()
    assert (newest.ticket_prefix, newest.ended, newest.call_count) == ("ticket-3", None, 2)
    assert (older.ticket_prefix, older.outcome) == ("ticket-2", "abandoned")
    assert (older.call_count, older.last_at, older.ended) == (2, 22.0, 22.0)
    assert status_store.session("ticket-0") is None
