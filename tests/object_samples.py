"""Samples of every qbXML aggregate, built from the schema tables, for the typed-object tests.

A sample fills each element the schema puts in it: a leaf with a valid value
of its type, an aggregate recursively down to a bounded depth (deeper, only
the required ones). At a choice it takes branch ``turn`` (modulo the number
of branches), so a few turns reach every branch. Answers are built as lxml
elements (what QuickBooks sends); requests as typed objects (what a caller
writes).
"""

from __future__ import annotations

import keyword
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
from lxml import etree

from qbwc_spyne.qbxml import _objects, _schema

VERSIONS = ("13.0", "16.0")
#: Below this depth every element is filled; from it on, only required ones.
DEPTH = 3
#: Turns taken at each choice: enough to reach each branch of the widest choice (5 branches,
#: the report filters'; a test keeps the two in step).
TURNS = 5

ZONE = timezone(timedelta(hours=-5))

#: The text of a value of each simple type, as QuickBooks writes it.
TEXTS = {
    "BOOLTYPE": "true",
    "DATETYPE": "2024-02-29",
    "DATETIMETYPE": "2024-02-29T13:45:07-05:00",
    "AMTTYPE": "12.50",
    "PRICETYPE": "3.125",
    "QUANTYPE": "2.5",
    "PERCENTTYPE": "7.5",
    "FLOATTYPE": "1.5",
    "GUIDTYPE": "{12345678-1234-1234-1234-123456789012}",
    "TIMEINTERVALTYPE": "PT1H2M3S",
    "IDTYPE": "80000001-1405768916",
}
#: The same values as a caller holds them.
VALUES: dict[str, Any] = {
    "BOOLTYPE": True,
    "DATETYPE": date(2024, 2, 29),
    "DATETIMETYPE": datetime(2024, 2, 29, 13, 45, 7, tzinfo=ZONE),
    "AMTTYPE": Decimal("12.50"),
    "PRICETYPE": Decimal("3.125"),
    "QUANTYPE": Decimal("2.5"),
    "PERCENTTYPE": Decimal("7.5"),
    "FLOATTYPE": Decimal("1.5"),
    "GUIDTYPE": "{12345678-1234-1234-1234-123456789012}",
    "TIMEINTERVALTYPE": timedelta(hours=1, minutes=2, seconds=3),
    "IDTYPE": "80000001-1405768916",
}

_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    """The rule as the issue states it, written out again so the package's copies are checked."""
    converted = _SNAKE.sub("_", name).lower()
    return converted + "_" if keyword.iskeyword(converted) else converted


def keys(version: str) -> list[str]:
    """The aggregates of a version that have a class (not the envelope, groups or answers)."""
    return [
        key
        for key in _schema._lines(version)
        if not key.startswith(("&", "%", "!", "QBXML")) and not key.endswith("RsType")
    ]


def class_name(key: str) -> str:
    """The class of a schema key: ``XRqType`` is ``XRq``."""
    return key.removesuffix("Type") if key.endswith("RqType") else key


def leaf_text(leaf: _schema.Leaf) -> str:
    """A valid text of ``leaf``: its first enumerated value, else one of its type, short."""
    if leaf.enums:
        return leaf.enums[0]
    if leaf.base == "INTTYPE":
        return str(leaf.low if leaf.low is not None else 3)
    return TEXTS.get(leaf.base, "N" * min(leaf.max_length or 5, 5))


def leaf_value(leaf: _schema.Leaf) -> Any:
    """The value a caller gives for ``leaf_text(leaf)``."""
    if leaf.enums:
        return leaf.enums[0]
    if leaf.base == "INTTYPE":
        return leaf.low if leaf.low is not None else 3
    return VALUES.get(leaf.base, "N" * min(leaf.max_length or 5, 5))


def _walk(group: _schema._Group, turn: int) -> list[_schema._Element]:
    """The elements a sample holds, in schema order: one branch per choice."""
    if group.high == 0:
        return []  # a group the schema has switched off (maxOccurs="0")
    children = group.children
    if group.choice:
        children = [children[turn % len(children)]]
    found: list[_schema._Element] = []
    for child in children:
        if isinstance(child, _schema._Group):
            found += _walk(child, turn)
        elif child.high > 0:
            found.append(child)
    return found


def answer(version: str, key: str, turn: int = 0, depth: int = 0) -> etree._Element:
    """An element of the aggregate ``key`` as QuickBooks would send it."""
    element = etree.Element(key)
    _answer_into(element, version, key, turn, depth)
    return element


def _answer_into(element: etree._Element, version: str, key: str, turn: int, depth: int) -> None:
    for child in _walk(_schema._aggregate(version, key).tree, turn):
        if isinstance(child.ref, str):
            if depth >= DEPTH and child.low == 0:
                continue
            sub = etree.SubElement(element, child.name)
            _answer_into(sub, version, child.ref, turn, depth + 1)
        else:
            assert child.leaf is not None
            etree.SubElement(element, child.name).text = leaf_text(child.leaf)


def build(
    version: str, key: str, turn: int = 0, depth: int = 0, seen: set[str] | None = None
) -> Any:
    """A typed object of the aggregate ``key``, valid in ``version``.

    ``seen`` collects the keys of the objects built, nested ones included.
    """
    if seen is not None:
        seen.add(key)
    fields: dict[str, Any] = {}
    for child in _walk(_schema._aggregate(version, key).tree, turn):
        if isinstance(child.ref, str):
            if depth >= DEPTH and child.low == 0:
                continue
            value = build(version, child.ref, turn, depth + 1, seen)
        else:
            assert child.leaf is not None
            value = leaf_value(child.leaf)
        field = held_by(version, key).get(child.name, snake(child.name))
        if child.most > 1:
            fields.setdefault(field, []).append(value)
        else:
            fields[field] = value
    return _objects.load(class_name(key))(**fields)


def held_by(version: str, key: str) -> dict[str, str]:
    """The field each member of a repeated choice goes to: its first member's (the stated rule)."""
    aggregate = _schema._aggregate(version, key)
    return {
        tag: snake(union[0])
        for union in aggregate.unions()
        if all(isinstance(aggregate.names[t].ref, str) for t in union)
        for tag in union
    }


def qbxml_names(cls: type) -> dict[str, str]:
    """Field name -> qbXML name of a class, from both versions' tables."""
    key = cls.__name__ + "Type" if cls.__name__.endswith("Rq") else cls.__name__
    names: dict[str, str] = {}
    for version in VERSIONS:
        aggregate = _schema._lookup(version, key)
        if aggregate is not None:
            names.update({snake(tag): tag for tag in aggregate.names})
    return names


def as_qbxml_dict(obj: Any) -> dict[str, Any]:
    """An object's values under their qbXML names, shaped as ``typed_dict`` reads them."""
    names = qbxml_names(type(obj))
    values: dict[str, Any] = {}
    for field, value in msgspec.structs.asdict(obj).items():
        if field == "extra":
            values.update(value)
        elif isinstance(value, list) and value and names[field] != _tag(value[0], names[field]):
            # A repeated choice's field: each member back under its own tag.
            for item in value:
                values.setdefault(type(item).__name__, []).append(_plain(item))
        elif value is not None and value != []:
            values[names[field]] = (
                [_plain(v) for v in value] if isinstance(value, list) else _plain(value)
            )
    return values


def _tag(item: Any, tag: str) -> str:
    # The tag an item of a list field stands under: its class's own for an aggregate.
    return type(item).__name__ if isinstance(item, _objects.QBObject) else tag


def _plain(value: Any) -> Any:
    return as_qbxml_dict(value) if isinstance(value, _objects.QBObject) else value
