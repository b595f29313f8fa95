"""The error catalogue: every code gets words for people, and no text makes it raise."""

from __future__ import annotations

import pytest

from qbwc_spyne import errors
from qbwc_spyne.errors import explain


class TestNormalisation:
    @pytest.mark.parametrize(
        ("spelling", "code", "kind"),
        [
            (3140, "3140", "status"),
            (" 3140 ", "3140", "status"),
            ("0x8004040a", "0x8004040A", "hresult"),
            ("0X8004040A", "0x8004040A", "hresult"),
            (-2147220472, "0x80040408", "hresult"),
            ("-2147220472", "0x80040408", "hresult"),
            ("qbwc1012", "QBWC1012", "qbwc"),
        ],
    )
    def test_each_spelling_maps_to_the_normal_code(self, spelling, code, kind):
        """Ints, digit strings, hex in any case, signed ints and QBWC numbers normalise."""
        why = explain(spelling)
        assert (why.code, why.kind) == (code, kind)


class TestUnknownCodes:
    @pytest.mark.parametrize(
        ("code", "title"),
        [
            (77, "Information from QuickBooks"),
            (777, "Warning from QuickBooks"),
            (7777, "QuickBooks refused the request"),
        ],
    )
    def test_an_unknown_status_is_explained_by_its_range_and_unconfirmed(self, code, title):
        """A statusCode the catalogue lacks gets its range's words, marked unconfirmed."""
        why = explain(code)
        assert why.title == title
        assert not why.confirmed
        assert code not in {int(e.code) for e in errors.catalogue() if e.kind == "status"}
