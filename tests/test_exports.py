"""The public API: each module's __all__ lists exactly what it exports."""

from __future__ import annotations

import importlib
import types

import pytest

import qbwc_spyne

PUBLIC_MODULES = [
    "qbwc_spyne",
    "qbwc_spyne.auth",
    "qbwc_spyne.codes",
    "qbwc_spyne.dashboard",
    "qbwc_spyne.errors",
    "qbwc_spyne.events",
    "qbwc_spyne.exceptions",
    "qbwc_spyne.qbxml",
    "qbwc_spyne.qwc",
    "qbwc_spyne.server_errors",
    "qbwc_spyne.status",
    "qbwc_spyne.testing",
]


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
    """The package's front door is small and names what users need."""
    assert set(qbwc_spyne.__all__) == {
        "Health",
        "Job",
        "JobContext",
        "JobKind",
        "JobQueue",
        "JSONFormatter",
        "JobState",
        "LiveClient",
        "MemoryJobQueue",
        "Metrics",
        "MemorySessionStore",
        "QBWCHandler",
        "QBWCServer",
        "QueueHandler",
        "SQLiteJobQueue",
        "SQLiteSessionStore",
        "SQLJobQueue",
        "SQLSessionStore",
        "Session",
        "SessionState",
        "SessionStore",
        "__version__",
        "cancel_job",
        "events",
        "exceptions",
        "make_metrics_app",
        "make_wsgi_app",
        "recover_jobs",
        "resolve_unknown",
        "retry_job",
    }
    assert (
        qbwc_spyne.make_wsgi_app
        is importlib.import_module("qbwc_spyne.server._server").make_wsgi_app
    )
    with pytest.raises(AttributeError):
        qbwc_spyne.no_such_name  # noqa: B018
