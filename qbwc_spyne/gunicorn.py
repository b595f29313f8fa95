"""gunicorn settings for a Web Connector endpoint, the library's log lines included.

Name it on gunicorn's command line; options given there win::

    gunicorn app:app -c python:qbwc_spyne.gunicorn --bind 127.0.0.1:8000

gunicorn configures only its own loggers, so without these settings the
library's lines (one per session and per job transition, and every error)
reach no handler and are lost. The other settings are those
``bench/bench_gunicorn.py`` measured under Web Connector traffic: threads,
a keep-alive longer than the Web Connector's pauses, a timeout long enough
to parse a large receiveResponseXML. Put a proxy that buffers whole
requests (nginx) in front; it also terminates HTTPS.

``QBWC_LOG_FORMAT=json`` writes the library's lines as one JSON object each
(:class:`~qbwc_spyne.JSONFormatter`), with the call's user, ticket prefix,
job and operation as fields, for a log collector.

.. versionadded:: Unreleased
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "accesslog",
    "errorlog",
    "graceful_timeout",
    "keepalive",
    "logconfig_dict",
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


def _logging(json_lines: bool) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its own two loggers, and the library's.

    gunicorn updates its default configuration with this dict key by key,
    so a key given here replaces gunicorn's whole: its loggers, and with
    JSON its handlers and formatters, are named again.
    """
    config: dict[str, Any] = {
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "qbwc_spyne": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        },
    }
    if json_lines:
        config["formatters"] = {
            "generic": {
                "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
                "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
            },
            "json": {"()": "qbwc_spyne.JSONFormatter"},
        }
        config["handlers"] = {
            name: {"class": "logging.StreamHandler", "formatter": formatter, "stream": stream}
            for name, formatter, stream in (
                ("console", "generic", "ext://sys.stdout"),
                ("error_console", "generic", "ext://sys.stderr"),
                ("json_console", "json", "ext://sys.stderr"),
            )
        }
        config["loggers"]["qbwc_spyne"]["handlers"] = ["json_console"]
    return config


logconfig_dict = _logging(os.environ.get("QBWC_LOG_FORMAT") == "json")
