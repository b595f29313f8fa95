# gunicorn reads a file of this name by default.  # noqa: N999
"""gunicorn settings for a Web Connector endpoint, as measured by bench/bench_gunicorn.py.

Use it with::

    gunicorn -c examples/gunicorn.conf.py 'examples.customer_sync:app'

with nginx (or another proxy that buffers whole requests) in front, which
also terminates HTTPS. Several workers need a shared session store
(``SQLiteSessionStore``); the example reads its path from QBWC_SESSIONS.
"""

from __future__ import annotations

import os

# Behind the proxy, on loopback only.
bind = os.environ.get("QBWC_BIND", "127.0.0.1:8000")

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

# One line per request on standard output; the library's own lines (one
# per session and per job transition, and every error) on standard error.
accesslog = "-"
errorlog = "-"
loglevel = "info"

# gunicorn configures only its own loggers, so without this the library's
# lines reach no handler. It replaces gunicorn's "loggers" whole, hence
# gunicorn's two are named again; its handlers and formats are kept.
logconfig_dict = {
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "qbwc_spyne": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
    },
}

# QBWC_LOG_FORMAT=json: the library's lines as one JSON object each, with
# the call's user, ticket prefix, job and operation as fields, for a log
# collector. Setting "handlers" and "formatters" replaces gunicorn's whole,
# hence its own are named again.
if os.environ.get("QBWC_LOG_FORMAT") == "json":
    logconfig_dict["formatters"] = {
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
        },
        "json": {"()": "qbwc_spyne.JSONFormatter"},
    }
    logconfig_dict["handlers"] = {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stdout",
        },
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stderr",
        },
        "json_console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
    }
    logconfig_dict["loggers"]["qbwc_spyne"]["handlers"] = ["json_console"]
