"""qbXML: building requests, choosing the version, reading and streaming responses."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from qbwc_spyne import qbxml
from qbwc_spyne.exceptions import QBWCError, QBXMLBuildError
from qbwc_spyne.qbxml import Rq, Status

from .helpers import TRAFFIC

HCP = (TRAFFIC / "qbxml.HCPResponse.QBPro2014.xml").read_text()


class TestBuilding:
    def test_document_shape(self):
        """Declaration, qbxml version PI, QBXMLMsgsRq with onError, attributes as given."""
        text = qbxml.request(
            Rq("CustomerQueryRq", {"MaxReturned": 5}, request_id="7", iterator="Start"),
            version="12.0",
            on_error="continueOnError",
        )
        lines = text.splitlines()
        assert (
            lines[0] == '<?xml version="1.0" encoding="utf-8"?>'
            and lines[1] == '<?qbxml version="12.0"?>'
        )
        rq = etree.fromstring(text.encode()).find("QBXMLMsgsRq/CustomerQueryRq")
        assert rq.getparent().get("onError") == "continueOnError"
        assert (rq.get("requestID"), rq.get("iterator"), rq.findtext("MaxReturned")) == (
            "7",
            "Start",
            "5",
        )

    def test_values_are_escaped_and_typed(self):
        """&, quotes, <, non-ASCII survive; qbXML forms in schema order; None left out."""
        name = 'Smith & "Sons" <Zoë>'
        text = qbxml.request(
            Rq(
                "CustomerAddRq",
                {
                    "CustomerAdd": {
                        "Name": name,
                        "IsActive": False,
                        "Notes": None,
                        "OpenBalanceDate": date(2024, 3, 1),
                        "OpenBalance": Decimal("12.50"),
                    }
                },
            )
        )
        add = etree.fromstring(text.encode()).find(".//CustomerAdd")
        assert add.findtext("Name") == name
        assert [c.tag for c in add] == ["Name", "IsActive", "OpenBalance", "OpenBalanceDate"]
        assert (
            add.findtext("IsActive"),
            add.findtext("OpenBalanceDate"),
            add.findtext("OpenBalance"),
        ) == ("false", "2024-03-01", "12.50")

    def test_order_and_repeats(self):
        """Unchecked, fields keep their order; lists repeat; (tag, value) pairs interleave."""
        text = qbxml.request(
            Rq(
                "InvoiceAddRq",
                {
                    "InvoiceAdd": [
                        ("CustomerRef", {"FullName": "A"}),
                        ("InvoiceLineAdd", {"ItemRef": {"FullName": "X"}, "Quantity": 1}),
                        ("Memo", "between"),
                        ("InvoiceLineAdd", {"ItemRef": {"FullName": "Y"}, "Quantity": 2}),
                    ]
                },
                validate=False,
            )
        )
        add = etree.fromstring(text.encode()).find(".//InvoiceAdd")
        assert [c.tag for c in add] == ["CustomerRef", "InvoiceLineAdd", "Memo", "InvoiceLineAdd"]
        lists = etree.fromstring(
            qbxml.request(Rq("CustomerQueryRq", {"FullName": ["A", "B"]})).encode()
        )
        assert [e.text for e in lists.iter("FullName")] == ["A", "B"]

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            (lambda: qbxml.request(Rq("CustomerQuery")), "ends in Rq"),
            (lambda: qbxml.request(Rq("CustomerQueryRq"), on_error="ignore"), "on_error"),
            (lambda: qbxml.request(Rq("CustomerQueryRq"), version="13"), "13.0"),
        ],
    )
    def test_mistakes_are_refused(self, call, message):
        """A request name without Rq, an unknown onError, a malformed version: QBXMLBuildError."""
        with pytest.raises(QBXMLBuildError, match=message) as refused:
            call()
        assert isinstance(refused.value, QBWCError) and isinstance(refused.value, ValueError)


def test_a_control_character_is_a_schema_problem_naming_its_path_not_a_bare_value_error():
    """XML 1.0 cannot carry U+0001: the request is refused with its path, as any other problem."""
    rq = qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": "a\x01b", "Phone": ["5\x02"]}})
    with pytest.raises(qbxml.SchemaError) as caught:
        qbxml.request(rq)
    assert [path for path, _ in caught.value.problems] == ["CustomerAdd/Name", "CustomerAdd/Phone"]
    assert "control character" in str(caught.value)


def test_a_control_character_in_a_request_attribute_is_a_schema_problem():
    """A requestID lxml cannot write is named as any other problem, not a bare ValueError."""
    with pytest.raises(qbxml.SchemaError, match="requestID holds a control character"):
        qbxml.request(qbxml.Rq("CustomerQueryRq", request_id="\x1f"))


class TestVersion:
    @pytest.mark.parametrize(
        ("cap", "chosen"), [("13.0", "13.0"), ("12.0", "12.0"), ("99.0", "13.0"), ("0.5", "0.5")]
    )
    def test_highest_supported_under_the_cap(self, cap, chosen):
        """The company's highest version not above the cap; the cap when none qualifies."""
        host = qbxml.parse(HCP)
        assert chosen == qbxml.choose_version(etree.tostring(host, encoding="unicode"), cap=cap)

    def test_without_a_host_response_the_cap_is_used(self):
        """Later sendRequestXML calls carry no HCP response."""
        assert qbxml.choose_version("", cap="11.0") == "11.0"
        assert qbxml.supported_versions(HCP)[-1] == "13.0"


class TestReading:
    @pytest.mark.parametrize(
        ("name", "status", "code"),
        [
            ("qbxml.CustomerAddRs.ok.xml", Status.OK, 0),
            ("qbxml.CustomerQueryRs.status500-warn.xml", Status.WARNING, 500),
            ("qbxml.CustomerQueryRs.status3120-error.xml", Status.ERROR, 3120),
        ],
    )
    def test_status_classes_of_real_answers(self, name, status, code):
        """OK, warning and error, read from QuickBooks' own answers."""
        (result,) = qbxml.parse_response((TRAFFIC / name).read_text())
        assert (result.status, result.status_code, result.ok) == (
            status,
            code,
            status is not Status.ERROR,
        )

    @pytest.mark.parametrize(
        ("code", "status"),
        [
            (0, Status.OK),
            (1, Status.NO_MATCH),
            (2, Status.INFO),
            (499, Status.INFO),
            (500, Status.WARNING),
            (999, Status.WARNING),
            (1000, Status.ERROR),
        ],
    )
    def test_status_boundaries(self, code, status):
        """1 is no match; 500-999 warnings; 1000 and up errors."""
        assert Status.of(code) is status

    def test_records_convert_to_dicts(self):
        """Leaves as text, groups as dicts, repeated tags as lists."""
        (result,) = qbxml.parse_response((TRAFFIC / "qbxml.CustomerAddRs.ok.xml").read_text())
        record = result.records[0].to_dict()
        assert record["ListID"] == "8000001B-1405768916"
        assert record["BillAddress"] == {
            "Addr1": "123 Main St.",
            "City": "Mountain View",
            "State": "CA",
            "PostalCode": "94566",
        }
        doubled = qbxml.parse_response(
            '<QBXML><QBXMLMsgsRs><XRs statusCode="0"><XRet><A>1</A><A>2</A>'
            "</XRet></XRs></QBXMLMsgsRs></QBXML>"
        )
        assert doubled[0].records[0].to_dict() == {"A": ["1", "2"]}

    def test_iterator_attributes(self):
        """iteratorID and iteratorRemainingCount are read."""
        text = (
            '<QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="3" statusCode="0"'
            ' iteratorRemainingCount="18"'
            ' iteratorID="{x}"/></QBXMLMsgsRs></QBXML>'
        )
        (result,) = qbxml.parse_response(text)
        assert (result.request_id, result.iterator_id, result.remaining_count) == ("3", "{x}", 18)

    @pytest.mark.parametrize(
        "text",
        [
            '<!DOCTYPE QBXML [<!ENTITY a "b">]><QBXML/>',
            "<QBXML><QBXMLMsgsRs>",
            "<Other/>",
            '<QBXML><QBXMLMsgsRs><XRs statusCode="x"/></QBXMLMsgsRs></QBXML>',
        ],
    )
    def test_bad_documents_are_refused(self, text):
        """DOCTYPEs, malformed XML, other roots, malformed numbers: XMLError."""
        with pytest.raises(qbxml.XMLError):
            qbxml.parse_response(text)


class TestStreaming:
    def document(self, records: int) -> str:
        body = "".join(
            f"<CustomerRet><ListID>{n}</ListID><Name>C{n}</Name></CustomerRet>"
            for n in range(records)
        )
        return (
            '<?xml version="1.0" ?>\n<QBXML><QBXMLMsgsRs>'
            f'<CustomerQueryRs requestID="1" statusCode="0">{body}</CustomerQueryRs>'
            '<InvoiceQueryRs requestID="2" statusCode="1"/></QBXMLMsgsRs></QBXML>'
        )

    @pytest.mark.parametrize("source", ["str", "bytes", "file"])
    def test_stream_yields_every_record_in_order(self, source):
        """Same records as the whole-document parse, from str, bytes or a file, in small chunks."""
        text = self.document(500)
        sources: dict[str, str | bytes | io.BytesIO] = {
            "str": text,
            "bytes": text.encode(),
            "file": io.BytesIO(text.encode()),
        }
        data = sources[source]
        streamed = [
            (result.request_id, record.findtext("ListID"))
            for result, record in qbxml.stream(data, chunk_size=97)
        ]
        whole = qbxml.parse_response(text)
        assert streamed == [("1", r.findtext("ListID")) for r in whole[0].records]

    def most_held(self, records: int) -> int:
        held = [
            len(record.getparent())
            for _, record in qbxml.stream(self.document(records), chunk_size=256)
        ]
        return max(held)

    def test_memory_is_bounded_by_a_chunk_not_the_document(self):
        """The tree holds at most a chunk's worth of records (256 B / ~60 B a record),
        however long the document: 2,000 or 20,000 records alike."""
        assert self.most_held(2_000) == self.most_held(20_000) <= 256 // 60 + 2

    def test_results_without_records_are_reported(self):
        """stream_results also yields each response's end, so a no-match is seen."""
        ends = [
            (r.request_id, r.status)
            for r, record in qbxml.stream_results(self.document(3))
            if record is None
        ]
        assert ends == [("1", Status.OK), ("2", Status.NO_MATCH)]

    def test_stream_refuses_a_doctype(self):
        """No entity is ever expanded when streaming either."""
        with pytest.raises(qbxml.UnsafeXMLError):
            list(qbxml.stream('<!DOCTYPE QBXML [<!ENTITY a "b">]><QBXML>&a;</QBXML>'))
        with pytest.raises(qbxml.XMLError):
            list(qbxml.stream("<QBXML><QBXMLMsgsRs><XRs statusCode='0'><XRet>"))


class TestStreamingProlog:
    RESPONSE = (
        "<QBXML><QBXMLMsgsRs>"
        '<CustomerQueryRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="ok">'
        "<CustomerRet><Name>Ada</Name></CustomerRet></CustomerQueryRs>"
        "</QBXMLMsgsRs></QBXML>"
    )
    DOCTYPE = '<!DOCTYPE QBXML [<!ENTITY x "expanded">]>'

    @pytest.mark.parametrize(
        ("item", "count"), [(" ", 70_000), ("<?p?>", 14_000), ("<!-- c -->", 7_000)]
    )
    @pytest.mark.parametrize("chunk_size", [1, 7, 1 << 16])
    def test_a_doctype_after_a_long_prolog_is_refused_in_any_chunking(
        self, item, count, chunk_size
    ):
        """A DOCTYPE past the first chunk is still in the prolog, and still refused."""
        filler = item * (count if chunk_size > 1 else 40)  # one byte a chunk is slow
        document = f'<?xml version="1.0"?>{filler}{self.DOCTYPE}{self.RESPONSE}'.encode()
        with pytest.raises(qbxml.UnsafeXMLError):
            list(qbxml.stream(io.BytesIO(document), chunk_size=chunk_size))

    @pytest.mark.parametrize("chunk_size", [1, 3, 1 << 16])
    def test_a_long_prolog_without_a_doctype_is_read(self, chunk_size):
        """Comments and instructions across chunk boundaries are no reason to refuse."""
        prolog = '<?xml version="1.0"?>' + "<!-- a comment -->" * 500 + "<?pi x?>"
        document = (prolog + self.RESPONSE).encode()
        names = [
            r.findtext("Name") for _, r in qbxml.stream(io.BytesIO(document), chunk_size=chunk_size)
        ]
        assert names == ["Ada"]

    def test_a_prolog_that_never_ends_is_refused_within_a_bound(self):
        """An endless prolog is not buffered for ever."""
        endless = b'<?xml version="1.0"?>' + b"<!-- c -->" * 200_000
        with pytest.raises(qbxml.XMLError, match="prolog"):
            list(qbxml.stream(io.BytesIO(endless + self.RESPONSE.encode())))


REPORT = (
    Path(__file__).resolve().parent
    / "data"
    / "qbxml"
    / "GeneralSummaryReportQueryRs.InventoryStockStatus.xml"
).read_text()


class TestAttributes:
    """A report's cells are attributes: ``to_dict`` keeps them as ``"@name"``."""

    def test_report_cells_keep_their_attributes(self):
        """The real Inventory Stock Status report: each cell's column and value, each row's."""
        (result,) = qbxml.parse_response(REPORT)
        row = result.records[0].to_dict()["ReportData"]["DataRow"][0]
        assert row["@rowNumber"] == "2"
        assert row["RowData"] == {"@rowType": "item", "@value": "another inventory"}
        assert row["ColData"][:2] == [
            {"@colID": "1", "@value": "another inventory"},
            {"@colID": "4", "@value": "5"},
        ]

    def test_typed_attributes_are_read_as_their_schema_types(self):
        """colID and rowNumber are integers by the schema; value stays text; children typed."""
        (result,) = qbxml.parse_response(REPORT, typed=True)
        report = result.typed[0]
        assert report["NumRows"] == 6
        assert report["ColDesc"][1] == {
            "@colID": 2,
            "@dataType": "STRTYPE",
            "ColTitle": [{"@titleRow": 1, "@value": "Item Description"}],
            "ColType": "ItemDesc",
        }
        assert report["ReportData"]["SubtotalRow"][0]["ColData"][1] == {"@colID": 5, "@value": "17"}

    def test_an_attribute_and_text_together_put_the_text_under_hash_text(self):
        """An element outside the schema may carry both; neither is lost, typed or not."""
        text = (
            '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" '
            'statusSeverity="Info"><CustomerRet><Nickname lang="fr">Zoé</Nickname><Phone>1</Phone>'
            "</CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>"
        )
        (result,) = qbxml.parse_response(text, typed=True)
        expected = {"Nickname": {"@lang": "fr", "#text": "Zoé"}, "Phone": "1"}
        assert result.records[0].to_dict() == expected
        assert {k: result.typed[0][k] for k in expected} == expected

    def test_a_malformed_typed_attribute_names_its_path(self):
        bad = REPORT.replace('colID="4"', 'colID="four"', 1)
        with pytest.raises(qbxml.XMLError, match=r"ColDesc/@colID|ColDesc@colID"):
            qbxml.parse_response(bad, typed=True)

    def test_streaming_keeps_attributes_too(self):
        ((_, record),) = list(qbxml.stream(REPORT, chunk_size=64, typed=True))
        assert record["ReportData"]["DataRow"][2]["ColData"][-2] == {
            "@colID": 8,
            "@value": "2010-09-27",
        }
