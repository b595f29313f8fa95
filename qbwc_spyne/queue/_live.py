"""Live requests: ask QuickBooks now, from any process, and wait for its answer.

Theory of operation
-------------------
A live request is a job of the built-in kind :data:`LIVE_KIND`, queued with
the top priority (:data:`LIVE_PRIORITY`), so the next sendRequestXML of the
user's session takes it before any other work. The caller checks the
request at once (schema, code page) and then waits for the job to land:

- in one process the queue handler wakes it in memory (``_wake``);
- on PostgreSQL the job's landing sends a NOTIFY in the same transaction,
  which a listening connection of the caller's process receives;
- on SQLite the caller polls, every ``poll`` seconds.

Each of these is only a hint: the caller reads the job again and decides
from what the queue says. So a lost NOTIFY, or a wake meant for a job of
the same id in another queue, costs a read or a poll interval, never a
wrong answer.

The answer travels in the job's row: the queue handler keeps the whole
response document on the job (the kind sets ``keep_full_response``), done
or failed, and the kind records which company file answered as the job's
checkpoint.

Sessions keep themselves open for live requests (the queue handler's
``keep_alive``), so once one live request has run, the next goes out at
the Web Connector's next ask, about five seconds away at most. Outside a
session, a live request waits for the next scheduled update: the caller's
``timeout`` must cover the schedule.

Timeouts are honest: a request that never left is cancelled (and a
deadline in its payload keeps a session from sending it late, even if the
cancel could not be written); one in flight says so, and a write then
goes the usual way (reconcile, or ``unknown`` for the operator).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lxml import etree

from .. import qbxml
from .._xml import utf8_parser
from ..codes import describe
from ..exceptions import (
    InvalidJobError,
    LiveError,
    LiveRequestFailed,
    LiveTimeout,
    QBXMLBuildError,
    QuickBooksOffline,
    StorageError,
)
from ..qbxml import _encoding
from ..status._model import StatusSource, connection_status, session_open
from ._kinds import JobContext, JobKind, check_encoding
from ._ports import Job, JobState, OperatorQueue, QueueNotifications
from ._wake import LIVE_KIND, waiting, wake

if TYPE_CHECKING:
    from ..qbxml._objects import QBRequest

__all__ = [
    "LIVE_KIND",
    "LIVE_PRIORITY",
    "Health",
    "LiveClient",
    "LiveExpired",
    "LiveKind",
    "StatusSource",
]

logger = logging.getLogger("qbwc_spyne")

#: The priority of a live request: above any an application's jobs use.
LIVE_PRIORITY = 2**62


def _when(moment: float | None) -> str:
    if moment is None:
        return "never"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pairs(element: etree._Element) -> list[tuple[str, Any]]:
    """An element's children as ``(tag, value)`` pairs, in order (text for leaves)."""
    return [
        (str(child.tag), _pairs(child) if len(child) else (child.text or ""))
        for child in element
        if isinstance(child.tag, str)
    ]


class LiveExpired(LiveError):
    """A session took a live request after its caller stopped waiting: it is not sent.

    Raised while the session builds the request; the queue handler fails
    the job as ``expired`` and hands this to its ``on_error`` hook. The
    caller never sees it: it already had its ``LiveTimeout``. Control flow
    inside the queue, not part of the public exception tree.

    Attributes:
        deadline: when the caller stopped waiting (seconds since the epoch).

    .. versionadded:: Unreleased
    """

    def __init__(self, message: str, *, user: str, job_id: int, deadline: float) -> None:
        super().__init__(message, user=user, job_id=job_id)
        self.deadline = deadline


class LiveKind(JobKind):
    """The built-in kind of live requests; :class:`~qbwc_spyne.QueueHandler` registers it.

    Its payload holds the request element the caller checked, and the
    moment the caller stops waiting: a session that takes the job later
    fails it as ``expired`` without sending it. That moment is read on the
    caller's clock and compared on the handler's, so the hosts' clocks must
    agree to well within a timeout.

    Args:
        clock: the handler's time source.
    """

    name = LIVE_KIND
    #: The caller applied its code-page policy when it checked the request.
    encoding = "pass"
    #: The caller reads QuickBooks' answer from the job: all of it.
    keep_full_response = True
    #: Each page of an iterated query is one live request: its answer goes
    #: back to the caller, who sends the Continue as a request of its own.
    continues_iterator = False

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def build(self, ctx: JobContext) -> qbxml.Rq:
        deadline = ctx.payload.get("deadline")
        if isinstance(deadline, (int, float)) and self._clock() > deadline:
            raise LiveExpired(
                f"its caller stopped waiting at {_when(deadline)}: it was not sent",
                user=ctx.job.user, job_id=ctx.job.id, deadline=float(deadline),
            )  # fmt: skip
        element = etree.fromstring(str(ctx.payload["rq"]).encode("utf-8"), utf8_parser())
        # Checked again against the session's qbXML version, which may be
        # older than the one the caller checked it against.
        iterator, iterator_id = ctx.payload.get("iterator"), ctx.payload.get("iterator_id")
        return qbxml.Rq(
            str(element.tag),
            _pairs(element),
            iterator=None if iterator is None else str(iterator),
            iterator_id=None if iterator_id is None else str(iterator_id),
            validate=bool(ctx.payload.get("validate", True)),
        )

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        # The answer itself is kept on the job (keep_full_response); which
        # company file gave it is known only here.
        ctx.record_checkpoint({"company_file": ctx.session.company_file if ctx.session else ""})


@dataclass(frozen=True, kw_only=True)
class Health:
    """What a HostQuery round trip to a user's QuickBooks found.

    Attributes:
        user: the Web Connector user.
        latency: seconds from the request to its answer.
        product: QuickBooks' product name, e.g. ``"QuickBooks Pro 2014"``.
        version: QuickBooks' version, e.g. ``"24.0"``.
        country: its edition's country, e.g. ``"US"``.
        company_file: the company file that answered.
        qbxml_versions: the qbXML versions it supports, oldest first.

    .. versionadded:: Unreleased
    """

    user: str
    latency: float
    product: str
    version: str
    country: str
    company_file: str
    qbxml_versions: tuple[str, ...]


class _Listener:
    """A thread that turns the queue's notifications into wakes of this process's waiters."""

    def __init__(self, queue: QueueNotifications) -> None:
        self._queue = queue
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qbwc-live-listener", daemon=True)
        self._thread.start()
        # LISTEN before the first read of a job, or its NOTIFY could come
        # unheard; a listener that cannot start leaves the poll to do it.
        self._ready.wait(10.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                listener = self._queue.notifications()
            except StorageError as exc:
                logger.warning("live requests: cannot listen (%s); polling instead", exc)
                self._ready.set()
                self._stop.wait(5.0)
                continue
            self._ready.set()
            try:
                while not self._stop.is_set():
                    for job_id in listener.wait(1.0):
                        wake(job_id)
            except StorageError as exc:
                logger.warning("live requests: listening stopped (%s); listening again", exc)
            finally:
                listener.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


class LiveClient:
    """Sends a request to a user's QuickBooks now and returns its answer.

    Works from any process that opens the queue: the process serving the
    Web Connector, another worker, or another host on the same PostgreSQL.

    Args:
        queue: the job queue the Web Connector's :class:`~qbwc_spyne.QueueHandler` runs.
        status: the connection status store, if one is kept
            (:class:`~qbwc_spyne.status.SQLStatusStore`, filled by a
            ``StatusRecorder``); with it, a user whose Web Connector is not
            there fails fast with :class:`~qbwc_spyne.exceptions.QuickBooksOffline`,
            and :meth:`status` reads it. Without it nothing tells the
            client who is connected: a request for a user never seen, or
            whose Web Connector is gone, is queued all the same and waits
            its whole ``timeout``, then raises ``LiveTimeout`` (never sent),
            and :meth:`status` returns nothing.
        interval: seconds between the Web Connector's scheduled updates
            (its ``RunEveryNMinutes``, with some slack): a user not seen
            for longer is offline.
        intervals: ``interval`` per user, where it differs.
        session_timeout: the server's session timeout (``make_wsgi_app``'s):
            a session whose last call is older is gone, its Web Connector
            with it, even though the status still holds its ticket.
        poll: seconds between two reads of the job while waiting; by
            default 0.1, or 1.0 on PostgreSQL, where NOTIFY wakes the waiter
            and the poll is only a safety net.
        version: the qbXML version a request is checked against at once
            (the session checks it again against its own).
        encoding: what to do with text the company's code page lacks
            (see :class:`~qbwc_spyne.QueueHandler`), applied at once.
        codepage: the company's code page.
        clock: the time source.
        observe: told of each request once it ends, with its seconds and
            how it ended: ``"ok"`` (an answer; ``"error"`` when its status
            is an error), ``"timeout"``, ``"offline"``, ``"cancelled"``,
            ``"error"`` (no answer); e.g. a metrics observer's
            ``observe_live_request``. What it raises is logged and ignored.

    Raises:
        ConfigurationError: an unknown encoding policy or code page.

    .. versionadded:: Unreleased
    """

    def __init__(
        self,
        queue: OperatorQueue,
        *,
        status: StatusSource | None = None,
        interval: float = 900.0,
        intervals: Mapping[str, float] | None = None,
        session_timeout: float = 1800.0,
        poll: float | None = None,
        version: str = "13.0",
        encoding: str = "error",
        codepage: str = _encoding.DEFAULT_CODEPAGE,
        clock: Callable[[], float] = time.time,
        observe: Callable[[float, str], None] | None = None,
    ) -> None:
        check_encoding(encoding, codepage, "LiveClient")
        self.queue = queue
        self.status_store: StatusSource | None = status
        self.interval = interval
        self.intervals = dict(intervals or {})
        self.session_timeout = session_timeout
        self.version = version
        self.encoding = encoding
        self.codepage = codepage
        self.clock = clock
        self.observe = observe
        # A queue that can listen (SQLJobQueue on PostgreSQL) says so.
        self._notifier = queue if isinstance(queue, QueueNotifications) and queue.listens else None
        self._listens = self._notifier is not None
        self.poll = poll if poll is not None else (1.0 if self._listens else 0.1)
        self._listener: _Listener | None = None
        self._listener_pid = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop listening for notifications (PostgreSQL); the client may be used again."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    # -- asking ----------------------------------------------------------------------------

    def request(
        self,
        user: str,
        rq: qbxml.Rq | QBRequest,
        *,
        timeout: float = 60.0,
        company_file: str = "",
    ) -> qbxml.Result:
        """Send ``rq`` to ``user``'s QuickBooks now; return its answer.

        Args:
            user: the Web Connector user (the QWC file's UserName).
            rq: the request, e.g. ``objects.CustomerQueryRq(full_name=["Acme"])`` or
                ``qbxml.Rq("CustomerQueryRq", {"FullName": "Acme"})``;
                its requestID is set by the queue. An iterated query
                (``iterator="Start"`` or ``"Continue"`` with ``iterator_id``)
                is one page a request: the answer carries the iteratorID
                and the count left, and the caller asks for the next page.
                QuickBooks keeps an iterator in the Web Connector's session:
                a Continue that reaches another session is answered 3391.
            timeout: seconds to wait for the answer.
            company_file: the company file it must run against ("" for any).

        Returns:
            QuickBooks' answer, parsed; an error status (e.g. 3120) is an
            answer too: look at ``result.ok``.

        Raises:
            InvalidJobError: ``timeout`` is not a positive number, ``user``
                is blank, or ``rq`` is not a request.
            SchemaError: the request does not fit the qbXML schema (raised
                at once; nothing is queued).
            CodePageError: its text does not fit the code page (at once).
            QuickBooksOffline: the user's Web Connector was not seen within
                its interval, or QuickBooks was not running at its last try.
            LiveTimeout: no answer within ``timeout``.
            LiveRequestFailed: the request ended without an answer
                (refused by QuickBooks, expired, cancelled).
            StorageError: the queue could not be read or written.
        """
        result, _job = self._run(user, rq, timeout=timeout, company_file=company_file)
        return result

    async def arequest(
        self,
        user: str,
        rq: qbxml.Rq | QBRequest,
        *,
        timeout: float = 60.0,
        company_file: str = "",
    ) -> qbxml.Result:
        """:meth:`request`, awaited: the wait runs in a worker thread.

        Same arguments, answer and errors as :meth:`request`. Cancelling
        the awaiting task (``asyncio.wait_for``'s timeout, say) ends the
        wait at once: a request not sent yet is cancelled, as on a timeout;
        one already sent goes the usual way (a write is reconciled, or left
        ``unknown``). The task's cancellation then propagates.
        """
        stop, woken = threading.Event(), threading.Event()
        call = functools.partial(
            contextvars.copy_context().run,
            self._run,
            user,
            rq,
            timeout=timeout,
            company_file=company_file,
            stop=stop,
            woken=woken,
        )
        done = asyncio.get_running_loop().run_in_executor(None, call)
        try:
            result, _job = await asyncio.shield(done)
        except asyncio.CancelledError:
            # Wake the thread to cancel the job, and wait for it: no thread
            # is left waiting for an answer nobody will read.
            stop.set()
            woken.set()
            with contextlib.suppress(Exception):
                await done
            raise
        return result

    def health(self, user: str, *, timeout: float = 60.0) -> Health:
        """A HostQuery round trip: whether QuickBooks answers, how fast, and what it is.

        Args:
            user: the Web Connector user.
            timeout: seconds to wait for the answer.

        Returns:
            The latency, QuickBooks' product and version, the company file
            and the qbXML versions it supports.

        Raises:
            LiveRequestFailed: QuickBooks answers the HostQuery with an
                error status; and the errors of :meth:`request`.
        """
        began = time.monotonic()
        result, job = self._run(user, qbxml.Rq("HostQueryRq"), timeout=timeout, company_file="")
        latency = time.monotonic() - began
        if not result.ok or not result.records:
            raise LiveRequestFailed(
                f"QuickBooks answered the HostQuery with {result.status_code}: {result.message}",
                user=user,
                job_id=job.id,
                code=str(result.status_code),
            )
        host = result.records[0]
        major, minor = host.findtext("MajorVersion") or "", host.findtext("MinorVersion") or ""
        answered = job.checkpoint if isinstance(job.checkpoint, dict) else {}
        return Health(
            user=user,
            latency=latency,
            product=host.findtext("ProductName") or "",
            version=f"{major}.{minor}" if major else "",
            country=host.findtext("Country") or "",
            company_file=str(answered.get("company_file", "")),
            qbxml_versions=tuple(
                (el.text or "").strip() for el in host.iter("SupportedQBXMLVersion")
            ),
        )

    def status(self, user: str) -> list[Any]:
        """The user's connection status, one per company file, its job counts filled in.

        The same records as :func:`~qbwc_spyne.status.connection_status`
        (and so ``qbwc-spyne status`` and the dashboard) read: jobs to
        reconcile count as pending, and a session whose last call is older
        than ``session_timeout`` is not current.

        Args:
            user: the Web Connector user.

        Returns:
            :class:`~qbwc_spyne.status.ConnectionStatus` records; empty when
            the user was never seen and has no jobs, or no status store was given.

        Raises:
            StorageError: the status store or the queue could not be read.
        """
        if self.status_store is None:
            return []
        rows = connection_status(
            self.status_store,
            self.queue,
            user,
            now=self.clock(),
            session_timeout=self.session_timeout,
        )
        return [s for s in rows if s.user == user]

    # -- the work ----------------------------------------------------------------------------

    def _check(self, user: str, rq: qbxml.Rq, timeout: float) -> str:
        """The request element's text, checked; raise at once what would fail later."""
        if not isinstance(user, str) or not user.strip():
            raise InvalidJobError(f"user must be a non-blank string, not {user!r}")
        if (
            not isinstance(timeout, (int, float))
            or isinstance(timeout, bool)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise InvalidJobError(
                f"a live request's timeout must be a positive number of seconds, not {timeout!r}"
            )
        if not isinstance(rq, qbxml.Rq):
            raise InvalidJobError(f"a live request is a qbxml.Rq, not {type(rq).__name__}")
        fields = rq.fields
        if fields is not None and not isinstance(fields, Mapping | list | tuple):
            fields = list(fields)  # pairs from a generator: read them once
        fields = _encoding.apply_to_value(fields, self.encoding, codepage=self.codepage)
        element = replace(rq, fields=fields, request_id=None).element(self.version)
        return str(etree.tostring(element, encoding="unicode"))

    def _offline(self, user: str) -> None:
        """Raise QuickBooksOffline when the status says the user's QuickBooks is not there."""
        if self.status_store is None:
            return
        found = [s for s in self.status_store.statuses(user=user) if s.user == user]
        now = self.clock()
        seen = [s.last_seen for s in found if s.last_seen]
        last_seen = max(seen) if seen else None
        if last_seen is None:
            raise QuickBooksOffline(
                f"the Web Connector of {user!r} was never seen: import its QWC file into"
                " the Web Connector on the QuickBooks computer and run an update",
                user=user,
                reason="never seen",
                last_seen=None,
            )
        if any(session_open(s, now=now, session_timeout=self.session_timeout) for s in found):
            return  # a session is open now (one gone silent longer is not)
        for s in found:
            # QuickBooks is down if the last update ended in a connectionError:
            # no success since, and nothing seen after it but the update's own
            # closing calls (a minute's grace for them).
            at = s.connection_error_at
            if at and (s.last_success is None or s.last_success < at) and at >= last_seen - 60:
                words = describe(s.connection_error_code or "", s.connection_error_message or "")
                raise QuickBooksOffline(
                    f"QuickBooks of {user!r} could not be opened at the last update,"
                    f" {_when(at)}: {words}",
                    user=user,
                    reason="not running",
                    last_seen=last_seen,
                    error_code=s.connection_error_code or "",
                )
        interval = self.intervals.get(user, self.interval)
        if now - last_seen > interval:
            raise QuickBooksOffline(
                f"the Web Connector of {user!r} was last seen {_when(last_seen)},"
                f" more than {interval:.0f} s ago: check that the QuickBooks computer is on"
                " and that the Web Connector runs there with Auto-Run ticked",
                user=user,
                reason="not seen",
                last_seen=last_seen,
            )

    def _run(
        self,
        user: str,
        rq: qbxml.Rq | QBRequest,
        *,
        timeout: float,
        company_file: str,
        stop: threading.Event | None = None,
        woken: threading.Event | None = None,
    ) -> tuple[qbxml.Result, Job]:
        try:
            rq = qbxml.as_rq(rq)  # a typed request becomes its Rq
        except QBXMLBuildError:
            raise InvalidJobError(
                f"a live request is a qbxml.Rq or a typed request, not {type(rq).__name__}"
            ) from None
        element = self._check(user, rq, timeout)  # a mistake is no live request: not observed
        began = time.monotonic()
        outcome = "error"
        try:
            result, job = self._wait(
                user, rq, element, timeout=timeout, company_file=company_file, stop=stop,
                woken=woken,
            )  # fmt: skip
            outcome = "ok" if result.ok else "error"
            return result, job
        except LiveTimeout:
            outcome = "timeout"
            raise
        except QuickBooksOffline:
            outcome = "offline"
            raise
        except LiveRequestFailed as exc:
            outcome = "cancelled" if exc.code in ("cancelled", "abandoned") else "error"
            raise
        finally:
            if self.observe is not None:
                try:
                    self.observe(time.monotonic() - began, outcome)
                except Exception:
                    logger.exception("the live request observer raised; ignored")

    def _wait(
        self,
        user: str,
        rq: qbxml.Rq,
        element: str,
        *,
        timeout: float,
        company_file: str,
        stop: threading.Event | None,
        woken: threading.Event | None,
    ) -> tuple[qbxml.Result, Job]:
        self._offline(user)
        if self._listens:
            self._listen()
        now = self.clock()
        deadline = now + timeout
        payload: dict[str, Any] = {"rq": element, "deadline": deadline, "validate": rq.validate}
        if rq.iterator is not None:
            # One page of an iterated query: the caller sends the Continue.
            payload.update(iterator=rq.iterator, iterator_id=rq.iterator_id)
        job = self.queue.enqueue(
            user=user,
            kind=LIVE_KIND,
            payload=payload,
            company_file=company_file,
            priority=LIVE_PRIORITY,
            now=now,
        )
        with waiting(job.id, woken) as woken:
            while True:
                found = self.queue.get(job.id)
                if found is None:
                    raise LiveRequestFailed(
                        f"live request job {job.id} was deleted", user=user, job_id=job.id,
                        code="deleted",
                    )  # fmt: skip
                answer = self._answer(found)
                if answer is not None:
                    return answer, found
                if stop is not None and stop.is_set():
                    return self._given_up(found), found
                left = deadline - self.clock()
                if left <= 0:
                    return self._timed_out(found, timeout), found
                woken.wait(min(self.poll, left))
                woken.clear()

    def _answer(self, job: Job) -> qbxml.Result | None:
        """The answer a landed job carries (None: not landed yet); raise if none will come."""
        if job.state in (JobState.DONE, JobState.FAILED) and job.response:
            for result in qbxml.parse_response(job.response):
                if result.request_id == str(job.id):
                    return result  # an error status (3120...) is an answer too
        if job.state in (JobState.DONE, JobState.FAILED):
            code = job.error_code or "no answer"
            raise LiveRequestFailed(
                f"live request job {job.id} ended {job.state.value} without QuickBooks'"
                f" answer: {describe(code, job.error_message or '')}",
                user=job.user, job_id=job.id, code=code,
            )  # fmt: skip
        if job.state is JobState.CANCELLED:
            raise LiveRequestFailed(
                f"live request job {job.id} was cancelled", user=job.user, job_id=job.id,
                code="cancelled",
            )  # fmt: skip
        if job.state is JobState.UNKNOWN:
            raise LiveRequestFailed(
                f"live request job {job.id}: {job.error_message or 'its outcome is unknown'}",
                user=job.user, job_id=job.id, code="unknown",
            )  # fmt: skip
        return None

    def _timed_out(self, job: Job, timeout: float) -> qbxml.Result:
        """Withdraw a request still waiting; raise LiveTimeout saying whether it went out.

        Withdraw, not cancel: a job that failed (or was done) since it was
        last read keeps its answer, which is returned. Whether it was sent
        is read from the row the withdrawal returns, not from the copy read
        before: a session may have sent it in between.
        """
        withdrawn = self.queue.withdraw(job.id, now=self.clock())
        if withdrawn is not None:
            sent = withdrawn.attempts > 0
            what = (
                "was sent but its session ended without the answer; it is cancelled"
                if sent
                else "was never sent (no Web Connector session asked for it); it is cancelled"
            )
        else:
            found = self.queue.get(job.id) or job
            answer = self._answer(found)  # it landed as we gave up
            if answer is not None:
                return answer
            sent = True
            what = (
                "was sent to QuickBooks and its answer has not come back; a write's"
                " outcome will be reconciled, or left unknown for the operator"
            )
        raise LiveTimeout(
            f"live request job {job.id} for {job.user!r} got no answer in {timeout:g} s: it {what}",
            user=job.user,
            job_id=job.id,
            sent=sent,
            timeout=timeout,
        )

    def _given_up(self, job: Job) -> qbxml.Result:
        """The caller stopped waiting: withdraw a request still waiting, as a timeout does."""
        if self.queue.withdraw(job.id, now=self.clock()) is not None:
            raise LiveRequestFailed(
                f"live request job {job.id}: its caller stopped waiting before it was sent;"
                " it is cancelled",
                user=job.user, job_id=job.id, code="cancelled",
            )  # fmt: skip
        found = self.queue.get(job.id) or job
        answer = self._answer(found)  # it landed as the caller gave up
        if answer is not None:
            return answer
        raise LiveRequestFailed(
            f"live request job {job.id}: its caller stopped waiting after it was sent; a"
            " write's outcome will be reconciled, or left unknown for the operator",
            user=job.user, job_id=job.id, code="abandoned",
        )  # fmt: skip

    def _listen(self) -> None:
        if self._notifier is None:
            return
        with self._lock:
            # A listener's thread stays in the process that started it: a
            # forked worker (gunicorn's) starts its own.
            if self._listener is None or self._listener_pid != os.getpid():
                self._listener = _Listener(self._notifier)
                self._listener_pid = os.getpid()
