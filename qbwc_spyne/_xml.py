"""Parsing qbXML safely.

Strategy: qbXML comes from QuickBooks through the Web Connector, and neither
ever sends a DTD. So a document type declaration is refused outright rather
than parsed carefully: no entity is ever expanded, no external file or URL
ever loaded. ``huge_tree`` is on because real responses run to tens of MB;
the entity ban is what keeps that safe.

The check must look at the characters the parser will read, not at other
bytes: a body the parser decodes as UTF-7 hides ``<!`` as ``+ADwAIQ-``.
So every parser here is told the encoding (UTF-8) instead of guessing it
from a byte order mark or the XML declaration, and a document that names
another encoding is refused before parsing. The Web Connector, a .NET
client, always sends ``<?xml version="1.0" encoding="utf-8"?>`` and
``Content-Type: text/xml; charset=utf-8``; no capture or public trace
shows it sending anything else, UTF-16 included.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from .exceptions import UnsafeXMLError, XMLError

__all__ = [
    "UTF8_NAMES",
    "UnsafeXMLError",
    "XMLError",
    "check_utf8_prolog",
    "declared_encoding",
    "has_doctype",
    "parse_qbxml",
    "scan_prolog",
    "split_hcp_response",
    "utf8_parser",
]


#: Charset and encoding names read as UTF-8: UTF-8 itself and its ASCII subset.
UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})

# The XML declaration, which may stand only at the very start (XML 1.0, 2.8).
_DECLARATION = re.compile(rb"<\?xml\s[^>]*?\bencoding\s*=\s*([\"'])([^\"'>]*)\1", re.IGNORECASE)
_DECLARATION_START = re.compile(rb"<\?xml\s[^>]*\?>", re.IGNORECASE)


def declared_encoding(data: bytes) -> str | None:
    """Return the encoding the XML declaration at the start of ``data`` names, or None.

    Args:
        data: the document's first bytes (a UTF-8 byte order mark is skipped).

    Returns:
        The name as written, or None when there is no declaration or it names none.
    """
    start = 3 if data.startswith(codecs.BOM_UTF8) else 0
    head = _DECLARATION_START.match(data, start)
    if head is None:
        return None
    named = _DECLARATION.match(data[: head.end()], start)
    return None if named is None else named.group(2).decode("ascii", "replace")


_USUAL_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
_USUAL_END = len(_USUAL_DECLARATION)


def check_utf8_prolog(data: bytes) -> None:
    """Refuse a document that is not plain UTF-8 or that declares a DTD.

    Only the start of the document is examined; bytes that are not UTF-8
    further on are left to the parser (:func:`utf8_parser`), which reads
    nothing but UTF-8 and fails on them.

    Args:
        data: the whole document.

    Raises:
        XMLError: a UTF-16 or UTF-32 byte order mark, NUL bytes at the
            start, or an XML declaration naming an encoding other than UTF-8.
        UnsafeXMLError: a DOCTYPE or entity declaration.
    """
    # What the Web Connector sends on every call: a UTF-8 declaration and the
    # root element straight after it. Nothing else can be in that prolog, so
    # the scan below would find nothing; skipping it is a few µs per call.
    if (
        data.startswith(_USUAL_DECLARATION)
        and data[_USUAL_END : _USUAL_END + 1] == b"<"
        and data[_USUAL_END + 1 : _USUAL_END + 2] not in (b"!", b"?")
    ):
        return
    _check_utf8_prolog_scan(data)


def _check_utf8_prolog_scan(data: bytes) -> None:
    """:func:`check_utf8_prolog` for any document (tests compare it with the fast path)."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in data[:4]:
        raise XMLError("the document must be UTF-8, not UTF-16 or UTF-32")
    encoding = declared_encoding(data)
    if encoding is not None and encoding.lower() not in UTF8_NAMES:
        raise XMLError(f"the document must be UTF-8; its declaration names {encoding[:40]!r}")
    if has_doctype(data):
        raise UnsafeXMLError("DOCTYPE and entity declarations are not accepted")


# What may precede the root element besides a DOCTYPE: white space, the XML
# declaration and other processing instructions, comments.
_PROLOG_ITEM = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)


def has_doctype(data: bytes | bytearray) -> bool:
    """Tell whether ``data`` declares a document type (and so, possibly, entities).

    "The document type declaration must appear before the first element in
    the document" (XML 1.0, 2.8), and entity declarations may stand only
    inside it: anywhere else libxml2 refuses them as syntax errors. So only
    the prolog is read, which costs nothing on a 30 MB body. A byte scan
    rather than a parse: nothing of the document is processed before the
    check. Bodies in an encoding that is not ASCII-compatible (UTF-16/32,
    which the Web Connector never sends) are searched whole instead.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        return any(
            marker.encode(codec) in data
            for marker in ("<!DOCTYPE", "<!ENTITY")
            for codec in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
        )
    pos = 3 if data.startswith(codecs.BOM_UTF8) else 0
    while match := _PROLOG_ITEM.match(data, pos):
        pos = match.end()
    while pos < len(data) and data[pos] in b" \t\r\n":
        pos += 1
    # A "<!" here is a DOCTYPE, an unclosed comment or junk: refuse all three.
    return data.startswith(b"<!", pos)


def scan_prolog(data: bytes | bytearray, pos: int = 0) -> tuple[int, bool]:
    """Skip the whole items of the prolog from ``pos``: where the scan stopped, and whether
    the prolog is complete, so that :func:`has_doctype` can judge it.

    A reader that gets a document in pieces (:func:`qbwc_spyne.qbxml.stream`)
    must not judge a first piece that ends inside the prolog: a DOCTYPE may
    follow in the next one. The prolog is complete once something other
    than white space, a whole comment or a whole processing instruction
    starts. Called again with more data and the position it returned, it
    goes on from there rather than reading the prolog again.
    """
    if codecs.BOM_UTF8.startswith(data):
        return 0, False  # not even the byte order mark is whole
    if pos == 0 and data.startswith(codecs.BOM_UTF8):
        pos = 3
    while match := _PROLOG_ITEM.match(data, pos):
        pos = match.end()
    while pos < len(data) and data[pos] in b" \t\r\n":
        pos += 1
    rest = bytes(data[pos : pos + 4])
    # Not an item still being written, nor nothing yet.
    return pos, not (rest.startswith((b"<?", b"<!--")) or rest in (b"", b"<", b"<!", b"<!-"))


def utf8_parser(**options: bool) -> etree.XMLParser:
    """Return a parser that reads UTF-8 only, whatever the document declares.

    Told the encoding, libxml2 ignores byte order marks and the XML
    declaration, so the bytes :func:`has_doctype` scanned are the text it
    parses. Entities are never resolved, nor DTDs or network resources loaded.
    lxml parser objects must not be shared between threads; they are cheap.

    Args:
        **options: further ``lxml.etree.XMLParser`` flags, e.g. ``remove_comments=True``.
    """
    return etree.XMLParser(
        encoding="utf-8",
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=True,
        **options,
    )


def parse_qbxml(text: str | bytes) -> etree._Element:
    """Parse a qbXML document; refuse DTDs.

    A ``str`` is parsed as the text it is, whatever its XML declaration
    says; ``bytes`` must be UTF-8 (decode other encodings to ``str`` first).

    Raises:
        UnsafeXMLError: the document declares a DTD or entities.
        XMLError: the document is not well-formed, or bytes not in UTF-8.
    """
    if isinstance(text, str):
        data = text.encode("utf-8")
        if has_doctype(data):
            raise UnsafeXMLError("qbXML must not declare a DOCTYPE or entities")
    else:
        data = text
        try:
            check_utf8_prolog(data)
        except UnsafeXMLError:
            raise UnsafeXMLError("qbXML must not declare a DOCTYPE or entities") from None
    try:
        return etree.fromstring(data, utf8_parser(remove_blank_text=False))
    except etree.XMLSyntaxError as exc:
        raise XMLError(f"qbXML is not well-formed: {exc}") from None


def split_hcp_response(text: str) -> tuple[str, str, str]:
    """Split the first sendRequestXML's strHCPResponse into its three answers.

    The Web Connector sends QuickBooks' answers to HostQuery, CompanyQuery
    and PreferencesQuery as one qbXML document. Each is returned as a
    standalone qbXML document, "" where one is missing.

    Returns:
        (host_response, company_response, prefs_response)

    Raises:
        XMLError: as :func:`parse_qbxml`.
    """
    root = parse_qbxml(text)
    found = {"HostQueryRs": "", "CompanyQueryRs": "", "PreferencesQueryRs": ""}
    for rs in root.iterfind("QBXMLMsgsRs/*"):
        if rs.tag in found and not found[rs.tag]:
            body = etree.tostring(rs, encoding="unicode", with_tail=False)
            found[rs.tag] = (
                f'<?xml version="1.0" ?>\n<QBXML><QBXMLMsgsRs>{body}</QBXMLMsgsRs></QBXML>\n'
            )
    return found["HostQueryRs"], found["CompanyQueryRs"], found["PreferencesQueryRs"]
