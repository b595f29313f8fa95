"""Every aggregate of both schemas, through its typed class: answers read, requests validate.

Each ``*Ret`` of qbXML 13.0 and 16.0 is read from a sample built from the
schema tables and must hold what the untyped typed reader holds; each
``*Add`` and ``*Mod`` is built as an object inside its request and the
document must validate against Intuit's XSD of the version.
"""

from __future__ import annotations

import inspect
import keyword
from typing import Any

import pytest
from lxml import etree

from qbwc_spyne import qbxml
from qbwc_spyne.qbxml import _objects, _schema
from tools import codegen_objects, codegen_schema

from .object_samples import (
    TURNS,
    VERSIONS,
    answer,
    as_qbxml_dict,
    build,
    class_name,
    held_by,
    keys,
    snake,
)

XSD_DIR = codegen_schema.default_xsd_dir()

RETS = [(v, k) for v in VERSIONS for k in keys(v) if k.endswith("Ret")]
WRITES = [(v, k) for v in VERSIONS for k in keys(v) if k.endswith(("AddRqType", "ModRqType"))]


@pytest.fixture(scope="module")
def xsd() -> dict[str, etree.XMLSchema]:
    """Intuit's schema of each version, loaded by lxml: the oracle."""
    if not (XSD_DIR / "qbxmlops130.xsd").is_file():
        pytest.skip("Intuit's qbXML XSD (../shared/reference/qbxml) is not beside the repository")
    return {
        version: etree.XMLSchema(etree.parse(str(XSD_DIR / name)))
        for version, name in codegen_schema.XSD_FILES.items()
    }


def test_the_schemas_have_the_aggregates_the_tests_go_through():
    """A filter gone wrong would make the tests below prove nothing: the counts are pinned."""

    def count(pairs: list[tuple[str, str]], version: str) -> int:
        return sum(1 for v, _ in pairs if v == version)

    assert (count(RETS, "13.0"), count(RETS, "16.0")) == (124, 143)
    assert (count(WRITES, "13.0"), count(WRITES, "16.0")) == (126, 145)


def test_the_turns_reach_every_branch_of_every_choice():
    """Each choice takes branch turn % n: as many turns as the widest choice has branches
    reach them all."""

    def widest(group: _schema._Group) -> int:
        inner = [widest(c) for c in group.children if isinstance(c, _schema._Group)]
        return max([len(group.children) if group.choice else 0, *inner])

    found = max(widest(_schema._aggregate(v, k).tree) for v in VERSIONS for k in keys(v))
    assert found == TURNS


@pytest.mark.parametrize(("version", "key"), RETS, ids=[f"{v}-{k}" for v, k in RETS])
def test_every_ret_reads_into_its_class_with_the_typed_readers_values(version, key):
    """A sample answer of each Ret, one per turn of its choices, reads into the class of its
    name, holding field by field what ``typed_dict`` reads, with nothing left over."""
    for turn in range(TURNS):
        element = answer(version, key, turn)
        obj = _objects.read(element)
        assert type(obj).__name__ == key
        assert obj.extra == {}
        assert as_qbxml_dict(obj) == _schema.typed_dict(element)


@pytest.mark.parametrize(("version", "key"), WRITES, ids=[f"{v}-{k}" for v, k in WRITES])
def test_every_add_and_mod_request_validates_against_intuits_xsd_and_reads_back(xsd, version, key):
    """Built from typed objects, each Add and Mod request, one per turn of its choices, is a
    document Intuit's XSD of the version accepts, and reads back into an equal object."""
    for turn in range(TURNS):
        request = build(version, key, turn)
        assert type(request).__name__ == class_name(key)
        document = qbxml.request(request, version=version)
        root = etree.fromstring(document.encode())
        schema = xsd[version]
        assert schema.validate(root), (turn, [e.message for e in schema.error_log][:3])
        assert type(request).from_element(root[0][0]) == request


def test_the_requests_built_reach_every_add_and_mod_aggregate():
    """Lines and nested parts (InvoiceLineAdd, ShipToAddress...) are built inside their
    requests: between them, the requests above reach every Add and Mod of both schemas."""
    seen: set[str] = set()
    for version, key in WRITES:
        for turn in range(TURNS):
            build(version, key, turn, seen=seen)
    wanted = {k for v in VERSIONS for k in keys(v) if k.endswith(("Add", "Mod"))}
    assert wanted - seen == set()
    assert len(wanted) > 150


# -- the names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("ListID", "list_id"),
        ("TxnLineID", "txn_line_id"),
        ("PONumber", "po_number"),
        ("InvoiceLineRet", "invoice_line_ret"),
        ("EditSequence", "edit_sequence"),
        ("FullName", "full_name"),
        ("IsToBePrinted", "is_to_be_printed"),
        ("SSN", "ssn"),
        ("Form1099CategoryAccountMappingRet", "form1099_category_account_mapping_ret"),
        ("class", "class_"),
        ("None", "none"),
    ],
)
def test_the_snake_case_rule_is_the_stated_one(name, field):
    """``ListID`` -> ``list_id`` and so on, by the stated regular expression; a keyword gets
    a trailing underscore; the generator names fields by the package's one rule."""
    assert snake(name) == field
    assert _objects.snake(name) == field
    assert codegen_objects.snake is _objects.snake


def test_the_rule_is_the_stated_one_on_every_name_of_both_schemas():
    """The package's rule gives each element and aggregate of 13.0 and 16.0 the field name
    the stated regular expression gives (the tests' own copy of it)."""
    names = set()
    for version in VERSIONS:
        for key in _schema._lines(version):
            names.add(key.lstrip("&%!"))
            aggregate = _schema._lookup(version, key)
            if aggregate is not None:
                names.update(aggregate.names)
    assert len(names) > 2000
    for name in sorted(names):
        assert _objects.snake(name) == snake(name), name


def test_no_field_is_a_python_keyword_and_each_class_names_its_fields_once():
    """Every class's fields are identifiers that are not keywords, one per qbXML element."""
    for version in VERSIONS:
        for key in keys(version):
            aggregate = _schema._aggregate(version, key)
            held = held_by(version, key)  # a repeated choice's members share one field
            fields = [snake(tag) for tag in aggregate.names if tag not in held]
            fields += sorted(set(held.values()))
            assert len(set(fields)) == len(fields), key
            cls = _objects.load(class_name(key))
            for field in fields:
                assert field.isidentifier() and not keyword.iskeyword(field)
                assert field in cls.__struct_fields__, (key, field)


def test_each_fields_documentation_gives_its_element_maximum_length_and_versions():
    """The class docstring names each field's element, its maximum length (per version when
    they differ) and the versions that have it."""
    checked = 0
    for name in sorted({class_name(k) for v in VERSIONS for k in keys(v)}):
        cls = _objects.load(name)
        key = name + "Type" if name.endswith("Rq") else name
        present: dict[str, dict[str, Any]] = {}
        for version in VERSIONS:
            aggregate = _schema._lookup(version, key)
            for tag, element in (aggregate.names if aggregate is not None else {}).items():
                if element.most > 0:
                    leaf = element.leaf
                    length = leaf.max_length if leaf is not None else None
                    present.setdefault(tag, {})[version] = length
        lines = {  # cleandoc: Python 3.13 strips the docstring's indentation, earlier ones not
            line.strip().split(":", 1)[0]: line.strip()
            for line in inspect.cleandoc(cls.__doc__ or "").splitlines()
            if line.startswith("    ")
        }
        held = {
            t: f for v in VERSIONS if _schema._lookup(v, key) for t, f in held_by(v, key).items()
        }
        for tag, lengths in present.items():
            line = lines[held.get(tag, snake(tag))]
            assert f"``{tag}``" in line, line
            versions = sorted(lengths)
            if versions == ["13.0", "16.0"]:
                assert line.endswith("qbXML 13.0 and up."), line
            elif versions == ["16.0"]:
                assert line.endswith("since qbXML 16.0."), line
            else:
                assert line.endswith("only in qbXML 13.0."), line
            known = {v: n for v, n in lengths.items() if n is not None}
            if len(set(known.values())) == 1:
                assert f"at most {next(iter(known.values()))} characters" in line, line
            elif known:
                for version, length in known.items():
                    assert f"{length} in {version}" in line, line
            checked += 1
    assert checked == 6810  # fields of all classes, pinned: a filter gone wrong shows here
