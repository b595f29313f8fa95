"""What one update did: its calls, how it ended and what the user was told."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ._transport import Exchange

__all__ = ["STATUSES", "Call", "UpdateResult"]


@dataclass(kw_only=True)
class Call:
    """One Web Connector call: its arguments (password masked), its answer, its time."""

    operation: str
    arguments: dict[str, Any]
    result: Any
    seconds: float


#: How an update ended, and what the Web Connector would tell its user.
STATUSES = {
    "ok": "The update completed.",
    "no work": "No data exchange required.",
    "busy": "The application is busy; the Web Connector will try again later.",
    "postponed": "The application postponed the update.",
    "auth failed": "Authentication failed: the user name or password is not valid.",
    "client refused": "The application refused this Web Connector version.",
    "cancelled": "The user cancelled the update after a warning.",
    "connection error": "QuickBooks could not be opened.",
    "error": "The update ended with an error from the application.",
    "interactive rejected": "The user rejected interactive mode.",
    "response lost": "The session died: a response never reached the application.",
    "runaway": "The update was stopped: too many calls.",
}


@dataclass(kw_only=True)
class UpdateResult:
    """What one update did: every call, the raw envelopes, and how it ended.

    Attributes:
        status: a key of :data:`STATUSES`, e.g. ``"ok"``, ``"no work"``, ``"error"``.
        messages: what the Web Connector would show its user, in order.
        calls: every call with its arguments, answer and duration.
        exchanges: the raw HTTP bodies of every call.
        requests: the qbXML requests the application sent.
        ticket: the session ticket.
        min_run_interval: authenticate's fourth element, in seconds, if sent.
        close_message: what closeConnection answered, the application's last
            word to the Web Connector's user (e.g. how many jobs failed);
            ``""`` when the update ended before closeConnection.
    """

    status: str = "ok"
    messages: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    ticket: str = ""
    min_run_interval: int | None = None
    close_message: str = ""

    @property
    def ok(self) -> bool:
        """True when the update completed."""
        return self.status == "ok"

    def operations(self) -> list[str]:
        """The operations called, in order."""
        return [call.operation for call in self.calls]

    def transcript(self) -> str:
        """A readable account of the update, one line a call."""
        lines = []
        for number, call in enumerate(self.calls, 1):
            args = ", ".join(f"{k}={_short(v)}" for k, v in call.arguments.items())
            lines.append(
                f"{number:>3}. {call.operation}({args}) -> {_short(call.result)}"
                f"  [{call.seconds * 1000:.1f} ms]"
            )
        lines.append(f"status: {self.status} ({STATUSES[self.status]})")
        lines.extend(f"message: {message}" for message in self.messages)
        return "\n".join(lines)

    def to_json(self) -> str:
        """The calls, status and messages as JSON (the raw envelopes left out)."""
        return json.dumps(
            {
                "status": self.status,
                "messages": self.messages,
                "close_message": self.close_message,
                "ticket": self.ticket,
                "calls": [asdict(call) for call in self.calls],
            },
            indent=2,
        )


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}...({len(text)} chars)"
