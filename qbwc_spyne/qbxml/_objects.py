"""The machinery of the typed objects: how a class reads, writes and checks itself.

The classes themselves are generated (``qbwc_spyne/objects``); each declares
its fields for type checkers and for msgspec, which builds them. What a
field *is* in qbXML (its element name, its simple type, the aggregate it
holds, whether it repeats) is not repeated in the generated code: it is
read once per class from the schema tables that also order and check
requests, so the two cannot disagree.

Why msgspec Structs: defining a class costs a small fraction of a stdlib
dataclass (the generator's families are defined on first use, so this is
the first-use cost), building one costs under half, and an instance is as
small as a slotted dataclass; attrs is slower on both, pydantic six times
larger. Type checkers read them through ``dataclass_transform``.
``bench/bench_objects.py`` measures all four in the same run.

A value read is what QuickBooks sent: one that did not read as its type
is kept as text (with an ``UnreadValueWarning``), and a DATETIMETYPE sent
as a date alone reads as a ``date``. Code that must be sure checks with
``isinstance``.
"""

from __future__ import annotations

import gc
import importlib
import keyword
import re
import threading
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import msgspec
from lxml import etree

from ..exceptions import ObjectFieldError, QBXMLBuildError, UnreadValueWarning
from ._schema import _READERS, _lookup, _reading_aggregate, _typed, _typed_attributes

__all__ = [
    "QBObject",
    "QBRequest",
    "fields_of",
    "load",
    "read",
    "read_all",
]

_T = TypeVar("_T", bound="QBObject")

# What each simple type takes at construction. Amounts take an int as well
# (the writer formats it with its places); a bool is never a number here.
_ACCEPTS: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("STRTYPE", "IDTYPE", "GUIDTYPE", "MACROTYPE", "ENUMTYPE"), (str,)),
    **dict.fromkeys(
        ("AMTTYPE", "PRICETYPE", "QUANTYPE", "PERCENTTYPE", "FLOATTYPE"), (Decimal, int)
    ),
    "INTTYPE": (int,),
    "BOOLTYPE": (bool,),
    "DATETYPE": (date,),
    "DATETIMETYPE": (datetime,),
    "TIMEINTERVALTYPE": (timedelta,),
}
_NAMES = {
    str: "text",
    Decimal: "a Decimal",
    int: "an int",
    bool: "a bool",
    date: "a date",
    datetime: "a datetime",
    timedelta: "a timedelta",
}


# Set while a reader builds objects: what it read was typed by the schema
# already, and a value kept as text (with a warning) must not be refused.
class _Trusted(threading.local):
    on = False  # a class default: reading it needs no getattr fallback


_trusted = _Trusted()


# gc=False: an object holds values, lists and other objects, never itself, so
# the cycle collector need not track it; tracked, 100,000 records read whole
# made the collector walk every one of them again and again (reading took
# half as long again).
class QBObject(msgspec.Struct, kw_only=True, repr_omit_defaults=True, gc=False):
    """A qbXML aggregate as a typed object; the base of every class in ``qbwc_spyne.objects``.

    Fields are the aggregate's elements in snake_case (``ListID`` is
    ``list_id``), ``None`` when absent and a list when the element repeats.
    A field given a value of the wrong type, or an enumerated field a value
    outside its list, raises :class:`~qbwc_spyne.exceptions.ObjectFieldError`
    at construction; an unknown field name raises ``TypeError``. Lengths and
    required elements are checked when the object is written, as a
    :class:`~qbwc_spyne.qbxml.Rq` is.

    Attributes:
        extra: elements the schema does not know (a newer QuickBooks sent
            them), the repeats of an element it allows once, and the
            element's attributes as ``"@name"``; by tag, read as
            ``Record.to_dict(typed=True)`` reads them (a value that does not
            read is kept as text). Elements are written back as given.

    .. versionadded:: Unreleased
    """

    extra: dict[str, Any] = {}

    def __post_init__(self) -> None:
        if _trusted.on:
            return
        spec = _SPECS.get(type(self))
        (spec or _spec(type(self))).check(self)

    def to_fields(self) -> dict[str, Any] | list[tuple[str, Any]]:
        """The object as the qbXML-named fields a :class:`~qbwc_spyne.qbxml.Rq` takes.

        A dict, or ``(tag, value)`` pairs where the aggregate has a repeated
        choice (an invoice's lines and line groups, in their order).
        """
        return fields_of(self)

    @classmethod
    def from_element(cls: type[_T], element: etree._Element) -> _T:
        """Read an element of this aggregate (a ``CustomerRet``, say) into an object."""
        return _read_trusted(element, cls)


class QBRequest(QBObject, kw_only=True):
    """A typed request (``CustomerQueryRq``, ``InvoiceAddRq``...): it goes wherever an Rq goes.

    ``request_id``, ``iterator`` and ``iterator_id`` are the request's
    attributes; the other fields are its elements. :func:`qbwc_spyne.qbxml.as_rq`
    turns it into the :class:`~qbwc_spyne.qbxml.Rq` it is written as.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if _trusted.on:
            return
        # The attributes are no schema elements: checked here, as their annotations say.
        name = type(self).__name__
        for field in ("request_id", "iterator_id"):
            value = getattr(self, field, None)
            if value is not None and not isinstance(value, str):
                raise ObjectFieldError(
                    f"{name}.{field} expects text, not {type(value).__name__} {value!r}"
                )
        iterator = getattr(self, "iterator", None)
        if iterator is not None and iterator not in _ITERATOR_VALUES:
            raise ObjectFieldError(
                f"{name}.iterator: {iterator!r} is not one of {', '.join(_ITERATOR_VALUES)}"
            )


_ITERATOR_VALUES = ("Continue", "Start", "Stop")


# -- the table of a class ------------------------------------------------------------------


@dataclass(slots=True)
class _Field:
    name: str  # the Python field
    tag: str  # the qbXML element
    accepts: tuple[type, ...] | None  # None: an aggregate
    enums: frozenset[str]
    target: str | None  # the class of an aggregate field
    repeated: bool
    reader: Callable[[str], Any] | None
    # For the checks' fast path: a leaf's value passes when its exact type is
    # one of these (an int is not a bool, a datetime is not a date); an
    # aggregate's when its class is named so. Anything else takes the slow,
    # explaining path.
    exact: frozenset[type] = frozenset()
    class_name: str = ""
    # A repeated choice (lines or line groups): each member's class, by its tag.
    members: dict[str, str] | None = None


class _Spec:
    """One class's fields, read from the schema tables of both versions."""

    def __init__(self, cls: type[QBObject]) -> None:
        name = cls.__name__
        key = name + "Type" if name.endswith("Rq") else name
        declared = set(cls.__struct_fields__)
        fields: dict[str, _Field] = {}
        for version in ("16.0", "13.0"):
            aggregate = _lookup(version, key)
            if aggregate is None:
                continue
            for tag, element in aggregate.names.items():
                field_name = snake(tag)
                if field_name not in declared:
                    continue
                leaf = element.leaf
                known = fields.get(field_name)
                if known is not None:
                    # The field takes what either version takes (13.0 has enumerated
                    # values 16.0 dropped, 'Mail' say); writing checks the version's own.
                    known.enums |= frozenset(leaf.enums) if leaf is not None else frozenset()
                    known.repeated |= element.most > 1
                    continue
                target = element.ref if isinstance(element.ref, str) else None
                fields[field_name] = _Field(
                    name=field_name,
                    tag=tag,
                    accepts=None if leaf is None else _ACCEPTS[leaf.base],
                    enums=frozenset(leaf.enums) if leaf is not None else frozenset(),
                    target=target,
                    repeated=element.most > 1,
                    reader=None if leaf is None else _READERS.get(leaf.base),
                    exact=frozenset() if leaf is None else frozenset(_ACCEPTS[leaf.base]),
                    class_name=class_name(target) if target is not None else "",
                )
        self.cls = cls
        self.fields = list(fields.values())
        self.by_tag = {f.tag: f for f in self.fields}
        # A repeated choice is one field, named for its first element (the
        # generator's rule); every member's tag reads into it, in order.
        for version in ("16.0", "13.0"):
            aggregate = _lookup(version, key)
            if aggregate is None:
                continue
            for union in aggregate.unions():
                first = fields.get(snake(union[0]))
                if first is None or first.target is None or first.members is not None:
                    continue
                first.members = {first.class_name: first.tag}
                for tag in union[1:]:
                    ref = aggregate.names[tag].ref
                    if not isinstance(ref, str):
                        continue
                    member = _Field(
                        name=first.name, tag=tag, accepts=None, enums=frozenset(), target=ref,
                        repeated=True, reader=None, class_name=class_name(ref),
                    )  # fmt: skip
                    first.members[member.class_name] = tag
                    self.by_tag[tag] = member
        # Compiled on first use: reading needs neither, and compiling costs.
        self.check: Callable[[QBObject], None] = self._compile_then("check")
        self.write: Callable[[QBObject], Any] = self._compile_then("write")

    def _compile_then(self, name: str) -> Callable[[QBObject], Any]:
        def first(obj: QBObject) -> Any:
            self.check, self.write = self._compile()
            return getattr(self, name)(obj)

        return first

    def _compile(
        self,
    ) -> tuple[Callable[[QBObject], None], Callable[[QBObject], Any]]:
        """This class's check and writer, as straight-line code over its fields.

        Every object built runs the check, and every one written the writer;
        generated once a class (as dataclasses generates ``__init__``), each
        is one attribute read and one ``is None`` a field for the fields left
        unset, which are most, with no loop or tuple to pay for. A value the
        quick test does not plainly pass goes to :meth:`_check_one`, which
        accepts it (a subclass) or explains the refusal.
        """
        check = ["def check(obj):"]
        # A repeated choice whose items are of one class (lines only, the common
        # case) is written as any list; mixed (lines and line groups) the fields
        # go as (tag, value) pairs, which the writer keeps in their order.
        write = ["def write(obj):", "    values = {}", "    mixed = None"]
        names: dict[str, Any] = {
            "slow": self._check_one,
            "bad": _NOT_XML.search,
            "refuse": self._refuse,
            "fields_of": fields_of,
        }
        for n, entry in enumerate(self.fields):
            if not entry.name.isidentifier():  # generated names are; never trust code text
                raise RuntimeError(f"{self.cls.__name__}: {entry.name!r} is not a field name")
            names[f"e{n}"], names[f"x{n}"], names[f"n{n}"] = entry, entry.exact, entry.enums
            names[f"m{n}"] = entry.members
            if entry.members:
                plain = f"type({{0}}).__name__ in m{n}"
            elif entry.accepts is None:
                plain = f"type({{0}}).__name__ == {entry.class_name!r}"
            else:
                plain = f"type({{0}}) in x{n}" + (f" and {{0}} in n{n}" if entry.enums else "")
                if str in entry.exact:  # text XML cannot carry takes the explaining path
                    plain += " and not (type({0}) is str and bad({0}))"
            check.append(f"    v = obj.{entry.name}")
            check.append("    if v is not None:")
            if entry.repeated:
                check.append("        if not isinstance(v, list):")
                check.append(f"            refuse(e{n}, v, 'a list')")
                check.append("        for i in v:")
                check.append(f"            if not ({plain.format('i')}):")
                check.append(f"                slow(e{n}, i)")
            else:
                check.append(f"        if not ({plain.format('v')}):")
                check.append(f"            slow(e{n}, v)")
            value = "v"
            if entry.target is not None:
                value = "[fields_of(i) for i in v]" if entry.repeated else "fields_of(v)"
            write.append(f"    v = obj.{entry.name}")
            write.append("    if v:" if entry.repeated else "    if v is not None:")
            if entry.members:
                write.append("        t = type(v[0])")
                write.append("        if all(type(i) is t for i in v):")
                write.append(f"            values[m{n}[t.__name__]] = {value}")
                write.append("        else:")
                pairs = f"[(m{n}[type(i).__name__], fields_of(i)) for i in v]"
                write.append(f"            mixed = (mixed or []) + {pairs}")
            else:
                write.append(f"        values[{entry.tag!r}] = {value}")
        check.append("    return None")
        write.append("    return values if mixed is None else [*values.items(), *mixed]")
        exec("\n".join([*check, *write]), names)  # noqa: S102 (names from the schema, checked above)
        return names["check"], names["write"]

    def _check_one(self, entry: _Field, value: Any) -> None:
        if entry.members:
            kinds = " or ".join(entry.members)
            if type(value).__name__ not in entry.members:
                self._refuse(entry, value, f"{_article(kinds)} {kinds}")
            return
        if entry.accepts is None:
            if entry.target is None or type(value).__name__ != class_name(entry.target):
                kind = class_name(entry.target or "")
                self._refuse(entry, value, f"{_article(kind)} {kind}")
            return
        if isinstance(value, bool) and bool not in entry.accepts:
            self._refuse(entry, value, _NAMES[entry.accepts[0]])
        if not isinstance(value, entry.accepts):
            self._refuse(entry, value, _NAMES[entry.accepts[0]])
        if entry.accepts is _ACCEPTS["DATETYPE"] and isinstance(value, datetime):
            self._refuse(entry, value, "a date, not a datetime")
        if value.__class__ is str and _NOT_XML.search(value) is not None:
            # lxml would refuse it only when written, with a bare ValueError.
            raise ObjectFieldError(
                f"{self.cls.__name__}.{entry.name} ({entry.tag}): {value!r} holds a character"
                " XML cannot carry (a control character or a lone surrogate)"
            )
        if entry.enums and value not in entry.enums:
            raise ObjectFieldError(
                f"{self.cls.__name__}.{entry.name}: {value!r} is not one of"
                f" {', '.join(sorted(entry.enums))}"
            )

    def _refuse(self, entry: _Field, value: Any, expected: str) -> None:
        raise ObjectFieldError(
            f"{self.cls.__name__}.{entry.name} ({entry.tag}) expects {expected},"
            f" not {type(value).__name__} {value!r}"
        )


# What XML 1.0 cannot carry in text: control characters but tab, newline and
# carriage return; lone surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"


_SPECS: dict[type, _Spec] = {}


def _spec(cls: type[QBObject]) -> _Spec:
    found = _SPECS.get(cls)
    if found is None:
        found = _SPECS[cls] = _Spec(cls)
    return found


_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(name: str) -> str:
    """A qbXML name's field: ``ListID`` -> ``list_id``, ``PONumber`` -> ``po_number``.

    The one rule: the generators name fields by it, and classes find them by it.
    """
    converted = _SNAKE.sub("_", name).lower()
    return converted + "_" if keyword.iskeyword(converted) else converted


def class_name(key: str) -> str:
    """The class of a schema key: the aggregate's own name, ``XRqType`` -> ``XRq``."""
    return key[: -len("Type")] if key.endswith("RqType") else key


# -- loading classes on first use ----------------------------------------------------------


def load(name: str) -> Any:
    """The class ``name`` of ``qbwc_spyne.objects``, defining its module on first use.

    Raises:
        AttributeError: there is no such class.
    """
    package = importlib.import_module("qbwc_spyne.objects")
    module = package.MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'qbwc_spyne.objects' has no attribute {name!r}")
    found = getattr(importlib.import_module(f"qbwc_spyne.objects.{module}"), name)
    setattr(package, name, found)  # the next access is a plain attribute
    return found


_CLASSES: dict[str, type[QBObject] | None] = {}


def class_for(tag: str) -> type[QBObject] | None:
    """The class of the aggregate ``tag``, or None when the schema has none."""
    try:
        return _CLASSES[tag]
    except KeyError:
        pass
    try:
        found: type[QBObject] | None = load(tag)
    except AttributeError:
        found = None
    _CLASSES[tag] = found
    return found


# -- reading -------------------------------------------------------------------------------


def is_record(element: etree._Element) -> bool:
    """Whether a child of an answer is a record (an aggregate), not a value of the answer itself.

    Most answers hold records (``CustomerRet``); a few hold their values
    directly (``ListDelRs``: ``ListDelType``, ``ListID``, ``TimeDeleted``...).
    Those values stay in ``Result.records``; they are no objects.
    """
    tag = element.tag
    return isinstance(tag, str) and (len(element) > 0 or class_for(tag) is not None)


def read(element: etree._Element) -> QBObject:
    """A response record as its typed object; one the schema has no class for keeps its values.

    A value that does not read as its type is kept as text, with an
    :class:`~qbwc_spyne.exceptions.UnreadValueWarning`; an element the
    schema does not know goes to ``extra``. Reading never fails.
    """
    # Called once a record: class_for and _read_trusted inlined, a Python call each saved.
    tag = str(element.tag)
    try:
        cls = _CLASSES[tag] or QBObject
    except KeyError:
        cls = class_for(tag) or QBObject
    if _trusted.on:
        return _read(element, cls, tag)
    _trusted.on = True
    try:
        return _read(element, cls, tag)
    finally:
        _trusted.on = False


def read_all(records: Iterable[etree._Element]) -> list[QBObject]:
    """The records of a whole document as typed objects, in order (comments skipped).

    The cycle collector is paused meanwhile: the objects are untracked, but
    each holds lists (one for each repeated field) which are, and a whole
    document of them made its full passes walk all of those again and
    again (reading 100,000 CustomerRet took 1.3 times as long). Reading
    creates no cycle, so nothing is left for it to find.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return [read(record) for record in records if isinstance(record.tag, str)]
    finally:
        if enabled:
            gc.enable()


def _read_trusted(element: etree._Element, cls: type[_T]) -> _T:
    if _trusted.on:
        return _read(element, cls, str(element.tag))
    _trusted.on = True
    try:
        return _read(element, cls, str(element.tag))
    finally:
        _trusted.on = False


def _read(element: etree._Element, cls: type[_T], path: str) -> _T:
    # The hot loop: one dict lookup per child, then its reader.
    by_tag = (_SPECS.get(cls) or _spec(cls)).by_tag
    values: dict[str, Any] = {}
    extra: dict[str, Any] | None = None
    for child in element:
        tag = child.tag
        entry = by_tag.get(tag)
        value: Any
        if entry is None or (not entry.repeated and entry.name in values):
            # Unknown, or once more than the schema allows: kept as read, never dropped.
            if not isinstance(tag, str):
                continue  # a comment or processing instruction
            extra = {} if extra is None else extra
            value = _extra_value(child, f"{path}/{tag}")
            if tag in extra:
                if not isinstance(extra[tag], list):
                    extra[tag] = [extra[tag]]
                extra[tag].append(value)
            else:
                extra[tag] = value
            continue
        if entry.target is not None:
            target = class_for(entry.class_name) or QBObject
            value = _read(child, target, f"{path}/{tag}")
        else:
            text = child.text or ""
            reader = entry.reader
            if reader is None:
                value = text
            else:
                try:
                    value = reader(text)
                except (ValueError, InvalidOperation):
                    warnings.warn(
                        f"{path}/{tag}: {text!r} does not read as its qbXML type; kept as text",
                        UnreadValueWarning,
                        stacklevel=2,
                    )
                    value = text
        if entry.repeated:
            found = values.get(entry.name)
            if found is None:
                values[entry.name] = [value]
            else:
                found.append(value)
        else:
            values[entry.name] = value
    if element.attrib:
        extra = {} if extra is None else extra
        extra.update(_attributes(element, cls, path))
    if extra is not None:
        values["extra"] = extra
    return cls(**values)


def _attributes(element: etree._Element, cls: type[QBObject], path: str) -> dict[str, Any]:
    # Typed as the schema declares them (a report cell's colID is an int), as
    # Record.to_dict(typed=True) reads them.
    name = cls.__name__
    aggregate = (
        None
        if cls is QBObject
        else _reading_aggregate(name + "Type" if name.endswith("Rq") else name)
    )
    try:
        return _typed_attributes(element, aggregate, path)
    except ValueError as error:
        warnings.warn(f"{error}; kept as text", UnreadValueWarning, stacklevel=3)
        return {f"@{key}": text for key, text in element.attrib.items()}


def _extra_value(element: etree._Element, path: str) -> Any:
    # An element the class does not hold, read as Record.to_dict(typed=True)
    # reads it (an aggregate the schema knows, typed), text kept when it does not read.
    if not len(element) and not element.attrib:
        return element.text or ""
    try:
        if len(element):
            return _typed(element, _reading_aggregate(str(element.tag)), path)
        value = _typed_attributes(element, None, path)
        if element.text:
            value["#text"] = element.text
        return value
    except ValueError as error:
        warnings.warn(f"{error}; kept as text", UnreadValueWarning, stacklevel=3)
        return _untyped(element)


def _untyped(element: etree._Element) -> Any:
    if not len(element):
        return element.text or ""
    values: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        value = _untyped(child)
        if child.tag in values:
            if not isinstance(values[child.tag], list):
                values[child.tag] = [values[child.tag]]
            values[child.tag].append(value)
        else:
            values[child.tag] = value
    return values


# -- writing -------------------------------------------------------------------------------


def fields_of(obj: QBObject) -> dict[str, Any] | list[tuple[str, Any]]:
    """``obj`` as the qbXML-named fields a request takes, nested objects likewise.

    A dict; or ``(tag, value)`` pairs for an aggregate with a repeated choice
    (an invoice's lines and line groups), which keep the members' order.
    """
    if not isinstance(obj, QBObject):
        raise QBXMLBuildError(f"expects a typed qbXML object, not {type(obj).__name__}")
    spec = _SPECS.get(type(obj))
    values: dict[str, Any] | list[tuple[str, Any]] = (spec or _spec(type(obj))).write(obj)
    if obj.extra:
        # A field set wins over the same tag in extra (a repeat the reader kept there).
        if isinstance(values, list):
            taken = {tag for tag, _ in values}
            values += [(k, v) for k, v in obj.extra.items() if k[0] != "@" and k not in taken]
        else:
            values.update(
                {k: v for k, v in obj.extra.items() if not k.startswith("@") and k not in values}
            )
    return values
