"""Web Connector sessions per second on one to four CPU-capped hosts sharing one PostgreSQL.

Run ``python -m bench.bench_hosts`` (about 8 minutes; ``--quick``, 100 connectors, about three).
Needs root: each host runs in a cgroup v1 CPU group of its own.

Each host is gunicorn (2 gthread workers, 8 threads each) serving
tests/hosts_app.py on its own loopback address (127.0.0.2-5), all sharing one
PostgreSQL: a throwaway cluster made with initdb from PATH (or ``--postgres
URL``), optionally beside one SQLite host. On a machine of a few cores, a
second host would only add processes contending for the same cores; so each
host's processes are moved into a CPU group with the same quota
(``--quota`` cores, enforced by the kernel's CFS bandwidth control), which
makes each host a machine of a fixed size. PostgreSQL and the load generator
run outside the quotas. The curve of sessions per second against the number
of hosts then shows what a cluster would: each added host should add at least
0.8 of one host's rate, unless the hosts contend in the database.

For each number of hosts and of concurrent connectors (200 by default), every
session is one complete update of :class:`qbwc_spyne.testing.WebConnector`
over HTTP, as its own user with its own fake QuickBooks company, ``--jobs``
customer writes enqueued for it before the clock starts; each call goes to a
host chosen at random (a load balancer without stickiness). Each connector
runs sessions one after another until the setting's bounded count is done.

Printed side by side: sessions per second, what each added host added,
p50/p99 latency of a call as the connector sees it, p99 of a claim inside the
hosts, and what saturated: the hosts' quota (their CPU against it, and the
share of CFS periods in which the kernel throttled them), PostgreSQL's CPU,
the load generator's CPU (one Python process: one core at most), or the
machine's cores.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from qbwc_spyne import JobState, SQLJobQueue
from qbwc_spyne.testing import FakeQuickBooks, WebConnector
from tests.hosts import ADDRESSES, Host, connector, serving

TICK = os.sysconf("SC_CLK_TCK")
CGROUP = Path("/sys/fs/cgroup/cpu")
CORES = os.cpu_count() or 1
EFFICIENCY = 0.8  # what each added host must add, as a share of one host's rate


# -- where the CPU went -----------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) "


def tree(root: int) -> list[int]:
    """``root`` and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and its live children, with the children it has reaped."""
    total = 0.0
    for pid in tree(root):
        fields = _stat(pid)
        if fields is not None:
            # utime, stime; for the root also cutime, cstime (children that exited).
            total += sum(int(f) for f in fields[11 : 15 if pid == root else 13]) / TICK
    return total


def machine_busy() -> float:
    """CPU seconds every core of the machine has spent not idle, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICK  # less idle and iowait


# -- CPU groups -------------------------------------------------------------------------------


class CpuGroup:
    """A cgroup v1 CPU group, capped at ``cores`` (CFS bandwidth control: a quota per period).

    Each process outside the benchmark's groups weighs 1024 in the scheduler;
    each group weighs ten times that, so while other work runs on the machine
    a host still gets its quota, and PostgreSQL and the load generator what
    they ask for.

    Args:
        name: the group's directory under /sys/fs/cgroup/cpu.
        cores: the CPU it may use, in cores (0.4: 40 ms of each 100 ms); None: no cap.
        period: the CFS period, in seconds.

    Raises:
        OSError: the group cannot be made or written (not root, no cgroup v1 CPU controller).
    """

    def __init__(self, name: str, cores: float | None, period: float) -> None:
        self.path = CGROUP / name
        self.path.mkdir()
        try:
            (self.path / "cpu.shares").write_text("10240")
            (self.path / "cpu.cfs_period_us").write_text(str(round(period * 1e6)))
            if cores is not None:
                (self.path / "cpu.cfs_quota_us").write_text(str(round(cores * period * 1e6)))
        except OSError:
            self.path.rmdir()
            raise

    def add(self, pids: list[int]) -> None:
        """Move each process into the group (its children forked later follow it)."""
        for pid in pids:
            with suppress(ProcessLookupError):  # exited meanwhile
                (self.path / "cgroup.procs").write_text(str(pid))

    def throttling(self) -> tuple[int, int, float]:
        """(CFS periods in which the group ran, periods it was throttled, seconds throttled)."""
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        return int(stat["nr_periods"]), int(stat["nr_throttled"]), int(stat["throttled_time"]) / 1e9

    def remove(self) -> None:
        """Move what is left back to the root group, and remove the group."""
        for pid in (self.path / "cgroup.procs").read_text().split():
            with suppress(ProcessLookupError):
                (CGROUP / "cgroup.procs").write_text(pid)
        for _ in range(50):  # bounded: 5 s for exiting processes to leave
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)
        self.path.rmdir()


def why_no_cgroups() -> str | None:
    """Why CPU groups cannot be made here, or None when they can."""
    if not (CGROUP / "cpu.cfs_quota_us").is_file():
        return f"no cgroup v1 CPU controller at {CGROUP}"
    try:
        CpuGroup(f"qbwc-bench-{os.getpid()}-probe", 1.0, 0.1).remove()
    except OSError as exc:
        return f"cannot write CPU groups under {CGROUP} ({exc.strerror}; run as root)"
    return None


@contextmanager
def capped(hosts: list[Host], cores: float, period: float) -> Iterator[list[CpuGroup]]:
    """Each host's processes in a CPU group of its own, capped at ``cores``; removed after."""
    groups: list[CpuGroup] = []
    try:
        for n, host in enumerate(hosts):
            groups.append(CpuGroup(f"qbwc-bench-{os.getpid()}-{n}", cores, period))
            groups[-1].add(tree(host.process.pid))
        yield groups
    finally:
        for group in groups:
            group.remove()


@dataclass
class Usage:
    """CPU seconds per party and the hosts' throttling, read before and after a run."""

    roots: dict[str, list[int]]
    groups: list[CpuGroup]
    start: dict[str, float] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        times = os.times()
        seen = {"generator": times.user + times.system, "machine": machine_busy()}
        for name, pids in self.roots.items():
            seen[name] = sum(tree_cpu(pid) for pid in pids)
        periods = [group.throttling() for group in self.groups]
        seen["periods"] = sum(p for p, _, _ in periods)
        seen["throttled"] = sum(t for _, t, _ in periods)
        return seen

    def begin(self) -> None:
        self.start = self.read()

    def since(self, seconds: float) -> dict[str, float]:
        """Cores busy per party since the start, over ``seconds`` of wall time, and the share
        of the hosts' CFS periods that were throttled."""
        end = self.read()
        used = {name: end[name] - self.start[name] for name in end}
        periods, throttled = used.pop("periods"), used.pop("throttled")
        busy = {name: value / seconds for name, value in used.items()}
        busy["other"] = busy.pop("machine") - sum(busy.values())
        busy["throttled"] = throttled / periods if periods else 0.0
        return busy


# -- one run ----------------------------------------------------------------------------------


@dataclass
class Run:
    """The figures of one setting under one number of connectors."""

    setting: str
    hosts: int
    connectors: int
    sessions: int
    ok: int
    seconds: float
    calls: list[float]
    cores: dict[str, float]
    claims: list[float]

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


def read_claims(folder: Path, since: float, until: float) -> list[float]:
    """Seconds each claim the hosts logged between ``since`` and ``until`` took."""
    took = []
    for log in folder.glob("*.txt"):
        for line in log.read_text().splitlines():
            at, seconds, _cpu = line.split()
            if since <= float(at) <= until:
                took.append(float(seconds))
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
        connector(hosts, "", FakeQuickBooks(strict=False), random.Random(rng.random()))
        for _ in range(connectors)
    ]

    def work(wc: WebConnector) -> None:
        nonlocal ok
        while True:
            with lock:
                user = next(todo, None)
            if user is None:
                return
            wc.user, wc.quickbooks = user, FakeQuickBooks(strict=False)
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
    """Serve ``url`` from one capped host per address; run each number of connectors.

    ``database`` is the PostgreSQL server's process id, when it runs here.
    """
    prefix = f"b{len(addresses)}{url[:4]}_"
    claims = folder / f"claims-{prefix}"
    claims.mkdir()
    runs = []
    env = {"QBWC_BENCH_CLAIMS": str(claims)}
    with (
        serving(url, prefix, addresses=addresses, env=env) as hosts,
        capped(hosts, args.quota, args.period) as groups,
    ):
        roots = {"hosts": [h.process.pid for h in hosts]}
        if database is not None:
            roots["postgres"] = [database]
        usage = Usage(roots, groups)
        for connectors in args.connectors:
            sessions = max(connectors * args.rounds, args.at_least)
            users = [f"{prefix}c{connectors}u{n:05d}" for n in range(sessions)]
            enqueue(url, prefix, users, args.jobs)
            since = time.time()
            usage.begin()
            ok, latencies, seconds = run_sessions(hosts, users, connectors, args.jobs, rng)
            cores = usage.since(seconds)
            took = read_claims(claims, since, time.time())
            runs.append(
                Run(name, len(hosts), connectors, sessions, ok, seconds, latencies, cores, took)
            )
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


def saturated(run: Run, quota: float) -> str:
    """What limited the run: each party at (nearly) all it can use, or waiting."""
    c = run.cores
    limits = []
    if c["hosts"] >= 0.9 * quota * run.hosts or c["throttled"] >= 0.5:
        limits.append("hosts")
    if c.get("postgres", 0.0) >= 0.9:
        limits.append("pg")
    if c["generator"] >= 0.9:  # one Python process: the GIL allows one core
        limits.append("gen")
    if c["generator"] + c["hosts"] + c.get("postgres", 0.0) + c["other"] >= 0.95 * CORES:
        limits.append("machine")
    return "+".join(limits) or "waits"


def report(runs: list[Run], quota: float) -> None:
    print()
    print(f"Complete Web Connector sessions over HTTP; each host capped at {quota:g} CPU.")
    print("added: what the last host added, in one host's rate (the aim: 0.8 at least);")
    print("latency in ms: a call as the connector sees it, a claim inside the hosts;")
    print("CPU in cores busy during the run (gen = load generator, pg = PostgreSQL, other =")
    print("the rest of the machine); thr = share of the hosts' CFS periods throttled;")
    print("per cpu = sessions per second of the hosts' CPU (flat while hosts do not contend);")
    print("limit: what ran at its ceiling (hosts: their quota, gen: one core, machine: all")
    print(f"{CORES} cores; waits: nothing did).")
    print(
        f"{'setting':22}{'conn':>5}{'sess':>6}{'err':>4}{'sess/s':>8}{'added':>7}{'per cpu':>8}"
        f"{'p50':>7}{'p99':>8}{'claim99':>8}{'hosts':>6}{'thr':>5}{'pg':>6}{'gen':>6}"
        f"{'other':>6}  limit"
    )
    rates = {
        (r.hosts, r.connectors): r.per_second for r in runs if r.setting.startswith("PostgreSQL")
    }
    verdicts = []
    for r in runs:
        c = r.cores
        one, before = rates.get((1, r.connectors)), rates.get((r.hosts - 1, r.connectors))
        added = ""
        if r.setting.startswith("PostgreSQL") and r.hosts > 1 and one and before is not None:
            verdicts.append((r.hosts, r.connectors, (r.per_second - before) / one))
            added = f"{verdicts[-1][2]:.2f}"
        print(
            f"{r.setting:22}{r.connectors:>5}{r.sessions:>6}{r.sessions - r.ok:>4}"
            f"{r.per_second:>8.1f}{added:>7}{r.per_second / c['hosts']:>8.1f}"
            f"{quantile(r.calls, 50) * 1e3:>7.0f}{quantile(r.calls, 99) * 1e3:>8.0f}"
            f"{quantile(r.claims, 99) * 1e3:>8.1f}"
            f"{c['hosts']:>6.2f}{c['throttled']:>5.0%}{c.get('postgres', 0.0):>6.2f}"
            f"{c['generator']:>6.2f}{c['other']:>6.2f}  {saturated(r, quota)}"
        )
    print()
    for hosts, connectors, share in verdicts:
        held = "yes" if share >= EFFICIENCY else "no"
        times = rates[hosts, connectors] / rates[1, connectors]
        print(
            f"Host {hosts} ({connectors} connectors) adds {share:.2f} of one host's rate:"
            f" {held} (the aim: {EFFICIENCY} at least); {hosts} hosts: {times:.2f}x one"
            f" (the aim: {1 + EFFICIENCY * (hosts - 1):.1f}x)"
        )
    load = os.getloadavg()
    print(f"\nThis machine: {CORES} cores; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--connectors", default="200", help="concurrent connectors, comma-separated"
    )
    parser.add_argument(
        "--hosts", default="1,2,3,4", help="PostgreSQL host counts, comma-separated"
    )
    parser.add_argument("--quota", type=float, default=0.15, help="CPU cores per host")
    parser.add_argument("--period", type=float, default=0.02, help="CFS period, in seconds")
    parser.add_argument("--rounds", type=int, default=2, help="sessions per connector")
    parser.add_argument("--at-least", type=int, default=40, help="sessions per run, at least")
    parser.add_argument("--jobs", type=int, default=3, help="customer writes per session")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite host")
    parser.add_argument("--postgres", help="a PostgreSQL URL (default: a throwaway cluster)")
    parser.add_argument(
        "--quick", action="store_true", help="100 connectors, one session each, no SQLite host"
    )
    args = parser.parse_args()
    if args.quick:
        args.connectors, args.rounds, args.no_sqlite = "100", 1, True
    try:
        args.connectors = [int(n) for n in args.connectors.split(",")]
        host_counts = [int(n) for n in args.hosts.split(",")]
    except ValueError:
        parser.error("--connectors and --hosts take comma-separated whole numbers")
    if max(host_counts) > len(ADDRESSES) or min(host_counts) < 1:
        parser.error(f"from 1 to {len(ADDRESSES)} hosts")
    if not 0 < args.quota <= CORES or not 0.001 <= args.period <= 1:
        parser.error(f"--quota takes 0 to {CORES} cores, --period 0.001 to 1 s")
    reason = why_no_cgroups()
    if reason is not None:
        print(f"Hosts benchmark: skipped: {reason}.", file=sys.stderr)
        return

    rng = random.Random(1)
    folder = Path(tempfile.mkdtemp(prefix="qbwc-hosts-"))
    cluster = None
    database = None
    runs: list[Run] = []
    # The load generator and PostgreSQL: outside the quotas, but ahead of other work.
    rest = CpuGroup(f"qbwc-bench-{os.getpid()}-rest", None, args.period)
    rest.add([os.getpid()])
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
            rest.add(tree(database))
        if url is None:
            print("PostgreSQL: skipped (no initdb on PATH and no --postgres URL)")
        else:
            for count in host_counts:
                name = f"PostgreSQL, {count} host" + ("s" if count > 1 else "")
                runs += measure(name, url, ADDRESSES[:count], args, folder, rng, database)
        report(runs, args.quota)
    finally:
        if cluster is not None:
            cluster.remove()
        rest.remove()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
