"""Statements per Web Connector call over the demo's update, counted by the database itself.

The demo's update (23 customers in pages of 5, then an invoice: 16 calls)
runs through the real app on SQLite files, then on PostgreSQL (a throwaway
cluster when initdb is on PATH, or ``--postgres``, whose server must log to
a file we can read: only the throwaway cluster is supported for counting),
with and without a status recorder. SQLite counts with its trace callback,
PostgreSQL with its statement log (``log_statement = all``); see
tests/round_trips.py. Each figure is beside its target: at most 3 statements
a call on average without a status recorder, 5 with one.

Run: python -m bench.bench_roundtrips [--breakdown]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from tests.round_trips import (
    TARGET,
    Counted,
    PostgresLog,
    SQLiteTrace,
    demo_update,
    postgres_backend,
    sqlite_backend,
)

#: How psycopg's liveness check of a pooled connection shows in PostgreSQL's log.
PING = ";"


def row(backend: str, status: bool, counted: Counted) -> None:
    per = counted.per_operation()
    cells = "".join(f"{per.get(op, 0):>7.1f}" for op in OPERATIONS)
    pings = sum(s.strip() == PING for call in counted.statements for s in call)
    pings_per_call = pings / len(counted.statements)
    # The target is on statements; the ping is a round trip too, shown apart
    # so that neither figure hides in the other.
    statements = counted.average - pings_per_call
    judged = "ok" if statements <= TARGET[status] else "OVER"
    print(
        f"{backend:<11}{'yes' if status else 'no':<8}{cells}"
        f"{counted.average:>9.2f}{pings_per_call:>7.2f}{statements:>12.2f}"
        f"{TARGET[status]:>8.0f}  {judged}"
    )


OPERATIONS = ("authenticate", "sendRequestXML", "receiveResponseXML", "closeConnection")
HEADS = ("auth", "send", "receive", "close")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--breakdown", action="store_true", help="print each call's statements too")
    parser.add_argument(
        "--no-postgres", action="store_true", help="SQLite only, even when initdb is on PATH"
    )
    args = parser.parse_args(argv)
    results: list[tuple[str, bool, Counted]] = []
    with tempfile.TemporaryDirectory(prefix="qbwc-bench-rt-") as scratch:
        with SQLiteTrace().installed() as trace:
            for status in (False, True):
                folder = Path(scratch) / f"sqlite-{status}"
                results.append(
                    ("SQLite", status, demo_update(sqlite_backend(folder, trace), status=status))
                )
        if not args.no_postgres and shutil.which("initdb"):
            from tests.postgres import Cluster

            cluster = Cluster()
            log = PostgresLog(cluster)
            try:
                for status in (False, True):
                    stores = postgres_backend(cluster.url(), f"rt{int(status)}_", log)
                    results.append(("PostgreSQL", status, demo_update(stores, status=status)))
            finally:
                log.close()
                cluster.remove()
    calls = len(results[0][2].counts)
    print(f"Statements per Web Connector call, the demo's update ({calls} calls)")
    print(
        f"{'database':<11}{'status':<8}"
        + "".join(f"{head:>7}" for head in HEADS)
        + f"{'average':>9}{'pings':>7}{'statements':>12}{'target':>8}"
    )
    for backend, status, counted in results:
        row(backend, status, counted)
    if len(results) == 2:
        print("PostgreSQL: skipped (--no-postgres, or no initdb on PATH)")
    print(
        "(average: every round trip a call makes, BEGIN and COMMIT included; serverVersion"
        " and clientVersion, 0 each, count in it. pings: the pooled connection's liveness"
        " check, once a call on PostgreSQL. statements: the rest, judged against the target)"
    )
    if args.breakdown:
        for backend, status, counted in results:
            print(f"\n{backend}, status recorder: {'yes' if status else 'no'}")
            print(counted.breakdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
