"""What an operator sees: each connection's status, session transcripts, job history.

Record every Web Connector call with a :class:`StatusRecorder` (an observer
of the protocol core) into a :class:`StatusStore`, and read it back with
:func:`connection_status`, the store's ``sessions()`` and ``session()``, or
``qbwc-spyne status``:

.. code-block:: python

    from qbwc_spyne import MemoryJobQueue, QueueHandler, make_wsgi_app
    from qbwc_spyne.auth import PasswordCheck, hash_password
    from qbwc_spyne.status import SQLStatusStore, StatusRecorder

    passwords = PasswordCheck({"shop": hash_password("s3cret")})
    handler = QueueHandler(MemoryJobQueue(), passwords=passwords)
    status = SQLStatusStore("sqlite:///qbwc.db")
    app = make_wsgi_app(handler, observers=[StatusRecorder(status)])

.. versionadded:: Unreleased

.. versionchanged:: Unreleased
   A package: the model in ``_model``, the recorder in ``_recorder``; the
   stores stay in ``qbwc_spyne.store``. The names are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._deprecation import moved
from ..queue._ports import JobEvent
from ._model import (
    ConnectionStatus,
    SessionTranscript,
    StatusStore,
    TranscriptCall,
    connection_status,
)
from ._recorder import StatusRecorder

if TYPE_CHECKING:
    from ..store._status import MemoryStatusStore, SQLStatusStore

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

# The stores are served on first use: their module imports this package's
# model, so importing them here up front would be an import cycle (whichever
# of the two was imported first would see the other half made).
__getattr__ = moved(
    __name__,
    {},
    lazy={
        "MemoryStatusStore": "qbwc_spyne.store._status:MemoryStatusStore",
        "SQLStatusStore": "qbwc_spyne.store._status:SQLStatusStore",
    },
)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
