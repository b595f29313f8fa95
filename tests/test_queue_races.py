"""Queue objects racing on one SQLite file: interleavings, threads, processes, a model."""

from __future__ import annotations

import multiprocessing
import random
import threading

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from qbwc_spyne import JobState, MemoryJobQueue, SQLJobQueue

WAITING = {JobState.PENDING, JobState.RECONCILE}


class TestInterleavings:
    @pytest.mark.parametrize("seed", range(8))
    def test_two_queues_on_one_file_never_break_a_promise(self, tmp_path, seed):
        """Random operations from two queue objects, stale tickets included, 400 rounds: a job
        is never claimed twice, a done job never goes back, cancel never takes an in-flight
        job, and every job is still there."""
        rng = random.Random(seed)
        path = tmp_path / "jobs.db"
        queues = [SQLJobQueue(path), SQLJobQueue(path)]
        ids = [queues[0].enqueue(user="shop", kind="k", payload={"n": n}).id for n in range(6)]
        holder: dict[int, str] = {}  # job -> the ticket that holds it, as the model sees it
        tickets: dict[int, list[str]] = {i: [] for i in ids}  # every ticket a job ever had
        done: set[int] = set()
        now = 0.0
        for step in range(400):
            now += 1
            queue = rng.choice(queues)
            job_id = rng.choice(ids)
            action = rng.choice(
                ["claim", "complete", "fail", "release", "cancel", "retry", "sweep", "progress"]
            )
            # A late answer uses a ticket the job had once; a current one its holder's.
            ticket = rng.choice([*tickets[job_id], f"never-{step}"])
            before = getattr(queue.get(job_id), "state", None)
            if action == "claim":
                ticket = f"t{step}"
                job = queue.claim(user="shop", company_file="", ticket=ticket, now=now, lease=5)
                if job is not None:
                    assert job.id not in holder, f"job {job.id} claimed twice"
                    holder[job.id] = ticket
                    tickets[job.id].append(ticket)
                continue
            if action == "complete":
                happened = queue.complete(job_id, ticket=ticket, now=now)
            elif action == "fail":
                happened = queue.fail(job_id, ticket=ticket, now=now, code="1", message="x")
            elif action == "release":
                happened = queue.release(job_id, ticket=ticket, now=now, to=JobState.PENDING)
            elif action == "progress":
                happened = queue.progress(job_id, ticket=ticket, now=now, pages=step)
            elif action == "cancel":
                happened = queue.cancel(job_id, now=now)
                assert not (happened and before is JobState.IN_FLIGHT)
            elif action == "retry":
                happened = queue.retry(job_id, now=now)
            else:
                for job in queue.release_expired(now=now, reconcilable=None, message="lost"):
                    holder.pop(job.id)
                continue
            owned = holder.get(job_id) == ticket
            if action in ("complete", "fail", "release", "progress"):
                assert happened == owned, (action, job_id, ticket, holder)
                if happened and action != "progress":
                    holder.pop(job_id)
            if happened and action == "complete":
                done.add(job_id)
            states = {j.id: j.state for j in rng.choice(queues).jobs()}
            assert sorted(states) == ids  # nothing lost
            assert all(states[i] is JobState.DONE for i in done)  # done never goes back
            assert {i for i, s in states.items() if s is JobState.IN_FLIGHT} == set(holder)


def hammer(path: str, worker: int, rounds: int, results: multiprocessing.Queue) -> None:
    """A worker process: claim and complete until nothing is left; report what it claimed."""
    queue = SQLJobQueue(path)
    claimed: list[int] = []
    for step in range(rounds):
        job = queue.claim(
            user="shop", company_file="", ticket=f"w{worker}-{step}", now=float(step), lease=1e9
        )
        if job is None:
            break
        claimed.append(job.id)
        if not queue.complete(job.id, ticket=f"w{worker}-{step}", now=float(step)):
            claimed.append(-job.id)  # a completion refused: the job was taken from us
    results.put((worker, claimed))


def operate(path: str, seed: int, rounds: int, results: multiprocessing.Queue) -> None:
    """An operator process: random cancels and retries; report what it cancelled."""
    rng = random.Random(seed)
    queue = SQLJobQueue(path)
    cancelled: list[int] = []
    for _ in range(rounds):
        job_id = rng.randint(1, 60)
        if rng.random() < 0.6 and queue.cancel(job_id, now=0):
            cancelled.append(job_id)
        else:
            queue.retry(job_id, now=0)
    results.put(("operator", cancelled))


class TestProcesses:
    def test_two_worker_processes_and_an_operator_race_on_one_file(self, tmp_path):
        """Each job is claimed by one worker once, every claim completes, and a job an
        operator cancelled was never in flight: it ends cancelled or done, never lost."""
        path = str(tmp_path / "jobs.db")
        queue = SQLJobQueue(path)
        for n in range(60):
            queue.enqueue(user="shop", kind="k", payload={"n": n})
        queue.close()
        context = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue = context.Queue()
        processes = [
            context.Process(target=hammer, args=(path, w, 200, results)) for w in range(2)
        ] + [context.Process(target=operate, args=(path, 7, 150, results))]
        for process in processes:
            process.start()
        reports = dict(results.get(timeout=120) for _ in processes)
        for process in processes:
            process.join(timeout=60)
            assert process.exitcode == 0
        claims = reports[0] + reports[1]
        assert all(i > 0 for i in claims), "a completion was refused"
        assert len(claims) == len(set(claims)), "a job was claimed twice"
        final = {j.id: j.state for j in SQLJobQueue(path).jobs()}
        assert sorted(final) == list(range(1, 61))
        for job_id, state in final.items():
            if job_id in claims:
                assert state is JobState.DONE
            else:
                assert state in (JobState.CANCELLED, JobState.PENDING)


class TestThreads:
    def test_two_queues_in_two_threads_claim_each_job_once(self, tmp_path):
        """Threads with their own queue objects on one file: 200 jobs, each claimed once."""
        path = tmp_path / "jobs.db"
        setup = SQLJobQueue(path)
        for n in range(200):
            setup.enqueue(user="shop", kind="k", payload={"n": n})
        claimed: list[list[int]] = [[], []]

        def work(index: int) -> None:
            queue = SQLJobQueue(path)
            for step in range(400):
                ticket = f"{index}-{step}"
                job = queue.claim(user="shop", company_file="", ticket=ticket, now=0, lease=60)
                if job is None:
                    return
                claimed[index].append(job.id)
                assert queue.complete(job.id, ticket=ticket, now=1)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        everything = claimed[0] + claimed[1]
        assert sorted(everything) == list(range(1, 201))
        assert {j.state for j in setup.jobs()} == {JobState.DONE}


class QueueModel(RuleBasedStateMachine):
    """The queue's transitions against a model of what each may do."""

    def __init__(self) -> None:
        super().__init__()
        self.queue = MemoryJobQueue()
        self.state: dict[int, JobState] = {}
        self.deps: dict[int, list[int]] = {}
        self.ticket: dict[int, str] = {}
        self.reconciling: set[int] = set()
        self.clock = 0.0
        self.steps = 0

    def now(self) -> float:
        self.clock += 1
        return self.clock

    def blocked_by(self, job_id: int) -> bool:
        return any(
            self.state[d] in (JobState.FAILED, JobState.CANCELLED, JobState.BLOCKED)
            for d in self.deps[job_id]
        )

    def below(self, job_id: int) -> list[int]:
        found: list[int] = []
        frontier = [job_id]
        while frontier:
            current = frontier.pop()
            for other, deps in self.deps.items():
                if current in deps and other not in found:
                    found.append(other)
                    frontier.append(other)
        return found

    def block_below(self, job_id: int) -> None:
        for other in self.below(job_id):
            if self.state[other] in WAITING:
                self.state[other] = JobState.BLOCKED

    def unblock_below(self, job_id: int) -> None:
        changed = True
        while changed:
            changed = False
            for other in self.below(job_id):
                if self.state[other] is JobState.BLOCKED and not self.blocked_by(other):
                    self.state[other] = JobState.PENDING
                    changed = True

    @precondition(lambda self: len(self.state) < 8)
    @rule(data=st.data())
    def enqueue(self, data: st.DataObject) -> None:
        existing = sorted(self.state)
        deps = data.draw(st.lists(st.sampled_from(existing), max_size=2)) if existing else []
        job = self.queue.enqueue(user="u", kind="k", depends_on=deps, now=self.now())
        self.deps[job.id] = sorted(set(deps))
        self.state[job.id] = JobState.BLOCKED if self.blocked_by(job.id) else JobState.PENDING
        assert job.state is self.state[job.id]

    @rule()
    def claim(self) -> None:
        self.steps += 1
        ticket = f"t{self.steps}"
        job = self.queue.claim(user="u", company_file="", ticket=ticket, now=self.now(), lease=3)
        runnable = [
            i
            for i, s in sorted(self.state.items())
            if s in WAITING and all(self.state[d] is JobState.DONE for d in self.deps[i])
        ]
        if not runnable:
            assert job is None
            return
        assert job is not None and job.id == runnable[0]
        if self.state[job.id] is JobState.RECONCILE:
            self.reconciling.add(job.id)
        else:
            self.reconciling.discard(job.id)
        self.state[job.id] = JobState.IN_FLIGHT
        self.ticket[job.id] = ticket

    @rule(data=st.data(), action=st.sampled_from(["complete", "fail", "release"]))
    def answer(self, data: st.DataObject, action: str) -> None:
        if not self.state:
            return
        flying = sorted(i for i, s in self.state.items() if s is JobState.IN_FLIGHT)
        prefer_flying: bool = data.draw(st.booleans())
        pool = flying if flying and prefer_flying else sorted(self.state)
        job_id = data.draw(st.sampled_from(pool))
        ticket = data.draw(st.sampled_from([self.ticket.get(job_id, "none"), "stale"]))
        owned = self.state[job_id] is JobState.IN_FLIGHT and self.ticket.get(job_id) == ticket
        now = self.now()
        if action == "complete":
            assert self.queue.complete(job_id, ticket=ticket, now=now) == owned
            target = JobState.DONE
        elif action == "fail":
            assert self.queue.fail(job_id, ticket=ticket, now=now, code="1", message="x") == owned
            target = JobState.FAILED
        else:
            to = data.draw(
                st.sampled_from([JobState.PENDING, JobState.RECONCILE, JobState.UNKNOWN])
            )
            assert self.queue.release(job_id, ticket=ticket, now=now, to=to) == owned
            target = to
        if owned:
            self.state[job_id] = target
            if target is JobState.FAILED:
                self.block_below(job_id)

    @rule(data=st.data(), action=st.sampled_from(["cancel", "retry", "resolve"]))
    def operator(self, data: st.DataObject, action: str) -> None:
        if not self.state:
            return
        job_id = data.draw(st.sampled_from(sorted(self.state)))
        state, now = self.state[job_id], self.now()
        if action == "cancel":
            allowed = state not in (JobState.IN_FLIGHT, JobState.DONE, JobState.CANCELLED)
            assert self.queue.cancel(job_id, now=now) == allowed
            if allowed:
                self.state[job_id] = JobState.CANCELLED
                self.block_below(job_id)
        elif action == "retry":
            # Refused while a dependency still blocks it: never a retry that stays blocked.
            allowed = not self.blocked_by(job_id) and state in (
                JobState.FAILED,
                JobState.UNKNOWN,
                JobState.BLOCKED,
                JobState.CANCELLED,
            )
            assert self.queue.retry(job_id, now=now) == allowed
            if allowed:
                self.state[job_id] = JobState.PENDING
                self.unblock_below(job_id)
        else:
            happened = data.draw(st.booleans())
            allowed = state is JobState.UNKNOWN
            assert self.queue.resolve_unknown(job_id, happened=happened, now=now) == allowed
            if allowed:
                self.state[job_id] = JobState.DONE if happened else JobState.PENDING

    @rule()
    def sweep(self) -> None:
        self.clock += 4  # past every lease
        released = self.queue.release_expired(now=self.clock, reconcilable=None, message="x")
        expected = {i for i, s in self.state.items() if s is JobState.IN_FLIGHT}
        assert {j.id for j in released} == expected
        for job in released:
            # No job here writes: a query goes back to pending, a reconcile query to reconcile.
            reconciling = job.id in self.reconciling
            self.state[job.id] = JobState.RECONCILE if reconciling else JobState.PENDING

    @invariant()
    def matches_the_model(self) -> None:
        assert {j.id: j.state for j in self.queue.jobs()} == self.state


TestQueueModel = QueueModel.TestCase
TestQueueModel.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
