"""qbXML: reading QuickBooks' answers safely.

``parse`` reads a qbXML document with no DTD, no entity expansion and no
network access; a document that declares a DOCTYPE is refused before it is
parsed.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from lxml import etree

from ._xml import UnsafeXMLError, XMLError, parse_qbxml

__all__ = ["UnsafeXMLError", "XMLError", "parse"]


def parse(text: str | bytes) -> etree._Element:
    """Parse a qbXML document and return its root element (``<QBXML>``).

    Raises:
        UnsafeXMLError: the document declares a DOCTYPE or entities.
        XMLError: the document is not well-formed.
    """
    return parse_qbxml(text)
