"""The queue sends only what QuickBooks takes: its version's schema, its code page."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbwc_spyne import Job, JobContext, JobKind, JobState, MemoryJobQueue, QueueHandler, qbxml
from qbwc_spyne.exceptions import ConfigurationError
from qbwc_spyne.testing import FakeQuickBooks

from .helpers import FakeClock, update
from .test_queue import company

#: Versions of a company that speaks 16.0 (QuickBooks 2017 and later).
VERSIONS_16 = (*FakeQuickBooks().versions, "14.0", "15.0", "16.0")


class AddCustomer(JobKind):
    """Adds the customer whose fields are the payload; reconciles by FullName."""

    name = "add_customer"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerAddRq", {"CustomerAdd": ctx.payload["fields"]})

    def reconcile(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", ctx.payload.get("reconcile", {"FullName": "x"}))


class Unchecked(JobKind):
    """Sends its fields as given: ``Rq(..., validate=False)``."""

    name = "unchecked"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        pairs = [tuple(pair) for pair in ctx.payload["pairs"]]
        return qbxml.Rq("CustomerAddRq", [("CustomerAdd", pairs)], validate=False)


class AddBill(JobKind):
    """A bill with a line class: BillAdd/ClassRef exists only from qbXML 16.0."""

    name = "add_bill"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        fields = {"BillAdd": {"VendorRef": {"FullName": "V"}, "ClassRef": {"FullName": "C"}}}
        return qbxml.Rq("BillAddRq", fields)


def handler(*kinds: JobKind, **options: Any) -> QueueHandler:
    return QueueHandler(
        MemoryJobQueue(), passwords=lambda user, pw: pw == "pw", kinds=kinds, clock=FakeClock(),
        **options,
    )  # fmt: skip


def customer(handler: QueueHandler, **fields: Any) -> int:
    return handler.enqueue("add_customer", user="shop", payload={"fields": fields}).id


def landed(handler: QueueHandler, job_id: int) -> Job:
    """The job as the queue holds it now."""
    job = handler.queue.get(job_id)
    assert job is not None, f"no job {job_id}"
    return job


def sent_for_jobs(qb: FakeQuickBooks) -> list[str]:
    """What QuickBooks was sent for jobs: not the HostQuery that ends an update with none left."""
    return [
        document
        for document in qb.requests
        if [rq.tag for rq in qbxml.parse(document).find("QBXMLMsgsRq")] != ["HostQueryRq"]
    ]


def names(qb: FakeQuickBooks) -> list[str]:
    return [record.findtext("Name") or "" for record in qb.records["Customer"].values()]


class TestSchema:
    def test_a_request_out_of_schema_fails_with_every_path_and_is_never_sent(self):
        """A misspelt element, a 42-character name: the job fails naming both; QB sees nothing."""
        h = handler(AddCustomer())
        bad = customer(h, Nmae="Acme", CompanyName="C" * 42)
        good = customer(h, Name="Acme")
        qb = company()
        result = update(h, qb)
        failed = landed(h, bad)
        assert failed.state is JobState.FAILED and failed.error_code == "schema"
        assert "CustomerAdd/Nmae: is not an element of CustomerAdd" in str(failed.error_message)
        assert "CustomerAdd/Name: is required and missing" in str(failed.error_message)
        assert "CustomerAdd/CompanyName: is 42 characters long" in str(failed.error_message)
        # Only the good job's request reached QuickBooks; the session went on.
        assert len(qb.requests) == 1 and "<Name>Acme</Name>" in qb.requests[0]
        assert landed(h, good).state is JobState.DONE and names(qb) == ["Acme"]
        assert result.ok, result.transcript()

    def test_fields_in_any_order_are_sent_in_schema_order(self):
        """The kind's dict order is not the schema's; QuickBooks gets the schema's and adds it."""
        h = handler(AddCustomer())
        job = customer(h, Phone="555", CompanyName="Acme Inc", IsActive=True, Name="Acme")
        qb = company()
        update(h, qb)
        assert landed(h, job).state is JobState.DONE
        add = qbxml.parse(qb.requests[0]).find(".//CustomerAdd")
        assert [child.tag for child in add] == ["Name", "IsActive", "CompanyName", "Phone"]

    def test_validate_false_sends_the_request_unchecked(self):
        """Out of order with validate=False: it reaches QuickBooks, which refuses it whole."""
        h = handler(Unchecked())
        job = h.enqueue(
            "unchecked",
            user="shop",
            payload={"pairs": [["CompanyName", "Acme Inc"], ["Name", "A"]]},
        ).id
        qb = company()
        update(h, qb)
        assert len(qb.requests) == 1  # sent: the queue did not check it
        failed = landed(h, job)
        assert failed.state is JobState.FAILED and failed.error_code == "0x80040400"

    def test_validate_false_sends_a_request_written_in_order(self):
        """Unchecked but right: QuickBooks carries it out."""
        h = handler(Unchecked())
        job = h.enqueue(
            "unchecked", user="shop", payload={"pairs": [["Name", "A"], ["CompanyName", "Acme"]]}
        ).id
        qb = company()
        update(h, qb)
        assert landed(h, job).state is JobState.DONE and names(qb) == ["A"]

    def test_a_16_0_field_is_refused_for_a_company_that_speaks_13_0(self):
        """The version is chosen from the HostQuery answer: a 13.0 company never gets ClassRef."""
        h = handler(AddBill(), version_cap="16.0")
        job = h.enqueue("add_bill", user="shop").id
        qb = company()  # supports up to 13.0
        update(h, qb)
        failed = landed(h, job)
        assert failed.state is JobState.FAILED and failed.error_code == "schema"
        assert "BillAdd/ClassRef: is not in qbXML 13.0; qbXML 16.0 has it" in str(
            failed.error_message
        )
        assert sent_for_jobs(qb) == []

    def test_a_16_0_field_goes_to_a_company_that_speaks_16_0(self):
        """The same job for a 16.0 company: written for 16.0, ClassRef kept, and sent."""
        h = handler(AddBill(), version_cap="16.0")
        job = h.enqueue("add_bill", user="shop").id
        qb = FakeQuickBooks(versions=VERSIONS_16)
        update(h, qb)
        assert len(qb.requests) == 1
        assert '<?qbxml version="16.0"?>' in qb.requests[0]
        assert "<ClassRef><FullName>C</FullName></ClassRef>" in qb.requests[0]
        assert landed(h, job).error_code != "schema"

    def test_a_reconcile_query_out_of_schema_leaves_the_write_unknown(self):
        """Failed would invite a retry that may write twice: the operator decides."""
        clock = FakeClock()
        h = handler(AddCustomer(), lease=60)
        h.clock = clock
        job = h.enqueue(
            "add_customer", user="shop",
            payload={"fields": {"Name": "A"}, "reconcile": {"FulName": "A"}},
        ).id  # fmt: skip
        # The write was handed to the Web Connector, whose session then died.
        sent = h.queue.claim(user="shop", company_file="", ticket="dead", now=clock(), lease=60)
        assert sent is not None and sent.id == job
        assert h.queue.progress(job, ticket="dead", now=clock(), writes=True)
        clock.advance(61)
        qb = company()
        update(h, qb)
        unknown = landed(h, job)
        assert unknown.state is JobState.UNKNOWN and unknown.error_code == "schema"
        assert "FulName: is not an element" in str(unknown.error_message)
        assert sent_for_jobs(qb) == []


#: A name in several scripts, what transliteration sends for it.
SCRIPTS = {
    "Latin accents": ("Zoë Lefèvre Müller", "Zoë Lefèvre Müller"),
    "Greek": ("Αθήνα Λτδ", "????? ???"),
    "Cyrillic": ("Дмитрий", "???????"),
    "CJK": ("北京公司", "????"),
    "typographic quotes": ("\u201cSmith\u2019s\u201d", '"Smith\'s"'),
    "euro sign": ("Caf\u00e9 \u20ac5", "Café EUR5"),
}
#: The first character of each name the code page lacks, as the error names it.
LACKING = {
    "Greek": "U+0391",
    "Cyrillic": "U+0414",
    "CJK": "U+5317",
    "typographic quotes": "U+201C",
    "euro sign": "U+20AC",
}


class TestEncoding:
    @pytest.mark.parametrize("script", SCRIPTS)
    def test_error_names_the_field_and_character_and_sends_nothing(self, script):
        """The default: a character outside Latin-1 fails the job before sending; Latin-1 goes."""
        h = handler(AddCustomer())
        job = customer(h, Name=SCRIPTS[script][0])
        qb = company()
        update(h, qb)
        now = landed(h, job)
        if script not in LACKING:
            assert now.state is JobState.DONE and names(qb) == [SCRIPTS[script][0]]
            return
        assert now.state is JobState.FAILED and now.error_code == "encoding"
        assert "CustomerAdd/Name: " in str(now.error_message)
        assert LACKING[script] in str(now.error_message)
        assert sent_for_jobs(qb) == []

    @pytest.mark.parametrize("script", SCRIPTS)
    def test_transliterate_sends_what_the_code_page_holds(self, script):
        """Every request fits Latin-1; QuickBooks stores the transliteration."""
        h = handler(AddCustomer(), encoding="transliterate")
        job = customer(h, Name=SCRIPTS[script][0])
        qb = company()
        update(h, qb)
        assert landed(h, job).state is JobState.DONE
        assert names(qb) == [SCRIPTS[script][1]]
        qb.requests[0].encode("latin-1")

    @pytest.mark.parametrize("script", SCRIPTS)
    def test_pass_sends_the_text_as_it_is(self, script):
        """No change at all: what QuickBooks then does is its own affair."""
        h = handler(AddCustomer(), encoding="pass")
        customer(h, Name=SCRIPTS[script][0])
        qb = company()
        update(h, qb)
        assert qbxml.parse(qb.requests[0]).findtext(".//Name") == SCRIPTS[script][0]

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=20))
    def test_no_character_outside_the_code_page_ever_reaches_quickbooks(self, name):
        """Any name under "error": refused by field and character, or sent fitting Latin-1."""
        h = handler(AddCustomer())
        job = customer(h, Name=name)
        qb = company()
        update(h, qb)
        now = landed(h, job)
        outside = sorted({c for c in name if ord(c) > 0xFF})
        if outside:
            assert now.error_code == "encoding" and sent_for_jobs(qb) == []
            assert all(f"U+{ord(c):04X}" in str(now.error_message) for c in outside)
        else:
            assert now.error_code != "encoding"
        for sent in qb.requests:
            sent.encode("latin-1")

    def test_a_kind_overrides_the_handlers_policy_and_code_page(self):
        """The handler refuses; one kind transliterates, another keeps € with cp1252."""

        class Lenient(AddCustomer):
            name = "lenient"
            encoding = "transliterate"

        class Windows(AddCustomer):
            name = "windows"
            codepage = "cp1252"

        h = handler(AddCustomer(), Lenient(), Windows())
        strict = customer(h, Name="Café €1")
        lenient = h.enqueue("lenient", user="shop", payload={"fields": {"Name": "Café €2"}}).id
        windows = h.enqueue("windows", user="shop", payload={"fields": {"Name": "Café €3"}}).id
        qb = company()
        update(h, qb)
        assert landed(h, strict).error_code == "encoding"
        assert landed(h, lenient).state is JobState.DONE
        assert landed(h, windows).state is JobState.DONE
        assert names(qb) == ["Café EUR2", "Café €3"]

    def test_the_schema_sees_the_transliterated_text(self):
        """ "…" becomes "...": 39 letters and an ellipsis are 42 characters, over Name's 41."""
        h = handler(AddCustomer(), encoding="transliterate")
        job = customer(h, Name="A" * 39 + "\u2026")
        qb = company()
        update(h, qb)
        failed = landed(h, job)
        assert failed.error_code == "schema" and "CustomerAdd/Name: is 42 characters" in (
            str(failed.error_message)
        )
        assert sent_for_jobs(qb) == []

    def test_pairs_from_a_generator_are_checked_too(self):
        """Fields given as an iterator of pairs are read once, and checked."""

        class Generated(AddCustomer):
            name = "generated"

            def build(self, ctx: JobContext) -> qbxml.Rq:
                fields = (("FullName", name) for name in ["Acme", "Дом"])
                return qbxml.Rq("CustomerQueryRq", fields)

        h = handler(Generated())
        job = h.enqueue("generated", user="shop").id
        qb = company()
        update(h, qb)
        failed = landed(h, job)
        assert failed.error_code == "encoding" and "FullName: 'Д'" in str(failed.error_message)
        assert sent_for_jobs(qb) == []

    @pytest.mark.parametrize(
        ("options", "kind_options"),
        [
            ({"encoding": "replace"}, {}),
            ({"codepage": "no-such-codec"}, {}),
            ({}, {"encoding": "ignore"}),
            ({}, {"codepage": "no-such-codec"}),
        ],
    )
    def test_an_unknown_policy_or_code_page_is_refused_when_configured(self, options, kind_options):
        """At construction or register, not at the first request."""
        kind = type("Odd", (AddCustomer,), kind_options)()
        with pytest.raises(ConfigurationError):
            handler(kind, **options)
