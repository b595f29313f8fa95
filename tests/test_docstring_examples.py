"""The code blocks of the docstrings the site renders run as written, every line.

The reference pages (tools/codegen_docs.py) render public modules' docstrings
and those of every name they list, with mkdocstrings' rules for members.
tools/docstrings_rst.py turns each ``.. code-block:: LANGUAGE`` of them into
a code block of the site. Here the same docstrings are read with griffe, as
the site reads them, and each block is used as its language says:

- ``python``: the blocks of one docstring run in order, in one namespace,
  in an empty directory, and every statement must have run. An ``app`` a
  block defines is then served one Web Connector update, as user ``shop``
  with password ``s3cret``, as the reader's server would serve it: that
  runs its handler's methods.
- ``console``: each command runs, or is checked by the program it names,
  in a directory holding ``app.py``, the package docstring's example.
- ``text``: a diagram or a format; nothing to run.

A block that names no language (a bare ``::``) is refused, with its place.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import griffe
import pytest

from qbwc_spyne.auth import hash_password
from tools import codegen_docs
from tools.docstrings_rst import literal_blocks

from .helpers import recording_lines, statement_lines

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KINDS = ("python", "console", "text")
#: What the site leaves out below a rendered object: mkdocstrings' default filter.
PRIVATE = re.compile(r"^_[^_]")
#: The environment the reader's deployment gives (qbwc_spyne.app's example reads it).
ENVIRONMENT = {
    "DATABASE_URL": "sqlite:///qbwc.db",
    "SHOP_HASH": hash_password("s3cret"),
    "DASHBOARD_PASSWORD": "the operator's password",
    "DASHBOARD_SECRET": "a long random secret",
}


@dataclass(frozen=True)
class DocBlock:
    """One literal block of a docstring, placed in its source file."""

    name: str  # the documented object, as the site names it
    path: Path
    line: int  # the file's line of the directive (or of the text ending in ``::``)
    first_line: int  # the file's line of the block's first line of code
    language: str | None
    code: str

    @property
    def where(self) -> str:
        path = self.path.relative_to(ROOT) if self.path.is_absolute() else self.path
        return f"{path}:{self.line}"


def blocks_of(name: str, path: Path, lineno: int, text: str, source: list[str]) -> list[DocBlock]:
    """The literal blocks of the docstring ``text`` found at line ``lineno`` of ``source``."""
    # inspect.cleandoc (griffe's) drops a first line left empty after the quotes.
    lead = 1 if source[lineno - 1].strip() in ('"""', 'r"""') else 0
    found = []
    for block in literal_blocks(text):
        line = lineno + lead + block.line
        marker = text.split("\n")[block.line].strip()
        assert source[line - 1].strip() == marker, f"{path}:{line}: not where the docstring says"
        found.append(
            DocBlock(name, path, line, lineno + lead + block.first, block.language, block.code)
        )
    return found


def _directives() -> Iterator[tuple[str, list[str] | bool | None]]:
    """Each ``::: identifier`` of the generated reference pages, with its ``members`` option."""
    for path, text in codegen_docs.generate().items():
        if path.parts[:2] != codegen_docs.API.parts:
            continue
        for match in re.finditer(r"^::: (\S+)\n((?:    .*\n)*)", text, re.MULTILINE):
            options = match[2]  # as codegen_docs._directive writes them
            if re.search(r"^ +members: false$", options, re.MULTILINE):
                yield match[1], False
            elif re.search(r"^ +members:$", options, re.MULTILINE):
                yield match[1], re.findall(r"^ +- (\S+)$", options, re.MULTILINE)
            else:
                yield match[1], None


def _rendered(obj: Any, members: Any = None) -> Iterator[Any]:
    """``obj`` and what the site renders under it (mkdocs.yml's mkdocstrings options)."""
    yield obj
    if not (obj.is_module or obj.is_class):
        return
    if obj.is_class and "__init__" in obj.members:  # merge_init_into_class
        yield obj.members["__init__"]
    for child in obj.all_members.values():
        if members is not None:  # the page's list, at the top only
            if members is False or child.name not in members:
                continue
        elif PRIVATE.match(child.name) or (child.is_imported and not child.is_public):
            continue
        if child.inherited or child.is_module or child.name == "__init__":
            continue  # inherited_members false; show_submodules false; merged above
        yield from _rendered(child)


def site_blocks() -> list[DocBlock]:
    """Every literal block of every docstring the site renders, in the pages' order."""
    loader = griffe.GriffeLoader(search_paths=[str(ROOT)], docstring_parser=griffe.Parser.google)
    loader.load("qbwc_spyne")
    loader.resolve_aliases(implicit=False, external=None)
    seen: set[tuple[Path, int]] = set()
    blocks = []
    for identifier, members in _directives():
        for obj in _rendered(loader.modules_collection[identifier], members):
            docstring = obj.docstring
            if docstring is None or (obj.filepath, docstring.lineno) in seen:
                continue
            seen.add((obj.filepath, docstring.lineno))
            source = obj.filepath.read_text(encoding="utf-8").split("\n")
            blocks += blocks_of(obj.path, obj.filepath, docstring.lineno, docstring.value, source)
    return blocks


BLOCKS = site_blocks()
PYTHON = [block for block in BLOCKS if block.language == "python"]
CONSOLE = [block for block in BLOCKS if block.language == "console"]
#: The Python blocks by docstring: each docstring's run in order, as the reader reads them.
DOCSTRINGS: dict[str, list[DocBlock]] = {}
for _block in PYTHON:
    DOCSTRINGS.setdefault(_block.name, []).append(_block)


def unlabelled(blocks: list[DocBlock]) -> list[str]:
    """The places of the blocks that name no language the tests use."""
    return [f"{block.where} ({block.name})" for block in blocks if block.language not in KINDS]


def code_text(block: DocBlock) -> str:
    """The block's code, on the lines it has in its source file."""
    return "\n" * (block.first_line - 1) + block.code


def update(app: Any) -> None:
    """One Web Connector update of ``app``, against an empty company; its outcome is the app's."""
    from qbwc_spyne.testing import FakeQuickBooks, WebConnector

    WebConnector(app, user="shop", password="s3cret", quickbooks=FakeQuickBooks()).update()


def run_python(blocks: list[DocBlock]) -> dict[str, Any]:
    """Run one docstring's Python blocks in one namespace; fail naming a line never run."""
    namespace: dict[str, Any] = {"__name__": "docstring_example"}
    ran: set[tuple[str, int]] = set()
    expected: set[tuple[str, int]] = set()
    files = {str(block.path) for block in blocks}
    with recording_lines(files, ran), contextlib.redirect_stdout(io.StringIO()):
        for block in blocks:
            # Numbered as in the source file: a traceback shows the docstring's line.
            code = compile(code_text(block), str(block.path), "exec")
            served = namespace.get("app")
            exec(code, namespace)
            expected |= {(str(block.path), line) for line in statement_lines(code_text(block))}
            if namespace.get("app") is not served:  # a new app: served as the reader's would be
                update(namespace["app"])
    never = sorted(line for path, line in expected - ran)
    assert not never, f"{blocks[0].where}: lines never run: {never}"
    return namespace


def _close(namespace: dict[str, Any]) -> None:
    """Close the stores an example opened: an open database would warn when collected."""
    for value in namespace.values():
        close = getattr(value, "close", None)
        if type(value).__module__.startswith("qbwc_spyne.") and callable(close):
            close()


# -- console blocks --------------------------------------------------------------------


def check_gunicorn(argv: list[str], directory: Path) -> None:
    """gunicorn loads the app and its settings (``--check-config``: never bound)."""
    done = _run([str(BIN / "gunicorn"), *argv[1:], "--check-config"], directory)
    assert done.returncode == 0, done.stderr


def _run(argv: list[str], directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=directory, capture_output=True, text=True, timeout=120, check=False
    )


#: A console block's commands, by program: each runs it or checks it.
RUNNERS: dict[str, Callable[[list[str], Path], None]] = {"gunicorn": check_gunicorn}


def commands(block: DocBlock) -> list[list[str]]:
    """The block's commands, split as a shell would, without comments or prompts."""
    lines = (line.removeprefix("$ ").strip() for line in block.code.splitlines())
    return [shlex.split(line, comments=True) for line in lines if line and line[0] != "#"]


# -- the tests ----------------------------------------------------------------------------


def test_every_block_names_a_language_the_tests_use():
    """A bare ``::`` could be Python nobody runs: each block says python, console or text."""
    bare = unlabelled(BLOCKS)
    assert not bare, f"say each block's language (.. code-block:: {'/'.join(KINDS)}): {bare}"


def test_the_site_has_blocks_of_each_kind():
    """The collection finds what the pages render (a reader that found none would pass)."""
    assert {block.language for block in BLOCKS} == set(KINDS)
    assert "qbwc_spyne" in DOCSTRINGS  # the package's own example, which app.py is
    assert any(name.endswith("FakeQuickBooks.from_json") for name in (b.name for b in BLOCKS))


@pytest.mark.parametrize("name", DOCSTRINGS)
def test_every_python_block_runs_every_line(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key, value in ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    _close(run_python(DOCSTRINGS[name]))


@pytest.mark.parametrize("block", CONSOLE, ids=lambda block: block.where)
def test_every_console_command_runs_or_is_checked(block, tmp_path):
    (package,) = DOCSTRINGS["qbwc_spyne"]
    (tmp_path / "app.py").write_text(package.code, encoding="utf-8")
    lines = commands(block)
    assert lines, f"{block.where}: no command"
    unknown = [argv[0] for argv in lines if argv[0] not in RUNNERS]
    assert not unknown, f"{block.where}: nothing here runs {unknown}"
    for argv in lines:
        RUNNERS[argv[0]](argv, tmp_path)


# -- the checks themselves, on planted docstrings ------------------------------------------

PLANTED = '''"""A module.

Use it::

    handler.enqueue("add_customer", user="shop")

Or run it:

.. code-block:: python

    if False:
        print("never")

.. code-block:: python

    handler.enqueue("add_customer", user="shop")
"""
'''


def _planted() -> list[DocBlock]:
    source = PLANTED.split("\n")
    text = griffe.Docstring(PLANTED.strip().strip('"')).value
    return blocks_of("planted", Path("planted.py"), 1, text, source)


def test_a_block_without_a_language_is_refused_with_its_place():
    assert unlabelled(_planted()) == ["planted.py:3 (planted)"]


def test_a_python_line_that_never_runs_fails_naming_it():
    (_, never, _) = _planted()
    with pytest.raises(AssertionError, match=r"planted.py:9: lines never run: \[12\]"):
        run_python([never])


def test_a_fragment_that_cannot_run_fails_at_its_line():
    (*_, fragment) = _planted()
    with pytest.raises(NameError, match="handler") as raised:
        run_python([fragment])
    assert raised.traceback[-1].lineno + 1 == fragment.first_line == 16
