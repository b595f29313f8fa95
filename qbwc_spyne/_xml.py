"""Parsing qbXML safely.

Strategy: qbXML comes from QuickBooks through the Web Connector, and neither
ever sends a DTD. So a document type declaration is refused outright rather
than parsed carefully: no entity is ever expanded, no external file or URL
ever loaded. ``huge_tree`` is on because real responses run to tens of MB;
the entity ban is what keeps that safe.
"""

from __future__ import annotations

from lxml import etree

__all__ = ["UnsafeXML", "XMLError", "has_doctype", "parse_qbxml", "split_hcp_response"]


class XMLError(ValueError):
    """A qbXML document could not be read."""


class UnsafeXML(XMLError):
    """The document declares a DTD or entities, which qbXML never does."""


def has_doctype(data: bytes) -> bool:
    """Tell whether ``data`` declares a document type or an entity.

    A byte search rather than a parse, so that nothing of the document is
    processed before the check. Also catches UTF-16 text, in which each
    ASCII character is followed or preceded by a NUL byte.
    """
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        if marker in data:
            return True
        if marker.decode().encode("utf-16-le") in data:
            return True
        if marker.decode().encode("utf-16-be") in data:
            return True
    return False


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
        UnsafeXML: the document declares a DTD or entities.
        XMLError: the document is not well-formed.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    if has_doctype(data):
        raise UnsafeXML("qbXML must not declare a DOCTYPE or entities")
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
