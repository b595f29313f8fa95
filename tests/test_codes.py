"""The error catalogue: every code gets words for people, and no text makes it raise."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qbwc_spyne import MemoryJobQueue, QueueHandler, make_wsgi_app
from qbwc_spyne.codes import Explanation, catalogue, describe, explain
from qbwc_spyne.protocol._core import Core
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

from .helpers import AddInvoice, FakeClock, RecordingHandler

ROOT = Path(__file__).resolve().parent.parent
FAKE_QUICKBOOKS = ROOT / "qbwc_spyne" / "testing" / "_fakeqb.py"

#: The codes the project's owners named as the common ones, each to be catalogued.
NAMED_IN_THE_REQUEST = [
    "1", "500", "530", "3000", "3100", "3120", "3140", "3170", "3175", "3176", "3180",
    "3200", "3210", "3250", "3260", "3391",
    "0x80040400", "0x80040401", "0x80040402", "0x80040408", "0x8004040D", "0x80040416",
    "0x80040418", "0x80040420", "0x80040422",
    "QBWC1012", "QBWC1013", "QBWC1016", "QBWC1039", "QBWC1042", "QBWC1048", "QBWC1085",
]  # fmt: skip


def emitted_codes(source: str) -> set[str]:
    """The statusCodes and HRESULTs a fake QuickBooks source can answer with.

    Read from the code, so a status the fake learns later is checked too:
    every ``_Status(<int>, ...)`` call, and every module-level tuple whose
    first item is an ``0x...`` HRESULT (``PARSE_ERROR``, ``NOT_RUNNING``).
    """
    codes: set[str] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "_Status"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, int)
        ):
            codes.add(str(node.args[0].value))
    for statement in tree.body:
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Tuple)
            and statement.value.elts
            and isinstance(statement.value.elts[0], ast.Constant)
            and str(statement.value.elts[0].value).startswith("0x")
        ):
            codes.add(str(statement.value.elts[0].value))
    return codes


def catalogued() -> dict[str, Explanation]:
    return {e.code: e for e in catalogue()}


class TestNormalisation:
    @pytest.mark.parametrize(
        ("spelling", "code", "kind"),
        [
            (3140, "3140", "status"),
            ("3140", "3140", "status"),
            (" 3140\n", "3140", "status"),
            ("03140", "3140", "status"),
            ("0x8004040a", "0x8004040A", "hresult"),
            ("0X8004040A", "0x8004040A", "hresult"),
            (-2147220472, "0x80040408", "hresult"),
            ("-2147220472", "0x80040408", "hresult"),
            (2147746824, "0x80040408", "hresult"),
            ("qbwc1012", "QBWC1012", "qbwc"),
            ("QBWC 1012", "QBWC1012", "qbwc"),
            ("QBWC-1012", "QBWC1012", "qbwc"),
        ],
    )
    def test_each_usual_spelling_maps_to_the_normal_code(self, spelling, code, kind):
        """Ints, digit strings, hex in any case, signed ints and QBWC numbers normalise."""
        why = explain(spelling)
        assert (why.code, why.kind) == (code, kind)

    @given(st.integers(min_value=0, max_value=(1 << 31) - 1))
    def test_every_spelling_of_a_status_code_is_one_code(self, value):
        """An int, its digits, padded or zero-led: the same statusCode, kept as digits."""
        spellings = [value, str(value), f" {value}\t", f"+{value}", f"0{value}"]
        assert {explain(s) for s in spellings} == {explain(value)}
        assert (explain(value).code, explain(value).kind) == (str(value), "status")

    @given(st.integers(min_value=1 << 31, max_value=(1 << 32) - 1))
    def test_every_spelling_of_an_hresult_is_one_code(self, value):
        """Hex in either case, the signed and unsigned ints: one HRESULT, upper-case hex."""
        spellings = [
            f"0x{value:x}",
            f"0X{value:X}",
            f" 0x{value:08x} ",
            value,
            value - (1 << 32),
            str(value - (1 << 32)),
        ]
        assert {(explain(s).code, explain(s).kind) for s in spellings} == {
            (f"0x{value:08X}", "hresult")
        }

    @given(st.integers(min_value=0, max_value=999_999), st.sampled_from(["", " ", "-", "_"]))
    def test_every_spelling_of_a_qbwc_number_is_one_code(self, number, gap):
        """QBWC numbers in any case, with or without a separator, name one code."""
        spellings = [f"QBWC{gap}{number}", f"qbwc{gap}{number}", f"Qbwc{gap}{number:04d}"]
        assert {explain(s).code for s in spellings} == {f"QBWC{number:04d}"}

    @given(
        st.one_of(
            st.text(),
            st.integers(),
            # Text shaped like codes, the near-misses included.
            st.from_regex(r"\s*[+-]?(0[xX]|[qQ][bB][wW][cC][ _-]?)?[0-9a-fA-F]{0,40}\s*"),
        )
    )
    def test_explain_never_raises_and_always_has_words(self, anything):
        """Any text or int gets an explanation with a title and words for people."""
        why = explain(anything)
        assert why.title and why.user and why.developer
        assert len(why.code) <= 80

    def test_huge_digit_strings_are_no_code_and_do_not_raise(self):
        """Digits beyond any code (past Python's int-conversion limit too) are no code."""
        for text in ("9" * 5000, "0x" + "f" * 5000, "QBWC" + "1" * 5000):
            why = explain(text)
            assert why.kind == "unknown" and not why.confirmed


class TestTheCatalogue:
    def test_codes_are_unique_and_already_normal(self):
        """Each entry is what explain() gives for its own code, and no code appears twice."""
        entries = catalogue()
        assert len({e.code for e in entries}) == len(entries)
        for entry in entries:
            assert explain(entry.code) is entry

    @pytest.mark.parametrize("entry", catalogue(), ids=lambda e: e.code)
    def test_each_entry_has_user_words_a_source_and_a_short_title(self, entry):
        """User words differ from the developer's, every entry names a source, titles are short."""
        assert entry.user and entry.developer and entry.source
        assert entry.user != entry.developer
        assert entry.kind in ("status", "hresult", "qbwc")
        assert 0 < len(entry.title) <= 60 and "\n" not in entry.user

    def test_every_code_named_in_the_request_is_catalogued(self):
        """The common codes the project was asked for each have an entry."""
        assert [code for code in NAMED_IN_THE_REQUEST if code not in catalogued()] == []

    def test_unconfirmed_entries_are_marked_and_some_are_confirmed(self):
        """The catalogue says which meanings rest on no public source, and not of all of them."""
        entries = catalogue()
        assert any(not e.confirmed for e in entries) and any(e.confirmed for e in entries)
        assert not catalogued()["QBWC1016"].confirmed and catalogued()["3140"].confirmed

    def test_catalogue_returns_a_copy(self):
        """Changing the returned list leaves the catalogue as it was."""
        entries = catalogue()
        entries.clear()
        assert catalogue()


class TestWhatTheFakeQuickBooksEmits:
    def test_the_reader_finds_the_codes_in_a_planted_source(self):
        """The source reader finds a _Status call and an HRESULT tuple, so it cannot pass empty."""
        planted = 'X = ("0x8004041D", "no")\ndef f():\n    raise _Status(3171, "closed")\n'
        assert emitted_codes(planted) == {"3171", "0x8004041D"}

    def test_every_code_the_fake_emits_has_an_entry(self):
        """Each statusCode and HRESULT in the fake QuickBooks is catalogued, confirmed or marked."""
        emitted = emitted_codes(FAKE_QUICKBOOKS.read_text(encoding="utf-8"))
        assert {"1", "500", "3140", "0x80040400", "0x80040408"} <= emitted
        assert sorted(emitted - set(catalogued())) == []


class TestUnknownCodes:
    @pytest.mark.parametrize(
        ("code", "title"),
        [
            (77, "Information from QuickBooks"),
            (777, "Warning from QuickBooks"),
            (7777, "QuickBooks refused the request"),
            ("0x80049999", "QuickBooks could not run the request"),
            ("QBWC9999", "Web Connector error"),
            ("hello", "Not an error code"),
        ],
    )
    def test_an_unknown_code_is_explained_by_its_kind_and_marked_unconfirmed(self, code, title):
        """A code the catalogue lacks gets its range's words, marked unconfirmed, never KeyError."""
        why = explain(code)
        assert why.title == title and not why.confirmed
        assert why.code not in catalogued()


class TestDescribe:
    def test_a_quickbooks_code_gets_its_message_then_the_user_words(self):
        """The normal code, QuickBooks' own message, then the words for people."""
        text = describe("0x8004040a", "QuickBooks is open on another file.")
        assert text == (
            "0x8004040A: QuickBooks is open on another file. — " + explain("0x8004040A").user
        )

    def test_an_empty_message_is_replaced_by_the_title(self):
        """With no message, the entry's title says what happened."""
        assert describe(3200, "").startswith("3200: Someone changed the record first — ")

    @pytest.mark.parametrize(
        ("code", "message", "text"),
        [("schema", "InvoiceAdd: bad", "schema: InvoiceAdd: bad"), ("", "", ""), ("", "x", "x")],
    )
    def test_an_application_failure_gets_no_quickbooks_words(self, code, message, text):
        """A code that is no QuickBooks code (the application's own) is passed through."""
        assert describe(code, message) == text


def failed_update(**options):
    """An update whose one job names a customer QuickBooks does not have (status 3140)."""
    quickbooks = FakeQuickBooks()
    quickbooks.load({"items": [{"type": "ItemService", "Name": "Labor"}]})
    handler = QueueHandler(
        MemoryJobQueue(),
        passwords=lambda user, password: password == "pw",
        kinds=[AddInvoice()],
        clock=FakeClock(),
        **options,
    )
    job = handler.enqueue("add_invoice", user="shop", payload={"customer": "Nobody"})
    app = make_wsgi_app(handler)
    result = WebConnector(
        app, user="shop", password="pw", quickbooks=quickbooks, noop_delay=0
    ).update()
    return job, result


class TestTheWordsReachTheUser:
    def test_get_last_error_of_a_failed_job_carries_the_user_words(self):
        """stop_on_error: getLastError names the job, QuickBooks' 3140 message and what to do."""
        job, result = failed_update(stop_on_error=True)
        assert result.status == "error"
        shown = result.messages[0]
        assert shown.startswith(f"Job {job.id} (add_invoice) failed: 3140: There is an invalid")
        assert shown.endswith(" — " + explain(3140).user)

    def test_close_connection_summary_carries_the_user_words(self):
        """Without stop_on_error the failure is listed at closeConnection, with the words too."""
        job, result = failed_update()
        assert f"job {job.id} (add_invoice) 3140: " in result.close_message
        assert explain(3140).user in result.close_message

    def test_connection_error_text_carries_the_user_words(self, store):
        """connectionError's hresult gets the catalogue's steps in the session's last error."""
        core = Core(RecordingHandler(authenticate={}), store)
        ticket = core.authenticate("user", "secret")[0]
        assert core.connection_error(ticket, "0x8004040A", "Another file is open.") == "done"
        last = core.get_last_error(ticket)
        assert last == (
            "QuickBooks could not be opened: 0x8004040A: Another file is open. — "
            + explain("0x8004040A").user
        )


class TestCommandLine:
    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qbwc_spyne", "explain", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )

    def test_explain_prints_the_words_for_a_code(self):
        """`qbwc-spyne explain 3140` prints the title, both explanations and the source."""
        result = self.run("3140")
        why = explain(3140)
        assert result.returncode == 0 and result.stderr == ""
        assert result.stdout.splitlines()[0] == f"3140: {why.title}"
        assert why.user in result.stdout and why.source in result.stdout

    def test_explain_json_parses_to_the_explanation(self):
        """--json prints every field of the explanation; a signed HRESULT is normalised."""
        result = self.run("-2147220472", "--json")
        assert result.returncode == 0
        assert Explanation(**json.loads(result.stdout)) == explain("0x80040408")

    def test_an_unconfirmed_code_says_so(self):
        """An explanation not confirmed from a public source is marked as such."""
        result = self.run("QBWC1016")
        assert result.returncode == 0 and "Not confirmed" in result.stdout
