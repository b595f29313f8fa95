"""gunicorn settings for a Web Connector endpoint, the library's log lines included.

Name it on gunicorn's command line; options given there win:

.. code-block:: console

    gunicorn app:app -c python:qbwc_spyne.gunicorn --bind 127.0.0.1:8000

gunicorn configures only its own loggers, so without these settings the
library's lines (one per session and per job transition, and every error)
reach no handler and are lost. Here they go where gunicorn's own error log
goes, at its level: ``--log-level``, ``--error-logfile`` and syslog apply
to them too. The other settings are those
``bench/bench_gunicorn.py`` measured under Web Connector traffic: threads,
a keep-alive longer than the Web Connector's pauses, a timeout long enough
to parse a large receiveResponseXML. Put a proxy that buffers whole
requests (nginx) in front; it also terminates HTTPS.

``QBWC_LOG_FORMAT=json`` writes the library's lines as one JSON object each
(:class:`~qbwc_spyne.log.JSONFormatter`), with the call's user, ticket prefix,
job and operation as fields, for a log collector.

.. versionadded:: Unreleased
"""

from __future__ import annotations

import copy
import logging
import os
from typing import Any

from gunicorn.glogging import Logger as _GunicornLogger

from .server._logging import JSONFormatter

__all__ = [
    "LibraryLogger",
    "accesslog",
    "errorlog",
    "graceful_timeout",
    "keepalive",
    "logger_class",
    "loglevel",
    "threads",
    "timeout",
    "worker_class",
    "workers",
]

# Threads: a worker keeps serving while one of its threads waits on a slow
# client or a long parse, and connections are kept alive between the Web
# Connector's calls.
worker_class = "gthread"
workers = 2
threads = 8

# Longer than the Web Connector's pauses between two calls of an update
# (QuickBooks works on each request in between). With gunicorn's default
# of 2 s, a call sent just as the server closes the idle connection is
# reset, and the Web Connector reports the update as failed.
keepalive = 75

# A receiveResponseXML of tens of MB takes seconds to read and parse; a
# worker silent for this long is restarted.
timeout = 120
graceful_timeout = 30

# One line per request on standard output; the library's own lines on
# standard error, beside gunicorn's.
accesslog = "-"
errorlog = "-"
loglevel = "info"


class LibraryLogger(_GunicornLogger):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's logger, which also sets the library's logger up like its error log.

    gunicorn sets its loggers up from its options (``--log-level``,
    ``--error-logfile``, syslog) at start and at each reload; then the
    library's logger gets the error log's level and destinations, with
    :class:`~qbwc_spyne.log.JSONFormatter` when ``QBWC_LOG_FORMAT=json``. A
    configuration of the library's logger of your own (``--log-config``)
    is left alone.
    """

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's loggers up from ``cfg``, then the library's beside them."""
        super().setup(cfg)
        library = logging.getLogger("qbwc_spyne")
        if any(not getattr(handler, "_qbwc_gunicorn", False) for handler in library.handlers):
            return
        for handler in list(library.handlers):  # ours, from the setup before a reload
            library.removeHandler(handler)
        json_lines = os.environ.get("QBWC_LOG_FORMAT") == "json"
        for handler in self.error_log.handlers:
            if json_lines:
                # The same stream, file or socket (and lock) as gunicorn's, formatted apart.
                handler = copy.copy(handler)
                handler.setFormatter(JSONFormatter())
            handler._qbwc_gunicorn = True
            library.addHandler(handler)
        library.setLevel(self.loglevel)
        library.propagate = False


logger_class = LibraryLogger
