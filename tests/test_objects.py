"""Typed qbXML objects: bad input, real answers, the type checker, the generator, lazy loading.

The generated tests over every aggregate are in ``test_objects_generated.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
import warnings
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from qbwc_spyne import objects, qbxml
from qbwc_spyne.exceptions import ObjectFieldError, SchemaError, UnreadValueWarning
from qbwc_spyne.qbxml import _objects, _schema
from tools import codegen_objects

from .helpers import TRAFFIC
from .object_samples import as_qbxml_dict, class_name, held_by, snake
from .schema_values import aggregate_values

ROOT = Path(__file__).resolve().parent.parent
QBXML_DATA = Path(__file__).resolve().parent / "data" / "qbxml"


def customer_add_rq(**fields: Any) -> Any:
    return objects.CustomerAddRq(customer_add=objects.CustomerAdd(**fields))


# -- bad input ------------------------------------------------------------------------------


class TestBadInput:
    def test_a_misspelt_field_fails_at_construction_naming_it(self):
        """``nmae`` is no field of CustomerAdd: TypeError naming it, before anything is built."""
        with pytest.raises(TypeError, match="nmae"):
            objects.CustomerAdd(nmae="x")  # type: ignore[call-arg]

    def test_fields_are_keywords_only_never_positional(self):
        """Positional order is schema order, which a new version may change: refused."""
        with pytest.raises(TypeError, match="positional"):
            objects.CustomerAdd("Acme")  # type: ignore[arg-type, call-arg]
        with pytest.raises(TypeError, match="positional"):
            objects.CustomerQueryRq(["80000001-1"])  # type: ignore[arg-type, call-arg]

    @pytest.mark.parametrize(
        ("field", "value", "element", "expected", "given"),
        [
            ("credit_limit", "100", "CreditLimit", "a Decimal", "str '100'"),
            ("credit_limit", 1.5, "CreditLimit", "a Decimal", "float 1.5"),
            ("is_active", "true", "IsActive", "a bool", "str 'true'"),
            ("open_balance_date", datetime(2024, 1, 2), "OpenBalanceDate", "a date", "datetime"),
        ],
    )
    def test_a_wrong_type_fails_naming_class_field_element_expected_and_given(
        self, field, value, element, expected, given
    ):
        """ObjectFieldError says which field of which class, its element, what it takes and
        what it was given."""
        with pytest.raises(ObjectFieldError) as caught:
            objects.CustomerAdd(name="A", **{field: value})
        message = str(caught.value)
        assert f"CustomerAdd.{field} ({element}) expects {expected}" in message
        assert given in message

    def test_an_object_of_the_wrong_class_fails_naming_the_class_it_takes(self):
        """A ParentRef where a ClassRef goes is refused, though both hold the same fields."""
        parent = objects.ParentRef(full_name="x")
        with pytest.raises(ObjectFieldError) as caught:
            objects.CustomerAdd(name="A", class_ref=parent)  # type: ignore[arg-type]
        message = str(caught.value)
        assert "CustomerAdd.class_ref (ClassRef)" in message
        assert "expects a ClassRef, not ParentRef" in message

    def test_a_bool_is_not_taken_for_a_number(self):
        """True is an int to Python, not an amount to QuickBooks."""
        with pytest.raises(ObjectFieldError, match=r"credit_limit.*bool True"):
            objects.CustomerAdd(name="A", credit_limit=True)  # type: ignore[arg-type]

    def test_a_single_object_where_a_list_repeats_is_refused(self):
        """A repeated element takes a list, even of one."""
        with pytest.raises(ObjectFieldError, match=r"ship_to_address .*expects a list"):
            objects.CustomerAdd(name="A", ship_to_address=objects.ShipToAddress(name="x"))  # type: ignore[arg-type]

    def test_a_string_over_its_maximum_length_fails_when_written_naming_the_path_and_3070(self):
        """Lengths are the version's, so they are checked when written: SchemaError with the
        element's path and the status QuickBooks would answer."""
        request = customer_add_rq(name="N" * 42)
        with pytest.raises(SchemaError) as caught:
            qbxml.request(request, version="13.0")
        message = str(caught.value)
        assert "CustomerAdd/Name" in message
        assert "at most 41" in message and "3070" in message

    @pytest.mark.parametrize("text", ["a\x08b", "\x00", "\ud800", "\uffff"])
    def test_text_xml_cannot_carry_fails_at_construction(self, text):
        """A control character (tab, newline and return aside) or a lone surrogate is refused
        naming the field, not met as lxml's bare ValueError when the request is written."""
        with pytest.raises(ObjectFieldError, match=r"CustomerAdd.name \(Name\): .* XML cannot"):
            objects.CustomerAdd(name=text)

    def test_tabs_new_lines_and_astral_characters_are_text(self):
        """What XML carries is taken and written as given."""
        request = customer_add_rq(name="Zoë\t😀", notes="line 1\nline 2")
        assert "<Name>Zoë\t😀</Name>" in qbxml.request(request, version="13.0")

    def test_an_enumeration_value_not_in_the_schema_fails_at_construction(self):
        """'Everything' is no ActiveStatus: refused naming the field and the values it takes."""
        with pytest.raises(ObjectFieldError) as caught:
            objects.CustomerQueryRq(active_status="Everything")  # type: ignore[arg-type]
        message = str(caught.value)
        assert "CustomerQueryRq.active_status" in message
        assert "'Everything' is not one of ActiveOnly, All, InactiveOnly" in message

    def test_an_iterator_value_not_in_qbxml_fails_at_construction(self):
        """The iterator attribute takes Start, Continue or Stop, checked as an enumeration is."""
        with pytest.raises(ObjectFieldError, match=r"CustomerQueryRq.iterator: 'Begin' is not"):
            objects.CustomerQueryRq(iterator="Begin")  # type: ignore[arg-type]

    def test_a_request_id_that_is_not_text_fails_at_construction(self):
        """requestID is an attribute's text: an int is refused naming the field."""
        with pytest.raises(ObjectFieldError, match=r"CustomerQueryRq.request_id expects text"):
            objects.CustomerQueryRq(request_id=5)  # type: ignore[arg-type]

    def test_a_typed_requests_attributes_are_written_as_attributes(self):
        """request_id, iterator and iterator_id are the request's attributes, in qbXML's names."""
        request = objects.CustomerQueryRq(
            iterator="Continue", iterator_id="{abc}", request_id="7", max_returned=10
        )
        document = qbxml.request(request, version="13.0")
        rq = etree.fromstring(document.encode())[0][0]
        assert dict(rq.attrib) == {"requestID": "7", "iterator": "Continue", "iteratorID": "{abc}"}
        assert [child.tag for child in rq] == ["MaxReturned"]

    def test_an_enumeration_value_of_either_version_is_taken_and_checked_when_written(self):
        """'Mail' is a PreferredDeliveryMethod QuickBooks returns, in QbSync's corrected 13.0
        schema (which the 13.0 tables follow) but not in Intuit's 16.0 XSD: the object takes it
        (its type does), 13.0 writes it, 16.0 refuses it naming the values Intuit's XSD has."""
        request = customer_add_rq(name="A", preferred_delivery_method="Mail")
        assert "<PreferredDeliveryMethod>Mail</PreferredDeliveryMethod>" in qbxml.request(
            request, version="13.0"
        )
        with pytest.raises(SchemaError, match=r"PreferredDeliveryMethod: 'Mail' is not one of"):
            qbxml.request(request, version="16.0")

    def test_a_field_only_in_16_0_is_refused_for_a_13_0_company_naming_it_and_the_version(self):
        """BillAdd's ClassRef came with 16.0: written for 13.0 it is refused, not dropped."""
        bill = objects.BillAdd(
            vendor_ref=objects.VendorRef(full_name="V"),
            class_ref=objects.ClassRef(full_name="C"),
            expense_line_add=[objects.ExpenseLineAdd(amount=Decimal("1.00"))],
        )
        request = objects.BillAddRq(bill_add=bill)
        with pytest.raises(SchemaError) as caught:
            qbxml.request(request, version="13.0")
        message = str(caught.value)
        assert "BillAdd/ClassRef" in message
        assert "is not in qbXML 13.0; qbXML 16.0 has it" in message
        assert "<ClassRef>" in qbxml.request(request, version="16.0")

    def test_a_field_16_0_switched_off_is_documented_as_only_in_13_0(self):
        """16.0 keeps ValueAdjustment's NewValue and ValueDifference in a group it allows zero
        times: the field's documentation says they are 13.0's only."""
        doc = objects.ValueAdjustment.__doc__ or ""
        assert "value_difference: ``ValueDifference``, an amount, only in qbXML 13.0." in doc
        assert "quantity_difference: ``QuantityDifference``, a quantity, qbXML 13.0 and up." in doc

    def test_a_field_16_0_switched_off_is_refused_for_a_16_0_company(self):
        """Intuit's 16.0 XSD refuses ValueDifference in ValueAdjustment; so should the writer."""
        line = objects.InventoryAdjustmentLineAdd(
            item_ref=objects.ItemRef(full_name="I"),
            value_adjustment=objects.ValueAdjustment(
                quantity_difference=Decimal(1), value_difference=Decimal(2)
            ),
        )
        adjustment = objects.InventoryAdjustmentAdd(
            account_ref=objects.AccountRef(full_name="A"), inventory_adjustment_line_add=[line]
        )
        request = objects.InventoryAdjustmentAddRq(inventory_adjustment_add=adjustment)
        assert "<ValueDifference>" in qbxml.request(request, version="13.0")
        with pytest.raises(SchemaError, match="ValueDifference"):
            qbxml.request(request, version="16.0")

    def test_a_request_only_in_16_0_is_refused_for_a_13_0_company(self):
        """AlertQueryRq exists from 16.0: the whole request is refused for 13.0, naming it."""
        request = objects.AlertQueryRq(owner_id=["0"])
        with pytest.raises(SchemaError) as caught:
            qbxml.request(request, version="13.0")
        assert "AlertQueryRq is not in qbXML 13.0; qbXML 16.0 has it" in str(caught.value)
        assert "<AlertQueryRq>" in qbxml.request(request, version="16.0")

    def test_a_response_with_an_unknown_element_keeps_it_in_extra(self):
        """A newer QuickBooks' element is kept, by tag, repeated as a list, nested as a dict."""
        record = etree.fromstring(
            b"<CustomerRet><ListID>1</ListID><Shoe>9</Shoe><Shoe>10</Shoe>"
            b"<Hat><Size>7</Size></Hat><Name>A</Name></CustomerRet>"
        )
        obj = _objects.read(record)
        assert isinstance(obj, objects.CustomerRet)
        assert (obj.list_id, obj.name) == ("1", "A")
        assert obj.extra == {"Shoe": ["9", "10"], "Hat": {"Size": "7"}}

    def test_an_element_repeated_where_the_schema_allows_one_is_kept_not_overwritten(self):
        """The first is the field; the others go to extra, as the untyped reader keeps them."""
        record = etree.fromstring(b"<CustomerRet><Name>A</Name><Name>B</Name></CustomerRet>")
        obj = objects.CustomerRet.from_element(record)
        assert obj.name == "A"
        assert obj.extra == {"Name": "B"}
        assert _objects.fields_of(obj) == {"Name": "A"}  # the repeat stays in extra

    def test_a_value_that_does_not_read_is_kept_as_text_with_a_warning(self):
        """A date written oddly, an amount that is no number: the field holds the text, each
        with an UnreadValueWarning naming its path; the read goes on."""
        record = etree.fromstring(
            b"<CustomerRet><ListID>1</ListID><TimeCreated>23/01/2009</TimeCreated>"
            b"<Balance>abc</Balance><Sublevel>1</Sublevel></CustomerRet>"
        )
        with pytest.warns(UnreadValueWarning) as caught:
            obj = objects.CustomerRet.from_element(record)
        assert obj.time_created == "23/01/2009"
        assert obj.balance == "abc"
        assert obj.sublevel == 1
        messages = [str(w.message) for w in caught]
        assert any("CustomerRet/TimeCreated: '23/01/2009'" in m for m in messages)
        assert any("CustomerRet/Balance: 'abc'" in m for m in messages)

    def test_an_attribute_that_does_not_read_is_kept_as_text_with_a_warning(self):
        """A report column whose colID is no number keeps it as text in extra."""
        record = etree.fromstring(
            b'<ReportRet><ColDesc colID="x"><ColType>Amount</ColType></ColDesc></ReportRet>'
        )
        with pytest.warns(UnreadValueWarning, match=r"ReportRet/ColDesc@colID: 'x'"):
            obj = objects.ReportRet.from_element(record)
        (column,) = obj.col_desc
        assert (column.col_type, column.extra) == ("Amount", {"@colID": "x"})

    def test_both_readers_of_a_response_keep_an_odd_value_with_a_warning(self):
        """parse_response's objects and stream(objects=True) go on past a value kept as text."""
        document = (
            '<?xml version="1.0"?><QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0"'
            ' statusSeverity="Info" statusMessage="Status OK"><CustomerRet><ListID>1</ListID>'
            "<TimeModified>2009-01-23 03:00</TimeModified></CustomerRet>"
            "<CustomerRet><ListID>2</ListID></CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>"
        )
        with pytest.warns(UnreadValueWarning, match="CustomerRet/TimeModified"):
            (result,) = qbxml.parse_response(document)
            whole = result.objects
        with pytest.warns(UnreadValueWarning, match="CustomerRet/TimeModified"):
            streamed = [obj for _, obj in qbxml.stream(document.encode(), objects=True)]
        assert whole == streamed
        assert [(o.list_id, o.time_modified) for o in whole] == [  # type: ignore[attr-defined]
            ("1", "2009-01-23 03:00"),
            ("2", None),
        ]

    def test_the_same_odd_text_given_by_a_caller_is_refused(self):
        """Kept as text when QuickBooks sent it; a caller giving text for a datetime is wrong."""
        with pytest.raises(ObjectFieldError, match=r"time_created \(TimeCreated\) expects"):
            objects.CustomerRet(time_created="23/01/2009")  # type: ignore[arg-type]


# -- properties -----------------------------------------------------------------------------

XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=12,
)
READ_CLASSES = [
    "CustomerRet",
    "InvoiceRet",
    "ItemInventoryRet",
    "DataExtRet",
    "EstimateLineRet",
    "ReportRet",
    "DataRow",
]
#: Attributes, some the schema types (a report cell's colID is an int).
ATTRIBUTES = ["colID", "rowNumber", "value", "dataType", "attr"]


@st.composite
def children(draw: st.DrawFn, key: str, depth: int = 0) -> etree._Element:
    """An element ``key`` with children drawn from its schema names and others, any text."""
    element = etree.Element(key)
    aggregate = _schema._lookup("16.0", key)
    names = sorted(aggregate.names) if aggregate is not None else []
    tags = st.sampled_from([*names, "Unknown", "DataExtRet"]) if names else st.just("Unknown")
    for tag in draw(st.lists(tags, max_size=6)):
        child = etree.SubElement(element, tag)
        element_ = aggregate.names.get(tag) if aggregate is not None else None
        ref = element_.ref if element_ is not None else None
        if depth < 2 and (isinstance(ref, str) or draw(st.booleans())):
            nested = draw(children(ref if isinstance(ref, str) else tag, depth + 1))
            child.extend(list(nested))
        if draw(st.booleans()):
            child.text = draw(XML_TEXT)
        if draw(st.integers(0, 3)) == 0:
            child.set(draw(st.sampled_from(ATTRIBUTES)), draw(XML_TEXT))
    if draw(st.integers(0, 3)) == 0:
        element.set(draw(st.sampled_from(ATTRIBUTES)), draw(XML_TEXT))
    return element


@given(data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_reading_arbitrary_children_never_raises(data):
    """Whatever children a record has (known or not, texts that read or not, nested or not),
    reading it gives an object of its class, only warning about values kept as text."""
    key = data.draw(st.sampled_from(READ_CLASSES))
    element = data.draw(children(key))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreadValueWarning)
        obj = _objects.read(element)
    assert type(obj).__name__ == key


def repeats_a_single_element(element: etree._Element) -> bool:
    """Whether a child the schema allows once appears more often, at any depth."""
    aggregate = _schema._reading_aggregate(str(element.tag))
    names = aggregate.names if aggregate is not None else {}
    tags = [child.tag for child in element]
    for child in element:
        known = names.get(str(child.tag))
        if known is not None and known.most <= 1 and tags.count(child.tag) > 1:
            return True
        if repeats_a_single_element(child):
            return True
    return False


def without_none(value: Any) -> Any:
    """``value`` with the None values of its dicts left out: absent, to an object."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


@given(data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_reading_arbitrary_children_keeps_what_the_typed_reader_keeps(data):
    """Where the typed reader reads a record (every value reads), its object holds the same,
    unknown elements and attributes included. An element given twice where the schema allows
    one is the field once and extra once, which a dict cannot say."""
    key = data.draw(st.sampled_from(READ_CLASSES))
    element = data.draw(children(key))
    if repeats_a_single_element(element):
        return
    try:
        expected = _schema.typed_dict(element)
    except ValueError:
        return
    obj = _objects.read(element)  # no warning: filterwarnings is error
    assert without_none(as_qbxml_dict(obj)) == without_none(expected)


#: Any value a caller might pass, of every type and none.
ANY_VALUE = st.one_of(
    st.none(),
    st.text(max_size=50),
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-5))])),
    st.timedeltas(),
    st.lists(st.text(max_size=5), max_size=2),
    st.builds(lambda: objects.ClassRef(full_name="C")),
)
#: Classes given any values, and the request each is written in (None: it is one).
ANY_VALUE_CLASSES = {
    "CustomerAdd": ("CustomerAddRq", "customer_add"),
    "InvoiceAdd": ("InvoiceAddRq", "invoice_add"),
    "ItemServiceAdd": ("ItemServiceAddRq", "item_service_add"),
    "CustomerQueryRq": None,
    "InvoiceQueryRq": None,
}


@given(data=st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_value_is_refused_at_construction_or_when_written_never_crashes(data):
    """Given anything, a class either refuses it (ObjectFieldError) or takes it, and then
    writing for either version gives a document or a SchemaError, nothing else."""
    name = data.draw(st.sampled_from(sorted(ANY_VALUE_CLASSES)))
    cls = _objects.load(name)
    fields = [f for f in cls.__struct_fields__ if f != "extra"]
    chosen = data.draw(st.lists(st.sampled_from(fields), max_size=4, unique=True))
    try:
        obj = cls(**{field: data.draw(ANY_VALUE) for field in chosen})
    except ObjectFieldError:
        return
    wrapper = ANY_VALUE_CLASSES[name]
    request = _objects.load(wrapper[0])(**{wrapper[1]: obj}) if wrapper else obj
    for version in ("13.0", "16.0"):
        try:
            document = qbxml.request(request, version=version)
        except SchemaError:
            continue
        assert etree.fromstring(document.encode()) is not None


WRITE_CLASSES = [
    ("13.0", "CustomerAddRqType"),
    ("16.0", "InvoiceAddRqType"),
    ("13.0", "ItemServiceAddRqType"),
    ("16.0", "SalesReceiptAddRqType"),
    ("16.0", "CustomerModRqType"),
    ("13.0", "InvoiceModRqType"),
]


def as_object(version: str, key: str, values: dict[str, Any]) -> Any:
    """A dict of qbXML names (as the request strategies draw them) as the typed object."""
    aggregate = _schema._aggregate(version, key)
    fields: dict[str, Any] = {}
    for tag, value in values.items():
        ref = aggregate.names[tag].ref

        def one(item: Any, ref: Any = ref) -> Any:
            if isinstance(ref, str):
                return as_object(version, ref, item)
            if isinstance(item, uuid.UUID):
                return "{" + str(item).upper() + "}"
            if isinstance(item, datetime):
                return item.replace(microsecond=0)  # qbXML has whole seconds
            return item

        field = held_by(version, key).get(tag, snake(tag))
        if isinstance(value, list):
            fields.setdefault(field, []).extend(one(v) for v in value)
        else:
            fields[field] = one(value)
    return _objects.load(class_name(key))(**fields)


@given(data=st.data())
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_writing_then_reading_round_trips_the_values(data):
    """An object written into its request and the request's element read back is equal to
    it: a customer, an invoice, an item and a sales receipt added, a customer and an invoice
    modified, with their lines."""
    version, key = data.draw(st.sampled_from(WRITE_CLASSES))
    request = as_object(version, key, data.draw(aggregate_values(version, key)))
    document = qbxml.request(request, version=version)
    written = etree.fromstring(document.encode())[0][0]
    assert type(request).from_element(written) == request


# -- real answers ---------------------------------------------------------------------------


def real_answers() -> dict[str, str]:
    """The real answers in tests/data, by file: the qbXML files and those inside posts."""
    texts = {p.name: p.read_text() for p in sorted(TRAFFIC.glob("qbxml.*.xml"))}
    texts |= {p.name: p.read_text() for p in sorted(QBXML_DATA.glob("*.xml"))}
    for name in (
        "receiveResponseXML.InvoiceAddRs.request.xml",
        "receiveResponseXML.ItemInventoryQueryRs.request.xml",
    ):
        post = etree.parse(str(TRAFFIC / name))
        texts[name] = post.findtext(".//{http://developer.intuit.com/}response") or ""
    return texts


REAL = real_answers()


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_answers_read_into_objects_equal_to_the_typed_reading(name):
    """Each record of each real answer, from the whole-document reader and the streaming one,
    is an object of its class whose values, by their qbXML names, are the typed dict's; the
    values an answer holds with no record around them (ListDelRs) are no objects."""
    text = REAL[name]
    results = qbxml.parse_response(text)
    found = [
        (obj, record)
        for r in results
        for obj, record in zip(r.objects, [x for x in r.records if len(x)], strict=True)
    ]
    streamed = [obj for _, obj in qbxml.stream(text.encode(), objects=True)]
    assert [obj for obj, _ in found] == streamed
    for obj, record in found:
        assert type(obj).__name__ == record.tag
        assert as_qbxml_dict(obj) == record.to_dict(typed=True)


def test_the_real_answers_hold_the_records_counted():
    """The fixtures are read whole: counts pinned per record type."""
    counts: dict[str, int] = {}
    for text in REAL.values():
        for _, obj in qbxml.stream(text.encode(), objects=True):
            counts[type(obj).__name__] = counts.get(type(obj).__name__, 0) + 1
    assert counts["ItemInventoryRet"] == 16
    assert counts["AccountRet"] == 4
    assert counts["EstimateRet"] == 1
    assert counts["InvoiceRet"] == 1
    assert counts["CustomerRet"] >= 1
    assert (counts["HostRet"], counts["CompanyRet"], counts["PreferencesRet"]) == (2, 2, 2)


def test_custom_fields_of_a_real_estimate_are_typed_objects_on_header_and_lines():
    """DataExtRet on the transaction and on its lines reads into DataExtRet objects."""
    (result,) = qbxml.parse_response(REAL["EstimateQueryRs.DataExt.selfjared1.xml"])
    (estimate,) = result.objects
    assert isinstance(estimate, objects.EstimateRet)
    assert estimate.po_number == "Pending"
    assert estimate.subtotal == Decimal("2855.70")
    assert estimate.time_created is not None and estimate.time_created.utcoffset() is not None
    assert [(d.data_ext_name, d.data_ext_value) for d in estimate.data_ext_ret] == [
        ("Customer Type", "Dealer"),
        ("As Of", "01-25-13"),
        ("UHL Account No.", "12248"),
    ]
    line = estimate.estimate_line_ret[0]
    assert isinstance(line.data_ext_ret[0], objects.DataExtRet)
    assert line.data_ext_ret[0].data_ext_type == "STR255TYPE"
    second = estimate.estimate_line_ret[1]
    assert isinstance(second, objects.EstimateLineRet)
    assert second.rate_percent == Decimal("-5.00")


def test_a_companys_custom_fields_and_services_read_as_objects():
    """A real CompanyRet: its application's DataExtRet (with a GUID owner) and its nested
    services are typed objects; the host's repeated versions are a list of text."""
    host, company, preferences = qbxml.parse_response(
        REAL["HCPResponse.CompanyPreferences.QBPremier2012.xml"]
    )
    (host_ret,) = host.objects
    assert isinstance(host_ret, objects.HostRet)
    assert host_ret.supported_qbxml_version[-1] == "11.0"
    (company_ret,) = company.objects
    assert isinstance(company_ret, objects.CompanyRet)
    assert [d.data_ext_name for d in company_ret.data_ext_ret] == ["AppLock", "FileID"]
    assert company_ret.data_ext_ret[0].owner_id == "{87EDAAF8-637E-4203-867F-4BA79C2F8998}"
    assert company_ret.subscribed_services is not None
    active = [
        s.name for s in company_ret.subscribed_services.service if s.service_status == "Active"
    ]
    assert active == ["QuickBooks Payroll Service"]
    (preferences_ret,) = preferences.objects
    assert isinstance(preferences_ret, objects.PreferencesRet)
    finance = preferences_ret.finance_charge_preferences
    assert finance is not None and finance.annual_interest_rate == Decimal("18.00")


# -- the type checker -----------------------------------------------------------------------


def test_mypy_strict_rejects_a_misspelt_field_and_a_wrong_type_and_passes_correct_use(tmp_path):
    """In one strict run: the file of correct use (lazy names included) has no error; the
    other has one per bad line, naming the misspelt field, the field given the wrong type and
    the misspelt class (the package's lazy ``__getattr__`` is not what mypy reads)."""
    (tmp_path / "right.py").write_text(
        "from decimal import Decimal\n\n"
        "from qbwc_spyne import qbxml\n"
        "from qbwc_spyne.objects import CustomerAdd, CustomerAddRq, CustomerRet\n\n"
        'customer = CustomerAdd(name="Acme", credit_limit=Decimal("100.00"))\n'
        'document: str = qbxml.request(CustomerAddRq(customer_add=customer), version="13.0")\n'
        "def name_of(record: CustomerRet) -> str | None:\n"
        "    return record.full_name\n"
        "from qbwc_spyne import objects\n"
        'line = objects.InvoiceLineAdd(desc="x", amount=Decimal("1.00"))\n'
    )
    (tmp_path / "wrong.py").write_text(
        "from qbwc_spyne.objects import CustomerAdd\n\n"
        'misspelt = CustomerAdd(nmae="x")\n'
        'wrong_type = CustomerAdd(name="Acme", credit_limit="100")\n'
        "from qbwc_spyne.objects import CustomerAd\n"
    )
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(tmp_path / "mypy.ini"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "right.py",
            "wrong.py",
        ],
        cwd=tmp_path,
        env={"MYPYPATH": str(ROOT), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if e.startswith("right.py")], run.stdout
    wrong = [e for e in errors if e.startswith("wrong.py")]
    assert len(wrong) == 3, run.stdout
    assert 'wrong.py:3: error: Unexpected keyword argument "nmae"' in wrong[0]
    assert 'wrong.py:4: error: Argument "credit_limit"' in wrong[1]
    assert '"str"' in wrong[1] and "Decimal" in wrong[1]
    assert (
        'wrong.py:5: error: Module "qbwc_spyne.objects" has no attribute "CustomerAd"' in (wrong[2])
    )


# -- the generator --------------------------------------------------------------------------


class TestGeneratorCheck:
    def test_the_generated_package_is_up_to_date(self, capsys):
        """``python -m tools.codegen_objects --check`` passes on the package as committed."""
        assert codegen_objects.main(["--check"]) == 0
        assert "up to date" in capsys.readouterr().out

    def test_a_stale_file_fails_the_check_naming_it(self, tmp_path, capsys):
        """A changed generated file is named, and the check fails."""
        copy = tmp_path / "objects"
        shutil.copytree(codegen_objects.OUTPUT_DIR, copy)
        assert codegen_objects.main(["--check", "--output", str(copy)]) == 0
        with (copy / "_customer.py").open("a", encoding="utf-8") as f:
            f.write("# edited by hand\n")
        assert codegen_objects.main(["--check", "--output", str(copy)]) == 1
        assert "objects/_customer.py is out of date" in capsys.readouterr().err

    def test_a_missing_file_fails_the_check_naming_it(self, tmp_path, capsys):
        """A generated file deleted is named, and the check fails."""
        copy = tmp_path / "objects"
        shutil.copytree(codegen_objects.OUTPUT_DIR, copy)
        (copy / "_invoice.py").unlink()
        assert codegen_objects.main(["--check", "--output", str(copy)]) == 1
        assert "objects/_invoice.py is out of date" in capsys.readouterr().err

    def test_an_extra_file_fails_the_check_naming_it(self, tmp_path, capsys):
        """A module the generator does not write (a class family gone) is named too."""
        copy = tmp_path / "objects"
        shutil.copytree(codegen_objects.OUTPUT_DIR, copy)
        (copy / "_gone.py").write_text("")
        assert codegen_objects.main(["--check", "--output", str(copy)]) == 1
        assert "objects/_gone.py is generated by nothing" in capsys.readouterr().err

    def test_the_command_line_check_exits_zero(self):
        """The form CI runs: a separate process, from the repository root."""
        run = subprocess.run(
            [sys.executable, "-m", "tools.codegen_objects", "--check"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        assert run.returncode == 0, run.stderr


# -- loading --------------------------------------------------------------------------------


def in_fresh_python(code: str) -> str:
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_importing_the_package_imports_neither_msgspec_nor_the_objects():
    """``import qbwc_spyne`` (and its qbxml module) leave the typed layer unloaded."""
    out = in_fresh_python(
        "import sys, qbwc_spyne, qbwc_spyne.qbxml\n"
        "print(sorted(m for m in sys.modules if m == 'msgspec' or m.startswith('msgspec.')"
        " or m.startswith('qbwc_spyne.objects') or m == 'qbwc_spyne.qbxml._objects'))"
    )
    assert out == "[]"


def test_the_first_use_of_a_class_loads_its_family_module_only():
    """CustomerRet loads objects/_customer (and the shared _common it reaches), no other family."""
    out = in_fresh_python(
        "import sys\n"
        "from qbwc_spyne.objects import CustomerRet\n"
        "print(CustomerRet.__module__)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('qbwc_spyne.objects.'))))"
    )
    module, loaded = out.splitlines()
    assert module == "qbwc_spyne.objects._customer"
    assert loaded.split() == ["qbwc_spyne.objects._customer"]


def test_the_objects_of_a_module_that_reach_shared_classes_load_them_on_use():
    """A nested class in _common is loaded when read, so a CustomerRet with an address reads."""
    record = etree.fromstring(
        b"<CustomerRet><BillAddress><City>Boston</City></BillAddress></CustomerRet>"
    )
    obj = _objects.read(record)
    assert isinstance(obj, objects.CustomerRet)
    assert isinstance(obj.bill_address, objects.BillAddress)
    assert obj.bill_address.city == "Boston"
    assert type(obj.bill_address).__module__ == "qbwc_spyne.objects._common"


def test_an_unknown_class_name_is_an_attribute_error():
    """``objects.NoSuchRet`` fails as a missing attribute does."""
    with pytest.raises(AttributeError, match="NoSuchRet"):
        objects.NoSuchRet  # type: ignore[attr-defined]  # noqa: B018


# -- repeated choices -------------------------------------------------------------------------


def test_lines_and_line_groups_keep_their_order_read_and_written():
    """An invoice's lines and line groups print in their order: reading keeps it in one list
    typed as either, writing sends them in the list's order, and one kind alone is a list."""
    answer = (
        '<QBXML><QBXMLMsgsRs><InvoiceQueryRs statusCode="0"><InvoiceRet><TxnID>1-1</TxnID>'
        "<InvoiceLineRet><TxnLineID>L1</TxnLineID></InvoiceLineRet>"
        "<InvoiceLineGroupRet><TxnLineID>G1</TxnLineID>"
        "<ItemGroupRef><FullName>Kit</FullName></ItemGroupRef></InvoiceLineGroupRet>"
        "<InvoiceLineRet><TxnLineID>L2</TxnLineID></InvoiceLineRet>"
        "</InvoiceRet></InvoiceQueryRs></QBXMLMsgsRs></QBXML>"
    )
    (invoice,) = qbxml.parse_response(answer)[0].objects_of(objects.InvoiceRet)
    assert [(type(x).__name__, x.txn_line_id) for x in invoice.invoice_line_ret] == [
        ("InvoiceLineRet", "L1"),
        ("InvoiceLineGroupRet", "G1"),
        ("InvoiceLineRet", "L2"),
    ]
    lines: list[objects.InvoiceLineAdd | objects.InvoiceLineGroupAdd] = [
        objects.InvoiceLineAdd(item_ref=objects.ItemRef(full_name="A")),
        objects.InvoiceLineGroupAdd(item_group_ref=objects.ItemGroupRef(full_name="Kit")),
        objects.InvoiceLineAdd(item_ref=objects.ItemRef(full_name="B")),
    ]
    customer = objects.CustomerRef(full_name="C")
    add = objects.InvoiceAdd(customer_ref=customer, invoice_line_add=lines)
    written = etree.fromstring(qbxml.request(objects.InvoiceAddRq(invoice_add=add)).encode())
    assert [child.tag for child in written.find(".//InvoiceAdd")] == [
        "CustomerRef",
        "InvoiceLineAdd",
        "InvoiceLineGroupAdd",
        "InvoiceLineAdd",
    ]
    assert objects.InvoiceAdd.from_element(written.find(".//InvoiceAdd")) == add
    assert add.to_fields() == [
        ("CustomerRef", {"FullName": "C"}),
        ("InvoiceLineAdd", {"ItemRef": {"FullName": "A"}}),
        ("InvoiceLineGroupAdd", {"ItemGroupRef": {"FullName": "Kit"}}),
        ("InvoiceLineAdd", {"ItemRef": {"FullName": "B"}}),
    ]
    alone = objects.InvoiceAdd(invoice_line_add=[lines[0]])
    assert alone.to_fields() == {"InvoiceLineAdd": [{"ItemRef": {"FullName": "A"}}]}
    with pytest.raises(ObjectFieldError, match="expects an InvoiceLineAdd or InvoiceLineGroupAdd"):
        objects.InvoiceAdd(invoice_line_add=[objects.ItemRef(full_name="A")])  # type: ignore[list-item]
