"""The distributions as an index would get them: built by the project's own build backend.

The sdist is built from a copy of this source tree, and the wheel from the
unpacked sdist, as pip builds it. The wheel holds the package and its
licence, without the development tools; the sdist holds what the tests need,
so they run from it.
"""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

#: What a checkout holds that is not source: never copied into the build.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".nox", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
    ".coverage*", ".hypothesis", "demo-data",
)  # fmt: skip


def unmet_build_requirement() -> str | None:
    """The build-system requirement this environment does not meet, if any."""
    for line in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(line)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            return line
        if not requirement.specifier.contains(installed, prereleases=True):
            return f"{line} (installed: {installed})"
    return None


def build(hook: str, source: Path, out: Path) -> Path:
    """Call the build backend's PEP 517 ``hook`` in ``source``; return the file it made."""
    unmet = unmet_build_requirement()
    if unmet is not None:
        pytest.fail(f"the build backend needs {unmet}: install the test extra")
    backend = PYPROJECT["build-system"]["build-backend"]
    out.mkdir()
    done = subprocess.run(
        [
            *(sys.executable, "-c"),
            f"import sys, {backend} as b; b.{hook}(sys.argv[1])",
            str(out),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (made,) = out.iterdir()
    return made


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist built from a copy of this tree, unpacked: its top folder."""
    work = tmp_path_factory.mktemp("sdist")
    shutil.copytree(ROOT, work / "source", ignore=NOT_SOURCE)
    archive = build("build_sdist", work / "source", work / "dist")
    with tarfile.open(archive) as tar:
        tar.extractall(work / "unpacked", filter="data")
    (top,) = (work / "unpacked").iterdir()
    return top


@pytest.fixture(scope="module")
def wheel(sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel built from the unpacked sdist, as pip builds one."""
    made = build("build_wheel", sdist, tmp_path_factory.mktemp("wheel") / "dist")
    with zipfile.ZipFile(made) as opened:
        yield opened


def test_the_wheel_ships_the_package_and_its_licence_without_the_code_generators(
    wheel: zipfile.ZipFile,
):
    """Only qbwc_spyne and its metadata: no codegen modules, no tools/, tests or benches;
    the licence file is in the metadata, named by it."""
    names = set(wheel.namelist())
    tops = {name.split("/")[0] for name in names}
    (info,) = (top for top in tops if top.endswith(".dist-info"))
    assert tops == {"qbwc_spyne", info}
    assert not [name for name in names if "codegen" in name]
    for shipped in (
        "qbwc_spyne/py.typed",
        "qbwc_spyne/server/QBWebConnectorSvc.wsdl",
        "qbwc_spyne/server/_service.py",
        "qbwc_spyne/dashboard/base.html",
    ):
        assert shipped in names
    assert wheel.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]


def test_the_sdist_ships_every_test_and_what_the_tests_read(sdist: Path):
    """The licence, every test module with its conftest, helpers and data, the examples,
    the WSDL, the benchmarks and the code generators the tests run."""
    for needed in (
        "LICENSE",
        "README.md",
        "noxfile.py",
        "tests/conftest.py",
        "tests/helpers.py",
        "tests/data/QBWebConnectorSvc.intuit-v1.wsdl",
        "examples/demo_company.json",
        "wsdl/QBWebConnectorSvc.wsdl",
        "bench/bench_hosts.py",
        "tools/codegen.py",
        "tools/codegen_schema.py",
        "tools/codegen_objects.py",
        "tools/codegen_docs.py",
        "mkdocs.yml",
        "docs/reference/api/index.md",
    ):
        assert (sdist / needed).is_file(), needed
    here = {p.relative_to(ROOT) for p in (ROOT / "tests").rglob("*") if p.is_file()}
    shipped = {p.relative_to(sdist) for p in (sdist / "tests").rglob("*") if p.is_file()}
    assert {p for p in here if "__pycache__" not in p.parts} <= shipped
    assert not [p for p in sdist.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]


def test_the_tests_collect_and_the_generators_check_from_the_sdist(sdist: Path):
    """pytest collects every test of the unpacked sdist without an error, and the code
    generators' ``--check`` passes on its files."""
    collected = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "--collect-only", "-q", "--no-cov"),
            "-p",
            "no:cacheprovider",
        ],
        cwd=sdist,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    files = {line.split("::")[0] for line in collected.stdout.splitlines() if "::" in line}
    assert files == {f"tests/{p.name}" for p in (ROOT / "tests").glob("test_*.py")}
    for generator in ("codegen", "codegen_objects", "codegen_docs"):
        checked = subprocess.run(
            [sys.executable, "-m", f"tools.{generator}", "--check"],
            cwd=sdist,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert checked.returncode == 0, f"{generator}: {checked.stderr}"
        if generator == "codegen":
            assert str(sdist) in checked.stdout  # the sdist's own files, not this checkout's
