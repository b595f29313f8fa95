# gunicorn reads a file of this name by default.  # noqa: N999
"""gunicorn settings for the examples: the package's own, bound where QBWC_BIND says.

Use it with::

    gunicorn -c examples/gunicorn.conf.py 'examples.customer_sync:app'

The settings (gthread workers, keep-alive, timeout, and the library's log
lines, as JSON with ``QBWC_LOG_FORMAT=json``) are ``qbwc_spyne.gunicorn``'s,
which an installed package serves as ``gunicorn -c python:qbwc_spyne.gunicorn``.
Several workers need a shared session store (``SQLSessionStore``); the
example reads its path from QBWC_SESSIONS.
"""

from __future__ import annotations

import os

from qbwc_spyne.gunicorn import *  # noqa: F403

# Behind the proxy, on loopback only.
bind = os.environ.get("QBWC_BIND", "127.0.0.1:8000")
