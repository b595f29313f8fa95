"""The events a :class:`~qbwc_spyne.QBWCHandler` receives, one per Web Connector call.

Each event is a mutable object: the handler reads the fields the Web
Connector sent and sets the fields that decide the answer. Field names and
defaults follow the event parameters of the QBWCServer reference class; the
table in the guide "Write a handler by hand" says what each settable field does on the wire.

Events tied to a session also carry ``session``, the
:class:`~qbwc_spyne.Session` with the handler's own ``data``; its ``state``
is a :class:`SessionState`, and both are here too.

This is the public home of the events; they are defined beside the protocol
core that makes them (``qbwc_spyne.protocol._events``), which must not
import outside its layer.
"""

from __future__ import annotations

from .protocol._events import (
    AuthenticateEvent,
    ClientVersionEvent,
    CloseConnectionEvent,
    ConnectionErrorEvent,
    ErrorCode,
    ErrorEvent,
    GetInteractiveURLEvent,
    GetLastErrorEvent,
    InteractiveDoneEvent,
    InteractiveRejectedEvent,
    ReceiveResponseEvent,
    SendRequestEvent,
    ServerVersionEvent,
)
from .protocol._session import Session, SessionState

__all__ = [
    "AuthenticateEvent",
    "ClientVersionEvent",
    "CloseConnectionEvent",
    "ConnectionErrorEvent",
    "ErrorCode",
    "ErrorEvent",
    "GetInteractiveURLEvent",
    "GetLastErrorEvent",
    "InteractiveDoneEvent",
    "InteractiveRejectedEvent",
    "ReceiveResponseEvent",
    "SendRequestEvent",
    "ServerVersionEvent",
    "Session",
    "SessionState",
]
