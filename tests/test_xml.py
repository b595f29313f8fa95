"""The DOCTYPE check that runs before any XML is parsed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from qbwc_spyne import qbxml
from qbwc_spyne._xml import (
    _USUAL_DECLARATION,
    UnsafeXMLError,
    XMLError,
    _check_utf8_prolog_scan,
    check_utf8_prolog,
    declared_encoding,
    has_doctype,
    parse_qbxml,
    utf8_parser,
)
from qbwc_spyne.exceptions import QBWCError
from qbwc_spyne.server._logging import LIMIT, redact, shorten

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


class TestUTF8Only:
    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (b'<?xml version="1.0" encoding="utf-8"?><x/>', "utf-8"),
            (b"<?xml version='1.0' encoding='UTF-7' ?><x/>", "UTF-7"),
            (b'\xef\xbb\xbf<?xml version="1.0" encoding="latin-1"?><x/>', "latin-1"),
            (b'<?xml version="1.0" ?><x/>', None),
            (b"<x/>", None),
            (b'<x/><?xml version="1.0" encoding="utf-7"?>', None),
        ],
    )
    def test_declared_encoding_reads_only_the_declaration_at_the_start(self, data, expected):
        """The encoding named by the XML declaration, and only by one at the very start."""
        assert declared_encoding(data) == expected

    @pytest.mark.parametrize(
        "data",
        [
            '<?xml version="1.0" encoding="utf-16"?><x/>'.encode("utf-16"),
            "<x/>".encode("utf-16-be"),
            "<x/>".encode("utf-32-le"),
            b'<?xml version="1.0" encoding="utf-7"?><x/>',
            b'<?xml version="1.0" encoding="iso-8859-1"?><x/>',
        ],
        ids=["utf16-bom", "utf16-be", "utf32", "utf7-declared", "latin1-declared"],
    )
    def test_check_utf8_prolog_refuses_other_encodings(self, data):
        """A document that is, or says it is, in another encoding is refused before parsing."""
        with pytest.raises(XMLError, match="UTF-8"):
            check_utf8_prolog(data)

    def test_check_utf8_prolog_refuses_a_doctype_as_unsafe(self):
        """A DOCTYPE in a UTF-8 document is an UnsafeXMLError."""
        with pytest.raises(UnsafeXMLError):
            check_utf8_prolog(b'<?xml version="1.0" encoding="utf-8"?><!DOCTYPE x><x/>')
        check_utf8_prolog(b'<?xml version="1.0" encoding="US-ASCII"?><x/>')

    def test_the_parser_reads_utf8_whatever_the_declaration_says(self):
        """Told UTF-8, the parser ignores a UTF-7 declaration: "+ADw-" stays text, never "<"."""
        data = b'<?xml version="1.0" encoding="utf-7"?><x>+ADw-y/+AD4-</x>'
        assert etree.fromstring(data, utf8_parser()).text == "+ADw-y/+AD4-"

    def test_parse_qbxml_bytes_must_be_utf8(self):
        """Bytes declaring UTF-16 are refused; the same document as str is read."""
        text = '<?xml version="1.0" encoding="utf-16"?><QBXML><A>é</A></QBXML>'
        with pytest.raises(XMLError, match="UTF-8"):
            parse_qbxml(text.encode("utf-16"))
        with pytest.raises(XMLError, match="UTF-8"):
            parse_qbxml(text.encode("utf-8"))
        assert parse_qbxml(text).findtext("A") == "é"

    def test_parse_qbxml_refuses_a_utf7_doctype_in_bytes(self):
        """The UTF-7 spelling of <!DOCTYPE is refused in bytes, and is only text in a str."""
        data = b'<?xml version="1.0" encoding="utf-7"?>+ADwAIQ-DOCTYPE x+AD4-<QBXML/>'
        with pytest.raises(XMLError):
            parse_qbxml(data)
        with pytest.raises(XMLError, match="well-formed"):
            parse_qbxml(data.decode("ascii"))


def _outcome(check, data):
    """What a prolog check does with ``data``: None, or its error's class and message."""
    try:
        check(data)
    except XMLError as exc:
        return type(exc), str(exc)
    return None


# Pieces a prolog is made of, so that generated documents hit every branch.
_PIECES = st.sampled_from(
    [
        *(b"<", b"!", b"?", b">", b"-", b"--", b"<!--", b"-->", b"<?", b"?>", b"<!DOCTYPE x>"),
        *(b"<!ENTITY", b" ", b"\n", b"\x00", b"x", b"<x/>", b"<soap:Envelope>", _USUAL_DECLARATION),
    ]
)


class TestUsualPrologFastPath:
    @given(st.lists(st.one_of(_PIECES, st.binary(max_size=4)), max_size=8))
    def test_the_web_connectors_prolog_is_judged_as_the_full_scan_judges_it(self, pieces):
        """After the Web Connector's own declaration, anything: same answer as the full scan."""
        data = _USUAL_DECLARATION + b"".join(pieces)
        assert _outcome(check_utf8_prolog, data) == _outcome(_check_utf8_prolog_scan, data)

    @pytest.mark.parametrize(
        "after", [b"<!DOCTYPE x><x/>", b"<!--c--><!DOCTYPE x><x/>", b"<?pi?><!DOCTYPE x>", b"<!"]
    )
    def test_a_doctype_after_the_usual_declaration_is_still_refused(self, after):
        """The fast path takes only a root element straight after the declaration."""
        with pytest.raises(UnsafeXMLError):
            check_utf8_prolog(_USUAL_DECLARATION + after)


class TestRedaction:
    @pytest.mark.parametrize(
        "text",
        [
            "<strPassword>Pw-secret</strPassword></authenticate>",
            "<a:strPassword>Pw-secret",
            "<strPassword><![CDATA[Pw-secret]]></strPassword>",
            "<strPassword>Pw-<!-- note -->secret</strPassword>",
            "<strPassword><!-- a --><![CDATA[Pw-</x>secret]]></strPassword>",
            "<STRPASSWORD xml:lang='en'>Pw-secret",
            "<strPassword",
        ],
        ids=["closed", "cut-off", "cdata", "comment-inside", "cdata-with-close", "attrs", "bare"],
    )
    def test_everything_after_strpassword_is_redacted(self, text):
        """From <strPassword to the end of the text: cut bodies, CDATA and comments included."""
        redacted = redact("<strUserName>u</strUserName>" + text)
        assert "secret" not in redacted
        assert redacted == "<strUserName>u</strUserName><strPassword>***"

    def test_shorten_redacts_bytes_in_utf16_and_bounds_the_length(self):
        """Bytes are read as text, NULs dropped; the result never exceeds LIMIT by much."""
        data = "<strPassword>Pw-secret</strPassword>".encode("utf-16-le")
        assert "secret" not in shorten(data)
        long = shorten("x" * 10 * LIMIT + "<strPassword>Pw-secret")
        assert "secret" not in long and len(long) < LIMIT + 40

    def test_a_handler_on_a_spyne_logger_gets_records_redacted_without_traceback(self):
        """Attached directly to one of spyne's loggers, a handler still sees no password."""
        import logging

        from qbwc_spyne import QBWCServer

        from .helpers import RecordingHandler

        QBWCServer(RecordingHandler())
        seen: list[str] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(logging.Formatter().format(record))

        log = logging.getLogger("spyne.protocol.soap.soap11.invalid")
        keep, level = Keep(logging.DEBUG), log.level
        log.addHandler(keep)
        log.setLevel(logging.DEBUG)
        try:
            body = b"<strPassword>Pw-direct-secret"
            try:
                raise ValueError("bad <strPassword>Pw-direct-secret")
            except ValueError:
                log.exception("%r in string %r", "error", body)
            log.error("in %(body)s", {"body": body.decode()})
            log.error(body.decode())
        finally:
            log.removeHandler(keep)
            log.setLevel(level)
        assert len(seen) == 3
        assert not any("secret" in text or "Traceback" in text for text in seen)
        assert "[ValueError]" in seen[0]


def test_parse_qbxml_bytes_with_a_doctype_is_unsafe():
    """Bytes in UTF-8 with a DOCTYPE raise UnsafeXMLError, as text does."""
    with pytest.raises(UnsafeXMLError):
        parse_qbxml(b'<?xml version="1.0" encoding="utf-8"?><!DOCTYPE QBXML><QBXML/>')


@pytest.mark.parametrize(
    ("document", "error"),
    [(b"<QBXML><QBXMLMsgsRs>", XMLError), (b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', UnsafeXMLError)],
)
def test_unreadable_qbxml_is_a_library_error_and_a_value_error(document, error):
    """An unreadable document raises a QBWCError, which old ``except ValueError`` code catches."""
    with pytest.raises(error) as raised:
        qbxml.parse_response(document)
    assert isinstance(raised.value, QBWCError) and isinstance(raised.value, ValueError)
