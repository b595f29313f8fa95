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
session dies (its lease runs out, or the session closes without its
answer) goes back to the queue if it was a query; a write whose outcome is
unknown goes to ``reconcile`` when its kind has a reconcile query (its
answer decides: done, or safe to send again), else to ``unknown`` for the
operator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from lxml import etree

from . import qbxml
from ._handler import QBWCHandler
from ._queue import Job, JobQueue, JobState
from ._session import Session
from .auth import PasswordCheck
from .events import (
    AuthenticateEvent,
    CloseConnectionEvent,
    ConnectionErrorEvent,
    ErrorCode,
    ErrorEvent,
    ReceiveResponseEvent,
    SendRequestEvent,
)
from .exceptions import ConfigurationError, HandlerError

__all__ = ["JobContext", "JobKind", "QueueHandler", "cancel_job", "retry_job"]

logger = logging.getLogger("qbwc_spyne")

#: QuickBooks' status for an iteratorID it does not know (expired or spent).
ITERATOR_NOT_VALID = 3391


@dataclass(kw_only=True)
class JobContext:
    """What a job kind gets: the job, the session, the qbXML version to write.

    Set ``job.checkpoint`` (JSON) in ``handle`` to restart an interrupted
    query from there rather than from the start. ``session`` is None only
    when :meth:`JobKind.reconcile` is asked, as a session dies, whether a
    reconcile query can be made.
    """

    job: Job
    session: Session | None
    version: str

    @property
    def payload(self) -> dict[str, Any]:
        """The job's payload."""
        return self.job.payload


class JobKind:
    """One kind of job: how to build its request and what to do with the answer.

    Subclass it, set :attr:`name`, and register an instance with
    :meth:`QueueHandler.register`. Jobs store the name, so a kind must keep
    its name across releases.
    """

    #: The name jobs refer to.
    name: str = ""

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
    assert messages is not None
    for rq in messages:
        rq.set("iterator", "Continue")
        rq.set("iteratorID", iterator_id)
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n{body}\n'


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
    ) -> None:
        self.queue = queue
        self._verify = passwords.verify if isinstance(passwords, PasswordCheck) else passwords
        self.kinds: dict[str, JobKind] = {}
        self.stop_on_error = stop_on_error
        self.lease = lease
        self.version_cap = version_cap
        self.clock = clock
        for kind in kinds:
            self.register(kind)

    def register(self, kind: JobKind) -> JobKind:
        """Add a job kind; returns it. Two kinds may not share a name."""
        if not kind.name:
            raise ConfigurationError(f"{type(kind).__name__} has no name")
        if kind.name in self.kinds:
            raise ConfigurationError(f"a job kind named {kind.name!r} is already registered")
        self.kinds[kind.name] = kind
        return kind

    def enqueue(self, kind: str, *, user: str, **options: Any) -> Job:
        """Add a job of a registered kind (see :meth:`JobQueue.enqueue` for the options)."""
        if kind not in self.kinds:
            raise ConfigurationError(f"no job kind named {kind!r} is registered")
        return self.queue.enqueue(user=user, kind=kind, now=self.clock(), **options)

    # -- leases ----------------------------------------------------------------------------

    def recover(self, user: str | None = None) -> list[Job]:
        """Release in-flight jobs whose lease ran out (their session died); return them."""
        now = self.clock()
        expired = [
            job
            for job in self.queue.jobs(user=user, states=[JobState.IN_FLIGHT])
            if job.lease_until is not None and job.lease_until < now
        ]
        for job in expired:
            self._release(job, "its session ended before the answer came")
        return expired

    def _reconcile_query(self, job: Job, session: Session | None) -> qbxml.Rq | None:
        kind = self.kinds.get(job.kind)
        if kind is None:
            return None
        version = session.data.get("version", self.version_cap) if session else self.version_cap
        try:
            return kind.reconcile(JobContext(job=job, session=session, version=version))
        except Exception:
            logger.exception("job %s (%s): reconcile() raised", job.id, job.kind)
            return None

    def _release(self, job: Job, why: str) -> None:
        """Put a job in flight back: queries to pending, unknown writes to reconcile."""
        if job.reconciling or not job.writes:
            # A query (or a reconcile query) changed nothing: ask again, from
            # the start or the checkpoint, never from an iterator page onward.
            job.state = JobState.RECONCILE if job.reconciling else JobState.PENDING
        else:
            can_reconcile = self._reconcile_query(job, None) is not None
            job.state = JobState.RECONCILE if can_reconcile else JobState.UNKNOWN
            job.error_message = f"Outcome unknown: {why}."
        job.request = None
        self._land(job)
        logger.warning("job %s (%s) released to %s: %s", job.id, job.kind, job.state.value, why)

    def _land(self, job: Job) -> None:
        """Save a job that leaves flight: no session, lease or iterator any more."""
        job.ticket = None
        job.lease_until = None
        job.iterator_id = None
        job.reconciling = False
        job.updated = self.clock()
        self.queue.save(job)

    # -- the events ---------------------------------------------------------------------------

    def on_authenticate(self, event: AuthenticateEvent) -> None:
        if not self._verify(event.user, event.password):
            event.accept = False
            return
        self.recover(event.user)
        runnable = self.queue.runnable(user=event.user)
        if not runnable:
            event.no_work = True
            return
        event.company_file = runnable[0].company_file

    def _context(self, job: Job, session: Session) -> JobContext:
        return JobContext(job=job, session=session, version=session.data["version"])

    def _current(self, session: Session) -> Job | None:
        job_id = session.data.get("job")
        job = self.queue.get(job_id) if job_id is not None else None
        if job is not None and job.state is JobState.IN_FLIGHT and job.ticket == session.ticket:
            return job
        return None

    def on_send_request(self, event: SendRequestEvent) -> None:
        session = event.session
        assert session is not None
        if "version" not in session.data:
            session.data["version"] = qbxml.choose_version(
                event.host_response, cap=self.version_cap
            )
        while True:
            job = self._current(session) or self.queue.claim(
                user=session.user,
                company_file=event.company_file,
                ticket=session.ticket,
                now=self.clock(),
                lease=self.lease,
            )
            if job is None:
                session.data.pop("job", None)
                session.last_error = "There is no job left to send."
                return
            session.data["job"] = job.id
            fresh = not (job.iterator_id and job.request)  # not the next page of an iterator
            try:
                event.request = self._request(job, session)
            except _NoReconcile:
                job.state, job.reconciling = JobState.UNKNOWN, False
                job.error_message = "Outcome unknown, and its kind gave no reconcile query."
                self._settle(job, session)
                continue
            except Exception as exc:
                self._fail(job, session, "build", f"{type(exc).__name__}: {exc}")
                self._report(session, job, exc)
                continue
            job.attempts += int(fresh)
            job.lease_until = self.clock() + self.lease
            job.updated = self.clock()
            self.queue.save(job)
            return

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
        document = qbxml.request(replace(rq, request_id=str(job.id)), version=ctx.version)
        if not job.reconciling:
            job.writes = _is_write(document)
        job.request = document
        return document

    def on_receive_response(self, event: ReceiveResponseEvent) -> None:
        session = event.session
        assert session is not None
        job = self._current(session)
        if job is None:
            session.last_error = "A response came for no job in flight."
            event.percent_done = -1
            return
        if not event.success:
            # QuickBooks could not run the request (0x80040400: it could not parse it).
            if job.reconciling:  # still no answer to "did the write happen?"
                job.state = JobState.UNKNOWN
                job.error_code, job.error_message = event.error_code, event.error_message
                self._settle(job, session)
            else:
                self._fail(job, session, event.error_code, event.error_message)
            session.last_error = (
                f"Job {job.id} ({job.kind}) failed: QuickBooks reported "
                f"{event.error_code}: {event.error_message}"
            )
            event.percent_done = -1
            return
        try:
            result = self._result(job, event.response)
            self._apply(job, session, result)
        except Exception as exc:
            self._fail(job, session, "response", f"{type(exc).__name__}: {exc}")
            self._report(session, job, exc)
        if job.state is JobState.FAILED and self.stop_on_error:
            session.last_error = (
                f"Job {job.id} ({job.kind}) failed: {job.error_code}: {job.error_message}"
            )
            event.percent_done = -1
            return
        event.percent_done = self._progress(session, job)

    def _result(self, job: Job, response: str) -> qbxml.Result:
        for result in qbxml.parse_response(response):
            if result.request_id == str(job.id):
                return result
        raise HandlerError(
            f"the response does not answer request {job.id}", operation="receiveResponseXML"
        )

    def _apply(self, job: Job, session: Session, result: qbxml.Result) -> None:
        kind = self.kinds[job.kind]
        ctx = self._context(job, session)
        now = self.clock()
        if job.reconciling:
            if not result.ok:
                job.state = JobState.UNKNOWN
                job.error_code, job.error_message = str(result.status_code), result.message
            elif kind.reconciled(ctx, result):
                kind.handle(ctx, result)
                job.state = JobState.DONE
            else:
                job.state = JobState.PENDING  # it did not happen: safe to send
            self._settle(job, session)
            return
        if result.status_code == ITERATOR_NOT_VALID and job.iterator_id:
            # The iterator is gone: ask again from the start (or the checkpoint).
            logger.warning(
                "job %s: iterator %s expired; restarting the query", job.id, job.iterator_id
            )
            job.iterator_id = None
            job.request = None
            job.updated = now
            self.queue.save(job)
            return
        if not result.ok:
            self._fail(job, session, str(result.status_code), result.message)
            return
        if result.status is qbxml.Status.WARNING:
            job.warning = result.message
        kind.handle(ctx, result)
        if result.iterator_id is not None:
            job.pages += 1
        if result.iterator_id and (result.remaining_count or 0) > 0:
            # Pages still to come, for the progress bar: remaining / this page's size.
            page = max(1, len(result.records))
            session.data["pages_left"] = -(-(result.remaining_count or 0) // page)
            job.iterator_id = result.iterator_id
            job.lease_until = now + self.lease
            job.updated = now
            self.queue.save(job)  # the page is saved before the next is asked for
            return
        job.state = JobState.DONE
        self._settle(job, session)

    def _settle(self, job: Job, session: Session) -> None:
        """The job is finished with in this session (done, failed, or reconciled)."""
        self._land(job)
        session.data.pop("job", None)
        session.data.pop("pages_left", None)
        session.data["finished"] = session.data.get("finished", 0) + 1
        # Progress units: a job counts its pages, as it did while iterating.
        session.data["units"] = session.data.get("units", 0) + max(1, job.pages)

    def _fail(self, job: Job, session: Session, code: str, message: str) -> None:
        job.state = JobState.FAILED
        job.error_code, job.error_message = code, message
        self._settle(job, session)
        block_dependants(self.queue, job, self.clock())
        logger.warning("job %s (%s) failed: %s: %s", job.id, job.kind, code, message)

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
        asking for a request there is none for.
        """
        going_on = job.state is JobState.IN_FLIGHT  # an iterator with pages left

        def here(other: Job) -> bool:
            return (
                not other.company_file or other.company_file.lower() == session.company_file.lower()
            )

        if not going_on and not any(here(j) for j in self.queue.runnable(user=session.user)):
            return 100
        waiting = self.queue.jobs(user=session.user, states=[JobState.PENDING, JobState.RECONCILE])
        left = (session.data.get("pages_left", 1) if going_on else 0) + sum(map(here, waiting))
        done = int(session.data.get("units", 0)) + (job.pages if going_on else 0)
        return min(99, max(1, 100 * done // (done + left)))

    def on_connection_error(self, event: ConnectionErrorEvent) -> None:
        # QuickBooks could not be opened: nothing in flight reached it.
        assert event.session is not None
        job = self._current(event.session)
        if job is not None:
            job.writes = False
            self._release(job, "QuickBooks could not be opened")

    def on_close_connection(self, event: CloseConnectionEvent) -> None:
        assert event.session is not None
        job = self._current(event.session)
        if job is not None:
            self._release(job, "the session closed before its answer came")


class _NoReconcile(Exception):
    """A job to reconcile whose kind gave no reconcile query after all."""


def _dependants(queue: JobQueue, job_id: int) -> list[Job]:
    """Every job that depends on ``job_id``, directly or not."""
    found: dict[int, Job] = {}
    frontier = [job_id]
    everyone = queue.jobs(user=None)
    while frontier:
        current = frontier.pop()
        for other in everyone:
            if current in other.depends_on and other.id not in found:
                found[other.id] = other
                frontier.append(other.id)
    return list(found.values())


def block_dependants(queue: JobQueue, job: Job, now: float) -> list[Job]:
    """Mark the waiting jobs that depend on ``job`` blocked: they must not be sent."""
    blocked = []
    for other in _dependants(queue, job.id):
        if other.state in (JobState.PENDING, JobState.RECONCILE):
            other.state = JobState.BLOCKED
            other.error_message = f"Job {job.id} it depends on is {job.state.value}."
            other.updated = now
            queue.save(other)
            blocked.append(other)
    return blocked


def retry_job(queue: JobQueue, job_id: int, *, now: float | None = None) -> Job:
    """Send a failed, unknown, blocked or cancelled job again; unblock its dependants.

    For an ``unknown`` write this is the operator's say that it did not happen.

    Raises:
        ValueError: no such job, or it is pending, in flight or done.
    """
    now = time.time() if now is None else now
    job = queue.get(job_id)
    if job is None:
        raise ValueError(f"no job {job_id}")
    if job.state not in (JobState.FAILED, JobState.UNKNOWN, JobState.BLOCKED, JobState.CANCELLED):
        raise ValueError(
            f"job {job_id} is {job.state.value}: "
            "only failed, unknown, blocked or cancelled jobs are retried"
        )
    job.state = JobState.PENDING
    job.error_code = job.error_message = None
    job.iterator_id = job.request = None
    job.updated = now
    queue.save(job)
    for other in _dependants(queue, job_id):
        if other.state is JobState.BLOCKED:
            other.state = JobState.PENDING
            other.error_message = None
            other.updated = now
            queue.save(other)
    return job


def cancel_job(queue: JobQueue, job_id: int, *, now: float | None = None) -> Job:
    """Cancel a job that is not in flight or done; block its dependants.

    Raises:
        ValueError: no such job, or it is in flight or done.
    """
    now = time.time() if now is None else now
    job = queue.get(job_id)
    if job is None:
        raise ValueError(f"no job {job_id}")
    if job.state in (JobState.IN_FLIGHT, JobState.DONE):
        raise ValueError(f"job {job_id} is {job.state.value} and cannot be cancelled")
    job.state = JobState.CANCELLED
    job.updated = now
    queue.save(job)
    block_dependants(queue, job, now)
    return job
