"""The job queue with the simulator and the fake QuickBooks: what other frameworks get wrong."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from qbwc_spyne import (
    JobContext,
    JobKind,
    JobState,
    MemoryJobQueue,
    QueueHandler,
    SQLJobQueue,
    SQLSessionStore,
    make_wsgi_app,
    qbxml,
)
from qbwc_spyne.jobs import cancel_job, retry_job
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

from .helpers import FakeClock, update


class SyncCustomers(JobKind):
    """Pages through customers; records ListIDs, and a TimeModified watermark as checkpoint."""

    name = "sync_customers"

    def __init__(self, page: int = 100) -> None:
        self.page = page
        self.seen: list[str] = []

    def build(self, ctx: JobContext) -> qbxml.Rq:
        fields: dict[str, Any] = {"MaxReturned": self.page, "ActiveStatus": "All"}
        if ctx.job.checkpoint:
            fields["FromModifiedDate"] = ctx.job.checkpoint
        return qbxml.Rq("CustomerQueryRq", fields, iterator="Start")

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        for record in result.records:
            self.seen.append(record.findtext("ListID"))
            ctx.watermark(record.findtext("TimeModified"))


class AddCustomer(JobKind):
    """Adds the customer named in the payload; records its ListID. Reconciles by FullName."""

    name = "add_customer"

    def __init__(self) -> None:
        self.added: dict[str, str] = {}

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": ctx.payload["name"]}})

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        self.added[ctx.payload["name"]] = result.records[0].findtext("ListID")

    def reconcile(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"FullName": ctx.payload["name"]})


class AddCustomerNoReconcile(AddCustomer):
    name = "add_customer_blind"

    def reconcile(self, ctx: JobContext) -> None:  # type: ignore[override]
        return None


class AddInvoice(JobKind):
    """Adds an invoice for a customer by name; records the TxnID."""

    name = "add_invoice"

    def __init__(self) -> None:
        self.txn_ids: list[str] = []

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq(
            "InvoiceAddRq",
            {
                "InvoiceAdd": {
                    "CustomerRef": {"FullName": ctx.payload["customer"]},
                    "RefNumber": ctx.payload.get("ref"),
                    "InvoiceLineAdd": {
                        "ItemRef": {"FullName": "Labor"},
                        "Quantity": 2,
                        "Rate": "50.00",
                    },
                }
            },
        )

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        self.txn_ids.append(result.records[0].findtext("TxnID"))


class QueryCustomer(JobKind):
    """A query by FullName: no match and the 500 warning are not failures."""

    name = "query_customer"

    def __init__(self) -> None:
        self.results: list[qbxml.Result] = []

    def build(self, ctx: JobContext) -> qbxml.Rq:
        fields = [("FullName", name) for name in ctx.payload["names"]]
        return qbxml.Rq("CustomerQueryRq", fields)

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        self.results.append(result)


def write_sent_then_session_died(queue, clock: FakeClock, *, lease: float) -> None:
    """The next job is claimed and its write handed to the Web Connector, whose session then
    dies: its lease runs out with no answer."""
    sent = queue.claim(user="shop", company_file="", ticket="dead", now=clock(), lease=lease)
    assert queue.progress(sent.id, ticket="dead", now=clock(), writes=True)
    clock.advance(lease + 1)


def company(customers: int = 0) -> FakeQuickBooks:
    qb = FakeQuickBooks()
    qb.load({"items": [{"type": "ItemService", "Name": "Labor"}]})
    qb.add_customers(customers)
    return qb


_make_queue: Any = MemoryJobQueue


@pytest.fixture(autouse=True, params=["memory", "postgresql"])
def backend(request):
    """Every test here runs on the in-memory queue and on PostgreSQL (each queue its prefix)."""
    global _make_queue
    made: list[SQLJobQueue] = []
    if request.param == "postgresql":
        postgres = request.getfixturevalue("postgres")
        base = request.getfixturevalue("pg_prefix")

        def make() -> SQLJobQueue:
            made.append(SQLJobQueue(postgres.url(), prefix=f"{base}{len(made)}_"))
            return made[-1]

        _make_queue = make
    yield request.param
    _make_queue = MemoryJobQueue
    for queue in made:
        queue.close()


def clock_after(qb: FakeQuickBooks, seconds: float = 3600) -> FakeClock:
    """Our clock, ``seconds`` after the fake company's latest change (its clock starts in 2024)."""
    times = [r.findtext("TimeModified") for rows in qb.records.values() for r in rows.values()]
    newest = max(datetime.fromisoformat(t) for t in times if t)
    return FakeClock(newest.timestamp() + seconds)


def setup(*kinds: JobKind, queue=None, clock=None, **options):
    queue = queue if queue is not None else _make_queue()
    options.setdefault("clock", clock or FakeClock())
    handler = QueueHandler(queue, passwords=lambda user, pw: pw == "pw", kinds=kinds, **options)
    return queue, handler


class TestIterators:
    def test_sync_of_1000_customers_in_pages_of_100_matches_exactly(self):
        """Every ListID once, in QuickBooks' order; 10 pages; the job done; progress ends at 100."""
        qb = company(1000)
        sync = SyncCustomers(page=100)
        queue, handler = setup(sync)
        job = handler.enqueue("sync_customers", user="shop")
        progress: list[int] = []
        result = update(handler, qb, progress=progress.append)
        assert result.ok, result.transcript()
        assert sync.seen == list(qb.records["Customer"]) and len(set(sync.seen)) == 1000
        done = queue.get(job.id)
        assert done.state is JobState.DONE and done.pages == 10 and done.attempts == 1
        assert progress == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
        continues = [r for r in result.requests if 'iterator="Continue"' in r]
        assert len(continues) == 9 and all('requestID="1"' in r for r in result.requests)
        criteria = {
            r[r.index("<MaxReturned>") : r.index("</CustomerQueryRq>")] for r in result.requests
        }
        assert len(criteria) == 1  # the same criteria on every page

    @staticmethod
    def sync_and_invoice(wrap: Callable[[Any], Any]) -> tuple[Any, ...]:
        """A 251-customer sync and an invoice through ``wrap(queue)``: what the update did."""
        qb = company(250)
        qb.load({"customers": [{"Name": "Ada"}]})
        sync, invoice = SyncCustomers(page=100), AddInvoice()
        inner = _make_queue()
        _, handler = setup(sync, invoice, queue=wrap(inner))
        handler.enqueue("sync_customers", user="shop")
        handler.enqueue("add_invoice", user="shop", payload={"customer": "Ada"})
        progress: list[int] = []
        result = update(handler, qb, progress=progress.append)
        assert result.ok, result.transcript()
        states = [job.state for job in inner.jobs()]
        return states, len(sync.seen), len(invoice.txn_ids), progress, result.close_message

    def test_a_queue_with_only_the_protocols_methods_runs_the_same_update(self):
        """The handler needs only the queue's ports: their methods and nothing more, the same
        answers."""
        from qbwc_spyne.queue._ports import JobQueue, SessionQueue

        def members(port: type) -> set[str]:
            return {
                name
                for base in port.__mro__
                if base.__module__ == port.__module__
                for name, value in vars(base).items()
                if not name.startswith("_") and (callable(value) or isinstance(value, property))
            }

        protocol = members(JobQueue)
        # The session's one-statement shortcuts are part of its port.
        assert {"resume", "first_runnable", "progress_counting", "complete_counting"} <= members(
            SessionQueue
        )

        class ProtocolOnly:
            """A queue written elsewhere: JobQueue's methods and nothing more."""

            def __init__(self, queue: Any) -> None:
                self.queue = queue

            def __getattr__(self, name: str) -> Any:
                if name not in protocol:
                    raise AttributeError(name)
                return getattr(self.queue, name)

        wrapped = ProtocolOnly(_make_queue())
        assert not hasattr(wrapped, "close") and hasattr(wrapped, "resume")  # the port alone
        plain = self.sync_and_invoice(lambda queue: queue)
        assert self.sync_and_invoice(ProtocolOnly) == plain
        assert plain[:3] == ([JobState.DONE, JobState.DONE], 251, 1)

    def test_a_queue_written_to_the_earlier_interface_still_runs_and_is_told_once(self):
        """Without the session's shortcuts the handler makes them up: same outcome, a warning."""
        from qbwc_spyne import _deprecation
        from qbwc_spyne.queue._handler import SHORTCUTS

        class Earlier:
            """A queue of the earlier interface: everything but the shortcuts."""

            def __init__(self, queue: Any) -> None:
                self.queue = queue

            def __getattr__(self, name: str) -> Any:
                if name in SHORTCUTS:
                    raise AttributeError(name)
                return getattr(self.queue, name)

        plain = self.sync_and_invoice(lambda queue: queue)
        _deprecation.warned.discard(f"a job queue without {', '.join(SHORTCUTS)}")
        with pytest.warns(DeprecationWarning, match="first_runnable.*SessionQueue"):
            earlier = self.sync_and_invoice(Earlier)
        assert earlier == plain
        assert plain[:3] == ([JobState.DONE, JobState.DONE], 251, 1)

    def test_session_dying_mid_iterator_restarts_from_the_last_completed_checkpoint(self):
        """A lost response at page 3: the job returns to the queue; the pages' watermark was
        never applied, so the next update starts again from the start and skips nothing."""
        qb = company(50)
        sync = SyncCustomers(page=10)
        clock = clock_after(qb)
        queue, handler = setup(sync, clock=clock, lease=60)
        job = handler.enqueue("sync_customers", user="shop")
        handle = sync.handle
        pages: list[int] = []

        def lose_after_two(ctx, result):
            handle(ctx, result)
            pages.append(1)
            if len(pages) == 2:
                qb.lose_responses = 1

        sync.handle = lose_after_two  # type: ignore[method-assign]
        assert update(handler, qb).status == "response lost"
        assert queue.get(job.id).state is JobState.IN_FLIGHT
        clock.advance(61)  # the lease runs out
        result = update(handler, qb)
        assert result.ok
        assert set(sync.seen) == set(qb.records["Customer"])  # nothing skipped
        restarted = result.requests[0]
        assert 'iterator="Start"' in restarted and "<FromModifiedDate>" not in restarted
        done = queue.get(job.id)
        assert done.state is JobState.DONE
        assert done.checkpoint == max(
            r.findtext("TimeModified") for r in qb.records["Customer"].values()
        )

    def test_expired_iterator_3391_restarts_the_query(self):
        """QuickBooks forgets the iterator mid-way ("iteratorID not valid"): start again."""
        qb = company(30)
        sync = SyncCustomers(page=10)
        queue, handler = setup(sync)
        job = handler.enqueue("sync_customers", user="shop")
        handle = sync.handle
        calls: list[int] = []

        def forget_once(ctx, result):
            handle(ctx, result)
            calls.append(1)
            if len(calls) == 1:
                qb.close()  # QuickBooks drops its iterators

        sync.handle = forget_once  # type: ignore[method-assign]
        result = update(handler, qb)
        assert result.ok
        assert set(sync.seen) == set(qb.records["Customer"])
        assert sum('iterator="Start"' in r for r in result.requests) == 2
        assert queue.get(job.id).state is JobState.DONE


class TestOrderAndErrors:
    def test_an_invoice_is_never_sent_before_its_customer(self):
        """The invoice depends on the customer add: sent after it, even with higher priority."""
        qb = company()
        add, invoice = AddCustomer(), AddInvoice()
        _, handler = setup(add, invoice)
        first = handler.enqueue("add_customer", user="shop", payload={"name": "New Co"})
        handler.enqueue(
            "add_invoice",
            user="shop",
            payload={"customer": "New Co"},
            depends_on=[first.id],
            priority=10,
        )
        result = update(handler, qb)
        assert result.ok
        assert ["CustomerAddRq" in r for r in result.requests] == [True, False]
        assert len(invoice.txn_ids) == 1 and invoice.txn_ids[0] in qb.records["Invoice"]

    def test_failed_dependency_blocks_the_dependant(self):
        """The customer add fails (duplicate): the invoice is blocked, never sent."""
        qb = company()
        qb.load({"customers": [{"Name": "Taken"}]})
        queue, handler = setup(AddCustomer(), AddInvoice())
        first = handler.enqueue("add_customer", user="shop", payload={"name": "Taken"})
        second = handler.enqueue(
            "add_invoice", user="shop", payload={"customer": "Taken"}, depends_on=[first.id]
        )
        result = update(handler, qb)
        assert result.ok and len(result.requests) == 1
        failed = queue.get(first.id)
        assert (failed.state, failed.error_code) == (JobState.FAILED, "3100")
        assert queue.get(second.id).state is JobState.BLOCKED
        assert not qb.records["Invoice"]

    def test_error_goes_on_with_the_next_job_by_default(self):
        """A failing job does not stop the session: the next job runs."""
        qb = company()
        qb.load({"customers": [{"Name": "Taken"}]})
        add = AddCustomer()
        queue, handler = setup(add)
        bad = handler.enqueue("add_customer", user="shop", payload={"name": "Taken"})
        good = handler.enqueue("add_customer", user="shop", payload={"name": "Fresh"})
        result = update(handler, qb)
        assert result.ok and len(result.requests) == 2
        assert (
            queue.get(bad.id).state is JobState.FAILED and queue.get(good.id).state is JobState.DONE
        )

    def test_stop_on_error_ends_the_session_through_get_last_error(self):
        """stop_on_error: the failure's code and message reach the user; the next job waits."""
        qb = company()
        qb.load({"customers": [{"Name": "Taken"}]})
        queue, handler = setup(AddCustomer(), stop_on_error=True)
        bad = handler.enqueue("add_customer", user="shop", payload={"name": "Taken"})
        good = handler.enqueue("add_customer", user="shop", payload={"name": "Fresh"})
        result = update(handler, qb)
        assert result.status == "error"
        assert f"Job {bad.id} (add_customer) failed: 3100" in result.messages[0]
        assert queue.get(good.id).state is JobState.PENDING

    def test_warnings_and_no_match_are_successes(self):
        """A 500 warning is kept on the job, which is done; no match is an empty success."""
        qb = company()
        qb.load({"customers": [{"Name": "Ada"}]})
        query = QueryCustomer()
        queue, handler = setup(query)
        warned = handler.enqueue("query_customer", user="shop", payload={"names": ["Ada", "Ghost"]})
        result = update(handler, qb)
        assert result.ok
        job = queue.get(warned.id)
        assert job.state is JobState.DONE and "Ghost" in job.warning
        assert [r.findtext("Name") for r in query.results[0].records] == ["Ada"]

    def test_hresult_fails_the_job_and_reaches_the_user(self):
        """QuickBooks cannot parse the request (0x80040400): the job fails; getLastError says so."""

        class Broken(JobKind):
            name = "broken"

            def build(self, ctx):
                return qbxml.Rq("TeleportRq", {"Where": "Mars"}, validate=False)

        queue, handler = setup(Broken())
        job = handler.enqueue("broken", user="shop")
        result = update(handler, company())
        assert result.status == "error" and "0x80040400" in result.messages[0]
        assert queue.get(job.id).state is JobState.FAILED

    def test_a_kind_that_raises_fails_its_job_and_the_session_goes_on(self):
        """A build that raises fails that job only; the next job is sent."""

        class Raising(JobKind):
            name = "raising"

            def build(self, ctx):
                raise KeyError("sku")

        queue, handler = setup(Raising(), AddCustomer())
        bad = handler.enqueue("raising", user="shop")
        good = handler.enqueue("add_customer", user="shop", payload={"name": "Fresh"})
        assert update(handler, company()).ok
        assert (
            queue.get(bad.id).state is JobState.FAILED
            and "KeyError" in queue.get(bad.id).error_message
        )
        assert queue.get(good.id).state is JobState.DONE

    def test_no_runnable_job_answers_none(self):
        """No job, or only blocked ones: authenticate says "none", never an empty request."""
        queue, handler = setup(AddCustomer())
        assert update(handler, company()).status == "no work"
        first = handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        handler.enqueue("add_customer", user="shop", payload={"name": "B"}, depends_on=[first.id])
        cancel_job(queue, first.id)
        result = update(handler, company())
        assert result.status == "no work" and "sendRequestXML" not in result.operations()

    def test_connection_error_puts_the_job_back(self):
        """QuickBooks cannot be opened: nothing was sent, the job is pending again."""
        qb = company()
        qb.running = False
        queue, handler = setup(AddCustomer())
        job = handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        assert update(handler, qb).status == "connection error"
        assert queue.get(job.id).state is JobState.PENDING
        qb.running = True
        assert update(handler, qb).ok and queue.get(job.id).state is JobState.DONE

    def test_request_id_is_checked_on_the_way_back(self):
        """A response that answers another requestID does not complete the job."""

        class Tampering(FakeQuickBooks):
            def process(self, request):
                answer = super().process(request)
                return type(answer)(
                    response=answer.response.replace('requestID="1"', 'requestID="99"')
                )

        qb = Tampering()
        sync = SyncCustomers()
        queue, handler = setup(sync)
        job = handler.enqueue("sync_customers", user="shop")
        update(handler, qb)
        assert queue.get(job.id).state is JobState.FAILED
        assert "does not answer request 1" in queue.get(job.id).error_message


class TestNothingTwice:
    def test_start_up_code_after_a_purge_does_not_post_a_keyed_write_again(self):
        """Start-up enqueues invoice DEMO-1 by key, it is posted, the queue is purged, the app
        starts again and enqueues the same key: the next update posts nothing new."""
        qb = company()
        qb.load({"customers": [{"Name": "Ada"}]})
        clock = FakeClock()
        queue, handler = setup(AddInvoice(), clock=clock)

        def start_up():
            payload = {"customer": "Ada", "ref": "DEMO-1"}
            return handler.enqueue("add_invoice", user="shop", payload=payload, key="DEMO-1")

        first = start_up()
        assert update(handler, qb).ok
        clock.advance(3600)
        assert queue.purge(done_before=clock()) == 1
        assert start_up().id == first.id
        assert update(handler, qb).status == "no work"
        assert [r.findtext("RefNumber") for r in qb.records["Invoice"].values()] == ["DEMO-1"]

    def test_write_lost_mid_session_is_reconciled_not_resent(self):
        """The Add ran but its answer was lost: the next update asks (a query), finds it, done."""
        qb = company()
        qb.lose_responses = 1
        add = AddCustomer()
        clock = FakeClock()
        queue, handler = setup(add, clock=clock, lease=60)
        job = handler.enqueue("add_customer", user="shop", payload={"name": "Once Only"})
        assert update(handler, qb).status == "response lost"
        clock.advance(61)
        result = update(handler, qb)
        assert result.ok
        assert "CustomerQueryRq" in result.requests[0] and "CustomerAddRq" not in result.requests[0]
        assert queue.get(job.id).state is JobState.DONE
        assert [r.findtext("Name") for r in qb.records["Customer"].values()] == ["Once Only"]
        assert add.added["Once Only"] in qb.records["Customer"]

    def test_write_that_never_happened_is_sent_after_reconciling(self):
        """The session died after the Add left us but before QuickBooks ran it: the reconcile
        query finds nothing, so the Add is sent, once."""
        qb = company()
        clock = FakeClock()
        queue, handler = setup(AddCustomer(), clock=clock, lease=60)
        job = handler.enqueue("add_customer", user="shop", payload={"name": "Late"})
        write_sent_then_session_died(queue, clock, lease=60)
        result = update(handler, qb)
        assert result.ok
        assert ["CustomerQueryRq" in r for r in result.requests] == [True, False]
        assert [r.findtext("Name") for r in qb.records["Customer"].values()] == ["Late"]
        assert queue.get(job.id).state is JobState.DONE

    def test_write_without_reconcile_waits_for_the_operator(self):
        """No reconcile query: unknown, never resent by itself; retry_job is the operator's say."""
        qb = company()
        qb.lose_responses = 1
        clock = FakeClock()
        queue, handler = setup(AddCustomerNoReconcile(), clock=clock, lease=60)
        job = handler.enqueue("add_customer_blind", user="shop", payload={"name": "Maybe"})
        update(handler, qb)
        clock.advance(61)
        assert update(handler, qb).status == "no work"
        assert queue.get(job.id).state is JobState.UNKNOWN
        assert "Outcome unknown" in queue.get(job.id).error_message
        assert len(qb.records["Customer"]) == 1
        retry_job(queue, job.id)
        result = update(handler, qb)
        assert queue.get(job.id).state is JobState.FAILED  # the retry meets the duplicate: 3100
        assert len(qb.records["Customer"]) == 1 and result.ok

    def test_stuck_in_flight_jobs_are_recovered_at_the_next_login(self):
        """A job in flight with an expired lease does not stay in progress forever."""
        clock = FakeClock()
        queue, handler = setup(SyncCustomers(), clock=clock, lease=30)
        job = handler.enqueue("sync_customers", user="shop")
        queue.claim(user="shop", company_file="", ticket="dead-session", now=clock(), lease=30)
        clock.advance(31)
        assert [j.id for j in handler.recover()] == [job.id]
        assert queue.get(job.id).state is JobState.PENDING

    def test_the_same_key_is_not_queued_twice(self):
        """enqueue with a key already waiting returns the waiting job."""
        queue, handler = setup(AddCustomer())
        first = handler.enqueue("add_customer", user="shop", payload={"name": "A"}, key="order-1")
        again = handler.enqueue("add_customer", user="shop", payload={"name": "A"}, key="order-1")
        other_user = handler.enqueue(
            "add_customer", user="other", payload={"name": "A"}, key="order-1"
        )
        assert again.id == first.id != other_user.id
        assert len(queue.jobs(user="shop")) == 1


class TestIsolationAndRestarts:
    def test_two_users_syncing_at_once_touch_only_their_own_jobs(self, tmp_path):
        """Two Web Connectors at once on one SQLite queue: each runs its user's jobs only."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        kinds = {user: AddCustomer() for user in ("east", "west")}

        class PerUser(AddCustomer):
            def handle(self, ctx, result):
                kinds[ctx.job.user].added[ctx.payload["name"]] = result.records[0].findtext(
                    "ListID"
                )

        _, handler = setup(PerUser(), queue=queue)
        for user in kinds:
            for n in range(5):
                handler.enqueue("add_customer", user=user, payload={"name": f"{user}-{n}"})
        books = {user: company() for user in kinds}
        app = make_wsgi_app(handler, store=SQLSessionStore(tmp_path / "sessions.db"))
        results = {}

        def run(user):
            results[user] = WebConnector(
                app, user=user, password="pw", quickbooks=books[user], noop_delay=0
            ).update()

        threads = [threading.Thread(target=run, args=(user,)) for user in kinds]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(result.ok for result in results.values())
        assert results["east"].ticket != results["west"].ticket
        for user in kinds:
            names = sorted(r.findtext("Name") for r in books[user].records["Customer"].values())
            assert names == [f"{user}-{n}" for n in range(5)]
            assert all(j.state is JobState.DONE for j in queue.jobs(user=user))

    def test_server_restart_mid_session_loses_nothing_and_sends_nothing_twice(self, tmp_path):
        """Mid-iterator, the server is replaced by a new process' objects on the same files."""
        qb = company(40)
        for n in range(3):
            qb.load({"customers": [{"Name": f"Extra {n}"}]})
        seen: list[str] = []

        class Recording(SyncCustomers):
            def handle(self, ctx, result):
                seen.extend(r.findtext("ListID") for r in result.records)

        def server():
            queue = SQLJobQueue(tmp_path / "jobs.db")
            _, handler = setup(Recording(page=10), AddInvoice(), queue=queue)
            return (
                queue,
                handler,
                make_wsgi_app(handler, store=SQLSessionStore(tmp_path / "s.db")),
            )

        _, handler, first = server()
        sync = handler.enqueue("sync_customers", user="shop")
        invoice = handler.enqueue(
            "add_invoice", user="shop", payload={"customer": "Extra 0"}, depends_on=[sync.id]
        )

        class Switching:
            """Sends the first 3 calls after authenticate to one server, the rest to a new one."""

            def __init__(self):
                self.calls = 0
                self.second = None

            def __call__(self, environ, start_response):
                self.calls += 1
                if self.calls > 6 and self.second is None:
                    self.second = server()[2]  # a restart: new objects, same files
                return (self.second or first)(environ, start_response)

        result = WebConnector(
            Switching(), user="shop", password="pw", quickbooks=qb, noop_delay=0
        ).update()
        assert result.ok, result.transcript()
        assert sorted(seen) == sorted(qb.records["Customer"]) and len(seen) == len(set(seen))
        assert len(qb.records["Invoice"]) == 1
        final = SQLJobQueue(tmp_path / "jobs.db")
        states = [getattr(final.get(j), "state", None) for j in (sync.id, invoice.id)]
        assert states == [JobState.DONE, JobState.DONE]


class TestOperator:
    def test_cancel_blocks_dependants_and_retry_unblocks_them(self):
        """cancel: dependants blocked; retry: the job and its dependants pending again."""
        queue, handler = setup(AddCustomer(), AddInvoice())
        first = handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        second = handler.enqueue(
            "add_invoice", user="shop", payload={"customer": "A"}, depends_on=[first.id]
        )
        third = handler.enqueue(
            "add_invoice", user="shop", payload={"customer": "A"}, depends_on=[second.id]
        )
        cancel_job(queue, first.id)
        assert [queue.get(j.id).state for j in (first, second, third)] == [
            JobState.CANCELLED,
            JobState.BLOCKED,
            JobState.BLOCKED,
        ]
        retry_job(queue, first.id)
        assert {queue.get(j.id).state for j in (first, second, third)} == {JobState.PENDING}

    @pytest.mark.parametrize("action", [retry_job, cancel_job])
    def test_operator_refuses_what_it_must_not_touch(self, action):
        """No such job; retrying a pending job; cancelling a done one."""
        queue, handler = setup(AddCustomer())
        with pytest.raises(ValueError, match="no job 42"):
            action(queue, 42)
        job = handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        if action is retry_job:
            with pytest.raises(ValueError, match="pending"):
                action(queue, job.id)
        else:
            queue.claim(user="shop", company_file="", ticket="t", now=0, lease=60)
            assert queue.complete(job.id, ticket="t", now=1)
            with pytest.raises(ValueError, match="done"):
                action(queue, job.id)

    def test_unknown_kind_and_dependency_are_refused_at_enqueue(self):
        """A job naming no registered kind, or a missing dependency, is refused at once."""
        from qbwc_spyne.exceptions import ConfigurationError

        _, handler = setup(AddCustomer())
        with pytest.raises(ConfigurationError, match="teleport"):
            handler.enqueue("teleport", user="shop")
        with pytest.raises(ValueError, match="do not exist"):
            handler.enqueue("add_customer", user="shop", payload={"name": "A"}, depends_on=[99])
        with pytest.raises(ConfigurationError, match="already registered"):
            handler.register(AddCustomer())


class TestEdges:
    """Paths a Web Connector reaches only by odd timing, driven call by call."""

    HCP = FakeQuickBooks().hcp_response()

    def web_connector(self, handler):
        from qbwc_spyne.testing import WSGITransport, make_client

        return make_client(WSGITransport(make_wsgi_app(handler))).service

    def test_close_with_a_query_in_flight_puts_it_back(self):
        """The session closes between sendRequestXML and receiveResponseXML: pending again."""
        queue, handler = setup(SyncCustomers())
        job = handler.enqueue("sync_customers", user="shop")
        wc = self.web_connector(handler)
        ticket = wc.authenticate("shop", "pw")[0]
        assert "CustomerQueryRq" in wc.sendRequestXML(ticket, self.HCP, "", "US", 13, 0)
        wc.closeConnection(ticket)
        assert queue.get(job.id).state is JobState.PENDING

    def test_connection_error_mid_session_leaves_a_write_to_reconcile(self):
        """connectionError with a write in flight: QuickBooks may have run it before it was
        lost, so it goes to reconcile, never back to pending to be resent; a kind that gives
        no reconcile query then leaves it unknown, before a ticket is given for it."""
        queue, handler = setup(AddCustomer(), AddCustomerNoReconcile())
        job = handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        blind = handler.enqueue("add_customer_blind", user="shop", payload={"name": "B"})
        for in_flight in (job, blind):
            wc = self.web_connector(handler)
            ticket = wc.authenticate("shop", "pw")[0]
            assert "CustomerAddRq" in wc.sendRequestXML(ticket, self.HCP, "", "US", 13, 0)
            assert wc.connectionError(ticket, "0x80040408", "QuickBooks was lost.") == "done"
            assert queue.get(in_flight.id).state is JobState.RECONCILE
            if in_flight is job:
                queue.cancel(job.id, now=0)  # let the next session take the other write
        assert self.web_connector(handler).authenticate("shop", "pw")[1] == "none"
        assert queue.get(blind.id).state is JobState.UNKNOWN

    @pytest.mark.parametrize("kind", [AddCustomer(), AddCustomerNoReconcile()], ids=type)
    def test_a_write_lands_in_one_state_whichever_way_its_session_ends(self, kind):
        """A session that closes without the answer and a lease that runs out release a write
        by one rule: the same state and message, for a kind whose reconcile() gives a query
        and for one whose reconcile() gives None."""
        ends = {}
        for end in ("closeConnection", "lease"):
            clock = FakeClock()
            queue, handler = setup(kind, clock=clock, lease=60)
            job = handler.enqueue(kind.name, user="shop", payload={"name": "A"})
            wc = self.web_connector(handler)
            ticket = wc.authenticate("shop", "pw")[0]
            assert "CustomerAddRq" in wc.sendRequestXML(ticket, self.HCP, "", "US", 13, 0)
            if end == "closeConnection":
                wc.closeConnection(ticket)
            else:
                clock.advance(61)
                assert [j.id for j in handler.recover()] == [job.id]
            found = queue.get(job.id)
            ends[end] = (found.state, found.error_message.startswith("Outcome unknown"))
        assert ends["closeConnection"] == ends["lease"] == (JobState.RECONCILE, True)

    def test_connection_error_mid_session_puts_a_query_back(self):
        """connectionError with a query in flight: a query changed nothing, pending again."""
        queue, handler = setup(SyncCustomers())
        job = handler.enqueue("sync_customers", user="shop")
        wc = self.web_connector(handler)
        ticket = wc.authenticate("shop", "pw")[0]
        wc.sendRequestXML(ticket, self.HCP, "", "US", 13, 0)
        assert wc.connectionError(ticket, "0x80040408", "QuickBooks was lost.") == "done"
        assert queue.get(job.id).state is JobState.PENDING

    def test_response_with_no_job_in_flight_is_refused(self):
        """A receiveResponseXML the queue did not ask for answers -1 and says why."""
        _, handler = setup(AddCustomer())
        handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        wc = self.web_connector(handler)
        ticket = wc.authenticate("shop", "pw")[0]
        wc.sendRequestXML(ticket, self.HCP, "", "US", 13, 0)
        # Its lease ran out and a sweep released it: the answer is no longer this session's.
        assert handler.queue.release_expired(now=1e12, reconcilable=None, message="late")
        assert wc.receiveResponseXML(ticket, "<QBXML/>", "", "") == -1
        assert wc.getLastError(ticket) == "A response came for no job in flight."

    def test_unregistered_kind_and_wrong_build_result_fail_their_jobs(self):
        """A job whose kind is gone, or whose build returns no Rq, fails; the next job is sent."""

        class ReturnsText(JobKind):
            name = "returns_text"

            def build(self, ctx):
                return "<QBXML/>"

        queue, handler = setup(ReturnsText(), AddCustomer())
        orphan = queue.enqueue(user="shop", kind="retired_kind")
        text = handler.enqueue("returns_text", user="shop")
        good = handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        assert update(handler, company()).ok
        assert "no job kind named 'retired_kind'" in queue.get(orphan.id).error_message
        assert "must return a qbxml.Rq" in queue.get(text.id).error_message
        assert queue.get(good.id).state is JobState.DONE

    def test_reconcile_query_that_fails_leaves_the_write_unknown(self):
        """The reconcile query itself errs: the outcome stays unknown, nothing is resent."""

        class BadReconcile(AddCustomer):
            name = "bad_reconcile"

            def reconcile(self, ctx):
                return qbxml.Rq("CustomerQueryRq", {"ListID": "NO-SUCH-ID"})

        qb = company()
        clock = FakeClock()
        queue, handler = setup(BadReconcile(), clock=clock, lease=10)
        job = handler.enqueue("bad_reconcile", user="shop", payload={"name": "A"})
        write_sent_then_session_died(queue, clock, lease=10)
        assert update(handler, qb).ok
        assert queue.get(job.id).state is JobState.UNKNOWN and not qb.records["Customer"]

    def test_reconcile_query_quickbooks_cannot_run_leaves_the_write_unknown(self):
        """An hresult for the reconcile query: still unknown, never failed or resent."""

        class Unparsable(AddCustomer):
            name = "unparsable_reconcile"

            def reconcile(self, ctx):
                return qbxml.Rq("TeleportQueryRq", {"Where": "Mars"}, validate=False)

        clock = FakeClock()
        queue, handler = setup(Unparsable(), clock=clock, lease=10)
        job = handler.enqueue("unparsable_reconcile", user="shop", payload={"name": "A"})
        write_sent_then_session_died(queue, clock, lease=10)
        qb = company()
        assert update(handler, qb).status == "error"
        assert (queue.get(job.id).state, queue.get(job.id).error_code) == (
            JobState.UNKNOWN,
            "0x80040400",
        )
        assert not qb.records["Customer"]

    def test_reconcile_declined_at_send_time_leaves_the_write_unknown(self):
        """A kind with a reconcile query declines it for this job: unknown, the session goes on."""
        offers = iter([True, False])

        class Fickle(AddCustomer):
            name = "fickle"

            def reconcile(self, ctx):
                return super().reconcile(ctx) if next(offers) else None

        clock = FakeClock()
        queue, handler = setup(Fickle(), AddCustomer(), clock=clock, lease=10)
        job = handler.enqueue("fickle", user="shop", payload={"name": "A"})
        other = handler.enqueue("add_customer", user="shop", payload={"name": "B"})
        write_sent_then_session_died(queue, clock, lease=10)
        assert update(handler, company()).ok
        assert queue.get(job.id).state is JobState.UNKNOWN
        assert queue.get(other.id).state is JobState.DONE

    def test_job_taken_by_another_worker_ends_the_update_with_a_read_only_query(self):
        """authenticate saw work, another worker claimed it: never "" first, a HostQuery and 100."""
        queue, handler = setup(AddCustomer())
        handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        wc = self.web_connector(handler)
        ticket = wc.authenticate("shop", "pw")[0]
        queue.claim(user="shop", company_file="", ticket="other-worker", now=0, lease=1e9)
        request = wc.sendRequestXML(ticket, self.HCP, "", "US", 13, 0)
        assert [rq.tag for rq in qbxml.parse(request).find("QBXMLMsgsRq")] == ["HostQueryRq"]
        answer = FakeQuickBooks().process(request)
        assert wc.receiveResponseXML(ticket, answer.response, "", "") == 100
        assert wc.closeConnection(ticket) == "OK"


class Mirror(JobKind):
    """Mirrors customers (ListID -> FullName, TimeModified), FromModifiedDate the checkpoint.

    ``style`` is how it records the checkpoint: the ``watermark`` helper, or the
    pattern the examples used to show, each page's highest TimeModified set on the job.
    """

    name = "mirror"

    def __init__(self, style: str, page: int = 5) -> None:
        self.style = style
        self.page = page
        self.rows: dict[str, tuple[str, str]] = {}
        self.pages = 0

    def build(self, ctx: JobContext) -> qbxml.Rq:
        fields: dict[str, Any] = {"MaxReturned": self.page, "ActiveStatus": "All"}
        if ctx.job.checkpoint:
            fields["FromModifiedDate"] = ctx.job.checkpoint
        return qbxml.Rq("CustomerQueryRq", fields, iterator="Start")

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        self.pages += 1
        for record in result.records:
            self.rows[record.findtext("ListID")] = (
                record.findtext("FullName"),
                record.findtext("TimeModified"),
            )
            if self.style == "watermark":
                ctx.watermark(record.findtext("TimeModified"))
        if self.style == "page max" and result.records:
            ctx.job.checkpoint = max(r.findtext("TimeModified") for r in result.records)


def company_rows(qb: FakeQuickBooks) -> dict[str, tuple[str, str]]:
    return {
        list_id: (r.findtext("FullName"), r.findtext("TimeModified"))
        for list_id, r in qb.records["Customer"].items()
    }


def rename(qb: FakeQuickBooks, list_id: str, name: str) -> None:
    """A CustomerMod, as a QuickBooks user would make: its TimeModified becomes the latest."""
    record = qb.records["Customer"][list_id]
    rq = qbxml.Rq(
        "CustomerModRq",
        {
            "CustomerMod": {
                "ListID": list_id,
                "EditSequence": record.findtext("EditSequence"),
                "Name": name,
            }
        },
        request_id="1",
    )
    answer = qbxml.parse_response(qb.process(qbxml.request(rq)).response)[0]
    assert answer.ok, answer.message


class TestCheckpoints:
    @pytest.mark.parametrize("style", ["watermark", "page max"])
    def test_sync_cut_after_the_first_page_skips_no_record_modified_out_of_order(self, style):
        """An early-ListID customer modified last: the first page holds the newest TimeModified.
        The session dies after that page; the restart must still mirror all 12."""
        qb = company(12)
        rename(qb, next(iter(qb.records["Customer"])), "Renamed Early Customer")
        mirror = Mirror(style)
        clock = FakeClock()
        queue, handler = setup(mirror, clock=clock, lease=60)
        job = handler.enqueue("mirror", user="shop")
        handle = mirror.handle

        def cut_after_first_page(ctx, result):
            handle(ctx, result)
            if mirror.pages == 1:
                qb.lose_responses = 1  # the second page's answer never comes

        mirror.handle = cut_after_first_page  # type: ignore[method-assign]
        assert update(handler, qb).status == "response lost"
        clock.advance(61)
        assert update(handler, qb).ok
        assert mirror.rows == company_rows(qb)
        assert queue.get(job.id).state is JobState.DONE

    def test_the_next_sync_starts_from_the_last_completed_watermark(self):
        """A finished sync queued again starts from its highest TimeModified and catches a
        customer modified since, wherever its ListID sorts."""
        qb = company(12)
        mirror = Mirror("watermark")
        queue, handler = setup(mirror, clock=clock_after(qb))
        first = handler.enqueue("mirror", user="shop", key="mirror")
        assert update(handler, qb).ok
        newest = max(t for _, t in company_rows(qb).values())
        assert queue.get(first.id).checkpoint == newest
        rename(qb, next(iter(qb.records["Customer"])), "Renamed Early Customer")
        second = handler.enqueue("mirror", user="shop", key="mirror", if_exists="replace")
        assert second.checkpoint == newest
        result = update(handler, qb)
        assert result.ok and f"<FromModifiedDate>{newest}</FromModifiedDate>" in result.requests[0]
        assert mirror.rows == company_rows(qb)

    def test_watermark_compares_times_as_instants(self):
        """Across a DST change the offsets differ: the later instant wins, not the larger text."""
        ctx = JobContext(job=MemoryJobQueue().enqueue(user="u", kind="k"), session=None, version="")
        ctx.watermark("2024-03-10T01:30:00-08:00")  # 09:30 UTC
        ctx.watermark("2024-03-10T03:10:00-07:00")  # 10:10 UTC: later, though "03" > "01" anyway
        ctx.watermark("2024-03-10T02:59:00-07:00")  # 09:59 UTC: earlier than the one kept
        ctx.watermark(None)
        assert ctx.job.staged_checkpoint == "2024-03-10T03:10:00-07:00"
        ctx.watermark("2024-11-03T01:30:00-07:00")
        ctx.watermark("2024-11-03T01:10:00-08:00")  # 09:10 UTC beats 08:30 UTC
        assert ctx.job.staged_checkpoint == "2024-11-03T01:10:00-08:00"


class TestSweepAndSummary:
    def test_another_users_login_releases_stuck_jobs(self):
        """A job stuck in flight for a user who never logs in again is released by anyone's."""
        clock = FakeClock()
        queue, handler = setup(SyncCustomers(), AddCustomer(), clock=clock, lease=30)
        stuck = handler.enqueue("sync_customers", user="gone")
        queue.claim(user="gone", company_file="", ticket="dead", now=clock(), lease=30)
        handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        clock.advance(31)
        assert update(handler, company()).ok
        assert queue.get(stuck.id).state is JobState.PENDING

    def test_a_crashed_sessions_job_is_released_and_sent_at_its_users_next_login(self):
        """The login's one statement finds nothing runnable but a lease run out: the sweep
        releases the job, and the same login finds it and sends it in this update."""
        clock = FakeClock()
        queue, handler = setup(AddCustomer(), clock=clock, lease=30)
        job = handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        queue.claim(user="shop", company_file="", ticket="dead", now=clock(), lease=30)
        clock.advance(31)
        result = update(handler, company())
        assert result.ok and len(result.requests) == 1
        assert queue.get(job.id).state is JobState.DONE

    def test_close_connection_names_the_outcome_in_words(self):
        """The Web Connector's user reads how many jobs ended how, and why one failed."""
        qb = company()
        qb.load({"customers": [{"Name": "Taken"}]})
        _, handler = setup(AddCustomer())
        handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        bad = handler.enqueue("add_customer", user="shop", payload={"name": "Taken"})
        handler.enqueue("add_customer", user="shop", payload={"name": "B"})
        result = update(handler, qb)
        assert result.ok
        assert result.messages[-1].startswith(
            f"2 done, 1 failed: job {bad.id} (add_customer) 3100: "
        )
        assert "Taken" in result.messages[-1]

    def test_done_jobs_keep_their_request_only_when_asked(self):
        """keep_requests=True keeps the request text of a done job; by default it is dropped."""
        for keep in (False, True):
            queue, handler = setup(AddCustomer(), keep_requests=keep)
            job = handler.enqueue("add_customer", user="shop", payload={"name": "A"})
            assert update(handler, company()).ok
            request = queue.get(job.id).request
            assert (request is not None and "CustomerAddRq" in request) is keep


class TestHeldLock:
    @pytest.mark.parametrize("held", ["for the session", "for one write"])
    def test_a_lock_held_past_the_timeout_fails_no_job_and_posts_nothing_twice(
        self, tmp_path, held
    ):
        """Another connection holds the write lock as an answer comes (for the rest of the
        session, or until the queue's next call): the Web Connector gets -1, no job fails, no
        dependant is blocked, and the next update posts each invoice exactly once."""
        path = tmp_path / "jobs.db"
        clock = FakeClock()
        queue = SQLJobQueue(path, timeout=0.05)
        invoice = AddInvoiceReconciling()
        _, handler = setup(invoice, queue=queue, clock=clock, lease=60)
        first = handler.enqueue(
            "add_invoice_r", user="shop", payload={"customer": "Ada", "ref": "1"}
        )
        second = handler.enqueue(
            "add_invoice_r",
            user="shop",
            payload={"customer": "Ada", "ref": "2"},
            depends_on=[first.id],
        )
        holder = sqlite3.connect(path, isolation_level=None)
        calls_while_held: list[int] = []
        connect = queue._db._driver

        def counting_connect(*args):
            # "for one write": the lock goes once a read and a write have met it.
            if holder.in_transaction:
                calls_while_held.append(1)
                if held == "for one write" and len(calls_while_held) == 3:
                    holder.execute("ROLLBACK")
            return connect(*args)

        queue._db._driver = counting_connect  # type: ignore[method-assign]

        class Locking(FakeQuickBooks):
            """Posts the first invoice, then another process takes the queue's write lock."""

            def process(self, request):
                answer = super().process(request)
                if "InvoiceAddRq" in request and not calls_while_held:
                    holder.execute("BEGIN IMMEDIATE")
                return answer

        qb = Locking()
        qb.load({"items": [{"type": "ItemService", "Name": "Labor"}]})
        qb.load({"customers": [{"Name": "Ada"}]})
        store = SQLSessionStore(tmp_path / "sessions.db")
        try:
            result = update(handler, qb, store=store)
            assert result.status == "error"
            states = [getattr(queue.get(j.id), "state", None) for j in (first, second)]
            assert JobState.FAILED not in states and states[1] is JobState.PENDING
        finally:
            queue._db._driver = connect  # type: ignore[method-assign]
            if holder.in_transaction:
                holder.execute("ROLLBACK")
            holder.close()
        assert len(qb.records["Invoice"]) == 1
        clock.advance(61)
        assert update(handler, qb, store=store).ok
        refs = sorted(r.findtext("RefNumber") for r in qb.records["Invoice"].values())
        assert refs == ["1", "2"]
        finals = [getattr(queue.get(j.id), "state", None) for j in (first, second)]
        assert finals == [JobState.DONE] * 2

    def test_a_lock_held_as_an_answer_comes_is_logged_once(self, tmp_path, caplog):
        """The write lock is held by another process past the timeout when the answer comes:
        the Web Connector gets -1 and the log has one record of it (the core's, with its
        traceback), not a second line from the handler."""
        from qbwc_spyne.testing import WSGITransport, make_client

        path = tmp_path / "jobs.db"
        queue, handler = setup(AddCustomer(), queue=SQLJobQueue(path, timeout=0.05))
        job = handler.enqueue("add_customer", user="shop", payload={"name": "A"})
        wc = make_client(WSGITransport(make_wsgi_app(handler))).service
        qb = company()
        ticket = wc.authenticate("shop", "pw")[0]
        request = wc.sendRequestXML(ticket, qb.hcp_response(), "", "US", 13, 0)
        answer = qb.process(request).response
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="qbwc_spyne"):
                assert wc.receiveResponseXML(ticket, answer, "", "") == -1
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        told = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(told) == 1 and "locked" in told[0].getMessage() + str(told[0].exc_info)
        assert queue.get(job.id).state is JobState.IN_FLIGHT


class AddInvoiceReconciling(AddInvoice):
    """AddInvoice with a reconcile query by RefNumber."""

    name = "add_invoice_r"

    def reconcile(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("InvoiceQueryRq", {"RefNumber": ctx.payload["ref"]})
