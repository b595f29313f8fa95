"""qbwc_spyne: a QuickBooks Web Connector service for Python, served as a WSGI app.

Subclass :class:`QBWCHandler`, hand it to :func:`make_wsgi_app`, and serve
the result with any WSGI server:

.. code-block:: python

    import hmac

    from qbwc_spyne import QBWCHandler, make_wsgi_app

    class Handler(QBWCHandler):
        def on_authenticate(self, event):
            event.accept = hmac.compare_digest(event.password, "s3cret")
            event.no_work = True  # no request yet: on_send_request would send it

    app = make_wsgi_app(Handler())

This module holds what most applications need. The rest lives in public
modules named for what they hold: :mod:`qbwc_spyne.jobs` (the job model,
operator actions, the queue's interfaces), :mod:`qbwc_spyne.stores`,
:mod:`qbwc_spyne.live`, :mod:`qbwc_spyne.status`, :mod:`qbwc_spyne.metrics`,
:mod:`qbwc_spyne.log`, :mod:`qbwc_spyne.codes`, :mod:`qbwc_spyne.reference`,
:mod:`qbwc_spyne.app`, :mod:`qbwc_spyne.events`, :mod:`qbwc_spyne.exceptions`,
:mod:`qbwc_spyne.qbxml`, :mod:`qbwc_spyne.objects` (the typed objects),
:mod:`qbwc_spyne.client` (the resource client), :mod:`qbwc_spyne.qwc`,
:mod:`qbwc_spyne.auth`, :mod:`qbwc_spyne.dashboard`,
:mod:`qbwc_spyne.gunicorn` and :mod:`qbwc_spyne.testing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# First, before anything imports spyne: spyne 2.14 imports its copy of six,
# which fails on Python 3.12 and later; this serves it from six instead.
from .server import _spyne_compat

_spyne_compat.install()

from . import _deprecation, events, exceptions
from ._version import __version__
from .protocol._handler import QBWCHandler
from .protocol._session import Session
from .queue._handler import QueueHandler
from .queue._kinds import JobContext, JobKind
from .queue._live import LiveClient
from .queue._ports import Job, JobState
from .server._logging import install_call_fields
from .store._queue import MemoryJobQueue, SQLJobQueue
from .store._stores import MemorySessionStore, SQLSessionStore

# At import, not when the server is built: every process that imports the
# package names the call (or says "none") on each record of the library,
# one serving only the dashboard or live requests included.
install_call_fields()

if TYPE_CHECKING:
    from .app import make_app
    from .server._app import make_wsgi_app
    from .server._server import QBWCServer

__all__ = [
    "Job",
    "JobContext",
    "JobKind",
    "JobState",
    "LiveClient",
    "MemoryJobQueue",
    "MemorySessionStore",
    "QBWCHandler",
    "QBWCServer",
    "QueueHandler",
    "SQLJobQueue",
    "SQLSessionStore",
    "Session",
    "__version__",
    "events",
    "exceptions",
    "make_app",
    "make_wsgi_app",
]

# The server pulls in spyne and the generated service module: loaded on first
# use, which keeps the package importable when that module is stale or broken
# (`python -m tools.codegen` rewrites it), and the command line quick to start.
# The names 0.2 held here and that moved to their modules still work, and
# say once where they went.
__getattr__ = _deprecation.moved(
    __name__,
    {
        "Health": "qbwc_spyne.live:Health",
        "JSONFormatter": "qbwc_spyne.log:JSONFormatter",
        "JobQueue": "qbwc_spyne.jobs:JobQueue",
        "Metrics": "qbwc_spyne.metrics:Metrics",
        "SQLiteJobQueue": "qbwc_spyne.stores:SQLJobQueue",
        "SQLiteSessionStore": "qbwc_spyne.stores:SQLSessionStore",
        "SessionState": "qbwc_spyne.events:SessionState",
        "SessionStore": "qbwc_spyne.stores:SessionStore",
        "cancel_job": "qbwc_spyne.jobs:cancel_job",
        "recover_jobs": "qbwc_spyne.jobs:recover_jobs",
        "resolve_unknown": "qbwc_spyne.jobs:resolve_unknown",
        "retry_job": "qbwc_spyne.jobs:retry_job",
    },
    lazy={
        # Deprecated too: it says so when called, naming make_wsgi_app(metrics=...).
        "make_metrics_app": "qbwc_spyne.server._metrics:make_metrics_app",
        "QBWCServer": "qbwc_spyne.server._server:QBWCServer",
        "make_app": "qbwc_spyne.app:make_app",
        "make_wsgi_app": "qbwc_spyne.server._app:make_wsgi_app",
    },
)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
