"""The DOCTYPE check that runs before any XML is parsed."""

from __future__ import annotations

import pytest

from qbwc_spyne._xml import UnsafeXMLError, XMLError, has_doctype, parse_qbxml

SOAP = b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"/>'


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE x><x/>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
        b'<?xml version="1.0"?>\n<!-- note -->\n  <?pi x?> <!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
        b"\xef\xbb\xbf<!DOCTYPE x><x/>",
        b"<!-- never closed <x/>",
        b'<!ENTITY a "b"><x/>',
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x><x/>'.encode("utf-16"),
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x><x/>'.encode("utf-16-be"),
    ],
    ids=[
        "bare",
        "internal-entity",
        "after-prolog-items",
        "utf8-bom",
        "unclosed-comment",
        "entity-outside-doctype",
        "utf16-le-bom",
        "utf16-be",
    ],
)
def test_declarations_in_the_prolog_are_found(body):
    """Whatever precedes it, a declaration before the root element is found."""
    assert has_doctype(body)


@pytest.mark.parametrize(
    "body",
    [
        SOAP,
        b'<?xml version="1.0" encoding="utf-8"?>' + SOAP,
        b"<x>&lt;!DOCTYPE is only text here</x>",
        b"<x><![CDATA[<!DOCTYPE x>]]></x>",
        b"<!-- <!DOCTYPE x> in a comment --><x/>",
    ],
    ids=["soap", "with-declaration", "escaped-text", "cdata", "in-comment"],
)
def test_documents_without_a_declaration_pass(body):
    """Text, CDATA and comments that mention DOCTYPE are not declarations."""
    assert not has_doctype(body)


def test_a_doctype_after_the_root_is_a_syntax_error_anyway():
    """What the prolog scan leaves alone, libxml2 refuses: no entity is ever declared there."""
    with pytest.raises(XMLError):
        parse_qbxml(b'<x/><!DOCTYPE y [<!ENTITY a "b">]>')
    with pytest.raises(XMLError):
        parse_qbxml(b'<x><!DOCTYPE y [<!ENTITY a "b">]>&a;</x>')


def test_parse_qbxml_refuses_a_doctype_before_parsing():
    """parse_qbxml raises UnsafeXMLError, an XMLError, for any DOCTYPE."""
    with pytest.raises(UnsafeXMLError):
        parse_qbxml('<?xml version="1.0"?><!DOCTYPE QBXML><QBXML/>')


def test_parse_qbxml_reads_text_with_an_encoding_declaration():
    """A str with an encoding declaration is read (lxml refuses such str directly)."""
    root = parse_qbxml('<?xml version="1.0" encoding="utf-8"?><QBXML><A>é</A></QBXML>')
    assert root.findtext("A") == "é"
