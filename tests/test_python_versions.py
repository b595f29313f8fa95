"""What Python 3.12 and 3.13 need: spyne's six served from six, and no connection left open."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import sqlite3
import subprocess
import sys
import types

import pytest
import six

from qbwc_spyne import MemoryJobQueue, SQLJobQueue, SQLSessionStore
from qbwc_spyne.server import _spyne_compat
from qbwc_spyne.server._spyne_compat import VendoredSixFinder


def finders() -> list[VendoredSixFinder]:
    return [finder for finder in sys.meta_path if isinstance(finder, VendoredSixFinder)]


class TestVendoredSixFinder:
    @pytest.mark.parametrize(
        "name",
        [
            "spyne.util.six",
            "spyne.util.six.moves",
            "spyne.util.six.moves.collections_abc",
            "spyne.util.six.moves.urllib",
            "spyne.util.six.moves.urllib.parse",
            "spyne.util.six.moves.http_cookies",
        ],
    )
    def test_serves_the_vendored_names(self, name):
        """Each name spyne imports from its copy of six is found by the finder."""
        spec = VendoredSixFinder().find_spec(name, None)
        assert spec is not None and spec.name == name

    @pytest.mark.parametrize(
        "name",
        [
            "six",
            "six.moves",
            "spyne",
            "spyne.util",
            "spyne.util.oset",
            "spyne.util.sixty",
            "spyne.util.six_extra",
            "spyne.util.six.moves.no_such_module",
            "spyne.util.six.no_such_module",
        ],
    )
    def test_leaves_every_other_name_alone(self, name):
        """Other names, and names six does not have, are left to the other finders."""
        assert VendoredSixFinder().find_spec(name, None) is None

    def test_is_first_on_the_meta_path_once_the_package_is_imported(self):
        """Importing qbwc_spyne puts one finder ahead of the path finder."""
        assert sys.meta_path.index(finders()[0]) == 0
        assert len(finders()) == 1

    def test_installing_twice_adds_nothing(self):
        """install() again leaves exactly one finder."""
        _spyne_compat.install()
        _spyne_compat.install()
        assert len(finders()) == 1

    def test_spyne_imports_its_six_from_six(self):
        """spyne's six names are six's modules, and the vendored file never runs."""
        import spyne  # noqa: F401 (spyne imports its six)

        served = sys.modules["spyne.util.six"]
        assert served.moves is six.moves
        assert sys.modules["spyne.util.six.moves"] is six.moves
        assert importlib.import_module("spyne.util.six.moves.urllib.parse").quote("a b") == "a%20b"
        assert served.string_types == six.string_types
        assert getattr(served, "__file__", None) is None

    def test_the_served_module_has_get_function_name(self):
        """spyne's copy adds get_function_name; the served module has it, six is unchanged."""
        import spyne.util.six as served

        def handler() -> None: ...

        assert served.get_function_name(handler) == "handler"
        assert not hasattr(six, "get_function_name")

    def test_six_keeps_its_own_module_specs(self):
        """Serving six.moves under spyne's name does not rename six.moves itself."""
        importlib.import_module("spyne.util.six.moves.urllib")
        assert six.moves.__spec__ is not None and six.moves.__spec__.name == "six.moves"
        assert importlib.util.find_spec("six.moves.urllib") is not None
        own = sys.modules["six.moves.urllib"].__spec__
        assert own is not None and own.name == "six.moves.urllib"

    def test_a_name_six_lacks_fails_as_usual(self):
        """A name under spyne.util.six.moves that six does not have is a ModuleNotFoundError."""
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("spyne.util.six.moves.no_such_module")

    def test_a_fresh_interpreter_serves_spyne_from_the_package_import(self):
        """In a new process, importing qbwc_spyne first makes spyne and the server import."""
        program = (
            "import sys, qbwc_spyne\n"
            "assert 'spyne' not in sys.modules\n"
            "from qbwc_spyne import make_wsgi_app\n"
            "from qbwc_spyne.server._spyne_compat import VendoredSixFinder\n"
            "assert type(sys.meta_path[0]) is VendoredSixFinder\n"
            "print(type(sys.modules['spyne.util.six'].__spec__.loader).__module__)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "qbwc_spyne.server._spyne_compat"


def driver(backend):
    """The sqlite3 connection a queue or store holds in this process."""
    with backend._db._lock:
        return backend._db._driver()


class TestDroppedBackendsClose:
    @pytest.mark.parametrize(
        "make",
        [lambda path: MemoryJobQueue(), lambda path: SQLSessionStore(path / "s.db")],
        ids=["memory queue", "sqlite session store"],
    )
    def test_a_dropped_backend_closes_its_connection(self, make, tmp_path):
        """A queue or store dropped unclosed closes its connection (3.13 warns otherwise)."""
        backend = make(tmp_path)
        connection = driver(backend)
        del backend
        gc.collect()
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            connection.execute("SELECT 1")

    def test_a_backend_dropped_in_a_cycle_closes_its_connection(self):
        """Even from a reference cycle, the connection is closed before it is collected."""
        queue = MemoryJobQueue()
        holder = types.SimpleNamespace(queue=queue)
        queue.holder = holder  # type: ignore[attr-defined]
        connection = driver(queue)
        del queue, holder
        gc.collect()
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            connection.execute("SELECT 1")

    def test_a_reopened_connection_is_closed_too(self, tmp_path):
        """After close() the next call reopens; dropping the backend closes that one."""
        queue = SQLJobQueue(tmp_path / "jobs.db")
        first = driver(queue)
        queue.close()
        assert queue.jobs() == []
        second = driver(queue)
        assert second is not first
        del queue
        gc.collect()
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            second.execute("SELECT 1")
