"""Session stores: the same behaviour in memory and in SQLite, and SQLite's persistence."""

from __future__ import annotations

import multiprocessing

import pytest

from qbwc_spyne import MemorySessionStore, Session, SessionState, SessionStore, SQLiteSessionStore


@pytest.fixture(params=["memory", "sqlite"])
def any_store(request, tmp_path) -> SessionStore:
    if request.param == "memory":
        return MemorySessionStore()
    return SQLiteSessionStore(tmp_path / "sessions.db")


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
