"""Generate the qbXML schema tables from Intuit's qbXML XSD (versions 13.0 and 16.0).

Usage::

    python -m tools.codegen_schema            # rewrite qbwc_spyne/qbxml/_qbxml_schema.py
    python -m tools.codegen_schema --check    # exit 1 naming the first difference

The XSD files carry Intuit's copyright, so the package holds none of them:
only the facts derived from them (element order, occurrence, simple types,
``maxLength``, enumerations, which queries take an ``iterator``, which
requests write). They are read from ``../shared/reference/qbxml`` beside the
repository, or from the folder given with ``--xsd``.

The output is text, one definition a line, parsed lazily by
``qbwc_spyne.qbxml._schema``: strings cost nothing to import, where the same data
as nested Python literals costs milliseconds to build and a type checker
minutes to read. The grammar of a definition (``Key=model``)::

    model    := particle
    particle := "(" particle* ")" occurs      a sequence
              | "[" particle* "]" occurs      a choice
              | "&" Group occurs              a named group (defined as "&Group=...")
              | Name occurs ":" ref           an element
    ref      := "#" n                         line n of TYPES (a leaf)
              | "@" Key                       an aggregate defined as "Key=..."
    occurs   := "" (1) | "?" (0..1) | "*" (0..n) | "+" (1..n) | "{min,max}" (max "n": unbounded)

``%Key=`` lists the attributes of aggregate ``Key`` (only those that have
any), each ``name:ref`` with ``!`` after a required name (``statusCode!:#5``),
so that answers can be checked as requests are.
``!iterator=`` and ``!metadata=`` list the queries that take an ``iterator``
and a ``metaData`` attribute, and ``!writes=`` the requests that change the
company file. A TYPES line is ``BASE;maxLength;min;max;enum|enum...`` with
empty fields when absent.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

__all__ = ["XSD_FILES", "default_xsd_dir", "generate", "main"]

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "qbwc_spyne"
OUTPUT_PATH = PACKAGE_DIR / "qbxml" / "_qbxml_schema.py"
XS = "{http://www.w3.org/2001/XMLSchema}"

#: The entry point of each version (each includes the other files it needs).
XSD_FILES = {"13.0": "qbxmlops130.xsd", "16.0": "qbxmlops160.xsd"}

# Requests that open a window in QuickBooks or only read, without "Query" in the name.
_READ_ONLY = ("DisplayAddRq", "DisplayModRq", "QueryRq", "ReportQueryRq")


def default_xsd_dir() -> Path:
    """``../shared/reference/qbxml`` beside the repository (or beside a folder holding it).

    A git worktree sits one level deeper than the main checkout, so the
    folders above the repository are tried in turn, nearest first.
    """
    for folder in PACKAGE_DIR.parent.parents:
        candidate = folder / "shared" / "reference" / "qbxml"
        if candidate.is_dir():
            return candidate
    return PACKAGE_DIR.parent.parent / "shared" / "reference" / "qbxml"


class _Schema:
    """One version's XSD: its global definitions, then each turned into a line."""

    def __init__(self, entry: Path) -> None:
        self.elements: dict[str, etree._Element] = {}
        self.complex: dict[str, etree._Element] = {}
        self.simple: dict[str, etree._Element] = {}
        self.groups: dict[str, etree._Element] = {}
        self.base_types: set[str] = set()
        self._load(entry, set())
        self.types: dict[str, int] = {}  # leaf line -> index, shared across versions
        self.lines: dict[str, str] = {}
        self._pending: list[tuple[str, etree._Element]] = []

    def _load(self, path: Path, seen: set[Path]) -> None:
        if path in seen:
            return
        seen.add(path)
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
        for node in root.getroot():
            if not isinstance(node.tag, str):
                continue
            tag = node.tag.removeprefix(XS)
            if tag == "include":
                self._load(path.parent / node.get("schemaLocation"), seen)
                continue
            table = {
                "element": self.elements,
                "complexType": self.complex,
                "simpleType": self.simple,
                "group": self.groups,
            }.get(tag)
            if table is not None:
                table[node.get("name")] = node
                if tag == "simpleType" and path.name.startswith("qbxmltypes"):
                    self.base_types.add(node.get("name"))

    # -- leaves ---------------------------------------------------------------------------

    def _leaf(self, base: str, facets: dict[str, str], enums: list[str]) -> str:
        if base not in self.base_types:
            if base not in self.simple:
                raise ValueError(f"unknown simple type {base!r}")
            return self._simple(self.simple[base], facets, enums)
        restriction = self.simple[base].find(f"{XS}restriction")
        if restriction is not None:  # IDTYPE's own maxLength of 36, say
            for facet in restriction.iterchildren(f"{XS}maxLength"):
                facets = {"maxLength": facet.get("value"), **facets}
        for value in enums:
            if ";" in value or "|" in value or "\n" in value:
                raise ValueError(f"enumeration value {value!r} cannot be written")
        return ";".join(
            [
                base,
                facets.get("maxLength", ""),
                facets.get("minInclusive", ""),
                facets.get("maxInclusive", ""),
                "|".join(enums),
            ]
        )

    def _simple(self, node: etree._Element, facets: dict[str, str], enums: list[str]) -> str:
        restriction = node.find(f"{XS}restriction")
        if restriction is None:
            raise ValueError(f"simple type without a restriction at line {node.sourceline}")
        facets = dict(facets)
        own: list[str] = []
        for facet in restriction:
            if not isinstance(facet.tag, str):
                continue
            kind = facet.tag.removeprefix(XS)
            if kind == "enumeration":
                own.append(facet.get("value"))
            elif kind != "annotation":
                facets.setdefault(kind, facet.get("value"))
        # The narrowest enumeration wins: a restriction of a restriction.
        return self._leaf(restriction.get("base"), facets, enums or own)

    def _type_index(self, line: str) -> str:
        return "#" + str(self.types.setdefault(line, len(self.types)))

    # -- aggregates -----------------------------------------------------------------------

    def _ref_of(self, node: etree._Element, owner: str) -> str:
        """The ``#n`` or ``@Key`` of an element declaration (global or local)."""
        name = node.get("name")
        if node.get("type") is not None:
            type_name = str(node.get("type"))
            if type_name in self.complex:
                self._queue(type_name, self.complex[type_name])
                return "@" + type_name
            return self._type_index(self._leaf(type_name, {}, []))
        simple = node.find(f"{XS}simpleType")
        if simple is not None:
            return self._type_index(self._simple(simple, {}, []))
        complex_ = node.find(f"{XS}complexType")
        if complex_ is None:
            return self._type_index(self._leaf("STRTYPE", {}, []))
        content = complex_.find(f"{XS}simpleContent")
        if content is not None:
            extension = content[0]
            return self._type_index(self._leaf(extension.get("base"), {}, []))
        key = name if owner == "" else f"{owner}.{name}"
        self._queue(key, complex_)
        return "@" + key

    def _queue(self, key: str, complex_: etree._Element) -> None:
        if key not in self.lines:
            self.lines[key] = ""  # reserved: defined once
            self._pending.append((key, complex_))

    @staticmethod
    def _occurs(node: etree._Element) -> str:
        low = node.get("minOccurs", "1")
        high = node.get("maxOccurs", "1")
        high = "n" if high == "unbounded" else high
        return {("1", "1"): "", ("0", "1"): "?", ("0", "n"): "*", ("1", "n"): "+"}.get(
            (low, high), f"{{{low},{high}}}"
        )

    def _particle(self, node: etree._Element, owner: str) -> str:
        tag = node.tag.removeprefix(XS)
        occurs = self._occurs(node)
        if tag in ("sequence", "choice"):
            inner = " ".join(self._particles(node, owner))
            return ("(" + inner + ")" if tag == "sequence" else "[" + inner + "]") + occurs
        if tag == "group":
            name = str(node.get("ref"))
            if "&" + name not in self.lines:
                self.lines["&" + name] = ""
                self._pending.append(("&" + name, self.groups[name]))
            return "&" + name + occurs
        if tag == "element":
            if node.get("ref") is not None:
                name = str(node.get("ref"))
                return name + occurs + ":" + self._ref_of(self.elements[name], "")
            return str(node.get("name")) + occurs + ":" + self._ref_of(node, owner)
        raise ValueError(f"unexpected {tag} at line {node.sourceline}")

    def _particles(self, node: etree._Element, owner: str) -> Iterator[str]:
        for child in node:
            if isinstance(child.tag, str) and child.tag.removeprefix(XS) in (
                "sequence",
                "choice",
                "group",
                "element",
            ):
                yield self._particle(child, owner)

    def _model(self, key: str, node: etree._Element) -> str:
        owner = key.lstrip("&")
        parts = list(self._particles(node, owner))
        if len(parts) == 1 and parts[0][0] in "([" and parts[0][-1] in ")]":
            return parts[0]
        return "(" + " ".join(parts) + ")"

    def _attributes(self, node: etree._Element) -> Iterator[str]:
        for attribute in node.iterchildren(f"{XS}attribute"):
            required = "!" if attribute.get("use") == "required" else ""
            simple = attribute.find(f"{XS}simpleType")
            if simple is not None:
                leaf = self._simple(simple, {}, [])
            else:
                leaf = self._leaf(str(attribute.get("type", "STRTYPE")), {}, [])
            yield f"{attribute.get('name')}{required}:{self._type_index(leaf)}"

    def build(self, types: dict[str, int]) -> dict[str, str]:
        """Every definition reachable from QBXMLMsgsRq and QBXMLMsgsRs, by key."""
        self.types = types
        for root in ("QBXMLMsgsRq", "QBXMLMsgsRs"):
            self._queue(root, self.elements[root].find(f"{XS}complexType"))
        attributed: list[tuple[str, etree._Element]] = []
        while self._pending:
            key, node = self._pending.pop(0)
            self.lines[key] = self._model(key, node)
            if not key.startswith("&"):
                attributed.append((key, node))
        # After every model, so that the types of attributes come last.
        for key, node in attributed:
            attributes = " ".join(self._attributes(node))
            if attributes:
                self.lines["%" + key] = attributes
        requests = [
            el.get("name")
            for el in self.elements["QBXMLMsgsRq"].iterdescendants(f"{XS}element")
            if el.get("name", "").endswith("Rq")
        ]

        def taking(attribute: str) -> list[str]:
            return sorted(
                name
                for name in requests
                if self.complex[f"{name}Type"].find(f"{XS}attribute[@name='{attribute}']")
                is not None
            )

        writes = sorted(name for name in requests if not name.endswith(_READ_ONLY))
        self.lines["!iterator"] = " ".join(taking("iterator"))
        self.lines["!metadata"] = " ".join(taking("metaData"))
        self.lines["!writes"] = " ".join(writes)
        return self.lines


def _block(name: str, lines: list[str]) -> str:
    body = "\n".join(lines)
    return f'{name} = """\\\n{body}\n"""\n'


def generate(xsd_dir: Path) -> str:
    """The text of ``_qbxml_schema.py``, derived from the XSD files in ``xsd_dir``.

    Args:
        xsd_dir: the folder holding ``qbxmlops130.xsd``, ``qbxmlops160.xsd`` and their includes.

    Returns:
        The module's source.

    Raises:
        OSError: a file is missing; ValueError: a construct this generator does not know.
    """
    types: dict[str, int] = {}
    per_version = {
        version: _Schema(xsd_dir / name).build(types) for version, name in XSD_FILES.items()
    }
    first, second = (per_version[v] for v in XSD_FILES)
    common = [f"{k}={v}" for k, v in first.items() if second.get(k) == v]
    blocks = [_block("TYPES", list(types)), _block("COMMON", common)]
    for version, lines in per_version.items():
        other = second if lines is first else first
        only = [f"{k}={v}" for k, v in lines.items() if other.get(k) != v]
        blocks.append(_block("ONLY_" + version.replace(".", ""), only))
    header = (
        "# Generated by `python -m tools.codegen_schema` from Intuit's qbXML XSD\n"
        "# (versions 13.0 and 16.0). Do not edit: regenerate. The grammar is described\n"
        "# in tools/codegen_schema.py.\n"
        "# ruff: noqa: E501\n"
        "# fmt: off\n"
        "from __future__ import annotations\n\n"
        '__all__ = ["COMMON", "ONLY_130", "ONLY_160", "TYPES", "VERSIONS"]\n\n'
        f"VERSIONS = {tuple(XSD_FILES)!r}\n\n"
    )
    return header + "\n".join(blocks)


def first_difference(expected: str, actual: str) -> str:
    """Where two texts first differ, as ``line N: expected ... found ...``."""
    old, new = actual.splitlines(), expected.splitlines()
    for number, (a, b) in enumerate(zip(old, new, strict=False), start=1):
        if a != b:
            return f"line {number}: expected {b[:120]!r}, found {a[:120]!r}"
    return f"line {min(len(old), len(new)) + 1}: the files differ in length"


def main(argv: list[str] | None = None) -> int:
    """Write the schema module, or with ``--check`` compare it; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m tools.codegen_schema")
    parser.add_argument("--check", action="store_true", help="exit 1 if the module is stale")
    parser.add_argument("--xsd", type=Path, default=None, help="the folder of the qbXML XSD")
    parser.add_argument("--output", type=Path, default=OUTPUT_PATH, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    xsd_dir = args.xsd or default_xsd_dir()
    if not (xsd_dir / XSD_FILES["13.0"]).is_file():
        print(f"no qbXML XSD in {xsd_dir}: pass --xsd", file=sys.stderr)
        return 2
    text = generate(xsd_dir)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            where = first_difference(text, current)
            print(f"{args.output.name} is out of date with {xsd_dir}: {where}", file=sys.stderr)
            return 1
        print(f"{args.output.name} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
