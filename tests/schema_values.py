"""Realistic request dicts drawn from the generated schema, for property tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from qbwc_spyne.qbxml import _schema
from qbwc_spyne.qbxml._schema import UNBOUNDED, _Element, _Group

WORDS = ["Acme & Sons", "Zoë's Café", "12 Main St.", "Net 30", 'The "Best" <Co>', "Ørsted"]
ZONES = [timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30)), UTC]


def leaf_values(leaf: _schema.Leaf) -> st.SearchStrategy[Any]:
    """Values a leaf accepts, as Python values a caller would hold."""
    base = leaf.base
    if leaf.enums:
        return st.sampled_from(leaf.enums)
    if base == "BOOLTYPE":
        return st.booleans()
    if base == "DATETYPE":
        return st.dates(date(2000, 1, 1), date(2030, 12, 31))
    if base == "DATETIMETYPE":
        return st.datetimes(datetime(2000, 1, 1), datetime(2030, 12, 31)).flatmap(
            lambda moment: st.sampled_from(ZONES).map(lambda zone: moment.replace(tzinfo=zone))
        )
    if base == "AMTTYPE":
        return st.decimals(-(10**6), 10**6, places=2)
    if base in ("PRICETYPE", "QUANTYPE", "PERCENTTYPE"):
        return st.decimals(0, 10**5, places=3) | st.integers(0, 500)
    if base == "FLOATTYPE":
        return st.decimals(0, 100, places=2)
    if base == "INTTYPE":
        return st.integers(leaf.low if leaf.low is not None else 0, leaf.high or 1000)
    if base == "GUIDTYPE":
        return st.uuids()
    if base == "TIMEINTERVALTYPE":
        return st.integers(0, 360000).map(lambda s: timedelta(seconds=s))
    if base == "IDTYPE":
        return st.just("80000001-1405768916")
    limit = leaf.max_length or 100
    return st.sampled_from(WORDS).map(lambda word: word[:limit])


@st.composite
def aggregate_values(draw: st.DrawFn, version: str, key: str, depth: int = 0) -> dict[str, Any]:
    """A dict for the aggregate ``key``: every required element, optional ones at random."""
    aggregate = _schema._aggregate(version, key)
    values: dict[str, Any] = {}
    _fill(draw, version, aggregate.tree, values, depth)
    if not values and "FullName" in aggregate.names:
        # A reference names something.
        full_name = aggregate.names["FullName"].ref
        assert isinstance(full_name, int)
        values["FullName"] = draw(leaf_values(_schema._leaf(full_name)))
    return values


def _fill(draw: st.DrawFn, version: str, group: _Group, values: dict[str, Any], depth: int) -> None:
    if group.low == 0 and (depth > 1 or not draw(st.booleans())):
        return
    children = group.children
    if group.choice:
        children = [draw(st.sampled_from(children))]
    for child in children:
        if isinstance(child, _Group):
            _fill(draw, version, child, values, depth)
        else:
            _element(draw, version, child, values, depth)


def _element(
    draw: st.DrawFn, version: str, element: _Element, values: dict[str, Any], depth: int
) -> None:
    if element.high == 0 or element.name in values:
        return
    if element.low == 0 and (depth > 1 or not draw(st.booleans())):
        return
    if isinstance(element.ref, str):
        strategy = aggregate_values(version, element.ref, depth + 1)
    else:
        strategy = leaf_values(_schema._leaf(element.ref))
    if element.most > 1:
        values[element.name] = draw(st.lists(strategy, min_size=1, max_size=2))
        if element.most < UNBOUNDED:
            values[element.name] = values[element.name][: element.most]
    else:
        values[element.name] = draw(strategy)


def shuffled(draw: st.DrawFn, value: Any) -> Any:
    """The same dicts, every level's keys in a drawn order."""
    if isinstance(value, dict):
        keys = draw(st.permutations(list(value)))
        return {key: shuffled(draw, value[key]) for key in keys}
    if isinstance(value, list):
        return [shuffled(draw, item) for item in value]
    return value
