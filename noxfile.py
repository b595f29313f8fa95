"""The test suite on every supported Python this machine has (``make test`` runs it).

One session per version, named ``tests-3.X``; the version nox itself runs on
comes first. A version with no interpreter here gets no session, so a machine
with one Python runs the suite once. Interpreters are looked for on ``PATH``
(``python3.12``) and, where pyenv is installed, among its versions (whose
shims answer only for the versions pyenv has made active).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nox

#: Keep in step with requires-python and the classifiers in pyproject.toml.
SUPPORTED = ("3.11", "3.12", "3.13")

nox.options.sessions = []  # filled in below, in order
nox.options.default_venv_backend = "venv"
# Interpreters come from this machine only, never from a download.
nox.options.download_python = "never"
# A second run reuses the environments and only brings them up to date.
nox.options.reuse_venv = "yes"


def _version_of(executable: str) -> str | None:
    """The "X.Y" an interpreter reports, or None if it does not run."""
    try:
        done = subprocess.run(  # noqa: S603 (a path found on PATH or under pyenv)
            [executable, "-c", "import sys; print('{}.{}'.format(*sys.version_info[:2]))"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _pyenv_candidates(version: str) -> list[str]:
    """pyenv's interpreters for ``version``, newest patch first."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return []
    try:
        root = subprocess.run(  # noqa: S603
            [pyenv, "root"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return []

    def patch(path: Path) -> int:
        tail = path.parent.parent.name.removeprefix(version + ".")
        return int(tail) if tail.isdigit() else -1

    found = Path(root, "versions").glob(f"{version}.*/bin/python{version}")
    # Only releases ("3.12.1"), not "3.12-dev" or a virtualenv named "3.12.x-foo".
    return [str(path) for path in sorted(found, key=patch, reverse=True) if patch(path) >= 0]


def find_interpreters() -> dict[str, str]:
    """Map each supported version this machine has to an interpreter that runs.

    Returns:
        ``{"3.11": path, ...}``, the version running this file first.
    """
    running = "{}.{}".format(*sys.version_info[:2])
    order = sorted(SUPPORTED, key=lambda version: version != running)
    interpreters = {}
    for version in order:
        candidates = [sys.executable] if version == running else []
        on_path = shutil.which(f"python{version}")
        if on_path is not None:
            candidates.append(on_path)
        candidates += _pyenv_candidates(version)
        for candidate in candidates:
            if _version_of(candidate) == version:
                interpreters[version] = candidate
                break
    return interpreters


def tests(session: nox.Session) -> None:
    """The whole pytest suite, as the Makefile runs it, with coverage."""
    session.install("--quiet", "-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


for _version, _interpreter in find_interpreters().items():
    _name = f"tests-{_version}"
    nox.session(name=_name, python=_interpreter)(tests)
    nox.options.sessions.append(_name)
