"""The hosts benchmark: CPU groups that cap each host, the table, and its skip (tiny sizes;
no figure is judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import bench_hosts

from .test_bench import run

CAN_CAP = bench_hosts.why_no_cgroups()
needs_cgroups = pytest.mark.skipif(CAN_CAP is not None, reason=f"hosts benchmark: {CAN_CAP}")


def groups() -> set[Path]:
    return set(bench_hosts.CGROUP.glob("qbwc-bench-*"))


@needs_cgroups
def test_a_cpu_group_caps_its_processes_and_removing_it_leaves_nothing_behind():
    """The quota is the share of the period asked for; a process moved in is in the group,
    and removing the group puts it back in the root group."""
    before = groups()
    group = bench_hosts.CpuGroup(f"qbwc-bench-test-{id(before)}", 0.25, 0.02)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert (group.path / "cpu.cfs_period_us").read_text().split() == ["20000"]
        assert (group.path / "cpu.cfs_quota_us").read_text().split() == ["5000"]
        group.add([sleeper.pid])
        assert str(sleeper.pid) in (group.path / "cgroup.procs").read_text().split()
        group.remove()
        assert not group.path.exists()
        assert str(sleeper.pid) in (bench_hosts.CGROUP / "cgroup.procs").read_text().split()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert groups() == before


@needs_cgroups
def test_hosts_benchmark_prints_each_host_count_what_it_added_and_what_saturated(postgres):
    """SQLite on one capped host and PostgreSQL on one and two: each row without a failed
    session and with the resource at its ceiling; the second host's share of one host's
    rate; no CPU group left afterwards."""
    before = groups()
    out = run(
        "bench.bench_hosts",
        *("--connectors", "1,3", "--hosts", "1,2", "--rounds", "1", "--at-least", "2"),
        *("--jobs", "2", "--postgres", postgres.url()),
    )
    for setting in ("SQLite, 1 host", "PostgreSQL, 1 host", "PostgreSQL, 2 hosts"):
        for connectors in (1, 3):
            row = re.search(
                rf"^{setting} +{connectors} +(\d+) +(\d+) .*  (hosts|pg|gen|machine|waits)\S*$",
                out,
                re.MULTILINE,
            )
            assert row is not None, (setting, connectors, out)
            assert (int(row[1]), int(row[2])) == (max(connectors, 2), 0), row[0]
    for connectors in (1, 3):
        verdict = rf"^Host 2 \({connectors} connectors\) adds -?\d+\.\d\d of one host's rate: "
        assert re.search(verdict, out, re.MULTILINE), out
    assert groups() == before


def test_without_cgroups_the_hosts_benchmark_says_why_in_one_line(tmp_path, monkeypatch, capsys):
    """Where no CPU controller can be written, one line on stderr names the reason, and
    nothing is measured."""
    monkeypatch.setattr(bench_hosts, "CGROUP", tmp_path)
    monkeypatch.setattr(sys, "argv", ["bench_hosts", "--quick"])
    bench_hosts.main()
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        f"Hosts benchmark: skipped: no cgroup v1 CPU controller at {tmp_path}.\n",
    )
