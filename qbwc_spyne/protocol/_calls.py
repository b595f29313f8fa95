"""What one Web Connector call was, for those who watch: status, metrics, logs.

The core fills a :class:`Call` while it serves an operation and hands it to
each observer when the answer is known. While the call runs, the same
record is :func:`current_call`, so a log line written anywhere below the
core (a handler, the queue) can say which user, session and job it is about.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._session import Session

__all__ = ["Call", "CallObserver", "current_call", "notify"]

logger = logging.getLogger("qbwc_spyne")


@dataclass(kw_only=True)
class Call:
    """One Web Connector call, as the core served it.

    Attributes:
        operation: the WSDL operation name, e.g. ``"sendRequestXML"``.
        started: the core's clock when the call arrived (seconds since the epoch).
        duration: seconds the core spent serving it (a monotonic clock).
        user: the Web Connector user, once known (authenticate, or the session).
        ticket: the session's ticket, once known.
        session: the session after the call (None: no session, or it was unknown).
        arguments: what the Web Connector sent, by parameter name, the
            password left out; bodies are the full strings, so an observer
            that keeps them must truncate them.
        answer: what the core returned.
        error_code: the :class:`~qbwc_spyne.events.ErrorCode` the call
            reported through ``on_error``, by name in lower case (e.g.
            ``"unknown_ticket"``), if any (the last one).
        failed: something escaped the handler or the store, and the answer is
            the operation's failure value.
        job_id: the queue job the call sent or answered, if any.
    """

    operation: str
    started: float
    duration: float = 0.0
    user: str = ""
    ticket: str = ""
    session: Session | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    answer: Any = None
    error_code: str | None = None
    failed: bool = False
    job_id: int | None = None


class CallObserver(Protocol):
    """Told of every call once it is answered; what it raises is logged and ignored."""

    def on_call(self, call: Call) -> None: ...


_current: ContextVar[Call | None] = ContextVar("qbwc_spyne_call", default=None)


def current_call() -> Call | None:
    """The call being served in this thread or task, or None outside one."""
    return _current.get()


def notify(observers: Iterable[CallObserver], call: Call) -> None:
    """Tell each observer; one that raises must not change the Web Connector's answer."""
    for observer in observers:
        try:
            observer.on_call(call)
        except Exception:
            logger.exception(
                "%s.on_call raised for %s; the answer was not changed",
                type(observer).__name__,
                call.operation,
            )
