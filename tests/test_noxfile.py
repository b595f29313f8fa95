"""noxfile.py finds each supported Python on PATH or under pyenv, this one first."""

from __future__ import annotations

import sys
from pathlib import Path

import nox
import pytest

import noxfile

RUNNING = "{}.{}".format(*sys.version_info[:2])
OTHERS = [version for version in noxfile.SUPPORTED if version != RUNNING]


def script(path: Path, body: str) -> Path:
    """An executable shell script at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def interpreter(path: Path, version: str) -> Path:
    """A program that answers the version question as a Python ``version`` would."""
    return script(path, f"echo {version}")


@pytest.fixture
def bare_path(tmp_path, monkeypatch) -> Path:
    """PATH holds one empty directory: no other Python, no pyenv."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    return directory


class TestFindInterpreters:
    def test_a_machine_with_one_python_runs_that_one(self, bare_path):
        """With nothing on PATH and no pyenv, the Python running nox is the only one."""
        assert noxfile.find_interpreters() == {RUNNING: sys.executable}

    def test_an_interpreter_on_path_is_found_after_the_running_one(self, bare_path):
        """pythonX.Y on PATH that reports X.Y is used, the running version first."""
        other = interpreter(bare_path / f"python{OTHERS[0]}", OTHERS[0])
        found = noxfile.find_interpreters()
        assert list(found) == [RUNNING, OTHERS[0]]
        assert found[OTHERS[0]] == str(other)

    def test_pyenv_versions_are_found_newest_patch_first(self, bare_path, tmp_path):
        """A shim that fails is passed over for pyenv's newest release of that version."""
        version = OTHERS[0]
        script(bare_path / f"python{version}", "exit 127")  # a shim of an inactive version
        root = tmp_path / "pyenv"
        script(bare_path / "pyenv", f"echo {root}")
        for name in (f"{version}.2", f"{version}.10", f"{version}-dev"):
            interpreter(root / "versions" / name / "bin" / f"python{version}", version)

        newest, older = (
            str(root / "versions" / release / "bin" / f"python{version}")
            for release in (f"{version}.10", f"{version}.2")
        )
        assert noxfile.find_interpreters()[version] == newest
        assert noxfile._pyenv_candidates(version) == [newest, older]

    def test_an_interpreter_of_another_version_is_refused(self, bare_path):
        """pythonX.Y that reports another version is not taken for X.Y."""
        interpreter(bare_path / f"python{OTHERS[0]}", "2.7")
        assert OTHERS[0] not in noxfile.find_interpreters()

    def test_each_found_version_has_a_session_in_order(self):
        """The default sessions are tests-X.Y for what this machine has, the running one first."""
        sessions = list(nox.options.sessions or [])
        assert sessions[0] == f"tests-{RUNNING}"
        assert all(name.startswith("tests-3.") for name in sessions)
