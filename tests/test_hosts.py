"""Several hosts on one PostgreSQL: gunicorn on 127.0.0.2-4, calls sent to a host at random."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qbwc_spyne import JobState, SQLJobQueue
from qbwc_spyne.testing import FakeQuickBooks

from .hosts import connector, serving

pytestmark = pytest.mark.wire


def names_in(qb: FakeQuickBooks) -> list[str]:
    return sorted(str(r.findtext("Name")) for r in qb.records["Customer"].values())


def enqueue_all(url: str, prefix: str, users: int, per_user: int) -> dict[str, list[str]]:
    queue = SQLJobQueue(url, prefix=prefix)
    wanted: dict[str, list[str]] = {}
    for n in range(users):
        user = f"user{n:03d}"
        wanted[user] = sorted(f"{user} customer {k}" for k in range(per_user))
        for name in wanted[user]:
            queue.enqueue(user=user, kind="add_customer", payload={"name": name}, key=name)
    queue.close()
    return wanted


def leases_run_out(url: str, prefix: str, *, within: float) -> bool:
    """Wait until no job in flight holds a lease that is still running; False after ``within`` s.

    A lease runs out at its ``lease_until``, which a host sets from the same
    wall clock as ``time.time()`` here: once it is past, the next claim on any
    host releases the job, exactly as after sleeping the whole lease.
    """
    queue = SQLJobQueue(url, prefix=prefix)
    try:
        deadline = time.monotonic() + within
        while True:
            now = time.time()
            held = [
                job
                for job in queue.jobs(states=[JobState.IN_FLIGHT])
                if job.lease_until is None or job.lease_until >= now
            ]
            if not held:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    finally:
        queue.close()


def finished_once(url: str, prefix: str) -> list[tuple[str, JobState, int]]:
    queue = SQLJobQueue(url, prefix=prefix)
    try:
        return [(j.user, j.state, j.attempts) for j in queue.jobs()]
    finally:
        queue.close()


class TestManyHosts:
    def test_200_connectors_on_three_hosts_each_get_exactly_their_own_company(
        self, postgres, pg_prefix
    ):
        """200 users at once, every call to a random host: every update completes, each
        company holds exactly its user's customers, once; every job ran once."""
        url = postgres.url()
        wanted = enqueue_all(url, pg_prefix, users=200, per_user=3)
        companies = {user: FakeQuickBooks() for user in wanted}
        seed = random.randrange(1 << 30)
        with serving(url, pg_prefix) as hosts:

            def run(user: str) -> str:
                rng = random.Random(f"{seed}-{user}")
                return connector(hosts, user, companies[user], rng).update().status

            with ThreadPoolExecutor(max_workers=200) as pool:
                statuses = dict(zip(wanted, pool.map(run, wanted), strict=True))
        assert set(statuses.values()) == {"ok"}, (seed, statuses)
        for user, names in wanted.items():
            assert names_in(companies[user]) == names, user  # nobody else's, none twice
        assert {(state, attempts) for _, state, attempts in finished_once(url, pg_prefix)} == {
            (JobState.DONE, 1)
        }

    def test_a_host_killed_mid_session_loses_no_job_and_sends_no_write_twice(
        self, postgres, pg_prefix
    ):
        """kill -9 one host while 50 sessions run; after the lease, the surviving hosts
        complete every job: each customer added exactly once."""
        url = postgres.url()
        lease = 3.0
        wanted = enqueue_all(url, pg_prefix, users=50, per_user=4)
        companies = {user: FakeQuickBooks() for user in wanted}
        seed = random.randrange(1 << 30)
        calls = 0
        lock = threading.Lock()
        with serving(url, pg_prefix, lease=lease) as hosts:
            victim = hosts[0]

            def first(user: str) -> str:
                nonlocal calls
                rng = random.Random(f"{seed}-{user}")
                wc = connector(hosts, user, companies[user], rng)
                send = wc.transport._send

                def counting(address: str, body: bytes, headers: dict[str, str]):
                    nonlocal calls
                    with lock:
                        calls += 1
                        if calls == 150 and victim.alive:
                            victim.kill()  # writes are in flight on it now
                    return send(address, body, headers)

                wc.transport._send = counting  # type: ignore[method-assign]
                try:
                    return wc.update().status
                except Exception as exc:  # a call the dead host never answered
                    return type(exc).__name__

            with ThreadPoolExecutor(max_workers=50) as pool:
                statuses = list(pool.map(first, wanted))
            assert not victim.alive and "ok" in statuses
            assert any(s != "ok" for s in statuses)  # the kill cut sessions short
            # Every lease held by a dead session runs out: taken before the
            # kill, each does so at most one lease from now.
            assert leases_run_out(url, pg_prefix, within=lease + 5)

            def second(user: str) -> str:
                rng = random.Random(f"{seed}-{user}-again")
                return connector(hosts, user, companies[user], rng).update().status

            with ThreadPoolExecutor(max_workers=50) as pool:
                again = dict(zip(wanted, pool.map(second, wanted), strict=True))
        # "no work": that user's first update had finished before the kill.
        assert set(again.values()) <= {"ok", "no work"} and "ok" in again.values(), (seed, again)
        for user, names in wanted.items():
            assert names_in(companies[user]) == names, user  # no write twice, none lost
        assert {state for _, state, _ in finished_once(url, pg_prefix)} == {JobState.DONE}
