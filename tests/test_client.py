"""The resource client: typed records in and out, paging, conflicts and statuses as exceptions."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from qbwc_spyne import qbxml
from qbwc_spyne.client import QuickBooks, custom_fields, raise_for_status
from qbwc_spyne.exceptions import (
    ConfigurationError,
    ConflictError,
    InvalidReferenceError,
    NameInUseError,
    NotFoundError,
    ObjectFieldError,
    QBWCError,
    QBXMLBuildError,
    QuickBooksStatusError,
    SchemaError,
)
from qbwc_spyne.objects import (
    CustomerAdd,
    CustomerMod,
    CustomerQueryRq,
    CustomerRef,
    CustomerRet,
    InvoiceAdd,
    InvoiceLineAdd,
    InvoiceLineRet,
    ItemRef,
    NameRangeFilter,
)
from qbwc_spyne.qbxml._schema import check_response
from qbwc_spyne.testing import FakeQuickBooks

from .test_live import BOUND, Asking, Service, Update, served, wait_for  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
TZ = timezone(timedelta(hours=-5))


class Direct:
    """Sends each request straight to a fake QuickBooks, in one connection (iterators live on)."""

    def __init__(self, fake: FakeQuickBooks, version: str = "13.0") -> None:
        self.fake = fake
        self.version = version
        self.sent: list[Any] = []

    def __call__(self, rq: Any) -> qbxml.Result:
        self.sent.append(rq)
        answer = self.fake.process(qbxml.request(rq, version=self.version))
        assert not answer.hresult, answer.detail
        return qbxml.parse_response(answer.response)[0]


def page_threads_end() -> bool:
    """Whether the threads that fetch pages ahead end on their own (polled, bounded)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not [t for t in threading.enumerate() if t.name.startswith("qbwc-page")]:
            return True
        time.sleep(0.01)
    return False


def company(customers: int = 0) -> tuple[QuickBooks, Direct]:
    fake = FakeQuickBooks()
    fake.add_customers(customers)
    fake.load(
        {
            "items": [{"type": "ItemService", "Name": "Labour"}],
        }
    )
    direct = Direct(fake)
    return QuickBooks(direct, page_size=10), direct


def answer(body: str, version: str = "13.0") -> qbxml.Result:
    """A one-response answer, checked against Intuit's response schema of ``version``.

    Only for what the fake QuickBooks does not answer (see :class:`TestStatuses`):
    the check proves the answer of the shape Intuit's schema gives QuickBooks' own.
    """
    document = f"<QBXML><QBXMLMsgsRs>{body}</QBXMLMsgsRs></QBXML>"
    assert check_response(etree.fromstring(document), version) == ()
    return qbxml.parse_response(document)[0]


class Scripted:
    """Records the requests sent and answers each with the next scripted answer."""

    def __init__(self, *answers: qbxml.Result) -> None:
        self.answers = list(answers)
        self.sent: list[Any] = []

    def __call__(self, rq: Any) -> qbxml.Result:
        self.sent.append(rq)
        return self.answers.pop(0)


OK = 'statusCode="0" statusSeverity="Info" statusMessage="Status OK"'


class TestPaging:
    def test_list_pages_through_an_iterator_until_nothing_remains(self):
        qb, direct = company(25)
        names = [c.name for c in qb.customer.list()]
        assert names == [f"Customer {n:04d}" for n in range(1, 26)]
        assert [(rq.iterator, rq.max_returned) for rq in direct.sent] == [
            ("Start", 10),
            ("Continue", 10),
            ("Continue", 10),
        ]
        assert direct.sent[1].iterator_id == direct.sent[2].iterator_id

    @settings(max_examples=30, deadline=None)
    @given(count=st.integers(0, 40), size=st.integers(1, 45))
    def test_every_record_comes_once_in_order_in_as_many_requests_as_pages(self, count, size):
        qb, direct = company(count)
        names = [c.name for c in qb.customer.list(page_size=size)]
        assert names == [f"Customer {n:04d}" for n in range(1, count + 1)]
        assert len(direct.sent) == max(1, -(-count // size))

    def test_a_page_size_that_is_not_a_positive_int_is_refused(self):
        for size in (0, -1, True, "10"):
            with pytest.raises(ObjectFieldError, match="page_size"):
                QuickBooks().customer.list(page_size=size)  # type: ignore[arg-type]

    def test_page_size_sets_max_returned(self):
        qb, direct = company(7)
        assert len(list(qb.customer.list(page_size=3))) == 7
        assert [rq.max_returned for rq in direct.sent] == [3, 3, 3]

    def test_a_list_that_matches_nothing_is_empty_not_an_error(self):
        qb, _ = company(0)
        assert list(qb.customer.list()) == []

    def test_the_next_page_is_asked_for_before_the_current_page_is_handed_out(self):
        _, direct = company(25)
        continued = threading.Event()

        def send(rq: Any) -> qbxml.Result:
            result = direct(rq)
            if rq.iterator == "Continue":
                continued.set()
            return result

        records = QuickBooks(send, page_size=10).customer.list()
        first = next(records)
        # Nothing more is taken, yet the second page is fetched.
        assert continued.wait(BOUND)
        assert first.name == "Customer 0001"
        records.close()

    def test_closing_early_asks_for_no_more_pages_and_leaves_no_thread(self):
        qb, direct = company(35)
        records = qb.customer.list()
        taken = [next(records).name for _ in range(3)]
        records.close()
        assert taken == ["Customer 0001", "Customer 0002", "Customer 0003"]
        # The page fetched ahead was answered; no third was asked for.
        assert [rq.iterator for rq in direct.sent] == ["Start", "Continue"]
        assert page_threads_end()

    def test_closing_early_does_not_wait_for_the_page_in_flight(self):
        _, direct = company(35)
        asked, release = threading.Event(), threading.Event()

        def send(rq: Any) -> qbxml.Result:
            if rq.iterator == "Continue":
                asked.set()
                release.wait(30)  # QuickBooks is slow to answer this page
            return direct(rq)

        records = QuickBooks(send, page_size=10).customer.list()
        next(records)
        assert asked.wait(30)
        records.close()
        # close() came back while the page was still unanswered: its thread is still waiting.
        assert [t for t in threading.enumerate() if t.name.startswith("qbwc-page")]
        release.set()
        assert page_threads_end()
        assert [rq.iterator for rq in direct.sent] == ["Start", "Continue"]

    def test_a_page_refused_midway_raises_its_status(self):
        qb, direct = company(25)
        records = qb.customer.list()
        assert len([next(records) for _ in range(10)]) == 10
        direct.fake.close()  # the connection ends: its iterators are forgotten
        with pytest.raises(QuickBooksStatusError) as caught:
            list(records)
        # Whichever page is asked for after the connection ended (the one fetched ahead
        # may have come before) is refused.
        assert caught.value.code == 3391

    def test_without_iterators_list_asks_for_everything_at_once(self):
        _, direct = company(25)
        records = list(QuickBooks(direct, iterators=False).customer.list())
        assert len(records) == 25
        assert [(rq.iterator, rq.max_returned) for rq in direct.sent] == [(None, None)]


class TestFilters:
    def test_friendly_filters_become_the_querys_own_fields(self):
        qb = QuickBooks()
        since = datetime(2024, 1, 2, 9, 0, tzinfo=TZ)
        query = qb.customer.query(modified_from=since, active_status="All", name_contains="Ac")
        assert query.from_modified_date == since
        assert query.active_status == "All"
        assert query.name_filter is not None
        assert (query.name_filter.match_criterion, query.name_filter.name) == ("Contains", "Ac")

    def test_a_transactions_modified_range_goes_in_its_filter_aggregate(self):
        since = datetime(2024, 1, 2, 9, 0, tzinfo=TZ)
        query = QuickBooks().invoice.query(
            modified_from=since, date_from=date(2024, 1, 1), ref_number="1001"
        )
        assert query.modified_date_range_filter is not None
        assert query.modified_date_range_filter.from_modified_date == since
        assert query.txn_date_range_filter is not None
        assert query.txn_date_range_filter.from_txn_date == date(2024, 1, 1)
        assert query.ref_number == ["1001"]
        # qbXML takes one of them: the schema says so before anything is sent.
        with pytest.raises(SchemaError, match="cannot be given together"):
            qbxml.request(query)
        text = qbxml.request(QuickBooks().invoice.query(modified_from=since))
        assert "<ModifiedDateRangeFilter><FromModifiedDate>" in text

    def test_a_filter_the_query_does_not_take_is_refused_naming_the_query(self):
        with pytest.raises(ObjectFieldError, match="CustomerQueryRq takes no date_from"):
            QuickBooks().customer.list(date_from=date(2024, 1, 1))
        with pytest.raises(ObjectFieldError, match="InvoiceQueryRq takes no active_status"):
            QuickBooks().invoice.query(active_status="All")

    def test_an_unknown_filter_is_a_type_error_naming_it(self):
        with pytest.raises(TypeError, match="colour"):
            QuickBooks().customer.query(colour="red")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="colour"):
            QuickBooks().customer.list(colour="red")  # type: ignore[call-arg]

    def test_query_takes_the_rest_and_the_filters_are_set_on_it(self):
        base = CustomerQueryRq(include_ret_element=["Name"])
        query = QuickBooks().customer.query(query=base, active_status="InactiveOnly")
        assert (query.include_ret_element, query.active_status) == (["Name"], "InactiveOnly")
        with pytest.raises(ObjectFieldError, match="takes a CustomerQueryRq"):
            QuickBooks().customer.query(query=QuickBooks().invoice.query())  # type: ignore[arg-type]

    def test_active_status_filters_against_the_fake(self):
        qb, _ = company(3)
        first = qb.customer.get(full_name="Customer 0001")
        qb.customer.mod(first, is_active=False)
        assert [c.name for c in qb.customer.list()] == ["Customer 0002", "Customer 0003"]
        assert [c.name for c in qb.customer.list(active_status="InactiveOnly")] == ["Customer 0001"]


class TestListByKey:
    def test_listing_by_reference_number_is_one_lookup_without_paging(self):
        qb, direct = company(1)
        qb.customer.get(full_name="Customer 0001")
        found = list(qb.invoice.list(ref_number="no such"))
        assert found == []
        assert (direct.sent[-1].iterator, direct.sent[-1].max_returned) == (None, None)

    def test_listing_a_query_by_full_name_is_one_lookup_without_paging(self):
        qb, direct = company(3)
        names = [
            c.name for c in qb.customer.list(query=CustomerQueryRq(full_name=["Customer 0002"]))
        ]
        assert names == ["Customer 0002"]
        assert (direct.sent[-1].iterator, direct.sent[-1].max_returned) == (None, None)

    def test_a_query_with_its_own_max_returned_is_refused_pointing_to_page_size(self):
        qb, direct = company(5)
        with pytest.raises(ObjectFieldError, match=r"max_returned.*page_size="):
            list(qb.customer.list(query=CustomerQueryRq(max_returned=2)))
        assert direct.sent == []


class TestGetAddMod:
    def test_get_by_id_full_name_and_ref_number(self):
        qb, _ = company(3)
        by_name = qb.customer.get(full_name="Customer 0002")
        assert qb.customer.get(by_name.list_id) == by_name
        invoice = qb.invoice.add(
            InvoiceAdd(
                customer_ref=CustomerRef(full_name="Customer 0002"),
                ref_number="1001",
                invoice_line_add=[InvoiceLineAdd(item_ref=ItemRef(full_name="Labour"))],
            )
        )
        assert qb.invoice.get(ref_number="1001").txn_id == invoice.txn_id
        found = qb.invoice.get(invoice.txn_id or "")
        assert found.ref_number == "1001"
        # A transaction is got whole, its lines included; a list of them only if asked.
        assert [line.item_ref.full_name for line in found.invoice_line_ret] == ["Labour"]  # type: ignore[union-attr]
        (listed,) = qb.invoice.list()
        assert listed.invoice_line_ret == []
        (listed,) = qb.invoice.list(line_items=True)
        assert len(listed.invoice_line_ret) == 1

    @pytest.mark.parametrize(
        ("how", "code"),
        [({"id": "80000999-1"}, 3120), ({"full_name": "Nobody"}, 500)],
    )
    def test_get_of_what_is_not_there_raises_not_found(self, how, code):
        qb, _ = company(2)
        with pytest.raises(NotFoundError) as caught:
            qb.customer.get(**how)
        assert caught.value.code == code
        assert caught.value.request == "CustomerQueryRq"

    def test_a_ref_number_matching_nothing_raises_not_found(self):
        qb, _ = company(1)
        with pytest.raises(NotFoundError) as caught:
            qb.invoice.get(ref_number="404")
        assert caught.value.code == 500

    def test_get_takes_exactly_one_key_and_only_those_the_type_has(self):
        qb, _ = company(1)
        with pytest.raises(ObjectFieldError, match="exactly one"):
            qb.customer.get("X", full_name="Y")
        with pytest.raises(ObjectFieldError, match="InvoiceQueryRq takes no full_name"):
            qb.invoice.get(full_name="Y")

    def test_add_returns_the_typed_record_quickbooks_made(self):
        qb, _ = company(0)
        made = qb.customer.add(CustomerAdd(name="Acme", phone="555-0100"))
        assert (made.name, made.phone) == ("Acme", "555-0100")
        assert made.list_id and made.edit_sequence

    def test_a_name_in_use_raises_name_in_use_with_the_catalogues_words(self):
        qb, _ = company(1)
        with pytest.raises(NameInUseError) as caught:
            qb.customer.add(CustomerAdd(name="Customer 0001"))
        error = caught.value
        assert (error.code, error.severity, error.request) == (3100, "Error", "CustomerAddRq")
        assert "already in use" in error.message
        assert error.explanation.title in str(error) or error.explanation.user in str(error)
        assert isinstance(error, QBWCError)

    def test_a_reference_to_nothing_raises_invalid_reference(self):
        qb, _ = company(0)
        with pytest.raises(InvalidReferenceError) as caught:
            qb.invoice.add(
                InvoiceAdd(
                    customer_ref=CustomerRef(full_name="Nobody"),
                    invoice_line_add=[InvoiceLineAdd(item_ref=ItemRef(full_name="Labour"))],
                )
            )
        assert caught.value.code == 3140

    def test_mod_of_a_record_sends_its_edit_sequence_and_only_the_changes(self):
        qb, direct = company(1)
        record = qb.customer.get(full_name="Customer 0001")
        changed = qb.customer.mod(record, phone="555-0101")
        assert changed.phone == "555-0101" and changed.edit_sequence != record.edit_sequence
        assert direct.sent[-1].customer_mod == CustomerMod(
            list_id=record.list_id, edit_sequence=record.edit_sequence, phone="555-0101"
        )

    def test_mod_takes_a_mod_object_as_given(self):
        qb, _ = company(1)
        record = qb.customer.get(full_name="Customer 0001")
        mod = CustomerMod(list_id=record.list_id, edit_sequence=record.edit_sequence, fax="1")
        assert qb.customer.mod(mod).fax == "1"


class TestModChanges:
    def test_a_misspelt_change_is_refused_naming_the_class_and_the_field_meant(self):
        qb, direct = company(1)
        record = qb.customer.get(full_name="Customer 0001")
        before = len(direct.sent)
        with pytest.raises(ObjectFieldError, match=r"CustomerMod has no field 'phnoe'.*phone"):
            qb.customer.mod(record, phnoe="1")
        assert len(direct.sent) == before  # nothing was sent

    def test_none_is_no_change_and_is_refused_saying_how_to_clear(self):
        qb, _ = company(1)
        record = qb.customer.get(full_name="Customer 0001")
        with pytest.raises(ObjectFieldError, match=r"fax=None sends nothing.*''"):
            qb.customer.mod(record, fax=None)
        assert qb.customer.mod(record, fax="").fax in (None, "")

    def test_the_id_and_edit_sequence_come_from_the_record_not_the_changes(self):
        qb, _ = company(1)
        record = qb.customer.get(full_name="Customer 0001")
        with pytest.raises(ObjectFieldError, match="edit_sequence comes from the record"):
            qb.customer.mod(record, edit_sequence="1")


class TestConflict:
    def stale(self) -> tuple[QuickBooks, Direct, Any]:
        """A record read, then changed by somebody else (its phone)."""
        qb, direct = company(1)
        record = qb.customer.get(full_name="Customer 0001")
        qb.customer.mod(record, phone="555-0199")  # another user's change
        return qb, direct, record

    def test_a_stale_edit_sequence_raises_conflict_carrying_both_versions(self):
        qb, _, record = self.stale()
        with pytest.raises(ConflictError) as caught:
            qb.customer.mod(record, email="a@example.com")
        error = caught.value
        assert error.code == 3200
        assert error.sent == CustomerMod(
            list_id=record.list_id, edit_sequence=record.edit_sequence, email="a@example.com"
        )
        assert error.current.phone == "555-0199"
        assert error.current.edit_sequence != record.edit_sequence
        assert qb.customer.get(record.list_id).email is None  # nothing was changed

    def test_a_conflict_whose_record_cannot_be_fetched_again_carries_current_none(self):
        _, direct, record = self.stale()

        def send(rq: Any) -> qbxml.Result:
            if type(rq).__name__ == "CustomerQueryRq":  # the record went before it was read
                return answer(
                    '<CustomerQueryRs statusCode="3120" statusSeverity="Error"'
                    ' statusMessage="Object not found."/>'
                )
            return direct(rq)

        with pytest.raises(ConflictError) as caught:
            QuickBooks(send).customer.mod(record, email="a@example.com")
        assert caught.value.current is None and caught.value.code == 3200

    def test_reapply_fetches_again_and_sends_only_the_callers_fields_once(self):
        qb, direct, record = self.stale()
        before = len(direct.sent)
        changed = qb.customer.mod(record, email="a@example.com", on_conflict="reapply")
        assert (changed.phone, changed.email) == ("555-0199", "a@example.com")
        mod_rq, get_rq, again = direct.sent[before:]
        assert get_rq.list_id == [record.list_id]
        assert again.customer_mod.to_fields() == {
            "ListID": record.list_id,
            "EditSequence": changed.edit_sequence and again.customer_mod.edit_sequence,
            "Email": "a@example.com",
        }
        assert again.customer_mod.edit_sequence != mod_rq.customer_mod.edit_sequence

    def test_a_second_conflict_after_reapplying_raises(self):
        qb, direct = company(1)
        record = qb.customer.get(full_name="Customer 0001")
        stale = record.edit_sequence

        def send(rq: Any) -> qbxml.Result:
            # Somebody changes the record before each of our Mods lands.
            if type(rq).__name__ == "CustomerModRq":
                fresh = qb.customer.get(record.list_id)
                qb.customer.mod(fresh, fax=str(len(direct.sent)))
            return direct(rq)

        racing = QuickBooks(send)
        with pytest.raises(ConflictError) as caught:
            racing.customer.mod(record, email="a@example.com", on_conflict="reapply")
        assert caught.value.sent.edit_sequence != stale
        assert caught.value.current.fax is not None


def books() -> tuple[QuickBooks, Direct]:
    """Three customers, an item, a custom field "Region" of customers, an invoice of Ada's."""
    fake = FakeQuickBooks()
    fake.load(
        {
            "custom_fields": [
                {
                    "DataExtName": "Region",
                    "DataExtType": "STR255TYPE",
                    "AssignToObject": ["Customer"],
                }
            ],
            "customers": [{"Name": "Ada"}, {"Name": "Bob"}, {"Name": "adam"}],
            "items": [{"type": "ItemService", "Name": "Labour"}],
            "invoices": [
                {
                    "CustomerRef": {"FullName": "Ada"},
                    "RefNumber": "1001",
                    "InvoiceLineAdd": [{"ItemRef": {"FullName": "Labour"}, "Rate": "40.00"}],
                }
            ],
        }
    )
    direct = Direct(fake)
    return QuickBooks(direct, page_size=10), direct


class TestDeleteVoidDeleted:
    """Against the fake QuickBooks: its answers are checked against Intuit's response schema."""

    def test_delete_sends_list_del_of_the_type_and_the_record_is_gone(self):
        qb, direct = books()
        bob = qb.customer.get(full_name="Bob")
        qb.customer.delete(bob)
        rq = direct.sent[-1]
        assert (type(rq).__name__, rq.list_del_type, rq.list_id) == (
            "ListDelRq",
            "Customer",
            bob.list_id,
        )
        with pytest.raises(NotFoundError) as caught:
            qb.customer.get(bob.list_id or "")
        assert caught.value.code == 3120
        assert [c.name for c in qb.customer.list()] == ["Ada", "adam"]

    def test_void_then_delete_of_a_transaction(self):
        qb, direct = books()
        invoice = qb.invoice.get(ref_number="1001")
        assert invoice.subtotal == Decimal("40.00")
        qb.invoice.void(invoice)
        assert direct.sent[-1] == QuickBooks().invoice.void_request(invoice)
        voided = qb.invoice.get(invoice.txn_id or "")
        assert (voided.subtotal, voided.balance_remaining) == (Decimal("0.00"), Decimal("0.00"))
        assert voided.memo == "VOID:"
        lines = voided.invoice_line_ret
        assert [line.amount for line in lines if isinstance(line, InvoiceLineRet)] == [
            Decimal("0.00")
        ]
        assert len(lines) == 1
        qb.invoice.delete(voided)
        assert direct.sent[-1] == QuickBooks().invoice.delete_request(invoice)
        assert list(qb.invoice.list()) == []

    def test_deleting_what_is_not_there_raises_not_found(self):
        qb, _ = books()
        with pytest.raises(NotFoundError) as caught:
            qb.customer.delete("80000999-1")
        assert (caught.value.code, caught.value.request) == (3120, "ListDelRq")
        with pytest.raises(NotFoundError):
            qb.invoice.void("999-1")

    def test_deleting_a_customer_a_transaction_uses_raises_its_status(self):
        qb, _ = books()
        ada = qb.customer.get(full_name="Ada")
        with pytest.raises(QuickBooksStatusError) as caught:
            qb.customer.delete(ada)
        assert caught.value.code == 3170 and "1001" in caught.value.message
        assert qb.customer.get(ada.list_id or "").name == "Ada"

    def test_delete_and_void_where_qbxml_has_none_are_refused_before_sending(self):
        sent = Scripted()
        qb = QuickBooks(sent)
        with pytest.raises(QBXMLBuildError, match="no void for Customer"):
            qb.customer.void("80000001-1")
        with pytest.raises(QBXMLBuildError, match="no delete for Lead"):
            qb.lead.delete("80000001-1")
        with pytest.raises(QBXMLBuildError, match="no mod for CustomerMsg"):
            qb.customer_msg.mod_request(CustomerMod(), name="x")  # type: ignore[arg-type]
        assert sent.sent == []

    def test_deleted_lists_what_was_deleted_in_the_window(self):
        qb, direct = books()
        invoice = qb.invoice.get(ref_number="1001")
        assert qb.invoice.deleted() == []  # none yet: status 1 is no error
        qb.invoice.delete(invoice)
        (gone,) = qb.invoice.deleted(deleted_from=invoice.time_created)
        assert (type(gone).__name__, gone.txn_id, gone.ref_number) == (
            "TxnDeletedRet",
            invoice.txn_id,
            "1001",
        )
        rq = direct.sent[-1]
        assert rq.txn_del_type == ["Invoice"]
        assert rq.deleted_date_range_filter.from_deleted_date == invoice.time_created
        assert isinstance(gone.time_deleted, datetime)
        later = gone.time_deleted + timedelta(seconds=1)
        assert qb.invoice.deleted(deleted_from=later) == []
        bob = qb.customer.get(full_name="Bob")
        qb.customer.delete(bob)
        (customer,) = qb.customer.deleted()
        assert (type(customer).__name__, customer.list_id, customer.full_name) == (
            "ListDeletedRet",
            bob.list_id,
            "Bob",
        )


class TestCustomFields:
    """Against the fake QuickBooks, where "Region" is defined for customers."""

    def test_setting_a_field_adds_it_then_changes_it_and_reads_back_as_a_dict(self):
        qb, direct = books()
        bob = qb.customer.get(full_name="Bob", custom_fields=True)
        assert custom_fields(bob) == {}
        assert direct.sent[-1].owner_id == ["0"]
        assert qb.customer.set_custom_field(bob, "Region", "North").data_ext_value == "North"
        add = direct.sent[-1]
        assert type(add).__name__ == "DataExtAddRq" and add.data_ext_add.data_ext_name == "Region"
        bob = qb.customer.get(bob.list_id or "", custom_fields=True)
        assert custom_fields(bob) == {"Region": "North"}
        assert custom_fields(bob, owner_id="{6B063959-81B0-4EDD-8C8C-B6A6F8A5AEF2}") == {}
        assert qb.customer.set_custom_field(bob, "Region", "South").data_ext_value == "South"
        assert direct.sent[-1].data_ext_mod.to_fields() == {
            "OwnerID": "0",
            "DataExtName": "Region",
            "ListDataExtType": "Customer",
            "ListObjRef": {"ListID": bob.list_id},
            "DataExtValue": "South",
        }
        assert custom_fields(qb.customer.get(bob.list_id or "", custom_fields=True)) == {
            "Region": "South"
        }
        # Without custom_fields the record comes without them, as QuickBooks sends it.
        assert custom_fields(qb.customer.get(bob.list_id or "")) == {}

    def test_setting_a_field_twice_from_records_read_without_it_follows_quickbooks(self):
        qb, direct = books()
        bob = qb.customer.get(full_name="Bob")  # read without its custom fields
        assert qb.customer.set_custom_field(bob, "Region", "North").data_ext_value == "North"
        # bob still holds no DataExtRet: the Add is refused (3180) and the Mod is sent.
        assert qb.customer.set_custom_field(bob, "Region", "South").data_ext_value == "South"
        assert [type(rq).__name__ for rq in direct.sent[-2:]] == ["DataExtAddRq", "DataExtModRq"]
        held = qb.customer.get(bob.list_id or "", custom_fields=True)
        assert custom_fields(held) == {"Region": "South"}

    def test_a_field_never_defined_raises_and_changes_nothing(self):
        qb, _ = books()
        bob = qb.customer.get(full_name="Bob", custom_fields=True)
        with pytest.raises(QuickBooksStatusError) as caught:
            qb.customer.set_custom_field(bob, "Colour", "red")
        assert caught.value.code == 3120 and caught.value.request == "DataExtAddRq"
        assert qb.customer.get(bob.list_id or "").edit_sequence == bob.edit_sequence

    def test_items_and_transactions_take_custom_fields_by_their_data_ext_type(self):
        qb = QuickBooks()
        assert qb.item_inventory.spec.data_ext == "Item"
        assert qb.invoice.spec.data_ext == "Invoice"
        assert qb.class_.spec.data_ext == ""
        with pytest.raises(QBXMLBuildError, match="no custom fields for Class"):
            qb.class_.custom_field_request(qb.class_.query(), "x", "y")  # type: ignore[arg-type]


class TestNameFilters:
    """Against the fake QuickBooks: NameFilter and NameRangeFilter without regard to case."""

    @pytest.mark.parametrize(
        ("filters", "names"),
        [
            ({"name_starts_with": "AD"}, ["Ada", "adam"]),
            ({"name_contains": "o"}, ["Bob"]),
            ({"name_ends_with": "M"}, ["adam"]),
            ({"name_starts_with": "zz"}, []),
        ],
    )
    def test_list_by_name(self, filters, names):
        qb, _ = books()
        assert [c.name for c in qb.customer.list(**filters)] == names

    def test_a_name_range_through_query(self):
        qb, _ = books()
        query = CustomerQueryRq(name_range_filter=NameRangeFilter(from_name="b", to_name="zz"))
        assert [c.name for c in qb.customer.list(query=query)] == ["Bob"]

    def test_name_filter_pages_through_an_iterator(self):
        qb, direct = company(25)
        names = [c.name for c in qb.customer.list(name_starts_with="customer 001", page_size=4)]
        assert names == [f"Customer {n:04d}" for n in range(10, 20)]
        assert [rq.iterator for rq in direct.sent] == ["Start", "Continue", "Continue"]


class TestStatuses:
    """Scripted answers, kept where the fake QuickBooks cannot give the answer.

    ``raise_for_status`` is proved here on one response type for every code,
    1 and 500 included, which QuickBooks gives only to queries (never to a
    CustomerMod); and on an OK query answer without records, which the
    fake, like QuickBooks, never writes (it answers 1 when nothing matched).
    The end-to-end tests above prove the same classes on the fake's answers.
    """

    @pytest.mark.parametrize(
        ("code", "cls"),
        [
            (1, NotFoundError),
            (500, NotFoundError),
            (3120, NotFoundError),
            (3100, NameInUseError),
            (3140, InvalidReferenceError),
            (3200, ConflictError),
            (3170, QuickBooksStatusError),
        ],
    )
    def test_each_status_raises_its_class(self, code, cls):
        severity = "Info" if code == 1 else "Warn" if code == 500 else "Error"
        result = answer(
            f'<CustomerModRs statusCode="{code}" statusSeverity="{severity}" statusMessage="m"/>'
        )
        with pytest.raises(cls) as caught:
            raise_for_status(result)
        assert type(caught.value) is cls
        assert (caught.value.code, caught.value.request) == (code, "CustomerModRq")
        assert caught.value.result is result

    def test_an_answer_that_did_what_was_asked_passes(self):
        result = answer(f"<CustomerQueryRs {OK}/>")
        assert raise_for_status(result) is result
        nothing = answer(
            '<CustomerQueryRs statusCode="1" statusSeverity="Info" statusMessage="none"/>'
        )
        assert raise_for_status(nothing, missing_ok=True) is nothing

    def test_a_client_without_send_builds_requests_but_sends_none(self):
        qb = QuickBooks()
        assert type(qb.customer.add_request(CustomerAdd(name="A"))).__name__ == "CustomerAddRq"
        with pytest.raises(ConfigurationError, match="only builds requests"):
            qb.customer.get("X")


class TestInQueuedJobs:
    def test_a_job_kind_builds_the_clients_request_and_handles_its_answer(self):
        from qbwc_spyne import JobKind, MemoryJobQueue, QueueHandler, make_wsgi_app
        from qbwc_spyne.testing import WebConnector

        seen: list[Any] = []
        build_only = QuickBooks()

        class Mirror(JobKind):
            name = "mirror"

            def build(self, ctx: Any) -> Any:
                # Paged by the queue: each page comes to handle.
                return build_only.customer.query(active_status="All", page_size=2)

            def handle(self, ctx: Any, result: qbxml.Result) -> None:
                seen.extend(
                    c.name for c in raise_for_status(result).objects if isinstance(c, CustomerRet)
                )

        queue = MemoryJobQueue()
        handler = QueueHandler(queue, passwords=lambda u, p: p == "pw", kinds=[Mirror()])
        queue.enqueue(user="shop", kind="mirror", payload={})
        fake = FakeQuickBooks()
        fake.add_customers(5)
        WebConnector(make_wsgi_app(handler), user="shop", password="pw", quickbooks=fake).update()
        assert seen == [f"Customer {n:04d}" for n in range(1, 6)]
        assert sum('iterator="Continue"' in r for r in fake.requests) == 2


def test_live_client_through_a_web_connector_over_http(served):  # noqa: F811
    """get, add, mod and list through LiveClient, a real HTTP server and a Web Connector."""
    service = Service()
    url = served(service.app)
    fake = FakeQuickBooks()
    fake.add_customers(3)
    qb = QuickBooks.live(service.client, "shop", timeout=BOUND)
    first = Asking(lambda: qb.customer.get(full_name="Customer 0002"))
    wait_for(lambda: bool(service.queue.jobs()), "the first live request is queued")
    update = Update(service.web_connector(fake, target=url))
    assert first.result().name == "Customer 0002"
    made = qb.customer.add(CustomerAdd(name="Acme"))
    assert qb.customer.mod(made, phone="555-0100").phone == "555-0100"
    assert [c.name for c in qb.customer.list()] == [
        "Customer 0001",
        "Customer 0002",
        "Customer 0003",
        "Acme",
    ]
    with pytest.raises(NameInUseError):
        qb.customer.add(CustomerAdd(name="Acme"))
    assert service.end(update).ok


def test_mypy_knows_each_resources_record_type(tmp_path):
    """qb.customer.get is a CustomerRet to mypy, and a wrong filter or its value is an error."""
    source = tmp_path / "typed_client.py"
    source.write_text(
        "from qbwc_spyne.client import QuickBooks\n"
        "from qbwc_spyne.objects import CustomerAdd, CustomerRet, InvoiceRet\n"
        "def use(qb: QuickBooks) -> None:\n"
        "    found: CustomerRet = qb.customer.get(full_name='A')\n"
        "    made: CustomerRet = qb.customer.add(CustomerAdd(name='A'))\n"
        "    for c in qb.customer.list(active_status='All'):\n"
        "        print(c.full_name, found, made)\n"
        "    wrong: InvoiceRet = qb.customer.get('x')\n"
        "    qb.customer_msg.mod(found)\n"
        "    qb.customer.list(colour='red')\n"
        "    qb.customer.list(active_status='Everything')\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(source)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert [e.split(":")[1] for e in errors] == ["8", "9", "10", "11"], result.stdout
    assert "CustomerRet" in errors[0] and "InvoiceRet" in errors[0]
    assert '"colour"' in errors[2] and "Everything" in errors[3]  # the filters are typed
