"""The package's layers keep to their import rules, read from the source with ast.

Each rule is checked on the package as it is, and on a copy of its sources
with one forbidden import planted, where it must report that import. An
import of ``qbwc_spyne.a.b`` counts as a dependency on that module only (not
on the packages above it, whose ``__init__`` runs too): the rules are about
what each module's own code relies on. The cycle rules alone leave out the
imports under ``if TYPE_CHECKING:``, which never run (the layer rules count
them: naming an outer layer's type is relying on it), and the one about
importing (:func:`runtime_cycles`) alone follows those ``__init__``
modules, because at run time they do run.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

import qbwc_spyne

from .helpers import PUBLIC_MODULES

PACKAGE_DIR = Path(qbwc_spyne.__file__).resolve().parent
EXAMPLES_DIR = PACKAGE_DIR.parent / "examples"
PACKAGE = "qbwc_spyne"

#: Third-party and standard modules that mean "a database" or "a web server".
DATABASES = ("sqlite3", "sqlalchemy", "psycopg", "psycopg2")
SERVERS = ("spyne", "werkzeug")


@dataclass(frozen=True)
class Source:
    """One module's text, and whether it is a package's ``__init__``."""

    text: str
    is_package: bool


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to an absolute dotted name."""

    importer: str
    target: str
    line: int
    in_function: bool
    type_checking: bool = False

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.target}"


def read_sources(directory: Path, package: str) -> dict[str, Source]:
    """Every module under ``directory``, keyed by dotted name under ``package``."""
    sources = {}
    for path in sorted(directory.rglob("*.py")):
        parts = [package, *path.relative_to(directory).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        sources[name] = Source(path.read_text(encoding="utf-8"), is_package)
    return sources


def _targets(
    node: ast.Import | ast.ImportFrom, importer: str, source: Source, modules: frozenset[str]
) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = importer if source.is_package else importer.rpartition(".")[0]
        parts = package.split(".")
        base = ".".join(parts[: len(parts) - (node.level - 1)])
        module = f"{base}.{node.module}" if node.module else base
    else:
        module = node.module or ""
    # `from package import module` depends on the module; `from module import name` on it.
    return [
        f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
        for alias in node.names
    ]


def _is_type_checking(node: ast.AST) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@functools.cache
def imports_of(name: str, source: Source, modules: frozenset[str]) -> tuple[Import, ...]:
    """Every import in a module, relative ones resolved, noting those inside functions.

    Imports in the body of ``if TYPE_CHECKING:`` are noted as such (its
    ``else:`` runs). Cached: each test plants one line in one module and
    reads the others again.
    """
    found = []

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, name, source, modules):
                    found.append(Import(name, target, child.lineno, in_function, type_checking))
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if _is_type_checking(child):
                assert isinstance(child, ast.If)
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), inner, True)
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), inner, type_checking)
            else:
                visit(child, inner, type_checking)

    visit(ast.parse(source.text), False, False)
    return tuple(found)


class Graph:
    """The package's imports, module by module."""

    def __init__(self, sources: dict[str, Source]) -> None:
        modules = frozenset(sources)
        self.modules = modules
        self.imports = {name: imports_of(name, src, modules) for name, src in sources.items()}

    def module_of(self, target: str) -> str | None:
        """The package module a dotted target names (``pkg.mod.Name`` -> ``pkg.mod``)."""
        while target and target not in self.modules:
            target = target.rpartition(".")[0]
        return target or None

    def reachable(self, starts: Iterable[str]) -> set[str]:
        """The modules ``starts`` import, directly or through others, ``starts`` included."""
        seen: set[str] = set()
        todo = list(starts)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for imp in self.imports[name]:
                module = self.module_of(imp.target)
                if module is not None:
                    todo.append(module)
        return seen

    def in_folder(self, folder: str) -> list[str]:
        """The modules of one subpackage, its ``__init__`` included."""
        prefix = f"{PACKAGE}.{folder}"
        return sorted(m for m in self.modules if m == prefix or m.startswith(prefix + "."))


def under(target: str, roots: Iterable[str]) -> bool:
    """Whether a dotted name is one of ``roots`` or inside one of them."""
    return any(target == root or target.startswith(root + ".") for root in roots)


# -- the rules: each returns the imports that break it ---------------------------------------

#: The modules every layer may use: they import only the standard library,
#: lxml and each other.
FOUNDATION = frozenset(
    f"{PACKAGE}.{name}" for name in ("_xml", "codes", "exceptions", "_deprecation")
)


def protocol_violations(graph: Graph) -> list[str]:
    """Imports by which protocol/ (directly or through others) leaves itself and the foundation.

    The protocol layer owns its ports and events: any other module of the
    package it reached (the public ``events`` module, the store's
    interfaces, a backend) would be an outer layer. A server or a database
    module is refused outright, wherever on the way it is imported.
    """
    own = graph.in_folder("protocol")
    allowed = FOUNDATION | set(own)
    found = []
    for name in sorted(graph.reachable(own)):
        for imp in graph.imports[name]:
            module = graph.module_of(imp.target)
            if module is not None:
                bad = module not in allowed
            else:
                bad = under(imp.target, DATABASES + SERVERS)
            if bad:
                found.append(str(imp))
    return found


#: Where the job model lives: status counts a user's jobs by their state.
JOB_MODEL = frozenset({f"{PACKAGE}.queue._ports"})


def status_violations(graph: Graph) -> list[str]:
    """Imports by which the status model or recorder reach past the protocol and the job model.

    ``status/_model`` and ``status/_recorder`` are what every status store
    implements and what the protocol core's observer does: they may use
    protocol/, the foundation modules and the job model, never a server,
    the dashboard, the command line, the testing kit, the queue's
    machinery or a storage backend (the stores implement the model, not
    the other way round). The package's ``__init__`` is the public door and
    serves the stores too, so it is not held to the rule.
    """
    own = [m for m in graph.in_folder("status") if m != f"{PACKAGE}.status"]
    allowed = FOUNDATION | JOB_MODEL | set(own) | set(graph.in_folder("protocol"))
    found = []
    for name in sorted(graph.reachable(own)):
        for imp in graph.imports[name]:
            module = graph.module_of(imp.target)
            if module is not None:
                bad = module not in allowed
            else:
                bad = under(imp.target, DATABASES + SERVERS)
            if bad:
                found.append(str(imp))
    return found


def queue_violations(graph: Graph) -> list[str]:
    """Imports by which queue/ (directly or through others) reaches storage.

    The queue owns its ports (``queue/_ports.py``); ``store/`` implements
    them, so nothing the queue reaches may import ``store/`` at all.
    """
    reached = graph.reachable(graph.in_folder("queue"))
    found = []
    for name in sorted(reached):
        for imp in graph.imports[name]:
            module = graph.module_of(imp.target)
            if module is not None:
                bad = under(module, [f"{PACKAGE}.store"])
            else:
                bad = under(imp.target, DATABASES)
            if bad:
                found.append(str(imp))
    return found


def kit_violations(graph: Graph) -> list[str]:
    """Imports of testing/ from outside it, other than cli/'s inside a function."""
    testing, cli = f"{PACKAGE}.testing", f"{PACKAGE}.cli"
    return [
        str(imp)
        for name in sorted(graph.modules)
        if not under(name, [testing])
        for imp in graph.imports[name]
        if under(imp.target, [testing]) and not (under(name, [cli]) and imp.in_function)
    ]


def spyne_violations(graph: Graph) -> list[str]:
    """Imports of spyne from outside server/."""
    server = f"{PACKAGE}.server"
    return [
        str(imp)
        for name in sorted(graph.modules)
        if not under(name, [server])
        for imp in graph.imports[name]
        if under(imp.target, ["spyne"])
    ]


ERRORS = f"{PACKAGE}.codes"


def errors_violations(graph: Graph) -> list[str]:
    """Imports of the error catalogue that are not of the standard library.

    Every layer, protocol/ included, may use the catalogue, so it must pull
    in nothing that a layer's rule forbids.
    """
    return [
        str(imp)
        for imp in graph.imports[ERRORS]
        if imp.target.partition(".")[0] not in sys.stdlib_module_names
    ]


def dashboard_violations(graph: Graph) -> list[str]:
    """Imports by which dashboard/ reaches spyne, server/, testing/ or cli/, or a database itself.

    The dashboard is mounted beside any endpoint and reads what it is handed
    (a queue, a status store): it serves through werkzeug alone, and its own
    code speaks to no database.
    """
    own = graph.in_folder("dashboard")
    banned = [f"{PACKAGE}.{f}" for f in ("server", "testing", "cli")]
    found = []
    for name in sorted(graph.reachable(own)):
        for imp in graph.imports[name]:
            module = graph.module_of(imp.target)
            if module is not None:
                bad = under(module, banned)
            else:
                bad = under(imp.target, ["spyne"]) or (name in own and under(imp.target, DATABASES))
            if bad:
                found.append(str(imp))
    return found


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of modules that import each other (Tarjan's SCC).

    Each cycle is a list of modules, the first repeated at the end, so a
    failure reads as the path the imports take.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        # Recursive: the package's import chains are far shorter than the recursion limit.
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            connect(node)

    cycles = []
    for group in sorted(groups):
        members, start = set(group), group[0]
        # The shortest way back to the start, within the group (breadth first).
        came_from: dict[str, str] = {}
        todo, end = [start], None
        while todo and end is None:
            node = todo.pop(0)
            for other in sorted(edges.get(node, ())):
                if other == start:
                    end = node
                    break
                if other in members and other not in came_from:
                    came_from[other] = node
                    todo.append(other)
        path = [start]
        node = end if end is not None else start
        while node != start:
            path.insert(1, node)
            node = came_from[node]
        cycles.append([*path, start])
    return cycles


def module_cycles(graph: Graph) -> list[str]:
    """Cycles of modules that rely on each other, through any import, inside functions too.

    An import inside a function cannot fail for a module half made, but it
    is still a dependency: two modules that need each other are one module
    in two files, and neither can be read, tested or moved alone. So every
    import that runs counts here, as it would to a reader; only those under
    ``if TYPE_CHECKING:`` (never run) do not. An import is of the module it
    names, not of the packages above it (see :func:`runtime_cycles`).
    """
    edges: dict[str, set[str]] = {name: set() for name in graph.modules}
    for name in graph.modules:
        for imp in graph.imports[name]:
            module = graph.module_of(imp.target)
            if module is not None and not imp.type_checking:
                edges[name].add(module)
    return [" -> ".join(cycle) for cycle in _cycles(edges)]


def runtime_cycles(graph: Graph) -> list[str]:
    """Cycles that importing the package runs into: top-level imports, parent packages too.

    Importing ``qbwc_spyne.a.b`` first runs ``qbwc_spyne/a/__init__.py``: a
    module that imports ``a.b`` also imports ``a``, and an ``a/__init__``
    that imports that module back finds it half made (``cannot import
    name``), in whichever order the two happen to be imported first. Only
    imports at a module's top level run while it is being made, so only
    those count here; the root package (which every import runs first) and
    the packages holding the importer (already made, or being made by the
    very import that got here) are not counted as implied imports.
    """
    edges: dict[str, set[str]] = {name: set() for name in graph.modules}
    for name in graph.modules:
        for imp in graph.imports[name]:
            module = graph.module_of(imp.target)
            if module is None or imp.in_function or imp.type_checking:
                continue
            edges[name].add(module)
            parts = module.split(".")
            for depth in range(2, len(parts)):
                package = ".".join(parts[:depth])
                if package in graph.modules and not under(name, [package]):
                    edges[name].add(package)
    return [" -> ".join(cycle) for cycle in _cycles(edges)]


OBJECTS_MACHINERY = f"{PACKAGE}.qbxml._objects"
#: What the typed objects' machinery may use besides the standard library.
OBJECTS_MACHINERY_ALLOWED = FOUNDATION | {f"{PACKAGE}.qbxml._schema"}
#: Third-party modules it may use: msgspec builds the classes; lxml is the foundation's.
OBJECTS_THIRD_PARTY = ("msgspec", "lxml")


def _is_stdlib(target: str) -> bool:
    return target.partition(".")[0] in sys.stdlib_module_names or target == "__future__"


def objects_violations(graph: Graph) -> list[str]:
    """Imports by which the typed objects reach past their machinery.

    ``objects/`` is generated: at run time its modules import only
    ``qbxml._objects`` (and the standard library), so loading one family
    never loads another (the classes they name from each other are under
    ``if TYPE_CHECKING:``). ``qbxml/_objects.py`` itself, which every class
    reads and writes through, uses only the foundation, the schema tables
    and msgspec: the rest of the package may use the objects, never the
    other way round.
    """
    found = []
    for name in graph.in_folder("objects"):
        for imp in graph.imports[name]:
            if imp.type_checking:
                continue
            module = graph.module_of(imp.target)
            bad = module != OBJECTS_MACHINERY if module is not None else not _is_stdlib(imp.target)
            if bad:
                found.append(str(imp))
    for imp in graph.imports.get(OBJECTS_MACHINERY, ()):
        module = graph.module_of(imp.target)
        if module is not None:
            bad = module not in OBJECTS_MACHINERY_ALLOWED
        else:
            bad = not (_is_stdlib(imp.target) or under(imp.target, OBJECTS_THIRD_PARTY))
        if bad:
            found.append(str(imp))
    return found


RULES = {
    "objects": objects_violations,
    "protocol": protocol_violations,
    "status": status_violations,
    "module cycles": module_cycles,
    "runtime cycles": runtime_cycles,
    "dashboard": dashboard_violations,
    "errors": errors_violations,
    "queue": queue_violations,
    "testing": kit_violations,
    "spyne": spyne_violations,
}


@pytest.fixture(scope="module")
def sources() -> dict[str, Source]:
    return read_sources(PACKAGE_DIR, PACKAGE)


def planted(sources: dict[str, Source], module: str, line: str) -> Graph:
    """The package's graph with ``line`` added to ``module``'s source."""
    changed = dict(sources)
    old = changed[module]
    changed[module] = Source(f"{old.text}\n{line}\n", old.is_package)
    return Graph(changed)


class TestTheGraph:
    def test_relative_imports_resolve_to_the_modules_they_name(self, sources):
        """The graph holds known edges, so a rule cannot pass by seeing no imports."""
        graph = Graph(sources)
        targets = {name: {i.target for i in graph.imports[name]} for name in graph.modules}
        assert "qbwc_spyne.protocol._ports" in targets["qbwc_spyne.protocol._core"]
        assert "qbwc_spyne.protocol._events" in targets["qbwc_spyne.protocol._core"]
        assert "qbwc_spyne.protocol._events" in targets["qbwc_spyne.events"]
        assert "qbwc_spyne.protocol._session" in targets["qbwc_spyne.store._stores"]
        assert "qbwc_spyne.status._model" in targets["qbwc_spyne.store._status"]
        assert "qbwc_spyne.status._model" in targets["qbwc_spyne.status._recorder"]
        assert "qbwc_spyne.qbxml._qbxml_schema" in targets["qbwc_spyne.qbxml._schema"]
        assert "qbwc_spyne.server._spyne_compat" in targets["qbwc_spyne"]
        assert "spyne" in targets["qbwc_spyne.server._soap"]

    def test_an_import_inside_a_function_is_told_from_one_at_the_top(self, sources):
        """cli/ imports testing/ only inside functions, and the graph sees where."""
        graph = Graph(sources)
        testing = [
            i
            for i in graph.imports["qbwc_spyne.cli._simulate"]
            if under(i.target, ["qbwc_spyne.testing"])
        ]
        assert testing and all(i.in_function for i in testing)
        assert not any(i.in_function for i in graph.imports["qbwc_spyne.protocol._core"])

    def test_an_import_for_type_checking_is_told_from_one_that_runs(self, sources):
        """The status package's door names its stores for mypy only (it serves them on use)."""
        graph = Graph(sources)
        stores = [
            i for i in graph.imports["qbwc_spyne.status"] if i.target == "qbwc_spyne.store._status"
        ]
        assert {(i.type_checking, i.in_function) for i in stores} == {(True, False)}
        assert not any(i.type_checking for i in graph.imports["qbwc_spyne.status._model"])

    def test_every_layer_folder_exists(self, sources):
        """The folders the rules name are there (a rule on a missing folder checks nothing)."""
        graph = Graph(sources)
        folders = (
            "protocol",
            "server",
            "store",
            "queue",
            "qbxml",
            "testing",
            "cli",
            "dashboard",
            "status",
            "objects",
        )
        for folder in folders:
            assert len(graph.in_folder(folder)) >= 2, folder


class TestProtocol:
    def test_protocol_imports_nothing_outside_itself_but_the_foundation(self, sources):
        """protocol/ reaches only itself, _xml, the code catalogue, exceptions and _deprecation."""
        assert protocol_violations(Graph(sources)) == []

    @pytest.mark.parametrize(
        ("module", "line"),
        [
            ("qbwc_spyne.protocol._core", "from ..store._stores import SQLSessionStore"),
            ("qbwc_spyne.protocol._core", "from ..stores import SessionStore"),
            ("qbwc_spyne.protocol._core", "from ..server import _server"),
            ("qbwc_spyne.protocol._handler", "from ..queue._handler import QueueHandler"),
            ("qbwc_spyne.protocol._handler", "from ..events import ErrorEvent"),
            ("qbwc_spyne.protocol._calls", "from .. import status"),
            ("qbwc_spyne.protocol._session", "import sqlite3"),
            ("qbwc_spyne.protocol._ports", "def f():\n    from ..status import _model"),
            ("qbwc_spyne.protocol._events", "from werkzeug import Request"),
            ("qbwc_spyne._xml", "import spyne"),
            ("qbwc_spyne.exceptions", "from .store import _sql"),
            ("qbwc_spyne.codes", "from .qbxml import _schema"),
        ],
    )
    def test_a_forbidden_import_is_reported(self, sources, module, line):
        """An import of an outer layer, a server or a database, in protocol/ or a module it
        imports, breaks the rule."""
        violations = protocol_violations(planted(sources, module, line))
        assert any(v.startswith(f"{module}:") for v in violations), violations


class TestObjects:
    def test_the_objects_import_only_their_machinery_and_it_only_the_schema(self, sources):
        """objects/ imports only qbxml._objects at run time; qbxml._objects only the
        foundation, the schema tables, msgspec and lxml."""
        graph = Graph(sources)
        assert len(graph.in_folder("objects")) > 100
        assert objects_violations(graph) == []

    @pytest.mark.parametrize(
        ("module", "line"),
        [
            ("qbwc_spyne.objects._customer", "from ._common import BillAddress"),
            ("qbwc_spyne.objects._customer", "from ..qbxml import _schema"),
            ("qbwc_spyne.objects", "import msgspec"),
            ("qbwc_spyne.objects._invoice", "def f():\n    from ..queue import _kinds"),
            ("qbwc_spyne.qbxml._objects", "from ..queue._kinds import JobKind"),
            ("qbwc_spyne.qbxml._objects", "def f():\n    from .. import qbxml"),
            ("qbwc_spyne.qbxml._objects", "import sqlalchemy"),
            ("qbwc_spyne.qbxml._objects", "from ..objects import CustomerRet"),
        ],
    )
    def test_a_forbidden_import_is_reported(self, sources, module, line):
        """A family importing another (or anything but the machinery) at run time, or the
        machinery importing beyond the schema and the foundation, breaks the rule."""
        violations = objects_violations(planted(sources, module, line))
        assert any(v.startswith(f"{module}:") for v in violations), violations

    def test_a_family_naming_another_for_type_checking_only_keeps_the_rule(self, sources):
        """The generated ``if TYPE_CHECKING:`` imports between families are allowed."""
        line = (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from ._invoice import InvoiceRet"
        )
        assert objects_violations(planted(sources, "qbwc_spyne.objects._customer", line)) == []


class TestStatus:
    def test_the_status_model_and_recorder_reach_no_store_server_or_queue(self, sources):
        """status/ (its door aside) reaches only protocol/, the foundation and the job model."""
        assert status_violations(Graph(sources)) == []

    @pytest.mark.parametrize(
        ("module", "line"),
        [
            ("qbwc_spyne.status._model", "from ..store._status import SQLStatusStore"),
            ("qbwc_spyne.status._model", "from ..store import _sql"),
            ("qbwc_spyne.status._recorder", "import sqlalchemy"),
            ("qbwc_spyne.status._recorder", "from ..server import _server"),
            ("qbwc_spyne.status._recorder", "def f():\n    from ..queue._live import LiveClient"),
            ("qbwc_spyne.status._model", "from ..dashboard import _app"),
            ("qbwc_spyne.protocol._calls", "from ..cli import _cli"),
        ],
    )
    def test_a_forbidden_import_is_reported(self, sources, module, line):
        """A store, server, queue, dashboard or database reached from the model or recorder,
        even through protocol/, breaks the rule."""
        violations = status_violations(planted(sources, module, line))
        assert any(v.startswith(f"{module}:") for v in violations), violations


def in_cycle(members: Iterable[str], cycle: str) -> bool:
    """Whether a reported cycle (``a -> b -> a``) goes through every one of ``members``."""
    return set(members) <= set(cycle.split(" -> "))


class TestCycles:
    def test_no_modules_import_each_other(self, sources):
        """No chain of imports, at the top or inside functions, leads back to where it began."""
        found = module_cycles(Graph(sources))
        assert found == [], "import cycles:\n" + "\n".join(found)

    def test_importing_runs_into_no_cycle(self, sources):
        """No chain of top-level imports, parent packages included, leads back to where it began."""
        found = runtime_cycles(Graph(sources))
        assert found == [], "import cycles:\n" + "\n".join(found)

    @pytest.mark.parametrize(
        ("module", "line", "members"),
        [
            (
                "qbwc_spyne.protocol._session",
                "from . import _core",
                ["qbwc_spyne.protocol._core", "qbwc_spyne.protocol._session"],
            ),
            (
                "qbwc_spyne._xml",
                "def f():\n    from .protocol import _core",
                ["qbwc_spyne._xml", "qbwc_spyne.protocol._core"],
            ),
            (
                "qbwc_spyne.protocol._session",
                "from ..store._stores import SQLSessionStore",
                ["qbwc_spyne.protocol._session", "qbwc_spyne.store._stores"],
            ),
        ],
    )
    def test_a_planted_cycle_is_reported_as_its_path(self, sources, module, line, members):
        """Two modules made to import each other (inside a function too) break the rule, and
        the failure names the way round."""
        assert any(
            in_cycle(members, found) for found in module_cycles(planted(sources, module, line))
        )

    def test_a_package_that_imports_what_imports_it_is_a_cycle(self, sources):
        """status/'s door importing its stores at the top: the stores' module imports the
        status model, which runs that door first, which finds the stores' module half made."""
        graph = planted(sources, "qbwc_spyne.status", "from ..store._status import SQLStatusStore")
        assert module_cycles(graph) == module_cycles(Graph(sources))  # no module needs itself
        assert runtime_cycles(graph) == [
            "qbwc_spyne.status -> qbwc_spyne.store._status -> qbwc_spyne.status"
        ]

    def test_imports_inside_functions_and_for_type_checking_make_no_runtime_cycle(self, sources):
        """The lazy imports the cycle at run time does not see (the module rule does)."""
        lines = (
            "def f():\n    from . import _core\n"
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import _handler"
        )
        graph = planted(sources, "qbwc_spyne.protocol._session", lines)
        assert runtime_cycles(graph) == runtime_cycles(Graph(sources))
        members = ["qbwc_spyne.protocol._core", "qbwc_spyne.protocol._session"]
        assert any(in_cycle(members, found) for found in module_cycles(graph))
        assert not any(in_cycle(["qbwc_spyne.protocol._handler"], c) for c in module_cycles(graph))


class TestErrors:
    def test_the_error_catalogue_imports_only_the_standard_library(self, sources):
        """qbwc_spyne.codes imports nothing but the standard library, so protocol/ may use it."""
        assert errors_violations(Graph(sources)) == []

    @pytest.mark.parametrize(
        "line", ["from . import exceptions", "from .queue import _jobs", "import lxml.etree"]
    )
    def test_a_forbidden_import_is_reported(self, sources, line):
        """An import of the package or of a third-party module breaks the rule."""
        violations = errors_violations(planted(sources, ERRORS, line))
        assert any(v.startswith(f"{ERRORS}:") for v in violations), violations


class TestDashboard:
    def test_the_dashboard_reaches_no_soap_server_kit_or_database(self, sources):
        """dashboard/ serves with werkzeug alone and reads only what it is handed."""
        assert dashboard_violations(Graph(sources)) == []

    @pytest.mark.parametrize(
        ("module", "line"),
        [
            ("qbwc_spyne.dashboard._app", "import spyne"),
            ("qbwc_spyne.dashboard._app", "from ..server._app import make_wsgi_app"),
            ("qbwc_spyne.dashboard._auth", "from ..testing import FakeQuickBooks"),
            ("qbwc_spyne.dashboard", "def f():\n    from ..cli import _cli"),
            ("qbwc_spyne.dashboard._app", "import sqlalchemy"),
            ("qbwc_spyne.queue._operator", "from spyne import Application"),
        ],
    )
    def test_a_forbidden_import_is_reported(self, sources, module, line):
        """spyne, server/, testing/ or cli/ reached, or a database imported, breaks the rule."""
        violations = dashboard_violations(planted(sources, module, line))
        assert any(v.startswith(f"{module}:") for v in violations), violations


class TestQueue:
    def test_the_queue_reaches_no_storage(self, sources):
        """queue/ reaches no store module and no database module, directly or not."""
        assert queue_violations(Graph(sources)) == []

    @pytest.mark.parametrize(
        ("module", "line"),
        [
            ("qbwc_spyne.queue._handler", "from ..store._queue import SQLJobQueue"),
            ("qbwc_spyne.queue._ports", "from ..store import _stores"),
            ("qbwc_spyne.queue._handler", "import sqlite3"),
            ("qbwc_spyne.qbxml", "import sqlalchemy"),
        ],
    )
    def test_a_forbidden_import_is_reported(self, sources, module, line):
        """A backend or database import in queue/, or in a module it imports, breaks the rule."""
        violations = queue_violations(planted(sources, module, line))
        assert any(v.startswith(f"{module}:") for v in violations), violations


class TestTestingKit:
    def test_only_the_command_line_imports_the_testing_kit_and_only_when_run(self, sources):
        """Nothing imports testing/ but cli/, and cli/ only inside the commands that need it."""
        assert kit_violations(Graph(sources)) == []

    @pytest.mark.parametrize(
        ("module", "line"),
        [
            ("qbwc_spyne.server._server", "from ..testing import FakeQuickBooks"),
            ("qbwc_spyne", "from . import testing"),
            ("qbwc_spyne.queue._handler", "from ..testing._fakeqb import FakeQuickBooks"),
            ("qbwc_spyne.cli._cli", "from ..testing import WebConnector"),
        ],
    )
    def test_a_forbidden_import_is_reported(self, sources, module, line):
        """An import of testing/ elsewhere, or at the top of cli/, breaks the rule."""
        violations = kit_violations(planted(sources, module, line))
        assert any(v.startswith(f"{module}:") for v in violations), violations


class TestSpyne:
    def test_only_the_server_imports_spyne(self, sources):
        """server/ is the only part of the package that imports spyne."""
        assert spyne_violations(Graph(sources)) == []

    @pytest.mark.parametrize(
        ("module", "line"),
        [
            ("qbwc_spyne.protocol._core", "import spyne"),
            ("qbwc_spyne.qwc", "from spyne.model.fault import Fault"),
            ("qbwc_spyne.status", "def f():\n    from spyne import Application"),
        ],
    )
    def test_a_forbidden_import_is_reported(self, sources, module, line):
        """An import of spyne outside server/, even inside a function, breaks the rule."""
        violations = spyne_violations(planted(sources, module, line))
        assert any(v.startswith(f"{module}:") for v in violations), violations


def example_violations(examples: dict[str, Source], graph: Graph) -> list[str]:
    """Imports of the package's private modules by the examples."""
    found = []
    for name, source in sorted(examples.items()):
        for imp in imports_of(name, source, graph.modules):
            module = graph.module_of(imp.target)
            if module is not None and module not in PUBLIC_MODULES:
                found.append(str(imp))
    return found


class TestExamples:
    def test_the_examples_use_only_public_modules(self, sources):
        """examples/ imports only the public modules, as an application would."""
        examples = read_sources(EXAMPLES_DIR, "examples")
        assert example_violations(examples, Graph(sources)) == []

    @pytest.mark.parametrize(
        "line",
        ["from qbwc_spyne.store._queue import SQLJobQueue", "import qbwc_spyne.protocol._core"],
    )
    def test_a_private_import_is_reported(self, sources, line):
        """An example importing a private module breaks the rule."""
        examples = read_sources(EXAMPLES_DIR, "examples")
        old = examples["examples.demo"]
        examples["examples.demo"] = Source(f"{old.text}\n{line}\n", False)
        violations = example_violations(examples, Graph(sources))
        assert any(v.startswith("examples.demo:") for v in violations), violations
