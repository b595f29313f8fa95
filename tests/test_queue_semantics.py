"""What the queue promises about records and writes when QuickBooks changes under it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qbwc_spyne import JobContext, JobKind, JobState, MemoryJobQueue, qbxml
from qbwc_spyne.jobs import retry_job

from .helpers import FakeClock, update
from .test_queue import Mirror, clock_after, company, company_rows, rename, setup


def latest_change(qb: Any) -> float:
    """The fake company's clock reading now: its latest TimeModified, in epoch seconds."""
    return clock_after(qb, 0)()


class TestWatermarkDuringPaging:
    def test_customer_edited_between_pages_is_mirrored_by_the_next_sync(self):
        """A (page 1) is edited at T1, then B (page 3) at T2 > T1 while the sync pages: the
        checkpoint must not pass T1, so the next sync mirrors A's change."""
        qb = company(12)
        ids = list(qb.records["Customer"])
        mirror = Mirror("watermark", page=5)
        clock = FakeClock(latest_change(qb))  # our clock agrees with QuickBooks'
        queue, handler = setup(mirror, clock=clock)
        first = handler.enqueue("mirror", user="shop", key="mirror")
        handle = mirror.handle

        def edit_between_pages(ctx, result):
            handle(ctx, result)
            if mirror.pages == 1:
                rename(qb, ids[0], "Edited After Its Page")  # T1: A was on page 1
            elif mirror.pages == 2:
                rename(qb, ids[11], "Edited Before Its Page")  # T2: B comes on page 3

        mirror.handle = edit_between_pages  # type: ignore[method-assign]
        assert update(handler, qb).ok
        assert mirror.rows[ids[0]][0] != "Edited After Its Page"  # read before the edit
        mirror.handle = handle  # type: ignore[method-assign]
        handler.enqueue("mirror", user="shop", key="mirror", if_exists="replace")
        assert update(handler, qb).ok
        assert mirror.rows == company_rows(qb)
        assert queue.get(first.id).checkpoint <= company_rows(qb)[ids[0]][1]

    def test_checkpoint_is_the_newest_record_when_the_sync_started_later(self):
        """With our clock well after every change, the watermark is the newest TimeModified,
        as it was: the allowance costs nothing then."""
        qb = company(12)
        mirror = Mirror("watermark")
        queue, handler = setup(mirror, clock=FakeClock(latest_change(qb) + 3600))
        job = handler.enqueue("mirror", user="shop")
        assert update(handler, qb).ok
        assert queue.get(job.id).checkpoint == max(t for _, t in company_rows(qb).values())

    def test_the_cap_is_the_start_less_the_allowance_in_the_records_offset(self):
        """The cap compares instants and comes back in QuickBooks' form, offset kept."""
        started = datetime(2024, 1, 2, 15, 0, 0, 123456, tzinfo=UTC)
        ctx = JobContext(
            job=MemoryJobQueue().enqueue(user="u", kind="k"),
            session=None,
            version="13.0",
            not_after=started - timedelta(minutes=10),
        )
        ctx.watermark("2024-01-02T09:40:00-05:00")  # 14:40 UTC: before the cap, kept
        assert ctx.job.staged_checkpoint == "2024-01-02T09:40:00-05:00"
        ctx.watermark("2024-01-02T10:30:00-05:00")  # 15:30 UTC: after it, capped
        assert ctx.job.staged_checkpoint == "2024-01-02T09:50:00-05:00"
        ctx.watermark("2024-01-02T14:55:00+00:00")  # later than the cap too: the cap stays
        staged = datetime.fromisoformat(ctx.job.staged_checkpoint)
        assert staged == started.replace(microsecond=0) - timedelta(minutes=10)

    def test_clock_skew_is_an_option(self):
        """A larger allowance gives an earlier checkpoint."""
        qb = company(3)
        newest = latest_change(qb)
        mirror = Mirror("watermark")
        queue, handler = setup(mirror, clock=FakeClock(newest), clock_skew=3600)
        job = handler.enqueue("mirror", user="shop")
        assert update(handler, qb).ok
        checkpoint = datetime.fromisoformat(queue.get(job.id).checkpoint)
        assert checkpoint.timestamp() == newest - 3600 and checkpoint.utcoffset() is not None


class AddInvoice(JobKind):
    """Adds the invoice named in the payload; ``failures`` handle() calls raise first."""

    name = "add_invoice"

    def __init__(self, *, failures: int, reconcile: bool) -> None:
        self.failures = failures
        self.can_reconcile = reconcile
        self.handled: list[str] = []

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq(
            "InvoiceAddRq",
            {
                "InvoiceAdd": {
                    "CustomerRef": {"FullName": "Customer 0001"},
                    "RefNumber": ctx.payload["ref"],
                    "InvoiceLineAdd": {"ItemRef": {"FullName": "Labor"}, "Quantity": 1},
                }
            },
        )

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("the shop's database is down")
        self.handled.append(result.records[0].findtext("TxnID"))

    def reconcile(self, ctx: JobContext) -> qbxml.Rq | None:
        if not self.can_reconcile:
            return None
        return qbxml.Rq("InvoiceQueryRq", {"RefNumber": ctx.payload["ref"]})


def invoices(qb: Any) -> list[str]:
    return [r.findtext("RefNumber") for r in qb.records["Invoice"].values()]


class TestWriteDoneButHandleRaised:
    def test_reconcile_query_gives_handle_another_chance(self, caplog):
        """handle() raises once after the Add: the reconcile query (not the Add) is sent and
        handle() gets the invoice QuickBooks made; one invoice, the job done."""
        qb = company(1)
        kind = AddInvoice(failures=1, reconcile=True)
        queue, handler = setup(kind)
        job = handler.enqueue("add_invoice", user="shop", payload={"ref": "1042"})
        with caplog.at_level(logging.ERROR, logger="qbwc_spyne"):
            result = update(handler, qb)
        assert result.ok
        assert ["InvoiceAddRq" in r for r in result.requests] == [True, False]
        assert invoices(qb) == ["1042"] and kind.handled == list(qb.records["Invoice"])
        assert queue.get(job.id).state is JobState.DONE
        logged = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert logged and logged[0].exc_info is not None

    def test_handle_failing_again_leaves_the_job_unknown_never_failed(self):
        """handle() raises on the Add and on the reconcile answer: unknown, with the error,
        and the next update sends nothing: one invoice."""
        qb = company(1)
        queue, handler = setup(AddInvoice(failures=2, reconcile=True))
        job = handler.enqueue("add_invoice", user="shop", payload={"ref": "1042"})
        update(handler, qb)
        landed = queue.get(job.id)
        assert landed.state is JobState.UNKNOWN
        assert "QuickBooks performed the write" in landed.error_message
        assert "the shop's database is down" in landed.error_message
        assert update(handler, qb).status == "no work"
        assert invoices(qb) == ["1042"]

    @pytest.mark.parametrize("stop_on_error", [False, True])
    def test_without_reconcile_the_write_is_unknown_not_failed(self, stop_on_error):
        """No reconcile query: unknown (not failed, which retry_job would resend) with the
        error and a message saying QuickBooks did it; nothing is sent again."""
        qb = company(1)
        queue, handler = setup(AddInvoice(failures=1, reconcile=False), stop_on_error=stop_on_error)
        job = handler.enqueue("add_invoice", user="shop", payload={"ref": "1042"})
        update(handler, qb)
        landed = queue.get(job.id)
        assert landed.state is JobState.UNKNOWN and landed.error_code == "handle"
        assert "QuickBooks performed the write" in landed.error_message
        assert "RuntimeError: the shop's database is down" in landed.error_message
        assert update(handler, qb).status == "no work"
        assert invoices(qb) == ["1042"]

    def test_a_query_whose_handle_raised_stays_failed_and_retries(self):
        """A query changed nothing: failed, and retry_job sends it again."""
        qb = company(3)
        mirror = Mirror("watermark")
        queue, handler = setup(mirror, clock=FakeClock(latest_change(qb)))
        handle = mirror.handle

        def broken(ctx, result):
            raise RuntimeError("bad page")

        mirror.handle = broken  # type: ignore[method-assign]
        job = handler.enqueue("mirror", user="shop")
        update(handler, qb)
        assert queue.get(job.id).state is JobState.FAILED
        mirror.handle = handle  # type: ignore[method-assign]
        retry_job(queue, job.id)
        assert update(handler, qb).ok
        assert queue.get(job.id).state is JobState.DONE and mirror.rows == company_rows(qb)

    def test_reconciled_raising_leaves_the_write_unknown_not_failed(self):
        """The write's answer was lost and reconciled() raises on the query's answer: whether
        it happened is unknown, so unknown (a failed job would be retried: a second invoice)."""
        qb = company(1)
        qb.lose_responses = 1
        kind = AddInvoice(failures=0, reconcile=True)

        def broken(ctx, result):
            raise KeyError("TxnID")

        kind.reconciled = broken  # type: ignore[method-assign]
        clock = FakeClock()
        queue, handler = setup(kind, clock=clock, lease=60)
        job = handler.enqueue("add_invoice", user="shop", payload={"ref": "1042"})
        assert update(handler, qb).status == "response lost"
        clock.advance(61)
        result = update(handler, qb)
        assert ["InvoiceQueryRq" in r for r in result.requests] == [True]
        landed = queue.get(job.id)
        assert landed.state is JobState.UNKNOWN and landed.error_code == "reconciled"
        assert "Outcome unknown: reconciled() raised KeyError" in landed.error_message
        assert invoices(qb) == ["1042"]
