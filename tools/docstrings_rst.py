"""A griffe extension that reads the docstrings' reStructuredText markup as Markdown.

The docstrings are written for ``help()`` and any Sphinx-style reader:
cross-references (``:class:`Job```, ``:func:`~qbwc_spyne.codes.explain```),
``.. versionadded::``-style notes and ``::`` before an example. mkdocstrings
renders Markdown, where these would show as written. The documentation site
(``mkdocs.yml``) loads this file so that a reference reads as code, a version
note as a note, and an example's colon as one colon, without rewriting
the docstrings for one reader.
"""

from __future__ import annotations

import re
from textwrap import dedent
from typing import Any

import griffe

__all__ = ["RestructuredText", "to_markdown"]

#: ``:class:`Name```, ``:meth:`~pkg.Cls.meth```, ``:func:`title <target>```.
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`([^`]+)`")
#: A version note: the directive, then its lines indented under it.
_NOTE = re.compile(
    r"^(?P<indent>[ \t]*)\.\. (?P<kind>versionadded|versionchanged|deprecated)::"
    r"[ \t]*(?P<version>\S*)[ \t]*$"
)
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


def to_markdown(text: str) -> str:
    """``text`` with its reStructuredText references, version notes and ``::`` as Markdown."""
    text = _ROLE.sub(_reference, text)
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
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
