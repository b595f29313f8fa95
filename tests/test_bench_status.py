"""The status benchmark runs and prints its rows (tiny sizes; nothing judged)."""

from __future__ import annotations

from .test_bench import run


def test_status_benchmark_prints_the_views_and_the_recorders_cost(postgres):
    """Counts and the status page on SQLite and PostgreSQL; an update with and without."""
    out = run(
        "bench.bench_status",
        *("--users", "20", "--jobs", "200", "--update-jobs", "3", "--repeat", "1"),
        *("--postgres", postgres.url()),
    )
    for row in ("20 users, 200 jobs", "SQLite", "PostgreSQL", "with StatusRecorder"):
        assert row in out
