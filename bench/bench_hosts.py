"""Web Connector sessions per second: SQLite on one host, PostgreSQL on one, two, three.

Run ``python -m bench.bench_hosts`` (about 8 minutes; ``--quick`` for about two).

Each host is gunicorn (2 gthread workers, 8 threads each) serving
tests/hosts_app.py on its own loopback address (127.0.0.2-4), all sharing one
database: a SQLite file, or a throwaway PostgreSQL cluster made with initdb
from PATH (or ``--postgres URL``). For each setting and each number of
concurrent connectors (1, 50, 200), every session is one complete update of
:class:`qbwc_spyne.testing.WebConnector` over HTTP, as its own user with its
own fake QuickBooks company, ``--jobs`` customer writes enqueued for it
before the clock starts; each call goes to a host chosen at random (a load
balancer without stickiness). Each connector runs sessions one after another
until the setting's bounded count is done.

Printed side by side: sessions per second, p50/p99 latency of a call as the
connector sees it, errors, and where the CPU went (the load generator, the
hosts, PostgreSQL, and everything else on the machine) in cores busy, which
shows what limits the figure. For 200 connectors the hosts also time every
claim: claims per second and the p50/p99 of a claim inside the server.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from qbwc_spyne import JobState, SQLJobQueue
from qbwc_spyne.testing import FakeQuickBooks, WebConnector
from tests.hosts import ADDRESSES, Host, connector, serving

TICK = os.sysconf("SC_CLK_TCK")


# -- where the CPU went -----------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) "


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its live children, with the children it has reaped."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        fields = _stat(pid)
        if fields is None:
            continue
        # utime, stime; for the root also cutime, cstime (children that exited).
        used = sum(int(f) for f in fields[11 : 15 if pid == root else 13])
        total += used / TICK
        todo.extend(children.get(pid, []))
    return total


def machine_busy() -> float:
    """CPU seconds every core of the machine has spent not idle, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICK  # less idle and iowait


@dataclass
class Cpu:
    """CPU seconds per party, read before and after a run."""

    roots: dict[str, list[int]]
    start: dict[str, float] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        times = os.times()
        seen = {"generator": times.user + times.system, "machine": machine_busy()}
        for name, pids in self.roots.items():
            seen[name] = sum(tree_cpu(pid) for pid in pids)
        return seen

    def __enter__(self) -> Cpu:
        self.start = self.read()
        return self

    def cores(self, seconds: float) -> dict[str, float]:
        """Cores busy per party since the start, over ``seconds`` of wall time."""
        end = self.read()
        busy = {name: (end[name] - self.start[name]) / seconds for name in end}
        busy["other"] = busy.pop("machine") - sum(busy.values())
        return busy

    def __exit__(self, *exc: object) -> None:
        pass


# -- one run ----------------------------------------------------------------------------------


@dataclass
class Run:
    """The figures of one setting under one number of connectors."""

    setting: str
    connectors: int
    sessions: int
    ok: int
    seconds: float
    calls: list[float]
    cores: dict[str, float]
    claims: list[tuple[float, float]]

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds


def enqueue(url: str, prefix: str, users: list[str], jobs: int) -> None:
    queue = SQLJobQueue(url, prefix=prefix)
    try:
        for user in users:
            for k in range(jobs):
                name = f"{user} customer {k}"
                queue.enqueue(user=user, kind="add_customer", payload={"name": name}, key=name)
    finally:
        queue.close()


def read_claims(folder: Path, since: float, until: float) -> list[tuple[float, float]]:
    """(seconds, CPU seconds of its thread) of each claim the hosts logged between
    ``since`` and ``until``."""
    took = []
    for log in folder.glob("*.txt"):
        for line in log.read_text().splitlines():
            at, seconds, cpu = line.split()
            if since <= float(at) <= until:
                took.append((float(seconds), float(cpu)))
    return took


def run_sessions(
    hosts: list[Host],
    users: list[str],
    connectors: int,
    jobs: int,
    rng: random.Random,
) -> tuple[int, list[float], float]:
    """Each connector takes the next user and runs its update, until none is left.

    Returns: sessions that ended "ok" with every job written, call latencies, wall seconds.
    """
    todo = iter(users)
    lock = threading.Lock()
    latencies: list[float] = []
    ok = 0
    # Built before the clock starts: a zeep client reads the WSDL, which a real
    # Web Connector does once.
    clients = [
        connector(hosts, "", FakeQuickBooks(), random.Random(rng.random()))
        for _ in range(connectors)
    ]

    def work(wc: WebConnector) -> None:
        nonlocal ok
        while True:
            with lock:
                user = next(todo, None)
            if user is None:
                return
            wc.user, wc.quickbooks = user, FakeQuickBooks()
            try:
                result = wc.update()
            except Exception as exc:  # counted as an error: the session did not complete
                print(f"  {user}: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
                continue
            written = len(wc.quickbooks.records["Customer"])
            with lock:
                latencies.extend(call.seconds for call in result.calls)
                ok += result.status == "ok" and written == jobs

    threads = [threading.Thread(target=work, args=(wc,)) for wc in clients]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ok, latencies, time.perf_counter() - began


def measure(
    name: str,
    url: str,
    addresses: tuple[str, ...],
    args: argparse.Namespace,
    folder: Path,
    rng: random.Random,
    database: int | None = None,
) -> list[Run]:
    """Serve ``url`` from one host per address; run each number of connectors against them.

    ``database`` is the PostgreSQL server's process id, when it runs here.
    """
    prefix = f"b{len(addresses)}{url[:4]}_"
    claims = folder / f"claims-{prefix}"
    claims.mkdir()
    runs = []
    env = {"QBWC_BENCH_CLAIMS": str(claims)}
    with serving(url, prefix, addresses=addresses, env=env) as hosts:
        roots = {"hosts": [h.process.pid for h in hosts]}
        if database is not None:
            roots["postgres"] = [database]
        cpu = Cpu(roots)
        for connectors in args.connectors:
            sessions = max(connectors * args.rounds, args.at_least)
            users = [f"{prefix}c{connectors}u{n:05d}" for n in range(sessions)]
            enqueue(url, prefix, users, args.jobs)
            since = time.time()
            with cpu:
                ok, latencies, seconds = run_sessions(hosts, users, connectors, args.jobs, rng)
                cores = cpu.cores(seconds)
            took = read_claims(claims, since, time.time())
            runs.append(Run(name, connectors, sessions, ok, seconds, latencies, cores, took))
            print(f"  {name}, {connectors} connectors: {ok / seconds:.1f} sessions/s", flush=True)
        queue = SQLJobQueue(url, prefix=prefix)
        twice = [j for j in queue.jobs() if j.state is not JobState.DONE or j.attempts != 1]
        queue.close()
        if twice:
            raise RuntimeError(f"{name}: {len(twice)} jobs not done exactly once")
    return runs


def quantile(values: list[float], q: int) -> float:
    """The ``q``-th percentile of ``values``."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(runs: list[Run]) -> None:
    print()
    print("Complete Web Connector sessions over HTTP (higher is better); call latency in ms;")
    print("CPU in cores busy during the run (gen = load generator, pg = PostgreSQL).")
    print(
        f"{'setting':24}{'conn':>5}{'sessions':>9}{'errors':>7}{'sess/s':>8}{'vs 1 host':>10}"
        f"{'p50':>7}{'p99':>8}{'gen':>6}{'hosts':>6}{'pg':>6}{'other':>6}{'total':>6}"
    )
    base = {r.connectors: r.per_second for r in runs if r.setting == "PostgreSQL, 1 host"}
    for r in runs:
        c = r.cores
        scale = r.per_second / base[r.connectors] if r.connectors in base else float("nan")
        pg = c.get("postgres", 0.0)
        print(
            f"{r.setting:24}{r.connectors:>5}{r.sessions:>9}{r.sessions - r.ok:>7}"
            f"{r.per_second:>8.1f}{scale:>9.2f}x"
            f"{quantile(r.calls, 50) * 1e3:>7.1f}{quantile(r.calls, 99) * 1e3:>8.1f}"
            f"{c['generator']:>6.2f}{c['hosts']:>6.2f}{pg:>6.2f}{c['other']:>6.2f}"
            f"{c['generator'] + c['hosts'] + pg + c['other']:>6.2f}"
        )
    print()
    print("Claims inside the hosts, under the most connectors (a claim: one SQL statement);")
    print("wall time, and the CPU the claiming thread spent (the rest is waiting: for a core,")
    print("for the GIL, for PostgreSQL).")
    print(
        f"{'setting':24}{'conn':>5}{'claims':>8}{'per s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'cpu p50':>8}{'cpu p99':>8}"
    )
    top = max(r.connectors for r in runs)
    for r in runs:
        if r.connectors == top and r.claims:
            wall, cpu = [w for w, _ in r.claims], [c for _, c in r.claims]
            print(
                f"{r.setting:24}{r.connectors:>5}{len(r.claims):>8}"
                f"{len(r.claims) / r.seconds:>8.0f}"
                f"{quantile(wall, 50) * 1e3:>8.2f}{quantile(wall, 99) * 1e3:>8.2f}"
                f"{quantile(cpu, 50) * 1e3:>8.2f}{quantile(cpu, 99) * 1e3:>8.2f}"
            )
    print(f"\nThis machine: {os.cpu_count()} cores, shared by the generator, hosts and database.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--connectors", default="1,50,200", help="concurrent connectors, comma-separated"
    )
    parser.add_argument("--hosts", default="1,2,3", help="PostgreSQL host counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=2, help="sessions per connector")
    parser.add_argument("--at-least", type=int, default=40, help="sessions per run, at least")
    parser.add_argument("--jobs", type=int, default=3, help="customer writes per session")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a throwaway cluster)")
    parser.add_argument(
        "--quick", action="store_true", help="1 and 50 connectors, 1 and 3 hosts, fewer sessions"
    )
    args = parser.parse_args()
    if args.quick:
        args.connectors, args.hosts, args.at_least = "1,50", "1,3", 20
    args.connectors = [int(n) for n in args.connectors.split(",")]
    host_counts = [int(n) for n in args.hosts.split(",")]
    if max(host_counts) > len(ADDRESSES):
        parser.error(f"at most {len(ADDRESSES)} hosts")

    rng = random.Random(1)
    folder = Path(tempfile.mkdtemp(prefix="qbwc-hosts-"))
    cluster = None
    database = None
    runs: list[Run] = []
    try:
        if not args.no_sqlite:
            sqlite = f"sqlite:///{folder / 'bench.db'}"
            runs += measure("SQLite, 1 host", sqlite, ADDRESSES[:1], args, folder, rng)
        url = args.postgres
        if url is None and shutil.which("initdb"):
            from tests.postgres import Cluster

            cluster = Cluster()
            url = cluster.url()
            database = int((cluster.data / "postmaster.pid").read_text().split()[0])
        if url is None:
            print("PostgreSQL: skipped (no initdb on PATH and no --postgres URL)")
        else:
            for count in host_counts:
                name = f"PostgreSQL, {count} host" + ("s" if count > 1 else "")
                runs += measure(name, url, ADDRESSES[:count], args, folder, rng, database)
        report(runs)
    finally:
        if cluster is not None:
            cluster.remove()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
