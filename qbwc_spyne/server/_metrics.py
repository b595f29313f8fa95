"""Prometheus metrics: what the Web Connector asked, what it was answered, what the queue holds.

Theory of operation
-------------------
:class:`Metrics` is a call observer (``qbwc_spyne.protocol._calls``): the
core hands it each answered call, and it counts the call by operation and
outcome, times it, and follows sessions from authenticate to
closeConnection. Outcomes are read from the answer the Web Connector got,
so they mean what the Web Connector did next ("empty": sendRequestXML
answered "", and getLastError follows).

Jobs are read from the queue. A receiveResponseXML that answered a job
(the queue handler names it in ``Call.job_id``) is followed by one read of
that job: done means its latency, enqueue to done, is observed (once: only
the session holding a job can finish it, and the next call names the next
job); failed means its code (a qbXML statusCode or an hresult) is counted
among the errors. Jobs by state are asked of the queue at each scrape, so
they are right across processes.

Cardinality is bounded: no label holds a user, a ticket or a job id.
Operations are the WSDL's, outcomes a fixed set, and error codes are the
core's error names or a code's digits, at most ``MAX_CODES`` of them (then
``other``): a peer that makes up hresults cannot grow the registry.

Several worker processes (gunicorn's) each count their own calls, and a
scrape reaches one of them. With ``PROMETHEUS_MULTIPROC_DIR`` set before
the workers start, prometheus-client keeps every process's values in files
there, and ``GET /metrics`` serves their sum, whichever worker is
asked. A session may then start in one process and end in another, so
``sessions_active`` becomes a sum of +1 at each start and -1 at each end
(a session never met again is not seen to end).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import make_wsgi_app as _prometheus_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .._deprecation import warn_once
from ..protocol._calls import Call
from ..queue._ports import JobState, OperatorQueue

__all__ = [
    "LIVE_OUTCOMES",
    "MAX_CODES",
    "Metrics",
    "exposition",
    "make_metrics_app",
    "multiprocess_dir",
]

logger = logging.getLogger("qbwc_spyne")

#: The outcomes :meth:`Metrics.observe_live_request` keeps; any other is ``other``.
LIVE_OUTCOMES = frozenset({"ok", "error", "timeout", "offline", "cancelled"})

#: Distinct error codes counted before new ones are counted as ``other``.
MAX_CODES = 200

# Call latency: most calls take milliseconds; a receiveResponseXML of tens
# of MB takes seconds.
CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# A job waits for the next scheduled update: minutes to hours.
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
# A live request is answered within seconds in a hot session, within the
# schedule otherwise.
LIVE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10, 15, 30, 60, 120, 300)

# The errors that mean the call was not served at all: its outcome says so.
_REFUSED = frozenset({"unknown_ticket", "session_expired", "protocol_violation"})

# A code kept as a label: digits (qbXML statusCode, QBWC numbers), an hresult
# in hex, or an error name of the core. Anything else is "other".
_CODE = re.compile(r"-?\d{1,6}|0x[0-9a-fA-F]{1,8}|[a-z_]{1,32}")


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode, or None when it is off."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _outcome(call: Call) -> str:
    """What the Web Connector was told, as a word from a fixed set."""
    if call.failed:
        return "failure"
    if call.error_code in _REFUSED:
        return call.error_code
    answer = call.answer
    operation = call.operation
    if operation == "authenticate":
        word = answer[1] if isinstance(answer, list) and len(answer) > 1 else ""
        return word if word in ("nvu", "busy", "none") else "ok"
    if operation == "sendRequestXML":
        return "request" if answer else "empty"
    if operation == "receiveResponseXML":
        if not isinstance(answer, int) or answer < 0:
            return "error"
        return "done" if answer >= 100 else "more"
    if operation == "getLastError":
        return {"NoOp": "noop", "Interactive mode": "interactive"}.get(answer, "error")
    if operation == "connectionError":
        return "done" if answer == "done" else "retry"
    if operation == "clientVersion":
        return {"W": "warn", "E": "refuse", "O": "upgrade"}.get(str(answer)[:1], "ok")
    if operation == "getInteractiveURL":
        return "url" if answer else "empty"
    if operation == "interactiveDone":
        return "done" if answer == "Done" else "not_done"
    if operation == "interactiveRejected":
        return "rejected"
    return "ok"  # serverVersion, closeConnection


class _JobsByState(Collector):
    """Asks the queue at scrape time how many jobs are in each state."""

    def __init__(self, queue: OperatorQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = self.queue.counts()  # one GROUP BY
        except Exception as exc:
            # A scrape must not fail for the queue: the call metrics still go out.
            logger.warning("metrics: could not count jobs by state (%s)", type(exc).__name__)
            return
        family = GaugeMetricFamily(
            "qbwc_jobs", "Jobs in the queue, by state (read at scrape time).", labels=["state"]
        )
        for state in JobState:
            family.add_metric([state.value], counts.get(state, 0))
        yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        # Registering must not query the database.
        return [GaugeMetricFamily("qbwc_jobs", "Jobs in the queue, by state.", labels=["state"])]


class Metrics:
    """Prometheus metrics of a Web Connector service; a call observer.

    Pass it to :func:`~qbwc_spyne.make_wsgi_app` as ``metrics=`` (it is
    added to the observers, and ``GET /metrics`` beside the endpoint serves
    it). Needs the ``metrics`` extra (``prometheus-client``).

    The metrics, all prefixed ``qbwc_``:

    - ``calls_total{operation, outcome}``: outcome ``ok``/``none``/``busy``/``nvu``
      (authenticate), ``request``/``empty`` (sendRequestXML),
      ``more``/``done``/``error`` (receiveResponseXML),
      ``noop``/``interactive``/``error`` (getLastError), ``retry``/``done``
      (connectionError); ``unknown_ticket``, ``session_expired`` or
      ``protocol_violation`` when the call was refused, ``failure`` when the
      server failed.
    - ``call_duration_seconds{operation}``: a histogram.
    - ``sessions_started_total``, ``sessions_ended_total{reason}`` (closed,
      expired: met again after the timeout, abandoned: never met again),
      ``sessions_active``.
    - ``errors_total{code}``: the core's error names (``unknown_ticket``,
      ``handler_failed``, ...) and the qbXML statusCode or hresult of each
      failed job.
    - ``jobs{state}``: asked of the queue at each scrape.
    - ``job_duration_seconds{kind}``: enqueue to done, once per done job.
    - ``live_request_duration_seconds{outcome}``: see :meth:`observe_live_request`.

    Args:
        registry: where the metrics are registered; a new
            ``CollectorRegistry`` by default (pass ``prometheus_client.REGISTRY``
            to serve them with the process's own).
        queue: the job queue, for the job metrics; without it there are none.
        session_timeout: seconds after which a session not heard from is no
            longer active (the core's ``session_timeout``; ``make_wsgi_app``
            sets it to the server's).
        clock: seconds from any fixed point, for how long a session has
            been silent (a monotonic clock; tests pass a fake one).

    Raises:
        ValueError: ``registry`` holds these metrics already (from another
            ``Metrics``): prometheus-client refuses a name twice.

    .. versionadded:: Unreleased
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        queue: OperatorQueue | None = None,
        *,
        session_timeout: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.queue = queue
        self.session_timeout = session_timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._live: dict[str, float] = {}  # ticket -> monotonic time of its last call
        self._codes: set[str] = set()
        registry = self.registry
        self.calls = Counter(
            "qbwc_calls",
            "Web Connector calls answered, by operation and outcome.",
            ["operation", "outcome"],
            registry=registry,
        )
        self.call_duration = Histogram(
            "qbwc_call_duration_seconds",
            "Seconds the server spent on a Web Connector call, by operation.",
            ["operation"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.sessions_started = Counter(
            "qbwc_sessions_started", "Sessions opened by authenticate.", registry=registry
        )
        #: Whether prometheus-client keeps the values in files for several processes.
        self.multiprocess = multiprocess_dir() is not None
        self.sessions_active = Gauge(
            "qbwc_sessions_active",
            "Sessions open and heard from within the session timeout.",
            registry=registry,
            # Several processes: +1 at a start and -1 at an end, wherever each came.
            multiprocess_mode="sum",
        )
        # Registered before sessions_ended: a scrape reads the gauge first,
        # and the sessions it finds abandoned are in the same scrape's count.
        if not self.multiprocess:
            self.sessions_active.set_function(self._active)
        self.sessions_ended = Counter(
            "qbwc_sessions_ended",
            "Sessions ended: closed, expired (met after the timeout) or abandoned (not met again).",
            ["reason"],
            registry=registry,
        )
        self.errors = Counter(
            "qbwc_errors",
            "Errors by code: the core's error names, failed jobs' statusCode or hresult.",
            ["code"],
            registry=registry,
        )
        self.job_duration = Histogram(
            "qbwc_job_duration_seconds",
            "Seconds from a job's enqueue to its completion, by kind.",
            ["kind"],
            buckets=JOB_BUCKETS,
            registry=registry,
        )
        self.live_request_duration = Histogram(
            "qbwc_live_request_duration_seconds",
            "Seconds a live request took, from the caller's call to its answer or failure.",
            ["outcome"],
            buckets=LIVE_BUCKETS,
            registry=registry,
        )
        if queue is not None:
            registry.register(_JobsByState(queue))

    # -- the observer ------------------------------------------------------------

    def on_call(self, call: Call) -> None:
        """Count one answered call (the core calls this; see ``CallObserver``).

        Args:
            call: the call, as the core served it.
        """
        outcome = _outcome(call)
        self.calls.labels(call.operation, outcome).inc()
        self.call_duration.labels(call.operation).observe(call.duration)
        if call.error_code:
            self._error(call.error_code)
        self._follow_session(call, outcome)
        if call.job_id is not None and call.operation == "receiveResponseXML":
            self._follow_job(call.job_id)

    def observe_live_request(self, seconds: float, outcome: str) -> None:
        """Record one live request: how long it took and how it ended.

        Args:
            seconds: from the caller's request to its answer or failure.
            outcome: one of :data:`LIVE_OUTCOMES` (``ok``, ``error``,
                ``timeout``, ``offline``, ``cancelled``); any other word is
                kept as ``other``.
        """
        label = outcome if outcome in LIVE_OUTCOMES else "other"
        self.live_request_duration.labels(label).observe(max(float(seconds), 0.0))

    # -- inside ---------------------------------------------------------------------

    def _error(self, code: str) -> None:
        code = code if _CODE.fullmatch(code) else "other"
        with self._lock:
            if code not in self._codes:
                if len(self._codes) >= MAX_CODES:
                    code = "other"
                else:
                    self._codes.add(code)
        self.errors.labels(code).inc()

    def _follow_session(self, call: Call, outcome: str) -> None:
        if self.multiprocess:
            self._count_session(call, outcome)
            return
        now = self.clock()
        ended: str | None = None
        with self._lock:
            if call.operation == "authenticate" and outcome == "ok" and call.session is not None:
                self.sessions_started.inc()
                self._live[call.ticket] = now
            elif call.error_code == "session_expired":
                if self._live.pop(call.ticket, None) is not None:
                    ended = "expired"
            elif call.operation == "closeConnection" and call.session is not None:
                self._live.pop(call.ticket, None)
                ended = "closed"
            elif call.ticket in self._live:
                self._live[call.ticket] = now
        if ended:
            self.sessions_ended.labels(ended).inc()

    def _count_session(self, call: Call, outcome: str) -> None:
        """Several processes: another may have seen the start, so count without the tickets."""
        if call.operation == "authenticate" and outcome == "ok" and call.session is not None:
            self.sessions_started.inc()
            self.sessions_active.inc()
            return
        if call.error_code == "session_expired":
            ended = "expired"
        elif call.operation == "closeConnection" and call.session is not None:
            ended = "closed"
        else:
            return
        self.sessions_ended.labels(ended).inc()
        self.sessions_active.dec()

    def _active(self) -> float:
        """Sessions heard from within the timeout; the rest end as abandoned."""
        cutoff = self.clock() - self.session_timeout
        with self._lock:
            gone = [ticket for ticket, seen in self._live.items() if seen < cutoff]
            for ticket in gone:
                del self._live[ticket]
            active = len(self._live)
        if gone:
            self.sessions_ended.labels("abandoned").inc(len(gone))
        return float(active)

    def _follow_job(self, job_id: int) -> None:
        if self.queue is None:
            return
        job = self.queue.get(job_id)
        if job is None:
            return
        if job.state is JobState.DONE:
            self.job_duration.labels(job.kind).observe(max(job.updated - job.created, 0.0))
        elif job.state is JobState.FAILED:
            self._error(job.error_code or "other")


def exposition(metrics: Metrics) -> Any:
    """A WSGI app serving ``metrics`` in Prometheus' text format, at every path and method.

    What ``metrics=`` of :func:`~qbwc_spyne.make_wsgi_app` mounts at
    ``GET /metrics``. With ``PROMETHEUS_MULTIPROC_DIR`` set, it serves the
    sum over every process that wrote there (and the queue's jobs), not
    ``metrics.registry``.
    """
    if not metrics.multiprocess:
        return _prometheus_wsgi_app(registry=metrics.registry)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    if metrics.queue is not None:
        registry.register(_JobsByState(metrics.queue))
    return _prometheus_wsgi_app(registry=registry)


def make_metrics_app(metrics: Metrics) -> Any:
    """Return a WSGI app that serves ``metrics`` in Prometheus' text format.

    It answers every path and method alike; restrict who reaches it at the
    proxy. With ``PROMETHEUS_MULTIPROC_DIR`` set, it serves the sum over
    every process that wrote there (and the queue's jobs), not
    ``metrics.registry``.

    Args:
        metrics: the :class:`Metrics` to serve.

    Returns:
        A WSGI callable.

    .. versionadded:: Unreleased

    .. deprecated:: Unreleased
       Pass ``metrics=`` to :func:`~qbwc_spyne.make_wsgi_app` instead: it
       serves them at ``GET /metrics`` beside the endpoint.
    """
    warn_once("qbwc_spyne.make_metrics_app", "make_wsgi_app(handler, metrics=metrics)")
    return exposition(metrics)
