"""Requests in schema order, checked before sending; the generated tables; typed answers."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from qbwc_spyne import qbxml
from qbwc_spyne.exceptions import QBWCError
from qbwc_spyne.qbxml import Rq, SchemaError, _schema
from tools import codegen_schema

from .helpers import TRAFFIC
from .schema_values import aggregate_values, shuffled

ROOT = Path(__file__).resolve().parent.parent
XSD_DIR = codegen_schema.default_xsd_dir()
needs_xsd = pytest.mark.skipif(
    not (XSD_DIR / "qbxmlops130.xsd").is_file(),
    reason="Intuit's qbXML XSD (../shared/reference/qbxml) is not beside the repository",
)

WRITES = [
    f"{entity}{verb}Rq"
    for entity in (
        "Customer",
        "ItemService",
        "ItemInventory",
        "ItemNonInventory",
        "Invoice",
        "SalesReceipt",
        "ReceivePayment",
    )
    for verb in ("Add", "Mod")
]


@pytest.fixture(scope="module")
def xsd() -> dict[str, etree.XMLSchema]:
    """Intuit's schema of each version, loaded by lxml: the oracle."""
    return {
        version: etree.XMLSchema(etree.parse(str(XSD_DIR / name)))
        for version, name in codegen_schema.XSD_FILES.items()
    }


def build(*requests: Rq, version: str = "13.0", validate: bool = True) -> etree._Element:
    return etree.fromstring(qbxml.request(*requests, version=version, validate=validate).encode())


def refused(rq: Rq, version: str = "13.0") -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        qbxml.request(rq, version=version)
    return caught.value


def add_invoice(lines: int) -> dict[str, object]:
    return {
        "InvoiceAdd": {
            "RefNumber": "INV-1",
            "InvoiceLineAdd": [
                {"Amount": Decimal("10.00"), "ItemRef": {"FullName": "Hours"}, "Desc": f"line {i}"}
                for i in range(lines)
            ],
            "CustomerRef": {"FullName": "Ada"},
            "TxnDate": date(2024, 3, 1),
        }
    }


class TestGenerator:
    @needs_xsd
    def test_committed_module_matches_the_reference_xsd(self):
        """``--check`` passes: the committed tables are what the XSD gives today."""
        result = subprocess.run(
            [sys.executable, "-m", "tools.codegen_schema", "--check"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    @needs_xsd
    def test_check_names_the_first_difference(self, tmp_path, capsys):
        """A stale module fails the check, and the message gives the line that differs."""
        stale = tmp_path / "_qbxml_schema.py"
        lines = codegen_schema.OUTPUT_PATH.read_text(encoding="utf-8").splitlines(keepends=True)
        number = next(i for i, line in enumerate(lines) if line.startswith("CustomerAdd="))
        lines[number] = lines[number].replace("Name:", "Nmae:", 1)
        stale.write_text("".join(lines), encoding="utf-8")
        assert codegen_schema.main(["--check", "--output", str(stale)]) == 1
        error = capsys.readouterr().err
        assert f"line {number + 1}:" in error and "Nmae" in error

    def test_no_xsd_folder_is_a_clear_error(self, tmp_path, capsys):
        """Without the XSD the generator says where it looked instead of crashing."""
        assert codegen_schema.main(["--check", "--xsd", str(tmp_path)]) == 2
        assert str(tmp_path) in capsys.readouterr().err

    def test_iterator_and_write_tables(self):
        """46 queries take an iterator in 13.0; Add/Mod/Del write, queries do not."""
        assert len(_schema._word_set("13.0", "!iterator")) == 46
        assert _schema.takes_iterator("CustomerQueryRq", "13.0")
        assert not _schema.takes_iterator("HostQueryRq", "13.0")
        assert [_schema.is_write(n) for n in ("InvoiceAddRq", "TxnDelRq", "InvoiceQueryRq")] == [
            True,
            True,
            False,
        ]

    def test_versions_hold_their_own_elements(self):
        """BillAdd's ClassRef and AlertQueryRq exist in 16.0 only."""
        assert "ClassRef" in _schema._aggregate("16.0", "BillAdd").names
        assert "ClassRef" not in _schema._aggregate("13.0", "BillAdd").names
        assert "AlertQueryRq" in _schema.request_names("16.0")
        assert "AlertQueryRq" not in _schema.request_names("13.0")


class TestOrdering:
    @given(st.data())
    @settings(max_examples=30, deadline=None)
    def test_any_key_order_gives_the_schema_order(self, data):
        """Shuffled dicts build the same document as the schema-ordered one."""
        fields = add_invoice(3)
        expected = etree.tostring(build(Rq("InvoiceAddRq", fields)))
        again = shuffled(data.draw, fields)
        assert etree.tostring(build(Rq("InvoiceAddRq", again))) == expected

    def test_children_follow_the_xsd_sequence(self):
        """CustomerAdd's Name comes first, CompanyName after IsActive, whatever the dict says."""
        rq = Rq(
            "CustomerAddRq", {"CustomerAdd": {"CompanyName": "ACME", "IsActive": True, "Name": "A"}}
        )
        add = build(rq).find(".//CustomerAdd")
        assert [c.tag for c in add] == ["Name", "IsActive", "CompanyName"]

    def test_pairs_may_interleave_lines_and_groups(self):
        """In a repeated choice the caller's order of lines and line groups is kept."""
        rq = Rq(
            "InvoiceAddRq",
            {
                "InvoiceAdd": [
                    ("InvoiceLineGroupAdd", {"ItemGroupRef": {"FullName": "Kit"}}),
                    ("Memo", "m"),
                    ("InvoiceLineAdd", {"Desc": "after the group"}),
                    ("CustomerRef", {"FullName": "Ada"}),
                ]
            },
        )
        add = build(rq).find(".//InvoiceAdd")
        assert [c.tag for c in add] == [
            "CustomerRef",
            "Memo",
            "InvoiceLineGroupAdd",
            "InvoiceLineAdd",
        ]

    def test_demo_query_keeps_working(self):
        """The demo's iterated CustomerQueryRq with a checkpoint string builds as before."""
        fields = {
            "MaxReturned": 100,
            "ActiveStatus": "All",
            "FromModifiedDate": "2024-01-02T10:00:00-08:00",
        }
        rq = build(Rq("CustomerQueryRq", fields, iterator="Start")).find(".//CustomerQueryRq")
        assert [(c.tag, c.text) for c in rq] == [
            ("MaxReturned", "100"),
            ("ActiveStatus", "All"),
            ("FromModifiedDate", "2024-01-02T10:00:00-08:00"),
        ]


class TestFormatting:
    @pytest.mark.parametrize(
        ("element", "value", "text"),
        [
            ("IsActive", True, "true"),
            ("IsActive", False, "false"),
            ("OpenBalance", Decimal("12.5"), "12.50"),
            ("OpenBalance", 7, "7.00"),
            ("OpenBalance", 0.1 + 0.2, "0.30"),
            ("OpenBalance", Decimal("-3.100"), "-3.10"),
            ("OpenBalanceDate", date(2024, 2, 29), "2024-02-29"),
        ],
    )
    def test_python_values_take_their_qbxml_form(self, element, value, text):
        """bool, Decimal, int, float and date become the text QuickBooks expects."""
        rq = Rq("CustomerAddRq", {"CustomerAdd": {"Name": "A", element: value}})
        assert build(rq).findtext(f".//{element}") == text

    @pytest.mark.parametrize(
        ("element", "value", "text"),
        [
            ("Quantity", Decimal("2.50000"), "2.5"),
            ("Quantity", 3, "3"),
            ("Rate", 9.123456, "9.12346"),
        ],
    )
    def test_prices_and_quantities_keep_up_to_five_places(self, element, value, text):
        """QUANTYPE and PRICETYPE: no trailing zeros, floats rounded to five places."""
        fields = {
            "InvoiceAdd": {"CustomerRef": {"FullName": "A"}, "InvoiceLineAdd": {element: value}}
        }
        assert build(Rq("InvoiceAddRq", fields)).findtext(f".//{element}") == text

    def test_aware_datetime_keeps_its_offset(self):
        """A datetime with a timezone is written with its offset, to the second."""
        moment = datetime(2024, 7, 1, 9, 30, 15, 999, tzinfo=timezone(timedelta(hours=-7)))
        rq = Rq("CustomerQueryRq", {"FromModifiedDate": moment})
        assert build(rq).findtext(".//FromModifiedDate") == "2024-07-01T09:30:15-07:00"

    def test_naive_datetime_is_refused(self):
        """Without a timezone QuickBooks would guess: refused with a message saying so."""
        error = refused(Rq("CustomerQueryRq", {"FromModifiedDate": datetime(2024, 7, 1, 9, 30)}))
        assert error.problems[0][0] == "FromModifiedDate" and "naive" in error.problems[0][1]


class TestProblems:
    def test_every_problem_is_listed_with_its_path(self):
        """One SchemaError names each fault: misspelt, too long, wrong type, precision."""
        fields = add_invoice(3)
        invoice = fields["InvoiceAdd"]
        assert isinstance(invoice, dict)
        invoice["CustomerRef"] = {"FullNam": "Ada"}
        invoice["InvoiceLineAdd"][1]["Amount"] = Decimal("1.234")
        invoice["InvoiceLineAdd"][2]["Desc"] = "x" * 4096
        invoice["TxnDate"] = "yesterday"
        error = refused(Rq("InvoiceAddRq", fields))
        paths = dict(error.problems)
        assert set(paths) == {
            "InvoiceAdd/CustomerRef/FullNam",
            "InvoiceAdd/InvoiceLineAdd[2]/Amount",
            "InvoiceAdd/InvoiceLineAdd[3]/Desc",
            "InvoiceAdd/TxnDate",
        }
        assert "did you mean FullName" in paths["InvoiceAdd/CustomerRef/FullNam"]
        assert "3070" in paths["InvoiceAdd/InvoiceLineAdd[3]/Desc"]
        assert "decimal places" in paths["InvoiceAdd/InvoiceLineAdd[2]/Amount"]
        assert isinstance(error, QBWCError) and isinstance(error, ValueError)
        assert "InvoiceAdd/TxnDate" in str(error)

    def test_missing_required_element(self):
        """A CustomerAdd without Name is refused naming Name."""
        error = refused(Rq("CustomerAddRq", {"CustomerAdd": {"CompanyName": "ACME"}}))
        assert error.problems == [("CustomerAdd/Name", "is required and missing")]

    def test_value_outside_the_enumeration(self):
        """ActiveStatus takes ActiveOnly, InactiveOnly or All; a near miss is suggested."""
        error = refused(Rq("CustomerQueryRq", {"ActiveStatus": "Al"}))
        assert error.problems[0][0] == "ActiveStatus" and "did you mean All" in error.problems[0][1]

    def test_wrong_type_and_no_qbxml_form(self):
        """A str where an int goes is a wrong type; a set has no qbXML form at all."""
        error = refused(Rq("CustomerQueryRq", {"MaxReturned": "ten", "ActiveStatus": {"All"}}))
        messages = dict(error.problems)
        assert "not an integer" in messages["MaxReturned"]
        assert "set has no qbXML form" in messages["ActiveStatus"]

    def test_choices_are_exclusive(self):
        """ListID and FullName are alternatives of CustomerQueryRq: not both."""
        error = refused(Rq("CustomerQueryRq", {"ListID": "1", "FullName": "A"}))
        assert "QuickBooks takes one of them" in error.problems[0][1]

    def test_iterator_only_where_the_schema_has_one(self):
        """HostQueryRq takes no iterator; CustomerQueryRq does."""
        error = refused(Rq("HostQueryRq", iterator="Start"))
        assert "does not take an iterator" in error.problems[0][1]
        assert build(Rq("CustomerQueryRq", iterator="Start")).find(".//CustomerQueryRq") is not None

    @pytest.mark.parametrize("version", ["13.0", "16.0"])
    def test_metadata_only_on_the_queries_the_schema_gives_it(self, version):
        """CustomerQueryRq takes metaData; HostQueryRq, a query too, refuses it as the XSD does."""

        def problems(name: str) -> tuple[tuple[str, str], ...]:
            document = etree.fromstring(
                f'<QBXML><QBXMLMsgsRq onError="stopOnError"><{name} metaData="NoMetaData"/>'
                "</QBXMLMsgsRq></QBXML>"
            )
            return _schema.check_document(document, version).problems

        assert problems("CustomerQueryRq") == ()
        ((_, message),) = problems("HostQueryRq")
        assert message == "HostQueryRq takes no attribute metaData"

    def test_element_of_a_newer_version_is_refused_for_an_older_company(self):
        """BillAdd/ClassRef is 16.0 only: refused for 13.0, accepted for 16.0."""
        fields = {"BillAdd": {"VendorRef": {"FullName": "V"}, "ClassRef": {"FullName": "C"}}}
        error = refused(Rq("BillAddRq", fields), version="13.0")
        assert error.problems[0][0] == "BillAdd/ClassRef"
        assert "not in qbXML 13.0; qbXML 16.0 has it" in error.problems[0][1]
        assert build(Rq("BillAddRq", fields), version="16.0").find(".//ClassRef") is not None

    def test_unknown_request_offers_the_closest_names(self):
        """A misspelt request name gets the nearest real ones."""
        error = refused(Rq("CustomerAdRq", {}))
        assert "did you mean CustomerAddRq" in error.problems[0][1]
        error = refused(Rq("AlertQueryRq", {}), version="13.0")
        assert "qbXML 16.0 has it" in error.problems[0][1]

    def test_validation_can_be_turned_off(self):
        """validate=False writes an unknown request as given (per Rq or per document)."""
        assert (
            build(Rq("TeleportRq", {"Where": "Mars"}, validate=False)).findtext(".//Where")
            == "Mars"
        )
        assert (
            build(Rq("TeleportRq", {"Where": "Mars"}), validate=False).findtext(".//Where")
            == "Mars"
        )


@needs_xsd
class TestEmptyContent:
    REPORT = (
        Path(__file__).resolve().parent
        / "data"
        / "qbxml"
        / "GeneralSummaryReportQueryRs.InventoryStockStatus.xml"
    ).read_text()

    def test_an_attributes_only_element_holding_a_space_is_refused_as_the_xsd_does(self):
        """ColTitle has empty content: the XSD refuses even white space inside it.

        Element-only content (every other aggregate) allows white space
        between its elements; empty content allows no text at all.
        """
        root = etree.fromstring(self.REPORT.encode())
        assert _schema.check_response(root, "13.0") == ()
        spaced = self.REPORT.replace(
            '<ColTitle titleRow="1" />', '<ColTitle titleRow="1"> </ColTitle>', 1
        )
        problems = _schema.check_response(etree.fromstring(spaced.encode()), "13.0")
        assert [message for _path, message in problems] == ["holds text between its elements"]


class TestAgainstIntuitXSD:
    @pytest.mark.parametrize("version", ["13.0", "16.0"])
    @pytest.mark.parametrize("name", WRITES)
    @given(data=st.data())
    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def test_generated_requests_validate(self, xsd, name, version, data):
        """Every Add/Mod of the main lists and sales, any key order, passes Intuit's XSD."""
        key = str(
            _schema._aggregate(_schema.schema_version(version), "QBXMLMsgsRq").names[name].ref
        )
        fields = data.draw(aggregate_values(version, key))
        document = build(Rq(name, shuffled(data.draw, fields)), version=version)
        assert xsd[version].validate(document), xsd[version].error_log.last_error

    @pytest.mark.parametrize("version", ["13.0", "16.0"])
    @given(data=st.data())
    @settings(
        max_examples=3,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def test_every_request_of_the_version_validates(self, xsd, version, data):
        """All 232 (13.0) or 261 (16.0) requests, drawn from the schema, pass Intuit's XSD."""
        for name in sorted(_schema.request_names(version)):
            key = str(_schema._aggregate(version, "QBXMLMsgsRq").names[name].ref)
            document = build(Rq(name, data.draw(aggregate_values(version, key))), version=version)
            assert xsd[version].validate(document), (name, xsd[version].error_log.last_error)

    @pytest.mark.parametrize("version", ["13.0", "16.0"])
    @pytest.mark.parametrize("name", WRITES)
    @given(data=st.data())
    @settings(
        max_examples=3,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def test_misspelt_or_too_long_fails_before_sending(self, xsd, name, version, data):
        """The schema refuses what Intuit's XSD refuses, naming the path."""
        entity = name.removesuffix("Rq")
        key = str(_schema._aggregate(version, "QBXMLMsgsRq").names[name].ref)
        fields = data.draw(aggregate_values(version, key))
        misspelt = {entity: {**fields[entity], "Memmo": "x"}}
        error = refused(Rq(name, misspelt), version=version)
        assert (f"{entity}/Memmo") in dict(error.problems)
        assert not xsd[version].validate(build(Rq(name, misspelt), version=version, validate=False))
        leaf = next(
            (
                n
                for n in ("Name", "RefNumber", "Memo")
                if n in _schema._aggregate(version, entity).names
            ),
            None,
        )
        if leaf is not None:
            too_long = {entity: {**fields[entity], leaf: "x" * 5000}}
            error = refused(Rq(name, too_long), version=version)
            assert f"{entity}/{leaf}" in dict(error.problems)


class TestTypedAnswers:
    def test_customer_ret_reads_as_python_values(self):
        """Amounts as Decimal, ints, bools, aware datetimes with the offset kept, nested dicts."""
        (result,) = qbxml.parse_response(
            (TRAFFIC / "qbxml.CustomerAddRs.ok.xml").read_bytes(), typed=True
        )
        record = result.typed[0]
        assert record["Balance"] == Decimal("0.00") and isinstance(record["Balance"], Decimal)
        assert record["Sublevel"] == 0 and record["IsActive"] is True
        created = record["TimeCreated"]
        assert created == datetime(2014, 7, 19, 7, 21, 56, tzinfo=timezone(timedelta(hours=-5)))
        assert created.utcoffset() == timedelta(hours=-5)
        assert record["BillAddress"] == {
            "Addr1": "123 Main St.",
            "City": "Mountain View",
            "State": "CA",
            "PostalCode": "94566",
        }

    def test_repeated_elements_are_lists_even_with_one_item(self):
        """An invoice with one line still has a list of lines; dates are dates."""
        text = (
            "<QBXML><QBXMLMsgsRs><InvoiceQueryRs statusCode='0' statusSeverity='Info'>"
            "<InvoiceRet><TxnID>1-1</TxnID><TxnDate>2024-03-01</TxnDate>"
            "<InvoiceLineRet><TxnLineID>2-1</TxnLineID><Quantity>2.5</Quantity>"
            "<Amount>10.00</Amount></InvoiceLineRet></InvoiceRet>"
            "</InvoiceQueryRs></QBXMLMsgsRs></QBXML>"
        )
        record = qbxml.parse_response(text)[0].records[0]
        typed = record.to_dict(typed=True)
        assert typed["TxnDate"] == date(2024, 3, 1)
        assert typed["InvoiceLineRet"] == [
            {"TxnLineID": "2-1", "Quantity": Decimal("2.5"), "Amount": Decimal("10.00")}
        ]
        assert record.to_dict()["InvoiceLineRet"]["Amount"] == "10.00"  # untyped as before

    def test_stream_types_each_record(self):
        """stream(typed=True) yields dicts, typed as they come."""
        text = (TRAFFIC / "qbxml.CustomerAddRs.ok.xml").read_text()
        ((result, record),) = list(qbxml.stream(text, typed=True, chunk_size=64))
        assert result.name == "CustomerAddRs" and record["CreditLimit"] == Decimal("2000.00")

    def test_malformed_typed_value_names_its_path(self):
        """A Balance that is no number is an XMLError naming CustomerRet/Balance."""
        text = (
            "<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode='0' statusSeverity='Info'>"
            "<CustomerRet><Balance>lots</Balance></CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>"
        )
        with pytest.raises(qbxml.XMLError, match="CustomerRet/Balance"):
            qbxml.parse_response(text, typed=True)

    @given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-8))])))
    def test_datetimes_round_trip(self, moment):
        """What the builder writes for a datetime reads back as the same instant and offset."""
        moment = moment.replace(microsecond=0)
        leaf = _schema.Leaf(base="DATETIMETYPE", max_length=None, low=None, high=None, enums=())
        back = _schema._datetime(leaf.format(moment))
        assert isinstance(back, datetime)
        assert back == moment and back.utcoffset() == moment.utcoffset()


def one_problem(rq: Rq, version: str = "13.0") -> tuple[str, str]:
    error = refused(rq, version)
    assert len(error.problems) == 1, error.problems
    return error.problems[0]


def customer(**fields: object) -> Rq:
    return Rq("CustomerAddRq", {"CustomerAdd": {"Name": "A", **fields}})


class TestEveryKindOfValue:
    def test_other_simple_types_take_their_python_values(self):
        """timedelta, UUID, an int in range and a Decimal rate each get their qbXML text."""
        guid = uuid.UUID("6b1f8c52-1a2b-4c3d-8e9f-0a1b2c3d4e5f")
        rq = Rq(
            "TimeTrackingAddRq",
            {
                "TimeTrackingAdd": {
                    "EntityRef": {"FullName": "Ada"},
                    "Duration": timedelta(hours=2, minutes=5, seconds=9),
                    "ExternalGUID": guid,
                }
            },
        )
        add = build(rq).find(".//TimeTrackingAdd")
        assert add.findtext("Duration") == "PT2H5M9S"
        assert add.findtext("ExternalGUID") == "{6B1F8C52-1A2B-4C3D-8E9F-0A1B2C3D4E5F}"
        card = customer(CreditCardInfo={"ExpirationMonth": 12, "ExpirationYear": 2030})
        assert build(card).findtext(".//ExpirationMonth") == "12"
        rate = {"InvoiceAdd": {"CustomerRef": {"FullName": "A"}, "ExchangeRate": Decimal("1.25")}}
        assert build(Rq("InvoiceAddRq", rate)).findtext(".//ExchangeRate") == "1.25"

    @pytest.mark.parametrize(
        ("rq", "path", "words"),
        [
            (customer(CreditCardInfo={"ExpirationMonth": 13}), "ExpirationMonth", "outside 1..12"),
            (customer(OpenBalance=float("inf")), "CustomerAdd/OpenBalance", "can store"),
            (customer(OpenBalance=Decimal("NaN")), "CustomerAdd/OpenBalance", "can store"),
            (customer(OpenBalance=Decimal("1E+14")), "CustomerAdd/OpenBalance", "13 digits"),
            (customer(OpenBalance="12,50"), "CustomerAdd/OpenBalance", "not an amount"),
            (customer(OpenBalance=date(2024, 1, 1)), "CustomerAdd/OpenBalance", "not a date"),
            (customer(OpenBalance=b"12"), "CustomerAdd/OpenBalance", "bytes has no qbXML form"),
            (customer(Name=True), "CustomerAdd/Name", "text, not a bool"),
            (customer(Name={"First": "A"}), "CustomerAdd/Name", "not a group"),
            (customer(BillAddress="12 Main St."), "CustomerAdd/BillAddress", "expects a dict"),
            (
                customer(OpenBalanceDate=datetime(2024, 1, 1, tzinfo=UTC)),
                "CustomerAdd/OpenBalanceDate",
                "not a datetime",
            ),
            (
                customer(ShipToAddress=[{"Name": "S"}] * 51),
                "CustomerAdd/ShipToAddress",
                "at most 50",
            ),
            (
                Rq("CustomerAddRq", {"CustomerAdd": [("Name", "A"), ("Name", "B")]}),
                "CustomerAdd/Name",
                "at most 1",
            ),
            (
                Rq(
                    "InvoiceAddRq",
                    {
                        "InvoiceAdd": {
                            "CustomerRef": {"FullName": "A"},
                            "ExchangeRate": float("nan"),
                        }
                    },
                ),
                "InvoiceAdd/ExchangeRate",
                "can store",
            ),
            (
                Rq(
                    "TimeTrackingAddRq",
                    {"TimeTrackingAdd": {"EntityRef": {"FullName": "A"}, "Duration": 90}},
                ),
                "TimeTrackingAdd/Duration",
                "not a int",
            ),
            (
                Rq("CustomerQueryRq", iterator="Begin"),
                "CustomerQueryRq",
                "not Start, Continue or Stop",
            ),
            (Rq("CustomerQueryRq", "MaxReturned"), "CustomerQueryRq", "expects a dict"),  # type: ignore[arg-type]
        ],
    )
    def test_each_bad_value_is_named(self, rq, path, words):
        """Every kind of bad value gets one problem at its path, saying what is wrong."""
        where, message = one_problem(rq)
        assert where.endswith(path) and words in message, (where, message)

    def test_a_required_repeated_element_needs_its_items(self):
        """CustomerQueryRq's ListID branch needs one ListID at least: an empty list is refused."""
        where, message = one_problem(Rq("CustomerQueryRq", {"ListID": []}))
        assert where == "ListID" and "needs 1" in message

    def test_a_choice_with_no_branch_given_is_named(self):
        """ItemServiceAdd needs SalesOrPurchase or SalesAndPurchase."""
        where, message = one_problem(Rq("ItemServiceAddRq", {"ItemServiceAdd": {"Name": "Hours"}}))
        assert where == "ItemServiceAdd" and "SalesOrPurchase" in message


class TestTypedReaders:
    @pytest.mark.parametrize(
        ("reader", "text", "value"),
        [
            (_schema._bool, "false", False),
            (_schema._bool, "0", False),
            (_schema._bool, "", None),
            (_schema._datetime, "2024-3-1", date(2024, 3, 1)),
            (_schema._datetime, "2024-03-01T09:05", datetime(2024, 3, 1, 9, 5)),
            (_schema._timedelta, "PT1H2M3S", timedelta(hours=1, minutes=2, seconds=3)),
            (_schema._timedelta, "-PT5M", -timedelta(minutes=5)),
            (_schema._int, "", None),
            (_schema._decimal, "", None),
        ],
    )
    def test_each_reader(self, reader, text, value):
        """Each qbXML form reads as its Python value; an empty text is None."""
        assert reader(text) == value

    @pytest.mark.parametrize(
        ("reader", "text"),
        [(_schema._bool, "yes"), (_schema._datetime, "soon"), (_schema._timedelta, "2h")],
    )
    def test_malformed_texts_are_refused(self, reader, text):
        """A text that is not of the type raises ValueError."""
        with pytest.raises(ValueError, match="not a"):
            reader(text)

    def test_elements_outside_the_schema_read_as_text(self):
        """An element the schema does not know is kept, untyped; comments are skipped."""
        text = (
            "<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode='0' statusSeverity='Info'>"
            "<CustomerRet><!-- c --><Balance>1.50</Balance><Extra><Deep>x</Deep></Extra>"
            "<Extra><Deep>y</Deep></Extra><Plain>p</Plain></CustomerRet>"
            "</CustomerQueryRs></QBXMLMsgsRs></QBXML>"
        )
        typed = qbxml.parse_response(text, typed=True)[0].typed[0]
        assert typed == {
            "Balance": Decimal("1.50"),
            "Extra": [{"Deep": "x"}, {"Deep": "y"}],
            "Plain": "p",
        }
