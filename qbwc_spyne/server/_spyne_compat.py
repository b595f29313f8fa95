"""Serve spyne's vendored ``six`` from the maintained ``six`` package.

Theory of operation: spyne 2.14.0, its last release, ships a copy of six 1.14
as ``spyne.util.six``. That copy makes ``spyne.util.six.moves`` importable
through a meta-path importer that has only ``find_module`` and
``load_module``, which the import system stopped calling in Python 3.12. So on
3.12 and later ``import spyne`` fails with "No module named
'spyne.util.six.moves'". The maintained six (1.16 and later) implements
``find_spec`` and has the same names.

:class:`VendoredSixFinder` sits first on ``sys.meta_path`` and answers for the
vendored names only:

- ``spyne.util.six`` is a module holding the namespace of ``six``, plus
  ``get_function_name``, which spyne's copy adds and spyne calls;
- ``spyne.util.six.moves`` and every name under it is the very module that
  ``six.moves...`` names.

Every other name, ``six`` itself included, is left to the rest of
``sys.meta_path``; spyne's files are not changed. The finder is used on every
Python version, so that spyne runs on the same six everywhere.

``qbwc_spyne/__init__.py`` calls :func:`install` before anything imports
spyne. If spyne was imported before qbwc_spyne, its own copy is already in
``sys.modules`` and stays (on 3.12 and later that import has already failed).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import operator
import sys
import types
from collections.abc import Sequence
from importlib.machinery import ModuleSpec

import six

__all__ = ["VENDORED", "VendoredSixFinder", "install"]

#: The name under which spyne imports its copy of six.
VENDORED = "spyne.util.six"


def _maintained_name(fullname: str) -> str | None:
    """The name in the six package that a vendored name stands for, or None."""
    if fullname == VENDORED or fullname.startswith(VENDORED + "."):
        return "six" + fullname[len(VENDORED) :]
    return None


def _vendored_six() -> types.ModuleType:
    """A module with six's namespace and the one function spyne's copy adds."""
    module = types.ModuleType(VENDORED, six.__doc__)
    module.__dict__.update(
        (name, value) for name, value in vars(six).items() if not name.startswith("__")
    )
    # spyne's copy has it; spyne calls it (spyne.util.meta, spyne.decorator).
    module.get_function_name = operator.attrgetter("__name__")  # type: ignore[attr-defined]
    return module


class _Loader(importlib.abc.Loader):
    def __init__(self) -> None:
        # The import system sets __spec__ on whatever create_module returns,
        # even a module that has its own: keep that one to put it back.
        self._own_specs: dict[str, ModuleSpec | None] = {}

    def create_module(self, spec: ModuleSpec) -> types.ModuleType:
        if spec.name == VENDORED:
            return _vendored_six()
        # six.moves and the names under it: the same module object, as six
        # itself does, so both names share one set of resolved attributes.
        module = importlib.import_module("six" + spec.name[len(VENDORED) :])
        self._own_specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # Nothing to run: create_module returned the finished module.
        spec = module.__spec__
        if spec is not None and spec.name in self._own_specs:
            module.__spec__ = self._own_specs.pop(spec.name)


class VendoredSixFinder(importlib.abc.MetaPathFinder):
    """Find ``spyne.util.six`` and the names under it, and nothing else."""

    _loader = _Loader()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> ModuleSpec | None:
        """Return a spec for a vendored six name, else None.

        Args:
            fullname: The module name being imported.
            path: The parent package's ``__path__`` (unused).
            target: The module being reloaded, if any (unused).

        Returns:
            A spec served from six, or None: for names that are not the vendored
            six's, and for names under it that six does not have (so the import
            fails with the usual ``ModuleNotFoundError``).
        """
        maintained = _maintained_name(fullname)
        if maintained is None:
            return None
        if fullname == VENDORED:
            return importlib.util.spec_from_loader(fullname, self._loader, is_package=True)
        found = importlib.util.find_spec(maintained)
        if found is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, self._loader, is_package=found.submodule_search_locations is not None
        )


def install() -> None:
    """Put a :class:`VendoredSixFinder` first on ``sys.meta_path``, once.

    Calling it again does nothing.
    """
    if not any(isinstance(finder, VendoredSixFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, VendoredSixFinder())
