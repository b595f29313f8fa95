"""What the commands share: the one-line error, the database options, the way values print."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .._extras import needs_extra as _needs_extra
from ..queue._ports import JobState

PROG = "qbwc-spyne"


class CommandError(Exception):
    """A one-line error for the user; the command exits 1."""


def needs_extra(what: str, *, extra: str, package: str) -> CommandError:
    """The error for a command that needs an extra not installed: the line that installs it."""
    return CommandError(_needs_extra(what, package=package, extra=extra))


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and its message's first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def progress_bar(stream: TextIO = sys.stderr) -> Callable[[int], None]:
    """A progress callback: a bar redrawn in place on a terminal, a line per change elsewhere."""
    state = {"last": -1}

    def show(percent: int) -> None:
        percent = max(0, min(percent, 100))
        if percent == state["last"]:
            return
        state["last"] = percent
        if stream.isatty():
            filled = percent * 30 // 100
            stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%")
            if percent == 100:
                stream.write("\n")
        else:
            stream.write(f"progress: {percent}%\n")
        stream.flush()

    return show


# -- databases -------------------------------------------------------------------------

#: The environment variable ``--db`` falls back to.
DB_ENV = "QBWC_SPYNE_DB"
#: The ways every option naming a database accepts (``database``).
DB_FORMS = (
    "a SQLite file (PATH, sqlite:PATH or sqlite:///PATH) or a PostgreSQL URL "
    "(postgresql://USER:PASSWORD@HOST/DB; postgres:// too)"
)
_TIMES = ("created", "updated", "lease_until")


def database(text: str | None, option: str = "--db", *, must_exist: bool = False) -> Any:
    """The database URL an option names, read by the one rule every option shares.

    ``sqlite:PATH``, ``sqlite:///PATH``, a plain file path, ``postgresql://``
    and ``postgres://`` (as hosting platforms write ``DATABASE_URL``) are
    accepted wherever a database is named.

    Args:
        text: what the option says.
        option: the option's name, for the messages.
        must_exist: a SQLite file must already exist (nothing is created).

    Returns:
        The SQLAlchemy URL.

    Raises:
        CommandError: no database given, a malformed or unsupported URL,
            or (``must_exist``) no such file.
    """
    from ..exceptions import DatabaseURLError
    from ..store._sql import database_url

    if not text:
        raise CommandError(f"{option} is required (or set {DB_ENV})")
    try:
        url = database_url(text)
    except DatabaseURLError as exc:
        raise CommandError(f"{option}: {exc}") from None
    if must_exist and url.drivername == "sqlite" and not Path(url.database or "").is_file():
        raise CommandError(f"no database at {url.database}")
    return url


def open_queue(args: argparse.Namespace) -> Any:
    from ..store._queue import SQLJobQueue

    # create=False: a database that is not a queue is refused, and nothing is written to it.
    return SQLJobQueue(database(args.db, must_exist=True), create=False, prefix=args.prefix)


def add_db_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=os.environ.get(DB_ENV),
        metavar="DB",
        help=f"the database: {DB_FORMS} (default: ${DB_ENV}, now %(default)s)",
    )
    parser.add_argument(
        "--prefix", default="qbwc_", help="the prefix of the tables' names (default: %(default)s)"
    )


def plain(name: str, value: Any) -> str:
    """A job field as an operator reads it: ISO-8601 times, no Python reprs."""
    import json
    from datetime import UTC, datetime

    if value is None or value == "":
        return "-"
    if isinstance(value, JobState):
        return value.value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name in _TIMES and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
