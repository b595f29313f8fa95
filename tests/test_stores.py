"""Session stores: the same behaviour in memory, SQLite and PostgreSQL, and their persistence."""

from __future__ import annotations

import multiprocessing

import pytest

from qbwc_spyne import (
    MemorySessionStore,
    Session,
    SessionState,
    SessionStore,
    SQLiteSessionStore,
    SQLSessionStore,
)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def any_store(request, tmp_path):
    if request.param == "memory":
        yield MemorySessionStore()
    elif request.param == "sqlite":
        yield SQLiteSessionStore(tmp_path / "sessions.db")
    else:
        postgres = request.getfixturevalue("postgres")
        store = SQLSessionStore(postgres.url(), prefix=request.getfixturevalue("pg_prefix"))
        yield store
        store.close()


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
    store = SQLiteSessionStore(path)
    loaded = store.get("t1")
    assert loaded is not None
    loaded.data["page"] = 3
    store.put(loaded)
    queue.put(loaded.user)


class TestSQLite:
    def test_sessions_survive_a_new_store_on_the_same_file(self, tmp_path):
        """A restarted server (a new store object) finds the sessions."""
        path = tmp_path / "s.db"
        first = SQLiteSessionStore(path)
        first.put(session())
        first.close()
        assert SQLiteSessionStore(path).get("t1") == session()

    def test_another_process_continues_a_session(self, tmp_path):
        """A second process reads and updates the session the first one saved."""
        path = tmp_path / "s.db"
        store = SQLiteSessionStore(path)
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

        SQLiteSessionStore(tmp_path / "s.db")
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
