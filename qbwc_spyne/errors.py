"""Words for the errors QuickBooks and the Web Connector report.

Three kinds of code reach a Web Connector service:

- a qbXML ``statusCode`` on a response (``3140``): QuickBooks ran the request
  and refused it, or warned, or found nothing;
- an HRESULT (``0x80040408``) that the Web Connector passes to
  receiveResponseXML or connectionError when QuickBooks could not run the
  request at all, or could not be opened;
- a ``QBWCnnnn`` number the Web Connector shows in its own dialogs and log
  when it could not talk to the service.

:func:`explain` turns any of them into an :class:`Explanation`: what it means
technically, what a bookkeeper should do about it, and whether trying again
alone can help::

    from qbwc_spyne.errors import explain

    why = explain("0x80040408")
    print(why.title)  # QuickBooks could not be started
    print(why.user)   # steps that fix it, for the person at the QuickBooks PC

Each entry names the public source it rests on; an entry whose meaning could
not be confirmed from one says so (``confirmed=False``). An unknown code never
raises: it gets an explanation built from its range, marked unconfirmed.

This module imports only the standard library, so every layer may use it.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Explanation", "Kind", "catalogue", "describe", "explain"]

#: What kind of code an explanation is for; "unknown" is text that is no code.
Kind = Literal["status", "hresult", "qbwc", "unknown"]


@dataclass(frozen=True, kw_only=True)
class Explanation:
    """What one error code means, for a developer and for a bookkeeper.

    Attributes:
        code: The code in its normal spelling: ``"3120"``, ``"0x80040400"``
            (upper-case hex digits), ``"QBWC1012"``.
        kind: ``"status"`` (a qbXML statusCode), ``"hresult"``, ``"qbwc"``
            (a Web Connector dialog number), or ``"unknown"`` for text that
            is none of these.
        title: A few words naming the problem.
        developer: What it means technically and what usually causes it.
        user: Words a bookkeeper understands, with the steps that fix it.
        retry: Whether trying again, with nothing changed, can help.
        source: The public source the entry rests on (a URL or a document).
        confirmed: False when the meaning could not be confirmed from a
            public source, and for every code the catalogue does not hold.
    """

    code: str
    kind: Kind
    title: str
    developer: str
    user: str
    retry: bool
    source: str
    confirmed: bool


# Sources, named once. The wording of every entry is our own.
_SDK = "QuickBooks SDK Programmer's Guide, chapter 'Status codes' (Intuit, QBSDK 13.0)"
_OSR = (
    "QuickBooks SDK On-Screen Reference"
    " (developer.intuit.com/app/developer/qbdesktop/docs/api-reference)"
)
_SAMPLE = (
    "Intuit's WCWebService C# sample, hresult constants (quoted in johnballantyne/qbws lib/qbws.js)"
)
_QBWS9 = "github.com/johnballantyne/qbws/issues/9"
_PHP240 = "github.com/consolibyte/quickbooks-php/issues/240"
_PHP248 = "github.com/consolibyte/quickbooks-php/issues/248"


def _entry(
    code: str,
    kind: Kind,
    title: str,
    developer: str,
    user: str,
    *,
    retry: bool,
    source: str,
    confirmed: bool = True,
) -> Explanation:
    return Explanation(
        code=code,
        kind=kind,
        title=title,
        developer=developer,
        user=user,
        retry=retry,
        source=source,
        confirmed=confirmed,
    )


_ENTRIES: tuple[Explanation, ...] = (
    # --- qbXML statusCodes -------------------------------------------------
    _entry(
        "1",
        "status",
        "Nothing matched the query",
        "Info: a query ran and found no matching object; the response holds no rows.",
        "QuickBooks has no record that matches what was asked for. Nothing is wrong;"
        " check the name or number if you expected to find one.",
        retry=False,
        source=_SDK,
    ),
    _entry(
        "500",
        "status",
        "Some requested objects were not found",
        "Warn: a query by several names or IDs returned the ones it found;"
        " at least one did not exist.",
        "Some of the records asked for are not in this company file. The others were read."
        " Check the names of the missing ones in QuickBooks.",
        retry=False,
        source=_SDK,
    ),
    _entry(
        "3100",
        "status",
        "The name is already in use",
        "Error: an Add or Mod would give a list element a name another element already has"
        " (names are unique per list, and some lists share one name space).",
        "QuickBooks already has a record with this name. Rename one of them in QuickBooks,"
        " or link the existing record instead of adding a new one.",
        retry=False,
        source=_SDK,
    ),
    _entry(
        "3120",
        "status",
        "The record asked for does not exist",
        "Error: a ListID, TxnID or TxnLineID in the request names no object in this company file"
        " (deleted, or from another company file).",
        "The record this change refers to is no longer in QuickBooks (it may have been deleted),"
        " or belongs to another company file. Check that the right company file is open.",
        retry=False,
        source=_SDK,
    ),
    _entry(
        "3140",
        "status",
        "A reference names nothing",
        "Error: a *Ref (customer, item, account, class, terms...) names a list element that"
        " does not exist, or is inactive, in this company file.",
        "Something this record points to (a customer, item or account) is missing or inactive"
        " in QuickBooks. Add it or make it active in QuickBooks, then retry the job.",
        retry=False,
        source=_SDK,
    ),
    _entry(
        "3200",
        "status",
        "Someone changed the record first",
        "Error: a Mod's EditSequence is out of date; the object changed since it was read.",
        "The record was changed in QuickBooks after it was read. Retry: the change is sent"
        " again with the latest copy.",
        retry=True,
        source=_SDK,
    ),
    # --- HRESULTs -----------------------------------------------------------
    _entry(
        "0x80040400",
        "hresult",
        "QuickBooks could not parse the request",
        "QuickBooks' request processor found an error when parsing the qbXML text"
        " (not well-formed, wrong element order, or a version the request does not fit).",
        "QuickBooks could not read a request this application sent. This is a fault in the"
        " application, not in your data: tell its support team.",
        retry=False,
        source=_SAMPLE,
    ),
    _entry(
        "0x80040408",
        "hresult",
        "QuickBooks could not be started",
        "The request processor could not start QuickBooks: it is not running and may not be"
        " started unattended, or a dialog in QuickBooks blocks it.",
        "Open QuickBooks on the computer that runs the Web Connector, log in to the company"
        " file, and close any open dialog. To sync while QuickBooks is closed, allow this"
        " application to log in automatically (Edit > Preferences > Integrated Applications).",
        retry=True,
        source=_QBWS9,
    ),
    # --- Web Connector dialog numbers --------------------------------------
    _entry(
        "QBWC1012",
        "qbwc",
        "Authentication failed",
        "The Web Connector got no usable SOAP answer to serverVersion, clientVersion or"
        " authenticate: a crash, an empty body, an HTML error page, or a TLS problem.",
        "The Web Connector could not log in to the web service. Check that the service is"
        " running and reachable from this computer, then click Update Selected again.",
        retry=True,
        source=_PHP240,
    ),
    _entry(
        "QBWC1042",
        "qbwc",
        "The service's answer was not well-formed XML",
        "receiveResponseXML's reply could not be parsed: text, a byte-order mark or an error"
        " page came before or instead of the SOAP envelope.",
        "The web service sent the Web Connector an answer it could not read. Tell the"
        " service's support team; the time of the failure helps them find it in their logs.",
        retry=False,
        source=_PHP248,
    ),
)

_BY_CODE = {e.code: e for e in _ENTRIES}

_HEX = re.compile(r"0x([0-9a-f]+)", re.IGNORECASE)
_QBWC = re.compile(r"qbwc[\s_-]*([0-9]+)", re.IGNORECASE)
_INT = re.compile(r"[+-]?[0-9]+")
_U32 = 1 << 32


def _normalise(code: int | str) -> tuple[Kind, str]:
    """The kind of ``code`` and its normal spelling."""
    if isinstance(code, bool):  # a bool is an int to Python, and no code to us
        return "unknown", str(code)
    if isinstance(code, int):
        return _number(code)
    text = str(code).strip()
    if _INT.fullmatch(text):
        return _number(int(text))
    if match := _HEX.fullmatch(text):
        return "hresult", _hex(int(match.group(1), 16))
    if match := _QBWC.fullmatch(text):
        return "qbwc", f"QBWC{int(match.group(1)):04d}"
    return "unknown", text[:80]


def _number(value: int) -> tuple[Kind, str]:
    # A negative number is an HRESULT read as a signed 32-bit int, the way
    # .NET and COM print them (0x80040408 is -2147220472). statusCodes are
    # never negative, and never as large as an unsigned HRESULT.
    if -(1 << 31) <= value < 0:
        return "hresult", _hex(value + _U32)
    if (1 << 31) <= value < _U32:
        return "hresult", _hex(value)
    if value < 0 or value >= _U32:
        return "unknown", str(value)
    return "status", str(value)


def _hex(value: int) -> str:
    return f"0x{value:08X}"


def explain(code: int | str) -> Explanation:
    """Explain an error code from QuickBooks or the Web Connector.

    Args:
        code: A qbXML statusCode (``3140`` or ``"3140"``), an HRESULT as hex
            text (``"0x80040408"``, any case) or as a signed or unsigned
            32-bit int (``-2147220472``), or a Web Connector number
            (``"QBWC1012"``, any case).

    Returns:
        The catalogue's entry for the code, or, for a code it does not
        hold, an explanation built from the code's kind and range, marked
        ``confirmed=False``. Text that is no code gets kind ``"unknown"``.
        Never raises.
    """
    kind, normal = _normalise(code)
    known = _BY_CODE.get(normal)
    if known is not None:
        return known
    return _by_range(kind, normal)


def _by_range(kind: Kind, code: str) -> Explanation:
    """An explanation for a code the catalogue does not hold."""
    if kind == "status":
        value = int(code)
        # qbXML: statusCode 0 is success, 1-499 information, 500-999 a
        # warning, 1000 and up an error (statusSeverity says the same).
        if value == 0:
            return _entry(
                code,
                kind,
                "Success",
                "Status OK: the request ran.",
                "Nothing is wrong.",
                retry=False,
                source=_SDK,
                confirmed=True,
            )
        if value < 500:
            title, developer, user = (
                "Information from QuickBooks",
                f"Info status {code}: the request ran; QuickBooks added a note.",
                "QuickBooks ran the request and added a note; nothing needs fixing.",
            )
        elif value < 1000:
            title, developer, user = (
                "Warning from QuickBooks",
                f"Warn status {code}: the request ran, perhaps not completely.",
                "QuickBooks ran the request but warned about it. Check the record in QuickBooks.",
            )
        else:
            title, developer, user = (
                "QuickBooks refused the request",
                f"Error status {code}: the request did not run; see statusMessage.",
                "QuickBooks refused this change. Read QuickBooks' message above, fix the"
                " record it names in QuickBooks, then retry the job.",
            )
        return _entry(code, kind, title, developer, user, retry=False, source=_SDK, confirmed=False)
    if kind == "hresult":
        return _entry(
            code,
            kind,
            "QuickBooks could not run the request",
            f"HRESULT {code} from the QuickBooks request processor; it is not in this catalogue.",
            "The Web Connector could not get QuickBooks to run the request. Check that"
            " QuickBooks is open on the right company file with no dialog open, then click"
            " Update Selected in the Web Connector.",
            retry=True,
            source=_SAMPLE,
            confirmed=False,
        )
    if kind == "qbwc":
        return _entry(
            code,
            kind,
            "Web Connector error",
            f"Web Connector error {code}; it is not in this catalogue. Its log"
            " (QWCLog.txt) holds the details.",
            "The Web Connector reported a problem. Open its log (the View Log link) and send"
            " the lines around the error to the service's support team.",
            retry=True,
            source="QuickBooks Web Connector log, QWCLog.txt",
            confirmed=False,
        )
    return _entry(
        code,
        kind,
        "Not an error code",
        f"{code!r} is no qbXML statusCode, HRESULT or QBWC number.",
        "This is not a QuickBooks or Web Connector error code. See the message beside it.",
        retry=False,
        source="",
        confirmed=False,
    )


def catalogue() -> list[Explanation]:
    """Every entry the catalogue holds, statusCodes first, then HRESULTs and QBWC numbers.

    Returns:
        A new list; changing it changes nothing here.
    """
    return list(_ENTRIES)


def describe(code: int | str, message: str) -> str:
    """One line for a failure: the code, QuickBooks' message, then the words for people.

    Args:
        code: The code as reported (see :func:`explain`).
        message: The message that came with it (``statusMessage``, or the
            HRESULT's text); may be empty.

    Returns:
        ``"3140: There is an invalid reference ... — <user words>"``; without
        the user words when ``code`` is no QuickBooks or Web Connector code
        (an application's own failure, say).
    """
    why = explain(code)
    if why.kind == "unknown":
        return f"{code}: {message}" if message else str(code)
    return f"{code}: {message or why.title} — {why.user}"
