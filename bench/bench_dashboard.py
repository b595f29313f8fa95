"""The dashboard at scale: its pages over 1,000 users and 100,000 jobs in a SQLite file.

Run ``python -m bench.bench_dashboard``.

The queue and the status store share one SQLite file: 1,000 users, each
with a status row, and 100,000 jobs spread over them (mostly done, some
pending, failed and unknown). Each page is rendered through the WSGI app
(werkzeug's test client, no socket), and its median time printed beside
the floor: the plain ``SELECT "user", state, count(*) ... GROUP BY`` the
connections page cannot do without, run with sqlite3 on the same file.
A search of the jobs' keys and payloads reads every row (no index holds
text inside a payload): it is printed beside the same scan done by hand.
Bulk actions are timed for one page of ticked jobs (50 cancels), and a
job's page for one that keeps a 256 KiB answer (only its head is laid out).
Target: the connections page in under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from werkzeug.test import Client

from qbwc_spyne import SQLJobQueue
from qbwc_spyne.dashboard import make_dashboard_app
from qbwc_spyne.status import SQLStatusStore
from qbwc_spyne.store._status import StatusUpdate

TOKEN = "bench-token"
#: How the jobs are spread over states, out of 100.
STATES = ["done"] * 90 + ["pending"] * 6 + ["failed"] * 3 + ["unknown"]


def fill(path: Path, users: int, jobs: int) -> tuple[SQLJobQueue, SQLStatusStore]:
    """The queue and the status store in ``path``: ``users`` status rows, ``jobs`` jobs."""
    queue = SQLJobQueue(path)
    status = SQLStatusStore(path)
    now = time.time()
    with closing(sqlite3.connect(path)) as conn, conn:
        # Straight into the table: a hundred thousand enqueues would measure enqueue.
        conn.executemany(
            "INSERT INTO qbwc_jobs (user, kind, payload, company_file, priority, state, attempts,"
            " reconciling, writes, pages, checkpoint, staged_checkpoint, error_code,"
            " error_message, created, updated)"
            " VALUES (?, 'add_invoice', ?, '', 0, ?, 1, 0, 1, 0, 'null', 'null', ?, ?, ?, ?)",
            (
                (
                    f"user{n % users:04d}",
                    json.dumps({"customer": f"Customer {n}"}),
                    state,
                    "3140" if state == "failed" else None,
                    "There is an invalid reference" if state == "failed" else None,
                    now - n,
                    now - n,
                )
                for n, state in ((n, STATES[n % len(STATES)]) for n in range(jobs))
            ),
        )
    conn.close()
    for n in range(users):
        status.record(
            update=StatusUpdate(
                user=f"user{n:04d}",
                company_file=f"C:\\Companies\\Company {n}.qbw",
                values={
                    "last_seen": now - n,
                    "last_success": now - n,
                    "product": "QuickBooks Enterprise Solutions 24.0",
                    "qb_version": "34.0",
                    "client_version": "2.3.0.215",
                },
            )
        )
    return queue, status


def median_ms(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dashboard.db"
        queue, status = fill(path, args.users, args.jobs)
        app = make_dashboard_app(queue, status=status, token=TOKEN)
        client = Client(app)
        headers = {"Authorization": f"Bearer {TOKEN}"}

        def page(url: str) -> Callable[[], object]:
            def get() -> object:
                answer = client.get(url, headers=headers)
                assert answer.status_code == 200, (url, answer.status_code)
                return answer.data

            return get

        conn = sqlite3.connect(path)
        # One job keeps a whole 256 KiB answer: its page lays out only the head.
        rets = "".join(f"<CustomerRet><Name>c{n}</Name></CustomerRet>" for n in range(7000))
        with conn:
            conn.execute(
                "UPDATE qbwc_jobs SET response = ? WHERE id = 1",
                (f"<QBXML><QBXMLMsgsRs><CustomerQueryRs>{rets}</CustomerQueryRs>"
                 "</QBXMLMsgsRs></QBXML>",),
            )  # fmt: skip
        pending = [
            row[0]
            for row in conn.execute("SELECT id FROM qbwc_jobs WHERE state = 'pending' ORDER BY id")
        ]
        batches = iter([pending[n : n + 50] for n in range(0, len(pending), 50)])

        def bulk_cancel() -> object:
            answer = client.post(
                "/jobs/bulk", data={"action": "cancel", "job": next(batches)}, headers=headers
            )
            assert answer.status_code == 200, answer.status_code
            return answer.data

        def scan() -> object:
            return conn.execute(
                "SELECT count(*) FROM qbwc_jobs WHERE payload LIKE '%nowhere%'"
            ).fetchall()

        def floor() -> object:
            return conn.execute(
                'SELECT "user", state, count(*) FROM qbwc_jobs GROUP BY "user", state'
            ).fetchall()

        def counted() -> object:
            # What the counts need: a replaced job's work is its replacement's.
            return conn.execute(
                'SELECT "user", state, count(*) FROM qbwc_jobs WHERE replaced_by IS NULL'
                ' GROUP BY "user", state'
            ).fetchall()

        size = len(client.get("/", headers=headers).data)
        rows = [
            ("connections page", median_ms(page("/"), args.repeat)),
            ("  floor: SELECT ... GROUP BY user, state", median_ms(floor, args.repeat)),
            ("  the same WHERE replaced_by IS NULL", median_ms(counted, args.repeat)),
            ("jobs page 1 (newest 50)", median_ms(page("/jobs"), args.repeat)),
            (
                "jobs page 10^30 (past the end)",
                median_ms(page("/jobs?page=" + "1" + "0" * 30), args.repeat),
            ),
            (
                "failed jobs of one user",
                median_ms(page("/jobs?user=user0007&state=failed"), args.repeat),
            ),
            ("one job", median_ms(page(f"/jobs/{args.jobs // 2}"), args.repeat)),
            ("one job with a 256 KiB answer", median_ms(page("/jobs/1"), args.repeat)),
            (
                "search: one customer (1 match)",
                median_ms(page('/jobs?q=Customer 4711"'), args.repeat),
            ),
            ("search: no match", median_ms(page("/jobs?q=nowhere"), args.repeat)),
            ("  floor: SELECT count(*) ... LIKE (a scan)", median_ms(scan, args.repeat)),
            ("bulk: cancel 50 ticked jobs", median_ms(bulk_cancel, min(args.repeat, 5))),
        ]
        conn.close()
        queue.close()
        status.close()

    print(
        f"Dashboard over {args.users:,} users and {args.jobs:,} jobs (SQLite file),"
        f" median of {args.repeat}; connections page {size / 1024:.0f} KiB of HTML"
    )
    print(f"| {'page':<42} | {'time':>9} |")
    print(f"|{'-' * 44}|{'-' * 11}|")
    for name, ms in rows:
        print(f"| {name:<42} | {ms:>6.1f} ms |")
    verdict = "met" if rows[0][1] < 300 else "MISSED"
    print(f"Target: the connections page under 300 ms: {verdict}.")


if __name__ == "__main__":
    main()
