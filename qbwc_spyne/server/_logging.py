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

Every record of the library's own loggers (``qbwc_spyne`` and below) says
which call it is about: :class:`CallFields` adds ``qbwc_user``,
``qbwc_ticket`` (its first 8 characters: the ticket is the session's only
credential), ``qbwc_job`` and ``qbwc_operation`` from
:func:`~qbwc_spyne.protocol._calls.current_call`, empty outside a call.
:class:`JSONFormatter` writes them as JSON fields. The filter goes on the
library's loggers when this module is imported, which the package's
``__init__`` does first: a process that never builds the server (a
dashboard worker, a web worker sending live requests) has the fields too,
so a formatter naming them works everywhere. Other libraries' records are
left alone.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from ..protocol._calls import current_call

__all__ = [
    "FIELDS",
    "LIMIT",
    "CallFields",
    "JSONFormatter",
    "install_call_fields",
    "install_log_filters",
    "library_logger",
    "redact",
    "shorten",
]

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


#: The fields :class:`CallFields` adds to every record of the library.
FIELDS = ("qbwc_user", "qbwc_ticket", "qbwc_job", "qbwc_operation")

#: Longest user name a record carries, as the session lines print it.
USER_LIMIT = 120

#: The library's loggers: this one and those named below it.
LIBRARY_LOGGER = "qbwc_spyne"


def _user(name: str) -> str:
    """One line of at most :data:`USER_LIMIT` characters (as the session lines show users)."""
    name = " ".join(name.split())
    return name if len(name) <= USER_LIMIT else name[: USER_LIMIT - 3] + "..."


class CallFields(logging.Filter):
    """Adds the call's user, ticket prefix, job and operation to each record.

    Installed on the library's loggers by :func:`install_log_filters`. A
    field the record already has (given with ``extra=``) is kept.

    .. versionadded:: Unreleased
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set the fields from the call being served; never drops a record.

        Args:
            record: the record being logged.

        Returns:
            True.
        """
        call = current_call()
        if call is None:
            values: tuple[str, str, str, str] = ("", "", "", "")
        else:
            job = "" if call.job_id is None else str(call.job_id)
            values = (_user(call.user), call.ticket[:8], job, call.operation)
        for name, value in zip(FIELDS, values, strict=True):
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JSONFormatter(logging.Formatter):
    """Formats each record as one JSON object, the call's fields included.

    Keys: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the
    :data:`FIELDS` (empty for a record outside a call or of another
    library), and ``exception`` when the record carries one. Set it on a
    handler: ``handler.setFormatter(JSONFormatter())``.

    .. versionadded:: Unreleased
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON.

        Args:
            record: the record to format.

        Returns:
            A JSON object on one line (newlines in the text are escaped).
        """
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            entry[name] = getattr(record, name, "")
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_FILTER = _Shorten()
_FIELDS = CallFields()
_SINK = logging.NullHandler()


def install_call_fields() -> None:
    """Put :class:`CallFields` on the ``qbwc_spyne`` logger and each one below it (idempotent).

    Only loggers that exist by then: a logger's filters see only its own
    records, not those its children pass up, so a module that logs on a
    child logger takes it from :func:`library_logger`.
    """
    names = [LIBRARY_LOGGER] + [
        name
        for name in list(logging.Logger.manager.loggerDict)
        if name.startswith(LIBRARY_LOGGER + ".")
    ]
    for name in names:
        log = logging.getLogger(name)
        if _FIELDS not in log.filters:
            log.addFilter(_FIELDS)


def library_logger(name: str) -> logging.Logger:
    """The logger ``name`` (``qbwc_spyne`` or below it), with :class:`CallFields` on it.

    Args:
        name: the logger's name.

    Returns:
        The logger; its records carry the :data:`FIELDS`.
    """
    log = logging.getLogger(name)
    if _FIELDS not in log.filters:
        log.addFilter(_FIELDS)
    return log


def install_log_filters() -> None:
    """Keep spyne's records from the application's handlers; name the call in ours (idempotent)."""
    spyne = logging.getLogger("spyne")
    spyne.propagate = False
    if _SINK not in spyne.handlers:
        spyne.addHandler(_SINK)
    for name in SPYNE_LOGGERS:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
    install_call_fields()
