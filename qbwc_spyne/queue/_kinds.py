"""Job kinds: how a job's request is built and its answer handled.

A :class:`JobKind` is registered with :class:`~qbwc_spyne.QueueHandler`
under its name; jobs store that name. :class:`JobContext` is what a kind
gets: the job, the session and the qbXML version to write, and the
checkpoint helpers an iterated query records its progress with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import qbxml
from ..exceptions import CodePageError, ConfigurationError
from ..protocol._session import Session
from ..qbxml import _encoding
from ._ports import Job

if TYPE_CHECKING:
    from ..qbxml._objects import QBRequest

__all__ = ["JobContext", "JobKind", "check_encoding"]


def _order(value: Any) -> tuple[int, float, str]:
    """How watermarks compare: numbers and ISO-8601 times by value, other text as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    text = str(value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return (1, 0.0, text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Offsets differ across a DST change: compare instants, not strings.
    return (0, moment.timestamp(), text)


def _capped(value: Any, cap: datetime | None) -> Any:
    """``value`` or, if it is a later time than ``cap``, ``cap`` in the value's own offset.

    The result keeps QuickBooks' DATETIMETYPE form (seconds and an offset),
    so it can go back as a FromModifiedDate. Numbers and other text pass.
    """
    if cap is None or isinstance(value, (int, float)):
        return value
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return value
    # A time without an offset is taken as UTC, as _order takes it.
    zone = moment.tzinfo or UTC
    if moment.replace(tzinfo=zone) <= cap:
        return value
    # Rounded down to the second: earlier is the safe side.
    return cap.astimezone(zone).replace(microsecond=0).isoformat()


@dataclass(kw_only=True)
class JobContext:
    """What a job kind gets: the job, the session, the qbXML version to write.

    Checkpoints: ``job.checkpoint`` is what the last *completed* iteration
    recorded; read it in ``build`` to narrow the criteria (e.g. a
    FromModifiedDate). A checkpoint recorded in ``handle`` (with
    :meth:`watermark`, :meth:`record_checkpoint`, or by setting
    ``job.checkpoint``) is staged, and applied only when the iteration
    completes: records come in ListID order, not TimeModified order, so a
    page's latest time says nothing about the pages still to come. An
    iteration cut short restarts from the last completed checkpoint.

    ``session`` is None only when :meth:`JobKind.reconcile` is asked,
    outside a session, whether a reconcile query can be made.

    ``not_after``: the latest time :meth:`watermark` may stage, set by the
    queue to the moment the job's request was first sent less the clock-skew
    allowance (see :class:`QueueHandler`); None: no limit.

    .. versionchanged:: Unreleased
       ``not_after`` added; :meth:`watermark` never stages a later time.
    """

    job: Job
    session: Session | None
    version: str
    not_after: datetime | None = None

    @property
    def payload(self) -> dict[str, Any]:
        """The job's payload."""
        return self.job.payload

    def record_checkpoint(self, value: Any) -> None:
        """Stage ``value`` (JSON) as the checkpoint once this iteration completes."""
        self.job.staged_checkpoint = value

    def watermark(self, value: Any) -> None:
        """Keep the highest ``value`` seen across this iteration's pages as its checkpoint.

        Call it with each record's TimeModified, a typed object's
        ``time_modified`` or its text (ISO-8601 times compare as instants,
        numbers as numbers); None is ignored. A ``datetime`` is kept as its
        ISO-8601 text, offset included. The highest value
        becomes ``job.checkpoint`` when the iteration completes, so a sync
        cut short restarts from the last complete one and skips nothing.

        A time is staged no later than :attr:`not_after` (the iteration's
        start less the clock-skew allowance): a record on a page already
        read may be modified while later pages are read, and its change
        must still be after the checkpoint.
        """
        if value is None:
            return
        if isinstance(value, datetime):
            # A typed record's time: kept as the text a FromModifiedDate takes back.
            value = value.isoformat()
        value = _capped(value, self.not_after)
        staged = self.job.staged_checkpoint
        if staged is None or _order(value) > _order(staged):
            self.job.staged_checkpoint = value


class JobKind:
    """One kind of job: how to build its request and what to do with the answer.

    Subclass it, set :attr:`name`, and register an instance with
    :meth:`QueueHandler.register`. Jobs store the name, so a kind must keep
    its name across releases.
    """

    #: The name jobs refer to.
    name: str = ""

    #: What to do with characters the company's code page lacks, for this
    #: kind's requests: ``"error"``, ``"transliterate"`` or ``"pass"``
    #: (None: the handler's ``encoding``).
    encoding: str | None = None

    #: The company's code page for this kind (None: the handler's ``codepage``).
    codepage: str | None = None

    #: Keep this kind's answers whole on the job (``Job.response``), however
    #: long; by default an answer is cut at the handler's ``response_cap``.
    #:
    #: .. versionadded:: Unreleased
    keep_full_response: bool = False

    #: Whether the queue asks for the next page of an iterated query by
    #: itself, each page to :meth:`handle`, until none is left. False for a
    #: kind whose caller asks for each page as a job of its own (live
    #: requests): each job then ends with its page.
    #:
    #: .. versionadded:: Unreleased
    continues_iterator: bool = True

    def build(self, ctx: JobContext) -> qbxml.Rq | QBRequest:
        """Return the request (its requestID is set by the queue).

        A typed request (``objects.CustomerQueryRq(...)``) or a :class:`~qbwc_spyne.qbxml.Rq`.

        For a query to page through, return it with ``iterator="Start"``;
        the queue continues it. Read ``ctx.job.checkpoint`` to narrow the
        criteria after an interruption (e.g. a FromModifiedDate watermark).
        """
        raise NotImplementedError(f"{type(self).__name__} must define build()")

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        """Process a successful answer (each page of an iterated query).

        Called for OK, no-match (no records) and warning answers. Commit what
        you store before returning: the next page is asked for only then.
        ``result.objects`` holds the records as typed objects.
        """

    def reconcile(self, ctx: JobContext) -> qbxml.Rq | QBRequest | None:
        """A query telling whether an unknown write happened (None: the operator decides).

        Typically a query by the job's key, e.g. an InvoiceQuery by RefNumber.
        Called when the write's session dies (``ctx.session`` None) to choose
        between the ``reconcile`` and ``unknown`` states, and again to send it.
        """
        return None

    def reconciled(self, ctx: JobContext, result: qbxml.Result) -> bool:
        """Tell from the reconcile query's answer whether the write happened.

        True: the job is done and its answer goes to :meth:`handle`.
        False: it did not happen, and the job is sent again. By default:
        it happened if the query found something.
        """
        return bool(result.records)


def check_encoding(policy: str, codepage: str, owner: str) -> None:
    """Refuse an encoding policy or code page that is not one, when it is configured."""
    try:
        _encoding.apply_to_value("", policy, codepage=codepage)
    except CodePageError as exc:
        raise ConfigurationError(f"{owner}: {exc}") from None
