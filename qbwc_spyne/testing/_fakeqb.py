"""A fake QuickBooks: answers qbXML from an in-memory company, as QuickBooks does.

Theory of operation
-------------------
Records are kept as the ``*Ret`` elements QuickBooks would return, in the
order they were created, per type. An Add builds the ``*Ret`` from the
``*Add`` element (ids, times and edit sequence first, then the fields as
given, line items renamed ``*LineRet``); a Mod replaces fields; a Query
filters and returns copies. A Mod edits lines as the SDK's "modifying
transaction lines" rules say: a ``*LineMod`` names its line by
``TxnLineID``, ``-1`` adds a line, a Mod that lists any line deletes the
lines it leaves out, one that lists none leaves them alone; the totals are
then recomputed as on an Add. What QuickBooks checks, the fake checks, with
QuickBooks' status codes and messages:

- 1 (Info): a query matched nothing;
- 3070: a string is longer than its field takes;
- 500 (Warn): a FullName asked for does not exist (the others are returned);
- 3100: an Add or Mod would duplicate a name;
- 3120: a ListID or TxnID asked for does not exist;
- 3140: a reference names nothing in the list it names;
- 3120 also: a ``TxnLineID`` that is not one of the transaction's lines
  (or names one line twice);
- 3200: a Mod's EditSequence is out of date;
- 3250: a line field or line group the fake does not keep (QuickBooks'
  "not available" status): refused, since taking it would change nothing;
  also a delete or void of an invoice that payments were applied to
  (the fake does not unapply payments), and a custom field of a line or
  of the company;
- 3391: an iteratorID that is unknown, spent, or continued with other criteria;
- 3000: an empty ListID or TxnID in a delete or void;
- 3170: a ListDel of a record another record names (a customer on an
  invoice, an item on a line);
- 3180: a DataExtAdd of a custom field the record already holds, a
  DataExtMod that would clear one;
- 3100 and 3120 also: a DataExtDefAdd of a name the owner has, a
  DataExtAdd/Mod of a field not defined for that owner and object type.

Deletes and voids: ListDel and TxnDel remove the record and log it, and
ListDeletedQuery and TxnDeletedQuery answer the log (``ListDeletedRet``,
``TxnDeletedRet``, by type and ``DeletedDateRangeFilter``); a deleted
payment gives its invoices back what it paid. TxnVoid keeps the
transaction with zero amounts and its memo marked ``VOID:``.

Custom fields: a definition comes from :meth:`FakeQuickBooks.load`
(``custom_fields``, as one made in QuickBooks' own window) or from
DataExtDefAdd (DataExtDefQuery lists them); DataExtAdd and DataExtMod
write a value on a list record or a transaction (its TimeModified and
EditSequence change), and a query returns ``DataExtRet`` only for the
``OwnerID`` it names. List queries keep what their ``NameFilter`` or
``NameRangeFilter`` takes, comparing ``FullName`` without regard to case.
tests/data/qbxml/README.md names the public source of each behaviour.

HostQuery is answered as in the HCP response (product, version, country,
qbXML versions): a read-only request any session may send.

References are resolved against the list each one names, wherever it
stands in an Add or a Mod (lines included): ``CustomerRef`` against the
customers, ``ItemRef`` against every item type, ``TermsRef`` against the
standard and date-driven terms, ``ClassRef`` against the classes. A
reference to a list the fake does not keep (accounts, sales reps, tax
codes, ``ParentRef``...) is never checked: it is stored as given, in Adds
and Mods alike.

Every request is checked whole before it changes anything, so a request
that fails leaves the company as it was. ``onError`` decides what follows
a failed request (an error status, 1000 and up): ``stopOnError`` answers
nothing more, and what ran before stays done; ``continueOnError`` goes on;
``rollbackOnError`` undoes every request of the document that ran before
and answers each with the failure's status. The SDK's table of
QBXMLMsgsRq attributes calls rollbackOnError "not valid" for QuickBooks
itself, so do not rely on it against a real company.

A document that is not well-formed, lacks ``<?qbxml version?>``, asks for
a qbXML version the company does not support (those its HostQuery answer
lists), does not validate against the schema of the version it declares,
or holds a request the fake does not carry out, is refused whole, as
QuickBooks' request processor refuses it: hresult 0x80040400, no
response, and nothing changed. The schema check is QuickBooks' own:
element order, occurrence, types and enumerations, ``iterator`` only on
the queries whose schema has it (``_schema.check_document``, from the
generated tables). :attr:`QuickBooksAnswer.detail` says what was wrong,
which QuickBooks never does. A string longer than its ``maxLength`` does
not refuse the document: that request gets status 3070 and ``onError``
decides what follows. Not supported: ``defMacro``/``useMacro``, which the
generated tables do not record, so a document using them is refused.

A request is read as QuickBooks reads it: elements and text. Comments
and processing instructions are dropped (a comment inside a value leaves
the text around it as the value), CDATA is text, and the white space that
indents elements is nothing.

Answers are written as QuickBooks writes them: a record is kept with the
fields QuickBooks fills in on every record of its type (``Sublevel``,
``Balance``, ``JobStatus``...), and each answer is a copy shaped by the
response schema of the version asked (``shape_answer``): its fields in
schema order, those the version lacks left out, booleans ``true`` or
``false``, amounts with two places. In strict mode, the default, the whole
answer is then checked against that schema (``check_response``, the
XSD's rules from the generated tables) and one that fails raises
:class:`~qbwc_spyne.testing.InvalidAnswerError`: QuickBooks never
writes it, so a test must not pass on it.

Iterators follow the SDK's walkthrough: ``iterator="Start"`` answers the
first ``MaxReturned`` records with ``iteratorID`` and
``iteratorRemainingCount``; ``iterator="Continue"`` with that ID and the
same criteria answers the next; once the count reaches 0 the ID is spent.
Iterators live as long as the connection: :meth:`FakeQuickBooks.close`
(the Web Connector ending its session) forgets them.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from .._xml import XMLError, parse_qbxml
from ..qbxml._schema import _aggregate as _schema_aggregate
from ..qbxml._schema import _datetime as _schema_datetime
from ..qbxml._schema import check_document, check_response, schema_version, shape_answer
from ._errors import CompanyDataError, InvalidAnswerError, QuickBooksUnavailable

if TYPE_CHECKING:
    from ..client import QuickBooks

__all__ = ["FakeQuickBooks", "QuickBooksAnswer"]

#: qbXML versions of QuickBooks 2014 (the HCP response in the tests' traffic).
DEFAULT_VERSIONS = (
    "1.0", "1.1", "2.0", "2.1", "3.0", "4.0", "4.1", "5.0", "6.0", "7.0", "8.0", "9.0",
    "10.0", "11.0", "12.0", "13.0",
)  # fmt: skip

ITEM_TYPES = ("ItemService", "ItemInventory", "ItemNonInventory")
TERMS_TYPES = ("StandardTerms", "DateDrivenTerms")
LIST_TYPES = ("Customer", *ITEM_TYPES, *TERMS_TYPES, "Class")
#: A query of, or a reference to, a family covers every type in it; names
#: are unique across a family, as in QuickBooks.
FAMILIES = {"Item": ITEM_TYPES, "Terms": TERMS_TYPES}
_FAMILY_OF = {kind: family for family, kinds in FAMILIES.items() for kind in kinds}
#: The list each reference is resolved against (a type or a family).
REFERENCES = {
    "CustomerRef": "Customer",
    "ItemRef": "Item",
    "TermsRef": "Terms",
    "ClassRef": "Class",
}
#: Types QuickBooks has no Mod request for.
_NO_MOD = ("ReceivePayment", *TERMS_TYPES)
#: The keys of a company's JSON and the record types they hold.
_JSON_LISTS = {
    "terms": TERMS_TYPES,
    "classes": ("Class",),
    "customers": ("Customer",),
    "items": ITEM_TYPES,
    "invoices": ("Invoice",),
    "sales_receipts": ("SalesReceipt",),
    "payments": ("ReceivePayment",),
}
#: Requests that are not of one record type: (kind, handler).
_OTHER_REQUESTS = {
    "ListDelRq": ("List", "list_del"),
    "TxnDelRq": ("Txn", "txn_del"),
    "TxnVoidRq": ("Txn", "txn_void"),
    "ListDeletedQueryRq": ("List", "deleted_query"),
    "TxnDeletedQueryRq": ("Txn", "deleted_query"),
    "DataExtAddRq": ("DataExt", "data_ext"),
    "DataExtModRq": ("DataExt", "data_ext"),
    "DataExtDefAddRq": ("DataExtDef", "data_ext_def_add"),
    "DataExtDefQueryRq": ("DataExtDef", "data_ext_def_query"),
}
#: The custom field types and the longest value each takes (DataExtDefAdd's DataExtType).
_DATA_EXT_LENGTH = {"STR255TYPE": 255, "STR1024TYPE": 1024}
_JSON_OPTIONS = ("company_name", "company_file", "product", "country", "versions")
TXN_TYPES = ("Invoice", "SalesReceipt", "ReceivePayment")
_LINES = {"Invoice": "InvoiceLine", "SalesReceipt": "SalesReceiptLine"}
#: The fields of a line the fake keeps; a ``*LineMod`` with another is refused (3250).
_LINE_FIELDS = ("TxnLineID", "ItemRef", "Desc", "Quantity", "Rate", "ClassRef", "Amount")

#: The fields QuickBooks answers with on every record of a type, and their
#: value on a new record: real answers (tests/data/README.md names them)
#: carry them even when the Add did not.
_ALWAYS: dict[str, tuple[tuple[str, str], ...]] = {
    "Customer": (
        ("Sublevel", "0"),
        ("Balance", "0.00"),
        ("TotalBalance", "0.00"),
        ("JobStatus", "None"),
    ),
    "ItemService": (("Sublevel", "0"),),
    "ItemNonInventory": (("Sublevel", "0"),),
    "ItemInventory": (
        ("Sublevel", "0"),
        ("QuantityOnHand", "0"),
        ("QuantityOnOrder", "0"),
        ("QuantityOnSalesOrder", "0"),
    ),
    "Class": (("Sublevel", "0"),),
    "Invoice": (
        ("IsPending", "false"),
        ("IsFinanceCharge", "false"),
        ("SalesTaxPercentage", "0.00"),
        ("SalesTaxTotal", "0.00"),
        ("AppliedAmount", "0.00"),
        ("IsToBePrinted", "false"),
        ("IsToBeEmailed", "false"),
    ),
    "SalesReceipt": (
        ("IsPending", "false"),
        ("SalesTaxPercentage", "0.00"),
        ("SalesTaxTotal", "0.00"),
        ("IsToBePrinted", "false"),
        ("IsToBeEmailed", "false"),
    ),
}

PARSE_ERROR = ("0x80040400", "QuickBooks found an error when parsing the provided XML text stream.")
NOT_RUNNING = ("0x80040408", "Could not start QuickBooks.")
_COMPANY_TZ = timezone(timedelta(hours=-5))


@dataclass(frozen=True, kw_only=True)
class QuickBooksAnswer:
    """What the Web Connector gets back for one request document."""

    response: str
    hresult: str = ""
    message: str = ""
    #: Why a document was refused, for the developer: QuickBooks itself says
    #: no more than ``message``, so the Web Connector never shows this.
    detail: str = field(default="", compare=False)


class _Status(Exception):
    """A non-OK status for one request (the document goes on, per onError)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def severity(self) -> str:
        return "Info" if self.code < 500 else "Warn" if self.code < 1000 else "Error"


class _Refused(Exception):
    """The request processor refuses the whole document (an hresult, no response)."""


@dataclass
class _Iterator:
    kind: str
    criteria: tuple[Any, ...]
    remaining: list[str]


def _plain(element: etree._Element) -> None:
    """Make ``element`` what QuickBooks reads: no comments, no processing instructions,
    no white space between elements (CDATA is text already: the parser merged it).

    The schema check has already refused text between elements that is not
    white space, so only white space is dropped here.
    """
    etree.strip_tags(element, etree.Comment, etree.ProcessingInstruction)
    for node in element.iter():
        if len(node):
            node.text = None
            for child in node:
                child.tail = None


def _criteria(element: etree._Element) -> tuple[Any, ...]:
    """The children of a plain element as nested (tag, text) pairs, to compare queries."""
    return tuple(
        (child.tag, _criteria(child) if len(child) else child.text or "") for child in element
    )


def _true(text: str | None) -> bool:
    return (text or "").strip() in ("true", "1")


class _Journal:
    """What one document changed, so that all of it can be undone.

    Used for rollbackOnError and for a document refused part way through.
    An existing record is copied once, before its first change; records
    added are only listed. Iterators are connection state, not company
    data, but a refused document must not use them up either.
    """

    def __init__(self, now: datetime, serial: int) -> None:
        self.now = now
        self.serial = serial
        self.added: list[tuple[str, str]] = []
        self.before: dict[int, tuple[str, etree._Element, etree._Element]] = {}
        self.iterators: dict[str, _Iterator | None] = {}
        self.removed: list[tuple[str, str, etree._Element]] = []
        self.logged = 0  # entries appended to the deleted log
        self.defined = 0  # custom field definitions added


def _not_found(key: str) -> _Status:
    return _Status(
        3120,
        f'Object "{key}" specified in the request cannot be found.  QuickBooks error message: '
        "Invalid argument.  The specified record does not exist in the list.",
    )


def _too_long(path: str, text: str) -> _Status:
    # The SDK's table of status codes: 3070, a string longer than its field allows.
    field = path.rsplit("/", 1)[-1]
    return _Status(3070, f'The string "{text}" in the field "{field}" is too long.')


def _not_modelled(path: str, kind: str) -> _Status:
    # 3250 is QuickBooks' "feature not available"; the fake cannot store
    # the field, and taking it without storing it would be a false success.
    return _Status(
        3250,
        f'The fake QuickBooks does not keep "{path}" in a {kind}: '
        "this request would change nothing it can show, so it is refused.",
    )


def _blank_name(kind: str) -> _Status:
    return _Status(3180, f'There was an error when saving a {kind} list, element "".')


def _element(tag: str, value: Any) -> etree._Element:
    """Build an element from JSON-like data: dicts are children, lists repeat."""
    element = etree.Element(tag)
    if isinstance(value, Mapping):
        for key, child in value.items():
            for item in child if isinstance(child, list) else [child]:
                element.append(_element(key, item))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)
    return element


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _quantity(value: Decimal) -> str:
    # normalize() alone writes 10 as 1E+1, which is no qbXML quantity.
    return format(value.normalize(), "f")


def _decimal(element: etree._Element, tag: str, default: str = "0") -> Decimal:
    text = element.findtext(tag) or default
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _Refused(f"{tag} is not a number: {text!r}") from None


def _average_cost(add: etree._Element) -> str:
    """An inventory item's average cost: its opening value over its opening quantity."""
    quantity = _decimal(add, "QuantityOnHand")
    if quantity <= 0:
        return "0.00"
    return _money(_decimal(add, "TotalValue") / quantity)


def _parse_time(text: str, field: str = "TimeModified") -> datetime:
    """qbXML dates and datetimes; those without an offset are the company's local time.

    Raises:
        _Status: 3020, a text of the schema's form that is no date (month 13, say).
    """
    try:
        moment = _schema_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise _Status(
            3020,
            f'There was an error when converting the date value "{text}" in the field "{field}".',
        )
    if not isinstance(moment, datetime):
        return datetime.combine(moment, datetime.min.time(), _COMPANY_TZ)
    return moment if moment.tzinfo else moment.replace(tzinfo=_COMPANY_TZ)


def _made(record: etree._Element) -> tuple[datetime, str]:
    """When a record was made: each change ticks the clock, so no two records share it."""
    return _parse_time(record.findtext("TimeCreated") or "", "TimeCreated"), FakeQuickBooks._key(
        record
    )


def _owner(owner_id: str) -> str:
    """An OwnerID as compared: 0 or a GUID, whatever its case and braces."""
    text = owner_id.strip().strip("{}").lower()
    return "0" if text in ("", "0") else text


def _named(records: list[etree._Element], rq: etree._Element) -> list[etree._Element]:
    """The records a list query's ``NameFilter`` or ``NameRangeFilter`` keeps.

    Both compare the ``FullName``, without regard to case, as the SDK's
    reference for list queries describes them: ``MatchCriterion``
    StartsWith, Contains or EndsWith ``Name``; ``FromName`` and ``ToName``
    bound the names alphabetically, both ends included (either may be
    left out). The schema lets a query have one of the two, not both.
    """
    names = rq.find("NameFilter")
    if names is not None:
        wanted = (names.findtext("Name") or "").casefold()
        test = {
            "StartsWith": str.startswith,
            "Contains": str.__contains__,
            "EndsWith": str.endswith,
        }[(names.findtext("MatchCriterion") or "").strip()]
        return [r for r in records if test((r.findtext("FullName") or "").casefold(), wanted)]
    bounds = rq.find("NameRangeFilter")
    if bounds is not None:
        low = (bounds.findtext("FromName") or "").casefold()
        high = bounds.findtext("ToName")
        return [
            r
            for r in records
            if low <= (r.findtext("FullName") or "").casefold()
            and (high is None or (r.findtext("FullName") or "").casefold() <= high.casefold())
        ]
    return records


class FakeQuickBooks:
    """An in-memory QuickBooks company that answers qbXML as QuickBooks does.

    Args:
        company_name: the company's name, in the CompanyQuery answer.
        company_file: the path the Web Connector reports for the open company.
        product: the product name in the HostQuery answer.
        country: the edition's country: "US", "CA", "UK".
        versions: the qbXML versions it supports, in the HostQuery answer.
        start: the company clock's first reading; each change advances it a second.
        strict: check every answer against Intuit's response schema of the
            version asked for, and raise :class:`~qbwc_spyne.testing.InvalidAnswerError`
            rather than hand on one QuickBooks would never write (the
            default). False skips the check, which costs about as much as
            writing the answer.

    Faults on demand (attributes, change them at any time):
        running: False makes opening QuickBooks fail (hresult 0x80040408).
        failed_opens: how many of the next openings fail anyway.
        delay: seconds each request takes to answer.
        lose_responses: how many of the next responses are lost: QuickBooks
            carries out the request but the Web Connector never delivers
            the answer (its session dies).

    .. versionchanged:: Unreleased
       Carries out ListDel, TxnDel, TxnVoid, ListDeletedQuery,
       TxnDeletedQuery, DataExtAdd, DataExtMod, DataExtDefAdd and
       DataExtDefQuery, and list queries' NameFilter and NameRangeFilter
       (before, such a document was refused whole, or the filter ignored).
    """

    def __init__(
        self,
        *,
        company_name: str = "Fake Company",
        company_file: str = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Fake.qbw",
        product: str = "QuickBooks Pro 2014",
        country: str = "US",
        versions: Iterable[str] = DEFAULT_VERSIONS,
        start: datetime | None = None,
        strict: bool = True,
    ) -> None:
        self.company_name = company_name
        self.strict = strict
        self.company_file = company_file
        self.product = product
        self.country = country
        self.versions = tuple(versions)
        self.records: dict[str, dict[str, etree._Element]] = {
            kind: {} for kind in LIST_TYPES + TXN_TYPES
        }
        self.requests: list[str] = []
        self.running = True
        self.failed_opens = 0
        self.delay = 0.0
        self.lose_responses = 0
        self._iterators: dict[str, _Iterator] = {}
        self._names: dict[tuple[str, str], etree._Element] = {}  # (family, lower name) -> record
        #: What ListDeletedQuery and TxnDeletedQuery answer: one ``ListDeletedRet``
        #: or ``TxnDeletedRet`` per record deleted, oldest first.
        self._deleted: list[etree._Element] = []
        #: Custom field definitions (``DataExtDefRet``), in the order defined.
        self._data_ext_defs: list[etree._Element] = []
        self._journal: _Journal | None = None
        self._now = start or datetime(2024, 1, 2, 9, 0, 0, tzinfo=_COMPANY_TZ)
        self._serial = 0
        self._version = "13.0"  # the schema of the document being answered
        self._lock = threading.RLock()

    # -- loading -------------------------------------------------------------

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | Mapping[str, Any]) -> FakeQuickBooks:
        """Build a company from JSON: a path, JSON text, or the parsed mapping.

        The format (``examples/sample_company.json`` in the repository shows most keys):

        .. code-block:: text

            {"company_name": "...", "company_file": "C:\\...\\Company.qbw",
             "product": "...", "country": "US", "versions": ["13.0", ...],
             "customers": [{"Name": "...", "Phone": "...", "TermsRef": {"FullName": "..."}}],
             "terms": [{"type": "StandardTerms", "Name": "Net 30", "StdDueDays": 30}],
             "classes": [{"Name": "..."}],
             "items": [{"type": "ItemService", "Name": "...", ...}],
             "invoices": [{"CustomerRef": {"FullName": "..."},
                           "InvoiceLineAdd": [{"ItemRef": {"FullName": "..."}, ...}]}],
             "sales_receipts": [...], "payments": [...]}

        ``custom_fields`` defines custom fields, each the fields of a
        ``DataExtDefAdd`` (``OwnerID`` 0 when left out): ``{"DataExtName":
        "Region", "DataExtType": "STR255TYPE", "AssignToObject":
        ["Customer"]}``.

        Every key is optional. Each record holds the fields of its qbXML
        ``*Add`` element, in the order qbXML wants: an object nests
        elements, a list repeats one. ``type`` picks an item's or a term's
        type (``ItemService`` and ``StandardTerms`` when left out). Records
        are added terms, classes, customers, items, then transactions,
        through the same code as qbXML Adds, so a bad reference or a
        duplicate name fails loading with its message.

        Raises:
            CompanyDataError: the JSON cannot be read, holds an unknown key
                or type, or a record QuickBooks would refuse.
            OSError: the file cannot be read.

        .. versionchanged:: Unreleased
           ``custom_fields`` defines custom fields.
        """
        if isinstance(source, Mapping):
            data: Any = dict(source)
        else:
            if isinstance(source, os.PathLike) or not str(source).lstrip().startswith(("{", "[")):
                text = Path(source).read_text(encoding="utf-8")
            else:
                text = str(source)
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CompanyDataError(f"the company is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise CompanyDataError("the company must be a JSON object")
        options: dict[str, Any] = {k: data[k] for k in _JSON_OPTIONS if k in data}
        company = cls(**options)
        company.load({k: v for k, v in data.items() if k not in _JSON_OPTIONS})
        return company

    def load(self, data: Mapping[str, Any]) -> None:
        """Add the records of a JSON-like mapping (see :meth:`from_json`).

        Loading is all or nothing: if one record is refused, none is added.

        Raises:
            CompanyDataError: an unknown key or type, or a record QuickBooks would refuse.
        """
        known = ("custom_fields", *_JSON_LISTS)
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise CompanyDataError(
                f"unknown key {unknown[0]!r} in the company; known: {', '.join(known)}"
            )
        with self._lock:
            self._journal = _Journal(self._now, self._serial)
            try:
                definitions = data.get("custom_fields", [])
                if not isinstance(definitions, list) or not all(
                    isinstance(d, Mapping) for d in definitions
                ):
                    raise CompanyDataError("custom_fields must be a list of objects")
                for values in definitions:
                    # A custom field defined in QuickBooks' own window is OwnerID 0.
                    values = {"OwnerID": "0", **values}
                    self._define(_element("DataExtDefAdd", values))
                for key, kinds in _JSON_LISTS.items():
                    records = data.get(key, [])
                    if not isinstance(records, list):
                        raise CompanyDataError(f"{key} must be a list of records")
                    for values in records:
                        if not isinstance(values, Mapping):
                            raise CompanyDataError(f"each of {key} must be an object")
                        values = dict(values)
                        kind = values.pop("type", kinds[0]) if len(kinds) > 1 else kinds[0]
                        if kind not in kinds:
                            raise CompanyDataError(
                                f"unknown type {kind!r} in {key}; known: {', '.join(kinds)}"
                            )
                        if kind in LIST_TYPES and not values.get("Name"):
                            raise CompanyDataError(f"each of {key} needs a Name")
                        if self.strict:
                            self._check_fields(kind, values)
                        record = self._add(kind, _element(f"{kind}Add", values))
                        if self.strict:
                            self._check_record(kind, record)
            except (_Status, _Refused, CompanyDataError) as failure:
                self._undo(self._journal)
                if isinstance(failure, CompanyDataError):
                    raise
                reason = failure.message if isinstance(failure, _Status) else str(failure)
                raise CompanyDataError(f"the company data is invalid: {reason}") from None
            finally:
                self._journal = None

    def _check_fields(self, kind: str, values: Mapping[str, Any]) -> None:
        """Refuse, when loading, a field no Add of ``kind`` has (strict mode).

        The answers leave out what their schema lacks, so a misspelt field
        (``Phon``) would vanish without a word.

        Raises:
            CompanyDataError: a key that is no field of ``{kind}Add``.
        """
        major, minor = self.highest_version()
        version = schema_version(f"{major}.{minor}")
        fields = _schema_aggregate(version, f"{kind}Add").names
        unknown = [name for name in values if name not in fields]
        if unknown:
            name = values.get("Name") or values.get("RefNumber") or ""
            raise CompanyDataError(
                f"the company data is invalid: {kind} {name!r}: {unknown[0]}"
                f" is no field of {kind}Add in qbXML {version}"
            )

    def _check_record(self, kind: str, record: etree._Element) -> None:
        """Refuse, when loading, a record no answer could hold (strict mode).

        Raises:
            CompanyDataError: the record as QuickBooks would answer it does not
                validate against the response schema of the highest version.
        """
        major, minor = self.highest_version()
        version = f"{major}.{minor}"
        root = etree.Element("QBXML")
        rs = etree.SubElement(
            etree.SubElement(root, "QBXMLMsgsRs"),
            f"{kind}QueryRs",
            statusCode="0",
            statusSeverity="Info",
        )
        rs.append(shape_answer(record, version))
        problems = check_response(root, version)
        if problems:
            path, message = problems[0]
            name = record.findtext("Name") or record.findtext("RefNumber") or ""
            raise CompanyDataError(
                f"the company data is invalid: {kind} {name!r}: {path.split('/', 2)[-1]}: {message}"
            )

    def client(self, *, version: str = "13.0", page_size: int = 100) -> QuickBooks:
        """A resource client (:class:`~qbwc_spyne.client.QuickBooks`) over this company.

        Each request is carried out at once, with no Web Connector between
        them, in one connection, so iterators live on as in a QuickBooks
        session: an integration written against the client is tested in-process.

        Args:
            version: the qbXML version requests are written in.
            page_size: the records a page of ``list`` asks for.

        .. versionadded:: Unreleased
        """
        from .. import qbxml
        from ..client import QuickBooks
        from ..exceptions import QBXMLBuildError

        def send(rq: Any) -> qbxml.Result:
            answer = self.process(qbxml.request(rq, version=version))
            if answer.hresult:  # refused whole, as QuickBooks' parser refuses
                raise QBXMLBuildError(f"QuickBooks refused the request: {answer.detail}")
            return qbxml.parse_response(answer.response)[0]

        return QuickBooks(send, page_size=page_size)

    def add_customers(self, count: int, *, prefix: str = "Customer") -> list[str]:
        """Add ``count`` customers named ``prefix 0001`` ...; return their ListIDs."""
        with self._lock:
            return [
                self._add(
                    "Customer", _element("CustomerAdd", {"Name": f"{prefix} {n:04d}"})
                ).findtext("ListID", "")
                for n in range(1, count + 1)
            ]

    # -- what the Web Connector does --------------------------------------------

    def open(self, company_file: str = "") -> str:
        """Open the company, as the Web Connector does before the first request.

        Returns:
            The company file path.

        Raises:
            QuickBooksUnavailable: QuickBooks is not running, an opening was
                set to fail, or another company file was asked for.
        """
        with self._lock:
            if not self.running:
                raise QuickBooksUnavailable(*NOT_RUNNING)
            if self.failed_opens > 0:
                self.failed_opens -= 1
                raise QuickBooksUnavailable(*NOT_RUNNING)
            if company_file and company_file.lower() != self.company_file.lower():
                raise QuickBooksUnavailable(
                    NOT_RUNNING[0], f'Could not open the company file "{company_file}".'
                )
            return self.company_file

    def close(self) -> None:
        """End the connection: its iterators are forgotten."""
        with self._lock:
            self._iterators.clear()

    def highest_version(self) -> tuple[int, int]:
        """The highest qbXML version supported, as (major, minor)."""
        major, minor = max(tuple(int(p) for p in v.split(".")) for v in self.versions)
        return major, minor

    def _host_ret(self) -> etree._Element:
        """What HostQuery answers: the product, its version, the qbXML versions."""
        major = self.highest_version()[0]
        return _element(
            "HostRet",
            {
                "ProductName": self.product,
                "MajorVersion": str(major + 11),
                "MinorVersion": "0",
                "Country": self.country,
                "SupportedQBXMLVersion": list(self.versions),
                "IsAutomaticLogin": False,
                "QBFileMode": "SingleUser",
            },
        )

    def hcp_response(self) -> str:
        """The answer to HostQuery, CompanyQuery and PreferencesQuery (strHCPResponse)."""
        host = self._host_ret()
        company = _element(
            "CompanyRet",
            {
                "IsSampleCompany": False,
                "CompanyName": self.company_name,
                "LegalCompanyName": self.company_name,
                "Address": {"Addr1": self.company_name},
            },
        )
        prefs = _element(
            "PreferencesRet",
            {
                # The values of the real QuickBooks Pro 2014 answer in tests/data.
                "AccountingPreferences": {
                    "IsUsingAccountNumbers": False,
                    "IsRequiringAccounts": True,
                    "IsUsingClassTracking": False,
                    "IsUsingAuditTrail": True,
                    "IsAssigningJournalEntryNumbers": True,
                },
                "MultiCurrencyPreferences": {"IsMultiCurrencyOn": False},
            },
        )
        major, minor = self.highest_version()
        version = f"{major}.{minor}"
        rets = [shape_answer(ret, version) for ret in (host, company, prefs)]
        rows = [
            self._rs(f"{ret.tag[:-3]}QueryRs", str(number), None, [ret])
            for number, ret in enumerate(rets)
        ]
        return self._checked(self._document(rows), version)

    def process(self, request: str) -> QuickBooksAnswer:
        """Carry out one qbXML request document; return what the Web Connector posts back."""
        with self._lock:
            self.requests.append(request)
            if self.delay:
                time.sleep(self.delay)
            journal = self._journal = _Journal(self._now, self._serial)
            try:
                rows = self._process(request)
            except _Refused as refusal:
                self._undo(journal)
                return QuickBooksAnswer(
                    response="", hresult=PARSE_ERROR[0], message=PARSE_ERROR[1], detail=str(refusal)
                )
            finally:
                self._journal = None
            return QuickBooksAnswer(response=self._checked(self._document(rows), self._version))

    def _checked(self, response: str, version: str) -> str:
        """``response``, once strict mode has found it valid against ``version``'s schema.

        Raises:
            InvalidAnswerError: in strict mode, the answer does not validate.
        """
        if self.strict:
            problems = check_response(etree.fromstring(response.encode()), version)
            if problems:
                listed = "\n".join(f"  {path}: {message}" for path, message in problems)
                raise InvalidAnswerError(
                    f"the fake QuickBooks wrote an answer the qbXML {schema_version(version)} "
                    f"response schema refuses:\n{listed}",
                    list(problems),
                    response,
                )
        return response

    # -- request processing -------------------------------------------------------

    def _process(self, request: str) -> list[etree._Element]:
        try:
            root = parse_qbxml(request)
        except XMLError as exc:
            raise _Refused(str(exc)) from None
        versions = [
            pi.get("version")
            for pi in root.itersiblings(preceding=True)
            if isinstance(pi, etree._ProcessingInstruction) and pi.target == "qbxml"
        ]
        if len(versions) != 1 or versions[0] not in self.versions:
            raise _Refused(f"qbXML version {versions or 'missing'} is not supported")
        check = check_document(root, versions[0])
        if check.problems:
            raise _Refused("; ".join(f"{path}: {message}" for path, message in check.problems))
        self._version = versions[0]
        messages = root.find("QBXMLMsgsRq")
        # QuickBooks reads elements and text: comments, processing instructions
        # and the white space that indents elements mean nothing to it.
        _plain(messages)
        on_error = messages.get("onError")
        requests = list(messages)
        for rq in requests:
            if self._handler(rq.tag) is None:
                raise _Refused(f"{rq.tag} is a request the fake QuickBooks does not carry out")
        rows = []
        for index, rq in enumerate(requests):
            kind, action = self._handler(rq.tag)  # type: ignore[misc]
            rs_tag = rq.tag[:-2] + "Rs"
            try:
                if index in check.too_long:
                    raise _too_long(*check.too_long[index])
                rets, extra, status = getattr(self, f"_{action}_rq")(kind, rq)
                rows.append(self._rs(rs_tag, rq.get("requestID"), status, rets, extra))
            except _Status as failure:
                rows.append(self._rs(rs_tag, rq.get("requestID"), failure, [], {}))
                if failure.code < 1000 or on_error == "continueOnError":
                    continue
                if on_error == "rollbackOnError" and self._journal is not None:
                    self._undo(self._journal)
                    undone = _Status(
                        failure.code,
                        f"Rolled back: request {rq.get('requestID') or rq.tag} failed: "
                        f"{failure.message}",
                    )
                    rows[:-1] = [
                        self._rs(row.tag, row.get("requestID"), undone, [], {}) for row in rows[:-1]
                    ]
                break
        return rows

    def _undo(self, journal: _Journal) -> None:
        """Put the company back as it was when ``journal`` began."""
        for kind, record, before in journal.before.values():
            self._forget_name(kind, record)
            record[:] = list(before)
            self._remember_name(kind, record)
        # Records removed come back first: one added and then removed by the
        # same document is then taken out as added.
        for kind, key, record in reversed(journal.removed):
            self.records[kind][key] = record
            self._remember_name(kind, record)
            # Back in its place: records are kept in the order they were made.
            self.records[kind] = dict(
                sorted(self.records[kind].items(), key=lambda item: _made(item[1]))
            )
        for kind, key in reversed(journal.added):
            self._forget_name(kind, self.records[kind].pop(key))
        if journal.logged:
            del self._deleted[-journal.logged :]
        if journal.defined:
            del self._data_ext_defs[-journal.defined :]
        for iterator_id, state in journal.iterators.items():
            if state is None:
                self._iterators.pop(iterator_id, None)
            else:
                self._iterators[iterator_id] = state
        self._now, self._serial = journal.now, journal.serial
        journal.before.clear()
        journal.added.clear()
        journal.iterators.clear()
        journal.removed.clear()
        journal.logged = journal.defined = 0

    def _remember(self, kind: str, record: etree._Element) -> None:
        """Keep a copy of ``record`` before the document's first change to it."""
        if self._journal is not None and id(record) not in self._journal.before:
            self._journal.before[id(record)] = (kind, record, deepcopy(record))

    def _remember_iterator(self, iterator_id: str) -> None:
        if self._journal is not None and iterator_id not in self._journal.iterators:
            state = self._iterators.get(iterator_id)
            self._journal.iterators[iterator_id] = (
                None if state is None else _Iterator(state.kind, state.criteria, state.remaining)
            )

    def _forget_name(self, kind: str, record: etree._Element) -> None:
        if kind in LIST_TYPES:
            key = self._name_key(kind, record.findtext("Name") or "")
            if self._names.get(key) is record:
                del self._names[key]

    def _remember_name(self, kind: str, record: etree._Element) -> None:
        if kind in LIST_TYPES:
            self._names[self._name_key(kind, record.findtext("Name") or "")] = record

    @staticmethod
    def _handler(tag: str) -> tuple[str, str] | None:
        if tag == "HostQueryRq":
            return "Host", "host"
        if tag in _OTHER_REQUESTS:
            return _OTHER_REQUESTS[tag]
        for action in ("Query", "Add", "Mod"):
            suffix = f"{action}Rq"
            if tag.endswith(suffix):
                kind = tag[: -len(suffix)]
                known = LIST_TYPES + TXN_TYPES + (tuple(FAMILIES) if action == "Query" else ())
                if kind in known and not (action == "Mod" and kind in _NO_MOD):
                    return kind, action.lower()
        return None

    def _rs(
        self,
        tag: str,
        request_id: str | None,
        status: _Status | None,
        rets: list[etree._Element],
        extra: Mapping[str, str] | None = None,
    ) -> etree._Element:
        rs = etree.Element(tag)
        if request_id is not None:
            rs.set("requestID", request_id)
        rs.set("statusCode", str(status.code if status else 0))
        rs.set("statusSeverity", status.severity if status else "Info")
        rs.set("statusMessage", status.message if status else "Status OK")
        for key, value in (extra or {}).items():
            rs.set(key, value)
        rs.extend(rets)
        return rs

    @staticmethod
    def _document(rows: list[etree._Element]) -> str:
        body = "\n".join(etree.tostring(row, encoding="unicode") for row in rows)
        # QuickBooks' own shape: a declaration without encoding, line breaks.
        return f'<?xml version="1.0" ?>\n<QBXML>\n<QBXMLMsgsRs>\n{body}\n</QBXMLMsgsRs>\n</QBXML>\n'

    # -- the clock and ids -----------------------------------------------------------

    def _tick(self) -> tuple[str, str]:
        """Advance the clock a second; return (timestamp, edit sequence)."""
        self._now += timedelta(seconds=1)
        return self._now.isoformat(), str(int(self._now.timestamp()))

    def _new_id(self) -> str:
        self._serial += 1
        return f"{0x80000000 + self._serial:X}-{int(self._now.timestamp())}"

    # -- queries -----------------------------------------------------------------------

    def _family(self, kind: str) -> tuple[str, ...]:
        return FAMILIES.get(kind, (kind,))

    def _find(self, kind: str, key: str) -> etree._Element | None:
        for family_kind in self._family(kind):
            found = self.records[family_kind].get(key)
            if found is not None:
                return found
        return None

    @staticmethod
    def _name_key(kind: str, name: str) -> tuple[str, str]:
        # Names are unique across a family (every item type), as in QuickBooks.
        return _FAMILY_OF.get(kind, kind), name.lower()

    def _by_name(self, kind: str, name: str) -> etree._Element | None:
        record = self._names.get(self._name_key(kind, name))
        if record is not None and kind in _FAMILY_OF and record.tag != f"{kind}Ret":
            return None  # a record of another type of the family
        return record

    def _by_ref_number(self, kind: str, number: str) -> etree._Element | None:
        return next(
            (r for r in self.records[kind].values() if r.findtext("RefNumber") == number), None
        )

    def _matches(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], _Status | None]:
        is_list = kind not in TXN_TYPES
        ids = [el.text or "" for el in rq.iterfind("ListID" if is_list else "TxnID")]
        names = [el.text or "" for el in rq.iterfind("FullName" if is_list else "RefNumber")]
        found: list[etree._Element] = []
        if ids:
            for key in ids:
                record = self._find(kind, key)
                if record is None:
                    raise _not_found(key)
                found.append(record)
            return found, None
        if names:
            missing: list[str] = []
            for name in names:
                record = self._by_name(kind, name) if is_list else self._by_ref_number(kind, name)
                if record is None:
                    missing.append(name)
                else:
                    found.append(record)
            warning = None
            if missing:
                warning = _Status(
                    500,
                    "The query request has not been fully completed. There was a required "
                    f'element ("{missing[0]}") that could not be found in QuickBooks.',
                )
            return found, warning
        records = [r for k in self._family(kind) for r in self.records[k].values()]
        records.sort(key=lambda r: (r.findtext("TimeCreated") or "", r.findtext("ListID") or ""))
        modified = rq.find("ModifiedDateRangeFilter") if not is_list else rq
        if modified is not None:
            low = (modified.findtext("FromModifiedDate") or "").strip()
            high = (modified.findtext("ToModifiedDate") or "").strip()
            if low:
                since = _parse_time(low, "FromModifiedDate")
                records = [
                    r for r in records if _parse_time(r.findtext("TimeModified", "")) >= since
                ]
            if high:
                until = _parse_time(high, "ToModifiedDate")
                records = [
                    r for r in records if _parse_time(r.findtext("TimeModified", "")) <= until
                ]
        if is_list:
            records = _named(records, rq)
            active = rq.findtext("ActiveStatus") or "ActiveOnly"
            if active != "All":
                wanted = active == "ActiveOnly"
                records = [r for r in records if _true(r.findtext("IsActive") or "true") == wanted]
        else:
            entity = rq.find("EntityFilter")
            if entity is not None:
                keys = {el.text for el in entity if el.tag in ("ListID", "FullName")}
                records = [
                    r
                    for r in records
                    if keys & {r.findtext("CustomerRef/ListID"), r.findtext("CustomerRef/FullName")}
                ]
            dates = rq.find("TxnDateRangeFilter")
            if dates is not None:
                low, high = dates.findtext("FromTxnDate"), dates.findtext("ToTxnDate")
                records = [
                    r
                    for r in records
                    if (not low or (r.findtext("TxnDate") or "") >= low)
                    and (not high or (r.findtext("TxnDate") or "") <= high)
                ]
        return records, None

    def _host_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        """HostQuery: read-only, answered from the connection, as QuickBooks does."""
        return [self._host_ret()], {}, None

    def _query_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        limit_text = (rq.findtext("MaxReturned") or "").strip()
        # An integer by the schema check, white space around it allowed, of any size.
        limit = min(max(int(Decimal(limit_text)), 0), 1 << 31) if limit_text else None
        iterator = rq.get("iterator")
        # Every Continue must repeat the Start's criteria, MaxReturned included.
        criteria = _criteria(rq)
        extra: dict[str, str] = {}
        if iterator == "Continue":
            iterator_id = rq.get("iteratorID") or ""
            state = self._iterators.get(iterator_id)
            if state is None or state.kind != kind or state.criteria != criteria:
                raise _Status(3391, f'The iteratorID "{iterator_id}" is not valid.')
            self._remember_iterator(iterator_id)
            page_keys = state.remaining[: limit or len(state.remaining)]
            state.remaining = state.remaining[len(page_keys) :]
            if not state.remaining:
                del self._iterators[iterator_id]
            records = [r for r in (self._find(kind, k) for k in page_keys) if r is not None]
            extra = {"iteratorRemainingCount": str(len(state.remaining)), "iteratorID": iterator_id}
            status = None
        else:
            records, status = self._matches(kind, rq)
            if iterator == "Start":
                iterator_id = "{" + str(uuid.uuid4()) + "}"
                keys = [self._key(r) for r in records]
                page = keys[: limit or len(keys)]
                rest = keys[len(page) :]
                if rest:
                    self._remember_iterator(iterator_id)
                    self._iterators[iterator_id] = _Iterator(kind, criteria, rest)
                extra = {"iteratorRemainingCount": str(len(rest)), "iteratorID": iterator_id}
                records = records[: len(page)]
            elif limit is not None:
                records = records[:limit]
        if not records and status is None:
            status = _Status(1, "A query request did not find a matching object in QuickBooks")
        include_lines = _true(rq.findtext("IncludeLineItems"))
        owners = [el.text or "" for el in rq.iterfind("OwnerID")]
        return [self._copy(r, include_lines, owners) for r in records], extra, status

    @staticmethod
    def _key(record: etree._Element) -> str:
        return record.findtext("ListID") or record.findtext("TxnID") or ""

    def _copy(
        self, record: etree._Element, include_lines: bool, owners: Iterable[str] = ()
    ) -> etree._Element:
        """``record`` as QuickBooks answers it in the version asked (see ``shape_answer``).

        Its custom fields (``DataExtRet``) only for the ``owners`` asked for:
        the SDK's DataExt overview says a query returns them only when its
        ``OwnerID`` names their owner (0 for the fields QuickBooks shows).
        """
        wanted = {_owner(o) for o in owners}
        copy = shape_answer(record, self._version)
        for ext in [c for c in copy if c.tag == "DataExtRet"]:
            if _owner(ext.findtext("OwnerID") or "0") not in wanted:
                copy.remove(ext)
        if not include_lines:
            for line in [c for c in copy if c.tag.endswith(("LineRet", "LineGroupRet"))]:
                copy.remove(line)
        return copy

    # -- deletes, voids and what was deleted ------------------------------------------------

    def _remove(self, kind: str, key: str, record: etree._Element) -> None:
        del self.records[kind][key]
        self._forget_name(kind, record)
        if self._journal is not None:
            self._journal.removed.append((kind, key, record))

    def _log_deleted(self, entry: etree._Element) -> None:
        self._deleted.append(entry)
        if self._journal is not None:
            self._journal.logged += 1

    def _user_of(self, key: str, record: etree._Element) -> etree._Element | None:
        """A record whose references name ``key``: a customer on an invoice, an item on
        a line, terms on a customer, or a parent (``ParentRef``) of a job or sub-item.

        References to lists the fake resolves hold the ListID; a ``ParentRef``
        is stored as given, so one by FullName alone is matched by name in
        the record's own list.
        """
        name = (record.findtext("FullName") or "").casefold()
        family = _FAMILY_OF.get(record.tag[:-3], record.tag[:-3])
        for kind, records in self.records.items():
            same_list = _FAMILY_OF.get(kind, kind) == family
            for other in records.values():
                if other is record:
                    continue
                for ref in other.iter():
                    if not (isinstance(ref.tag, str) and ref.tag.endswith("Ref")):
                        continue
                    if ref.findtext("ListID") == key:
                        return other
                    by_name = ref.find("ListID") is None and ref.tag == "ParentRef"
                    if (
                        by_name
                        and same_list
                        and (ref.findtext("FullName") or "").casefold() == name
                    ):
                        return other
        return None

    def _list_del_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        """ListDel: remove a list record that nothing uses, and log it for ListDeletedQuery.

        Raises:
            _Status: 3000, an empty ListID; 3120, no record of that type has
                the ListID; 3170, a record still names it (QuickBooks' list
                window refuses to delete a name used in transactions).
        """
        list_kind = rq.findtext("ListDelType") or ""
        key = rq.findtext("ListID") or ""
        if not key.strip():
            raise _Status(3000, f'The given object ID "{key}" in the field "ListID" is invalid.')
        record = self.records.get(list_kind, {}).get(key)
        if record is None:
            raise _not_found(key)
        name = record.findtext("FullName") or ""
        user = self._user_of(key, record)
        if user is not None:
            used_by = user.tag[:-3]
            raise _Status(
                3170,
                f'There was an error when deleting {list_kind} list element "{name}". '
                f"It is used by {used_by} "
                f'"{user.findtext("RefNumber") or user.findtext("FullName") or ""}" '
                "and cannot be deleted.",
            )
        stamp, _ = self._tick()
        self._remove(list_kind, key, record)
        self._log_deleted(
            _element(
                "ListDeletedRet",
                {
                    "ListDelType": list_kind,
                    "ListID": key,
                    "TimeCreated": record.findtext("TimeCreated"),
                    "TimeDeleted": stamp,
                    "FullName": name,
                },
            )
        )
        fields = (("ListDelType", list_kind), ("ListID", key), ("TimeDeleted", stamp))
        rets = [_element(tag, text) for tag, text in fields]
        return [*rets, _element("FullName", name)], {}, None

    def _transaction(self, kind: str, key: str) -> etree._Element:
        """The transaction of type ``kind`` with TxnID ``key``.

        Raises:
            _Status: 3000, an empty TxnID; 3120, none of that type has it.
        """
        if not key.strip():
            raise _Status(3000, f'The given object ID "{key}" in the field "TxnID" is invalid.')
        record = self.records.get(kind, {}).get(key) if kind in TXN_TYPES else None
        if record is None:
            raise _not_found(key)
        return record

    @staticmethod
    def _check_unpaid(kind: str, record: etree._Element, action: str) -> None:
        """Refuse to delete or void an invoice that payments were applied to.

        QuickBooks would leave those payments as unused credit; the fake
        does not unapply payments, and a success that left the payments
        applied to nothing would be false.
        """
        if kind == "Invoice" and _decimal(record, "AppliedAmount") != 0:
            raise _Status(
                3250,
                f'The fake QuickBooks does not {action} Invoice "{record.findtext("TxnID")}": '
                "payments are applied to it, and it does not unapply them.",
            )

    def _unpay(self, payment: etree._Element) -> None:
        """Give back to each invoice what a deleted payment paid of it."""
        for applied in payment.iterfind("AppliedToTxnRet"):
            invoice = self.records["Invoice"].get(applied.findtext("TxnID") or "")
            if invoice is None:
                continue
            self._remember("Invoice", invoice)
            paid = _decimal(applied, "Amount")
            balance = _decimal(invoice, "BalanceRemaining") + paid
            self._set(invoice, "BalanceRemaining", _money(balance))
            self._set(invoice, "IsPaid", "true" if balance <= 0 else "false")
            self._set(invoice, "AppliedAmount", _money(_decimal(invoice, "AppliedAmount") + paid))

    def _txn_del_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        """TxnDel: remove a transaction ("removes the transaction completely", the SDK's
        TxnVoid reference), and log it for TxnDeletedQuery. A deleted payment
        gives its invoices back what it paid.

        Raises:
            _Status: 3000, 3120 (see ``_transaction``); 3250, an invoice with payments applied.
        """
        txn_kind = rq.findtext("TxnDelType") or ""
        key = rq.findtext("TxnID") or ""
        record = self._transaction(txn_kind, key)
        self._check_unpaid(txn_kind, record, "delete")
        stamp, _ = self._tick()
        if txn_kind == "ReceivePayment":
            self._unpay(record)
        self._remove(txn_kind, key, record)
        number = record.findtext("RefNumber")
        self._log_deleted(
            _element(
                "TxnDeletedRet",
                {
                    "TxnDelType": txn_kind,
                    "TxnID": key,
                    "TimeCreated": record.findtext("TimeCreated"),
                    "TimeDeleted": stamp,
                    "RefNumber": number,
                },
            )
        )
        fields = [("TxnDelType", txn_kind), ("TxnID", key), ("TimeDeleted", stamp)]
        if number is not None:
            fields.append(("RefNumber", number))
        return [_element(tag, text) for tag, text in fields], {}, None

    def _txn_void_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        """TxnVoid: the transaction stays, its amounts zero, its memo marked ``VOID:``.

        The SDK's TxnVoid reference: "Voiding a transaction sets its amount
        to zero but keeps a record of it in QuickBooks". QuickBooks puts
        ``VOID:`` before the memo of what it voids. Each line's amount
        becomes 0.00 (its item, quantity and rate stay, as on a voided form),
        and so do the totals and an invoice's balance. The schema's
        TxnVoidType has no ReceivePayment: a void of a payment is refused
        whole by the schema check before it gets here.

        Raises:
            _Status: 3000, 3120 (see ``_transaction``); 3250, an invoice with payments applied.
        """
        txn_kind = rq.findtext("TxnVoidType") or ""
        key = rq.findtext("TxnID") or ""
        record = self._transaction(txn_kind, key)
        self._check_unpaid(txn_kind, record, "void")
        self._remember(txn_kind, record)
        stamp, sequence = self._tick()
        for line in record.iterfind(f"{_LINES.get(txn_kind, '')}Ret"):
            self._set(line, "Amount", "0.00")
        memo = record.findtext("Memo")
        if not (memo or "").startswith("VOID:"):
            self._set(record, "Memo", f"VOID: {memo}" if memo else "VOID:")
        self._set(record, "Subtotal", "0.00")
        if txn_kind == "Invoice":
            self._set(record, "BalanceRemaining", "0.00")
            self._set(record, "IsPaid", "true")
        else:
            self._set(record, "TotalAmount", "0.00")
        self._set(record, "TimeModified", stamp)
        self._set(record, "EditSequence", sequence)
        fields = [
            ("TxnVoidType", txn_kind),
            ("TxnID", key),
            ("TimeCreated", record.findtext("TimeCreated")),
            ("TimeModified", stamp),
            ("RefNumber", record.findtext("RefNumber")),
        ]
        return [_element(tag, text) for tag, text in fields if text is not None], {}, None

    def _deleted_query_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        """ListDeletedQuery, TxnDeletedQuery: the records of the types asked deleted in the window.

        The SDK's ListDeletedQuery reference: the deleted objects of the
        types given (``ListDelType``/``TxnDelType``, one or more), optionally
        within ``DeletedDateRangeFilter``; each ``*DeletedRet`` holds the
        type, the id, TimeCreated, TimeDeleted and FullName (lists) or
        RefNumber (transactions). Oldest deletion first; 1 when none.
        """
        type_tag = f"{kind}DelType"
        types = {(el.text or "").strip() for el in rq.iterfind(type_tag)}
        window = rq.find("DeletedDateRangeFilter")
        low = high = None
        if window is not None:
            since = (window.findtext("FromDeletedDate") or "").strip()
            until = (window.findtext("ToDeletedDate") or "").strip()
            low = _parse_time(since, "FromDeletedDate") if since else None
            high = _parse_time(until, "ToDeletedDate") if until else None
        found = []
        for entry in self._deleted:
            if entry.tag != f"{kind}DeletedRet" or entry.findtext(type_tag) not in types:
                continue
            moment = _parse_time(entry.findtext("TimeDeleted") or "", "TimeDeleted")
            if (low is None or moment >= low) and (high is None or moment <= high):
                found.append(shape_answer(entry, self._version))
        status = None
        if not found:
            status = _Status(1, "A query request did not find a matching object in QuickBooks")
        return found, {}, status

    # -- custom fields (data extensions) ------------------------------------------------------

    def _define(self, add: etree._Element) -> etree._Element:
        """Add a custom field definition (a ``DataExtDefAdd``); return its ``DataExtDefRet``.

        Raises:
            _Status: 3100, the owner already has a field of that name.
        """
        owner = add.findtext("OwnerID") or "0"
        name = add.findtext("DataExtName") or ""
        for existing in self._data_ext_defs:
            same_owner = _owner(existing.findtext("OwnerID") or "0") == _owner(owner)
            same_name = (existing.findtext("DataExtName") or "").casefold() == name.casefold()
            if same_owner and same_name:
                raise _Status(3100, f'The name "{name}" of the list element is already in use.')
        ret = etree.Element("DataExtDefRet")
        etree.SubElement(ret, "OwnerID").text = owner
        etree.SubElement(ret, "DataExtID").text = str(len(self._data_ext_defs) + 1)
        etree.SubElement(ret, "DataExtName").text = name
        etree.SubElement(ret, "DataExtType").text = add.findtext("DataExtType") or "STR255TYPE"
        for target in add.iterfind("AssignToObject"):
            etree.SubElement(ret, "AssignToObject").text = (target.text or "").strip()
        for tag in ("DataExtListRequire", "DataExtTxnRequire"):
            etree.SubElement(ret, tag).text = "true" if _true(add.findtext(tag)) else "false"
        etree.SubElement(ret, "DataExtFormatString").text = add.findtext("DataExtFormatString", "")
        self._data_ext_defs.append(ret)
        if self._journal is not None:
            self._journal.defined += 1
        return ret

    def _data_ext_def_add_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        add = rq.find("DataExtDefAdd")
        if add is None:  # the schema check requires it
            raise _Refused("DataExtDefAddRq without DataExtDefAdd")
        return [shape_answer(self._define(add), self._version)], {}, None

    def _data_ext_def_query_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        """DataExtDefQuery: the definitions of the owners asked (custom fields, OwnerID 0,
        when none is named: another application's private ones are not shown),
        of the object types asked (all when none)."""
        owners = {_owner(el.text or "") for el in rq.iterfind("OwnerID")} or {"0"}
        targets = {(el.text or "").strip() for el in rq.iterfind("AssignToObject")}
        found = [
            shape_answer(d, self._version)
            for d in self._data_ext_defs
            if _owner(d.findtext("OwnerID") or "0") in owners
            and (not targets or targets & {(t.text or "") for t in d.iterfind("AssignToObject")})
        ]
        status = None
        if not found:
            status = _Status(1, "A query request did not find a matching object in QuickBooks")
        return found, {}, status

    def _data_ext_target(self, ext: etree._Element) -> tuple[str, etree._Element]:
        """The object type (as DataExtDef's AssignToObject names it) and record a DataExt writes to.

        Raises:
            _Status: 3120, no such record; 3250, a line or the company (the fake keeps neither).
        """
        for tag in ("OtherDataExtType", "TxnLineID"):
            if ext.find(tag) is not None:
                raise _not_modelled(f"{ext.tag}/{tag}", "custom field")
        list_type = ext.findtext("ListDataExtType")
        if list_type is not None:
            ref = ext.find("ListObjRef")
            key = ref.findtext("ListID") if ref is not None else None
            name = ref.findtext("FullName") if ref is not None else None
            record = None
            for candidate in ITEM_TYPES if list_type == "Item" else (list_type,):
                if candidate not in self.records:
                    continue
                if key:
                    record = self.records[candidate].get(key)
                elif name:
                    record = self._by_name(candidate, name)
                if record is not None:
                    break
            if record is None:
                raise _not_found(key or name or "")
            return list_type, record
        txn_type = ext.findtext("TxnDataExtType") or ""
        key = ext.findtext("TxnID") or ""
        record = self.records.get(txn_type, {}).get(key) if txn_type in TXN_TYPES else None
        if record is None:
            raise _not_found(key)
        return txn_type, record

    def _data_ext_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        """DataExtAdd and DataExtMod: write a custom field's value on a record.

        The SDK's DataExtAdd reference: the definition must exist first (a
        DataExtDefAdd, or a custom field made in QuickBooks' window: here,
        ``load({"custom_fields": [...]})``); the record's TimeModified is
        updated (and so its EditSequence). A DataExtMod writes the value
        whether or not the record held one: the same reference has
        DataExtMod write to a definition whose records hold nothing yet.

        Raises:
            _Status: 3120, no such record, or no definition of that name for
                that owner and object type; 3180, a DataExtAdd of a field the
                record already holds, or a DataExtMod of an empty value; 3070,
                a value longer than its type.
        """
        action = "Add" if rq.tag == "DataExtAddRq" else "Mod"
        ext = rq.find(f"DataExt{action}")
        if ext is None:  # the schema check requires it
            raise _Refused(f"{rq.tag} without DataExt{action}")
        owner = ext.findtext("OwnerID") or "0"
        name = ext.findtext("DataExtName") or ""
        value = ext.findtext("DataExtValue") or ""
        target, record = self._data_ext_target(ext)
        definition = next(
            (
                d
                for d in self._data_ext_defs
                if _owner(d.findtext("OwnerID") or "0") == _owner(owner)
                and (d.findtext("DataExtName") or "").casefold() == name.casefold()
                and target in {t.text for t in d.iterfind("AssignToObject")}
            ),
            None,
        )
        if definition is None:
            raise _Status(
                3120,
                f'Object "{name}" specified in the request cannot be found.  '
                f"No custom field of that name is defined for {target}.",
            )
        data_type = definition.findtext("DataExtType") or "STR255TYPE"
        limit = _DATA_EXT_LENGTH.get(data_type)
        if limit is not None and len(value) > limit:
            raise _too_long("DataExtValue", value)
        if action == "Mod" and not value.strip():
            # The SDK's DataExtMod reference: it "cannot be used to clear the
            # field"; DataExtDel does that (the fake does not carry it out).
            raise _Status(
                3180,
                f'There was an error when saving a data extension "{name}": '
                "DataExtMod cannot clear a field (DataExtDel does).",
            )
        held = [
            e
            for e in record.iterfind("DataExtRet")
            if _owner(e.findtext("OwnerID") or "0") == _owner(owner)
            and (e.findtext("DataExtName") or "").casefold() == name.casefold()
        ]
        if held and action == "Add":
            raise _Status(
                3180,
                f'There was an error when saving a data extension "{name}": '
                "the record already holds it (change it with DataExtMod).",
            )
        self._remember(record.tag[:-3], record)
        stamp, sequence = self._tick()
        ret = _element(
            "DataExtRet",
            {
                "OwnerID": owner,
                "DataExtName": definition.findtext("DataExtName"),
                "DataExtType": data_type,
                "DataExtValue": value,
            },
        )
        if held:
            record.replace(held[0], ret)
        else:
            record.append(ret)
        self._set(record, "TimeModified", stamp)
        self._set(record, "EditSequence", sequence)
        return [shape_answer(ret, self._version)], {}, None

    # -- adds and mods --------------------------------------------------------------------

    def _add_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        add = rq.find(f"{kind}Add")
        if add is None:
            raise _Refused(f"{rq.tag} without {kind}Add")
        owners = [el.text or "" for el in rq.iterfind("OwnerID")]
        return [self._copy(self._add(kind, add), True, owners)], {}, None

    def _check_name(self, kind: str, name: str, exclude: etree._Element | None = None) -> None:
        existing = self._names.get(self._name_key(kind, name))
        if existing is not None and existing is not exclude:
            raise _Status(3100, f'The name "{name}" of the list element is already in use.')

    def _reference(self, owner: str, ref: etree._Element) -> etree._Element:
        """``ref`` resolved against the list it names: its ListID and FullName.

        Raises:
            _Status: 3140, the reference names nothing in that list.
        """
        kind = REFERENCES[ref.tag]
        key, name = ref.findtext("ListID"), ref.findtext("FullName")
        record = self._find(kind, key) if key else self._by_name(kind, name) if name else None
        if record is None:
            raise _Status(
                3140,
                f"There is an invalid reference to QuickBooks {kind} "
                f'"{key or name or ""}" in the {owner}.',
            )
        resolved = etree.Element(ref.tag)
        etree.SubElement(resolved, "ListID").text = record.findtext("ListID")
        etree.SubElement(resolved, "FullName").text = record.findtext("FullName")
        return resolved

    def _resolved(self, owner: str, element: etree._Element) -> etree._Element:
        """A copy of ``element`` with every reference to a list the fake keeps resolved.

        Changes nothing, so a request can be checked whole before it is applied.

        Raises:
            _Status: 3140, a reference names nothing.
        """
        copy = etree.fromstring(etree.tostring(element, with_tail=False))
        for ref in list(copy.iter(*REFERENCES)):
            parent = ref.getparent()
            if parent is not None:
                parent.replace(ref, self._reference(owner, ref))
        return copy

    def _add(self, kind: str, add: etree._Element) -> etree._Element:
        """Check the ``*Add`` whole, then add the record; return it.

        Raises:
            _Status: a duplicate name, a reference to nothing, an invoice paid that is not there.
            _Refused: what QuickBooks' parser would refuse (no Name, a bad number).
        """
        add = self._resolved(kind, add)
        if kind in LIST_TYPES:
            name = add.findtext("Name")
            if not name:
                # The schema allows an empty Name; QuickBooks cannot save one.
                raise _blank_name(kind)
            self._check_name(kind, name)
            ret = self._new_list_record(kind, add, name)
        else:
            ret = self._new_transaction(kind, add)
        key = self._key(ret)
        self.records[kind][key] = ret
        self._remember_name(kind, ret)
        if self._journal is not None:
            self._journal.added.append((kind, key))
        return ret

    def _new_list_record(self, kind: str, add: etree._Element, name: str) -> etree._Element:
        stamp, sequence = self._tick()
        ret = etree.Element(f"{kind}Ret")
        for tag, text in (
            ("ListID", self._new_id()),
            ("TimeCreated", stamp),
            ("TimeModified", stamp),
            ("EditSequence", sequence),
            ("Name", name),
            ("FullName", name),
            ("IsActive", "true" if _true(add.findtext("IsActive") or "true") else "false"),
        ):
            etree.SubElement(ret, tag).text = text
        ret.extend(self._clone(c) for c in add if c.tag not in ("Name", "IsActive"))
        # What QuickBooks fills in on every record it answers with (the real
        # CustomerAdd and ItemInventoryQuery answers in tests/data): a record
        # of the top level, nothing owed, no job, nothing in stock.
        # Answers write them in schema order (shape_answer), wherever they stand here.
        for tag, text in _ALWAYS.get(kind, ()):
            if ret.find(tag) is None:
                etree.SubElement(ret, tag).text = text
        if kind == "ItemInventory":
            self._set(ret, "AverageCost", _average_cost(add))
        return ret

    def _new_transaction(self, kind: str, add: etree._Element) -> etree._Element:
        customer = add.find("CustomerRef")
        if customer is None:
            raise _Status(
                3140, f'There is an invalid reference to QuickBooks Customer "" in the {kind}.'
            )
        for group in add:
            if group.tag.endswith("LineGroupAdd"):
                raise _not_modelled(group.tag, kind)
        lines = self._line_values(kind, add)
        payments = self._applied(add) if kind == "ReceivePayment" else []
        total = _decimal(add, "TotalAmount") if kind == "ReceivePayment" else Decimal(0)
        # Everything is checked: from here on the request only applies.
        stamp, sequence = self._tick()
        self._serial += 1
        key = f"{self._serial:X}-{int(self._now.timestamp())}"
        number = str(sum(len(self.records[k]) for k in TXN_TYPES) + 1)
        ret = etree.Element(f"{kind}Ret")
        for tag, text in (
            ("TxnID", key),
            ("TimeCreated", stamp),
            ("TimeModified", stamp),
            ("EditSequence", sequence),
            ("TxnNumber", number),
        ):
            etree.SubElement(ret, tag).text = text
        ret.append(customer)
        etree.SubElement(ret, "TxnDate").text = (
            add.findtext("TxnDate") or self._now.date().isoformat()
        )
        etree.SubElement(ret, "RefNumber").text = add.findtext("RefNumber") or number
        skip = {"CustomerRef", "TxnDate", "RefNumber"}
        if kind == "ReceivePayment":
            etree.SubElement(ret, "TotalAmount").text = _money(total)
            applied = self._pay(ret, payments)
            # QuickBooks keeps what a payment did not pay as a credit.
            etree.SubElement(ret, "UnusedPayment").text = _money(total - applied)
            etree.SubElement(ret, "UnusedCredits").text = "0.00"
            skip |= {"TotalAmount", "AppliedToTxnAdd"}
        ret.extend(
            self._clone(c) for c in add if c.tag not in skip and not c.tag.endswith("LineAdd")
        )
        if kind in _LINES:
            self._lines(kind, ret, lines)
        for tag, text in _ALWAYS.get(kind, ()):
            if ret.find(tag) is None:
                etree.SubElement(ret, tag).text = text
        if kind == "Invoice" and ret.find("DueDate") is None:
            etree.SubElement(ret, "DueDate").text = self._due_date(ret)
        return ret

    def _due_date(self, invoice: etree._Element) -> str:
        """The invoice date plus its standard terms' days (QuickBooks' DueDate)."""
        text = invoice.findtext("TxnDate") or self._now.date().isoformat()
        try:
            txn_date = date.fromisoformat(text.strip())
        except ValueError:  # the schema checks requests; company data may hold anything
            raise _Refused(f"TxnDate is not a date: {text!r}") from None
        terms = invoice.find("TermsRef")
        record = (
            self._find("StandardTerms", terms.findtext("ListID") or "")
            if terms is not None
            else None
        )
        days = int(_decimal(record, "StdDueDays")) if record is not None else 0
        return (txn_date + timedelta(days=days)).isoformat()

    def _line_values(
        self, kind: str, add: etree._Element
    ) -> list[tuple[etree._Element, Decimal, Decimal, Decimal]]:
        """Each line's element (references resolved), quantity, rate and amount."""
        if kind not in _LINES:
            return []
        values = []
        for line in add.iterfind(f"{_LINES[kind]}Add"):
            if line.find("ItemRef") is None:
                raise _Status(
                    3140, f'There is an invalid reference to QuickBooks Item "" in the {kind}.'
                )
            quantity = _decimal(line, "Quantity", "1")
            rate = _decimal(line, "Rate", "0")
            amount = _decimal(line, "Amount", str(quantity * rate))
            values.append((line, quantity, rate, amount))
        return values

    def _lines(
        self,
        kind: str,
        ret: etree._Element,
        lines: list[tuple[etree._Element, Decimal, Decimal, Decimal]],
    ) -> None:
        line_tag = _LINES[kind]
        total = Decimal("0")
        for line, quantity, rate, amount in lines:
            out = etree.SubElement(ret, f"{line_tag}Ret")
            etree.SubElement(out, "TxnLineID").text = self._new_id()
            out.append(self._clone(line.find("ItemRef")))  # checked by _line_values
            if line.findtext("Desc"):
                etree.SubElement(out, "Desc").text = line.findtext("Desc")
            etree.SubElement(out, "Quantity").text = _quantity(quantity)
            etree.SubElement(out, "Rate").text = _money(rate)
            class_ref = line.find("ClassRef")
            if class_ref is not None:
                out.append(self._clone(class_ref))
            etree.SubElement(out, "Amount").text = _money(amount)
            total += amount
        etree.SubElement(ret, "Subtotal").text = _money(total)
        if kind == "Invoice":
            etree.SubElement(ret, "BalanceRemaining").text = _money(total)
            etree.SubElement(ret, "IsPaid").text = "true" if total == 0 else "false"
        else:
            etree.SubElement(ret, "TotalAmount").text = _money(total)

    def _applied(self, add: etree._Element) -> list[tuple[etree._Element, Decimal]]:
        """The invoices a payment applies to, with the amounts: all checked first."""
        applied = []
        for element in add.iterfind("AppliedToTxnAdd"):
            invoice = self.records["Invoice"].get(element.findtext("TxnID") or "")
            if invoice is None:
                raise _not_found(element.findtext("TxnID") or "")
            applied.append((invoice, _decimal(element, "PaymentAmount")))
        return applied

    def _pay(self, ret: etree._Element, applied: list[tuple[etree._Element, Decimal]]) -> Decimal:
        """Apply a payment to its invoices; return the amount applied."""
        total = Decimal(0)
        for invoice, paid in applied:
            self._remember("Invoice", invoice)
            balance = _decimal(invoice, "BalanceRemaining") - paid
            self._set(invoice, "BalanceRemaining", _money(balance))
            self._set(invoice, "IsPaid", "true" if balance <= 0 else "false")
            # QuickBooks shows payments applied to an invoice as a negative amount.
            self._set(invoice, "AppliedAmount", _money(_decimal(invoice, "AppliedAmount") - paid))
            out = etree.SubElement(ret, "AppliedToTxnRet")
            for tag, text in (
                ("TxnID", invoice.findtext("TxnID")),
                ("TxnType", "Invoice"),
                ("TxnDate", invoice.findtext("TxnDate")),
                ("RefNumber", invoice.findtext("RefNumber")),
                ("BalanceRemaining", _money(balance)),
                ("Amount", _money(paid)),
            ):
                etree.SubElement(out, tag).text = text
            total += paid
        return total

    @staticmethod
    def _set(record: etree._Element, tag: str, text: str) -> None:
        element = record.find(tag)
        if element is None:
            element = etree.SubElement(record, tag)
        element.text = text

    def _mod_rq(
        self, kind: str, rq: etree._Element
    ) -> tuple[list[etree._Element], dict[str, str], _Status | None]:
        mod = rq.find(f"{kind}Mod")
        id_tag = "TxnID" if kind in TXN_TYPES else "ListID"
        key = mod.findtext(id_tag) if mod is not None else None
        sequence = mod.findtext("EditSequence") if mod is not None else None
        if mod is None or key is None or sequence is None:  # the schema check requires them
            raise _Refused(f"{rq.tag} needs {kind}Mod with {id_tag} and EditSequence")
        if not key:
            raise _Status(3000, f'The given object ID "" in the field "{id_tag}" is invalid.')
        record = self.records[kind].get(key)
        if record is None:
            raise _not_found(key)
        if record.findtext("EditSequence") != sequence:
            raise _Status(3200, f'The provided edit sequence "{sequence}" is out-of-date. ')
        mod = self._resolved(kind, mod)
        lines = self._line_mods(kind, record, mod)
        new_name = mod.findtext("Name")
        if new_name == "" and kind in LIST_TYPES:
            raise _blank_name(kind)
        if new_name and kind in LIST_TYPES:
            self._check_name(kind, new_name, exclude=record)
        # Everything is checked: from here on the request only applies.
        self._remember(kind, record)
        self._forget_name(kind, record)
        stamp, new_sequence = self._tick()
        for change in mod:
            if change.tag in (id_tag, "EditSequence") or change.tag.endswith("LineMod"):
                continue
            self._replace(record, change)
            if change.tag == "Name":
                self._replace(record, _element("FullName", change.text))
        if lines is not None:
            self._apply_lines(kind, record, lines)
        self._remember_name(kind, record)
        self._set(record, "TimeModified", stamp)
        self._set(record, "EditSequence", new_sequence)
        owners = [el.text or "" for el in rq.iterfind("OwnerID")]
        return [self._copy(record, True, owners)], {}, None

    def _line_mods(
        self, kind: str, record: etree._Element, mod: etree._Element
    ) -> list[tuple[etree._Element | None, etree._Element]] | None:
        """The lines a transaction Mod leaves, in order, each checked: (line kept, its mod).

        The SDK's rules for lines in a Mod: a ``*LineMod`` names the line it
        edits by ``TxnLineID``, and ``TxnLineID`` -1 adds a line; "any line
        item not specifically identified in a modify request will be
        deleted" once the Mod lists one line; a Mod that lists none leaves
        the lines alone (``None`` here).

        Raises:
            _Status: 3120, a TxnLineID that is not one of this transaction's
                lines (or names a line twice); 3140, a new line without an
                item; 3250, a line field or line group the fake does not keep,
                refused rather than accepted and ignored.
        """
        line_tag = _LINES.get(kind)
        mods = [c for c in mod if c.tag.endswith(("LineMod", "LineGroupMod"))]
        if line_tag is None or not mods:
            return None
        existing = {line.findtext("TxnLineID"): line for line in record.iterfind(f"{line_tag}Ret")}
        kept: list[tuple[etree._Element | None, etree._Element]] = []
        for line_mod in mods:
            if line_mod.tag != f"{line_tag}Mod":
                raise _not_modelled(line_mod.tag, kind)
            for field_ in line_mod:
                if field_.tag not in _LINE_FIELDS:
                    raise _not_modelled(f"{line_mod.tag}/{field_.tag}", kind)
            line_id = line_mod.findtext("TxnLineID") or ""
            if line_id == "-1":
                if line_mod.find("ItemRef") is None:
                    raise _Status(
                        3140, f'There is an invalid reference to QuickBooks Item "" in the {kind}.'
                    )
                kept.append((None, line_mod))
                continue
            line = existing.pop(line_id, None)
            if line is None:
                raise _not_found(line_id)
            kept.append((line, line_mod))
        for _, line_mod in kept:  # numbers checked before anything changes
            for tag in ("Quantity", "Rate", "Amount"):
                if line_mod.find(tag) is not None:
                    _decimal(line_mod, tag)
        return kept

    def _apply_lines(
        self,
        kind: str,
        record: etree._Element,
        lines: list[tuple[etree._Element | None, etree._Element]],
    ) -> None:
        """Replace the lines of ``record`` by ``lines`` and recompute its totals as an Add does."""
        line_tag = _LINES[kind]
        old = list(record.iterfind(f"{line_tag}Ret"))
        anchor = record.find("Subtotal")
        position = (
            record.index(old[0])
            if old
            else (record.index(anchor) if anchor is not None else len(record))
        )
        for line in old:
            record.remove(line)
        total = Decimal("0")
        for offset, (line, line_mod) in enumerate(lines):
            out = self._modified_line(line_tag, line, line_mod)
            record.insert(position + offset, out)
            total += _decimal(out, "Amount")
        before = _decimal(record, "Subtotal")
        self._set(record, "Subtotal", _money(total))
        if kind == "Invoice":
            # What payments took off the old total comes off the new one.
            paid = before - _decimal(record, "BalanceRemaining")
            balance = total - paid
            self._set(record, "BalanceRemaining", _money(balance))
            self._set(record, "IsPaid", "true" if balance <= 0 else "false")
        else:
            self._set(record, "TotalAmount", _money(total))

    def _modified_line(
        self, line_tag: str, line: etree._Element | None, line_mod: etree._Element
    ) -> etree._Element:
        """A ``*LineRet``: ``line`` with the fields of ``line_mod``, or a new line."""
        values: dict[str, etree._Element] = {}
        if line is not None:
            values = {c.tag: c for c in line if c.tag != "TxnLineID"}
        given = {c.tag: c for c in line_mod if c.tag != "TxnLineID"}
        values.update(given)
        merged = etree.Element("line")
        merged.extend(self._clone(v) for v in values.values())
        quantity = _decimal(merged, "Quantity", "1")
        rate = _decimal(merged, "Rate")
        # An Amount given stands; so does the amount of a line whose quantity and rate stay.
        keeps_amount = line is not None and not {"Quantity", "Rate"} & set(given)
        if "Amount" in given or keeps_amount:
            amount = _decimal(merged, "Amount")
        else:
            amount = quantity * rate
        out = etree.Element(f"{line_tag}Ret")
        line_id = line.findtext("TxnLineID") if line is not None else self._new_id()
        etree.SubElement(out, "TxnLineID").text = line_id
        out.append(self._clone(values["ItemRef"]))
        if values.get("Desc") is not None and values["Desc"].text:
            etree.SubElement(out, "Desc").text = values["Desc"].text
        etree.SubElement(out, "Quantity").text = _quantity(quantity)
        etree.SubElement(out, "Rate").text = _money(rate)
        if "ClassRef" in values:
            out.append(self._clone(values["ClassRef"]))
        etree.SubElement(out, "Amount").text = _money(amount)
        return out

    @staticmethod
    def _replace(record: etree._Element, change: etree._Element) -> None:
        existing = record.find(change.tag)
        new = FakeQuickBooks._clone(change)
        if existing is not None:
            record.replace(existing, new)
        else:
            record.append(new)

    @staticmethod
    def _clone(element: etree._Element) -> etree._Element:
        clone = etree.fromstring(etree.tostring(element, with_tail=False))
        if clone.tag.endswith("Add") and clone.tag != "AppliedToTxnAdd":
            clone.tag = clone.tag[:-3] + "Ret"
        return clone
