"""A griffe extension that reads the docstrings' reStructuredText markup as Markdown.

The docstrings are written for ``help()`` and any Sphinx-style reader:
cross-references (``:class:`Job```, ``:func:`~qbwc_spyne.codes.explain```),
``.. versionadded::``-style notes, and examples as ``.. code-block:: python``
(or ``console``, ``text``). mkdocstrings renders Markdown, where these would
show as written. The documentation site (``mkdocs.yml``) loads this file so
that a reference reads as code, a version note as a note, and an example as a
code block in its language, without rewriting the docstrings for one reader.

An example names its language so that tests/test_docstring_examples.py knows
what to do with it: run a Python block, check a console line, leave a text
diagram alone. A bare ``::`` block says nothing, so that test refuses it on
any docstring the site shows (:func:`literal_blocks` finds both for it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from textwrap import dedent
from typing import Any

import griffe

__all__ = ["LiteralBlock", "RestructuredText", "literal_blocks", "to_markdown"]

#: ``:class:`Name```, ``:meth:`~pkg.Cls.meth```, ``:func:`title <target>```.
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`([^`]+)`")
#: A version note: the directive, then its lines indented under it.
_NOTE = re.compile(
    r"^(?P<indent>[ \t]*)\.\. (?P<kind>versionadded|versionchanged|deprecated)::"
    r"[ \t]*(?P<version>\S*)[ \t]*$"
)
#: ``.. code-block:: python``: the indented lines under it are code in that language.
_CODE = re.compile(r"^(?P<indent>[ \t]*)\.\. code-block::[ \t]*(?P<language>\S*)[ \t]*$")
#: Any other directive (``.. versionadded::``) ends in ``::`` without being a literal block.
_DIRECTIVE = re.compile(r"^[ \t]*\.\. [\w-]+::")
_KINDS = {
    "versionadded": ("info", "Added in"),
    "versionchanged": ("info", "Changed in"),
    "deprecated": ("warning", "Deprecated in"),
}


def _reference(match: re.Match[str]) -> str:
    target = match.group(1)
    if target.endswith(">") and "<" in target:  # an explicit title
        return f"`{target.split('<', 1)[0].strip()}`"
    if target.startswith("~"):  # Sphinx shows the last part only
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


def _version(version: str) -> str:
    return "the next release" if version in ("", "Unreleased") else version


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _body(lines: list[str], start: int, indent: int) -> tuple[int, int]:
    """The lines from ``start`` indented deeper than ``indent``: (first, end), blanks trimmed."""
    first = start
    while first < len(lines) and not lines[first].strip():
        first += 1
    end = first
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    while end > first and not lines[end - 1].strip():
        end -= 1
    return first, end


@dataclass(frozen=True)
class LiteralBlock:
    """A literal block of a docstring: ``.. code-block:: LANGUAGE``, or a bare ``::``."""

    #: The docstring's line (from 0) of the directive, or of the text ending in ``::``.
    line: int
    #: The block's first line of code (from 0).
    first: int
    #: ``python``, ``console``, ``text``...; ``""`` for a directive naming none; None for ``::``.
    language: str | None
    #: The code, dedented.
    code: str


def literal_blocks(text: str) -> list[LiteralBlock]:
    """Every literal block of the docstring ``text``, in order."""
    lines = text.split("\n")
    blocks = []
    index = 0
    while index < len(lines):
        line = lines[index]
        code = _CODE.match(line)
        bare = code is None and line.rstrip().endswith("::") and not _DIRECTIVE.match(line)
        if code is None and not bare:
            index += 1
            continue
        first, end = _body(lines, index + 1, _indent(line))
        if end > first:  # "::" with nothing indented under it is only text
            language = code["language"] if code is not None else None
            body = dedent("\n".join(lines[first:end]))
            blocks.append(LiteralBlock(index, first, language, body))
        index = max(end, index + 1)
    return blocks


def _fence(lines: list[str], index: int, indent: str, language: str) -> tuple[list[str], int]:
    """The directive at ``index`` as a fenced block; and the index after its body."""
    first, end = _body(lines, index + 1, len(indent))
    code = dedent("\n".join(lines[first:end])).split("\n") if end > first else []
    fence = [f"{indent}```{language}", *(f"{indent}{part}" if part else "" for part in code)]
    return [*fence, f"{indent}```"], end


def to_markdown(text: str) -> str:
    """``text`` with its references, version notes, code blocks and ``::`` as Markdown."""
    text = _ROLE.sub(_reference, text)
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        code = _CODE.match(line)
        if code is not None:
            fenced, index = _fence(lines, index, code["indent"], code["language"])
            out += fenced
            continue
        note = _NOTE.match(line)
        if note is None:
            # "Like this::" before a literal block: Markdown's block needs the
            # colon once and the indentation it already has.
            out.append(line[:-1] if line.endswith("::") and line.strip() != "::" else line)
            index += 1
            continue
        indent = note["indent"]
        style, title = _KINDS[note["kind"]]
        out.append(f'{indent}!!! {style} "{title} {_version(note["version"])}"')
        index += 1
        body: list[str] = []
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > len(indent)
        ):
            body.append(lines[index])
            index += 1
        while body and not body[-1]:
            body.pop()
            index -= 1  # the blank lines after the note stay where they were
        if body:
            out.append("")
            out += [
                f"{indent}    {part}" if part else ""
                for part in dedent("\n".join(body)).split("\n")
            ]
    return "\n".join(out)


class RestructuredText(griffe.Extension):
    """Rewrites each docstring's reStructuredText markup as Markdown, as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
