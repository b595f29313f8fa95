"""The QBWCServer reference class's numbered errors, and what QuickBooks answers map to them.

Code ported from the reference class catches its errors by number (201
"Required field unspecified", 805 "The name already exists in
QuickBooks"...). :data:`ERRORS` is the class's table as data, in its
order; :class:`~qbwc_spyne.exceptions.QBWCServerError` carries one of its
codes. Where a qbXML status code or an hresult from the Web Connector means
the same thing as one of the codes, :func:`for_status` and
:func:`for_hresult` give the error, so a handler can raise or report it::

    for result in qbxml.parse_response(event.response):
        error = reference.for_status(result.status_code, result.message)
        if error is not None:
            raise error  # 805 for status 3100, 807 for 3120, ...

.. versionadded:: 0.2.0

.. versionchanged:: Unreleased
   Public as :mod:`qbwc_spyne.reference`; it was ``qbwc_spyne.server_errors``.
"""

from __future__ import annotations

from ..exceptions import QBWCServerError
from ..qbxml import supported_versions

__all__ = [
    "ERRORS",
    "HRESULT_CODES",
    "STATUS_CODES",
    "UNSUPPORTED_VERSION",
    "check_version",
    "error",
    "for_hresult",
    "for_status",
    "message",
]

#: The reference class's errors as (code, message), in the class's order.
#: 899 appears twice in the class's own table, with two messages; both are
#: kept, and :func:`message` gives the first.
ERRORS: tuple[tuple[int, str], ...] = (
    (101, "String too long"),
    (103, "Invalid date format (YYYY-MM-DD is standard)"),
    (104, "Invalid value for enumerated field"),
    (105, "Invalid integer"),
    (106, "Invalid dollar amount"),
    (107, "Invalid boolean value (must be 'true' or 'false')"),
    (108, "Invalid number"),
    (111, "Invalid special characters in string"),
    (112, "Invalid special field syntax"),
    (181, "Could not load certificate file"),
    (201, "Required field unspecified"),
    (211, "Unsupported field specified"),
    (301, "Array line count must be nonnegative"),
    (302, "Array index out of bounds"),
    (303, "Invalid field index"),
    (401, "Field not accessible as a special field"),
    (402, "Write access attempted of readonly field"),
    (403, "Read access attempted of writeonly field"),
    (421, "The object cannot be modified"),
    (511, "The qb_request_id has been previously used. Please generate a new one"),
    (601, "Could not access QuickBooks"),
    (602, "Could not open specified file"),
    (603, "The version of QuickBooks currently being used is not supported"),
    (604, "QuickBooks has not been installed properly"),
    (605, "The specified file was of an incorrect version"),
    (606, "Could not start QuickBooks"),
    (607, "QuickBooks is open in a mode different than the one requested"),
    (608, "QuickBooks cannot currently be accessed"),
    (609, "An application name must be specified"),
    (610, "A file name must be specified if one is not currently open in QuickBooks"),
    (611, "Access denied"),
    (612, "QuickBooks is busy and cannot open your application in the mode requested"),
    (699, "The connection to QuickBooks has failed for an unknown reason"),
    (702, "The object requested does not exist in QuickBooks"),
    (751, "Unsupported QBXML version"),
    (752, "The qbxml_version chosen is insufficient to execute the request"),
    (801, "A QuickBooks internal error has occurred"),
    (802, "QuickBooks is not available due to a system-related problem"),
    (803, "The Id specified is invalid"),
    (804, "Invalid object name"),
    (805, "The name already exists in QuickBooks"),
    (807, "An object could not be found in QuickBooks"),
    (808, "A reference did not refer to an object that exists in QuickBooks"),
    (809, "The object is currently in use by the QuickBooks end user"),
    (810, "The object may not be added"),
    (811, "The object may not be updated because it is obsolete"),
    (812, "The address is invalid"),
    (813, "Permission to perform this operation is not granted"),
    (814, "The request has not been processed"),
    (815, "Time creation mismatch"),
    (816, "The feature is turned off or not enabled"),
    (817, "Permission level configured is insufficient for access"),
    (818, "The item specified was of an unknown type"),
    (819, "The object may not be changed"),
    (820, "An internal QuickBooks error has occurred"),
    (821, "An attempt was made to use a connection that was not properly initiated"),
    (822, "An attempt was made to use a connection that is invalid or was previously closed"),
    (823, "Not enough memory"),
    (
        824,
        "Unable to lock the necessary information to allow this application access to the "
        "company file. Try again later",
    ),
    (
        850,
        "An older version of QuickBooks 2002 is being used. Please download the latest "
        "update from Intuit",
    ),
    (
        851,
        "The QuickBooks request processor was not found. Check that QuickBooks Pro 2002 or "
        "higher is installed on your system",
    ),
    (861, "Server error on WebExport (details follow)"),
    (862, "The WebExport is impossible: an HTTP context was not found"),
    (871, "You may not set the value of QBConnectionTicket. This value is readonly"),
    (880, "Interrupted by the user"),
    (881, "An error has occurred connecting to a remote machine"),
    (899, "An unknown QuickBooks error has occurred. The message contains more details"),
    (901, "XML Parser Error. Should not occur under normal circumstances"),
    (899, "An XML or other QuickBooks error has occurred"),
)

# Reversed, so that the first of 899's two rows is the one kept.
_MESSAGES: dict[int, str] = dict(reversed(ERRORS))

#: qbXML statusCode -> the reference class's code for the same condition.
STATUS_CODES: dict[int, int] = {
    3100: 805,  # "The name ... of the list element is already in use."
    3120: 807,  # "Object ... specified in the request cannot be found."
    3140: 808,  # "There is an invalid reference to ... in the request."
    3200: 811,  # "The provided edit sequence ... is out-of-date."
}

#: hresult the Web Connector reports -> the reference class's code.
HRESULT_CODES: dict[int, int] = {
    0x80040408: 606,  # "Could not start QuickBooks."
}

#: The code for a qbXML version the company file does not support.
UNSUPPORTED_VERSION = 751


def message(code: int) -> str:
    """The reference class's message for ``code``.

    Raises:
        KeyError: ``code`` is not in :data:`ERRORS`.
    """
    return _MESSAGES[code]


def error(code: int, detail: str = "", *, field: str = "") -> QBWCServerError:
    """Build the error numbered ``code``, its message followed by ``detail``.

    Args:
        code: a code of :data:`ERRORS`.
        detail: the specifics, appended after a colon.
        field: the property or setting at fault, if any.

    Returns:
        The exception, to raise or to report.

    Raises:
        KeyError: ``code`` is not in :data:`ERRORS`.
    """
    text = message(code)
    return QBWCServerError(code=code, message=f"{text}: {detail}" if detail else text, field=field)


def for_status(status_code: int, detail: str = "") -> QBWCServerError | None:
    """The error for a qbXML ``statusCode``, or None when none corresponds.

    Args:
        status_code: a response's statusCode, e.g. 3100.
        detail: QuickBooks' statusMessage, kept in the error's message.
    """
    code = STATUS_CODES.get(status_code)
    return None if code is None else error(code, detail)


def _hresult(value: int | str) -> int | None:
    """An hresult as an unsigned 32-bit number: "0x80040408", "-2147220472" or an int."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text, 16) if text[:2].lower() == "0x" else int(text)
        except ValueError:
            return None
    if not -(2**31) <= value < 2**32:
        return None
    return value & 0xFFFFFFFF


def for_hresult(hresult: int | str, detail: str = "") -> QBWCServerError | None:
    """The error for an hresult the Web Connector reported, or None when none corresponds.

    Args:
        hresult: as in ``ReceiveResponseEvent.error_code`` or
            ``ConnectionErrorEvent.error_code`` ("0x80040408"), in decimal
            (signed or not), or an int.
        detail: the Web Connector's message, kept in the error's message.
    """
    number = _hresult(hresult)
    code = None if number is None else HRESULT_CODES.get(number)
    return None if code is None else error(code, detail)


def check_version(version: str, host_response: str) -> None:
    """Refuse a qbXML version the company file does not support (error 751).

    Args:
        version: the version a request is to be built with, e.g. "13.0".
        host_response: the HostQuery response (``SendRequestEvent.host_response``).

    Raises:
        QBWCServerError: code 751, naming the version and those supported.
    """
    supported = supported_versions(host_response)
    if version not in supported:
        raise error(
            UNSUPPORTED_VERSION,
            f"{version} (the company file supports {', '.join(supported) or 'none listed'})",
        )
