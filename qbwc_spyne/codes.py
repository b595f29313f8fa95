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
alone can help:

.. code-block:: python

    from qbwc_spyne.codes import explain

    why = explain("0x80040408")
    print(why.title)  # QuickBooks could not be started
    print(why.user)   # steps that fix it, for the person at the QuickBooks PC

Each entry names the public source it rests on; an entry whose meaning could
not be confirmed from one says so (``confirmed=False``). An unknown code never
raises: it gets an explanation built from its range, marked unconfirmed.

This module imports only the standard library, so every layer may use it.

.. versionadded:: 0.2.0

.. versionchanged:: Unreleased
   Named ``qbwc_spyne.codes``. It was ``qbwc_spyne.errors``, a name that
   read as exceptions; the old name still imports, deprecated.
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


# Sources, named once: each entry's ``source`` says where its meaning was
# read. The wording of every entry is our own.
_STATUS_TABLE = (
    "Intuit, QuickBooks Desktop SDK, 'Status codes in response messages'"
    " (developer.intuit.com/app/developer/qbdesktop/docs/develop/"
    "exploring-the-quickbooks-desktop-sdk/status-codes-in-response-messages)"
)
_OSR = "Intuit, QuickBooks SDK On-Screen Reference, QBD-errorcodes.html"
_RANGES = f"{_OSR} (statusCode ranges)"
_CAPTURE = (
    "a real QuickBooks response kept as test data in github.com/qbwc/qbwc test/test_helper.rb"
)
_INTERWEAVE = (
    "interweave.freshdesk.com/support/solutions/articles/62000237220"
    " (an integration vendor's table of QuickBooks status codes)"
)
_AYS = "ayssoftware.com/aysguide/resolvingquickbooksexporterrors.htm (statusMessages quoted)"
_ROBUST = (
    "Intuit, QuickBooks Desktop SDK, 'Making your application robust'"
    " (developer.intuit.com/app/developer/qbdesktop/docs/go-live/making-your-application-robust)"
)
_SAMPLE = (
    "Intuit's WCWebService C# sample, hresult constants"
    " (quoted in github.com/johnballantyne/qbws lib/qbws.js)"
)
_RP_TEXTS = (
    "the request processor's message for this HRESULT as quoted by public Web Connector"
    f" integration code (a PHP error handler); Intuit's own table is in {_OSR}"
)
_NOT_FOUND = "no public source found that states this code's meaning"


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


_STATUSES: tuple[Explanation, ...] = (
    _entry(
        "0",
        "status",
        "Success",
        "Status OK: the request ran.",
        "Nothing is wrong.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "1",
        "status",
        "Nothing matched the query",
        "Info: a query ran and its filters matched no object; the response holds no rows.",
        "QuickBooks has no record that matches what was asked for. Nothing is wrong; if you"
        " expected one, check its name or number in QuickBooks.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "500",
        "status",
        "Some requested records were not found",
        "Warn: a query by several names or IDs returned those it found; at least one named"
        " element does not exist.",
        "Some of the records asked for are not in this company file; the others were read."
        " Check the missing names in QuickBooks.",
        retry=False,
        source=f"{_STATUS_TABLE}; {_CAPTURE}",
    ),
    _entry(
        "501",
        "status",
        "Record not shown in this qbXML version",
        "Warn: an object cannot be represented in the qbXML version the request declared.",
        "QuickBooks holds a record this application's version of the connection cannot show."
        " Tell the application's support team; a newer qbXML version may be needed.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "510",
        "status",
        "A record could not be returned",
        "Warn: QuickBooks was unable to return an object the query matched.",
        "QuickBooks could not hand over one of the records asked for. Open it in QuickBooks"
        " to check it is intact; run File > Utilities > Verify Data if unsure.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "530",
        "status",
        "A field is not supported here",
        "Warn: a field in the request is not supported by this QuickBooks edition or"
        " country version; it was ignored.",
        "This edition of QuickBooks does not keep one of the details sent; the rest was"
        " saved. Check the record in QuickBooks.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "531",
        "status",
        "A choice is not supported here",
        "Warn: an enumerated value in the request is not supported by this QuickBooks"
        " edition or country version.",
        "One of the options sent is not available in this edition of QuickBooks; the rest"
        " was saved. Check the record in QuickBooks.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "550",
        "status",
        "Record saved, notes not saved",
        "Warn: the object was saved but its Notes record could not be.",
        "The record was saved in QuickBooks but its notes were not. Add the notes by hand"
        " in QuickBooks if you need them.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "560",
        "status",
        "Deprecated field used",
        "Warn: the request used a field Intuit no longer recommends; it still works.",
        "Nothing to do: the record was saved. The application's developers have been told"
        " to update it.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "570",
        "status",
        "Cannot link to a closed transaction",
        "Warn: the link to another transaction was not made because that transaction is"
        " already closed.",
        "The record was saved, but not linked to the transaction it names, because that"
        " transaction is already closed (for example, fully paid). Link it by hand if needed.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "600",
        "status",
        "No cleared state to return",
        "Warn: error recovery found no cleared state for the request.",
        "QuickBooks had nothing to report for an earlier request. Nothing needs doing.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "1000",
        "status",
        "QuickBooks internal error",
        "Error: QuickBooks hit an internal error processing the request; nothing was done.",
        "QuickBooks had an internal problem and did nothing. Try again; if it keeps"
        " happening, restart QuickBooks and run File > Utilities > Verify Data.",
        retry=True,
        source=_STATUS_TABLE,
    ),
    _entry(
        "1010",
        "status",
        "QuickBooks not available",
        "Error: the system was not available to process the request.",
        "QuickBooks was busy or unavailable. It usually clears by itself: the next update"
        " tries again.",
        retry=True,
        source=_STATUS_TABLE,
    ),
    _entry(
        "1030",
        "status",
        "Request not supported",
        "Error: this QuickBooks edition or version does not support the request type.",
        "Your edition or version of QuickBooks cannot do what was asked. Update QuickBooks,"
        " or ask the application's support which editions it works with.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "1060",
        "status",
        "Invalid requestID",
        "Error: the requestID attribute is invalid, probably over 50 characters.",
        "The application sent QuickBooks a malformed request. Tell its support team.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "3000",
        "status",
        "Invalid record ID",
        "Error: an object ID (ListID, TxnID) in the request is not a valid ID for this"
        " company file.",
        "The QuickBooks ID this application holds for a record is not valid in the open"
        " company file. Check that the right company file is open; if so, tell support.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "3010",
        "status",
        "Invalid yes/no value",
        "Error: a boolean field holds a value QuickBooks could not convert.",
        "The application sent a yes/no value QuickBooks could not read. Tell its support team.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "3020",
        "status",
        "Invalid date",
        "Error: a date field holds a value QuickBooks could not convert.",
        "A date in this record is not a real date (for example, month 13). Correct it where"
        " the record comes from, then retry the job.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "3030",
        "status",
        "Invalid date range",
        "Error: a date filter's From date is after its To date.",
        "A date range was asked for that ends before it starts. Correct the dates and try again.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "3031",
        "status",
        "Invalid text range",
        "Error: the From or To value of a name or number range filter is invalid.",
        "A range of names or numbers was asked for that QuickBooks cannot use. Correct it"
        " and try again.",
        retry=False,
        source=_STATUS_TABLE,
    ),
    _entry(
        "3070",
        "status",
        "Text too long",
        "Error: a string is longer than its field's maximum length; the request did not run.",
        "A piece of text (a name, an address line, a memo) is longer than QuickBooks allows."
        " Shorten it where the record comes from, then retry the job.",
        retry=False,
        source="statusMessage of the SDK's 3070 as reproduced by qbwc_spyne.testing;"
        " the stored copies of Intuit's table end before 3070",
        confirmed=False,
    ),
    _entry(
        "3100",
        "status",
        "The name is already in use",
        "Error: an Add or Mod would give a list element a name another element already has"
        " (some lists, such as customers, vendors and employees, share names).",
        "QuickBooks already has a record with this name, perhaps in another list. Rename one"
        " of them in QuickBooks, or link the existing one instead of adding a new one.",
        retry=False,
        source=f"{_STATUS_TABLE}; {_INTERWEAVE}",
    ),
    _entry(
        "3120",
        "status",
        "The record asked for does not exist",
        "Error: a ListID, TxnID or TxnLineID in the request names no object in this"
        " company file (deleted, or from another file).",
        "The record this change refers to is no longer in QuickBooks (it may have been"
        " deleted), or belongs to another company file. Check the right file is open.",
        retry=False,
        source=f"{_CAPTURE}; {_INTERWEAVE}",
    ),
    _entry(
        "3140",
        "status",
        "A reference names nothing",
        "Error: a *Ref (customer, item, account, class, terms...) names a list element that"
        " does not exist, or is inactive, in this company file.",
        "Something this record points to (a customer, item or account) is missing or"
        " inactive in QuickBooks. Add it or make it active in QuickBooks, then retry the job.",
        retry=False,
        source=f"{_AYS}; {_INTERWEAVE}",
    ),
    _entry(
        "3170",
        "status",
        "QuickBooks refused the change",
        "Error: an error when modifying an object; QuickBooks' own reason follows in the"
        " statusMessage (often the record is open for editing in QuickBooks).",
        "QuickBooks would not change this record; its message says why. If someone has the"
        " record open in QuickBooks, close it there, then retry the job.",
        retry=True,
        source=_INTERWEAVE,
    ),
    _entry(
        "3171",
        "status",
        "The closing date protects this period",
        "Error: the transaction is dated on or before the company's closing date, and a"
        " closing-date password protects that period.",
        "This transaction falls in a closed accounting period. Date it after the closing"
        " date, or have the QuickBooks administrator change the closing-date settings"
        " (Edit > Preferences > Accounting > Company Preferences), then retry the job.",
        retry=False,
        source=_AYS,
    ),
    _entry(
        "3175",
        "status",
        "The record is locked",
        "Error (meaning not confirmed): QuickBooks could not lock the object to change it,"
        " usually because a user has it open.",
        "Someone may have this record open in QuickBooks. Close it there; the job can then"
        " be retried.",
        retry=True,
        source=_NOT_FOUND,
        confirmed=False,
    ),
    _entry(
        "3176",
        "status",
        "The record is in use",
        "Error (meaning not confirmed): the object is in use by a QuickBooks user and"
        " cannot be changed now.",
        "Someone may be working on this record in QuickBooks. Close it there; the job can"
        " then be retried.",
        retry=True,
        source=_NOT_FOUND,
        confirmed=False,
    ),
    _entry(
        "3180",
        "status",
        "QuickBooks could not save the record",
        "Error: an error when saving an object; QuickBooks' own reason follows in the"
        " statusMessage (a credit limit, a blank name, a required field...).",
        "QuickBooks would not save this record; its message says why. Fix what it names"
        " in QuickBooks or in the source record, then retry the job.",
        retry=False,
        source=_AYS,
    ),
    _entry(
        "3200",
        "status",
        "Someone changed the record first",
        "Error: a Mod's EditSequence is out of date: the object changed after it was read.",
        "The record was changed in QuickBooks after this application read it. The change"
        " must be made again from a fresh copy of the record; if it keeps happening, tell"
        " support.",
        retry=False,
        source="qbXML responses in public integration test data"
        " ('The provided edit sequence ... is out-of-date.')",
    ),
    _entry(
        "3210",
        "status",
        "A value breaks a QuickBooks rule",
        "Error: a field holds a value QuickBooks refused; its statusMessage names the field"
        " and QuickBooks' reason (for example, paying more than the amount due).",
        "QuickBooks refused one of the values in this record; its message names the field"
        " and the reason. Correct the value, then retry the job.",
        retry=False,
        source="github.com/consolibyte/quickbooks-php test data"
        " (ReceivePaymentAddRs statusCode 3210)",
    ),
    _entry(
        "3231",
        "status",
        "Request not processed",
        "Error: the request was not run because an earlier request in the same document"
        " failed (onError stopped the batch).",
        "This change was not attempted because another change sent with it failed. Fix that"
        " one; this one can then be retried as it is.",
        retry=True,
        source="public qbXML integration code quoting a SalesOrderAddRs 3231 response",
    ),
    _entry(
        "3250",
        "status",
        "Feature not turned on",
        "Error: the request uses a feature that is turned off or unavailable in this"
        " company file or edition (multiple currencies, inventory, classes...).",
        "This record needs a QuickBooks feature that is turned off in this company file."
        " Turn it on in Edit > Preferences (or ask the administrator), then retry the job.",
        retry=False,
        source=_INTERWEAVE,
    ),
    _entry(
        "3260",
        "status",
        "Not enough permission",
        "Error: the QuickBooks user the application logs in as lacks permission for this"
        " operation.",
        "The QuickBooks user this application works as may not do this. Have the"
        " administrator give it more rights (Company > Users), or set it to log in as an"
        " administrator in Edit > Preferences > Integrated Applications.",
        retry=False,
        source=_INTERWEAVE,
    ),
    _entry(
        "3391",
        "status",
        "The query's iterator is no longer valid",
        "Error (meaning not confirmed): an iteratorID that is unknown, used up, or continued"
        " with other criteria; the query must start again.",
        "A long list was being read in pages and QuickBooks lost its place (the session"
        " that held it ended, or it expired). Nothing was changed; a queued job starts the"
        " read again at the next update, a live list must be asked for again.",
        retry=True,
        source="the SDK iterator walkthrough says asking again after the last page is an"
        f" error; the code itself: {_NOT_FOUND}",
        confirmed=False,
    ),
)

_HRESULTS: tuple[Explanation, ...] = (
    _entry(
        "0x80040400",
        "hresult",
        "QuickBooks could not parse the request",
        "The request processor found an error parsing the qbXML text (not well-formed, wrong"
        " element order, or not valid for the declared version); nothing ran.",
        "QuickBooks could not read a request this application sent. This is a fault in the"
        " application, not in your data: tell its support team.",
        retry=False,
        source=_SAMPLE,
    ),
    _entry(
        "0x80040401",
        "hresult",
        "Could not access QuickBooks",
        "The request processor could not reach QuickBooks at all (an incomplete install,"
        " or QuickBooks and the Web Connector running as different Windows users).",
        "The Web Connector could not reach QuickBooks. Make sure QuickBooks is installed and"
        " opens normally, and that it and the Web Connector run as the same Windows user"
        " (both as administrator, or neither), then click Update Selected.",
        retry=True,
        source=_SAMPLE,
    ),
    _entry(
        "0x80040402",
        "hresult",
        "Unexpected QuickBooks error",
        "An unexpected error in the request processor; qbsdklog.txt on the QuickBooks"
        " computer holds the details.",
        "QuickBooks reported an unexpected problem. Try again; if it repeats, send the file"
        " qbsdklog.txt from the QuickBooks computer to the application's support team.",
        retry=True,
        source=_SAMPLE,
    ),
    _entry(
        "0x80040408",
        "hresult",
        "QuickBooks could not be started",
        "The request processor could not start QuickBooks: it is not running and may not be"
        " started unattended, or a dialog or another user blocks it.",
        "Open QuickBooks on the computer that runs the Web Connector, log in to the company"
        " file, and close any open window or message. To sync while QuickBooks is closed,"
        " allow this application to log in automatically (Edit > Preferences > Integrated"
        " Applications).",
        retry=False,
        source="github.com/johnballantyne/qbws/issues/9; docs.qubesync.com/error_handling",
    ),
    _entry(
        "0x8004040A",
        "hresult",
        "QuickBooks is open on another company file",
        "A company file is already open in QuickBooks and it is not the one the Web"
        " Connector asked for.",
        "QuickBooks is open on another company file. Open the company file this application"
        " syncs with, or change the company file in the Web Connector, then click Update"
        " Selected.",
        retry=False,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x8004040D",
        "hresult",
        "The QuickBooks session was lost",
        "The ticket passed to the request processor is invalid: the QuickBooks session ended"
        " (QuickBooks closed or restarted) in the middle of the update.",
        "The connection to QuickBooks dropped during the update, perhaps because QuickBooks"
        " was closed. Keep QuickBooks open and click Update Selected again.",
        retry=True,
        source="github.com/consolibyte/quickbooks-php QuickBooks/Callbacks/SQL/Errors.php",
    ),
    _entry(
        "0x80040410",
        "hresult",
        "Company file open in the wrong mode",
        "The company file is open in a mode (single-user or multi-user) other than the one"
        " the application asked for.",
        "The company file is open in single-user or multi-user mode, and this application"
        " needs the other. Switch mode from the File menu in QuickBooks, then click Update"
        " Selected.",
        retry=False,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x80040414",
        "hresult",
        "A QuickBooks window is waiting for an answer",
        "A modal dialog is showing in QuickBooks; no application can use QuickBooks until a"
        " user dismisses it.",
        "A message or window is open in QuickBooks and waiting for someone. Go to the"
        " QuickBooks computer, answer or close it, then click Update Selected.",
        retry=False,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x80040416",
        "hresult",
        "QuickBooks is closed and no company file was named",
        "QuickBooks is not running, so BeginSession needs a company file path, and none was given.",
        "QuickBooks is closed and the Web Connector does not know which company file to open."
        " Open QuickBooks on the right company file, then click Update Selected.",
        retry=False,
        source=_ROBUST,
    ),
    _entry(
        "0x80040417",
        "hresult",
        "No company file is open",
        "QuickBooks is running with no company file open, and no file path was given"
        " (meaning from a code comment, not from Intuit).",
        "QuickBooks is open but no company file is. Open the company file this application"
        " syncs with, then click Update Selected.",
        retry=False,
        source="a comment in public QuickBooks SDK integration code",
        confirmed=False,
    ),
    _entry(
        "0x80040418",
        "hresult",
        "The application was never allowed into this company file",
        "First contact: this application never had access to this company file, and"
        " first access can only be granted by the QuickBooks administrator.",
        "This application has not been allowed into this company file yet. Open the file in"
        " QuickBooks as Admin in single-user mode, click Update Selected in the Web"
        " Connector, and answer Yes to QuickBooks' certificate question.",
        retry=False,
        source="seradex.com/Help/granting_orderstream_access_to.htm",
    ),
    _entry(
        "0x8004041A",
        "hresult",
        "The application has no permission",
        "Access refused: the Integrated Applications preferences of this company file do"
        " not let the application in.",
        "QuickBooks does not allow this application into this company file. As Admin, open"
        " Edit > Preferences > Integrated Applications > Company Preferences and tick it.",
        retry=False,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x8004041B",
        "hresult",
        "QuickBooks could not lock the company file",
        "QuickBooks could not take the locks it needs to open the file to the application;"
        " usually passing.",
        "QuickBooks was busy with the company file. It usually clears by itself: the next"
        " update tries again.",
        retry=True,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x8004041C",
        "hresult",
        "QuickBooks failed opening the company file",
        "An internal QuickBooks error occurred while accessing the company file.",
        "QuickBooks had a problem opening the company file. Try again; if it repeats, open"
        " the file in QuickBooks and run File > Utilities > Verify Data.",
        retry=True,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x8004041D",
        "hresult",
        "Automatic login not allowed",
        "The application may not log in to this company file automatically (while"
        " QuickBooks is closed); the administrator grants it per application.",
        "This application may not open QuickBooks by itself. As Admin, in Edit > Preferences"
        " > Integrated Applications > Company Preferences, select it, click Properties and"
        " tick 'Allow this application to login automatically'. Or keep QuickBooks open.",
        retry=False,
        source="help.smartvault.com/hc/en-us/articles/360051274613",
    ),
    _entry(
        "0x8004041E",
        "hresult",
        "The application's certificate expired",
        "The application's certificate has expired; unattended login is refused until a"
        " logged-in user approves the application again.",
        "QuickBooks needs you to approve this application again. Log in to QuickBooks, click"
        " Update Selected in the Web Connector and choose to always allow it.",
        retry=False,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x8004041F",
        "hresult",
        "This QuickBooks edition cannot take requests",
        "The edition (QuickBooks Basic) takes no qbXML at all; the SDK needs Pro, Premier"
        " or Enterprise.",
        "This edition of QuickBooks cannot work with other applications. QuickBooks Pro,"
        " Premier or Enterprise is needed.",
        retry=False,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x80040420",
        "hresult",
        "Access was denied in QuickBooks",
        "The QuickBooks user denied the application access, or its access was revoked.",
        "Someone refused this application access in QuickBooks. As Admin, open Edit >"
        " Preferences > Integrated Applications > Company Preferences, allow it (and, to"
        " sync unattended, tick automatic login in its Properties), then retry.",
        retry=False,
        source="docs.conductor.is/api-ref/errors",
    ),
    _entry(
        "0x80040422",
        "hresult",
        "Another application is using the company file",
        "The application asked for the file alone (single-user), and another integrated"
        " application is already connected to it.",
        "Another program is working with this company file right now. Wait for it to finish"
        " or close it; the next update tries again.",
        retry=True,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x80040423",
        "hresult",
        "qbXML version not supported",
        "The qbXML version requested is unknown to or unsupported by this QuickBooks.",
        "This QuickBooks is too old for the way this application talks to it. Update"
        " QuickBooks (Help > Update QuickBooks), or tell the application's support team.",
        retry=False,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x80040424",
        "hresult",
        "QuickBooks is still starting",
        "QuickBooks was still initialising when the request processor connected; passing.",
        "QuickBooks was still starting up. Nothing to do: the next update tries again.",
        retry=True,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x80040427",
        "hresult",
        "QuickBooks is not registered",
        "This copy of QuickBooks is unregistered, so it refuses integrated applications.",
        "This copy of QuickBooks has not been registered. Register it (Help > Register"
        " QuickBooks), then click Update Selected.",
        retry=False,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x8004042A",
        "hresult",
        "Remote access not allowed",
        "The request processor refuses remote access to this QuickBooks.",
        "QuickBooks does not allow this kind of remote connection. Run the Web Connector on"
        " the same computer as QuickBooks.",
        retry=False,
        source=_RP_TEXTS,
    ),
    _entry(
        "0x80040430",
        "hresult",
        "Automatic login failed",
        "The application could not log in to the company file automatically; the"
        " administrator's permission is missing or must be granted again.",
        "This application could not open the company file by itself. As Admin, in Edit >"
        " Preferences > Integrated Applications, remove and grant its automatic login"
        " permission again, or keep QuickBooks open while it syncs.",
        retry=False,
        source="help.smartvault.com/hc/en-us/articles/360051274613",
    ),
)

_QBWC_DIALOGS: tuple[Explanation, ...] = (
    _entry(
        "QBWC1012",
        "qbwc",
        "Authentication failed",
        "The Web Connector got no usable SOAP answer to serverVersion, clientVersion or"
        " authenticate: a crash, an empty body, an HTML error page, or a TLS problem.",
        "The Web Connector could not log in to the web service. Check that the service is"
        " running and reachable from this computer, then click Update Selected again.",
        retry=True,
        source="github.com/consolibyte/quickbooks-php/issues/240",
    ),
    _entry(
        "QBWC1013",
        "qbwc",
        "Cannot reach the web service",
        "Meaning not confirmed: reported as an error connecting to the web service (DNS,"
        " refused connection, timeout) before any SOAP answer.",
        "The Web Connector could not reach the web service. Check this computer's internet"
        " connection and that the service's address still works, then try again.",
        retry=True,
        source=_NOT_FOUND,
        confirmed=False,
    ),
    _entry(
        "QBWC1016",
        "qbwc",
        "Web Connector error",
        "Meaning not confirmed; the Web Connector's log (QWCLog.txt) holds the details.",
        "The Web Connector reported a problem. Open its log (View Log) and send the lines"
        " around the error to the service's support team.",
        retry=True,
        source=_NOT_FOUND,
        confirmed=False,
    ),
    _entry(
        "QBWC1039",
        "qbwc",
        "The application could not be added",
        "Raised while importing a QWC file: the OwnerID/FileID pair is already stamped on"
        " the company file, the AppName is taken, or the AppURL is not HTTPS (localhost"
        " aside).",
        "The Web Connector refused the application file. If it was added before, remove the"
        " old entry in the Web Connector first; otherwise ask the service for a new file.",
        retry=False,
        source="fixhub-guides.pages.dev/blog/qbwc1039-unique-ownerid-fileid-pair-fix;"
        " title of github.com/Expensify/App pull request 90785",
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
        source="github.com/consolibyte/quickbooks-php/issues/248",
    ),
    _entry(
        "QBWC1048",
        "qbwc",
        "Could not connect securely",
        "Meaning not confirmed: a certificate or connection problem with the web"
        " application's HTTPS endpoint.",
        "The Web Connector could not make a secure connection to the service. Check this"
        " computer's date and time, then tell the service's support team.",
        retry=False,
        source=_NOT_FOUND,
        confirmed=False,
    ),
    _entry(
        "QBWC1085",
        "qbwc",
        "The Web Connector could not write its log",
        "Meaning not confirmed: the Web Connector could not write its log file (QWCLog.txt);"
        " not caused by the web service.",
        "The Web Connector's own log file is damaged or locked. Close the Web Connector,"
        " rename QWCLog.txt in its folder, and start it again.",
        retry=False,
        source=_NOT_FOUND,
        confirmed=False,
    ),
)

_ENTRIES = _STATUSES + _HRESULTS + _QBWC_DIALOGS

_BY_CODE = {e.code: e for e in _ENTRIES}

_HEX = re.compile(r"0x([0-9a-f]{1,8})", re.IGNORECASE | re.ASCII)
_QBWC = re.compile(r"qbwc[ _-]*([0-9]{1,6})", re.IGNORECASE | re.ASCII)
_INT = re.compile(r"[+-]?[0-9]{1,12}", re.ASCII)
_U32 = 1 << 32


def _normalise(code: int | str) -> tuple[Kind, str]:
    """The kind of ``code`` and its normal spelling.

    The patterns bound the number of digits, so no text, however long,
    reaches ``int()`` with more digits than a code has.
    """
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
    # .NET and COM print them (0x80040408 is -2147220472); so is one at or
    # above 2**31, read unsigned. statusCodes are never that large.
    if -(1 << 31) <= value < 0:
        return "hresult", _hex(value + _U32)
    if (1 << 31) <= value < _U32:
        return "hresult", _hex(value)
    if 0 <= value < (1 << 31):
        return "status", str(value)
    return "unknown", str(value)


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
    """An explanation for a code the catalogue does not hold, from its kind and range."""
    if kind == "status":
        # The SDK's ranges: 0-499 information, 500-999 a warning (the request
        # ran), 1000 and up an error (nothing ran). statusSeverity agrees.
        value = int(code)
        if value < 500:
            title, developer, user = (
                "Information from QuickBooks",
                f"Info status {code}: the request ran; QuickBooks added a note.",
                "QuickBooks did what was asked and added a note; nothing needs fixing.",
            )
        elif value < 1000:
            title, developer, user = (
                "Warning from QuickBooks",
                f"Warn status {code}: the request ran, perhaps not wholly as asked.",
                "QuickBooks did what was asked but warned about it. Check the record in"
                " QuickBooks.",
            )
        else:
            title, developer, user = (
                "QuickBooks refused the request",
                f"Error status {code}: {_error_range(value)}; nothing ran, and"
                " statusMessage says why.",
                "QuickBooks refused this change; its message says why. Fix what it names,"
                " in QuickBooks or where the record comes from, then retry the job.",
            )
        return _entry(
            code, kind, title, developer, user, retry=False, source=_RANGES, confirmed=False
        )
    if kind == "hresult":
        return _entry(
            code,
            kind,
            "QuickBooks could not run the request",
            f"HRESULT {code} from the QuickBooks request processor; this catalogue does not"
            " hold it. qbsdklog.txt on the QuickBooks computer may say more.",
            "The Web Connector could not get QuickBooks to do what was asked. Check that"
            " QuickBooks is open on the right company file with no window waiting for an"
            " answer, then click Update Selected in the Web Connector.",
            retry=False,
            source=_OSR,
            confirmed=False,
        )
    if kind == "qbwc":
        return _entry(
            code,
            kind,
            "Web Connector error",
            f"Web Connector error {code}; this catalogue does not hold it. The Web"
            " Connector's log (QWCLog.txt) holds the details.",
            "The Web Connector reported a problem. Open its log (View Log) and send the lines"
            " around the error to the service's support team.",
            retry=False,
            source=_NOT_FOUND,
            confirmed=False,
        )
    return _entry(
        code,
        kind,
        "Not an error code",
        f"{code!r} is no qbXML statusCode, HRESULT or QBWC number.",
        "This is not a QuickBooks or Web Connector error code; the message beside it is all"
        " there is.",
        retry=False,
        source=_NOT_FOUND,
        confirmed=False,
    )


def _error_range(value: int) -> str:
    """What the On-Screen Reference's statusCode ranges say an error code is."""
    if value < 2000:
        return "a general error"
    if value < 3000:
        return "a request this QuickBooks does not support"
    if value < 3100:
        return "a value in a form QuickBooks cannot read"
    if 9100 <= value < 9200:
        return "a macro (defMacro/useMacro) error"
    return "a specific error, such as a business rule"


def catalogue() -> list[Explanation]:
    """Every entry the catalogue holds, statusCodes first, then HRESULTs and QBWC numbers.

    Returns:
        A new list; changing it changes nothing here.
    """
    return list(_ENTRIES)


def describe(code: int | str, message: str) -> str:
    """One line for a failure: the code, the message that came with it, then words for people.

    Args:
        code: The code as reported (see :func:`explain`).
        message: The message that came with it (``statusMessage``, or the
            HRESULT's text); may be empty.

    Returns:
        ``"3140: There is an invalid reference ... — <user words>"``, the
        code in its normal spelling; the entry's title stands in for an
        empty message. When ``code`` is no QuickBooks or Web Connector
        code (an application's own failure, say), just ``"code: message"``.
    """
    why = explain(code)
    if why.kind == "unknown":
        return ": ".join(part for part in (str(code).strip(), message) if part)
    return f"{why.code}: {message or why.title} — {why.user}"
