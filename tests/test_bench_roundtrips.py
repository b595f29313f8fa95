"""The round-trip benchmark runs and prints its rows (SQLite only here; nothing judged)."""

from __future__ import annotations

from .test_bench import run


def test_round_trip_benchmark_prints_each_operation_beside_the_target():
    """Both SQLite rows, with and without a status recorder, and each call's statements."""
    out = run("bench.bench_roundtrips", "--no-postgres", "--breakdown")
    assert "the demo's update (16 calls)" in out
    for row in ("SQLite     no", "SQLite     yes", "16. closeConnection"):
        assert row in out
    assert "PostgreSQL: skipped" in out
