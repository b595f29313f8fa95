"""ARCHITECTURE.md stays true: every file and folder it names exists; the docs point to it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "qbwc_spyne"
TEXT = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")

#: A name in backquotes that is a Python file or a folder (``store/_queue.py``, ``queue/``).
NAMED = re.compile(r"`([\w/]+\.py|[\w]+/)`")


def _exists(name: str) -> bool:
    """A path from the repository's root or the package's, or a module's bare file name."""
    if (ROOT / name).exists() or (PACKAGE / name).exists():
        return True
    return "/" not in name and any(PACKAGE.rglob(name))


def test_every_file_and_folder_it_names_exists():
    names = set(NAMED.findall(TEXT))
    assert len(names) > 30, "the map names the package's files"
    assert sorted(n for n in names if not _exists(n)) == []


def test_every_package_folder_is_on_the_map():
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert sorted(f for f in folders if f"`{f}/`" not in TEXT) == []


def test_the_readme_or_the_site_points_newcomers_to_it():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    assert any("`ARCHITECTURE.md`" in page.read_text(encoding="utf-8") for page in pages)
