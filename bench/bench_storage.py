"""The session store and the job queue on the SQL layer, beside the sqlite3 code they replaced.

Run ``python -m bench.bench_storage``.

1. A session saved and loaded again (what each Web Connector call costs the
   store) on a SQLite file: the SQL layer beside the previous release's
   sqlite3 statements, kept here verbatim as the floor. Target: within 1.2x.
2. A claim (the next runnable job of a user taken, in flight) on a SQLite
   file: the same comparison, the same target.
3. Claims per second on SQLite and on PostgreSQL (a throwaway cluster from
   initdb on PATH, or ``--postgres URL``), from one process and from four
   processes claiming one user's queue at once.
4. A Web Connector call's load and save of a session that holds the HCP
   responses of a recorded QuickBooks (what every call after the first
   sendRequestXML costs the store), on SQLite and PostgreSQL: the HCP
   written once per session beside the floor of the previous release,
   which wrote it again with every call.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from qbwc_spyne import Job, JobState, Session, SQLJobQueue, SQLSessionStore
from qbwc_spyne.events import SessionState

# -- the previous release's statements (the floor) ------------------------------------------


class OldSessionStore:
    """The previous release's SQLSessionStore: one sqlite3 connection behind a lock."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()

    def get(self, ticket: str) -> Session | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT session FROM qbwc_sessions WHERE ticket = ?", (ticket,)
            ).fetchone()
        return None if row is None else Session.from_dict(json.loads(row[0]))

    def put(self, session: Session) -> None:
        text = json.dumps(session.to_dict())
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO qbwc_sessions (ticket, last_seen, session)"
                " VALUES (?, ?, ?)",
                (session.ticket, session.last_seen, text),
            )


_OLD_RUNNABLE = """
SELECT * FROM qbwc_jobs AS j
WHERE j.user = ? AND j.state IN ('pending', 'reconcile')
  AND NOT EXISTS (
    SELECT 1 FROM qbwc_job_deps AS d JOIN qbwc_jobs AS p ON p.id = d.depends_on
    WHERE d.job_id = j.id AND p.state != 'done')
"""


class OldQueue:
    """The previous release's claim: BEGIN IMMEDIATE, choose, compare-and-set, read back."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()

    def claim(
        self, *, user: str, company_file: str, ticket: str, now: float, lease: float
    ) -> Job | None:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    _OLD_RUNNABLE + " AND (j.company_file = '' OR lower(j.company_file) = lower(?))"
                    " ORDER BY j.priority DESC, j.id LIMIT 1",
                    (user, company_file),
                ).fetchone()
                if row is None:
                    conn.execute("COMMIT")
                    return None
                conn.execute(
                    "UPDATE qbwc_jobs SET state = 'in_flight',"
                    " reconciling = CASE WHEN state = 'reconcile' THEN 1 ELSE 0 END,"
                    " ticket = ?, lease_until = ?, staged_checkpoint = 'null', updated = ?"
                    " WHERE id = ? AND state = ?",
                    (ticket, now + lease, now, row["id"], row["state"]),
                )
                loaded = conn.execute(
                    "SELECT * FROM qbwc_jobs WHERE id = ?", (row["id"],)
                ).fetchone()
                deps = [
                    int(r[0])
                    for r in conn.execute(
                        "SELECT depends_on FROM qbwc_job_deps WHERE job_id = ? ORDER BY depends_on",
                        (row["id"],),
                    )
                ]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        values = dict(loaded)
        # The table is this release's: its folded company file is no field of a Job.
        values.pop("company_key", None)
        for name in ("payload", "checkpoint", "staged_checkpoint"):
            values[name] = json.loads(values[name])
        values["state"] = JobState(values["state"])
        values["reconciling"] = bool(values["reconciling"])
        values["writes"] = bool(values["writes"])
        return Job(depends_on=deps, **values)


class RewritingStore(SQLSessionStore):
    """The previous release's saves: the HCP responses written again with every call."""

    def put(self, session: Session) -> None:
        self._stored.forget(session)  # forget that the store holds them
        super().put(session)


ROOT = Path(__file__).resolve().parent.parent
HCP = (ROOT / "tests" / "data" / "traffic" / "qbxml.HCPResponse.QBPro2014.xml").read_text()


# -- measuring ------------------------------------------------------------------------------


def a_session(n: int) -> Session:
    return Session(
        ticket=f"ticket-{n % 50}",
        user="shop",
        last_seen=float(n),
        created=1.0,
        data={"page": n, "ids": ["a", "b", "c"], "note": "x" * 200},
        state=SessionState.AWAITING_RESPONSE,
        qbxml_major_version=13,
    )


def per_second(operations: int, run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return operations / (time.perf_counter() - start)


def sessions_per_second(store: Any, rounds: int) -> float:
    def run() -> None:
        for n in range(rounds):
            store.put(a_session(n))
            assert store.get(f"ticket-{n % 50}") is not None

    return per_second(rounds, run)


def calls_per_second(store: Any, calls: int, pad: int) -> float:
    """Each call: the session loaded, changed as a call changes it, saved.

    ``pad`` bytes of comment are added to the preferences response (larger
    companies' HCP responses run to tens of KB).
    """
    from qbwc_spyne._xml import split_hcp_response

    first = a_session(0)
    first.ticket = "hcp"
    host, company, prefs = split_hcp_response(HCP)
    first.host_response, first.company_response = host, company
    first.prefs_response = prefs + (f"<!--{'x' * pad}-->" if pad else "")
    store.put(first)

    def run() -> None:
        for n in range(calls):
            session = store.get("hcp")
            session.last_seen = float(n)
            session.calls += 1
            session.data["page"] = n
            session.state = SessionState.READY if n % 2 else SessionState.AWAITING_RESPONSE
            store.put(session)
        assert store.get("hcp").prefs_response == first.prefs_response

    return per_second(calls, run)


def fill(queue: Any, jobs: int) -> None:
    for n in range(jobs):
        queue.enqueue(user="shop", kind="k", payload={"order": n}, priority=n % 3)


def claims_per_second(queue: Any, jobs: int) -> float:
    def run() -> None:
        for _ in range(jobs):
            found = queue.claim(user="shop", company_file="", ticket="t", now=1.0, lease=600)
            assert found is not None

    return per_second(jobs, run)


def _claim_all(url: str, prefix: str, start: Any, out: Any) -> None:
    queue = SQLJobQueue(url, prefix=prefix, pool_size=1)
    start.wait()
    taken = 0
    while queue.claim(user="shop", company_file="", ticket="t", now=1.0, lease=600):
        taken += 1
    out.put(taken)


def concurrent_claims_per_second(url: str, prefix: str, jobs: int, processes: int) -> float:
    """Claims per second of ``processes`` processes emptying one user's queue at once."""
    fill(SQLJobQueue(url, prefix=prefix), jobs)
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(processes + 1), context.Queue()
    procs = [
        context.Process(target=_claim_all, args=(url, prefix, start, out)) for _ in range(processes)
    ]
    for proc in procs:
        proc.start()
    start.wait()
    began = time.perf_counter()
    taken = sum(out.get(timeout=600) for _ in procs)
    seconds = time.perf_counter() - began
    for proc in procs:
        proc.join()
    if taken != jobs:
        raise RuntimeError(f"{taken} claims of {jobs} jobs")
    return jobs / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=3000, help="saves+loads per run")
    parser.add_argument("--jobs", type=int, default=3000, help="claims per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the median is shown")
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a throwaway cluster)")
    parser.add_argument(
        "--hcp-kib", type=float, default=0, help="grow the recorded HCP responses to this size"
    )
    args = parser.parse_args()
    pad = max(int(args.hcp_kib * 1024) - len(HCP.encode()), 0)

    folder = Path(tempfile.mkdtemp(prefix="qbwc-bench-"))
    cluster = None
    try:
        figures: dict[str, list[float]] = {}
        for run in range(args.repeat):  # interleaved, so both sides see the same machine
            new_store = SQLSessionStore(folder / f"s-new{run}.db")
            SQLSessionStore(folder / f"s-old{run}.db").close()  # the same table
            old_store = OldSessionStore(folder / f"s-old{run}.db")
            figures.setdefault("session old", []).append(
                sessions_per_second(old_store, args.sessions)
            )
            figures.setdefault("session new", []).append(
                sessions_per_second(new_store, args.sessions)
            )
            for side, make in (("rewrite", RewritingStore), ("once", SQLSessionStore)):
                figures.setdefault(f"hcp sqlite {side}", []).append(
                    calls_per_second(make(folder / f"h-{side}{run}.db"), args.sessions, pad)
                )
            for side in ("old", "new"):
                queue = SQLJobQueue(folder / f"q-{side}{run}.db")
                fill(queue, args.jobs)
                if side == "old":
                    # The previous release's layout: without the index of waiting jobs.
                    with closing(sqlite3.connect(folder / f"q-{side}{run}.db")) as conn:
                        conn.execute("DROP INDEX qbwc_jobs_waiting")
                claimer = OldQueue(folder / f"q-{side}{run}.db") if side == "old" else queue
                figures.setdefault(f"claim {side}", []).append(
                    claims_per_second(claimer, args.jobs)
                )
        median = {name: statistics.median(values) for name, values in figures.items()}

        url = args.postgres
        if url is None and shutil.which("initdb"):
            from tests.postgres import Cluster

            cluster = Cluster()
            url = cluster.url()
        postgres: dict[str, float] = {}
        sqlite_four = concurrent_claims_per_second(
            str(folder / "four.db"), "qbwc_", args.jobs, processes=4
        )
        if url is not None:
            pg_runs = []
            for run in range(args.repeat):
                for side, make in (("rewrite", RewritingStore), ("once", SQLSessionStore)):
                    store = make(url, prefix=f"benchs{run}{side}_")
                    figures.setdefault(f"hcp pg {side}", []).append(
                        calls_per_second(store, args.sessions, pad)
                    )
                    store.close()
                pg_queue = SQLJobQueue(url, prefix=f"bench{run}_")
                fill(pg_queue, args.jobs)
                pg_runs.append(claims_per_second(pg_queue, args.jobs))
                pg_queue.close()
            postgres["one"] = statistics.median(pg_runs)
            median.update(
                {name: statistics.median(figures[name]) for name in figures if "hcp pg" in name}
            )
            postgres["four"] = concurrent_claims_per_second(
                url, "benchfour_", args.jobs, processes=4
            )

        print(f"Storage on the SQL layer, median of {args.repeat} runs (higher is better)")
        print(f"{'':44}{'per second':>12}{'us each':>10}{'vs floor':>10}")
        rows = [
            ("session save+load, SQLite: previous sqlite3 (floor)", "session old", "session old"),
            ("session save+load, SQLite: SQL layer", "session new", "session old"),
            ("claim, SQLite: previous sqlite3 (floor)", "claim old", "claim old"),
            ("claim, SQLite: SQL layer", "claim new", "claim old"),
        ]
        for label, name, floor in rows:
            rate = median[name]
            print(f"{label:44}{rate:>12,.0f}{1e6 / rate:>10.0f}{median[floor] / rate:>9.2f}x")
        print(f"{'claims, SQLite, 4 processes at once':44}{sqlite_four:>12,.0f}")
        print(
            f"A call's session load+save, with the HCP responses of a recorded QuickBooks"
            f" ({(len(HCP.encode()) + pad) / 1024:.1f} KiB{', padded' if pad else ''})"
        )
        hcp_rows = [("SQLite", "sqlite")] + ([("PostgreSQL", "pg")] if postgres else [])
        for database, key in hcp_rows:
            rewrite = median[f"hcp {key} rewrite"]
            for label, side in (("HCP on every save (floor)", "rewrite"), ("HCP once", "once")):
                per_call = median[f"hcp {key} {side}"]
                print(
                    f"{database + ': ' + label:44}{per_call:>12,.0f}"
                    f"{1e6 / per_call:>10.0f}{rewrite / per_call:>9.2f}x"
                )
        if postgres:
            print(f"{'claims, PostgreSQL, 1 process':44}{postgres['one']:>12,.0f}"
                  f"{1e6 / postgres['one']:>10.0f}")  # fmt: skip
            print(f"{'claims, PostgreSQL, 4 processes at once':44}{postgres['four']:>12,.0f}")
        else:
            print("PostgreSQL: skipped (no initdb on PATH and no --postgres URL)")
    finally:
        if cluster is not None:
            cluster.remove()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
