"""Names that moved keep working, and say once where they went.

A module whose names moved sets ``__getattr__ = moved(__name__, {...})``: the
old name still gives the object, with one :class:`DeprecationWarning` a name
a process, pointing at the line that used it. A module that moved whole
calls :func:`module_moved` from its body.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["module_moved", "moved", "warn_once"]

#: The old names already warned about in this process ("module.Name").
warned: set[str] = set()


def warn_once(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new``, once a process."""
    if old in warned:
        return
    warned.add(old)
    warnings.warn(
        f"{old} is deprecated: use {new} instead (it will be removed in 1.0)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def moved(
    module: str,
    names: Mapping[str, str | tuple[str, str]],
    *,
    lazy: Mapping[str, str] | None = None,
) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving old names, and names loaded on first use.

    Each old name maps to ``"new.module:Name"``, or to
    ``("new.module:Name", advice)`` when the warning should say something
    else than the new place (a name that became private has none to give).
    ``lazy`` maps current names to ``"module:Name"``, imported when first
    asked for, with no warning.
    """

    def module_getattr(name: str) -> Any:
        if lazy is not None and name in lazy:
            where, _, attribute = lazy[name].partition(":")
            return getattr(importlib.import_module(where), attribute)
        try:
            target = names[name]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
        target, advice = target if isinstance(target, tuple) else (target, "")
        where, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(where), attribute)
        warn_once(f"{module}.{name}", advice or f"{where}.{attribute}")
        return value

    return module_getattr


def module_moved(old: str, new: str) -> None:
    """Warn that the module ``old`` is deprecated in favour of ``new`` (call from its body)."""
    # The importer's line is several import-machinery frames up; the warning
    # names both modules, which is what a reader needs to act on it.
    warn_once(old, new, stacklevel=2)
