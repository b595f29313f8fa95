"""The job queue's storage: transitions, keys, dependencies, purge, schema upgrades, bad input."""

from __future__ import annotations

import json
import logging
import sqlite3
import time

import pytest

from qbwc_spyne import JobState, MemoryJobQueue, SQLJobQueue
from qbwc_spyne.exceptions import (
    InvalidJobError,
    JobStateError,
    KeyConflictError,
    NotAQueueDatabaseError,
    StorageError,
)
from qbwc_spyne.jobs import cancel_job, recover_jobs, resolve_unknown, retry_job
from qbwc_spyne.store import _queue as queue_module

from .helpers import sqlite_connect


@pytest.fixture(params=["memory", "file", "postgresql"])
def queue(request, tmp_path):
    """The queue in memory, in a SQLite file and on PostgreSQL: one code path, each checked."""
    if request.param == "memory":
        yield MemoryJobQueue()
        return
    if request.param == "file":
        yield SQLJobQueue(tmp_path / "jobs.db")
        return
    postgres = request.getfixturevalue("postgres")
    made = SQLJobQueue(postgres.url(), prefix=request.getfixturevalue("pg_prefix"))
    yield made
    made.close()


def claimed(queue, user="shop", ticket="t1", now=0.0, lease=60.0):
    job = queue.claim(user=user, company_file="", ticket=ticket, now=now, lease=lease)
    assert job is not None
    return job


def finish(queue, job_id, ticket="t1"):
    """Claim the next job (it must be ``job_id``) and complete it."""
    assert claimed(queue, ticket=ticket).id == job_id
    assert queue.complete(job_id, ticket=ticket, now=1.0)


def fail(queue, job_id, ticket="t1"):
    assert claimed(queue, ticket=ticket).id == job_id
    assert queue.fail(job_id, ticket=ticket, now=1.0, code="3140", message="no customer")


def state(queue, job_id):
    return queue.get(job_id).state


class TestCompareAndSet:
    def test_complete_fail_and_release_need_the_ticket_that_holds_the_job(self, queue):
        """A session that no longer holds its job changes nothing; the holder still can."""
        job = queue.enqueue(user="shop", kind="k")
        claimed(queue, ticket="mine")
        assert not queue.complete(job.id, ticket="other", now=1)
        assert not queue.fail(job.id, ticket="other", now=1, code="1", message="x")
        assert not queue.release(job.id, ticket="other", now=1, to=JobState.PENDING)
        assert not queue.progress(job.id, ticket="other", now=1, pages=9)
        assert state(queue, job.id) is JobState.IN_FLIGHT and queue.get(job.id).pages == 0
        assert queue.complete(job.id, ticket="mine", now=1)
        assert state(queue, job.id) is JobState.DONE

    def test_a_done_job_never_goes_back(self, queue):
        """Late answers, sweeps and operators cannot move a done job."""
        job = queue.enqueue(user="shop", kind="k")
        finish(queue, job.id)
        assert not queue.complete(job.id, ticket="t1", now=2)
        assert not queue.fail(job.id, ticket="t1", now=2, code="1", message="x")
        assert not queue.release(job.id, ticket="t1", now=2, to=JobState.RECONCILE)
        assert not queue.release_expired(now=1e12, reconcilable=None, message="late")
        assert not queue.cancel(job.id, now=2)
        assert not queue.retry(job.id, now=2)
        assert not queue.resolve_unknown(job.id, happened=False, now=2)
        assert state(queue, job.id) is JobState.DONE

    def test_cancel_refuses_a_job_in_flight(self, queue):
        """An in-flight job is not cancelled: its request may be running in QuickBooks."""
        job = queue.enqueue(user="shop", kind="k")
        claimed(queue)
        assert not queue.cancel(job.id, now=1)
        with pytest.raises(JobStateError, match="in_flight") as info:
            cancel_job(queue, job.id)
        assert info.value.state == "in_flight" and info.value.job_id == job.id
        assert state(queue, job.id) is JobState.IN_FLIGHT

    def test_release_goes_only_to_waiting_states(self, queue):
        """release is for letting go of a job: done or failed need complete or fail."""
        job = queue.enqueue(user="shop", kind="k")
        claimed(queue)
        with pytest.raises(InvalidJobError, match="not done"):
            queue.release(job.id, ticket="t1", now=1, to=JobState.DONE)
        with pytest.raises(InvalidJobError, match="cannot change"):
            queue.progress(job.id, ticket="t1", now=1, state="done")

    def test_complete_applies_the_staged_checkpoint_and_drops_the_request(self, queue):
        """The checkpoint staged during the iteration becomes the checkpoint only at the end; a
        done job keeps no request text unless asked."""
        kept = queue.enqueue(user="shop", kind="k")
        dropped = queue.enqueue(user="shop", kind="k")
        for job, keep in ((kept, True), (dropped, False)):
            claimed(queue)
            assert queue.progress(
                job.id, ticket="t1", now=1, request="<QBXML/>", staged_checkpoint={"since": "b"}
            )
            assert queue.get(job.id).checkpoint is None
            assert queue.complete(job.id, ticket="t1", now=2, keep_request=keep)
            assert queue.get(job.id).checkpoint == {"since": "b"}
            assert queue.get(job.id).staged_checkpoint is None
        assert queue.get(kept.id).request == "<QBXML/>"
        assert queue.get(dropped.id).request is None

    def test_release_drops_the_staged_checkpoint(self, queue):
        """An iteration cut short: its staged checkpoint is gone, the last completed one stays."""
        job = queue.enqueue(user="shop", kind="k")
        claimed(queue)
        queue.progress(job.id, ticket="t1", now=1, staged_checkpoint="2024-05-01")
        assert queue.release(job.id, ticket="t1", now=2, to=JobState.PENDING)
        released = queue.get(job.id)
        assert released.checkpoint is None and released.staged_checkpoint is None

    def test_resolve_unknown_is_the_operators_word(self, queue):
        """unknown -> done (it happened) or pending (it did not); refused in any other state."""
        happened = queue.enqueue(user="shop", kind="k")
        did_not = queue.enqueue(user="shop", kind="k")
        for job in (happened, did_not):
            claimed(queue)
            queue.release(job.id, ticket="t1", now=1, to=JobState.UNKNOWN, message="lost")
        assert resolve_unknown(queue, happened.id, happened=True).state is JobState.DONE
        assert resolve_unknown(queue, did_not.id, happened=False).state is JobState.PENDING
        with pytest.raises(JobStateError, match="only unknown jobs are resolved"):
            resolve_unknown(queue, did_not.id, happened=True)
        with pytest.raises(JobStateError, match="no job 99"):
            resolve_unknown(queue, 99, happened=True)


class TestKeys:
    def test_a_done_key_is_not_queued_again(self, queue):
        """Start-up code enqueueing the same key after the work is done gets the done job."""
        first = queue.enqueue(user="shop", kind="add_invoice", key="invoice DEMO-1")
        finish(queue, first.id)
        again = queue.enqueue(user="shop", kind="add_invoice", key="invoice DEMO-1")
        assert again.id == first.id and again.state is JobState.DONE
        assert len(queue.jobs()) == 1

    @pytest.mark.parametrize("end", ["done", "failed", "cancelled"])
    def test_replace_queues_a_finished_key_again(self, queue, end):
        """if_exists="replace": a new job for a finished key, starting from its checkpoint."""
        first = queue.enqueue(user="shop", kind="sync", key="sync")
        if end == "cancelled":
            cancel_job(queue, first.id)
        else:
            claimed(queue)
            queue.progress(first.id, ticket="t1", now=1, staged_checkpoint="2024-05-01")
            if end == "done":
                queue.complete(first.id, ticket="t1", now=2)
            else:
                queue.fail(first.id, ticket="t1", now=2, code="1", message="x")
        second = queue.enqueue(user="shop", kind="sync", key="sync", if_exists="replace")
        assert second.id != first.id and second.state is JobState.PENDING
        assert second.checkpoint == ("2024-05-01" if end == "done" else None)
        assert queue.get(first.id).replaced_by == second.id
        assert queue.enqueue(user="shop", kind="sync", key="sync").id == second.id

    def test_replace_returns_an_unfinished_job(self, queue):
        """The work is already queued: replace gives it back and writes nothing."""
        first = queue.enqueue(user="shop", kind="sync", key="sync")
        claimed(queue)
        again = queue.enqueue(user="shop", kind="sync", key="sync", if_exists="replace")
        assert again.id == first.id and len(queue.jobs()) == 1

    def test_same_key_with_another_kind_is_a_conflict(self, queue):
        """The key names other work: KeyConflictError, and nothing is written."""
        first = queue.enqueue(user="shop", kind="add_invoice", key="1042")
        with pytest.raises(KeyConflictError, match="add_invoice") as info:
            queue.enqueue(user="shop", kind="add_customer", key="1042")
        assert info.value.existing_id == first.id
        assert len(queue.jobs()) == 1

    def test_retry_of_a_job_whose_key_was_queued_again_is_refused_clearly(self, queue):
        """Not sqlite3.IntegrityError: a KeyConflictError naming the job that holds the key."""
        first = queue.enqueue(user="shop", kind="add_invoice", key="1042")
        fail(queue, first.id)
        second = queue.enqueue(user="shop", kind="add_invoice", key="1042", if_exists="replace")
        with pytest.raises(KeyConflictError, match=f"queued again as job {second.id}") as info:
            retry_job(queue, first.id)
        assert info.value.existing_id == second.id
        assert state(queue, first.id) is JobState.FAILED


class TestEnqueueRefuses:
    @pytest.mark.parametrize(
        ("options", "match"),
        [
            ({"user": ""}, "user"),
            ({"user": "   "}, "user"),
            ({"user": None}, "user"),
            ({"kind": ""}, "kind"),
            ({"priority": "high"}, "priority"),
            ({"priority": True}, "priority"),
            ({"priority": 1.5}, "priority"),
            ({"payload": ["a", "b"]}, "payload must be a dict"),
            ({"payload": {"when": object()}}, "not JSON"),
            ({"payload": {"nan": float("nan")}}, "not JSON"),
            ({"payload": {1: "x"}}, "keys must be strings"),
            ({"depends_on": [99]}, "do not exist"),
            ({"depends_on": [10**30]}, "do not exist"),
            ({"depends_on": [-(2**64)]}, "do not exist"),
            ({"depends_on": ["1"]}, "int job ids"),
            ({"depends_on": "12"}, "not a string"),
            ({"key": ""}, "key"),
            ({"company_file": None}, "company_file"),
            ({"if_exists": "overwrite"}, "if_exists"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_written(self, queue, options, match):
        """Each bad argument: InvalidJobError (a ValueError), and the queue is unchanged."""
        arguments = {"user": "shop", "kind": "k", **options}
        with pytest.raises(InvalidJobError, match=match):
            queue.enqueue(**arguments)
        assert queue.jobs() == []

    def test_enqueue_returns_the_job_as_stored(self, queue):
        """Tuples come back as lists, as build() will see them after a reload."""
        job = queue.enqueue(user="shop", kind="k", payload={"lines": ("a", ("b", 2))})
        assert job.payload == {"lines": ["a", ["b", 2]]}
        assert job == queue.get(job.id)


class TestDependencies:
    def test_enqueued_on_a_failed_or_cancelled_dependency_is_blocked_at_once(self, queue):
        """Not pending for ever: blocked, with the reason."""
        failed = queue.enqueue(user="shop", kind="k")
        fail(queue, failed.id)
        cancelled = queue.enqueue(user="shop", kind="k")
        cancel_job(queue, cancelled.id)
        for dependency in (failed, cancelled):
            job = queue.enqueue(user="shop", kind="k", depends_on=[dependency.id])
            assert job.state is JobState.BLOCKED
            assert str(dependency.id) in job.error_message
        on_blocked = queue.enqueue(user="shop", kind="k", depends_on=[job.id])
        assert on_blocked.state is JobState.BLOCKED

    def test_retry_unblocks_only_what_nothing_else_blocks(self, queue):
        """C depends on A and B, both failed: retrying A leaves C blocked by B."""
        a = queue.enqueue(user="shop", kind="k")
        b = queue.enqueue(user="shop", kind="k")
        c = queue.enqueue(user="shop", kind="k", depends_on=[a.id, b.id])
        d = queue.enqueue(user="shop", kind="k", depends_on=[c.id])
        fail(queue, a.id)
        fail(queue, b.id)
        assert [state(queue, j.id) for j in (c, d)] == [JobState.BLOCKED] * 2
        retry_job(queue, a.id)
        assert [state(queue, j.id) for j in (a, c, d)] == [
            JobState.PENDING,
            JobState.BLOCKED,
            JobState.BLOCKED,
        ]
        retry_job(queue, b.id)
        assert {state(queue, j.id) for j in (a, b, c, d)} == {JobState.PENDING}

    @pytest.mark.parametrize("end", ["failed", "cancelled"])
    def test_retry_of_a_job_its_own_dependency_still_blocks_is_refused_naming_it(self, queue, end):
        """Not a success that leaves it blocked: JobStateError naming the dependency, and
        nothing changes (a cancelled dependant included)."""
        a = queue.enqueue(user="shop", kind="k")
        b = queue.enqueue(user="shop", kind="k", depends_on=[a.id])
        if end == "failed":
            fail(queue, a.id)
        else:
            cancel_job(queue, a.id)
        for before in (JobState.BLOCKED, JobState.CANCELLED):
            if before is JobState.CANCELLED:
                cancel_job(queue, b.id)
            with pytest.raises(JobStateError, match=f"job {a.id} it depends on is {end}") as info:
                retry_job(queue, b.id)
            assert info.value.job_id == b.id and info.value.state == before.value
            assert not queue.retry(b.id, now=5.0)
            assert state(queue, b.id) is before
        assert queue.runnable(user="shop") == []

    @pytest.mark.parametrize("end", ["failed", "cancelled"])
    def test_replacing_a_stopped_dependency_unblocks_its_dependants(self, queue, end):
        """sync fails (or is cancelled), the invoice and its follow-up are blocked; the sync's key
        is queued again: both wait on the new sync, pending, and run once it is done."""
        sync = queue.enqueue(user="shop", kind="sync", key="sync")
        invoice = queue.enqueue(user="shop", kind="inv", depends_on=[sync.id])
        after = queue.enqueue(user="shop", kind="inv", depends_on=[invoice.id])
        if end == "failed":
            fail(queue, sync.id)
        else:
            cancel_job(queue, sync.id)
        assert {state(queue, j.id) for j in (invoice, after)} == {JobState.BLOCKED}
        again = queue.enqueue(user="shop", kind="sync", key="sync", if_exists="replace")
        assert queue.get(invoice.id).depends_on == [again.id]
        assert {state(queue, j.id) for j in (invoice, after)} == {JobState.PENDING}
        assert [j.id for j in queue.runnable(user="shop")] == [again.id]
        finish(queue, again.id)
        finish(queue, invoice.id, ticket="t2")
        finish(queue, after.id, ticket="t3")

    def test_replacing_a_dependency_leaves_blocked_what_another_failure_blocks(self, queue):
        """The invoice needs the sync and the customer, both failed: replacing the sync moves
        the edge, and the invoice stays blocked until the customer is retried."""
        sync = queue.enqueue(user="shop", kind="sync", key="sync")
        customer = queue.enqueue(user="shop", kind="cust")
        invoice = queue.enqueue(user="shop", kind="inv", depends_on=[sync.id, customer.id])
        fail(queue, sync.id)
        fail(queue, customer.id)
        again = queue.enqueue(user="shop", kind="sync", key="sync", if_exists="replace")
        assert queue.get(invoice.id).depends_on == [customer.id, again.id]
        assert state(queue, invoice.id) is JobState.BLOCKED
        with pytest.raises(JobStateError, match=f"job {customer.id} it depends on is failed"):
            retry_job(queue, invoice.id)
        retry_job(queue, customer.id)
        assert state(queue, invoice.id) is JobState.PENDING

    def test_replacing_a_done_job_keeps_its_finished_dependants_history(self, queue):
        """A done dependant keeps the edge to the job it ran after; a waiting one moves."""
        sync = queue.enqueue(user="shop", kind="sync", key="sync")
        ran = queue.enqueue(user="shop", kind="inv", depends_on=[sync.id])
        finish(queue, sync.id)
        finish(queue, ran.id, ticket="t2")
        waiting = queue.enqueue(user="shop", kind="inv", depends_on=[sync.id])
        again = queue.enqueue(user="shop", kind="sync", key="sync", if_exists="replace")
        assert queue.get(ran.id).depends_on == [sync.id]
        assert queue.get(waiting.id).depends_on == [again.id]
        assert [j.id for j in queue.runnable(user="shop")] == [again.id]

    def test_dependencies_are_kept_in_their_own_indexed_table(self, tmp_path):
        """depends_on reads back from qbwc_job_deps; dependants are found through an index."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        a = queue.enqueue(user="shop", kind="k")
        b = queue.enqueue(user="shop", kind="k", depends_on=[a.id, a.id])
        stored = queue.get(b.id)
        assert stored is not None and stored.depends_on == [a.id]
        db = sqlite_connect(tmp_path / "jobs.db")
        assert db.execute("SELECT job_id, depends_on FROM qbwc_job_deps").fetchall() == [
            (b.id, a.id)
        ]
        plan = " ".join(
            str(row[-1])
            for row in db.execute(
                "EXPLAIN QUERY PLAN SELECT job_id FROM qbwc_job_deps WHERE depends_on = 1"
            )
        )
        assert "USING COVERING INDEX qbwc_job_deps_reverse" in plan

    def test_cancel_with_50000_jobs_in_history_touches_only_the_dependants(
        self, tmp_path, monkeypatch
    ):
        """The dependants come from the dependency table: a big history is not loaded."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        conn = sqlite_connect(tmp_path / "jobs.db")
        conn.executemany(
            "INSERT INTO qbwc_jobs (user, kind, payload, company_file, priority, state, attempts,"
            " reconciling, writes, pages, checkpoint, staged_checkpoint, created, updated)"
            " VALUES (?, 'k', '{}', '', 0, 'done', 1, 0, 0, 0, 'null', 'null', 0, 0)",
            [(f"user{n % 50}",) for n in range(50_000)],
        )
        conn.commit()
        conn.close()
        a = queue.enqueue(user="shop", kind="k")
        b = queue.enqueue(user="shop", kind="k", depends_on=[a.id])
        loaded: list[int] = []
        real = queue_module._row_to_job

        def counting(row):
            loaded.append(row["id"])
            return real(row)

        monkeypatch.setattr(queue_module, "_row_to_job", counting)
        cancel_job(queue, a.id)
        assert state(queue, b.id) is JobState.BLOCKED
        assert loaded == [a.id, b.id]  # the job read back for the caller, then b

    def test_a_claim_walks_the_waiting_jobs_in_order_without_sorting_them(self, tmp_path):
        """The claim reads the (user, priority, id) index of waiting jobs: no sort of them all."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        sql, names = queue._db._compiled(queue._sql.claim)
        values = {"ticket": "t", "lease_until": 1, "now": 1, "user": "shop", "company_key": ""}
        db = sqlite_connect(tmp_path / "jobs.db")
        plan = " ".join(
            str(r[-1]) for r in db.execute("EXPLAIN QUERY PLAN " + sql, [values[n] for n in names])
        )
        assert "qbwc_jobs_waiting" in plan and "TEMP B-TREE" not in plan


class TestPurge:
    def test_purge_deletes_old_finished_jobs_and_their_dependency_rows(self, tmp_path):
        """Old done/failed/cancelled jobs go, with their rows in qbwc_job_deps; the rest stay."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        done = queue.enqueue(user="shop", kind="k")
        finish(queue, done.id)
        after = queue.enqueue(user="shop", kind="k", depends_on=[done.id])
        finish(queue, after.id)
        waiting = queue.enqueue(user="shop", kind="k")
        assert queue.purge(done_before=10) == 2
        assert [j.id for j in queue.jobs()] == [waiting.id]
        db = sqlite_connect(tmp_path / "jobs.db")
        assert db.execute("SELECT count(*) FROM qbwc_job_deps").fetchone() == (0,)

    def test_purge_keeps_a_finished_job_that_an_unfinished_one_depends_on(self, queue):
        """A failed job with a blocked dependant stays: retrying it must still unblock it."""
        failed = queue.enqueue(user="shop", kind="k")
        blocked = queue.enqueue(user="shop", kind="k", depends_on=[failed.id])
        fail(queue, failed.id)
        assert queue.purge(done_before=1e12) == 0
        retry_job(queue, failed.id)
        assert state(queue, blocked.id) is JobState.PENDING

    @pytest.mark.parametrize("end", ["done", "failed", "cancelled"])
    def test_a_purged_keyed_job_still_names_its_work(self, queue, end):
        """Purged, a keyed job is a tombstone: enqueueing its key again gives it back (no second
        write), its payload, checkpoint and error text are gone, a second purge counts it not."""
        job = queue.enqueue(user="shop", kind="inv", payload={"ref": "DEMO-1"}, key="DEMO-1")
        if end == "cancelled":
            cancel_job(queue, job.id)
        else:
            claimed(queue)
            queue.progress(job.id, ticket="t1", now=1, staged_checkpoint="c", warning="w")
            if end == "done":
                queue.complete(job.id, ticket="t1", now=1, keep_request=True)
            else:
                queue.fail(job.id, ticket="t1", now=1, code="3140", message="Ada's card")
        plain = queue.enqueue(user="shop", kind="inv", now=1)
        finish(queue, plain.id)
        before = queue.get(job.id)
        assert queue.purge(done_before=1e12) == 2
        again = queue.enqueue(user="shop", kind="inv", payload={"ref": "DEMO-1"}, key="DEMO-1")
        assert again.id == job.id and again.purged and again.state.value == end
        assert again.payload == {} and again.checkpoint is None and again.request is None
        assert again.error_message is None and again.error_code is None and again.warning is None
        kept = ("user", "kind", "key", "state", "created", "updated")
        assert all(getattr(again, n) == getattr(before, n) for n in kept)
        assert queue.runnable(user="shop") == [] and [j.id for j in queue.jobs()] == [job.id]
        assert queue.purge(done_before=1e12) == 0

    @pytest.mark.parametrize("end", ["failed", "cancelled"])
    def test_a_purged_job_is_not_retried_but_its_key_can_be_replaced(self, queue, end):
        """Retrying a tombstone would send an empty payload: refused, saying how to queue the
        key again; if_exists="replace" does, and the tombstone then goes at the next purge."""
        job = queue.enqueue(user="shop", kind="inv", payload={"ref": "1"}, key="1")
        if end == "failed":
            fail(queue, job.id)
        else:
            cancel_job(queue, job.id)
        queue.purge(done_before=1e12)
        with pytest.raises(JobStateError, match=r'was purged.*if_exists="replace"'):
            retry_job(queue, job.id)
        assert state(queue, job.id).value == end
        new = queue.enqueue(
            user="shop", kind="inv", payload={"ref": "1"}, key="1", if_exists="replace", now=2
        )
        assert new.state is JobState.PENDING and new.payload == {"ref": "1"}
        assert queue.purge(done_before=1e12) == 1
        assert [j.id for j in queue.jobs()] == [new.id]

    def test_purge_keeps_recent_jobs(self, queue):
        """Only jobs finished before the cut-off go."""
        job = queue.enqueue(user="shop", kind="k")
        finish(queue, job.id)  # finished at 1.0
        assert queue.purge(done_before=1.0) == 0 and queue.purge(done_before=1.5) == 1


class TestLeases:
    def test_expired_leases_of_every_user_are_released_in_one_sweep(self, queue):
        """Stuck jobs of users who never log in again are released too."""
        query = queue.enqueue(user="east", kind="sync")
        write = queue.enqueue(user="west", kind="add")
        blind = queue.enqueue(user="north", kind="blind")
        fresh = queue.enqueue(user="south", kind="sync")
        for job in (query, write, blind):
            claimed(queue, user=job.user, now=0, lease=10)
        queue.progress(write.id, ticket="t1", now=0, writes=True)
        queue.progress(blind.id, ticket="t1", now=0, writes=True)
        claimed(queue, user="south", now=5, lease=10)
        released = queue.release_expired(now=11, reconcilable={"add"}, message="lost")
        assert {j.id: j.state for j in released} == {
            query.id: JobState.PENDING,
            write.id: JobState.RECONCILE,
            blind.id: JobState.UNKNOWN,
        }
        assert state(queue, fresh.id) is JobState.IN_FLIGHT
        assert queue.get(blind.id).error_message == "lost"

    def test_recover_jobs_sends_expired_writes_to_reconcile(self, queue):
        """The operator's sweep: writes to reconcile, where the next session decides."""
        job = queue.enqueue(user="shop", kind="add")
        claimed(queue, now=0, lease=10)
        queue.progress(job.id, ticket="t1", now=0, writes=True)
        assert recover_jobs(queue, now=5) == []
        assert [j.state for j in recover_jobs(queue, now=11)] == [JobState.RECONCILE]

    def test_the_sweep_is_one_indexed_statement(self, tmp_path):
        """Finding expired leases uses the (state, lease_until) index, not a table scan."""
        SQLJobQueue(tmp_path / "jobs.db").close()
        db = sqlite_connect(tmp_path / "jobs.db")
        plan = " ".join(
            str(row[-1])
            for row in db.execute(
                "EXPLAIN QUERY PLAN UPDATE qbwc_jobs SET state = 'pending'"
                " WHERE state = 'in_flight' AND lease_until < 5"
            )
        )
        assert "qbwc_jobs_lease" in plan


class TestLogging:
    def test_each_transition_is_logged_without_payload(self, queue, caplog):
        """INFO: job id, kind, user, from -> to; never the payload or the request."""
        caplog.set_level(logging.INFO, logger="qbwc_spyne")
        job = queue.enqueue(user="shop", kind="add_invoice", payload={"card": "4111-SECRET"})
        claimed(queue)
        queue.progress(job.id, ticket="t1", now=1, request="<QBXML>4111-SECRET</QBXML>")
        queue.fail(job.id, ticket="t1", now=2, code="3140", message="no customer")
        lines = [r.getMessage() for r in caplog.records if r.name == "qbwc_spyne"]
        assert f"job {job.id} (add_invoice) of shop: new -> pending" in lines
        assert f"job {job.id} (add_invoice) of shop: pending -> in_flight" in lines
        assert f"job {job.id} (add_invoice) of shop: in_flight -> failed" in lines
        assert not any("SECRET" in line for line in lines)


# The layout today's release writes, verbatim: files in the field look like this.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS qbwc_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    company_file TEXT NOT NULL,
    priority INTEGER NOT NULL,
    depends_on TEXT NOT NULL,
    key TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    ticket TEXT,
    lease_until REAL,
    reconciling INTEGER NOT NULL,
    request TEXT,
    writes INTEGER NOT NULL,
    iterator_id TEXT,
    pages INTEGER NOT NULL,
    checkpoint TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    warning TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS qbwc_jobs_runnable ON qbwc_jobs (user, state, priority DESC, id);
CREATE UNIQUE INDEX IF NOT EXISTS qbwc_jobs_key ON qbwc_jobs (user, key)
    WHERE key IS NOT NULL AND state NOT IN ('done', 'failed', 'cancelled');
"""


# The previous releases' session table, verbatim.
OLD_SESSIONS = (
    "CREATE TABLE IF NOT EXISTS qbwc_sessions ("
    " ticket TEXT PRIMARY KEY, last_seen REAL NOT NULL, session TEXT NOT NULL)"
)


def old_row(**values):
    row = {
        "user": "shop",
        "kind": "k",
        "payload": "{}",
        "company_file": "",
        "priority": 0,
        "depends_on": "[]",
        "key": None,
        "state": "pending",
        "attempts": 0,
        "ticket": None,
        "lease_until": None,
        "reconciling": 0,
        "request": None,
        "writes": 0,
        "iterator_id": None,
        "pages": 0,
        "checkpoint": "null",
        "error_code": None,
        "error_message": None,
        "warning": None,
        "created": 1.0,
        "updated": 1.0,
    }
    row.update(values)
    return row


class TestSchemaUpgrade:
    def make_old_file(self, path):
        db = sqlite_connect(path)
        db.executescript(OLD_SCHEMA)
        rows = [
            old_row(kind="sync", key="sync", state="done", checkpoint='"2024-01-01"', pages=3),
            old_row(kind="sync", key="sync", state="done", checkpoint='"2024-02-01"'),
            old_row(kind="add_invoice", payload='{"ref": "1042"}', depends_on="[2]", key="1042"),
            old_row(
                kind="add_invoice",
                depends_on="[2, 3]",
                state="in_flight",
                ticket="T",
                lease_until=50.0,
                writes=1,
                request="<QBXML/>",
            ),
            old_row(kind="k", state="failed", error_code="3140", error_message="nope"),
        ]
        for row in rows:
            names = ", ".join(row)
            db.execute(
                f"INSERT INTO qbwc_jobs ({names}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
        db.execute("DELETE FROM qbwc_jobs WHERE id = 5")  # a deleted id is never reused
        db.execute(
            "INSERT INTO qbwc_jobs (user, kind, payload, company_file, priority, depends_on,"
            " state, attempts, reconciling, writes, pages, checkpoint, created, updated)"
            " VALUES ('other', 'k', '[1]', '', 5, '[]', 'blocked', 0, 0, 0, 0, 'null', 2, 2)"
        )
        # The newest job deleted too: its id is above every id left.
        db.execute(
            "INSERT INTO qbwc_jobs (user, kind, payload, company_file, priority, depends_on,"
            " state, attempts, reconciling, writes, pages, checkpoint, created, updated)"
            " VALUES ('gone', 'k', '{}', '', 0, '[]', 'done', 0, 0, 0, 0, 'null', 3, 3)"
        )
        db.execute("DELETE FROM qbwc_jobs WHERE id = 7")
        db.commit()
        db.row_factory = sqlite3.Row
        before = [dict(r) for r in db.execute("SELECT * FROM qbwc_jobs ORDER BY id")]
        db.close()
        return before

    def test_a_file_written_by_the_previous_release_upgrades_with_nothing_lost(self, tmp_path):
        """Every job and dependency survives; keys shared by finished jobs are resolved."""
        path = tmp_path / "jobs.db"
        before = self.make_old_file(path)
        queue = SQLJobQueue(path, upgrade=True)
        jobs = {j.id: j for j in queue.jobs()}
        assert sorted(jobs) == [r["id"] for r in before] == [1, 2, 3, 4, 6]
        for row in before:
            job = jobs[row["id"]]
            for name in ("user", "kind", "company_file", "priority", "key", "state", "attempts",
                         "ticket", "lease_until", "request", "iterator_id", "pages",
                         "error_code", "error_message", "created", "updated"):  # fmt: skip
                value = getattr(job, name)
                assert (value.value if isinstance(value, JobState) else value) == row[name]
            assert job.payload == json.loads(row["payload"])
            assert job.checkpoint == json.loads(row["checkpoint"])
            assert job.depends_on == sorted(json.loads(row["depends_on"]))
        assert jobs[1].replaced_by == 2 and jobs[2].replaced_by is None
        assert queue.enqueue(user="shop", kind="sync", key="sync").id == 2
        assert queue.enqueue(user="shop", kind="k").id == 8
        db = sqlite_connect(path)
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
        assert db.execute("SELECT version FROM qbwc_schema_version").fetchall() == [
            (3,),
            (4,),
            (5,),
        ]
        db.close()
        # Opening it again changes nothing.
        SQLJobQueue(path).close()
        assert [j.id for j in SQLJobQueue(path).jobs()] == [1, 2, 3, 4, 6, 8]

    def test_an_upgraded_file_keeps_working(self, tmp_path):
        """The job in flight before the upgrade is swept and finishes; dependants follow."""
        path = tmp_path / "jobs.db"
        self.make_old_file(path)
        queue = SQLJobQueue(path, upgrade=True)
        released = queue.release_expired(now=100, reconcilable=None, message="lost")
        assert [(j.id, j.state) for j in released] == [(4, JobState.RECONCILE)]
        cancel_job(queue, 3)
        assert state(queue, 4) is JobState.BLOCKED

    def test_a_newer_layout_is_refused(self, tmp_path):
        """A file from a later release: refused, not downgraded."""
        path = tmp_path / "jobs.db"
        SQLJobQueue(path).close()
        db = sqlite_connect(path)
        db.execute("INSERT INTO qbwc_schema_version (version, applied) VALUES (99, 0)")
        db.commit()
        db.close()
        for upgrade in (False, True):
            with pytest.raises(NotAQueueDatabaseError, match="newer"):
                SQLJobQueue(path, upgrade=upgrade)

    def test_an_unversioned_file_of_an_unknown_layout_is_refused(self, tmp_path):
        """Job tables with a user_version no release wrote: refused, not changed."""
        path = tmp_path / "jobs.db"
        self.make_old_file(path)
        db = sqlite_connect(path)
        db.execute("PRAGMA user_version = 99")
        db.close()
        with pytest.raises(NotAQueueDatabaseError, match="newer"):
            SQLJobQueue(path, upgrade=True)
        db = sqlite_connect(path)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "qbwc_schema_version" not in tables and "qbwc_job_deps" not in tables
        assert db.execute("SELECT count(*) FROM qbwc_jobs").fetchone() == (5,)


class TestOpening:
    def test_create_false_refuses_what_is_not_a_queue_and_creates_nothing(self, tmp_path):
        """A missing file, a text file, an empty file and a sessions database: refused as is."""
        missing = tmp_path / "none.db"
        text = tmp_path / "notes.txt"
        text.write_text("not a database\n" * 100)
        empty = tmp_path / "empty.db"
        empty.touch()
        sessions = tmp_path / "sessions.db"
        old = sqlite_connect(sessions)
        old.execute(OLD_SESSIONS)
        old.close()
        snapshot = {p.name: p.read_bytes() for p in (text, empty, sessions)}
        for path in (missing, text, empty, sessions):
            with pytest.raises(NotAQueueDatabaseError):
                SQLJobQueue(path, create=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(snapshot)
        assert {p.name: p.read_bytes() for p in (text, empty, sessions)} == snapshot

    def test_the_library_still_creates_a_new_file(self, tmp_path):
        """SQLJobQueue(path) makes the file and its tables, as before."""
        queue = SQLJobQueue(tmp_path / "new.db")
        assert queue.enqueue(user="shop", kind="k").id == 1
        assert SQLJobQueue(tmp_path / "new.db", create=False).get(1) is not None

    def test_a_text_file_is_not_a_queue_even_with_create(self, tmp_path):
        """The library does not overwrite a file that is not SQLite."""
        text = tmp_path / "jobs.db"
        text.write_text("hello\n" * 100)
        with pytest.raises(NotAQueueDatabaseError, match="not a SQLite database"):
            SQLJobQueue(text)
        assert text.read_text() == "hello\n" * 100


class TestStorageErrors:
    def test_a_held_write_lock_is_a_storage_error_and_changes_nothing(self, tmp_path):
        """Another connection holds BEGIN IMMEDIATE past the busy timeout: StorageError, not
        sqlite3.OperationalError, and the job is as it was."""
        path = tmp_path / "jobs.db"
        queue = SQLJobQueue(path, timeout=0.05)
        job = queue.enqueue(user="shop", kind="k")
        claimed(queue)
        other = sqlite_connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StorageError, match="locked"):
                queue.complete(job.id, ticket="t1", now=1)
            with pytest.raises(StorageError):
                queue.enqueue(user="shop", kind="k")
            assert state(queue, job.id) is JobState.IN_FLIGHT  # reads go on
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert queue.complete(job.id, ticket="t1", now=time.time())
