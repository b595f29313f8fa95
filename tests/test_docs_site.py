"""The documentation site: every public name has a reference entry, the generated pages are current.

The strict build itself is ``make docs`` (``make test`` runs it once, before the
tests): it takes a minute, too long to repeat on every Python. These tests check
what is cheap to check, and read the inventory that build wrote when it is there.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from qbwc_spyne.objects import MODULES
from tools import codegen_docs
from tools.docstrings_rst import to_markdown

from .helpers import DEPRECATED_MODULES, LAYER_PACKAGES, PUBLIC_MODULES

ROOT = Path(__file__).resolve().parent.parent
MKDOCS = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
#: What ``make docs`` builds.
INVENTORY = ROOT / "build" / "site" / "objects.inv"


def _inventory(names: list[str]) -> bytes:
    """A Sphinx inventory of version 2, as mkdocstrings writes one, holding ``names``."""
    header = (
        b"# Sphinx inventory version 2\n# Project: qbwc_spyne\n# Version: 0.0.0\n"
        b"# The remainder of this file is compressed using zlib.\n"
    )
    lines = "".join(f"{name} py:class 1 #$ -\n" for name in names)
    return header + zlib.compress(lines.encode("utf-8"))


def test_every_deprecated_module_names_a_public_module_it_went_to():
    assert set(codegen_docs.DEPRECATED) == set(DEPRECATED_MODULES)
    assert set(codegen_docs.DEPRECATED.values()) <= set(PUBLIC_MODULES)


def test_every_module_without_an_underscore_is_public_a_layer_or_deprecated():
    """A new module with a public name is refused until it has a page (or is a layer)."""
    import pkgutil

    import qbwc_spyne

    layers = [name.split(".") for name in LAYER_PACKAGES]
    named = {
        module.name
        for module in pkgutil.walk_packages(qbwc_spyne.__path__, "qbwc_spyne.")
        if not any(part.startswith("_") for part in module.name.split("."))
        and module.name.split(".")[:2] not in layers  # a layer's modules go with it
    }
    assert named | {"qbwc_spyne"} == {*PUBLIC_MODULES, *DEPRECATED_MODULES}


def test_the_generated_pages_are_current():
    """The API pages, the command line and the error codes: python -m tools.codegen_docs."""
    assert codegen_docs._stale(codegen_docs.generate()) == []


def test_every_module_page_is_in_the_navigation():
    """The family pages of qbwc_spyne.objects are reached from its page instead."""
    pages = {path.as_posix() for path in codegen_docs.generate() if path.parent.name != "objects"}
    listed = set(re.findall(r"^\s*- (?:[^:\n]+: )?(\S+\.md)$", MKDOCS, re.MULTILINE))
    assert sorted(pages - listed) == []


def test_the_names_to_check_are_every_public_name_and_every_typed_class():
    expected = codegen_docs.public_names()
    assert {f"qbwc_spyne.objects.{name}" for name in MODULES} <= set(expected)
    assert len(MODULES) > 800
    assert "qbwc_spyne.QBWCHandler" in expected
    assert "qbwc_spyne.codes.explain" in expected
    assert {*PUBLIC_MODULES, *DEPRECATED_MODULES} <= set(expected)


def test_an_inventory_with_every_name_misses_none():
    names = codegen_docs.public_names()
    assert codegen_docs.missing_entries(_inventory(names)) == []


@pytest.mark.parametrize("gone", ["qbwc_spyne.objects.CustomerAdd", "qbwc_spyne.jobs.retry_job"])
def test_a_name_without_an_entry_is_reported(gone: str):
    names = [name for name in codegen_docs.public_names() if name != gone]
    assert codegen_docs.missing_entries(_inventory(names)) == [gone]


def test_what_is_not_an_inventory_is_refused():
    with pytest.raises(ValueError, match="not a Sphinx inventory"):
        codegen_docs.inventory_names(b"<html></html>")


def test_the_built_site_has_an_entry_for_every_public_name():
    """The inventory ``make docs`` wrote (it checks the same before the tests run)."""
    if not INVENTORY.exists():
        pytest.skip("the site is not built here: make docs")
    assert codegen_docs.missing_entries(INVENTORY.read_bytes()) == []


def test_the_included_files_are_included_whole():
    """README.md, CHANGELOG.md and ARCHITECTURE.md are pages of the site, not copies."""
    for page, source in (
        ("index.md", "README.md"),
        ("changelog.md", "CHANGELOG.md"),
        ("explanation/architecture.md", "ARCHITECTURE.md"),
    ):
        assert (ROOT / "docs" / page).read_text(encoding="utf-8") == f'--8<-- "{source}"\n'
        assert (ROOT / source).is_file()


def test_the_docstrings_references_and_version_notes_read_as_markdown():
    """tools/docstrings_rst.py, which the site's build loads into griffe."""
    text = (
        "Use :func:`~qbwc_spyne.codes.explain` or :class:`Job`::\n"
        "\n"
        "    explain(3140)\n"
        "\n"
        ".. deprecated:: Unreleased\n"
        "   Import from :mod:`qbwc_spyne.codes`,\n"
        "   the same names.\n"
        "\n"
        ".. versionadded:: 0.2.0\n"
    )
    assert to_markdown(text) == (
        "Use `explain` or `Job`:\n"
        "\n"
        "    explain(3140)\n"
        "\n"
        '!!! warning "Deprecated in the next release"\n'
        "\n"
        "    Import from `qbwc_spyne.codes`,\n"
        "    the same names.\n"
        "\n"
        '!!! info "Added in 0.2.0"\n'
    )


def test_the_build_is_strict_and_not_quiet():
    """--quiet drops the warnings before --strict counts them: the build would pass."""
    (build,) = [
        line
        for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
        if "mkdocs build" in line
    ]
    assert "--strict" in build.split()
    assert not {"-q", "--quiet"} & set(build.split())


def test_a_code_block_directive_reads_as_a_block_in_its_language():
    """``.. code-block:: python`` (or console, text) is a fenced block, indented as it was."""
    text = (
        "Serve it:\n"
        "\n"
        "    .. code-block:: python\n"
        "\n"
        "        app = make_wsgi_app(Handler())\n"
        "\n"
        "            # indented further\n"
        "\n"
        "    Then more.\n"
    )
    assert to_markdown(text) == (
        "Serve it:\n"
        "\n"
        "    ```python\n"
        "    app = make_wsgi_app(Handler())\n"
        "\n"
        "        # indented further\n"
        "    ```\n"
        "\n"
        "    Then more.\n"
    )
