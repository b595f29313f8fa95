"""The storage benchmark runs and prints each row beside its floor (tiny sizes; nothing judged)."""

from __future__ import annotations

from .test_bench import run


def test_storage_benchmark_prints_the_sqlite_floors_and_postgresql(postgres):
    """Sessions and claims beside the previous release's statements; PostgreSQL claims too;
    a call's session load+save with the HCP beside the HCP saved on every call."""
    out = run(
        "bench.bench_storage",
        *("--sessions", "50", "--jobs", "40", "--repeat", "1", "--postgres", postgres.url()),
    )
    for row in (
        "session save+load, SQLite: previous sqlite3 (floor)",
        "session save+load, SQLite: SQL layer",
        "claim, SQLite: previous sqlite3 (floor)",
        "claim, SQLite: SQL layer",
        "claims, PostgreSQL, 1 process",
        "claims, PostgreSQL, 4 processes at once",
        "SQLite: HCP on every save (floor)",
        "SQLite: HCP once",
        "PostgreSQL: HCP on every save (floor)",
        "PostgreSQL: HCP once",
    ):
        assert row in out
