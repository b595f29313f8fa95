"""Live requests: answered within a hot session, woken across processes, honest on timeout."""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from werkzeug.serving import make_server

from qbwc_spyne import (
    Job,
    JobKind,
    JobState,
    LiveClient,
    MemoryJobQueue,
    MemorySessionStore,
    QueueHandler,
    SQLJobQueue,
    make_wsgi_app,
    qbxml,
)
from qbwc_spyne.exceptions import (
    CodePageError,
    ConfigurationError,
    InvalidJobError,
    LiveRequestFailed,
    LiveTimeout,
    QBWCError,
    QBXMLBuildError,
    QuickBooksOffline,
    SchemaError,
    StorageError,
)
from qbwc_spyne.protocol._core import Core
from qbwc_spyne.queue._live import LIVE_KIND, LIVE_PRIORITY, LiveExpired
from qbwc_spyne.status import MemoryStatusStore, StatusRecorder, connection_status
from qbwc_spyne.store._status import StatusUpdate
from qbwc_spyne.testing import FakeQuickBooks, UpdateResult, WebConnector

from .helpers import FakeClock, free_port

ROOT = Path(__file__).resolve().parent.parent
KEEP_ALIVE = 60.0
#: Bounds every wait of these tests: a broken promise fails, it never hangs.
BOUND = 60.0


def customer_query(name: str = "Customer 0002") -> qbxml.Rq:
    return qbxml.Rq("CustomerQueryRq", {"FullName": name})


def company(customers: int = 5) -> FakeQuickBooks:
    quickbooks = FakeQuickBooks()
    quickbooks.add_customers(customers)
    return quickbooks


def stored(queue: Any, job_id: int | None) -> Job:
    """The job as the queue holds it now (it must exist)."""
    assert job_id is not None
    job = queue.get(job_id)
    assert job is not None, f"no job {job_id}"
    return job


def names(result: qbxml.Result) -> list[str]:
    return [record.findtext("Name") or "" for record in result.records]


def request_ids(requests: list[str]) -> list[str]:
    """The requestIDs of the CustomerQuery requests QuickBooks was sent, in order."""
    found = []
    for document in requests:
        for rq in qbxml.parse(document).iterfind("QBXMLMsgsRq/CustomerQueryRq"):
            found.append(rq.get("requestID") or "")
    return found


def paused(update: Update) -> bool:
    """Whether the update's session has been told NoOp at least once."""
    return any(b"getLastError" in e.request for e in list(update.wc.transport.exchanges))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail after a bounded number of tries."""
    for _ in range(int(BOUND / 0.01)):
        if condition():
            return
        time.sleep(0.01)
    pytest.fail(f"never happened: {what}")


class Asking:
    """A live request made in a thread: its answer, or what it raised."""

    def __init__(self, ask: Callable[[], Any]) -> None:
        self.answer: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(ask,), daemon=True)
        self._thread.start()

    def _run(self, ask: Callable[[], Any]) -> None:
        try:
            self.answer = ask()
        except BaseException as exc:
            self.error = exc

    def result(self) -> Any:
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), "the live request never returned"
        if self.error is not None:
            raise self.error
        return self.answer


class Update:
    """A Web Connector update running in a thread (a session that may stay hot)."""

    def __init__(self, wc: WebConnector) -> None:
        self.wc = wc
        self.result: UpdateResult | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self.wc.update()
        except BaseException as exc:
            self.error = exc

    def ended(self, within: float) -> bool:
        self._thread.join(within)
        return not self._thread.is_alive()

    def join(self) -> UpdateResult:
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), "the update never ended"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class Service:
    """A queue, its handler (on a clock the test moves) and the Web Connector's app."""

    def __init__(self, queue: Any = None, observers: Any = (), **options: Any) -> None:
        self.queue = queue if queue is not None else MemoryJobQueue()
        self.clock = FakeClock(time.time())
        options.setdefault("keep_alive", KEEP_ALIVE)
        self.handler = QueueHandler(
            self.queue, passwords=lambda user, pw: pw == "pw", clock=self.clock, **options
        )
        self.app = make_wsgi_app(self.handler, observers=observers)
        # poll=3600: only a wake (in memory here) can answer within the test's bound.
        self.client = LiveClient(self.queue, poll=3600)

    def web_connector(self, quickbooks: FakeQuickBooks, target: Any = None, **options: Any) -> Any:
        options.setdefault("noop_delay", 0.005)
        return WebConnector(
            target if target is not None else self.app,
            user="shop",
            password="pw",
            quickbooks=quickbooks,
            max_calls=50_000,
            **options,
        )

    def hot(self, quickbooks: FakeQuickBooks) -> Update:
        """A session made hot by a first live request, answered."""
        first = Asking(lambda: self.client.request("shop", customer_query(), timeout=BOUND))
        wait_for(lambda: bool(self.queue.jobs()), "the first live request is queued")
        update = Update(self.web_connector(quickbooks))
        assert names(first.result()) == ["Customer 0002"]
        return update

    def end(self, update: Update) -> UpdateResult:
        """Let the keep-alive window run out; the update ends.

        Moved again until it does: the window may open (the last answer
        taken) just after a move.
        """
        for _ in range(int(BOUND / 0.05)):
            self.clock.advance(KEEP_ALIVE + 1)
            if update.ended(0.05):
                break
        return update.join()


@pytest.fixture
def service() -> Service:
    return Service()


class TestBadInput:
    @pytest.mark.parametrize("timeout", [0, -1, -0.5, math.nan, math.inf, True, "60"])
    def test_a_timeout_that_is_not_a_positive_number_is_refused_before_anything_is_queued(
        self, service, timeout
    ):
        """0, negatives, NaN, infinity, booleans and text: a ValueError, and the queue untouched."""
        with pytest.raises(InvalidJobError, match="timeout must be a positive number") as caught:
            service.client.request("shop", customer_query(), timeout=timeout)
        assert isinstance(caught.value, ValueError)
        assert service.queue.jobs() == []

    def test_a_request_that_breaks_the_schema_is_refused_at_once(self, queue):
        """The SchemaError comes before the clock is read: nothing queued, nothing waited for."""

        def no_clock() -> float:
            raise AssertionError("the client went on past the check")

        client = LiveClient(queue, clock=no_clock)
        bad = qbxml.Rq("CustomerQueryRq", {"MaxReturned": 1, "FullName": "A", "Colour": "red"})
        with pytest.raises(SchemaError) as caught:
            client.request("shop", bad, timeout=3600)
        assert {path for path, _ in caught.value.problems} >= {"Colour"}
        assert queue.jobs() == []

    def test_a_name_that_is_no_request_and_an_iterator_on_a_request_without_one_are_refused(
        self, service
    ):
        """A build error, and an iterator where the schema has none, raise before queueing."""
        with pytest.raises(QBXMLBuildError, match="ends in Rq"):
            service.client.request("shop", qbxml.Rq("CustomerQuery"), timeout=5)
        with pytest.raises(SchemaError, match="does not take an iterator"):
            service.client.request("shop", qbxml.Rq("HostQueryRq", iterator="Start"), timeout=5)
        assert service.queue.jobs() == []

    def test_text_outside_the_code_page_is_refused_at_once(self, service):
        """A name QuickBooks cannot store fails before queueing, naming the character."""
        with pytest.raises(CodePageError, match="FullName"):
            service.client.request("shop", customer_query("Łódź Ltd"), timeout=5)
        assert service.queue.jobs() == []

    @pytest.mark.parametrize("user", ["", "  ", None])
    def test_a_blank_user_is_refused(self, service, user):
        """No job for nobody."""
        with pytest.raises(InvalidJobError, match="user"):
            service.client.request(user, customer_query(), timeout=5)
        assert service.queue.jobs() == []

    def test_the_handler_refuses_a_bad_keep_alive_and_a_kind_named_like_the_live_one(self, queue):
        """keep_alive below 0 or NaN, an unknown keep_alive_after, the live kind's name taken."""
        for options in ({"keep_alive": -1}, {"keep_alive": math.nan}, {"keep_alive_after": "x"}):
            with pytest.raises(ConfigurationError):
                QueueHandler(queue, passwords=lambda u, p: True, **options)

        class Impostor(JobKind):
            name = LIVE_KIND

        with pytest.raises(ConfigurationError, match="already registered"):
            QueueHandler(queue, passwords=lambda u, p: True, kinds=[Impostor()])


class TestHotSession:
    def test_a_second_live_request_goes_out_in_the_same_session_after_noop(self, service):
        """The session stays open on NoOp, and the next request is answered in it."""
        quickbooks = company()
        update = service.hot(quickbooks)
        wait_for(lambda: paused(update), "a NoOp")
        second = service.client.request("shop", customer_query("Customer 0004"), timeout=BOUND)
        assert names(second) == ["Customer 0004"]
        result = service.end(update)
        assert result.ok, result.transcript()
        assert len(request_ids(result.requests)) == 2

    def test_the_window_ends_with_a_host_query_answered_with_100_and_no_error(self, service):
        """Every getLastError says NoOp; the last request is a HostQuery; the update completes."""
        update = service.hot(company())
        wait_for(lambda: paused(update), "a NoOp")
        result = service.end(update)
        assert result.ok, result.transcript()
        answers = {c.result for c in result.calls if c.operation == "getLastError"}
        assert answers == {"NoOp"}
        assert "<HostQueryRq" in result.requests[-1]
        receives = [c.result for c in result.calls if c.operation == "receiveResponseXML"]
        assert receives[-1] == 100 and set(receives[:-1]) == {99}
        assert result.close_message == "1 done"

    def test_the_first_answer_after_authenticate_is_never_empty(self):
        """With keep-alive for every session, a session still opens with a request, not ""."""
        service = Service(keep_alive_after="any")
        service.handler.register(CustomerCount())
        service.handler.enqueue("count", user="shop")
        update = Update(service.web_connector(company()))
        wait_for(lambda: paused(update), "a NoOp")
        result = service.end(update)
        assert result.ok, result.transcript()
        sends = [c for c in result.calls if c.operation == "sendRequestXML"]
        assert sends[0].result.startswith("<?xml") and "<CustomerQueryRq" in sends[0].result

    def test_a_session_without_a_live_request_ends_at_once_by_default(self):
        """Scheduled work alone keeps nothing open: 100 after the last job, no NoOp."""
        service = Service()
        service.handler.register(CustomerCount())
        service.handler.enqueue("count", user="shop")
        result = service.web_connector(company()).update()
        assert result.ok, result.transcript()
        assert "getLastError" not in result.operations()

    def test_two_live_requests_at_once_are_both_answered_in_order_in_one_session(self, service):
        """Both land in the session already open, sent in the order they were queued."""
        quickbooks = company()
        update = service.hot(quickbooks)
        start = threading.Barrier(2)

        def ask(name: str) -> qbxml.Result:
            start.wait(BOUND)
            return service.client.request("shop", customer_query(name), timeout=BOUND)

        askings = [Asking(functools.partial(ask, n)) for n in ("Customer 0003", "Customer 0005")]
        answers = [asking.result() for asking in askings]
        assert [names(a) for a in answers] == [["Customer 0003"], ["Customer 0005"]]
        result = service.end(update)
        assert result.ok, result.transcript()
        sent = request_ids(result.requests)
        ids = sorted(int(a.request_id) for a in answers)
        assert sent[1:] == [str(i) for i in ids]

    def test_a_hundred_live_requests_from_ten_threads_in_one_session_in_order(self, service):
        """All answered, each its own; QuickBooks saw them in the order they were queued."""
        quickbooks = company(10)
        update = service.hot(quickbooks)

        def ask(thread: int) -> list[tuple[str, qbxml.Result]]:
            got = []
            for n in range(10):
                name = f"Customer {(thread + n) % 10 + 1:04d}"
                got.append(
                    (name, service.client.request("shop", customer_query(name), timeout=BOUND))
                )
            return got

        askings = [Asking(functools.partial(ask, t)) for t in range(10)]
        answered = [pair for asking in askings for pair in asking.result()]
        assert len(answered) == 100
        assert all(names(result) == [name] for name, result in answered)
        for asking in askings:  # each thread's requests were queued, and sent, in its order
            ids = [int(result.request_id) for _, result in asking.result()]
            assert ids == sorted(ids)
        result = service.end(update)
        assert result.ok, result.transcript()
        sent = [int(i) for i in request_ids(result.requests)[1:]]
        assert sent == sorted(int(r.request_id) for _, r in answered)

    def test_a_web_connector_gone_during_the_window_leaves_the_next_request_to_the_next_session(
        self, service
    ):
        """The Web Connector vanishes mid-NoOp; the next live request runs in a new session."""
        quickbooks = company()
        first = Asking(lambda: service.client.request("shop", customer_query(), timeout=BOUND))
        wait_for(lambda: bool(service.queue.jobs()), "the first live request is queued")

        class Gone(Exception):
            pass

        def vanish(seconds: float) -> None:
            raise Gone  # the Web Connector is closed while it waits after NoOp

        update = Update(service.web_connector(quickbooks, sleep=vanish))
        assert names(first.result()) == ["Customer 0002"]
        with pytest.raises(Gone):
            update.join()
        ticket = update.wc.transport.exchanges[2]  # authenticate's exchange
        second = Asking(
            lambda: service.client.request("shop", customer_query("Customer 0005"), timeout=BOUND)
        )
        wait_for(lambda: len(service.queue.jobs()) == 2, "the second live request is queued")
        later = Update(service.web_connector(quickbooks))
        assert names(second.result()) == ["Customer 0005"]
        result = service.end(later)
        assert result.ok, result.transcript()
        assert result.ticket and result.ticket.encode() not in ticket.response
        assert len(request_ids(result.requests)) == 1


class CustomerCount(JobKind):
    """A scheduled job: how many customers there are."""

    name = "count"

    def build(self, ctx: Any) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"MaxReturned": 100})


def page(iterator: str, iterator_id: str | None = None, size: int = 5) -> qbxml.Rq:
    """One page of an iterated CustomerQuery."""
    return qbxml.Rq(
        "CustomerQueryRq", {"MaxReturned": size}, iterator=iterator, iterator_id=iterator_id
    )


def iterated(requests: list[str]) -> list[tuple[str, str]]:
    """The iterator attributes of the CustomerQuery requests sent, in order."""
    return [
        (rq.get("iterator") or "", rq.get("iteratorID") or "")
        for document in requests
        for rq in qbxml.parse(document).iterfind("QBXMLMsgsRq/CustomerQueryRq")
    ]


class FirstPageOnly(JobKind):
    """A queued kind that asks for one page and leaves the rest to its caller."""

    name = "first-page"
    continues_iterator = False

    def __init__(self) -> None:
        self.pages: list[qbxml.Result] = []

    def build(self, ctx: Any) -> qbxml.Rq:
        return page("Start", size=2)

    def handle(self, ctx: Any, result: qbxml.Result) -> None:
        self.pages.append(result)


class TestIteratedLiveRequests:
    def test_a_live_start_answers_its_first_page_and_the_queue_asks_no_more(self, service):
        """Start comes back with 5 records, the iteratorID and 18 left; no Continue is sent."""
        quickbooks = company(23)
        update = service.hot(quickbooks)
        first = service.client.request("shop", page("Start"), timeout=BOUND)
        assert names(first) == [f"Customer {n:04d}" for n in range(1, 6)]
        assert first.iterator_id and first.remaining_count == 18
        wait_for(lambda: paused(update), "a NoOp after the page")
        assert [i for i, _ in iterated(quickbooks.requests)] == ["", "Start"]
        job = stored(service.queue, max(j.id for j in service.queue.jobs()))
        assert job.state is JobState.DONE and job.iterator_id is None
        assert job.payload["iterator"] == "Start"
        assert service.end(update).ok

    def test_each_continue_is_a_live_request_answering_the_next_page_in_the_same_session(
        self, service
    ):
        """Start then Continues, each its own job: 23 records in 5 pages, none twice."""
        quickbooks = company(23)
        update = service.hot(quickbooks)
        answer = service.client.request("shop", page("Start"), timeout=BOUND)
        seen, pages = names(answer), 1
        while answer.remaining_count:
            assert answer.iterator_id
            answer = service.client.request(
                "shop", page("Continue", answer.iterator_id), timeout=BOUND
            )
            seen, pages = seen + names(answer), pages + 1
        assert seen == [f"Customer {n:04d}" for n in range(1, 24)] and pages == 5
        result = service.end(update)
        assert result.ok, result.transcript()
        assert [i for i, _ in iterated(result.requests)] == ["", "Start"] + ["Continue"] * 4
        assert len({j.id for j in service.queue.jobs() if j.kind == LIVE_KIND}) == 6

    def test_a_continue_that_reaches_another_session_is_answered_3391(self, service):
        """QuickBooks keeps the iterator in its session: the next session does not know it."""
        quickbooks = company(23)
        update = service.hot(quickbooks)
        first = service.client.request("shop", page("Start"), timeout=BOUND)
        assert service.end(update).ok
        # The handler's clock was moved past the window: a deadline far
        # beyond it keeps the Continue from expiring unsent.
        following = Asking(
            lambda: service.client.request(
                "shop", page("Continue", first.iterator_id), timeout=3600
            )
        )
        wait_for(
            lambda: any(j.state is JobState.PENDING for j in service.queue.jobs()),
            "the Continue is queued",
        )
        update = Update(service.web_connector(quickbooks))
        answer = following.result()
        assert answer.status_code == 3391 and not answer.ok
        assert service.end(update).ok

    def test_a_plain_live_request_carries_no_iterator(self, service):
        """Without an iterator a live request is one answer, as before: its job says none."""
        update = service.hot(company())
        job = stored(service.queue, max(j.id for j in service.queue.jobs()))
        assert "iterator" not in job.payload and "iterator_id" not in job.payload
        service.end(update)

    def test_a_queued_kind_that_does_not_continue_ends_with_its_first_page(self):
        """continues_iterator False: one page to handle, the job done, no Continue sent."""
        queue = MemoryJobQueue()
        kind = FirstPageOnly()
        handler = QueueHandler(queue, passwords=lambda u, p: p == "pw", kinds=[kind])
        job = handler.enqueue("first-page", user="shop")
        quickbooks = company(5)
        WebConnector(
            make_wsgi_app(handler), user="shop", password="pw", quickbooks=quickbooks
        ).update()
        assert [names(r) for r in kind.pages] == [["Customer 0001", "Customer 0002"]]
        assert kind.pages[0].remaining_count == 3
        assert stored(queue, job.id).state is JobState.DONE
        assert iterated(quickbooks.requests) == [("Start", "")]

    def test_a_queued_iterated_kind_still_continues_by_itself(self):
        """The default: the queue asks for every page, each to handle, in one job."""
        queue = MemoryJobQueue()

        class AllPages(FirstPageOnly):
            name = "all-pages"
            continues_iterator = True

        kind = AllPages()
        handler = QueueHandler(queue, passwords=lambda u, p: p == "pw", kinds=[kind])
        job = handler.enqueue("all-pages", user="shop")
        quickbooks = company(5)
        WebConnector(
            make_wsgi_app(handler), user="shop", password="pw", quickbooks=quickbooks
        ).update()
        assert [n for r in kind.pages for n in names(r)] == [
            f"Customer {n:04d}" for n in range(1, 6)
        ]
        assert stored(queue, job.id).state is JobState.DONE
        assert [i for i, _ in iterated(quickbooks.requests)] == ["Start", "Continue", "Continue"]


class TestTimeouts:
    def test_a_request_never_sent_is_cancelled_and_says_so(self, queue):
        """No session asks before the deadline: LiveTimeout(sent=False), the job cancelled."""
        clock = FakeClock(time.time())
        client = LiveClient(queue, poll=0.01, clock=clock)
        asking = Asking(lambda: client.request("shop", customer_query(), timeout=30))
        wait_for(lambda: bool(queue.jobs()), "the live request is queued")
        clock.advance(31)
        with pytest.raises(LiveTimeout, match="never sent") as caught:
            asking.result()
        assert caught.value.sent is False and caught.value.user == "shop"
        assert stored(queue, caught.value.job_id).state is JobState.CANCELLED

    def test_a_request_sent_and_unanswered_says_so_and_its_answer_still_lands(self):
        """QuickBooks is still working at the deadline: sent=True; the job ends done."""
        service = Service()
        clock = FakeClock(time.time())
        client = LiveClient(service.queue, poll=0.01, clock=clock)
        gate, entered = threading.Event(), threading.Event()

        class Slow(FakeQuickBooks):
            def process(self, request: str) -> Any:
                entered.set()
                gate.wait(BOUND)
                return super().process(request)

        quickbooks = Slow()
        quickbooks.add_customers(3)
        asking = Asking(lambda: client.request("shop", customer_query(), timeout=30))
        wait_for(lambda: bool(service.queue.jobs()), "the live request is queued")
        update = Update(service.web_connector(quickbooks))
        wait_for(entered.is_set, "QuickBooks has the request")
        clock.advance(31)
        with pytest.raises(LiveTimeout, match="was sent to QuickBooks") as caught:
            asking.result()
        assert caught.value.sent is True
        assert stored(service.queue, caught.value.job_id).state is JobState.IN_FLIGHT
        gate.set()
        service.end(update)
        assert stored(service.queue, caught.value.job_id).state is JobState.DONE

    def test_a_write_whose_answer_is_lost_times_out_as_sent_and_goes_unknown(self):
        """The Add ran, its answer never came: sent=True, then unknown; never sent again."""
        service = Service(lease=10)
        clock = FakeClock(time.time())
        client = LiveClient(service.queue, poll=0.01, clock=clock)
        add = qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": "Live Ltd"}})
        asking = Asking(lambda: client.request("shop", add, timeout=30))
        wait_for(lambda: bool(service.queue.jobs()), "the live request is queued")
        quickbooks = company()
        quickbooks.lose_responses = 1
        assert service.web_connector(quickbooks).update().status == "response lost"
        clock.advance(31)
        with pytest.raises(LiveTimeout, match="reconciled, or left unknown") as caught:
            asking.result()
        assert caught.value.sent is True
        service.clock.advance(11)  # its lease runs out
        (released,) = service.handler.recover()
        assert released.state is JobState.UNKNOWN  # the live kind has no reconcile query
        service.web_connector(quickbooks).update()
        adds = [d for d in quickbooks.requests if "<CustomerAddRq" in d]
        assert len(adds) == 1
        assert [c.findtext("Name") for c in quickbooks.records["Customer"].values()].count(
            "Live Ltd"
        ) == 1

    def test_a_request_left_behind_is_never_sent_after_its_deadline(self):
        """Its caller is gone (the cancel never written): a later session fails it, unsent."""
        service = Service()
        job = service.queue.enqueue(
            user="shop",
            kind=LIVE_KIND,
            payload={"rq": "<CustomerQueryRq/>", "deadline": service.clock() - 1},
            priority=2**62,
        )
        reported: list[Any] = []
        service.handler.on_error = reported.append  # type: ignore[method-assign,assignment]
        quickbooks = company()
        result = service.web_connector(quickbooks).update()
        assert [rq.tag for d in quickbooks.requests for rq in qbxml.parse(d)[0]] == ["HostQueryRq"]
        assert stored(service.queue, job.id).state is JobState.FAILED
        assert stored(service.queue, job.id).error_code == "expired"
        assert result.ok and "expired" in result.close_message
        # The application's on_error hook is told with a QBWCError it can catch by name.
        (expired,) = [e.exception for e in reported if isinstance(e.exception, LiveExpired)]
        assert isinstance(expired, QBWCError) and expired.job_id == job.id
        assert expired.user == "shop" and expired.deadline == service.clock() - 1


class TestCancelledAwait:
    """Cancelling arequest's task ends its wait at once, as a timeout would."""

    def cancelled(self, queue: Any, before: Callable[[], None] = lambda: None) -> list[str]:
        """Await a request with asyncio.wait_for(0.2 s); return how the client saw it end."""
        import asyncio

        ended: list[str] = []
        # poll=3600: only the cancellation, or its 5 s timeout, can end the wait.
        client = LiveClient(queue, poll=3600, observe=lambda seconds, how: ended.append(how))

        async def ask() -> None:
            task = asyncio.ensure_future(client.arequest("shop", customer_query(), timeout=5))
            for _ in range(int(BOUND / 0.01)):
                if queue.jobs():
                    break
                await asyncio.sleep(0.01)
            before()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(task, 0.2)
            at_once.extend(ended)  # the worker thread is done when the caller hears of it

        at_once: list[str] = []
        asyncio.run(ask())
        return at_once

    def test_a_request_not_sent_is_cancelled_before_the_cancellation_propagates(self, queue):
        """wait_for gives up: the job is cancelled and the worker thread is done, no waiting."""
        assert self.cancelled(queue) == ["cancelled"]
        (job,) = queue.jobs()
        assert job.state is JobState.CANCELLED

    def test_a_request_already_sent_is_left_to_its_session(self, queue):
        """Taken by a session: not cancelled, still in flight for its answer or reconcile."""

        def sent() -> None:
            assert queue.claim(user="shop", company_file="", ticket="t", now=time.time(), lease=60)

        assert self.cancelled(queue, sent) == ["cancelled"]
        (job,) = queue.jobs()
        assert job.state is JobState.IN_FLIGHT


class TestAnswers:
    def test_an_error_status_is_an_answer(self, service):
        """3120 (no such ListID) comes back as a Result, not an exception."""
        update = service.hot(company())
        result = service.client.request(
            "shop", qbxml.Rq("CustomerQueryRq", {"ListID": "80000999-1"}), timeout=BOUND
        )
        assert result.status_code == 3120 and not result.ok
        service.end(update)

    def test_a_request_quickbooks_refuses_whole_raises_with_its_hresult(self, service):
        """Sent unchecked (validate=False), refused by QuickBooks: LiveRequestFailed, 0x80040400."""
        update = service.hot(company())
        unchecked = qbxml.Rq("CustomerQueryRq", {"Colour": "red"}, validate=False)
        with pytest.raises(LiveRequestFailed, match="0x80040400") as caught:
            service.client.request("shop", unchecked, timeout=BOUND)
        assert caught.value.code == "0x80040400"
        assert stored(service.queue, caught.value.job_id).state is JobState.FAILED
        service.end(update)

    def test_health_is_a_real_host_query_round_trip(self, service):
        """Product, version, company file and qbXML versions come from QuickBooks' answer."""
        quickbooks = company()
        quickbooks.product = "QuickBooks Enterprise Solutions 24.0"
        update = service.hot(quickbooks)
        before = len(quickbooks.requests)
        health = service.client.health("shop", timeout=BOUND)
        assert "<HostQueryRq" in quickbooks.requests[before]
        assert health.product == "QuickBooks Enterprise Solutions 24.0"
        assert health.version == "24.0"
        assert health.company_file == quickbooks.company_file
        assert health.qbxml_versions == quickbooks.versions
        assert health.latency > 0
        service.end(update)

    def test_arequest_answers_as_request_does(self, service):
        """The awaitable form gives the same answer."""
        import asyncio

        update = service.hot(company())
        result = asyncio.run(
            service.client.arequest("shop", customer_query("Customer 0001"), timeout=BOUND)
        )
        assert names(result) == ["Customer 0001"]
        service.end(update)


# -- across processes, through a real HTTP server ------------------------------------------

ASK = """
import json, sys
from qbwc_spyne import LiveClient, SQLJobQueue, qbxml
queue = SQLJobQueue(sys.argv[1], prefix=sys.argv[2])
client = LiveClient(queue, poll=float(sys.argv[3]))
result = client.request("shop", qbxml.Rq("CustomerQueryRq", {"FullName": "Customer 0003"}),
                        timeout=120)
print(json.dumps([result.status_code, [r.findtext("Name") for r in result.records]]))
client.close()
"""


@pytest.fixture
def served() -> Iterator[Callable[[Any], str]]:
    """Serve a WSGI app on 127.0.0.1 with werkzeug; give its URL."""
    servers = []

    def serve(app: Any) -> str:
        server = make_server("127.0.0.1", free_port(), app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/qbwc"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def ask_from_another_process(target: str, prefix: str, poll: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", ASK, target, prefix, str(poll)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def answered_in_another_process(target: str, prefix: str, poll: float, served: Any) -> None:
    queue = SQLJobQueue(target, prefix=prefix)
    try:
        service = Service(queue)
        url = served(service.app)
        asker = ask_from_another_process(target, prefix, poll)
        try:
            wait_for(lambda: bool(queue.jobs()) or asker.poll() is not None, "the job is queued")
            update = Update(service.web_connector(company(), target=url))
            out, err = asker.communicate(timeout=BOUND)
        finally:
            if asker.poll() is None:
                asker.kill()
                asker.communicate()
        assert asker.returncode == 0, err
        assert json.loads(out) == [0, ["Customer 0003"]]
        result = service.end(update)
        assert result.ok, result.transcript()
    finally:
        queue.close()


class TestAcrossProcesses:
    def test_another_process_on_a_sqlite_file_gets_its_answer_by_polling(self, tmp_path, served):
        """The caller's process shares only the file with the server's."""
        answered_in_another_process(str(tmp_path / "jobs.db"), "qbwc_", 0.05, served)

    def test_another_process_on_postgresql_is_woken_by_notify(self, postgres, pg_prefix, served):
        """poll=3600: only the NOTIFY of the job's completion can answer within the bound."""
        answered_in_another_process(postgres.url(), pg_prefix, 3600, served)

    def test_the_database_going_away_while_a_caller_waits(self, postgres, pg_prefix):
        """The caller gets a StorageError; the job stays pending, and is never sent late."""
        queue = SQLJobQueue(postgres.url(), prefix=pg_prefix)
        client = LiveClient(queue, poll=0.05)
        try:
            asking = Asking(lambda: client.request("shop", customer_query(), timeout=30))
            wait_for(lambda: bool(queue.jobs()), "the live request is queued")
            postgres.stop()
            try:
                with pytest.raises(StorageError):
                    asking.result()
            finally:
                postgres.start()
            (job,) = queue.jobs()
            assert job.state is JobState.PENDING and job.attempts == 0
            service = Service(queue)
            service.clock.advance(31)  # its caller's deadline has passed
            quickbooks = company()
            assert service.web_connector(quickbooks).update().ok
            assert "CustomerQueryRq" not in "".join(quickbooks.requests)
            assert stored(queue, job.id).error_code == "expired"
        finally:
            client.close()
            queue.close()


class TestOffline:
    """With a status store, a user whose QuickBooks is not there fails fast."""

    def seen(self, status: MemoryStatusStore, **values: Any) -> None:
        status.record(update=StatusUpdate(user="shop", company_file="", values=values))

    def client(self, status: MemoryStatusStore, clock: FakeClock) -> tuple[LiveClient, Any]:
        queue = MemoryJobQueue()
        return LiveClient(queue, status=status, interval=300, poll=0.01, clock=clock), queue

    def refused(self, client: LiveClient, clock: Any, queue: Any) -> QuickBooksOffline:
        """What a request raises, failing (not hanging) if it was queued instead."""
        asking = Asking(lambda: client.request("shop", customer_query(), timeout=5))
        wait_for(lambda: not asking._thread.is_alive() or bool(queue.jobs()), "an outcome")
        clock.advance(6)  # a request queued by mistake times out now
        with pytest.raises(QuickBooksOffline) as caught:
            asking.result()
        return caught.value

    def test_a_user_never_seen_is_offline_at_once_not_a_hang(self):
        """No status row: QuickBooksOffline("never seen"), nothing queued."""
        clock = FakeClock(time.time())
        client, queue = self.client(MemoryStatusStore(), clock)
        with pytest.raises(QuickBooksOffline, match="never seen") as caught:
            client.request("nobody", customer_query(), timeout=3600)
        assert caught.value.reason == "never seen" and caught.value.last_seen is None
        assert queue.jobs() == []

    def test_a_user_not_seen_within_its_interval_is_offline_with_when_it_was(self):
        """Last seen 301 s ago with a 300 s interval: "not seen", and when."""
        clock = FakeClock(time.time())
        status = MemoryStatusStore()
        self.seen(status, last_seen=clock() - 301)
        client, queue = self.client(status, clock)
        with pytest.raises(QuickBooksOffline, match="last seen") as caught:
            client.request("shop", customer_query(), timeout=3600)
        assert caught.value.reason == "not seen"
        assert caught.value.last_seen == pytest.approx(clock() - 301)
        assert queue.jobs() == []
        client.intervals["shop"] = 600  # this user's schedule is slower: it is not late
        asking = Asking(lambda: client.request("shop", customer_query(), timeout=5))
        wait_for(lambda: bool(queue.jobs()), "the request is queued")
        clock.advance(6)
        with pytest.raises(LiveTimeout):
            asking.result()

    def test_quickbooks_not_running_at_the_last_try_is_offline_in_words(self):
        """A connectionError since the last good update: "not running", the hresult explained."""
        clock = FakeClock(time.time())
        status = MemoryStatusStore()
        self.seen(
            status,
            last_seen=clock() - 10,
            last_success=clock() - 100,
            connection_error_code="0x80040408",
            connection_error_message="Could not start QuickBooks.",
            connection_error_at=clock() - 10,
        )
        client, queue = self.client(status, clock)
        with pytest.raises(QuickBooksOffline, match="Open QuickBooks") as caught:
            client.request("shop", customer_query(), timeout=3600)
        assert caught.value.reason == "not running"
        assert caught.value.error_code == "0x80040408"
        assert queue.jobs() == []

    def test_a_good_update_since_the_connection_error_is_online(self):
        """The error is history once an update succeeded after it: the request is queued."""
        clock = FakeClock(time.time())
        status = MemoryStatusStore()
        self.seen(
            status,
            last_seen=clock() - 5,
            last_success=clock() - 5,
            connection_error_code="0x80040408",
            connection_error_at=clock() - 100,
        )
        client, queue = self.client(status, clock)
        asking = Asking(lambda: client.request("shop", customer_query(), timeout=5))
        wait_for(lambda: bool(queue.jobs()), "the request is queued")
        clock.advance(6)
        with pytest.raises(LiveTimeout) as caught:
            asking.result()
        assert caught.value.sent is False

    def test_a_recorded_connection_error_makes_the_user_offline_until_an_update_succeeds(self):
        """Recorded from real calls: QuickBooks not running, then running again."""
        status = MemoryStatusStore()
        service = Service(observers=[StatusRecorder(status)])
        service.handler.register(CustomerCount())
        service.handler.enqueue("count", user="shop")
        quickbooks = company()
        quickbooks.running = False
        assert service.web_connector(quickbooks).update().status == "connection error"
        client = LiveClient(service.queue, status=status, poll=3600)
        with pytest.raises(QuickBooksOffline, match="could not be opened") as caught:
            client.request("shop", customer_query(), timeout=BOUND)
        assert caught.value.reason == "not running" and caught.value.error_code == "0x80040408"
        assert caught.value.last_seen is not None
        assert [job.kind for job in service.queue.jobs()] == ["count"]  # nothing more queued
        quickbooks.running = True
        assert service.web_connector(quickbooks).update().ok
        asking = Asking(lambda: client.request("shop", customer_query(), timeout=BOUND))
        wait_for(lambda: len(service.queue.jobs()) == 2, "the live request is queued")
        update = Update(service.web_connector(quickbooks))
        assert names(asking.result()) == ["Customer 0002"]
        assert service.end(update).ok

    def test_a_session_gone_silent_past_the_session_timeout_is_offline_though_it_kept_its_ticket(
        self,
    ):
        """A ticket last used 1801 s ago (timeout 1800) is no session: "not seen"; 400 s is one."""
        clock = FakeClock(time.time())
        status = MemoryStatusStore()
        self.seen(status, last_seen=clock() - 1801, ticket="abcd1234", ticket_key="k")
        client, queue = self.client(status, clock)
        offline = self.refused(client, clock, queue)
        assert offline.reason == "not seen" and "last seen" in str(offline)
        assert queue.jobs() == []
        # Within the session timeout the session may still be working: queued, not refused.
        self.seen(status, last_seen=clock() - 400, ticket="abcd1234", ticket_key="k")
        asking = Asking(lambda: client.request("shop", customer_query(), timeout=5))
        wait_for(lambda: bool(queue.jobs()), "the request is queued")
        clock.advance(6)
        with pytest.raises(LiveTimeout):
            asking.result()

    def test_a_web_connector_that_vanished_in_its_keep_alive_window_is_offline_later(self):
        """Recorded from real calls: the update never closed, and an hour on the user is offline."""
        status = MemoryStatusStore()
        service = Service(observers=[StatusRecorder(status)])
        first = Asking(lambda: service.client.request("shop", customer_query(), timeout=BOUND))
        wait_for(lambda: bool(service.queue.jobs()), "the first live request is queued")

        class Gone(Exception):
            pass

        def vanish(seconds: float) -> None:
            raise Gone  # the computer goes off while the Web Connector waits after NoOp

        update = Update(service.web_connector(company(), sleep=vanish))
        assert names(first.result()) == ["Customer 0002"]
        with pytest.raises(Gone):
            update.join()
        (row,) = status.statuses(user="shop")
        assert row.ticket is not None and row.last_seen is not None  # never closed
        clock = FakeClock(row.last_seen + 3600)
        later = LiveClient(service.queue, status=status, interval=300, poll=0.01, clock=clock)
        offline = self.refused(later, clock, service.queue)
        assert offline.reason == "not seen"
        assert offline.last_seen == pytest.approx(row.last_seen)
        assert later.status("shop")[0].ticket is None  # status says so too

    def test_status_agrees_with_connection_status(self):
        """Jobs to reconcile count as pending; a stale ticket is no current session."""
        clock = FakeClock(time.time())
        status = MemoryStatusStore()
        self.seen(status, last_seen=clock() - 1801, ticket="abcd1234", ticket_key="k")
        client, queue = self.client(status, clock)
        queue.enqueue(user="shop", kind="count")
        queue.enqueue(user="shop", kind="count")
        claimed = queue.claim(user="shop", company_file="", ticket="t", now=clock(), lease=60)
        assert claimed is not None
        assert queue.release(
            claimed.id, ticket="t", now=clock(), to=JobState.RECONCILE, code="x", message="lost"
        )
        (row,) = client.status("shop")
        assert row.jobs_pending == 2 and row.ticket is None
        assert client.status("shop") == connection_status(status, queue, "shop", now=clock())

    def test_status_gives_the_users_rows_with_its_job_counts(self):
        """status(user): the store's row, pending jobs counted from the queue."""
        clock = FakeClock(time.time())
        status = MemoryStatusStore()
        self.seen(status, last_seen=clock())
        client, queue = self.client(status, clock)
        queue.enqueue(user="shop", kind="count")
        (row,) = client.status("shop")
        assert row.user == "shop" and row.jobs_pending == 1
        assert client.status("nobody") == []


# -- the hot session as a state machine -----------------------------------------------------


class HotSessionMachine(RuleBasedStateMachine):
    """Live requests arrive, time passes and the Web Connector takes its steps, in any order.

    The Web Connector is driven one call at a time through the protocol core,
    as it behaves: after a request, the response; after "", getLastError;
    after 100 or an error, closeConnection; then, later, a new update.
    Whatever the order, it is never told "" first nor anything but NoOp by
    getLastError, each live request goes to QuickBooks once, in the order
    they were queued, and once time runs out every one is answered.
    """

    def __init__(self) -> None:
        super().__init__()
        self.queue = MemoryJobQueue()
        self.clock = FakeClock(time.time())
        self.handler = QueueHandler(
            self.queue, passwords=lambda user, pw: True, clock=self.clock, keep_alive=KEEP_ALIVE
        )
        self.core = Core(self.handler, MemorySessionStore(), clock=self.clock)
        self.client = LiveClient(self.queue)
        self.quickbooks = company()
        self.ticket: str | None = None
        self.phase = "idle"  # idle, send, last error
        self.first = False
        self.queued: list[int] = []

    @rule(name=st.sampled_from(["Customer 0001", "Customer 0004", "Nobody"]))
    def a_live_request_arrives(self, name: str) -> None:
        job = self.queue.enqueue(
            user="shop",
            kind=LIVE_KIND,
            payload={"rq": self.client._check("shop", customer_query(name), 60)},
            priority=LIVE_PRIORITY,
            now=self.clock(),
        )
        self.queued.append(job.id)

    @rule(seconds=st.sampled_from([1.0, 5.0, KEEP_ALIVE / 2, KEEP_ALIVE + 1]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def the_web_connector_disconnects(self) -> None:
        self.ticket, self.phase = None, "idle"  # its session is simply never called again

    @rule(steps=st.integers(1, 6))
    def the_web_connector_goes_on(self, steps: int) -> None:
        for _ in range(steps):
            self.step()

    def step(self) -> None:
        if self.phase == "idle":
            ticket, answer = self.core.authenticate("shop", "pw")[:2]
            if answer != "none":
                self.ticket, self.phase, self.first = ticket, "send", True
            return
        assert self.ticket is not None
        if self.phase == "last error":
            assert self.core.get_last_error(self.ticket) == "NoOp"
            self.phase = "send"
            return
        request = self.core.send_request_xml(
            self.ticket, self.quickbooks.hcp_response() if self.first else "", "", "US", 13, 0
        )
        assert request or not self.first, '"" as the first answer after authenticate'
        self.first = False
        if not request:
            self.phase = "last error"
            return
        answered = self.quickbooks.process(request)
        percent = self.core.receive_response_xml(self.ticket, answered.response, "", "")
        assert percent >= 0
        if percent == 100:
            self.core.close_connection(self.ticket)
            self.ticket, self.phase = None, "idle"

    @invariant()
    def each_live_request_went_out_once_in_the_order_queued(self) -> None:
        sent = [int(i) for i in request_ids(self.quickbooks.requests)]
        assert sent == sorted(set(sent))
        assert set(sent) <= set(self.queued)

    def teardown(self) -> None:
        # Time runs out and the Web Connector keeps calling: every request is answered.
        self.clock.advance(KEEP_ALIVE + 1)
        for _ in range(4 * len(self.queued) + 20):
            if all(stored(self.queue, i).state is JobState.DONE for i in self.queued):
                break
            self.step()
        assert all(stored(self.queue, i).state is JobState.DONE for i in self.queued)
        self.queue.close()


TestHotSessionMachine = HotSessionMachine.TestCase
TestHotSessionMachine.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None, database=None
)


class TestObserved:
    def test_each_request_is_observed_once_with_how_it_ended(self):
        """offline, timeout, ok; a request refused as a mistake is no live request."""
        seen: list[tuple[float, str]] = []
        status = MemoryStatusStore()
        service = Service()
        clock = FakeClock(time.time())
        observed = LiveClient(
            service.queue, status=status, poll=0.01, clock=clock,
            observe=lambda seconds, outcome: seen.append((seconds, outcome)),
        )  # fmt: skip
        with pytest.raises(QuickBooksOffline):
            observed.request("shop", customer_query(), timeout=5)
        with pytest.raises(SchemaError):
            observed.request("shop", qbxml.Rq("CustomerQueryRq", {"Colour": "red"}), timeout=5)
        status.record(
            update=StatusUpdate(user="shop", company_file="", values={"last_seen": clock()})
        )
        asking = Asking(lambda: observed.request("shop", customer_query(), timeout=5))
        wait_for(lambda: bool(service.queue.jobs()), "the request is queued")
        clock.advance(6)
        with pytest.raises(LiveTimeout):
            asking.result()
        assert [outcome for _, outcome in seen] == ["offline", "timeout"]
        assert all(seconds >= 0 for seconds, _ in seen)

    def test_an_observer_that_raises_changes_no_answer(self, service):
        """The answer comes back; the observer's failure is only logged."""

        def broken(seconds: float, outcome: str) -> None:
            raise RuntimeError("metrics are down")

        update = service.hot(company())
        client = LiveClient(service.queue, poll=3600, observe=broken)
        assert names(client.request("shop", customer_query(), timeout=BOUND)) == ["Customer 0002"]
        service.end(update)
