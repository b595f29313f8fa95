"""Keep passwords and multi-megabyte bodies out of the logs.

spyne logs the whole request when it cannot parse it (at ERROR, on its
``*.invalid`` loggers) and whole documents at DEBUG. A Web Connector body
runs to tens of MB and carries the user's password in authenticate, so
every record of those loggers is shortened and redacted before any handler
sees it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["LIMIT", "install_log_filters", "shorten"]

#: Longest text, in characters, that one logged value may keep.
LIMIT = 500

_PASSWORD = re.compile(r"(<(?:\w+:)?strPassword\b[^>]*>)[^<]*(</)", re.IGNORECASE)
_PASSWORD_BYTES = re.compile(rb"(<(?:\w+:)?strPassword\b[^>]*>)[^<]*(</)", re.IGNORECASE)

# spyne's loggers that may carry request or response text.
SPYNE_LOGGERS = (
    "spyne.application",
    "spyne.application.server",
    "spyne.protocol.soap.soap11",
    "spyne.protocol.soap.soap11.invalid",
    "spyne.protocol.xml",
    "spyne.protocol.xml.invalid",
    "spyne.server.wsgi",
    "spyne.server._base",
    "spyne.server.http",
)


def shorten(value: Any) -> Any:
    """Redact passwords in ``value`` and cut it to :data:`LIMIT` characters."""
    if isinstance(value, bytes):
        value = _PASSWORD_BYTES.sub(rb"\1***\2", value[: LIMIT * 4])
        return value if len(value) <= LIMIT else value[:LIMIT] + b"..."
    if not isinstance(value, str):
        if isinstance(value, int | float | bool) or value is None:
            return value
        value = str(value)
    full = len(value)
    value = _PASSWORD.sub(r"\1***\2", value[: LIMIT * 4])
    return value if full <= LIMIT else f"{value[:LIMIT]}... ({full} characters)"


class _Shorten(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not record.args:
            record.msg = shorten(record.msg)
        elif isinstance(record.args, dict):
            record.args = {key: shorten(arg) for key, arg in record.args.items()}
        elif record.args:
            record.args = tuple(shorten(arg) for arg in record.args)
        return True


_FILTER = _Shorten()


def install_log_filters() -> None:
    """Attach the shortening filter to spyne's loggers (idempotent)."""
    for name in SPYNE_LOGGERS:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
