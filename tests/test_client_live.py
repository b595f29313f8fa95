"""The resource client over live requests: each page a live request, in the session holding it."""

from __future__ import annotations

from typing import Any

import pytest

from qbwc_spyne import JobState, LiveClient, qbxml
from qbwc_spyne.client import QuickBooks
from qbwc_spyne.exceptions import QuickBooksStatusError
from qbwc_spyne.queue._live import LIVE_KIND
from qbwc_spyne.testing import FakeQuickBooks

from .test_live import (  # noqa: F401
    BOUND,
    Asking,
    Service,
    Update,
    company,
    iterated,
    served,
    wait_for,
)

NAMES = [f"Customer {n:04d}" for n in range(1, 24)]


def live_jobs(service: Service) -> list[Any]:
    return [j for j in service.queue.jobs() if j.kind == LIVE_KIND]


def test_list_reads_23_customers_in_pages_of_5_each_a_live_request_in_one_hot_session(served):  # noqa: F811
    """Over HTTP: each record once, in order; Start and 4 Continues of one iterator, one session."""
    service = Service()
    url = served(service.app)
    quickbooks = company(23)
    qb = QuickBooks.live(service.client, "shop", timeout=BOUND)
    listing = Asking(lambda: [c.name for c in qb.customer.list(page_size=5)])
    wait_for(lambda: bool(service.queue.jobs()), "the first page is asked for")
    update = Update(service.web_connector(quickbooks, target=url))
    assert listing.result() == NAMES
    result = service.end(update)
    assert result.ok, result.transcript()
    sent = iterated(result.requests)
    assert [i for i, _ in sent] == ["Start"] + ["Continue"] * 4
    assert len({iterator_id for _, iterator_id in sent[1:]}) == 1
    # QuickBooks saw only this session's requests: the iterator never left it.
    assert iterated(quickbooks.requests) == sent
    jobs = live_jobs(service)
    assert len(jobs) == 5 and {j.state for j in jobs} == {JobState.DONE}


def test_the_next_page_is_asked_for_live_while_the_first_is_being_read(served):  # noqa: F811
    """Fetch-ahead: the Continue is queued while the consumer holds the first record."""
    service = Service()
    url = served(service.app)
    quickbooks = company(12)
    qb = QuickBooks.live(service.client, "shop", timeout=BOUND)
    records = qb.customer.list(page_size=5)
    first = Asking(lambda: next(records))
    wait_for(lambda: bool(service.queue.jobs()), "the first page is asked for")
    update = Update(service.web_connector(quickbooks, target=url))
    assert first.result().name == "Customer 0001"
    wait_for(lambda: len(live_jobs(service)) == 2, "the second page is asked for")
    rest = [c.name for c in records]
    assert ["Customer 0001", *rest] == NAMES[:12]
    assert service.end(update).ok
    assert len(live_jobs(service)) == 3


def test_leaving_a_live_list_early_asks_for_no_page_beyond_the_one_in_flight(served):  # noqa: F811
    """break after the first record: Start and at most the fetched-ahead Continue."""
    service = Service()
    url = served(service.app)
    quickbooks = company(23)
    qb = QuickBooks.live(service.client, "shop", timeout=BOUND)

    def first_only() -> str:
        for customer in qb.customer.list(page_size=5):
            return str(customer.name)
        return ""

    first = Asking(first_only)
    wait_for(lambda: bool(service.queue.jobs()), "the first page is asked for")
    update = Update(service.web_connector(quickbooks, target=url))
    assert first.result() == "Customer 0001"
    assert service.end(update).ok
    # The Continue fetched ahead went out if the session was still there to take it;
    # nothing beyond it, and leaving did not wait for it.
    assert [i for i, _ in iterated(quickbooks.requests)] in (["Start"], ["Start", "Continue"])


class SessionEndsBeforeTheContinue(LiveClient):
    """A live client whose Web Connector session ends between the first page and the next."""

    def __init__(self, service: Service, quickbooks: FakeQuickBooks) -> None:
        super().__init__(service.queue, poll=3600)
        self.service = service
        self.quickbooks = quickbooks
        self.update: Update | None = None

    def request(self, user: str, rq: Any, **options: Any) -> qbxml.Result:
        if getattr(rq, "iterator", None) != "Continue":
            return super().request(user, rq, **options)
        assert self.update is not None
        assert self.service.end(self.update).ok
        # The handler's clock was moved past the window: a deadline far
        # beyond it keeps the Continue from expiring unsent.
        options["timeout"] = 3600
        following = Asking(lambda: LiveClient.request(self, user, rq, **options))
        wait_for(
            lambda: any(j.state is JobState.PENDING for j in self.service.queue.jobs()),
            "the Continue is queued",
        )
        self.update = Update(self.service.web_connector(self.quickbooks))
        answer: qbxml.Result = following.result()
        return answer


def test_a_page_asked_for_in_another_session_raises_3391_saying_to_list_again():
    """QuickBooks keeps the iterator in its session: the next one answers 3391, a typed error."""
    service = Service()
    quickbooks = company(23)
    client = SessionEndsBeforeTheContinue(service, quickbooks)
    qb = QuickBooks.live(client, "shop", timeout=BOUND)
    seen: list[str] = []

    def read() -> None:
        for customer in qb.customer.list(page_size=5):
            seen.append(str(customer.name))

    listing = Asking(read)
    wait_for(lambda: bool(service.queue.jobs()), "the first page is asked for")
    client.update = Update(service.web_connector(quickbooks))
    with pytest.raises(QuickBooksStatusError, match="list again") as caught:
        listing.result()
    assert caught.value.code == 3391 and caught.value.request == "CustomerQueryRq"
    assert "Web Connector session" in str(caught.value)
    assert seen == NAMES[:5]
    assert service.end(client.update).ok


def test_the_live_lookup_page_shows_a_typed_customer_and_404_for_one_quickbooks_lacks():
    """examples/live_lookup: the record's fields as JSON; a name QuickBooks lacks is a 404."""
    from werkzeug.test import Client

    from examples.live_lookup import make_site

    service = Service()
    browser = Client(make_site(service.client))
    found = Asking(lambda: browser.get("/customer", query_string={"name": "Customer 0002"}))
    wait_for(lambda: bool(service.queue.jobs()), "the lookup is queued")
    update = Update(service.web_connector(company(3)))
    page = found.result()
    assert page.status_code == 200
    assert page.json["full_name"] == "Customer 0002" and page.json["list_id"]
    missing = browser.get("/customer", query_string={"name": "Nobody"})
    assert missing.status_code == 404
    assert missing.json == {"error": "QuickBooks has no customer named 'Nobody'"}
    assert service.end(update).ok
