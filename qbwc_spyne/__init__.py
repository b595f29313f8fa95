"""qbwc_spyne: a QuickBooks Web Connector service for Python, served as a WSGI app.

Subclass :class:`QBWCHandler`, hand it to :func:`make_wsgi_app`, and serve
the result with any WSGI server::

    from qbwc_spyne import QBWCHandler, make_wsgi_app

    class Handler(QBWCHandler):
        def on_authenticate(self, event):
            ...

    app = make_wsgi_app(Handler())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# First, before anything imports spyne: spyne 2.14 imports its copy of six,
# which fails on Python 3.12 and later; this serves it from six instead.
from .server import _spyne_compat

_spyne_compat.install()

from . import events, exceptions
from ._version import __version__
from .protocol._handler import QBWCHandler
from .protocol._session import Session, SessionState
from .queue._jobs import (
    JobContext,
    JobKind,
    QueueHandler,
    cancel_job,
    recover_jobs,
    resolve_unknown,
    retry_job,
)
from .queue._live import Health, LiveClient
from .server._logging import JSONFormatter
from .store._interfaces import Job, JobQueue, JobState, SessionStore
from .store._queue import MemoryJobQueue, SQLiteJobQueue, SQLJobQueue
from .store._stores import MemorySessionStore, SQLiteSessionStore, SQLSessionStore

if TYPE_CHECKING:
    from .server._metrics import Metrics, make_metrics_app
    from .server._server import QBWCServer, make_wsgi_app

__all__ = [
    "Health",
    "JSONFormatter",
    "Job",
    "JobContext",
    "JobKind",
    "JobQueue",
    "JobState",
    "LiveClient",
    "MemoryJobQueue",
    "MemorySessionStore",
    "Metrics",
    "QBWCHandler",
    "QBWCServer",
    "QueueHandler",
    "SQLJobQueue",
    "SQLSessionStore",
    "SQLiteJobQueue",
    "SQLiteSessionStore",
    "Session",
    "SessionState",
    "SessionStore",
    "__version__",
    "cancel_job",
    "events",
    "exceptions",
    "make_metrics_app",
    "make_wsgi_app",
    "recover_jobs",
    "resolve_unknown",
    "retry_job",
]


def __getattr__(name: str) -> Any:
    # The server pulls in spyne and the generated service module. Loading it
    # on first use keeps the package importable when that module is stale or
    # broken (`python -m tools.codegen` rewrites it), and the command line
    # quick to start.
    if name in ("QBWCServer", "make_wsgi_app"):
        from .server import _server

        return getattr(_server, name)
    if name in ("Metrics", "make_metrics_app"):
        # Needs the ``metrics`` extra (prometheus-client).
        from .server import _metrics

        return getattr(_metrics, name)
    raise AttributeError(f"module 'qbwc_spyne' has no attribute {name!r}")
