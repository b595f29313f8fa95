"""Characters QuickBooks' code page lacks: refused by name, transliterated, or passed."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qbwc_spyne import qbxml
from qbwc_spyne.exceptions import CodePageError
from qbwc_spyne.qbxml import Rq, _encoding

NAMES = {
    "French": ("Zoë Lefèvre & Fils", "Zoë Lefèvre & Fils"),
    "German": ("Müller Straße", "Müller Straße"),
    "Polish": ("Łódź Spółka", "Lódz Spólka"),
    "Vietnamese": ("Ngụy Như", "Nguy Nhu"),
    "Czech": ("Dvořák", "Dvorák"),
    "Russian": ("Дмитрий", "???????"),
    "Greek": ("Αθήνα", "?????"),
    "Chinese": ("北京公司", "????"),
    "Arabic": ("شركة", "????"),
    "Typographic": ("\u201cSmith\u2019s\u201d \u2013 5\u2026", '"Smith\'s" - 5...'),
}


def document(name: str) -> str:
    return qbxml.request(Rq("CustomerAddRq", {"CustomerAdd": {"Name": name}}))


class TestPolicies:
    @pytest.mark.parametrize("script", NAMES)
    def test_transliterate_keeps_what_the_code_page_has(self, script):
        """Latin-1 letters (ó, á, ë) stay; other accents lose their mark; the rest become ?."""
        name, expected = NAMES[script]
        assert _encoding.apply_to_value(name, "transliterate") == expected
        text = _encoding.apply_to_document(document(name), "transliterate")
        assert qbxml.parse(text).findtext(".//Name") == expected
        text.encode("latin-1")  # the whole document now fits the code page

    @pytest.mark.parametrize("script", ["Polish", "Russian", "Chinese", "Typographic"])
    def test_error_names_the_field_and_the_character(self, script):
        """Each character the code page lacks is listed with its field."""
        name, _ = NAMES[script]
        with pytest.raises(CodePageError) as caught:
            _encoding.apply_to_document(document(name), "error")
        paths = {path for path, _ in caught.value.problems}
        assert paths == {"CustomerAddRq/CustomerAdd/Name"}
        missing = [c for c in name if not c.isascii() and c not in "ëèüßó"]
        assert all(f"U+{ord(c):04X}" in str(caught.value) for c in missing)
        assert isinstance(caught.value, ValueError)

    @pytest.mark.parametrize("script", ["French", "German"])
    def test_error_lets_latin_1_through(self, script):
        """Western European names are stored by QuickBooks: nothing to refuse."""
        name, _ = NAMES[script]
        assert _encoding.apply_to_value(name, "error") == name

    def test_pass_changes_nothing(self):
        """pass sends what it was given."""
        text = document("Дмитрий “Q”")
        assert _encoding.apply_to_document(text, "pass") == text

    def test_euro_follows_the_code_page(self):
        """€ is EUR in ISO-8859-1, and kept in Windows-1252, which has it."""
        assert _encoding.apply_to_value("€100", "transliterate") == "EUR100"
        assert _encoding.apply_to_value("€100", "transliterate", codepage="cp1252") == "€100"
        assert _encoding.apply_to_value("“A”", "transliterate", codepage="cp1252") == "“A”"

    def test_fields_of_a_request_keep_their_paths(self):
        """Applied to request fields, problems are named by their path; lists and pairs too."""
        fields = {"CustomerAdd": {"Name": "Ок", "ShipToAddress": [{"City": "Kraśnik"}]}}
        with pytest.raises(CodePageError) as caught:
            _encoding.apply_to_value(fields, "error")
        assert [p for p, _ in caught.value.problems] == [
            "CustomerAdd/Name",
            "CustomerAdd/Name",
            "CustomerAdd/ShipToAddress/City",
        ]
        done = _encoding.apply_to_value([("Name", "Łódź")], "transliterate")
        assert done == [("Name", "Lódz")]

    def test_any_mapping_and_a_tuple_of_pairs_are_walked(self):
        """A read-only mapping or a tuple of pairs is no way past the check."""
        fields = MappingProxyType({"CustomerAdd": MappingProxyType({"Name": "Дом"})})
        with pytest.raises(CodePageError) as caught:
            _encoding.apply_to_value(fields, "error")
        assert {p for p, _ in caught.value.problems} == {"CustomerAdd/Name"}
        pairs = (("FullName", "Acme"), ("FullName", "Łódź"))
        with pytest.raises(CodePageError) as caught:
            _encoding.apply_to_value(pairs, "error")
        assert {p for p, _ in caught.value.problems} == {"FullName"}
        done = _encoding.apply_to_value(pairs, "transliterate")
        assert done == [("FullName", "Acme"), ("FullName", "Lódz")]

    def test_transliterated_text_is_checked_for_length_after(self):
        """An ellipsis becomes three dots: the schema check sees the longer name."""
        name = _encoding.apply_to_value("x" * 40 + "…", "transliterate")
        with pytest.raises(qbxml.SchemaError, match="3070"):
            qbxml.request(Rq("CustomerAddRq", {"CustomerAdd": {"Name": name}}))

    @pytest.mark.parametrize(
        ("policy", "codepage"), [("ignore", "latin-1"), ("error", "no-such-codepage")]
    )
    def test_unknown_policy_or_code_page(self, policy, codepage):
        """A policy or code page that does not exist is a clear error."""
        with pytest.raises(CodePageError, match=policy if policy == "ignore" else codepage):
            _encoding.apply_to_value("x", policy, codepage=codepage)

    @given(st.text())
    def test_transliterate_always_fits_the_code_page(self, text):
        """Whatever the input, transliterated text encodes in the code page."""
        _encoding.apply_to_value(text, "transliterate").encode("latin-1")
