"""What an operator sees: each connection's status, session transcripts, job history.

Record every Web Connector call with a :class:`StatusRecorder` (an observer
of the protocol core) into a :class:`StatusStore`, and read it back with
:func:`connection_status`, the store's ``sessions()`` and ``session()``, or
``qbwc-spyne status``::

    from qbwc_spyne.status import SQLStatusStore, StatusRecorder

    status = SQLStatusStore("sqlite:///qbwc.db")
    app = make_wsgi_app(handler, observers=[StatusRecorder(status)])

.. versionadded:: Unreleased
"""

from __future__ import annotations

from .store._interfaces import JobEvent, connection_status
from .store._recorder import StatusRecorder
from .store._status import (
    ConnectionStatus,
    MemoryStatusStore,
    SessionTranscript,
    SQLStatusStore,
    StatusStore,
    TranscriptCall,
)

__all__ = [
    "ConnectionStatus",
    "JobEvent",
    "MemoryStatusStore",
    "SQLStatusStore",
    "SessionTranscript",
    "StatusRecorder",
    "StatusStore",
    "TranscriptCall",
    "connection_status",
]
