"""The public API: each module's __all__ lists exactly what it exports."""

from __future__ import annotations

import importlib
import types

import pytest

import qbwc_spyne

from .helpers import PUBLIC_MODULES


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist_and_are_documented(name):
    """Every name in __all__ is importable and has a docstring (values excepted)."""
    module = importlib.import_module(name)
    for attribute in module.__all__:
        value = getattr(module, attribute)
        if isinstance(value, type | types.FunctionType | types.ModuleType):
            assert value.__doc__, f"{name}.{attribute} has no docstring"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_names_are_all_listed(name):
    """Every public class or function defined in the module is in __all__."""
    module = importlib.import_module(name)
    defined = {
        key
        for key, value in vars(module).items()
        if not key.startswith("_")
        and isinstance(value, type | types.FunctionType)
        and value.__module__ == module.__name__
    }
    assert defined <= set(module.__all__)


def test_top_level_front_door():
    """The package's front door is small and names what users need; the rest has a module."""
    assert set(qbwc_spyne.__all__) == {
        "Job",
        "JobContext",
        "JobKind",
        "JobState",
        "LiveClient",
        "MemoryJobQueue",
        "MemorySessionStore",
        "QBWCHandler",
        "QBWCServer",
        "QueueHandler",
        "SQLJobQueue",
        "SQLSessionStore",
        "Session",
        "__version__",
        "events",
        "exceptions",
        "make_app",
        "make_wsgi_app",
    }
    assert (
        qbwc_spyne.make_wsgi_app is importlib.import_module("qbwc_spyne.server._app").make_wsgi_app
    )
    assert qbwc_spyne.make_app is importlib.import_module("qbwc_spyne.app").make_app
    with pytest.raises(AttributeError):
        qbwc_spyne.no_such_name  # noqa: B018
