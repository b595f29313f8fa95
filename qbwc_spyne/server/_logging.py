"""Keep passwords and multi-megabyte bodies out of the logs.

spyne logs the whole request when it cannot parse it (at ERROR, on its
``*.invalid`` loggers), whole documents at DEBUG, and exceptions that may
quote the input. A Web Connector body runs to tens of MB and carries the
user's password in authenticate, and a body cut off, or a password in
CDATA, defeats any redaction that waits for a closing tag.

So spyne's records never reach the application's handlers at all: the
``spyne`` logger stops propagating (its records end in a
:class:`logging.NullHandler`). The server logs every refusal and fault
itself, as one line with the operation, the size and the error, never the
body. In case a handler is attached to one of spyne's loggers directly,
those loggers also shorten and redact what they pass on.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["LIMIT", "install_log_filters", "redact", "shorten"]

#: Longest text, in characters, that one logged value may keep.
LIMIT = 500

# From the password element's opening to the end of the text: whatever
# follows it (a cut, CDATA, a comment, the closing tag) may hold the password,
# and what follows in an authenticate body is only closing tags.
_PASSWORD = re.compile(r"<(?:[\w.-]+:)?strPassword\b.*", re.IGNORECASE | re.DOTALL)

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


def redact(text: str) -> str:
    """Replace everything from a ``<strPassword`` element to the end of ``text``.

    Args:
        text: log text that may quote an authenticate body.

    Returns:
        ``text`` up to the password element, then ``<strPassword>***``.
    """
    return _PASSWORD.sub("<strPassword>***", text)


def shorten(value: Any) -> Any:
    """Redact passwords in ``value`` and cut it to :data:`LIMIT` characters.

    Bytes become text (NUL bytes dropped, so that UTF-16 text is redacted too).
    """
    if isinstance(value, bytes | bytearray):
        value = bytes(value[: LIMIT * 8]).replace(b"\x00", b"").decode("utf-8", "replace")
    elif not isinstance(value, str):
        if isinstance(value, int | float | bool) or value is None:
            return value
        value = str(value)
    full = len(value)
    value = redact(value[: LIMIT * 4])
    return (
        value
        if full <= LIMIT and len(value) <= LIMIT
        else f"{value[:LIMIT]}... ({full} characters)"
    )


class _Shorten(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not record.args:
            record.msg = shorten(record.msg)
        elif isinstance(record.args, dict):
            record.args = {key: shorten(arg) for key, arg in record.args.items()}
        else:
            record.args = tuple(shorten(arg) for arg in record.args)
        # A traceback may quote the input too: keep only the exception's type.
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg} [{type(record.exc_info[1]).__name__}]"
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = _Shorten()
_SINK = logging.NullHandler()


def install_log_filters() -> None:
    """Keep spyne's records from the application's handlers (idempotent)."""
    spyne = logging.getLogger("spyne")
    spyne.propagate = False
    if _SINK not in spyne.handlers:
        spyne.addHandler(_SINK)
    for name in SPYNE_LOGGERS:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
