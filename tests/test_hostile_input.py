"""Hostile bodies and charsets through the WSGI app: no crash, no DTD parsed, no password logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from werkzeug.test import Client

from qbwc_spyne import QBWCServer
from qbwc_spyne._xml import has_doctype
from qbwc_spyne.log import JSONFormatter
from qbwc_spyne.server._logging import FIELDS

from .helpers import RecordingHandler, fault_of, traffic

SOAP_ENVELOPE = traffic("serverVersion.request.xml")
AUTHENTICATE = traffic("authenticate.request.xml")
DOCTYPE = '<!DOCTYPE x [<!ENTITY a "b">]>'

#: Charsets the Content-Type may name that are not UTF-8 or its ASCII subset.
FOREIGN_CHARSETS = [
    "bogus",
    "utf-7",
    "UTF-7",
    "utf-16",
    "utf-16le",
    "utf-32",
    "latin-1",
    "iso-8859-1",
    "windows-1252",
    "cp500",
    "x-user-defined",
    "",
    '"utf-7"',
]
CODECS = ["utf-8", "utf-7", "utf-16", "utf-16-be", "utf-32", "latin-1", "cp500", "ascii"]


@pytest.fixture(scope="module")
def server() -> QBWCServer:
    return QBWCServer(
        RecordingHandler(server_version={"version": "v1"}, authenticate={}),
        max_body_bytes=256 * 1024,
    )


@contextmanager
def watching_the_parser() -> Iterator[list[tuple[bytes, bool]]]:
    """Record every document lxml parses as an envelope: its bytes, and whether it had a DTD.

    The spy sits on ``lxml.etree.XMLID``, which both spyne's parser and the
    server's call; it records rather than asserts, because an exception
    raised inside the request would be turned into a fault.
    """
    seen: list[tuple[bytes, bool]] = []
    parse = etree.XMLID

    def spy(data: Any, *args: Any, **kwargs: Any) -> Any:
        result = parse(data, *args, **kwargs)
        docinfo = result[0].getroottree().docinfo
        seen.append((data, docinfo.internalDTD is not None or bool(docinfo.doctype)))
        return result

    with mock.patch.object(etree, "XMLID", spy):
        yield seen


def assert_no_dtd_parsed(seen: list[tuple[bytes, bool]]) -> None:
    for data, had_dtd in seen:
        assert not had_dtd, "a DTD reached lxml"
        raw = data if isinstance(data, bytes) else data.encode("utf-8")
        assert not has_doctype(raw)


def post(server: QBWCServer, body: bytes, content_type: str) -> Any:
    return Client(server).post("/", data=body, headers={"Content-Type": content_type})


def assert_well_formed(response: Any) -> None:
    """A status the app documents, an exact Content-Length, and a body readable as its type."""
    assert response.status_code in (200, 413, 415, 500)
    data = response.get_data()
    assert response.headers["Content-Length"] == str(len(data))
    if response.headers["Content-Type"] == "text/xml; charset=utf-8":
        assert data.startswith(b"<?xml")
        etree.fromstring(data)
    else:
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.status_code == 415 and data.decode("utf-8").count("\n") == 1


class TestCharsets:
    @pytest.mark.parametrize("charset", FOREIGN_CHARSETS)
    def test_a_foreign_charset_is_refused_with_415(self, server, charset):
        """Any charset but UTF-8 or ASCII gets one line and 415, never LookupError or a 500."""
        with watching_the_parser() as seen:
            response = post(server, SOAP_ENVELOPE, f"text/xml; charset={charset}")
        assert response.status_code == 415
        assert "utf-8" in response.get_data(as_text=True)
        assert_no_dtd_parsed(seen)

    @pytest.mark.parametrize(
        "content_type",
        [
            "text/xml; charset=utf-8",
            "text/xml; charset=UTF-8",
            'text/xml; charset="utf-8"',
            "text/xml;charset=utf8",
            "text/xml; charset=us-ascii",
            "text/xml",
        ],
    )
    def test_utf8_and_ascii_are_served(self, server, content_type):
        """The Web Connector's own Content-Type and its plain variants are answered."""
        response = post(server, SOAP_ENVELOPE, content_type)
        assert response.status_code == 200 and b"v1" in response.get_data()

    def test_ascii_charset_on_bytes_that_are_not_ascii_is_refused(self, server):
        """charset=ascii with a byte above 127 is refused, not a UnicodeDecodeError."""
        body = AUTHENTICATE.replace(b">bar<", ">bär<".encode())
        response = post(server, body, "text/xml; charset=ascii")
        assert response.status_code == 415
        assert post(server, body, "text/xml; charset=utf-8").status_code == 200

    @pytest.mark.parametrize("encoding", ["utf-7", "latin-1", "utf-16", "cp500", "shift_jis"])
    def test_a_declaration_naming_another_encoding_is_refused(self, server, encoding):
        """<?xml encoding="..."?> other than UTF-8 gets a one-line Client fault."""
        body = SOAP_ENVELOPE.replace(b'encoding="utf-8"', f'encoding="{encoding}"'.encode())
        with watching_the_parser() as seen:
            response = post(server, body, "text/xml; charset=utf-8")
        assert response.status_code == 500
        code, text = fault_of(response.get_data())
        assert code == "soap:Client" and "UTF-8" in text and encoding in text
        assert_no_dtd_parsed(seen)

    @pytest.mark.parametrize(
        ("body", "content_type"),
        [
            # "<!" hidden as UTF-7 "+ADwAIQ-", which spyne used to decode after the check.
            (
                b'<?xml version="1.0" encoding="utf-7"?>+ADwAIQ-DOCTYPE x +AFs-+ADwAIQ-ENTITY a'
                b" +ACI-b+ACI-+AD4AXQA+-" + SOAP_ENVELOPE[38:],
                "text/xml; charset=utf-7",
            ),
            (b"+ADwAIQ-DOCTYPE x+AD4-" + SOAP_ENVELOPE[38:], "text/xml; charset=utf-7"),
            (b"+ADwAIQ-DOCTYPE x+AD4-" + SOAP_ENVELOPE[38:], "text/xml; charset=utf-8"),
            (
                b'<?xml version="1.0" encoding="utf-7"?>+ADwAIQ-DOCTYPE x+AD4-'
                + SOAP_ENVELOPE[38:],
                "text/xml",
            ),
            (DOCTYPE.encode("cp500") + SOAP_ENVELOPE[38:].decode().encode("cp500"), "text/xml"),
        ],
        ids=[
            "utf7-charset-and-declaration",
            "utf7-charset",
            "utf7-bytes-as-utf8",
            "utf7-declaration",
            "ebcdic",
        ],
    )
    def test_the_utf7_doctype_bypass_is_impossible(self, server, body, content_type):
        """A DOCTYPE encoded so that the byte scan cannot see it never reaches the parser as one."""
        with watching_the_parser() as seen:
            response = post(server, body, content_type)
        assert response.status_code in (415, 500)
        assert_well_formed(response)
        assert_no_dtd_parsed(seen)


def bodies() -> st.SearchStrategy[bytes]:
    """Envelopes, mutated, re-encoded, with DOCTYPEs and junk; and plain random bytes."""
    envelope = st.sampled_from(
        [SOAP_ENVELOPE, AUTHENTICATE, traffic("sendRequestXML.subsequent.request.xml")]
    )
    text = envelope.map(lambda b: b.decode("utf-8"))
    with_doctype = st.tuples(
        text, st.sampled_from([DOCTYPE, "<!DOCTYPE x>", "<!ENTITY a 'b'>"])
    ).map(lambda pair: pair[0].replace("?>", "?>" + pair[1], 1))
    declared = st.tuples(text, st.sampled_from([*CODECS, "bogus", ""])).map(
        lambda pair: pair[0].replace('encoding="utf-8"', f'encoding="{pair[1]}"')
    )
    any_text = st.one_of(text, with_doctype, declared)
    encoded = st.tuples(any_text, st.sampled_from(CODECS)).map(
        lambda pair: pair[0].encode(pair[1], "replace")
    )
    cut = st.tuples(envelope, st.integers(0, 2000)).map(lambda pair: pair[0][: pair[1]])
    spliced = st.tuples(envelope, st.integers(0, 400), st.binary(max_size=40)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    )
    return st.one_of(encoded, cut, spliced, st.binary(max_size=300))


charsets = st.one_of(
    st.sampled_from([*FOREIGN_CHARSETS, "utf-8", "UTF-8", "utf8", "ascii", "us-ascii"]),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies(), charset=charsets, plain=st.booleans())
def test_any_body_with_any_charset_is_answered_and_no_dtd_is_parsed(body, charset, plain):
    """Hypothesis: nothing raises, every answer is well-formed, and no DOCTYPE reaches lxml."""
    server = _shared_server()
    content_type = "text/xml" if plain else f"text/xml; charset={charset}"
    with watching_the_parser() as seen:
        response = post(server, body, content_type)
    assert_well_formed(response)
    assert_no_dtd_parsed(seen)


_SERVERS: list[QBWCServer] = []


def _shared_server() -> QBWCServer:
    # One server for every example: building spyne's application costs ~50 ms.
    if not _SERVERS:
        _SERVERS.append(
            QBWCServer(
                RecordingHandler(server_version={"version": "v1"}, authenticate={}),
                max_body_bytes=256 * 1024,
            )
        )
    return _SERVERS[0]


class _Everything(logging.Handler):
    """A root handler at DEBUG keeping each record formatted, traceback included.

    Three times: as text, as the call's fields (user, ticket prefix, job,
    operation), and as :class:`~qbwc_spyne.log.JSONFormatter` writes it.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.json = JSONFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(" ".join(str(getattr(record, name, "")) for name in FIELDS))
        self.texts.append(self.json.format(record))


@contextmanager
def every_log_record() -> Iterator[list[str]]:
    root = logging.getLogger()
    handler = _Everything()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.texts
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


PASSWORD_CHARS = st.characters(
    min_codepoint=0x30, max_codepoint=0x7A, categories=["Lu", "Ll", "Nd"]
)


def authenticate_bodies(password: str) -> st.SearchStrategy[tuple[bytes, str]]:
    """authenticate bodies holding ``password``: plain, CDATA, a comment inside, cut, re-encoded."""
    plain = AUTHENTICATE.decode().replace(">bar<", f">{password}<")
    half = len(password) // 2
    variants = st.sampled_from(
        [
            plain,
            plain.replace(f">{password}<", f"><![CDATA[{password}]]><"),
            plain.replace(f">{password}<", f">{password[:half]}<!-- x -->{password[half:]}<"),
            plain.replace(f">{password}<", f"><!-- c --><![CDATA[{password}]]><"),
            plain.replace("</authenticate>", "<extra>1</extra></authenticate>"),
            plain.replace("<soap:Body>", "<soap:Body><junk>").replace(
                "</soap:Body>", "</x></soap:Body>"
            ),
        ]
    )
    cut_point = plain.index(password) + len(password)
    cut = st.tuples(variants, st.integers(cut_point, len(plain))).map(lambda p: p[0][: p[1]])
    codec = st.sampled_from(["utf-8", "utf-8", "utf-16", "utf-7", "latin-1", "ascii"])
    charset = st.sampled_from(["utf-8", "utf-16", "utf-7", "ascii", "bogus", ""])
    return st.tuples(st.one_of(variants, cut), codec, charset).map(
        lambda t: (t[0].encode(t[1]), f"text/xml; charset={t[2]}" if t[2] else "text/xml")
    )


#: Longest formatted log record allowed: a traceback of ours fits, a body does not.
RECORD_BOUND = 4000


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    # Letters and digits mixed: an all-letter password may be a word the logs
    # rightly hold ("authenticate"), which would fail the test for no leak.
    password=st.text(PASSWORD_CHARS, min_size=12, max_size=24)
    .filter(lambda p: any(c.isdigit() for c in p) and any(c.isalpha() for c in p))
    .map(lambda p: "Pw" + p),
)
def test_a_planted_password_never_reaches_any_log_record(data, password):
    """Hypothesis: mutated authenticate bodies; no record, its call's fields or JSON holds it."""
    body, content_type = data.draw(authenticate_bodies(password))
    server = _shared_server()
    with every_log_record() as texts:
        response = post(server, body, content_type)
    assert_well_formed(response)
    for text in texts:
        assert password not in text
        assert password[2:] not in text
        assert len(text) <= RECORD_BOUND


def test_logs_keep_operation_size_and_error_of_a_cut_off_authenticate():
    """A body cut after the password: one line with operation, size and error; no password."""
    server = _shared_server()
    body = AUTHENTICATE.replace(b">bar<", b">Pw-cut-off-secret<")[:-40]
    with every_log_record() as texts:
        response = post(server, body, "text/xml; charset=utf-8")
    assert response.status_code == 500
    (line,) = [t for t in texts if "fault" in t and not t.startswith("{")]  # the text line
    assert f"authenticate ({len(body)} bytes)" in line and "XMLSyntaxError" in line
    assert not any("cut-off-secret" in t for t in texts)
