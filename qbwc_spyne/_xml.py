"""Parsing qbXML safely.

Strategy: qbXML comes from QuickBooks through the Web Connector, and neither
ever sends a DTD. So a document type declaration is refused outright rather
than parsed carefully: no entity is ever expanded, no external file or URL
ever loaded. ``huge_tree`` is on because real responses run to tens of MB;
the entity ban is what keeps that safe.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

__all__ = ["UnsafeXMLError", "XMLError", "has_doctype", "parse_qbxml", "split_hcp_response"]


class XMLError(ValueError):
    """A qbXML document could not be read."""


class UnsafeXMLError(XMLError):
    """The document declares a DTD or entities, which qbXML never does."""


# What may precede the root element besides a DOCTYPE: white space, the XML
# declaration and other processing instructions, comments.
_PROLOG_ITEM = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)


def has_doctype(data: bytes) -> bool:
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


def _parser() -> etree.XMLParser:
    # lxml parser objects must not be shared between threads; they are cheap.
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=True,
        remove_blank_text=False,
    )


def parse_qbxml(text: str | bytes) -> etree._Element:
    """Parse a qbXML document; refuse DTDs.

    Raises:
        UnsafeXMLError: the document declares a DTD or entities.
        XMLError: the document is not well-formed.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    if has_doctype(data):
        raise UnsafeXMLError("qbXML must not declare a DOCTYPE or entities")
    try:
        return etree.fromstring(data, _parser())
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
