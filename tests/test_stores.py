"""Session stores: the same behaviour in memory, SQLite and PostgreSQL, and their persistence."""

from __future__ import annotations

import dataclasses
import inspect
import json
import multiprocessing
import warnings

import pytest
from sqlalchemy import text

import qbwc_spyne
from qbwc_spyne import Session, SQLSessionStore, _deprecation
from qbwc_spyne._xml import split_hcp_response
from qbwc_spyne.events import SessionState
from qbwc_spyne.exceptions import NotAQueueDatabaseError, SchemaVersionError, StorageError
from qbwc_spyne.protocol._core import Core
from qbwc_spyne.protocol._session import HCP_FIELDS, hcp_of
from qbwc_spyne.status import SQLStatusStore
from qbwc_spyne.store._sql import Database
from qbwc_spyne.store._stores import StoredHCP
from qbwc_spyne.stores import SessionStore

from .helpers import QBXML_REQUEST, TRAFFIC, RecordingHandler


def session(ticket: str = "t1", last_seen: float = 100.0) -> Session:
    return Session(
        ticket=ticket,
        user="u",
        last_seen=last_seen,
        created=50.0,
        data={"page": 2, "ids": ["a"]},
        state=SessionState.AWAITING_RESPONSE,
        qbxml_major_version=13,
    )


class TestEveryStore:
    def test_put_then_get_returns_an_equal_copy(self, any_store):
        """A session comes back equal, state and data included, but not the same object."""
        original = session()
        any_store.put(original)
        loaded = any_store.get("t1")
        assert loaded == original and loaded is not original
        loaded.data["page"] = 3
        assert any_store.get("t1").data["page"] == 2

    def test_put_replaces_and_delete_forgets(self, any_store):
        """A second put under one ticket replaces the first; delete is idempotent."""
        any_store.put(session())
        changed = session()
        changed.last_error = "x"
        any_store.put(changed)
        assert any_store.get("t1").last_error == "x"
        any_store.delete("t1")
        any_store.delete("t1")
        assert any_store.get("t1") is None

    def test_purge_deletes_only_idle_sessions(self, any_store):
        """purge(before) removes sessions last seen before that time and counts them."""
        any_store.put(session("old", last_seen=10.0))
        any_store.put(session("new", last_seen=500.0))
        assert any_store.purge(100.0) == 1
        assert any_store.get("old") is None and any_store.get("new") is not None

    def test_non_json_data_is_refused(self, any_store):
        """Both stores refuse what SQLite could not keep, so tests catch it in memory."""
        bad = session()
        bad.data["when"] = object()
        with pytest.raises(TypeError):
            any_store.put(bad)

    def test_stores_satisfy_the_protocol(self, any_store):
        """Both backends are SessionStores."""
        assert isinstance(any_store, SessionStore)


def _continue_in_child(path: str, queue) -> None:
    store = SQLSessionStore(path)
    loaded = store.get("t1")
    assert loaded is not None
    loaded.data["page"] = 3
    store.put(loaded)
    queue.put(loaded.user)


class TestSQLite:
    def test_sessions_survive_a_new_store_on_the_same_file(self, tmp_path):
        """A restarted server (a new store object) finds the sessions."""
        path = tmp_path / "s.db"
        first = SQLSessionStore(path)
        first.put(session())
        first.close()
        assert SQLSessionStore(path).get("t1") == session()

    def test_another_process_continues_a_session(self, tmp_path):
        """A second process reads and updates the session the first one saved."""
        path = tmp_path / "s.db"
        store = SQLSessionStore(path)
        store.put(session())
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=_continue_in_child, args=(str(path), queue))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert queue.get(timeout=5) == "u"
        continued = store.get("t1")
        assert continued is not None and continued.data["page"] == 3

    def test_uses_wal_mode(self, tmp_path):
        """WAL lets several worker processes read while one writes."""
        import sqlite3
        from contextlib import closing

        SQLSessionStore(tmp_path / "s.db")
        with closing(sqlite3.connect(tmp_path / "s.db")) as db:
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def _continue_after_fork(store: SQLSessionStore, queue) -> None:
    # The parent's pooled connections are not this process's: the store must open its own.
    loaded = store.get("t1")
    assert loaded is not None
    loaded.data["page"] = 3
    store.put(loaded)
    queue.put(loaded.user)


class TestPostgreSQL:
    def test_a_session_begun_on_one_host_continues_on_another(self, postgres, pg_prefix):
        """Two stores (two hosts' engines) on one database: each sees the other's saves."""
        hosts = [SQLSessionStore(postgres.url(), prefix=pg_prefix) for _ in range(2)]
        try:
            hosts[0].put(session())
            moved = hosts[1].get("t1")
            assert moved is not None and moved == session()
            moved.data["page"] = 9
            hosts[1].put(moved)
            assert getattr(hosts[0].get("t1"), "data", None) == {**session().data, "page": 9}
            hosts[1].delete("t1")
            assert hosts[0].get("t1") is None
        finally:
            for store in hosts:
                store.close()

    def test_a_forked_worker_opens_its_own_connections(self, postgres, pg_prefix):
        """A store used before fork (as gunicorn's preload does) works in the child and after."""
        store = SQLSessionStore(postgres.url(), prefix=pg_prefix)
        try:
            store.put(session())
            context = multiprocessing.get_context("fork")
            queue = context.Queue()
            child = context.Process(target=_continue_after_fork, args=(store, queue))
            child.start()
            child.join(60)
            assert child.exitcode == 0
            assert queue.get(timeout=5) == "u"
            after = store.get("t1")  # the parent's pool still works
            assert after is not None and after.data["page"] == 3
        finally:
            store.close()


HCP = (TRAFFIC / "qbxml.HCPResponse.QBPro2014.xml").read_text()
SPLIT_HCP = split_hcp_response(HCP)


class Workers:
    """Stores on one SQL database, as worker processes open them, and raw SQL on it."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.db = Database(url, prefix=prefix)
        self.opened: list[SQLSessionStore] = []

    def store(self, **options) -> SQLSessionStore:
        self.opened.append(SQLSessionStore(self.url, prefix=self.prefix, **options))
        return self.opened[-1]

    def sql(self, statement: str, **params) -> list[tuple]:
        """Run ``statement`` ({t}: the sessions table) in its own transaction."""

        def work(conn):
            result = conn.execute(text(statement.format(t=f"{self.prefix}sessions")), params)
            return [tuple(row) for row in result] if result.returns_rows else []

        return self.db.run(work, what="test")

    def count_hcp_writes(self) -> None:
        """Count, in a table of the test's, each statement that sets a row's hcp column."""
        counter, table = f"{self.prefix}hcp_writes", f"{self.prefix}sessions"
        self.sql(f"CREATE TABLE {counter} (n INTEGER)")
        if self.db.sqlite:
            self.sql(
                f"CREATE TRIGGER {counter}_t AFTER UPDATE OF hcp ON {table}"
                f" BEGIN INSERT INTO {counter} VALUES (1); END"
            )
            return
        self.sql(
            f"CREATE FUNCTION {counter}_f() RETURNS trigger LANGUAGE plpgsql AS"
            f" $$ BEGIN INSERT INTO {counter} VALUES (1); RETURN NULL; END $$"
        )
        self.sql(
            f"CREATE TRIGGER {counter}_t AFTER UPDATE OF hcp ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {counter}_f()"
        )

    def hcp_writes(self) -> int:
        return len(self.sql(f"SELECT n FROM {self.prefix}hcp_writes"))

    def close(self) -> None:
        for store in self.opened:
            store.close()
        self.db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def workers(request, tmp_path):
    if request.param == "sqlite":
        url, prefix = f"sqlite:///{tmp_path / 'sessions.db'}", "qbwc_"
    else:
        url = request.getfixturevalue("postgres").url()
        prefix = request.getfixturevalue("pg_prefix")
    made = Workers(url, prefix)
    yield made
    made.close()


def hcp_handler(seen: list) -> RecordingHandler:
    """Sends a request each time, counts the sends in ``data``, records the HCP it is given."""

    def send_request(event) -> None:
        seen.append((event.host_response, event.company_response, event.prefs_response))
        event.session.data["sends"] = event.session.data.get("sends", 0) + 1
        event.request = QBXML_REQUEST

    return RecordingHandler(
        authenticate={}, send_request=send_request, receive_response={"percent_done": 50}
    )


def one_call_pair(core: Core, ticket: str, hcp: str = "") -> None:
    assert core.send_request_xml(ticket, hcp, "C:\\co.qbw", "US", 13, 0) == QBXML_REQUEST
    assert core.receive_response_xml(ticket, "<QBXML/>", "", "") == 50


class TestHCPSavedOnce:
    def test_the_hcp_is_written_by_the_first_call_and_not_again(self, workers):
        """Over a session of five call pairs, the database counts one write of the HCP
        column (a trigger counts them), and every call's handler is given the HCP."""
        seen: list = []
        core = Core(hcp_handler(seen), workers.store())
        workers.count_hcp_writes()
        ticket = core.authenticate("u", "p")[0]
        one_call_pair(core, ticket, HCP)
        [(written,)] = workers.sql("SELECT hcp FROM {t} WHERE ticket = :t", t=ticket)
        assert tuple(json.loads(written)) == SPLIT_HCP
        for _ in range(4):
            one_call_pair(core, ticket)
        assert workers.hcp_writes() == 1
        assert seen == [SPLIT_HCP] * 5
        assert workers.store().get(ticket).data == {"sends": 5}

    def test_the_rest_of_the_row_leaves_the_hcp_out(self, workers):
        """The session column, rewritten on every call, does not carry the HCP responses."""
        core = Core(hcp_handler([]), workers.store())
        ticket = core.authenticate("u", "p")[0]
        one_call_pair(core, ticket, HCP)
        [(saved,)] = workers.sql("SELECT session FROM {t} WHERE ticket = :t", t=ticket)
        assert not set(HCP_FIELDS) & set(json.loads(saved)) and len(saved) < 1000

    def test_a_second_worker_sees_each_calls_change(self, workers):
        """Two workers on one database take turns at a session's calls: each call's change
        (state, handler data, the HCP from the first call) is what the next call loads."""
        seen: list = []
        handler = hcp_handler(seen)
        cores = [Core(handler, workers.store()), Core(handler, workers.store())]
        reader = workers.store()
        ticket = cores[0].authenticate("u", "p")[0]
        for n in range(4):
            sender, receiver = cores[n % 2], cores[(n + 1) % 2]
            hcp = HCP if n == 0 else ""
            assert sender.send_request_xml(ticket, hcp, "co.qbw", "US", 13, 0) == QBXML_REQUEST
            after_send = reader.get(ticket)
            assert after_send.state is SessionState.AWAITING_RESPONSE
            assert after_send.data == {"sends": n + 1}
            assert after_send.host_response == SPLIT_HCP[0]
            assert receiver.receive_response_xml(ticket, "<QBXML/>", "", "") == 50
            after_receive = reader.get(ticket)
            assert after_receive.state is SessionState.READY
            assert after_receive.calls == 2 * n + 3
        assert seen == [SPLIT_HCP] * 4
        assert handler.errors == []

    def test_a_session_deleted_while_loaded_is_saved_whole(self, workers):
        """Another worker deletes the row between a load and a save: the save writes the
        HCP responses again, not a row without them."""
        first, second = workers.store(), workers.store()
        whole = session()
        whole.host_response, whole.company_response, whole.prefs_response = "h", "c", "p"
        first.put(whole)
        loaded = first.get("t1")
        second.delete("t1")
        loaded.last_error = "x"
        first.put(loaded)
        again = second.get("t1")
        assert (again.host_response, again.company_response, again.prefs_response) == (
            "h",
            "c",
            "p",
        )
        assert again.last_error == "x"

    def test_a_handler_that_replaces_the_hcp_gets_it_saved(self, workers):
        """Changed HCP responses (a handler's own doing) are written at the next save."""
        store = workers.store()
        store.put(session())
        loaded = store.get("t1")
        loaded.prefs_response = "<PreferencesRet/>"
        store.put(loaded)
        assert workers.store().get("t1").prefs_response == "<PreferencesRet/>"

    def test_a_row_of_schema_version_3_loads_and_moves_to_the_new_column(self, workers):
        """A session saved by the previous release (the HCP inside the session JSON, no
        hcp column) is refused until upgraded, then loads whole; its next save moves the
        HCP to its column and it still loads whole."""
        workers.store().close()  # the tables, at this release's version
        workers.sql("ALTER TABLE {t} DROP COLUMN hcp")
        # A new database records only its own version: make it version 3's.
        workers.sql(f"UPDATE {workers.prefix}schema_version SET version = 3")
        old = session()
        old.host_response, old.company_response, old.prefs_response = "<H/>", "<C/>", "<P/>"
        workers.sql(
            "INSERT INTO {t} (ticket, last_seen, session) VALUES ('t1', 100, :s)",
            s=json.dumps(old.to_dict()),
        )
        with pytest.raises(SchemaVersionError) as caught:
            workers.store()
        assert caught.value.found == 3
        store = workers.store(upgrade=True)
        loaded = store.get("t1")
        assert loaded == old
        assert workers.sql("SELECT hcp FROM {t}") == [(None,)]
        loaded.data["page"] = 3
        store.put(loaded)
        [(hcp, saved)] = workers.sql("SELECT hcp, session FROM {t}")
        assert json.loads(hcp) == ["<H/>", "<C/>", "<P/>"]
        assert "host_response" not in json.loads(saved)
        assert workers.store().get("t1") == Session(
            **{**vars(old), "data": {**old.data, "page": 3}}
        )


class TestSessionValue:
    def test_what_the_store_last_saw_is_not_part_of_the_value(self, tmp_path):
        """A loaded session equals a new one with the same fields; to_dict leaves the
        store's record of the HCP out."""
        store = SQLSessionStore(tmp_path / "s.db")
        store.put(session())
        loaded = store.get("t1")
        assert loaded == session() and repr(loaded) == repr(session())
        assert loaded.to_dict() == session().to_dict()
        # The store keeps its record itself: the session holds its fields and nothing else.
        assert set(vars(loaded)) == {f.name for f in dataclasses.fields(Session)}
        assert set(loaded.to_dict()) == set(vars(loaded))

    def test_to_dict_can_leave_the_hcp_out(self):
        """to_dict(hcp=False): every field but the three HCP responses."""
        values = session().to_dict(hcp=False)
        assert set(values) == set(session().to_dict()) - set(HCP_FIELDS)
        assert Session.from_dict(values) == session()


class TestStoredHCP:
    """The store's own record of the HCP responses it last loaded or saved, by session object."""

    def test_a_loaded_session_is_saved_without_its_hcp_and_a_copy_with_it(self, workers):
        """The record is of the object: the one the store gave out saves the small rest;
        an equal session built anew is saved whole (the store cannot know it holds them)."""
        store = workers.store()
        first = session()
        first.host_response = "<H/>"
        store.put(first)
        workers.count_hcp_writes()
        loaded = store.get("t1")
        loaded.data["page"] = 2
        store.put(loaded)
        assert workers.hcp_writes() == 0
        fresh = Session.from_dict(loaded.to_dict())
        assert fresh == loaded
        store.put(fresh)
        assert workers.hcp_writes() == 1
        store.put(fresh)  # now the store has seen this one's
        assert workers.hcp_writes() == 1

    def test_the_record_goes_with_the_session(self, tmp_path):
        """A session freed is forgotten: the record holds the sessions in use, no more."""
        store = SQLSessionStore(tmp_path / "s.db")
        store.put(session())
        held = [store.get("t1") for _ in range(50)]
        assert len(store._stored) == 50
        del held
        assert len(store._stored) == 0

    def test_a_new_session_at_a_freed_sessions_address_is_not_taken_for_it(self):
        """An id can be reused once its object is gone: by then its entry is gone too."""
        stored = StoredHCP()
        for n in range(200):
            one = session(f"t{n}")
            assert stored.changed(one) == hcp_of(one)
            stored.stored(one, hcp_of(one))
            assert stored.changed(one) is None
            del one
            two = session(f"u{n}")  # often at the same address as the one just freed
            assert stored.changed(two) == hcp_of(two)
        assert len(stored) == 0

    def test_a_replaced_hcp_is_seen_and_forget_starts_over(self):
        """A handler's new HCP text is a change; forget() makes the next save write them."""
        stored, one = StoredHCP(), session()
        stored.stored(one, hcp_of(one))
        one.company_response = "<C/>"
        assert stored.changed(one) == hcp_of(one)
        stored.stored(one, hcp_of(one))
        stored.forget(one)
        assert stored.changed(one) == hcp_of(one)


class TestConstructor:
    def test_create_false_refuses_a_database_without_the_tables(self, tmp_path):
        """create=False, as for the queue and the status store: nothing is written."""
        with pytest.raises(StorageError):
            SQLSessionStore(tmp_path / "new.db", create=False)
        assert not (tmp_path / "new.db").exists()
        SQLSessionStore(tmp_path / "new.db").put(session())
        assert SQLSessionStore(tmp_path / "new.db", create=False).get("t1") == session()

    def test_every_sql_store_takes_the_same_parameters(self):
        """target, then prefix, create, upgrade, timeout and pool_size, keywords only."""
        agreed = ["target", "prefix", "create", "upgrade", "timeout", "pool_size"]
        for store in (SQLSessionStore, SQLStatusStore):
            parameters = inspect.signature(store).parameters
            assert list(parameters)[: len(agreed)] == agreed, store
            assert all(
                parameters[name].kind is inspect.Parameter.KEYWORD_ONLY for name in agreed[1:]
            )
        assert SQLStatusStore("sqlite:///:memory:", pool_size=2, timeout=1.0).statuses() == []

    def test_sqlite_session_store_is_a_deprecated_alias(self, tmp_path, monkeypatch):
        """The old name still works, as the SQL store, and says once where it went."""
        monkeypatch.setattr(_deprecation, "warned", set())
        with pytest.warns(DeprecationWarning, match=r"SQLiteSessionStore.*stores\.SQLSessionStore"):
            old = qbwc_spyne.SQLiteSessionStore
        assert old is SQLSessionStore
        store = old(tmp_path / "s.db", timeout=1.0, upgrade=False, prefix="qbwc_")
        store.put(session())
        assert store.get("t1") == session()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            again = qbwc_spyne.SQLiteSessionStore  # once a process
        assert again is SQLSessionStore

    def test_the_status_store_without_create_writes_no_file(self, tmp_path):
        """A missing file is refused as an empty one is, and is not made."""
        for name in ("missing.db", "empty.db"):
            if name == "empty.db":
                (tmp_path / name).touch()
            with pytest.raises(NotAQueueDatabaseError):
                SQLStatusStore(tmp_path / name, create=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
        assert (tmp_path / "empty.db").read_bytes() == b""
