"""qbXML: build requests from Python values, read responses, choose the version.

Build:

.. code-block:: python

    from qbwc_spyne import qbxml

    request = qbxml.request(
        qbxml.Rq("CustomerQueryRq", {"MaxReturned": 100, "ActiveStatus": "All"},
                 request_id="7", iterator="Start"),
        version="13.0",
    )

Fields are written in the order of the qbXML schema of the version (13.0,
or 16.0 from 16.0 up), whatever the dict's order, and checked against it:
one :class:`SchemaError` lists every misspelt, missing, too long or
mistyped element with its path before anything is sent. A dict nests
elements; a list repeats one; ``(tag, value)`` pairs allow repeated tags in
order; booleans become ``true``/``false``, Decimals amounts with their
places, dates ISO 8601, aware datetimes keep their offset; ``None`` is left
out. ``Rq(..., validate=False)`` writes fields as given, unchecked. Escaping
is lxml's, so names with ``&``, quotes and any Unicode are safe.

Read (here a fake QuickBooks answers):

.. code-block:: python

    from qbwc_spyne.testing import FakeQuickBooks

    text = FakeQuickBooks.from_json({"customers": [{"Name": "Acme"}]}).process(request).response
    for result in qbxml.parse_response(text):
        print(result.status, result.message)  # Status.OK; Status.ERROR when not done
        for record in result.records:  # lxml elements with .to_dict()
            print(record.to_dict()["Name"])

For responses of tens of MB, :func:`stream` yields ``(result, record)``
pairs from an incremental parse, keeping one record in memory at a time.

No DTD is ever read: a document declaring one is refused before parsing.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar, overload

from lxml import etree

from .._xml import (
    UnsafeXMLError,
    XMLError,
    has_doctype,
    parse_qbxml,
    scan_prolog,
    utf8_parser,
)
from ..exceptions import QBXMLBuildError, SchemaError
from . import _schema

if TYPE_CHECKING:
    from ._objects import QBObject, QBRequest

_Object = TypeVar("_Object", bound="QBObject")

__all__ = [
    "Record",
    "Result",
    "Rq",
    "SchemaError",
    "Status",
    "UnsafeXMLError",
    "XMLError",
    "as_rq",
    "choose_version",
    "parse",
    "parse_response",
    "request",
    "stream",
    "stream_results",
    "supported_versions",
]

ON_ERROR = ("stopOnError", "continueOnError", "rollbackOnError")


# -- building ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rq:
    """One request of a document, e.g. ``Rq("CustomerAddRq", {"CustomerAdd": {...}})``.

    Attributes:
        name: the request element, ending in ``Rq``.
        fields: its children, in order (see the module's notes on values).
        request_id: echoed by QuickBooks as the response's ``requestID``.
        iterator: ``"Start"`` or ``"Continue"`` for an iterated query.
        iterator_id: the ``iteratorID`` to continue.
        validate: check and order the request by the qbXML schema (the default);
            False writes the fields as given, unchecked, for a request the
            schema does not describe.

    .. versionchanged:: 0.2.0
       Children are written in schema order and checked; ``validate=False``
       keeps the old behaviour.
    """

    name: str
    fields: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
    request_id: str | None = None
    iterator: str | None = None
    iterator_id: str | None = None
    validate: bool = True

    def element(self, version: str = "13.0", *, validate: bool = True) -> etree._Element:
        """This request as an lxml element.

        Args:
            version: the qbXML version whose schema orders and checks it.
            validate: False skips the schema (so does ``Rq(validate=False)``).

        Raises:
            QBXMLBuildError: the name does not end in ``Rq``.
            SchemaError: the request does not fit the schema; every problem is listed.
        """
        if not self.name.endswith("Rq"):
            raise QBXMLBuildError(f"a request element ends in Rq, not {self.name!r}")
        attributes = (
            ("requestID", self.request_id),
            ("iterator", self.iterator),
            ("iteratorID", self.iterator_id),
        )
        if validate and self.validate:
            return _schema.build_request(self.name, self.fields, attributes, version)
        rq = etree.Element(self.name)
        for attribute, value in attributes:
            if value is not None:
                rq.set(attribute, str(value))
        _append(rq, self.fields)
        return rq


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _is_pairs(value: Any) -> bool:
    """A list of (tag, value) pairs: children in order, tags free to repeat."""
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in value)
    )


def _append(parent: etree._Element, fields: Any) -> None:
    if fields is None:
        return
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    for tag, value in pairs:
        repeated = isinstance(value, list) and not _is_pairs(value)
        for item in value if repeated else [value]:
            if item is None:
                continue
            child = etree.SubElement(parent, tag)
            if isinstance(item, Mapping) or _is_pairs(item):
                _append(child, item)
            else:
                child.text = _text(item)


def as_rq(request: Rq | QBRequest) -> Rq:
    """``request`` as an :class:`Rq`: itself, or a typed request's elements and attributes.

    A typed request (``objects.CustomerQueryRq(...)``) becomes the Rq of the
    same name, its fields written by their qbXML names; it is then written
    in schema order and checked exactly as any Rq.

    Raises:
        QBXMLBuildError: ``request`` is neither.

    .. versionadded:: Unreleased
    """
    if isinstance(request, Rq):
        return request
    from ._objects import QBRequest, fields_of

    if not isinstance(request, QBRequest):
        raise QBXMLBuildError(
            f"a request is a qbxml.Rq or a typed request, not {type(request).__name__}"
        )
    return Rq(
        type(request).__name__,
        fields_of(request),
        request_id=getattr(request, "request_id", None),
        iterator=getattr(request, "iterator", None),
        iterator_id=getattr(request, "iterator_id", None),
    )


def request(
    *requests: Rq | QBRequest,
    version: str = "13.0",
    on_error: str = "stopOnError",
    validate: bool = True,
) -> str:
    """A complete qbXML request document: declaration, ``<?qbxml version?>``, the requests.

    Args:
        requests: the requests, in the order QuickBooks runs them: :class:`Rq`
            or typed requests from :mod:`qbwc_spyne.objects`.
        version: the qbXML version; its schema (13.0, or 16.0 from 16.0 up)
            orders and checks each request.
        on_error: what QuickBooks does after a failed request.
        validate: False writes every request as given, unchecked.

    Raises:
        QBXMLBuildError: ``on_error`` is not stopOnError, continueOnError or
            rollbackOnError, the version is not like ``13.0``, or a request's
            name does not end in ``Rq`` (a ``ValueError`` too).
        SchemaError: a request does not fit the schema (a ``QBXMLBuildError`` too).
    """
    if on_error not in ON_ERROR:
        raise QBXMLBuildError(f"on_error must be one of {', '.join(ON_ERROR)}")
    if not re.fullmatch(r"\d+\.\d+", version):
        raise QBXMLBuildError(f"a qbXML version looks like 13.0, not {version!r}")
    root = etree.Element("QBXML")
    messages = etree.SubElement(root, "QBXMLMsgsRq", onError=on_error)
    messages.extend(as_rq(rq).element(version, validate=validate) for rq in requests)
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n{body}\n'


def supported_versions(host_response: str) -> list[str]:
    """The ``SupportedQBXMLVersion`` values of a HostQuery response, numeric ones only."""
    if not host_response:
        return []
    root = parse_qbxml(host_response)
    found = (el.text or "" for el in root.iter("SupportedQBXMLVersion"))
    return [v.strip() for v in found if re.fullmatch(r"\d+\.\d+", v.strip())]


def _key(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def choose_version(host_response: str, *, cap: str = "13.0") -> str:
    """The highest qbXML version the company supports, but not above ``cap``.

    With no HostQuery response (or no version at or under ``cap`` in it),
    ``cap`` is returned: the Web Connector sends the HCP response only on a
    session's first call, so store the choice with the session.
    """
    usable = [v for v in supported_versions(host_response) if _key(v) <= _key(cap)]
    return max(usable, key=_key) if usable else cap


# -- reading ----------------------------------------------------------------------------


class Record(etree.ElementBase):  # type: ignore[misc]
    """An lxml element of a response (a ``CustomerRet``, say), with :meth:`to_dict`."""

    def to_dict(self, *, typed: bool = False) -> dict[str, Any]:
        """The children as a dict: text for leaves, dicts for groups, lists for repeated tags.

        Attributes are kept under their name with ``@`` before it, beside the
        children: a report cell ``<ColData colID="2" value="35"/>`` reads
        ``{"@colID": "2", "@value": "35"}``, and a ``DataRow`` holding cells
        ``{"@rowNumber": "2", "RowData": {...}, "ColData": [...]}``. An
        element with attributes and text has its text under ``"#text"``.
        Elements without attributes read as before: text, or a dict. Typed,
        attributes are read as the schema types them (``colID`` an ``int``);
        an element the schema makes a single value takes no attribute in
        qbXML, and typed reading reads its value only.

        Args:
            typed: read each value as its schema type: ``Decimal`` for amounts,
                prices and quantities, ``int``, ``bool``, ``date``, ``datetime``
                (aware, QuickBooks' offset kept), and a list for every element
                the schema lets repeat, even with one item.

        Raises:
            XMLError: with ``typed``, a value does not read as its type (the path is named).

        .. versionchanged:: 0.2.0
           The ``typed`` option.

        .. versionchanged:: Unreleased
           Attributes are kept (``"@name"``); they were dropped.
        """
        if typed:
            try:
                return _schema.typed_dict(self)
            except ValueError as exc:
                raise XMLError(str(exc)) from None
        values: dict[str, Any] = {f"@{name}": value for name, value in self.attrib.items()}
        for child in self:
            if not isinstance(child.tag, str):
                continue
            value: Any
            if len(child):
                value = child.to_dict()
            elif child.attrib:
                value = {f"@{name}": text for name, text in child.attrib.items()}
                if child.text:
                    value["#text"] = child.text
            else:
                value = child.text or ""
            if child.tag in values:
                if not isinstance(values[child.tag], list):
                    values[child.tag] = [values[child.tag]]
                values[child.tag].append(value)
            else:
                values[child.tag] = value
        return values


#: The longest prolog (declaration, comments, processing instructions) a stream reads.
_MAX_PROLOG = 1 << 20


def _record_parser() -> etree.XMLParser:
    parser = utf8_parser()
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(element=Record))
    return parser


class Status(enum.Enum):
    """What a response's ``statusCode`` means for the request."""

    #: 0: done.
    OK = "ok"
    #: 1: a query matched nothing; an empty result, not a failure.
    NO_MATCH = "no match"
    #: 2-499: informational.
    INFO = "info"
    #: 500-999: done, but perhaps not as expected (e.g. a FullName not found).
    WARNING = "warning"
    #: 1000 and above: not done.
    ERROR = "error"

    @classmethod
    def of(cls, code: int) -> Status:
        """The class of a statusCode."""
        if code == 0:
            return cls.OK
        if code == 1:
            return cls.NO_MATCH
        if code < 500:
            return cls.INFO
        return cls.WARNING if code < 1000 else cls.ERROR


@dataclass(frozen=True, kw_only=True)
class Result:
    """One ``*Rs`` of a response.

    Attributes:
        name: the response element, e.g. ``"CustomerQueryRs"``.
        request_id: the ``requestID`` echoed, or None.
        status_code: ``statusCode`` as an int.
        severity: ``statusSeverity`` (Info, Warn, Error).
        message: ``statusMessage``.
        iterator_id: ``iteratorID``, for an iterated query.
        remaining_count: ``iteratorRemainingCount``, for an iterated query.
        records: the ``*Ret`` elements (from :func:`stream`: empty).
        typed: from ``parse_response(..., typed=True)``, each record's
            ``to_dict(typed=True)``, in the order of ``records``.

    .. versionchanged:: Unreleased
       :attr:`objects`.
    """

    name: str
    request_id: str | None
    status_code: int
    severity: str
    message: str
    iterator_id: str | None = None
    remaining_count: int | None = None
    records: list[Record] = field(default_factory=list)
    typed: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def objects(self) -> list[QBObject]:
        """The records as typed objects (``CustomerRet`` and so on from :mod:`qbwc_spyne.objects`).

        Read on first access. The values an answer holds directly, with no
        record around them (``ListDelRs``: ``ListID``, ``TimeDeleted``...),
        stay in :attr:`records` only. A value that does not read as its type is kept
        as text with an :class:`~qbwc_spyne.exceptions.UnreadValueWarning`;
        an element the schema does not know is kept in the object's ``extra``.
        From :func:`stream` use ``objects=True``: its results hold no records.
        """
        from ._objects import is_record, read_all

        return read_all(record for record in self.records if is_record(record))

    def objects_of(self, cls: type[_Object]) -> list[_Object]:
        """The records that are ``cls`` objects, typed as such for a type checker.

        ``result.objects_of(CustomerRet)`` is :attr:`objects` narrowed to the
        class a query returns (a ``CustomerQueryRs`` holds only
        ``CustomerRet``); records of another class are left out.
        """
        return [obj for obj in self.objects if isinstance(obj, cls)]

    @property
    def status(self) -> Status:
        """The class of :attr:`status_code`."""
        return Status.of(self.status_code)

    @property
    def ok(self) -> bool:
        """True unless the status is an error (warnings and no-match are fine)."""
        return self.status is not Status.ERROR

    @classmethod
    def from_element(cls, rs: etree._Element, records: list[Record] | None = None) -> Result:
        """Read a ``*Rs`` element's attributes (and, unless given, its records)."""
        try:
            code = int(rs.get("statusCode", "0"))
            remaining = rs.get("iteratorRemainingCount")
            remaining_count = int(remaining) if remaining is not None else None
        except ValueError as exc:
            raise XMLError(f"{rs.tag} has a malformed number: {exc}") from None
        return cls(
            name=str(rs.tag),
            request_id=rs.get("requestID"),
            status_code=code,
            severity=rs.get("statusSeverity", ""),
            message=rs.get("statusMessage", ""),
            iterator_id=rs.get("iteratorID"),
            remaining_count=remaining_count,
            records=list(rs) if records is None else records,
        )


def parse(text: str | bytes) -> etree._Element:
    """Parse a qbXML document and return its root element (``<QBXML>``).

    Raises:
        UnsafeXMLError: the document declares a DOCTYPE or entities.
        XMLError: the document is not well-formed.
    """
    return parse_qbxml(text)


def parse_response(text: str | bytes, *, typed: bool = False) -> list[Result]:
    """Every ``*Rs`` of a response document, records included, in order.

    Args:
        text: the response document.
        typed: also fill each result's ``typed`` with its records as typed dicts
            (see :meth:`Record.to_dict`).

    Raises:
        UnsafeXMLError, XMLError: as :func:`parse`; also when it is no qbXML response.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    if has_doctype(data):
        raise UnsafeXMLError("qbXML must not declare a DOCTYPE or entities")
    try:
        root = etree.fromstring(data, _record_parser())
    except etree.XMLSyntaxError as exc:
        raise XMLError(f"qbXML is not well-formed: {exc}") from None
    messages = root.find("QBXMLMsgsRs")
    if root.tag != "QBXML" or messages is None:
        raise XMLError("not a qbXML response: no QBXML/QBXMLMsgsRs")
    results = [Result.from_element(rs) for rs in messages if isinstance(rs.tag, str)]
    if typed:
        for result in results:
            result.typed.extend(
                record.to_dict(typed=True)
                for record in result.records
                if isinstance(record.tag, str)
            )
    return results


def _chunks(source: str | bytes | IO[bytes], size: int) -> Iterator[bytes]:
    if isinstance(source, str):
        # Encode slice by slice: a 30 MB str never becomes a second 30 MB bytes.
        for start in range(0, len(source), size):
            yield source[start : start + size].encode("utf-8")
    elif isinstance(source, bytes):
        view = memoryview(source)
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
    else:
        while chunk := source.read(size):
            yield chunk


@overload
def stream(
    source: str | bytes | IO[bytes],
    *,
    chunk_size: int = ...,
    typed: Literal[False] = ...,
    objects: Literal[False] = ...,
) -> Iterator[tuple[Result, Record]]: ...


@overload
def stream(
    source: str | bytes | IO[bytes],
    *,
    chunk_size: int = ...,
    typed: Literal[True],
    objects: Literal[False] = ...,
) -> Iterator[tuple[Result, dict[str, Any]]]: ...


@overload
def stream(
    source: str | bytes | IO[bytes],
    *,
    chunk_size: int = ...,
    typed: Literal[False] = ...,
    objects: Literal[True],
) -> Iterator[tuple[Result, QBObject]]: ...


def stream(
    source: str | bytes | IO[bytes],
    *,
    chunk_size: int = 1 << 16,
    typed: bool = False,
    objects: bool = False,
) -> (
    Iterator[tuple[Result, Record]]
    | Iterator[tuple[Result, dict[str, Any]]]
    | Iterator[tuple[Result, QBObject]]
):
    """Yield ``(result, record)`` for each record of a response, as it is parsed.

    ``result`` describes the enclosing ``*Rs`` (its ``records`` are empty);
    a ``*Rs`` without records yields nothing, so use :func:`stream_results`
    when the statuses matter. Use each record before taking the next: what
    was read is freed as the parse moves on, so memory is bounded by one
    chunk and the largest record, not by the document.

    With ``typed=True`` each record comes as ``record.to_dict(typed=True)``,
    and with ``objects=True`` as its typed object (``CustomerRet``...), each
    read as it is reached, so memory stays bounded the same way.

    Raises:
        UnsafeXMLError, XMLError: as :func:`parse`.

    .. versionchanged:: 0.2.0
       The ``typed`` option.

    .. versionchanged:: Unreleased
       The ``objects`` option.
    """
    if typed and objects:
        raise ValueError("stream reads records as typed dicts or as objects, not both")
    if objects:
        return _stream_objects(source, chunk_size)
    if typed:
        return _stream_typed(source, chunk_size)
    return _stream(source, chunk_size)


def _stream(source: str | bytes | IO[bytes], chunk_size: int) -> Iterator[tuple[Result, Record]]:
    for result, record in stream_results(source, chunk_size=chunk_size):
        if record is not None:
            yield result, record


def _stream_typed(
    source: str | bytes | IO[bytes], chunk_size: int
) -> Iterator[tuple[Result, dict[str, Any]]]:
    for result, record in stream_results(source, chunk_size=chunk_size):
        if record is not None:
            yield result, record.to_dict(typed=True)


def _stream_objects(
    source: str | bytes | IO[bytes], chunk_size: int
) -> Iterator[tuple[Result, QBObject]]:
    from ._objects import is_record, read

    for result, record in stream_results(source, chunk_size=chunk_size):
        if record is not None and is_record(record):
            yield result, read(record)


def stream_results(
    source: str | bytes | IO[bytes], *, chunk_size: int = 1 << 16
) -> Iterator[tuple[Result, Record | None]]:
    """Like :func:`stream`, and also ``(result, None)`` when a ``*Rs`` ends.

    The ``(result, None)`` item comes after that response's records, so a
    caller sees every status, including those of responses with no records.
    """
    # Strategy: lxml reports one event, the start of QBXMLMsgsRs; after each
    # chunk the tree under it is read directly. Every child of an *Rs is a
    # complete record except, perhaps, the last child of the last *Rs, which
    # the parser may still be filling. Handing out the complete ones and
    # removing them keeps Python's work to one step a record, not one a tag.
    parser = etree.XMLPullParser(
        events=("start",),
        tag="QBXMLMsgsRs",
        encoding="utf-8",  # the bytes judged above are the text parsed
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    )
    parser.set_element_class_lookup(etree.ElementDefaultClassLookup(element=Record))
    messages: etree._Element | None = None
    results: dict[etree._Element, Result] = {}

    def drain(messages: etree._Element, final: bool) -> Iterator[tuple[Result, Record | None]]:
        # Siblings are walked with getnext(): len() of an lxml element counts
        # its children one by one, which would make this quadratic.
        rs = next(iter(messages), None)
        while rs is not None:
            still_open = not final and rs.getnext() is None
            if isinstance(rs.tag, str):  # not a comment between responses
                result = results.get(rs)
                if result is None:
                    result = results[rs] = Result.from_element(rs, records=[])
                record = next(iter(rs), None)
                while record is not None:
                    following = record.getnext()
                    if following is None and still_open:
                        break  # the parser may still be filling it
                    if isinstance(record.tag, str):
                        yield result, record
                    rs.remove(record)  # what was read is freed
                    record = following
                if still_open:
                    return
                yield result, None
                del results[rs]
            following_rs = rs.getnext()
            messages.remove(rs)
            rs = following_rs

    # Nothing is parsed until the whole prolog has been judged: a DOCTYPE
    # may only stand there, but the prolog may run past the first chunk.
    head: bytearray | None = bytearray()
    scanned = 0
    try:
        for chunk in _chunks(source, chunk_size):
            if head is not None:
                head += chunk
                scanned, complete = scan_prolog(head, scanned)
                if not complete:
                    if len(head) > _MAX_PROLOG:
                        raise XMLError(f"the prolog runs past {_MAX_PROLOG} bytes")
                    continue
                if has_doctype(head):
                    raise UnsafeXMLError("qbXML must not declare a DOCTYPE or entities")
                chunk, head = bytes(head), None
            parser.feed(chunk)
            for _event, element in parser.read_events():
                parent = element.getparent()
                if parent is None or parent.tag != "QBXML" or parent.getparent() is not None:
                    raise XMLError("not a qbXML response: QBXMLMsgsRs is not under the QBXML root")
                messages = element
            if messages is not None:
                yield from drain(messages, final=False)
        if head:  # a document that is all prolog
            if has_doctype(head):
                raise UnsafeXMLError("qbXML must not declare a DOCTYPE or entities")
            parser.feed(bytes(head))
        parser.close()
    except etree.XMLSyntaxError as exc:
        raise XMLError(f"qbXML is not well-formed: {exc}") from None
    if messages is None:
        raise XMLError("not a qbXML response: no QBXML/QBXMLMsgsRs")
    yield from drain(messages, final=True)
