"""The queue's side of the conversation: which request next, what its answer means.

Theory of operation
-------------------
``QueueHandler`` is a :class:`~qbwc_spyne.QBWCHandler` whose work is the
:class:`~qbwc_spyne.jobs.JobQueue`. authenticate answers "none" unless the user
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
  A kind whose ``continues_iterator`` is False (live requests) ends with
  each page: its caller asks for the next.

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
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lxml import etree

from .. import qbxml
from .._deprecation import warn_once
from ..auth import PasswordCheck
from ..codes import describe
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
    QBXMLBuildError,
    SchemaError,
    StorageError,
)
from ..protocol._calls import current_call
from ..protocol._handler import QBWCHandler
from ..protocol._session import Session
from ..qbxml import _encoding
from ._kinds import JobContext, JobKind, check_encoding
from ._live import LiveExpired, LiveKind
from ._operator import in_flight_notes
from ._ports import Job, JobQueue, JobState, released_state
from ._state import QueueState
from ._wake import LIVE_KIND, wake

if TYPE_CHECKING:
    from ..qbxml._objects import QBRequest

__all__ = ["ITERATOR_NOT_VALID", "RESPONSE_CAP", "QueueHandler", "cap_response"]

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


#: The session's one-statement shortcuts, new in this release's ``SessionQueue``.
SHORTCUTS = ("first_runnable", "resume", "progress_counting", "complete_counting")


class _Shortcuts:
    """The shortcuts for a queue written to the earlier interface, from its other methods.

    The same answers in more statements: the claim sweeps before it looks,
    a resumed job keeps its lease, and the jobs left are counted apart.
    """

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    def first_runnable(self, *, user: str, now: float) -> tuple[Job | None, bool]:
        found = self._queue.runnable(user=user, limit=1)
        return (found[0] if found else None), True  # "a lease may have run out": sweep once

    def resume(self, job_id: int, *, ticket: str, now: float, lease: float) -> Job | None:
        job = self._queue.get(job_id)
        owned = job is not None and job.state is JobState.IN_FLIGHT and job.ticket == ticket
        return job if owned else None

    def progress_counting(
        self, job_id: int, *, ticket: str, now: float, user: str, company_file: str, **changes: Any
    ) -> int | None:
        if not self._queue.progress(job_id, ticket=ticket, now=now, **changes):
            return None
        return self._queue.waiting(user=user, company_file=company_file)

    def complete_counting(
        self, job_id: int, *, user: str, company_file: str, **options: Any
    ) -> int | None:
        if not self._queue.complete(job_id, **options):
            return None
        return self._queue.waiting(user=user, company_file=company_file)


def _shortcuts(queue: JobQueue) -> JobQueue | _Shortcuts:
    """``queue`` itself, or, for one written to the earlier interface, its shortcuts made up."""
    if all(hasattr(queue, name) for name in SHORTCUTS):
        return queue
    warn_once(
        f"a job queue without {', '.join(SHORTCUTS)}",
        "a queue that implements them (SessionQueue; 1.0 requires them)",
        stacklevel=4,
    )
    return _Shortcuts(queue)


class QueueHandler(QBWCHandler):
    """A handler that runs the jobs of a :class:`~qbwc_spyne.jobs.JobQueue`.

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
        check_encoding(encoding, codepage, "QueueHandler")
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
        self._shortcuts = _shortcuts(queue)
        self._verify = passwords.verify if isinstance(passwords, PasswordCheck) else passwords
        self.kinds: dict[str, JobKind] = {}
        self.stop_on_error = stop_on_error
        self.lease = lease
        self.version_cap = version_cap
        self.clock = clock
        self.keep_requests = keep_requests
        self.clock_skew = clock_skew
        self.register(LiveKind(clock=lambda: self.clock()))
        for kind in kinds:
            self.register(kind)

    def register(self, kind: JobKind) -> JobKind:
        """Add a job kind; returns it. Two kinds may not share a name."""
        if not kind.name:
            raise ConfigurationError(f"{type(kind).__name__} has no name")
        if kind.name in self.kinds:
            raise ConfigurationError(f"a job kind named {kind.name!r} is already registered")
        check_encoding(
            kind.encoding or self.encoding, kind.codepage or self.codepage, type(kind).__name__
        )
        self.kinds[kind.name] = kind
        return kind

    def enqueue(self, kind: str, *, user: str, **options: Any) -> Job:
        """Add a job of a registered kind (see :meth:`SQLJobQueue.enqueue` for the options).

        The door for application code: the queue's own ``enqueue`` is the
        storage port, which takes any kind name. A ``key`` names the work
        for good: enqueueing it again returns the existing job, done
        included, so start-up code may enqueue safely.

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

    def _reconcile_query(self, job: Job, session: Session | None) -> qbxml.Rq | QBRequest | None:
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
        # The first runnable job only: one row read, however many wait. The
        # same read says whether a lease ran out, and the sweep runs only then.
        swept = False
        while True:
            job, expired = self._shortcuts.first_runnable(user=event.user, now=self.clock())
            if expired and not swept:
                swept = True
                if self._sweep():
                    continue  # a job released just now may come first
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

        ``renew``: renew its lease in the same read (a later page of an
        iterator then costs one statement to send).
        """
        job_id = QueueState(session).job
        if job_id is None:
            return None
        if renew:
            return self._shortcuts.resume(
                job_id, ticket=session.ticket, now=self.clock(), lease=self.lease
            )
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
            renewed = job is not None
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
        built: qbxml.Rq | QBRequest | None
        if job.reconciling:
            built = self._reconcile_query(job, session)
            if built is None:
                raise _NoReconcile
        else:
            built = kind.build(ctx)
        try:
            rq = qbxml.as_rq(built)  # a typed request becomes its Rq
        except QBXMLBuildError:
            raise HandlerError(
                f"{type(kind).__name__} must return a qbxml.Rq or a typed request",
                operation="sendRequestXML",
            ) from None
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
        counted: int | None = None
        try:
            result = self._result(job, event.response)
            applied, counted = self._apply(job, session, result)
            failed = not applied
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
        percent = self._progress(session, job, counted)
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

    def _apply(self, job: Job, session: Session, result: qbxml.Result) -> tuple[bool, int | None]:
        """Act on the answer: False if the job failed; and the jobs left, if counted.

        The count is the one the statement that landed the answer made (the
        progress bar then does not count them again); None when it made none.
        """
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
                    return self._unhandled_write(job, session, exc, performed=False), None
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
                    return self._unhandled_write(job, session, exc, performed=True), None
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
            return True, None
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
            return True, None
        if not result.ok:
            return not self._fail(job, session, str(result.status_code), result.message), None
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
            return (
                self._unhandled_write(job, session, exc, performed=True, reconcile=True),
                None,
            )
        if job.checkpoint != committed:
            # Set directly: staged like record_checkpoint, applied on completion.
            job.staged_checkpoint, job.checkpoint = job.checkpoint, committed
        if result.iterator_id is not None:
            job.pages += 1
        if result.iterator_id and (result.remaining_count or 0) > 0 and kind.continues_iterator:
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
            left: int | None = None
            if QueueState(session).left is None:
                left = self._shortcuts.progress_counting(
                    job.id,
                    ticket=ticket,
                    now=now,
                    user=session.user,
                    company_file=session.company_file,
                    **changes,
                )
                landed = left is not None
            else:
                landed = self.queue.progress(job.id, ticket=ticket, now=now, **changes)
            if not landed:
                self._landed(session, job, "", False)
            return True, left
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
        state = QueueState(session)
        left = None
        if state.left is None or state.left <= 0:
            left = self._shortcuts.complete_counting(
                job.id, user=session.user, company_file=session.company_file, **options
            )
            landed = left is not None
        else:
            landed = self.queue.complete(job.id, **options)
        self._landed(session, job, JobState.DONE.value, landed)
        return True, left

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

    def _progress(self, session: Session, job: Job, counted: int | None) -> int:
        """Jobs and pages done in this session against what is left; 100 only when nothing is.

        "Nothing left" means nothing runnable: a job waiting on one that no
        session of this user will finish must not leave the Web Connector
        asking for a request there is none for. Between two counts the
        session keeps its own: if jobs it counted can no longer be sent (an
        operator cancelled them, another session took them), the next
        sendRequestXML finds none and ends the update with the read-only
        request, answered 100.

        Args:
            session: the session.
            job: the job whose answer just came.
            counted: the jobs left, as the statement that landed the answer
                counted them (None: it did not count).
        """
        going_on = job.state is JobState.IN_FLIGHT  # an iterator with pages left
        state = QueueState(session)
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
