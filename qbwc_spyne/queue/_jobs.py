"""The queue's side of the conversation: which request next, what its answer means.

Theory of operation
-------------------
``QueueHandler`` is a :class:`~qbwc_spyne.QBWCHandler` whose work is the
:class:`~qbwc_spyne.JobQueue`. authenticate answers "none" unless the user
has a runnable job (never a ticket followed by an empty request: the Web
Connector crashes on that). Each sendRequestXML claims a job (or goes on
with the one in flight), asks its kind to build the request with the
session's qbXML version, and stamps the job's id as requestID. Each
receiveResponseXML checks that requestID and applies the policy:

- no match: success, no records; a warning: success, the warning kept;
  an error: the job fails (its dependants are blocked) and the session goes
  on with the next job, or stops with ``stop_on_error``; an hresult
  (QuickBooks could not run our request): the job fails and getLastError
  says why.
- an iterated query (``iterator="Start"``) goes on by itself: each page goes
  to the kind's ``handle`` and is saved before the next is asked for, with
  the same criteria, ``iterator="Continue"`` and the returned iteratorID,
  until iteratorRemainingCount is 0. An iterator QuickBooks no longer knows
  (3391) restarts from the start, or from the checkpoint the kind recorded.

Nothing is sent twice without the application's say. A job in flight whose
session dies (its lease runs out, the session closes without its answer,
or connectionError says QuickBooks was lost) goes back to the queue if it
was a query; a write whose outcome is unknown goes to ``reconcile`` when
its kind has a reconcile query (its answer decides: done, or safe to send
again), else to ``unknown`` for the operator (:func:`resolve_unknown`).

Every change of a job is a compare-and-set in the queue (see ``_queue``):
a session that lost its job (its lease ran out and another took it) finds
its change refused and lets the job go. A storage error is not QuickBooks'
fault: it leaves the job in flight, to be released when its lease runs
out, and reaches the protocol core, which answers the Web Connector with
the operation's failure value.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from .. import qbxml
from ..auth import PasswordCheck
from ..errors import describe
from ..events import (
    AuthenticateEvent,
    CloseConnectionEvent,
    ConnectionErrorEvent,
    ErrorCode,
    ErrorEvent,
    GetLastErrorEvent,
    ReceiveResponseEvent,
    SendRequestEvent,
)
from ..exceptions import (
    CodePageError,
    ConfigurationError,
    HandlerError,
    JobStateError,
    KeyConflictError,
    LiveExpired,
    SchemaError,
    StorageError,
)
from ..protocol._calls import current_call
from ..protocol._handler import QBWCHandler
from ..protocol._session import Session
from ..qbxml import _encoding
from ..store._interfaces import Job, JobQueue, JobState, released_state
from ._state import QueueState
from ._wake import LIVE_KIND, wake

__all__ = [
    "JobContext",
    "JobKind",
    "QueueHandler",
    "cancel_job",
    "in_flight_notes",
    "recover_jobs",
    "resolve_unknown",
    "retry_job",
]

logger = logging.getLogger("qbwc_spyne")

#: QuickBooks' status for an iteratorID it does not know (expired or spent).
ITERATOR_NOT_VALID = 3391

#: How much of a job's last answer is kept, in bytes of UTF-8, by default.
RESPONSE_CAP = 256 * 1024


def cap_response(document: str, limit: int) -> str:
    """The answer as a job keeps it: whole, or its first ``limit`` bytes and a note saying so.

    The note is an XML comment at the end, so a reader (or a download)
    cannot take a truncated answer for a whole one.

    Args:
        document: the answer document.
        limit: the most bytes of UTF-8 kept; 0 or less: no limit.

    Returns:
        The document, or its head and ``<!-- truncated: ... -->``.
    """
    data = document.encode("utf-8", "surrogatepass")
    if limit <= 0 or len(data) <= limit:
        return document
    head = data[:limit].decode("utf-8", errors="ignore")  # never half a character
    return f"{head}\n<!-- truncated: the first {limit} of {len(data)} bytes are kept -->"


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

        Call it with each record's TimeModified (ISO-8601 times compare as
        instants, numbers as numbers); None is ignored. The highest value
        becomes ``job.checkpoint`` when the iteration completes, so a sync
        cut short restarts from the last complete one and skips nothing.

        A time is staged no later than :attr:`not_after` (the iteration's
        start less the clock-skew allowance): a record on a page already
        read may be modified while later pages are read, and its change
        must still be after the checkpoint.
        """
        if value is None:
            return
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

    def build(self, ctx: JobContext) -> qbxml.Rq:
        """Return the request (its requestID is set by the queue).

        For a query to page through, return it with ``iterator="Start"``;
        the queue continues it. Read ``ctx.job.checkpoint`` to narrow the
        criteria after an interruption (e.g. a FromModifiedDate watermark).
        """
        raise NotImplementedError(f"{type(self).__name__} must define build()")

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        """Process a successful answer (each page of an iterated query).

        Called for OK, no-match (no records) and warning answers. Commit what
        you store before returning: the next page is asked for only then.
        """

    def reconcile(self, ctx: JobContext) -> qbxml.Rq | None:
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


def _check_encoding(policy: str, codepage: str, owner: str) -> None:
    """Refuse an encoding policy or code page that is not one, when it is configured."""
    try:
        _encoding.apply_to_value("", policy, codepage=codepage)
    except CodePageError as exc:
        raise ConfigurationError(f"{owner}: {exc}") from None


def _is_write(document: str) -> bool:
    """True unless every request in the document is a query."""
    root = qbxml.parse(document)
    names = [str(rq.tag) for rq in root.iterfind("QBXMLMsgsRq/*")]
    return not names or not all(name.endswith("QueryRq") for name in names)


def _continue(document: str, iterator_id: str) -> str:
    """The same request, criteria untouched, continuing ``iterator_id``."""
    root = qbxml.parse(document)
    version = next(
        pi.get("version")
        for pi in root.itersiblings(preceding=True)
        if isinstance(pi, etree._ProcessingInstruction) and pi.target == "qbxml"
    )
    messages = root.find("QBXMLMsgsRq")
    if messages is None:
        raise HandlerError("the stored request has no QBXMLMsgsRq", operation="sendRequestXML")
    for rq in messages:
        rq.set("iterator", "Continue")
        rq.set("iteratorID", iterator_id)
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n{body}\n'


#: The jobs left, as the statement that landed this call's answer counted
#: them: the progress bar does not count them again.
_counted: ContextVar[int | None] = ContextVar("qbwc_spyne_queue_counted", default=None)

#: How closeConnection names each way a job left the session.
_OUTCOMES = (
    ("done", "done"),
    ("failed", "failed"),
    ("unknown", "outcome unknown"),
    ("reconcile", "to reconcile"),
    ("pending", "to send again"),
)
_LISTED_FAILURES = 3


def _session_of(event: Any, operation: str) -> Session:
    session: Session | None = event.session
    if session is None:
        raise HandlerError("the event carries no session", operation=operation)
    return session


class QueueHandler(QBWCHandler):
    """A handler that runs the jobs of a :class:`~qbwc_spyne.JobQueue`.

    Args:
        queue: where jobs are kept.
        passwords: checks a user name and password, e.g. a
            :class:`~qbwc_spyne.auth.PasswordCheck` (its ``verify``) or a function.
        kinds: the job kinds; more with :meth:`register`.
        stop_on_error: end the session when a job fails (default: go on
            with the next job).
        lease: seconds a job may stay in flight without an answer.
        version_cap: the highest qbXML version to write.
        clock: the time source.
        keep_requests: keep a done job's last request document (default:
            cleared when it is done; failed jobs keep theirs).
        clock_skew: seconds by which QuickBooks' clock may run behind
            ``clock``: a :meth:`JobContext.watermark` is never later than the
            moment its query was first sent less this allowance.
        encoding: what to do with text the company's code page cannot store:
            ``"error"`` (the default) fails the job before sending, naming
            each field and character; ``"transliterate"`` sends what the code
            page holds (typographic quotes as ASCII quotes, ``€`` as ``EUR``,
            other letters without their accent, the rest as ``?``);
            ``"pass"`` sends the text as it is. A kind may set its own
            (:attr:`JobKind.encoding`).
        codepage: the company's code page, a Python codec name; the default
            ``"latin-1"`` is the set QuickBooks is known to store
            (``"cp1252"`` adds ``€`` and typographic quotes, unconfirmed).
        keep_alive: seconds a session stays open once the queue runs dry,
            so that a live request (:class:`~qbwc_spyne.LiveClient`) made
            meanwhile goes out within seconds; 0 turns it off. See
            "Keeping the session hot" below.
        keep_alive_after: which sessions stay open: ``"live"`` (the
            default), those that carried a live request; ``"any"``, every
            session that sent a request.
        response_cap: bytes of a job's last answer kept on the job
            (``Job.response``); longer ones are cut, with a note saying so,
            unless the kind sets :attr:`JobKind.keep_full_response`.

    Raises:
        ConfigurationError: an unknown encoding policy or code page, a
            negative ``keep_alive``, an unknown ``keep_alive_after``, or a
            ``response_cap`` that is not a positive int.

    Keeping the session hot: when the queue runs dry in a session that
    sent a request of the kind ``keep_alive_after`` names, receiveResponseXML
    answers 99 instead of 100, and each sendRequestXML that finds no job
    answers "" and the getLastError that follows "NoOp": the Web Connector
    waits about 5 seconds and asks again, and a job queued meanwhile goes
    out at that ask. Never before a request of the session was sent: the
    Web Connector fails on "" as the first answer after authenticate said
    there was work. When ``keep_alive`` seconds pass with no job, the next
    ask gets a HostQuery (read-only and cheap) whose answer is taken with
    100: the update ends as a completed one. An empty request would end it
    in getLastError, which the Web Connector shows as an error.

    A built-in kind runs the live requests (:data:`LIVE_KIND`); registering
    another kind of that name is refused.

    Every request is checked against the qbXML schema of the session's
    version before it is sent: one that does not fit fails its job with the
    :class:`~qbwc_spyne.qbxml.SchemaError`'s message (error code ``schema``),
    and QuickBooks never sees it. A kind returns ``Rq(..., validate=False)``
    to send a request unchecked.

    .. versionchanged:: Unreleased
       ``clock_skew`` added (10 minutes by default); ``encoding`` and
       ``codepage`` added; requests are checked against the schema;
       ``keep_alive`` and ``keep_alive_after`` added; the live kind is built in;
       ``response_cap`` added: a done or failed job keeps its last answer.
    """

    def __init__(
        self,
        queue: JobQueue,
        *,
        passwords: Callable[[str, str], bool] | PasswordCheck,
        kinds: Iterable[JobKind] = (),
        stop_on_error: bool = False,
        lease: float = 300.0,
        version_cap: str = "13.0",
        clock: Callable[[], float] = time.time,
        keep_requests: bool = False,
        clock_skew: float = 600.0,
        encoding: str = "error",
        codepage: str = _encoding.DEFAULT_CODEPAGE,
        keep_alive: float = 180.0,
        keep_alive_after: str = "live",
        response_cap: int = RESPONSE_CAP,
    ) -> None:
        _check_encoding(encoding, codepage, "QueueHandler")
        if not keep_alive >= 0:  # NaN too
            raise ConfigurationError(f"keep_alive must be 0 or more seconds, not {keep_alive!r}")
        if keep_alive_after not in ("live", "any"):
            raise ConfigurationError(
                f'keep_alive_after must be "live" or "any", not {keep_alive_after!r}'
            )
        if not isinstance(response_cap, int) or isinstance(response_cap, bool) or response_cap < 1:
            raise ConfigurationError(f"response_cap must be a positive int, not {response_cap!r}")
        self.response_cap = response_cap
        self.keep_alive = float(keep_alive)
        self.keep_alive_after = keep_alive_after
        self.encoding = encoding
        self.codepage = codepage
        self.queue = queue
        self._verify = passwords.verify if isinstance(passwords, PasswordCheck) else passwords
        self.kinds: dict[str, JobKind] = {}
        self.stop_on_error = stop_on_error
        self.lease = lease
        self.version_cap = version_cap
        self.clock = clock
        self.keep_requests = keep_requests
        self.clock_skew = clock_skew
        from ._live import LiveKind  # here: the live module builds on this one

        self.register(LiveKind(clock=lambda: self.clock()))
        for kind in kinds:
            self.register(kind)

    def register(self, kind: JobKind) -> JobKind:
        """Add a job kind; returns it. Two kinds may not share a name."""
        if not kind.name:
            raise ConfigurationError(f"{type(kind).__name__} has no name")
        if kind.name in self.kinds:
            raise ConfigurationError(f"a job kind named {kind.name!r} is already registered")
        _check_encoding(
            kind.encoding or self.encoding, kind.codepage or self.codepage, type(kind).__name__
        )
        self.kinds[kind.name] = kind
        return kind

    def enqueue(self, kind: str, *, user: str, **options: Any) -> Job:
        """Add a job of a registered kind (see :meth:`SQLiteJobQueue.enqueue` for the options).

        A ``key`` names the work for good: enqueueing it again returns the
        existing job, done included, so start-up code may enqueue safely.

        Raises:
            ConfigurationError: no kind of that name is registered.
            InvalidJobError, KeyConflictError: see the queue's ``enqueue``.
        """
        if kind not in self.kinds:
            raise ConfigurationError(f"no job kind named {kind!r} is registered")
        return self.queue.enqueue(user=user, kind=kind, now=self.clock(), **options)

    # -- leases ----------------------------------------------------------------------------

    def _reconcilable(self) -> set[str]:
        """The kinds that define a reconcile query at all."""
        return {
            name
            for name, kind in self.kinds.items()
            if type(kind).reconcile is not JobKind.reconcile
        }

    def recover(self, user: str | None = None) -> list[Job]:
        """Release in-flight jobs of every user whose lease ran out; return them.

        Args:
            user: only report this user's released jobs (every user's are released).
        """
        released = self.queue.release_expired(
            now=self.clock(),
            reconcilable=self._reconcilable(),
            message="Outcome unknown: its session ended before the answer came.",
        )
        return [job for job in released if user is None or job.user == user]

    def _sweep(self) -> bool:
        """Release every user's stuck jobs; whether any was released.

        A locked database must not refuse a login: the next call sweeps again.
        """
        try:
            return bool(self.recover())
        except StorageError as exc:
            logger.warning("could not release expired jobs: %s", exc)
            return False

    def _reconcile_query(self, job: Job, session: Session | None) -> qbxml.Rq | None:
        kind = self.kinds.get(job.kind)
        if kind is None:
            return None
        version = (QueueState(session).version if session else None) or self.version_cap
        try:
            return kind.reconcile(JobContext(job=job, session=session, version=version))
        except Exception:
            logger.exception("job %s (%s): reconcile() raised", job.id, job.kind)
            return None

    def _release(self, job: Job, session: Session, why: str) -> None:
        """Let go of the session's job, by the rule an expired lease follows too.

        See :func:`released_state`: queries to pending, unknown writes to
        reconcile (or unknown when the kind defines no reconcile query).
        """
        to = released_state(job, self._reconcilable())
        message = f"Outcome unknown: {why}." if job.writes and not job.reconciling else None
        if self.queue.release(
            job.id, ticket=session.ticket, now=self.clock(), to=to, message=message
        ):
            self._settle(session, job, to.value)
            logger.warning("job %s (%s) released to %s: %s", job.id, job.kind, to.value, why)

    # -- the events ---------------------------------------------------------------------------

    def on_authenticate(self, event: AuthenticateEvent) -> None:
        if not self._verify(event.user, event.password):
            event.accept = False
            return
        # The first runnable job only: one row read, however many wait. Where
        # the queue can, the same statement says whether a lease ran out, and
        # the sweep runs only then.
        first = getattr(self.queue, "first_runnable", None)
        swept = first is None
        if swept:
            self._sweep()
        while True:
            if first is not None:
                job, expired = first(user=event.user, now=self.clock())
                if expired and not swept:
                    swept = True
                    if self._sweep():
                        continue  # a job released just now may come first
            else:
                found = self.queue.runnable(user=event.user, limit=1)
                job = found[0] if found else None
            if job is None:
                break
            if job.state is JobState.RECONCILE and self._reconcile_query(job, None) is None:
                # Never a ticket for a job that would not be sent. Each turn
                # settles one job for good, so the loop ends.
                self.queue.abandon_reconcile(
                    job.id,
                    now=self.clock(),
                    message="Outcome unknown, and its kind gives no reconcile query.",
                )
                continue
            event.company_file = job.company_file
            return
        event.no_work = True
        for note in in_flight_notes(self.queue, user=event.user):
            # Nothing to send now, and the reason may be a job held by a
            # session that died: say until when, and how to let it go now.
            logger.info("authenticate: no work for %r now: %s", event.user, note)

    def _context(self, job: Job, session: Session) -> JobContext:
        # QuickBooks' answers carry no clock reading: the safe checkpoint is
        # our own reading when the query started, less the skew allowance.
        state = QueueState(session)
        not_after = None
        if state.started_job == job.id and state.started_at is not None:
            not_after = datetime.fromtimestamp(state.started_at, UTC) - timedelta(
                seconds=self.clock_skew
            )
        version = state.version or self.version_cap
        return JobContext(job=job, session=session, version=version, not_after=not_after)

    def queue_state(self, session: Session) -> QueueState:
        """The queue's state in ``session`` (jobs finished, outcomes...), typed.

        It lives under one key of ``session.data``; every other key is the
        subclass's own.

        .. versionadded:: Unreleased
        """
        return QueueState(session)

    def _current(self, session: Session, *, renew: bool = False) -> Job | None:
        """The session's job while it is in flight in the session, else None.

        ``renew``: renew its lease in the same statement, where the queue can
        (a later page of an iterator then costs one statement to send).
        """
        job_id = QueueState(session).job
        if job_id is None:
            return None
        resume = getattr(self.queue, "resume", None) if renew else None
        if resume is not None:
            job: Job | None = resume(
                job_id, ticket=session.ticket, now=self.clock(), lease=self.lease
            )
            return job
        job = self.queue.get(job_id)
        if job is not None and job.state is JobState.IN_FLIGHT and job.ticket == session.ticket:
            return job
        return None

    def _claim(self, session: Session, company_file: str) -> Job | None:
        """Take the session's next job: one statement while there is work.

        Jobs whose lease ran out are released only when the claim finds
        nothing (any login releases them too), then claimed again: a call
        that finds work costs no sweep.
        """
        for attempt in (1, 2):
            job = self.queue.claim(
                user=session.user,
                company_file=company_file,
                ticket=session.ticket,
                now=self.clock(),
                lease=self.lease,
            )
            if job is not None:
                state = QueueState(session)
                if state.left is not None:
                    state.left -= 1
                return job
            if attempt == 1 and not self._sweep():
                return None
        return None

    def on_send_request(self, event: SendRequestEvent) -> None:
        session = _session_of(event, "sendRequestXML")
        state = QueueState(session)
        if state.version is None:
            state.version = qbxml.choose_version(event.host_response, cap=self.version_cap)
        while True:
            job = self._current(session, renew=True)
            # A job renewed by resume() already has its lease; a later page
            # of an iterator then changes nothing else (same attempt, same
            # stored request): no second statement.
            renewed = job is not None and hasattr(self.queue, "resume")
            if job is None:
                job = self._claim(session, event.company_file)
            if job is None:
                state.job = None
                self._idle(session, event)
                return
            state.job = job.id
            fresh = not (job.iterator_id and job.request)  # not the next page of an iterator
            try:
                request = self._request(job, session)
            except _NoReconcile:
                message = "Outcome unknown, and its kind gave no reconcile query."
                if self.queue.release(
                    job.id, ticket=session.ticket, now=self.clock(), to=JobState.UNKNOWN,
                    message=message,
                ):  # fmt: skip
                    self._settle(session, job, JobState.UNKNOWN.value)
                state.job = None
                continue
            except StorageError:
                raise
            except Exception as exc:
                self._unbuilt(job, session, exc)
                continue
            now = self.clock()
            if fresh:  # iterator="Start" (or a single request) goes out now
                state.started_job, state.started_at = job.id, now
            if not (renewed and not fresh) and not self.queue.progress(
                job.id,
                ticket=session.ticket,
                now=now,
                attempts=job.attempts + int(fresh),
                lease_until=now + self.lease,
                request=job.request,
                writes=job.writes,
            ):
                state.job = None  # released under us: never send it from here
                continue
            _name_job(job)
            event.request = request
            # A request went out: the session may now be kept hot, and its
            # keep-alive window starts again when the queue next runs dry.
            state.sent = True
            if job.kind == LIVE_KIND:
                state.live = True
            state.idle_since = None
            return

    def _hot(self, session: Session) -> bool:
        """Whether the session may be kept open once the queue runs dry."""
        state = QueueState(session)
        wanted = state.sent if self.keep_alive_after == "any" else state.live
        return bool(self.keep_alive and wanted)

    def _idle(self, session: Session, event: SendRequestEvent) -> None:
        """No job to send: pause while the keep-alive window is open, else end the update.

        Also when authenticate saw work that another worker took, or that
        failed before it was sent: the Web Connector fails on "" as the first
        answer after authenticate said there was work.
        """
        state = QueueState(session)
        if self._hot(session):
            now = self.clock()
            if state.idle_since is None:
                state.idle_since = now
            if now - (state.idle_since or now) < self.keep_alive:
                state.pause = True  # "" now, then "NoOp" from getLastError
                return
        # "" would end the update in getLastError, which the Web Connector
        # shows as an error; a read-only HostQuery answered with 100 ends it
        # as a completed update.
        state.closing = True
        event.request = qbxml.request(
            qbxml.Rq("HostQueryRq", request_id="close"), version=state.version or self.version_cap
        )

    def on_get_last_error(self, event: GetLastErrorEvent) -> None:
        state = QueueState(event.session) if event.session is not None else None
        if state is not None and state.pause:
            state.pause = False
            # "NoOp": the Web Connector waits about 5 seconds and asks again.
            event.pause = True

    def _request(self, job: Job, session: Session) -> str:
        kind = self.kinds.get(job.kind)
        if kind is None:
            raise HandlerError(
                f"no job kind named {job.kind!r} is registered", operation="sendRequestXML"
            )
        if job.iterator_id and job.request:
            return _continue(job.request, job.iterator_id)
        ctx = self._context(job, session)
        if job.reconciling:
            rq = self._reconcile_query(job, session)
            if rq is None:
                raise _NoReconcile
        else:
            rq = kind.build(ctx)
        if not isinstance(rq, qbxml.Rq):
            raise HandlerError(
                f"{type(kind).__name__} must return a qbxml.Rq", operation="sendRequestXML"
            )
        # The code page first, so the schema sees the text that is sent (a
        # transliteration may make a name longer than QuickBooks takes).
        policy = kind.encoding or self.encoding
        codepage = kind.codepage or self.codepage
        fields = rq.fields
        if fields is not None and not isinstance(fields, Mapping | list | tuple):
            fields = list(fields)  # pairs from a generator: read them once
        fields = _encoding.apply_to_value(fields, policy, codepage=codepage)
        document = qbxml.request(
            replace(rq, request_id=str(job.id), fields=fields), version=ctx.version
        )
        # And the document, for text no field walk reaches (a value's str()).
        document = _encoding.apply_to_document(document, policy, codepage=codepage)
        if not job.reconciling:
            job.writes = _is_write(document)
        job.request = document
        return document

    def _unbuilt(self, job: Job, session: Session, exc: Exception) -> None:
        """The job's request could not be built: nothing was sent.

        A reconcile query that cannot be built leaves the write unknown, for
        the operator: failing it would invite a retry that may write twice.
        """
        if isinstance(exc, SchemaError):
            code, message = "schema", str(exc)
        elif isinstance(exc, CodePageError):
            code, message = "encoding", str(exc)
        elif isinstance(exc, LiveExpired):
            code, message = "expired", str(exc)
        else:
            code, message = "build", f"{type(exc).__name__}: {exc}"
        if job.reconciling:
            message = f"Outcome unknown: its reconcile query could not be built: {message}"
            if self.queue.release(
                job.id, ticket=session.ticket, now=self.clock(), to=JobState.UNKNOWN,
                code=code, message=message,
            ):  # fmt: skip
                self._settle(session, job, JobState.UNKNOWN.value)
            QueueState(session).job = None
        else:
            self._fail(job, session, code, message)
        self._report(session, job, exc)

    def on_receive_response(self, event: ReceiveResponseEvent) -> None:
        session = _session_of(event, "receiveResponseXML")
        state = QueueState(session)
        if state.closing:
            state.closing = False
            event.percent_done = 100  # the HostQuery that ends a hot session
            return
        job = self._current(session)
        if job is None:
            session.last_error = "A response came for no job in flight."
            event.percent_done = -1
            return
        _name_job(job)
        if event.response:
            kind = self.kinds.get(job.kind)
            whole = kind is not None and kind.keep_full_response
            job.response = cap_response(event.response, 0 if whole else self.response_cap)
        if not event.success:
            # QuickBooks could not run the request (0x80040400: it could not parse it).
            if job.reconciling:  # still no answer to "did the write happen?"
                if self.queue.release(
                    job.id, ticket=session.ticket, now=self.clock(), to=JobState.UNKNOWN,
                    code=event.error_code, message=event.error_message,
                ):  # fmt: skip
                    self._settle(session, job, JobState.UNKNOWN.value)
            else:
                self._fail(job, session, event.error_code, event.error_message)
            session.last_error = (
                f"Job {job.id} ({job.kind}) failed: QuickBooks reported "
                f"{describe(event.error_code, event.error_message)}"
            )
            event.percent_done = -1
            return
        failed = False
        _counted.set(None)
        try:
            result = self._result(job, event.response)
            failed = not self._apply(job, session, result)
        except StorageError:
            # Not QuickBooks' fault: the job stays in flight until its lease
            # runs out, and the core answers -1 without failing anything.
            raise
        except Exception as exc:
            self._fail(job, session, "response", f"{type(exc).__name__}: {exc}")
            self._report(session, job, exc)
            failed = True
        if failed and self.stop_on_error:
            landed = self.queue.get(job.id)
            code = (landed.error_code if landed else "") or ""
            message = (landed.error_message if landed else "") or ""
            session.last_error = f"Job {job.id} ({job.kind}) failed: {describe(code, message)}"
            event.percent_done = -1
            return
        percent = self._progress(session, job)
        if percent == 100 and self._hot(session):
            # The queue ran dry: keep the session open (its window opens now).
            if state.idle_since is None:
                state.idle_since = self.clock()
            percent = 99
        event.percent_done = percent

    def _result(self, job: Job, response: str) -> qbxml.Result:
        for result in qbxml.parse_response(response):
            if result.request_id == str(job.id):
                return result
        raise HandlerError(
            f"the response does not answer request {job.id}", operation="receiveResponseXML"
        )

    def _apply(self, job: Job, session: Session, result: qbxml.Result) -> bool:
        """Act on the answer; False if the job failed."""
        kind = self.kinds[job.kind]
        ctx = self._context(job, session)
        now = self.clock()
        ticket = session.ticket
        if job.reconciling:
            happened = False
            if result.ok:
                try:
                    happened = kind.reconciled(ctx, result)
                except StorageError:
                    raise
                except Exception as exc:
                    # Whether the write happened is still unknown: failed
                    # would invite a retry, which may write twice.
                    return self._unhandled_write(job, session, exc, performed=False)
            if not result.ok:
                to, landed = JobState.UNKNOWN, self.queue.release(
                    job.id, ticket=ticket, now=now, to=JobState.UNKNOWN,
                    code=str(result.status_code), message=result.message,
                )  # fmt: skip
            elif happened:
                try:
                    kind.handle(ctx, result)
                except StorageError:
                    raise
                except Exception as exc:
                    # The write happened: never failed (a retry would send it again).
                    return self._unhandled_write(job, session, exc, performed=True)
                to, landed = (
                    JobState.DONE,
                    self.queue.complete(
                        job.id,
                        ticket=ticket,
                        now=now,
                        keep_request=self.keep_requests,
                        response=job.response,
                    ),
                )
            else:  # it did not happen: safe to send
                to, landed = (
                    JobState.PENDING,
                    self.queue.release(job.id, ticket=ticket, now=now, to=JobState.PENDING),
                )
            self._landed(session, job, to.value, landed)
            return True
        if result.status_code == ITERATOR_NOT_VALID and job.iterator_id:
            # The iterator is gone: ask again from the start (or the last
            # completed checkpoint); what this iteration staged is dropped.
            logger.warning(
                "job %s: iterator %s expired; restarting the query", job.id, job.iterator_id
            )
            if not self.queue.progress(
                job.id, ticket=ticket, now=now, iterator_id=None, request=None,
                staged_checkpoint=None,
            ):  # fmt: skip
                self._landed(session, job, "", False)
            return True
        if not result.ok:
            return not self._fail(job, session, str(result.status_code), result.message)
        if result.status is qbxml.Status.WARNING:
            job.warning = result.message
        committed = job.checkpoint
        try:
            kind.handle(ctx, result)
        except StorageError:
            raise
        except Exception as exc:
            if not job.writes:
                raise  # a query changed nothing: failed, and safe to retry
            return self._unhandled_write(job, session, exc, performed=True, reconcile=True)
        if job.checkpoint != committed:
            # Set directly: staged like record_checkpoint, applied on completion.
            job.staged_checkpoint, job.checkpoint = job.checkpoint, committed
        if result.iterator_id is not None:
            job.pages += 1
        if result.iterator_id and (result.remaining_count or 0) > 0:
            # Pages still to come, for the progress bar: remaining / this page's size.
            page = max(1, len(result.records))
            QueueState(session).pages_left = -(-(result.remaining_count or 0) // page)
            job.iterator_id = result.iterator_id
            job.state = JobState.IN_FLIGHT
            # The page is saved before the next is asked for (with the count
            # for the progress bar, when the session has none yet).
            changes = {
                "iterator_id": result.iterator_id,
                "pages": job.pages,
                "lease_until": now + self.lease,
                "staged_checkpoint": job.staged_checkpoint,
                "warning": job.warning,
            }
            counting = getattr(self.queue, "progress_counting", None)
            if counting is not None and QueueState(session).left is None:
                left = counting(
                    job.id,
                    ticket=ticket,
                    now=now,
                    user=session.user,
                    company_file=session.company_file,
                    **changes,
                )
                _counted.set(left)
                landed = left is not None
            else:
                landed = self.queue.progress(job.id, ticket=ticket, now=now, **changes)
            if not landed:
                self._landed(session, job, "", False)
            return True
        # The last page's count and checkpoint go with the completion, one
        # statement: the staged checkpoint is applied. When the session's own
        # count of jobs left would run out (or it has none), the completion
        # counts them in the same statement.
        options = {
            "ticket": ticket,
            "now": now,
            "warning": job.warning,
            "keep_request": self.keep_requests,
            "response": job.response,
            "pages": job.pages,
            "staged_checkpoint": job.staged_checkpoint,
        }
        counting = getattr(self.queue, "complete_counting", None)
        state = QueueState(session)
        if counting is not None and (state.left is None or state.left <= 0):
            left = counting(job.id, user=session.user, company_file=session.company_file, **options)
            _counted.set(left)
            landed = left is not None
        else:
            landed = self.queue.complete(job.id, **options)
        self._landed(session, job, JobState.DONE.value, landed)
        return True

    def _unhandled_write(
        self,
        job: Job,
        session: Session,
        exc: Exception,
        *,
        performed: bool,
        reconcile: bool = False,
    ) -> bool:
        """A write's answer came but our code raised on it: to reconcile or unknown, never failed.

        ``failed`` would invite :func:`retry_job`, which sends the write again
        (a second invoice). With a reconcile query, its answer gives
        ``handle`` another chance with the record QuickBooks made; otherwise
        (or if that chance failed too) the operator decides. Returns False,
        as for a failed job.

        Args:
            performed: QuickBooks answered OK to the write (handle() raised);
                False: reconciled() raised on the reconcile query's answer.
            reconcile: send the kind's reconcile query, if it has one.
        """
        hook = "handle()" if performed else "reconciled()"
        logger.error(
            "job %s (%s): %s raised on QuickBooks' answer to a write",
            job.id, job.kind, hook, exc_info=exc,
        )  # fmt: skip
        to = JobState.UNKNOWN
        if reconcile and self._reconcile_query(job, None) is not None:
            to = JobState.RECONCILE
        error = f"{type(exc).__name__}: {exc}"[:200]
        what = "QuickBooks performed the write, but" if performed else "Outcome unknown:"
        if to is JobState.RECONCILE:
            advice = "Its reconcile query will give handle() the record again."
        elif performed:
            advice = (
                "Do not retry it (that would write again): fix handle(), then"
                " resolve_unknown(happened=True)."
            )
        else:
            advice = "Look in QuickBooks, then resolve_unknown(happened=...)."
        message = f"{what} {hook} raised {error}. {advice}"
        landed = self.queue.release(
            job.id, ticket=session.ticket, now=self.clock(), to=to,
            code=hook.rstrip("()"), message=message,
        )  # fmt: skip
        self._landed(session, job, to.value, landed)
        self._report(session, job, exc)
        return False

    def _landed(self, session: Session, job: Job, outcome: str, landed: bool) -> None:
        if landed:
            job.state = JobState(outcome)
            self._settle(session, job, outcome)
            return
        # Another session or the operator changed it first (its lease ran
        # out and it was released): it is not this session's any more.
        job.state = JobState.PENDING
        state = QueueState(session)
        state.job = state.pages_left = None
        logger.warning("job %s (%s) was taken from this session; letting it go", job.id, job.kind)

    def _settle(self, session: Session, job: Job, outcome: str) -> None:
        """The job is finished with in this session: count it for progress and closeConnection."""
        wake(job.id)  # a live request of this process waiting for it
        state = QueueState(session)
        state.job = state.pages_left = None
        # Progress units: a job counts its pages, as it did while iterating.
        state.units += max(1, job.pages)
        # A job is counted once, by how it last left the session: a write
        # found not to have happened goes back ("to send again") and may be
        # sent and done in the same session, and then it is done.
        waiting = outcome in (JobState.PENDING.value, JobState.RECONCILE.value)
        state.count(job.id, outcome, waiting=waiting)
        if waiting and state.left is not None:
            state.left += 1  # waiting again

    def _fail(self, job: Job, session: Session, code: str, message: str) -> bool:
        """Fail the job (its dependants are blocked); False if it was no longer ours."""
        if not self.queue.fail(job.id, ticket=session.ticket, now=self.clock(), code=code,
                               message=message, response=job.response):  # fmt: skip
            self._landed(session, job, "", False)
            return False
        job.state = JobState.FAILED
        self._settle(session, job, JobState.FAILED.value)
        failures = QueueState(session).failures
        if len(failures) < _LISTED_FAILURES:
            failures.append(f"job {job.id} ({job.kind}) {describe(code, message[:200])}")
        logger.warning("job %s (%s) failed: %s: %s", job.id, job.kind, code, message)
        return True

    def _report(self, session: Session, job: Job, exc: Exception) -> None:
        self.on_error(
            ErrorEvent(
                error_code=ErrorCode.HANDLER_FAILED,
                description=f"job {job.id} ({job.kind}): {type(exc).__name__}: {exc}",
                operation="job",
                exception=exc,
                session=session,
            )
        )

    def _progress(self, session: Session, job: Job) -> int:
        """Jobs and pages done in this session against what is left; 100 only when nothing is.

        "Nothing left" means nothing runnable: a job waiting on one that no
        session of this user will finish must not leave the Web Connector
        asking for a request there is none for. Between two counts the
        session keeps its own: if jobs it counted can no longer be sent (an
        operator cancelled them, another session took them), the next
        sendRequestXML finds none and ends the update with the read-only
        request, answered 100.
        """
        going_on = job.state is JobState.IN_FLIGHT  # an iterator with pages left
        state = QueueState(session)
        counted = _counted.get()
        if counted is not None or state.left is None or (not going_on and state.left <= 0):
            # Counted when the session first needs it and when its own count
            # runs out, never per call: the session's claims and releases
            # keep it between (jobs queued meanwhile show at the recount).
            # The answer's own statement may have counted them already.
            user, company_file = session.user, session.company_file
            if counted is None:
                counted = self.queue.waiting(user=user, company_file=company_file)
            state.left = counted
            # Waiting is not runnable (a dependency may never be done here):
            # one row says whether the Web Connector should ask again.
            if not going_on and (
                not state.left
                or not self.queue.runnable(user=user, company_file=company_file, limit=1)
            ):
                return 100
        left = max(0, state.left or 0) + ((state.pages_left or 1) if going_on else 0)
        done = state.units + (job.pages if going_on else 0)
        return min(99, max(1, 100 * done // max(1, done + left)))

    def on_error(self, event: ErrorEvent) -> None:
        """Log the error in one line, unless the protocol core has logged it already.

        A storage error (a database lock held past its timeout, say) reaches
        the core, which logs it at ERROR with its traceback before calling
        this: a second line would report one failure twice. Override to
        alert or record; call this to keep the log line.
        """
        if isinstance(event.exception, StorageError):
            return
        super().on_error(event)

    def on_connection_error(self, event: ConnectionErrorEvent) -> None:
        # QuickBooks was lost: a write in flight may have run before it went,
        # so its outcome is unknown, as with a lost answer.
        session = _session_of(event, "connectionError")
        job = self._current(session)
        if job is not None:
            self._release(job, session, "QuickBooks was lost before its answer came")

    def on_close_connection(self, event: CloseConnectionEvent) -> None:
        session = _session_of(event, "closeConnection")
        job = self._current(session)
        if job is not None:
            self._release(job, session, "the session closed before its answer came")
        event.response_message = _summary(session)


def _name_job(job: Job) -> None:
    """Tell the call being served which job it carries (for status, transcripts and logs)."""
    call = current_call()
    if call is not None:
        call.job_id = job.id


def _summary(session: Session) -> str:
    """The session's outcome in words, e.g. "2 done, 1 failed: job 7 (add_invoice) 3140: ...".

    Shown by the Web Connector after closeConnection; "OK" when no job ran.
    """
    state = QueueState(session)
    outcomes = state.outcomes
    counts = [f"{outcomes[name]} {label}" for name, label in _OUTCOMES if outcomes.get(name)]
    if not counts:
        return "OK"
    text = ", ".join(counts)
    failures = state.failures
    if failures:
        text += ": " + "; ".join(failures)
        more = outcomes.get("failed", 0) - len(failures)
        if more > 0:
            text += f"; and {more} more"
    return text


class _NoReconcile(Exception):
    """A job to reconcile whose kind gave no reconcile query after all."""


def _now(now: float | None) -> float:
    return time.time() if now is None else now


#: States a job may be retried from, and the states of a dependency that keep it blocked.
_RETRIABLE = (JobState.FAILED, JobState.UNKNOWN, JobState.BLOCKED, JobState.CANCELLED)
_BLOCKING = (JobState.FAILED, JobState.CANCELLED, JobState.BLOCKED)


def _refusal(queue: JobQueue, job_id: int, action: str, allowed: str) -> Exception:
    """Why the queue refused ``action`` on a job, as the error to raise."""
    job = queue.get(job_id)
    if job is None:
        return JobStateError(f"no job {job_id}", job_id=job_id)
    if job.replaced_by is not None and action == "retried":
        return KeyConflictError(
            f"job {job_id}'s key {job.key!r} was queued again as job {job.replaced_by}:"
            f" retry that one, or queue this work under a new key",
            existing_id=job.replaced_by,
        )
    if action == "retried" and job.purged:
        return JobStateError(
            f"job {job_id} was purged (its payload is gone): queue its key {job.key!r}"
            ' again with if_exists="replace"',
            job_id=job_id,
            state=job.state.value,
        )
    if action == "retried" and job.state in _RETRIABLE:
        for dep in job.depends_on:
            found = queue.get(dep)
            if found is not None and found.state in _BLOCKING:
                return JobStateError(
                    f"job {job_id} would stay blocked: job {dep} it depends on is"
                    f" {found.state.value}; retry or replace job {dep} first",
                    job_id=job_id,
                    state=job.state.value,
                )
    return JobStateError(
        f"job {job_id} is {job.state.value}: only {allowed} jobs are {action}",
        job_id=job_id,
        state=job.state.value,
    )


def _changed(queue: JobQueue, job_id: int) -> Job:
    job = queue.get(job_id)
    if job is None:  # deleted between the change and the read: purge raced us
        raise JobStateError(f"no job {job_id}", job_id=job_id)
    return job


def retry_job(queue: JobQueue, job_id: int, *, now: float | None = None) -> Job:
    """Send a failed, unknown, blocked or cancelled job again; unblock its dependants.

    For an ``unknown`` write this is the operator's say that it did not
    happen (:func:`resolve_unknown` says so explicitly). Dependants are
    unblocked only where no other failed or cancelled dependency still
    blocks them. A job that one of its own dependencies still blocks is
    not retried: the error names that dependency, to retry or replace first.

    Args:
        queue: the queue.
        job_id: the job.
        now: the time (default: the clock).

    Returns:
        The job as it is now.

    Raises:
        JobStateError: no such job; it is pending, in flight or done; it
            was purged; or a job it depends on is failed, cancelled or blocked.
        KeyConflictError: its key was queued again as another job since.
    """
    if not queue.retry(job_id, now=_now(now)):
        raise _refusal(queue, job_id, "retried", "failed, unknown, blocked or cancelled")
    return _changed(queue, job_id)


def cancel_job(queue: JobQueue, job_id: int, *, now: float | None = None) -> Job:
    """Cancel a job that is not in flight or done; block its dependants.

    Args:
        queue: the queue.
        job_id: the job.
        now: the time (default: the clock).

    Returns:
        The job as it is now.

    Raises:
        JobStateError: no such job, or it is in flight, done or already cancelled.
    """
    if not queue.cancel(job_id, now=_now(now)):
        raise _refusal(queue, job_id, "cancelled", "pending, reconcile, blocked, unknown or failed")
    return _changed(queue, job_id)


def resolve_unknown(
    queue: JobQueue, job_id: int, *, happened: bool, now: float | None = None
) -> Job:
    """Settle a write whose outcome is unknown, on the operator's word.

    Args:
        queue: the queue.
        job_id: a job in the ``unknown`` state.
        happened: True: it happened in QuickBooks (the job is done, its
            dependants may run); False: it did not (it is sent again).
        now: the time (default: the clock).

    Returns:
        The job as it is now.

    Raises:
        JobStateError: no such job, or it is not unknown.
    """
    if not queue.resolve_unknown(job_id, happened=happened, now=_now(now)):
        raise _refusal(queue, job_id, "resolved", "unknown")
    return _changed(queue, job_id)


def recover_jobs(queue: JobQueue, *, now: float | None = None, force: bool = False) -> list[Job]:
    """Release every job in flight whose lease ran out, of every user; return them.

    For an operator or a periodic task: sessions do it too, at each login.
    A query goes back to pending; a write to ``reconcile``, and the next
    session of its user sends the kind's reconcile query, or marks it
    ``unknown`` if the kind has none.

    Args:
        queue: the queue.
        now: the time (default: the clock).
        force: release every job in flight now, its lease run out or not:
            after a crash mid-sync, its session is gone and waiting for the
            lease only delays the next update. A session that is in fact
            alive finds its answer refused, as after a lease ran out, and a
            write goes to ``reconcile`` (or ``unknown``): nothing is sent twice.

    Returns:
        The released jobs, as they are now.

    .. versionchanged:: Unreleased
       ``force`` added.
    """
    return queue.release_expired(
        now=_now(now),
        reconcilable=None,
        message="Outcome unknown: its session ended before the answer came.",
        force=force,
    )


#: How an operator releases a job in flight at once, as the notes below say it.
RELEASE_NOW = "`qbwc-spyne jobs recover --force` (recover_jobs(queue, force=True)) releases it now"


def in_flight_notes(
    queue: JobQueue, *, user: str | None = None, hint: str = RELEASE_NOW
) -> list[str]:
    """Each job in flight, in words: whose, until when, and how to release it now.

    What an operator needs when there is "no work" or a recovery released
    nothing: a job whose session died stays in flight until its lease runs
    out, and no session sends it before then.

    Args:
        queue: the queue.
        user: one user's jobs only (None: every user's).
        hint: the words that end each line: how to release the job now.

    Returns:
        One line per job in flight (one per open session at most), e.g.
        ``job 7 (add_invoice) of 'shop' is in flight until 2026-12-06
        08:05:00 UTC; `qbwc-spyne jobs recover --force` (...) releases it now``.

    Raises:
        StorageError: the queue could not be read.

    .. versionadded:: Unreleased
    """
    notes = []
    for job in queue.jobs(user=user, states=[JobState.IN_FLIGHT]):
        until = "its lease ends"
        if job.lease_until is not None:
            until = datetime.fromtimestamp(job.lease_until, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        notes.append(
            f"job {job.id} ({job.kind}) of {job.user!r} is in flight until {until}; {hint}"
        )
    return notes
