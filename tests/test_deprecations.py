"""Names that moved still work: the same object, and one warning naming where it went."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

import qbwc_spyne
from qbwc_spyne import _deprecation
from qbwc_spyne.exceptions import ConfigurationError, QBWCError

#: Every public name of 0.2, as ``module:name``.
PUBLIC_NAMES = Path(__file__).resolve().parent / "data" / "public_names_0_2.txt"


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    """Each test starts as a new process would: no old name warned about yet."""
    monkeypatch.setattr(_deprecation, "warned", set())


class TestTheMechanism:
    @pytest.fixture
    def old(self, monkeypatch):
        """A module whose name ``Thing`` moved to ``qbwc_spyne.exceptions:QBWCError``."""
        module = types.ModuleType("qbwc_spyne.old_home")
        module.__getattr__ = _deprecation.moved(  # type: ignore[method-assign]
            module.__name__, {"Thing": "qbwc_spyne.exceptions:QBWCError"}
        )
        monkeypatch.setitem(sys.modules, module.__name__, module)
        return module

    def test_an_old_name_gives_the_same_object_and_names_its_new_place(self, old):
        with pytest.warns(DeprecationWarning) as caught:
            assert old.Thing is QBWCError
        (warning,) = caught
        assert str(warning.message) == (
            "qbwc_spyne.old_home.Thing is deprecated: use qbwc_spyne.exceptions.QBWCError"
            " instead (it will be removed in 1.0)"
        )

    def test_the_warning_points_at_the_line_that_used_the_old_name(self, old):
        with pytest.warns(DeprecationWarning) as caught:
            from qbwc_spyne.old_home import Thing  # type: ignore[import-not-found]  # noqa: F401
        assert caught[0].filename == __file__

    def test_it_warns_once_a_process(self, old):
        with pytest.warns(DeprecationWarning):
            old.Thing  # noqa: B018
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert old.Thing is QBWCError

    def test_a_name_that_never_was_is_an_attribute_error(self, old):
        with pytest.raises(AttributeError, match=r"'qbwc_spyne\.old_home' has no attribute 'Nope'"):
            old.Nope  # noqa: B018
        with pytest.raises(ImportError):
            from qbwc_spyne.old_home import Nope  # noqa: F401

    def test_a_moved_module_warns_once_naming_both(self):
        with pytest.warns(
            DeprecationWarning, match=r"^qbwc_spyne\.a is deprecated: use qbwc_spyne\.b"
        ):
            _deprecation.module_moved("qbwc_spyne.a", "qbwc_spyne.b")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _deprecation.module_moved("qbwc_spyne.a", "qbwc_spyne.b")


#: Names of qbwc_spyne.exceptions raised only by the fake QuickBooks, now in testing.
TESTING_EXCEPTIONS = ["CompanyDataError", "InvalidAnswerError", "QuickBooksUnavailable"]


class TestExceptions:
    @pytest.mark.parametrize("name", TESTING_EXCEPTIONS)
    def test_a_fake_quickbooks_exception_still_imports_from_exceptions(self, name):
        """The old name gives the testing kit's class, with one warning naming it."""
        import qbwc_spyne.testing

        match = (
            rf"qbwc_spyne\.exceptions\.{name} is deprecated:"
            rf" use qbwc_spyne\.testing\.{name} instead"
        )
        namespace: dict[str, object] = {}
        with pytest.warns(DeprecationWarning, match=match) as caught:
            exec(f"from qbwc_spyne.exceptions import {name} as old", namespace)
        assert len(caught) == 1
        assert namespace["old"] is getattr(qbwc_spyne.testing, name)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert getattr(qbwc_spyne.exceptions, name) is getattr(qbwc_spyne.testing, name)

    @pytest.mark.parametrize("name", TESTING_EXCEPTIONS)
    def test_a_fake_quickbooks_exception_is_still_a_qbwc_error(self, name):
        """``except QBWCError`` catches them as before they moved."""
        import qbwc_spyne.testing

        assert issubclass(getattr(qbwc_spyne.testing, name), QBWCError)

    def test_company_data_error_keeps_both_its_bases(self):
        from qbwc_spyne.testing import CompanyDataError

        assert issubclass(CompanyDataError, ConfigurationError)
        assert issubclass(CompanyDataError, ValueError)

    def test_the_moved_names_are_not_in_all(self):
        """``from qbwc_spyne.exceptions import *`` gives no deprecated name."""
        assert not set(TESTING_EXCEPTIONS) & set(qbwc_spyne.exceptions.__all__)

    def test_live_expired_still_imports_from_exceptions(self):
        """The queue's control flow is private; its old public name still gives the class."""
        from qbwc_spyne.queue import _live

        with pytest.warns(
            DeprecationWarning, match=r"exceptions\.LiveExpired is deprecated: use .*LiveError"
        ):
            old = qbwc_spyne.exceptions.LiveExpired
        assert old is _live.LiveExpired
        assert issubclass(old, qbwc_spyne.exceptions.LiveError)


class TestCodes:
    def test_errors_gives_the_catalogue_of_codes(self, monkeypatch):
        """qbwc_spyne.errors holds the very objects of qbwc_spyne.codes."""
        import qbwc_spyne.codes

        monkeypatch.delitem(sys.modules, "qbwc_spyne.errors", raising=False)
        with pytest.warns(DeprecationWarning, match="qbwc_spyne.errors"):
            import qbwc_spyne.errors

        assert qbwc_spyne.errors.__all__ == qbwc_spyne.codes.__all__
        for name in qbwc_spyne.codes.__all__:
            assert getattr(qbwc_spyne.errors, name) is getattr(qbwc_spyne.codes, name)

    def test_importing_errors_warns_once_naming_codes(self, monkeypatch):
        monkeypatch.delitem(sys.modules, "qbwc_spyne.errors", raising=False)
        monkeypatch.delattr(qbwc_spyne, "errors", raising=False)
        match = r"^qbwc_spyne\.errors is deprecated: use qbwc_spyne\.codes instead"
        with pytest.warns(DeprecationWarning, match=match) as caught:
            errors = importlib.import_module("qbwc_spyne.errors")
        assert len(caught) == 1
        assert errors.explain is importlib.import_module("qbwc_spyne.codes").explain


def public_names() -> list[str]:
    lines = PUBLIC_NAMES.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def resolve(dotted: str) -> object:
    """The object a dotted path names: its longest importable module, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            value = getattr(value, attribute)
        return value
    raise ImportError(dotted)


#: What _deprecation says of an old name: "<old> is deprecated: use <new>[, why] instead (...)".
#: A name that became private has no new place: the warning names the public
#: class to use instead, with why (``exceptions.LiveExpired``: its base).
DEPRECATED = re.compile(r"(?P<old>[\w.]+) is deprecated: use (?P<new>[\w.]+)(?P<why>, .+)? instead")


# Some names move in the same release as others here (top-level names to
# submodules, store and server modules): each must still import, as itself or
# as a deprecated alias, once all of that release's moves are in.
@pytest.mark.parametrize("public", public_names())
def test_every_public_name_of_0_2_still_imports(public):
    """Each name imports as itself, or with a warning naming where the same object went."""
    module_name, _, name = public.partition(":")
    namespace: dict[str, object] = {}
    with warnings.catch_warnings(record=True) as caught:
        # Only the package's own deprecations are let through, and recorded;
        # any other warning stays an error, as the suite's settings make it.
        warnings.filterwarnings("always", category=DeprecationWarning, message="qbwc_spyne")
        module = importlib.import_module(module_name)
        value = getattr(module, name)
        exec(f"from {module_name} import {name}", namespace)
    assert namespace[name] is value
    for warning in caught:
        said = DEPRECATED.match(str(warning.message))
        assert said, warning.message
        if said["old"] == f"{module_name}.{name}" and said["why"]:
            assert issubclass(value, resolve(said["new"])), warning.message  # type: ignore[arg-type]
        elif said["old"] == f"{module_name}.{name}":
            assert resolve(said["new"]) is value, warning.message


class TestTheFrontDoor:
    def test_an_old_top_level_name_warns_at_the_users_line(self):
        """The warning names the line that used the old name: the default filters show it."""
        with pytest.warns(
            DeprecationWarning, match=r"qbwc_spyne\.retry_job .*jobs\.retry_job"
        ) as caught:
            qbwc_spyne.retry_job  # noqa: B018
        assert caught[0].filename == __file__

    def test_the_names_loaded_on_first_use_are_listed_and_do_not_warn(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            names = dir(qbwc_spyne)
            assert {"QBWCServer", "make_app", "make_wsgi_app"} <= set(names)
            assert qbwc_spyne.make_app is importlib.import_module("qbwc_spyne.app").make_app


def test_the_fakes_exceptions_and_the_fake_need_no_extra():
    """Without zeep the old names and the fake QuickBooks import; the simulator does not."""
    code = """
import sys, warnings
sys.modules["zeep"] = None  # as on an install without the testing extra
warnings.simplefilter("ignore", DeprecationWarning)
from qbwc_spyne.exceptions import CompanyDataError
from qbwc_spyne.testing import CompanyDataError as same, FakeQuickBooks
assert CompanyDataError is same and FakeQuickBooks().company_file
try:
    from qbwc_spyne.testing import WebConnector
except ImportError:
    print("the simulator needs zeep")
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "the simulator needs zeep\n"
