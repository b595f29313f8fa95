"""The qbXML schema at run time: order, check and format requests; type answers.

Theory of operation. ``_qbxml_schema`` holds one line per definition of
Intuit's XSD (see ``codegen_schema`` for the grammar). A line is parsed the
first time its aggregate is used, into a tree of :class:`_Element` and
:class:`_Group` nodes; named groups are inlined then. The caller gives an
aggregate's children as a dict (or ``(tag, value)`` pairs), which has no
order, so the question asked of the tree is not "does this sequence match"
but "which elements are present": each choice takes the branch that holds
most of the names present, the elements of the branches taken give each
name its position, and the children are written sorted by position. The
answer depends only on the set of names, so it is cached per aggregate and
key tuple: the fifty lines of an invoice cost one arrangement, then one
dict lookup each, and the per-value work is the formatting the unchecked
build does anyway.

Every problem met is collected with its path (``InvoiceAdd/InvoiceLineAdd[2]/Amount``)
and raised together as one :class:`~qbwc_spyne.exceptions.SchemaError`.
"""

from __future__ import annotations

import difflib
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any

from lxml import etree

from ..exceptions import SchemaError
from . import _qbxml_schema as _data

__all__ = [
    "VERSIONS",
    "Aggregate",
    "DocumentCheck",
    "Leaf",
    "build_request",
    "check_document",
    "check_response",
    "is_write",
    "request_names",
    "schema_version",
    "shape_answer",
    "takes_iterator",
    "typed_dict",
]

VERSIONS: tuple[str, ...] = _data.VERSIONS
UNBOUNDED = 1 << 30

Problems = list[tuple[str, str]]


def schema_version(version: str) -> str:
    """The schema checking ``version``: 16.0 from 16.0 up, else 13.0, the oldest held.

    A company speaking 14.0 or 15.0 is checked against 13.0, so an element
    added after 13.0 is refused rather than sent to a company that may not
    know it.
    """
    major = int(version.split(".", 1)[0])
    return "16.0" if major >= 16 else "13.0"


def _other(version: str) -> str:
    return "16.0" if version == "13.0" else "13.0"


@cache
def _lines(version: str) -> dict[str, str]:
    only = _data.ONLY_130 if version == "13.0" else _data.ONLY_160
    table: dict[str, str] = {}
    for block in (_data.COMMON, only):
        for line in block.splitlines():
            key, _, model = line.partition("=")
            table[key] = model
    return table


@cache
def request_names(version: str) -> frozenset[str]:
    """Every request element of a schema version (``CustomerAddRq``, ...)."""
    return frozenset(_aggregate(version, "QBXMLMsgsRq").names)


def takes_iterator(name: str, version: str = "16.0") -> bool:
    """True when the query ``name`` accepts the ``iterator`` attribute."""
    return name in _word_set(version, "!iterator")


def is_write(name: str, version: str = "16.0") -> bool:
    """True when the request ``name`` changes the company file (Add, Mod, Del, Void...)."""
    return name in _word_set(schema_version(version), "!writes")


@cache
def _word_set(version: str, key: str) -> frozenset[str]:
    return frozenset(_lines(version)[key].split())


# -- leaves: format a Python value, or type a text ------------------------------------------


_NUMBERS = {  # base: (integer digits, decimal places, always write the places)
    "AMTTYPE": (13, 2, True),
    "PRICETYPE": (10, 5, False),
    "QUANTYPE": (10, 5, False),
    "PERCENTTYPE": (10, 5, False),
}
_PATTERNS = {
    "AMTTYPE": re.compile(r"([+\-]?[0-9]{1,13}(\.[0-9]{2})?)?"),
    "PRICETYPE": re.compile(r"([+\-]?[0-9]{1,10}(\.[0-9]{1,5})?)?"),
    "QUANTYPE": re.compile(r"([+\-]?[0-9]{1,10}(\.[0-9]{1,5})?)?"),
    "PERCENTTYPE": re.compile(r"([+\-]?[0-9]{1,10}(\.[0-9]{1,5})?)?"),
    "INTTYPE": re.compile(r"[+\-]?[0-9]+"),
    "FLOATTYPE": re.compile(r"([+\-]?([0-9]+(\.[0-9]*)?|\.[0-9]+))?"),
    "BOOLTYPE": re.compile(r"true|false|1|0|"),
    "DATETYPE": re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})?"),
    "DATETIMETYPE": re.compile(
        r"([0-9]{4}\-[0-9]{1,2}\-[0-9]{1,2}(T[0-9]{1,2}(:[0-9]{1,2}(:[0-9]{1,2}"
        r"([+\-]{1}[0-9]{1,2}:[0-9]{1,2})?)?)?)?)?"
    ),
    "TIMEINTERVALTYPE": re.compile(r"([+\-]?PT([0-9]+H)?([0-9]+M)?([0-9]+S)?)?"),
    "GUIDTYPE": re.compile(r"0|(\{[0-9a-fA-F]{8}(\-([0-9a-fA-F]{4})){3}\-[0-9a-fA-F]{12}\})"),
}
# What each base reads as, for messages.
_EXPECTS = {
    "AMTTYPE": "an amount",
    "PRICETYPE": "a price",
    "QUANTYPE": "a quantity",
    "PERCENTTYPE": "a percentage",
    "INTTYPE": "an integer",
    "FLOATTYPE": "a number",
    "BOOLTYPE": "a bool",
    "DATETYPE": "a date",
    "DATETIMETYPE": "a timezone-aware datetime",
    "TIMEINTERVALTYPE": "a timedelta",
    "GUIDTYPE": "a GUID",
}
# Python types that have a qbXML form for some base; anything else has none.
_KNOWN = (str, int, float, Decimal, date, timedelta, uuid.UUID)


class _Refused(Exception):
    """A value a leaf cannot take; the message says why."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """A simple type: its base (``STRTYPE``, ``AMTTYPE``...) and its restrictions."""

    base: str
    max_length: int | None
    low: int | None
    high: int | None
    enums: tuple[str, ...]

    def format(self, value: Any) -> str:
        """``value`` as the text QuickBooks expects.

        Raises:
            _Refused: the value has the wrong type, form, length or is not enumerated.
        """
        base = self.base
        if value.__class__ is str:
            text: str = value
            pattern = _PATTERNS.get(base)
            if pattern is not None and pattern.fullmatch(text) is None:
                raise _Refused(f"{text!r} is not {_EXPECTS[base]} in qbXML form")
        elif isinstance(value, bool):
            if base != "BOOLTYPE":
                raise _Refused(f"expects {_EXPECTS.get(base, 'text')}, not a bool")
            return "true" if value else "false"
        elif base in _NUMBERS:
            text = _number(value, base)
        elif base == "INTTYPE" and isinstance(value, int):
            text = str(value)
        elif base == "FLOATTYPE" and isinstance(value, int | Decimal | float):
            if isinstance(value, float | Decimal) and not math.isfinite(value):
                raise _Refused(f"{value} is not a number QuickBooks can store")
            text = format(value, "f") if isinstance(value, Decimal) else str(value)
        elif base == "DATETIMETYPE" and isinstance(value, datetime):
            if value.utcoffset() is None:
                raise _Refused(
                    f"{value.isoformat()} is a naive datetime: give it a timezone"
                    " (tzinfo), QuickBooks reads the offset"
                )
            text = value.replace(microsecond=0).isoformat()
        elif base in ("DATETYPE", "DATETIMETYPE") and isinstance(value, date):
            if isinstance(value, datetime):
                raise _Refused(f"expects a date, not a datetime ({value.isoformat()})")
            text = value.isoformat()
        elif base == "TIMEINTERVALTYPE" and isinstance(value, timedelta):
            text = _interval(value)
        elif base == "GUIDTYPE" and isinstance(value, uuid.UUID):
            text = "{" + str(value).upper() + "}"
        elif base not in _EXPECTS and isinstance(value, int | Decimal):
            text = format(value, "f") if isinstance(value, Decimal) else str(value)
        elif isinstance(value, Mapping | list | tuple):
            raise _Refused(f"is a single value, not a group of elements ({type(value).__name__})")
        elif isinstance(value, _KNOWN):
            kind = type(value).__name__
            raise _Refused(f"expects {_EXPECTS.get(base, 'text')}, not a {kind} ({value!r})")
        else:
            raise _Refused(f"a {type(value).__name__} has no qbXML form")
        if self.enums and text not in self.enums:
            close = difflib.get_close_matches(text, self.enums, n=3)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise _Refused(f"{text!r} is not one of {', '.join(self.enums)}{hint}")
        if self.max_length is not None and len(text) > self.max_length:
            raise _Refused(
                f"is {len(text)} characters long; QuickBooks takes at most"
                f" {self.max_length} (it refuses longer with status 3070)"
            )
        if self.low is not None or self.high is not None:
            number = int(text)
            if (self.low is not None and number < self.low) or (
                self.high is not None and number > self.high
            ):
                raise _Refused(f"{number} is outside {self.low}..{self.high}")
        return text


def _number(value: Any, base: str) -> str:
    digits, places, fixed = _NUMBERS[base]
    if value.__class__ is Decimal:
        pass
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Refused(f"{value} is not a number QuickBooks can store")
        # A float is inexact anyway: round it to the places qbXML has.
        value = round(Decimal(repr(value)), places)
    elif isinstance(value, int):
        value = Decimal(value)
    elif not isinstance(value, Decimal):
        kind = type(value).__name__
        if isinstance(value, _KNOWN):
            raise _Refused(f"expects {_EXPECTS[base]}, not a {kind} ({value!r})")
        raise _Refused(f"a {kind} has no qbXML form")
    if not value.is_finite():
        raise _Refused(f"{value} is not a number QuickBooks can store")
    _sign, numerals, exponent = value.as_tuple()
    if len(numerals) + int(exponent) > digits:
        raise _Refused(f"{value} has more than {digits} digits before the point")
    if int(exponent) < -places and value != value.quantize(_STEPS[places]):
        # A Decimal is exact by choice: rounding money silently is not ours to do.
        raise _Refused(f"{value} has more than {places} decimal places")
    if fixed:
        text = format(value.quantize(_STEPS[places]), "f")
    else:
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return text


_STEPS = {places: Decimal(1).scaleb(-places) for places in (2, 5)}


def _interval(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}PT{hours}H{rest // 60}M{rest % 60}S"


@cache
def _leaf(index: int) -> Leaf:
    base, length, low, high, enums = _TYPE_LINES[index].split(";")
    return Leaf(
        base=base,
        max_length=int(length) if length else None,
        low=int(low) if low else None,
        high=int(high) if high else None,
        enums=tuple(enums.split("|")) if enums else (),
    )


_TYPE_LINES = _data.TYPES.splitlines()


# -- aggregates -----------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Element:
    name: str
    low: int
    high: int
    ref: int | str  # a TYPES index, or the key of an aggregate
    position: int = 0
    most: int = 1  # how many may appear, counting repeated enclosing groups
    leaf: Leaf | None = None  # the simple type, when ref is a TYPES index
    _target: Aggregate | None = None

    def aggregate(self, version: str) -> Aggregate:
        """The aggregate this element holds (its tree belongs to one version)."""
        if self._target is None:
            self._target = _aggregate(version, str(self.ref))
        return self._target


@dataclass(slots=True, eq=False)
class _Group:
    choice: bool
    low: int
    high: int
    children: list[_Element | _Group]
    names: frozenset[str] = frozenset()


_TOKEN = re.compile(
    r"\s*(?:([(\[])|([)\]])|&(\w+)|(\w+))(\?|\*|\+|\{(\d+),(\d+|n)\})?(?::([#@])([\w.]+))?"
)


def _occurs(mark: str | None, low: str | None, high: str | None) -> tuple[int, int]:
    if not mark:
        return 1, 1
    if mark == "?":
        return 0, 1
    if mark == "*":
        return 0, UNBOUNDED
    if mark == "+":
        return 1, UNBOUNDED
    return int(low or 0), UNBOUNDED if high == "n" else int(high or 0)


def _parse(version: str, model: str) -> _Group:
    """The tree of one definition, named groups inlined."""
    stack: list[_Group] = [_Group(choice=False, low=1, high=1, children=[])]
    for match in _TOKEN.finditer(model):
        opening, closing, group, name, mark, low, high, kind, ref = match.groups()
        if opening:
            stack.append(_Group(choice=opening == "[", low=1, high=1, children=[]))
        elif closing:
            done = stack.pop()
            done.low, done.high = _occurs(mark, low, high)
            stack[-1].children.append(done)
        elif group:
            inner = _parse(version, _lines(version)["&" + group])
            inner.low, inner.high = _occurs(mark, low, high)
            stack[-1].children.append(inner)
        else:
            lo, hi = _occurs(mark, low, high)
            target: int | str = int(ref) if kind == "#" else ref
            leaf = _leaf(target) if isinstance(target, int) else None
            stack[-1].children.append(_Element(name=name, low=lo, high=hi, ref=target, leaf=leaf))
    (root,) = stack
    if len(root.children) == 1 and isinstance(root.children[0], _Group):
        return root.children[0]
    return root


@dataclass(slots=True)
class _Arrangement:
    """Where each present name goes, and what is wrong with the set of names."""

    order: list[str]  # the present names, in schema order
    elements: dict[str, _Element]
    problems: list[tuple[str, str]]  # (child name or "", message)


class Aggregate:
    """One complex type of a schema version: its tree and its cached arrangements."""

    def __init__(self, version: str, key: str, tree: _Group) -> None:
        self.version = version
        self.key = key
        self.tree = tree
        self.names: dict[str, _Element] = {}
        self._number(tree, 1, [0])
        self._arrangements: dict[tuple[str, ...], _Arrangement] = {}
        self._typing: dict[str, tuple[Callable[[str], Any] | str | None, bool]] | None = None
        self._sequences: dict[tuple[str, ...], bool] = {}

    def _number(self, group: _Group, most: int, counter: list[int]) -> frozenset[str]:
        # Elements of a repeated group share its position, so that a stable
        # sort keeps the caller's order among them (lines and line groups).
        repeated = group.high > 1
        start = counter[0]
        names: set[str] = set()
        for child in group.children:
            if isinstance(child, _Group):
                names |= self._number(child, min(UNBOUNDED, most * child.high), counter)
            else:
                child.position = start if repeated else counter[0]
                child.most = min(UNBOUNDED, most * child.high)
                counter[0] += 1
                self.names.setdefault(child.name, child)
                names.add(child.name)
        group.names = frozenset(names)
        return group.names

    def unions(self) -> list[tuple[str, ...]]:
        """The repeated choices of elements (``InvoiceLineAdd`` or ``InvoiceLineGroupAdd``...).

        Their members come in any order, which is meaningful (an invoice's
        lines print in it): a typed object keeps them in one list.
        """
        found: list[tuple[str, ...]] = []

        def walk(group: _Group) -> None:
            members = group.children
            elements = [c for c in members if isinstance(c, _Element)]
            if group.choice and group.high > 1 and 1 < len(elements) == len(members):
                found.append(tuple(c.name for c in elements))
            for child in members:
                if isinstance(child, _Group):
                    walk(child)

        walk(self.tree)
        return found

    def matches(self, tags: tuple[str, ...]) -> bool:
        """True when the children named ``tags``, in this order, fit the content model."""
        found = self._sequences.get(tags)
        if found is None:
            found = len(tags) in _ends(self.tree, tags, 0, {})
            if len(self._sequences) < 1024:  # bounded: the lines of a document repeat
                self._sequences[tags] = found
        return found

    def arrange(self, keys: tuple[str, ...]) -> _Arrangement:
        """The arrangement of an instance whose present children are ``keys``."""
        found = self._arrangements.get(keys)
        if found is None:
            found = self._arrange(keys)
            if len(self._arrangements) < 256:  # bounded: key sets repeat, or are odd
                self._arrangements[keys] = found
        return found

    def _arrange(self, keys: tuple[str, ...]) -> _Arrangement:
        present = set(keys)
        elements: dict[str, _Element] = {}
        problems: list[tuple[str, str]] = []
        self._match(self.tree, present, elements, problems)
        for name in dict.fromkeys(keys):
            if name in elements:
                continue
            if name in self.names:
                problems.append(
                    (name, "cannot be given together with " + self._rivals(name, present))
                )
            else:
                problems.append((name, self._unknown(name)))
        order = sorted(elements, key=lambda n: elements[n].position)
        return _Arrangement(order=order, elements=elements, problems=problems)

    def _rivals(self, name: str, present: set[str]) -> str:
        # The innermost single choice holding the name says who excluded it.
        def find(group: _Group) -> str | None:
            for child in group.children:
                if isinstance(child, _Group):
                    hit = find(child)
                    if hit is not None:
                        return hit
            if group.choice and group.high <= 1 and name in group.names:
                others = sorted((group.names & present) - {name})
                if others:
                    return ", ".join(others) + " (QuickBooks takes one of them)"
            return None

        return find(self.tree) or "the others"

    def _unknown(self, name: str) -> str:
        other = _lookup(_other(self.version), self.key)
        if other is not None and name in other.names:
            return (
                f"is not in qbXML {self.version}; qbXML {other.version} has it"
                " (is the company's version too old?)"
            )
        close = difflib.get_close_matches(name, list(self.names), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"is not an element of {self.key.split('.')[-1]}{hint}"

    def _match(
        self,
        group: _Group,
        present: set[str],
        elements: dict[str, _Element],
        problems: list[tuple[str, str]],
    ) -> None:
        if group.choice:
            branches = [c for c in group.children if self._holds(c, present)]
            if not branches:
                if group.low > 0 and not any(self._optional(c) for c in group.children):
                    first = [self._first(c) for c in group.children]
                    problems.append(("", "needs one of " + ", ".join(first)))
                return
            if group.high <= 1:
                branches.sort(key=lambda c: -self._count(c, present))
                branches = branches[:1]
            for branch in branches:
                self._take(branch, present, elements, problems)
            return
        if group.low == 0 and not group.names & present:
            return  # an optional sequence left out entirely
        for child in group.children:
            self._take(child, present, elements, problems)

    def _take(
        self,
        child: _Element | _Group,
        present: set[str],
        elements: dict[str, _Element],
        problems: list[tuple[str, str]],
    ) -> None:
        if isinstance(child, _Group):
            self._match(child, present, elements, problems)
        elif child.name in present and child.name not in elements:
            elements[child.name] = child
            if child.most == 0:  # in a group the version allows zero times
                problems.append(
                    (child.name, f"is not allowed in qbXML {self.version} (its schema takes none)")
                )
        elif child.low > 0 and child.name not in elements:
            problems.append((child.name, "is required and missing"))

    @staticmethod
    def _holds(child: _Element | _Group, present: set[str]) -> bool:
        if isinstance(child, _Group):
            return bool(child.names & present)
        return child.name in present

    @staticmethod
    def _count(child: _Element | _Group, present: set[str]) -> int:
        if isinstance(child, _Group):
            return len(child.names & present)
        return 1 if child.name in present else 0

    def _optional(self, child: _Element | _Group) -> bool:
        if isinstance(child, _Element):
            return child.low == 0
        if child.low == 0:
            return True
        if child.choice:
            return any(self._optional(c) for c in child.children)
        return all(self._optional(c) for c in child.children)

    def _first(self, child: _Element | _Group) -> str:
        if isinstance(child, _Element):
            return child.name
        return self._first(child.children[0]) if child.children else "()"

    # -- typing answers ---------------------------------------------------------------------

    def typing(self) -> dict[str, tuple[Callable[[str], Any] | str | None, bool]]:
        """Per child name: its reader (None: text; str: an aggregate key) and if it is a list."""
        if self._typing is None:
            table: dict[str, tuple[Callable[[str], Any] | str | None, bool]] = {}
            for name, element in self.names.items():
                ref = element.ref
                converter = ref if isinstance(ref, str) else _READERS.get(_leaf(ref).base)
                table[name] = (converter, element.most > 1)
            self._typing = table
        return self._typing


@lru_cache(maxsize=4096)
def _lookup(version: str, key: str) -> Aggregate | None:
    model = _lines(version).get(key)
    if model is None:
        return None
    return Aggregate(version, key, _parse(version, model))


def _aggregate(version: str, key: str) -> Aggregate:
    found = _lookup(version, key)
    if found is None:
        raise KeyError(key)
    return found


# -- building -------------------------------------------------------------------------------


def _suggest_request(name: str, version: str) -> str:
    if name in request_names(_other(version)):
        return (
            f"{name} is not in qbXML {version}; qbXML {_other(version)} has it"
            " (is the company's version too old?)"
        )
    close = difflib.get_close_matches(name, sorted(request_names(version)), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"{name} is not a qbXML {version} request{hint}"


def build_request(
    name: str,
    fields: Any,
    attributes: Iterable[tuple[str, str | None]],
    version: str,
) -> etree._Element:
    """The request element ``name``, children in schema order, values formatted and checked.

    Args:
        name: the request element, e.g. ``"CustomerAddRq"``.
        fields: its children, as a mapping or ``(tag, value)`` pairs.
        attributes: ``requestID``, ``iterator``, ``iteratorID`` and their values (None: absent).
        version: the qbXML version of the document (13.0 and 16.0 have schemas; see
            :func:`schema_version` for the others).

    Returns:
        The lxml element.

    Raises:
        SchemaError: every problem found, each with its path.
    """
    schema = schema_version(version)
    problems: Problems = []
    if name not in request_names(schema):
        problems.append((name, _suggest_request(name, schema)))
        raise SchemaError(_headline(name, version, problems), problems)
    rq = etree.Element(name)
    for attribute, value in attributes:
        if value is None:
            continue
        if attribute == "iterator":
            if not takes_iterator(name, schema):
                problems.append((name, f"{name} does not take an iterator"))
            elif value not in ("Start", "Continue", "Stop"):
                problems.append((name, f"iterator {value!r} is not Start, Continue or Stop"))
        try:
            rq.set(attribute, str(value))
        except ValueError:  # lxml: a control character XML 1.0 cannot carry
            problems.append((name, f"{attribute} {_NOT_XML}"))
    rq_type = str(_aggregate(schema, "QBXMLMsgsRq").names[name].ref)
    _fill(rq, _aggregate(schema, rq_type), fields, "", problems)
    if problems:
        raise SchemaError(_headline(name, version, problems), problems)
    return rq


_NOT_XML = "holds a control character XML cannot carry (QuickBooks could not read it)"


def _headline(name: str, version: str, problems: Problems) -> str:
    lines = [f"{name} does not fit the qbXML {version} schema:"]
    lines += [f"  {path}: {message}" for path, message in problems]
    return "\n".join(lines)


def _is_pairs(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in value)
    )


def _fill(
    parent: etree._Element, aggregate: Aggregate, fields: Any, path: str, problems: Problems
) -> None:
    if fields is None:
        fields = {}
    if fields.__class__ is dict or isinstance(fields, Mapping):
        if None in fields.values():
            fields = {k: v for k, v in fields.items() if v is not None}
        arrangement = aggregate.arrange(tuple(fields))
        items: Iterable[tuple[str, Any]] = [(k, fields[k]) for k in arrangement.order]
    elif _is_pairs(fields) or fields == []:
        pairs = [(k, v) for k, v in fields if v is not None]
        arrangement = aggregate.arrange(tuple(dict.fromkeys(k for k, _ in pairs)))
        place = arrangement.elements
        items = sorted((p for p in pairs if p[0] in place), key=lambda p: place[p[0]].position)
        counts: dict[str, int] = {}
        for key, _ in pairs:
            counts[key] = counts.get(key, 0) + 1
        for key, count in counts.items():
            if key in place and count > place[key].most:
                problems.append((path + key, f"appears {count} times; at most {place[key].most}"))
    else:
        problems.append((path.rstrip("/") or str(parent.tag), "expects a dict of elements"))
        return
    for child, message in arrangement.problems:
        problems.append((path + child if child else path.rstrip("/") or str(parent.tag), message))
    elements = arrangement.elements
    version = aggregate.version
    for tag, value in items:
        element = elements[tag]
        leaf = element.leaf
        if value.__class__ is not list or _is_pairs(value):
            # The common case, one value: no loop, no numbering.
            child = etree.SubElement(parent, tag)
            if leaf is not None:
                try:
                    child.text = leaf.format(value)
                except _Refused as exc:
                    problems.append((path + tag, str(exc)))
                except ValueError:  # lxml: a control character XML 1.0 cannot carry
                    problems.append((path + tag, _NOT_XML))
            else:
                _fill(child, element.aggregate(version), value, path + tag + "/", problems)
            continue
        given = [item for item in value if item is not None]
        if len(given) > element.most:
            problems.append(
                (path + tag, f"has {len(given)} items; QuickBooks takes at most {element.most}")
            )
        elif len(given) < element.low:
            problems.append((path + tag, f"has {len(given)} items; QuickBooks needs {element.low}"))
        numbered = element.most > 1
        for number, item in enumerate(given, start=1):
            where = f"{path}{tag}[{number}]" if numbered else path + tag
            child = etree.SubElement(parent, tag)
            if leaf is not None:
                try:
                    child.text = leaf.format(item)
                except _Refused as exc:
                    problems.append((where, str(exc)))
                except ValueError:
                    problems.append((where, _NOT_XML))
            else:
                _fill(child, element.aggregate(version), item, where + "/", problems)


# -- reading --------------------------------------------------------------------------------


def _decimal(text: str) -> Decimal | None:
    if not text:
        return None
    return Decimal(text)


def _int(text: str) -> int | None:
    return int(text) if text else None


def _bool(text: str) -> bool | None:
    if not text:
        return None
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"{text!r} is not a boolean")


def _date(text: str) -> date | None:
    if not text:
        return None
    year, month, day = text.split("-")
    return date(int(year), int(month), int(day))


_DATETIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})"
    r"(?:([+\-])(\d{1,2}):(\d{1,2}))?)?)?)?"
)


def _datetime(text: str) -> datetime | date | None:
    if not text:
        return None
    if len(text) == 25:  # the form QuickBooks writes: 2009-01-23T03:00:02-05:00
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    match = _DATETIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a qbXML date and time")
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    if hour is None:
        return date(int(year), int(month), int(day))
    zone = None
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        zone = timezone(-offset if sign == "-" else offset)
    return datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute or 0),
        int(second or 0),
        tzinfo=zone,
    )


def _timedelta(text: str) -> timedelta | None:
    if not text:
        return None
    match = re.fullmatch(r"([+\-]?)PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", text)
    if match is None:
        raise ValueError(f"{text!r} is not a qbXML time interval")
    sign, hours, minutes, seconds = match.groups()
    value = timedelta(hours=int(hours or 0), minutes=int(minutes or 0), seconds=int(seconds or 0))
    return -value if sign == "-" else value


_READERS: dict[str, Callable[[str], Any]] = {
    "AMTTYPE": _decimal,
    "PRICETYPE": _decimal,
    "QUANTYPE": _decimal,
    "PERCENTTYPE": _decimal,
    "FLOATTYPE": _decimal,
    "INTTYPE": _int,
    "BOOLTYPE": _bool,
    "DATETYPE": _date,
    "DATETIMETYPE": _datetime,
    "TIMEINTERVALTYPE": _timedelta,
}


@lru_cache(maxsize=1024)
def _reading_aggregate(tag: str) -> Aggregate | None:
    # Answers are read against 16.0, the larger schema, then 13.0.
    return _lookup("16.0", tag) or _lookup("13.0", tag)


def typed_dict(element: etree._Element, key: str | None = None) -> dict[str, Any]:
    """The children of a response element as typed values (see ``Record.to_dict``).

    Args:
        element: a record such as ``CustomerRet``, or any aggregate under one.
        key: the aggregate's schema key; by default the element's tag.

    Returns:
        A dict: Decimal, int, bool, date, datetime, timedelta or str for leaves,
        dicts for aggregates, lists for elements the schema lets repeat.

    Raises:
        ValueError: a value does not read as its schema type (the message names the path).
    """
    aggregate = _reading_aggregate(key or str(element.tag))
    return _typed(element, aggregate, str(element.tag))


def _typed_attributes(
    element: etree._Element, aggregate: Aggregate | None, path: str
) -> dict[str, Any]:
    """``element``'s attributes as ``{"@name": value}``, each read as the schema types it."""
    declared = _attributes(aggregate.version, aggregate.key) if aggregate is not None else {}
    values: dict[str, Any] = {}
    for name, text in element.attrib.items():
        entry = declared.get(str(name))
        reader = _READERS.get(entry[0].base) if entry is not None else None
        if reader is None:
            values[f"@{name}"] = text
            continue
        try:
            values[f"@{name}"] = reader(text)
        except (ValueError, InvalidOperation):
            raise ValueError(f"{path}@{name}: {text!r} does not read as its qbXML type") from None
    return values


def _typed(element: etree._Element, aggregate: Aggregate | None, path: str) -> dict[str, Any]:
    # The hot loop of typed reading: one dict lookup per child, then its reader.
    # Attributes, which few aggregates have (report cells do), come first as "@name".
    table = aggregate.typing() if aggregate is not None else _NO_TYPING
    values: dict[str, Any] = _typed_attributes(element, aggregate, path) if element.attrib else {}
    for child in element:
        tag = child.tag
        entry = table.get(tag)
        value: Any
        if entry is not None:
            reader, is_list = entry
            if reader is None:
                value = child.text or ""
            elif isinstance(reader, str):
                value = _typed(child, _reading_aggregate(reader), f"{path}/{tag}")
            else:
                try:
                    value = reader(child.text or "")
                except (ValueError, InvalidOperation):
                    raise ValueError(
                        f"{path}/{tag}: {child.text!r} does not read as its qbXML type"
                    ) from None
            if is_list:
                found = values.get(tag)
                if found is None:
                    values[tag] = [value]
                else:
                    found.append(value)
                continue
        elif not isinstance(tag, str):
            continue  # a comment or processing instruction
        elif len(child):
            # Not in the schema: read as the untyped reader does.
            value = _typed(child, _reading_aggregate(tag), f"{path}/{tag}")
        elif child.attrib:
            value = _typed_attributes(child, None, f"{path}/{tag}")
            if child.text:
                value["#text"] = child.text
        else:
            value = child.text or ""
        if tag in values:
            if not isinstance(values[tag], list):
                values[tag] = [values[tag]]
            values[tag].append(value)
        else:
            values[tag] = value
    return values


_NO_TYPING: dict[str, tuple[Callable[[str], Any] | str | None, bool]] = {}


# -- checking a request document ------------------------------------------------------------
#
# What QuickBooks' request processor does before it runs anything: the
# document is checked against the schema of the version it declares, and a
# document that does not validate is refused whole. Unlike building, the
# children come as a sequence, so the question is the XSD's own: does this
# sequence of names match the content model? ``_ends`` answers it by
# walking the tree and collecting every index where a particle can stop
# (memoised per particle and index, so each is visited once). Texts are
# checked with the XSD's own lexical rules, which differ from the forms
# ``Leaf.format`` writes: ``xs:boolean`` and ``xs:integer`` collapse
# white space, patterns on strings do not, ``xs:date`` checks the day of
# the month. One rule is kept apart: a string over its ``maxLength`` does
# not refuse the document; QuickBooks answers that one request with status
# 3070.

_WHITE = " \t\n\r"
_XS_DATE = re.compile(
    r"-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"(Z|[+\-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)
_XS_DURATION = re.compile(r"-?PT(?=[0-9])([0-9]+H)?([0-9]+M)?([0-9]+S)?")
_XS_INTEGER = re.compile(r"[+\-]?[0-9]+")
_XS_DECIMAL = re.compile(r"[+\-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
#: The attributes of QBXMLMsgsRq and their values (None: any text).
_MESSAGES_ATTRIBUTES: dict[str, tuple[str, ...] | None] = {
    "onError": ("stopOnError", "continueOnError", "rollbackOnError"),
    "oldMessageSetID": None,
    "newMessageSetID": None,
    "responseData": ("includeAll", "includeNone"),
}
#: The elements the XSD gives a default value: an empty one is read as its default
#: (XML Schema 1.0, 3.3.4), so ``<ActiveStatus/>`` is valid. The generated tables
#: do not record defaults; a test checks this table against the XSD.
ELEMENT_DEFAULTS: dict[str, str] = {
    "ActiveStatus": "ActiveOnly",
    "AssignClassesTo": "None",
    "DecimalPlaces": "2",
    "DecimalSeparator": "Period",
    "DeliveryMethod": "Print",
    "DoneStatus": "NotDoneOnly",
    "EmployeeType": "Regular",
    "IsTrackingSerialOrLotNumber": "None",
    "JobStatus": "None",
    "PaidStatus": "All",
    "PendingStatus": "All",
    "Priority": "Low",
    "ReportAgingAsOf": "ReportEndDate",
    "ReportBasis": "None",
    "ReportDetailLevelFilter": "All",
    "ReportOpenBalanceAsOf": "Today",
    "ReportingPeriod": "Quarterly",
    "SalesTaxCountry": "Canada",
    "ThousandSeparator": "Comma",
    "ThousandSeparatorGrouping": "XX_XXX_XXX",
    "TrackLostEvents": "None",
    "TransactionDetailLevelFilter": "SummaryOnly",
    "TransactionMode": "CardNotPresent",
    "TransactionPaidStatusFilter": "Either",
    "TransactionPostingStatusFilter": "Either",
    "Type": "Task",
}
_ITERATOR_VALUES = ("Start", "Continue", "Stop")
_METADATA_VALUES = ("NoMetaData", "MetaDataOnly", "MetaDataAndResponseData")


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    """The verdict on a request document.

    ``problems`` make the document invalid: QuickBooks refuses it whole.
    ``too_long`` maps the index of each request holding a string over its
    ``maxLength`` to the first such field's path and value: QuickBooks
    answers that request with status 3070 and goes on with the others.
    """

    problems: tuple[tuple[str, str], ...]
    too_long: Mapping[int, tuple[str, str]]


def _is_date(text: str) -> bool:
    match = _XS_DATE.fullmatch(text)
    if match is None:
        return False
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    if day <= _MONTH_DAYS[month - 1] and not (month == 2 and day == 29):
        return True
    return month == 2 and day == 29 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _text_problem(leaf: Leaf, text: str) -> str | None:
    """Why ``text`` is not a value of ``leaf`` by the XSD's rules (None: it is)."""
    base = leaf.base
    if base == "BOOLTYPE":
        ok = text.strip(_WHITE) in ("true", "false", "1", "0", "")
    elif base == "DATETYPE":
        ok = not text.strip(_WHITE) or _is_date(text)
    elif base == "DATETIMETYPE":
        ok = not text.strip(_WHITE) or _PATTERNS[base].fullmatch(text) is not None
    elif base == "TIMEINTERVALTYPE":
        collapsed = text.strip(_WHITE)
        ok = not collapsed or _XS_DURATION.fullmatch(collapsed) is not None
    elif base == "FLOATTYPE":
        collapsed = text.strip(_WHITE)
        ok = not collapsed or _XS_DECIMAL.fullmatch(collapsed) is not None
    elif base == "INTTYPE":
        collapsed = text.strip(_WHITE)
        ok = _XS_INTEGER.fullmatch(collapsed) is not None
        if ok and (leaf.low is not None or leaf.high is not None):
            number = Decimal(collapsed)  # any size: int() refuses over 4300 digits
            if (leaf.low is not None and number < leaf.low) or (
                leaf.high is not None and number > leaf.high
            ):
                return f"{collapsed[:20]} is outside {leaf.low}..{leaf.high}"
    elif base in _PATTERNS:  # amounts, prices, quantities, percentages, GUIDs
        ok = _PATTERNS[base].fullmatch(text) is not None
    else:  # strings: only enumerations and maxLength restrict them
        ok = not leaf.enums or text in leaf.enums
        if not ok:
            return f"{text[:60]!r} is not one of {', '.join(leaf.enums)}"
        return None
    return None if ok else f"{text[:60]!r} is not {_EXPECTS[base]} in qbXML form"


def _ends(
    particle: _Element | _Group,
    tags: tuple[str, ...],
    start: int,
    memo: dict[tuple[int, int], Any],
) -> frozenset[int]:
    """Every index at which ``particle`` can stop, having begun at ``start``."""
    key = (id(particle), start)
    found: frozenset[int] | None = memo.get(key)
    if found is not None:
        return found
    if isinstance(particle, _Element):
        run, end = 0, len(tags)
        while start + run < end and run < particle.high and tags[start + run] == particle.name:
            run += 1
        found = frozenset(start + k for k in range(particle.low, run + 1))
    else:
        results: set[int] = {start} if particle.low == 0 else set()
        current, seen, repeat = {start}, set[int](), 0
        while current and repeat < particle.high:
            repeat += 1
            after: set[int] = set()
            for position in current:
                after |= _once(particle, tags, position, memo)
            if repeat >= particle.low:
                results |= after
                after -= seen  # a repetition that ends where one ended before adds nothing
                seen |= after
            current = after
        found = frozenset(results)
    memo[key] = found
    return found


def _once(
    group: _Group, tags: tuple[str, ...], start: int, memo: dict[tuple[int, int], Any]
) -> set[int]:
    if group.choice:
        ends: set[int] = set()
        for child in group.children:
            ends |= _ends(child, tags, start, memo)
        return ends
    positions = {start}
    for child in group.children:
        following: set[int] = set()
        for position in positions:
            following |= _ends(child, tags, position, memo)
        positions = following
        if not positions:
            break
    return positions


def _blank(text: str | None) -> bool:
    return text is None or not text.strip(_WHITE)


@cache
def _attributes(version: str, key: str) -> dict[str, tuple[Leaf, bool]]:
    """The attributes the schema gives aggregate ``key``: name -> (type, required)."""
    table: dict[str, tuple[Leaf, bool]] = {}
    for entry in _lines(version).get("%" + key, "").split():
        name, _, ref = entry.partition(":")
        table[name.rstrip("!")] = (_leaf(int(ref[1:])), name.endswith("!"))
    return table


class _DocumentChecker:
    """Checks a document against one schema version, collecting problems with their paths.

    Args:
        version: the schema version (13.0 or 16.0).
        answers: check attributes against the schema's attribute tables, as
            an answer is checked; a request's attributes are checked by the
            caller, and its aggregates take none.
    """

    def __init__(self, version: str, *, answers: bool = False) -> None:
        self.version = version
        self.answers = answers
        self.problems: Problems = []
        self.too_long: tuple[str, str] | None = None

    def aggregate(self, element: etree._Element, aggregate: Aggregate, path: str) -> None:
        """Check an aggregate's attributes, text, the order of its children, then each child."""
        if self.answers:
            self.attributes(element, aggregate.key, path)
        elif element.attrib:
            self.problems.append((path, f"takes no attribute ({', '.join(element.attrib)})"))
        self.children(element, aggregate, path)

    def attributes(self, element: etree._Element, key: str, path: str) -> None:
        """Check ``element``'s attributes against those the schema gives ``key``."""
        declared = _attributes(self.version, key)
        for name, value in element.attrib.items():
            found = declared.get(str(name))
            if found is None:
                self.problems.append((path, f"takes no attribute {name}"))
                continue
            leaf = found[0]
            problem = _text_problem(leaf, str(value))
            if problem is None and leaf.max_length is not None and len(value) > leaf.max_length:
                problem = f"is longer than {leaf.max_length} characters"
            if problem is not None:
                self.problems.append((f"{path}@{name}", problem))
        for name, (_leaf_type, required) in declared.items():
            if required and name not in element.attrib:
                self.problems.append((path, f"needs the attribute {name}"))

    def children(self, element: etree._Element, aggregate: Aggregate, path: str) -> None:
        # One pass: the children that are elements (not comments), and any text between them.
        # An aggregate of no elements (ColTitle: attributes only) has empty content
        # in the XSD, which refuses even white space; element-only content allows it.
        empty = not aggregate.names
        blank = not element.text if empty else _blank(element.text)
        children = []
        for child in element:
            if blank and child.tail and (empty or child.tail.strip(_WHITE)):
                blank = False
            if isinstance(child.tag, str):
                children.append(child)
        if not blank:
            self.problems.append((path, "holds text between its elements"))
        tags = tuple(str(c.tag) for c in children)
        if not aggregate.matches(tags):
            self.problems.append((path, self._sequence_problem(aggregate, tags)))
            return
        for child, tag in zip(children, tags, strict=True):
            target = aggregate.names[tag]
            where = f"{path}/{tag}"
            if target.leaf is None:
                self.aggregate(child, target.aggregate(self.version), where)
            else:
                self.leaf(child, target.leaf, where)

    def leaf(self, element: etree._Element, leaf: Leaf, path: str) -> None:
        if element.attrib:
            self.problems.append((path, f"takes no attribute ({', '.join(element.attrib)})"))
        if not len(element):
            text = element.text or ""
            if not text:
                text = ELEMENT_DEFAULTS.get(path.rsplit("/", 1)[-1], "")
        elif any(isinstance(c.tag, str) for c in element):
            self.problems.append((path, "is a single value, not a group of elements"))
            return
        else:  # comments inside a value are dropped; the text around them is the value
            text = (element.text or "") + "".join(c.tail or "" for c in element)
        problem = _text_problem(leaf, text)
        if problem is not None:
            self.problems.append((path, problem))
        elif leaf.max_length is not None and len(text) > leaf.max_length:
            if self.answers:
                self.problems.append((path, f"is longer than {leaf.max_length} characters"))
            elif self.too_long is None:
                self.too_long = (path, text)

    @staticmethod
    def _sequence_problem(aggregate: Aggregate, tags: tuple[str, ...]) -> str:
        arrangement = aggregate.arrange(tuple(dict.fromkeys(tags)))
        if arrangement.problems:
            return "; ".join(
                f"{name or 'its elements'} {message}" for name, message in arrangement.problems
            )
        counts = {tag: tags.count(tag) for tag in tags}
        for tag, count in counts.items():
            if count > arrangement.elements[tag].most:
                return f"{tag} appears {count} times; at most {arrangement.elements[tag].most}"
        return "its elements are out of the schema's order: " + ", ".join(arrangement.order)


def check_document(root: etree._Element, version: str) -> DocumentCheck:
    """Check a parsed request document (``<QBXML>``) against the schema of ``version``.

    Args:
        root: the document's root element.
        version: the qbXML version the document declares (13.0 and 16.0 have
            schemas; see :func:`schema_version` for the others).

    Returns:
        The verdict: what refuses the document, and the requests whose strings are too long.
    """
    schema = schema_version(version)
    checker = _DocumentChecker(schema)
    too_long: dict[int, tuple[str, str]] = {}
    children = [c for c in root if isinstance(c.tag, str)]
    if root.tag != "QBXML" or [c.tag for c in children] != ["QBXMLMsgsRq"]:
        found = ", ".join(str(c.tag) for c in children) or "nothing"
        problem = f"a request document is QBXML holding QBXMLMsgsRq, not {root.tag} holding {found}"
        return DocumentCheck(problems=((str(root.tag), problem),), too_long={})
    if root.attrib or not _blank(root.text) or not _blank(children[0].tail):
        checker.problems.append(("QBXML", "takes no attribute or text"))
    messages = children[0]
    for name, value in messages.attrib.items():
        allowed = _MESSAGES_ATTRIBUTES.get(str(name), ())
        if allowed is not None and value not in allowed:
            checker.problems.append(("QBXMLMsgsRq", f"attribute {name}={value!r} is not allowed"))
    if "onError" not in messages.attrib:
        checker.problems.append(("QBXMLMsgsRq", "needs onError"))
    if not _blank(messages.text) or any(not _blank(c.tail) for c in messages):
        checker.problems.append(("QBXMLMsgsRq", "holds text between its elements"))
    envelope = _aggregate(schema, "QBXMLMsgsRq")
    requests = [c for c in messages if isinstance(c.tag, str)]
    for index, rq in enumerate(requests):
        name = str(rq.tag)
        if name not in envelope.names:
            checker.problems.append((name, _suggest_request(name, schema)))
            continue
        for attribute, value in rq.attrib.items():
            refused = _attribute_problem(name, str(attribute), str(value), schema)
            if refused is not None:
                checker.problems.append((name, refused))
        checker.too_long = None
        checker.children(rq, _aggregate(schema, str(envelope.names[name].ref)), name)
        if checker.too_long is not None:
            too_long[index] = checker.too_long
    return DocumentCheck(problems=tuple(checker.problems), too_long=too_long)


def shape_answer(element: etree._Element, version: str) -> etree._Element:
    """A copy of a response aggregate as QuickBooks writes it in ``version``.

    The children the version's schema has, in its order (a stable sort, so
    lines keep theirs), the others left out, as QuickBooks leaves out the
    fields a version older than the company's does not know; booleans as
    ``true``/``false`` and amounts with two places, QuickBooks' forms of
    values the schema also accepts as ``1`` or ``5``.

    Args:
        element: a ``*Ret`` (``CustomerRet``, ...), or any aggregate of an answer.
        version: the qbXML version asked for (see :func:`schema_version`).

    Raises:
        KeyError: the schema has no aggregate named as ``element``.
    """
    return _shaped(element, _aggregate(schema_version(version), str(element.tag)))


def _shaped(element: etree._Element, aggregate: Aggregate) -> etree._Element:
    out = etree.Element(element.tag, element.attrib)
    known = []
    for child in element:
        if isinstance(child.tag, str):
            target = aggregate.names.get(child.tag)
            if target is not None:
                known.append((target.position, child, target))
    known.sort(key=lambda entry: entry[0])
    for _position, child, target in known:
        if target.leaf is None:
            out.append(_shaped(child, target.aggregate(aggregate.version)))
            continue
        leaf = etree.SubElement(out, child.tag, child.attrib)
        text = child.text or ""
        base, value = target.leaf.base, text.strip(_WHITE)
        if base == "BOOLTYPE" and value in ("true", "1", "false", "0"):
            text = "true" if value in ("true", "1") else "false"
        elif base == "AMTTYPE" and value and _PATTERNS[base].fullmatch(value):
            text = format(Decimal(value).quantize(_STEPS[2]), "f")
        leaf.text = text
    return out


def check_response(root: etree._Element, version: str) -> tuple[tuple[str, str], ...]:
    """Check a parsed response document (``<QBXML>``) against the schema of ``version``.

    The XSD's rules, as for requests, attributes included: every ``*Rs``
    needs ``statusCode`` and ``statusSeverity``, children come in schema
    order, values are of their types, strings within their ``maxLength``.

    Args:
        root: the document's root element.
        version: the qbXML version the request declared (see :func:`schema_version`).

    Returns:
        Every problem as ``(path, message)``; empty when the answer is valid.
    """
    schema = schema_version(version)
    checker = _DocumentChecker(schema, answers=True)
    children = [c for c in root if isinstance(c.tag, str)]
    if root.tag != "QBXML" or [c.tag for c in children] != ["QBXMLMsgsRs"]:
        found = ", ".join(str(c.tag) for c in children) or "nothing"
        return ((str(root.tag), f"an answer is QBXML holding QBXMLMsgsRs, not {found}"),)
    if root.attrib or not _blank(root.text) or not _blank(children[0].tail):
        checker.problems.append(("QBXML", "takes no attribute or text"))
    messages = children[0]
    checker.attributes(messages, "QBXMLMsgsRs", "QBXMLMsgsRs")
    if not _blank(messages.text) or any(not _blank(c.tail) for c in messages):
        checker.problems.append(("QBXMLMsgsRs", "holds text between its elements"))
    envelope = _aggregate(schema, "QBXMLMsgsRs")
    for rs in messages:
        if not isinstance(rs.tag, str):
            continue
        name = str(rs.tag)
        if name not in envelope.names:
            checker.problems.append((name, f"{name} is not a qbXML {schema} response"))
            continue
        checker.aggregate(rs, _aggregate(schema, str(envelope.names[name].ref)), name)
    return tuple(checker.problems)


def _attribute_problem(name: str, attribute: str, value: str, version: str) -> str | None:
    if attribute == "requestID":
        return None
    if attribute in ("iterator", "iteratorID"):
        if not takes_iterator(name, version):
            return f"{name} does not take an iterator"
        if attribute == "iterator" and value not in _ITERATOR_VALUES:
            return f"iterator {value!r} is not Start, Continue or Stop"
        return None
    # The schema gives metaData to the queries of lists and transactions only
    # (HostQueryRq, say, refuses it).
    if attribute == "metaData" and name in _word_set(version, "!metadata"):
        if value not in _METADATA_VALUES:
            return f"metaData {value!r} is not one of {', '.join(_METADATA_VALUES)}"
        return None
    return f"{name} takes no attribute {attribute}"
