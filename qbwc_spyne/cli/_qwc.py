"""``qwc``: write a QWC file from options and a TOML file, or check one."""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

from ._common import CommandError

_QWC_OPTIONS = {
    "app_name": "--app-name",
    "app_url": "--app-url",
    "app_support_url": "--support-url",
    "app_description": "--description",
    "user": "--user",
    "owner_id": "--owner-id",
    "file_id": "--file-id",
    "update_interval": "--interval",
    "qb_type": "--qb-type",
}


_QWC_HELP = {
    "app_name": ("NAME", "AppName, shown in the Web Connector (required)"),
    "app_url": ("URL", "AppURL, the endpoint: https://, or http://localhost (required)"),
    "app_support_url": (
        "URL",
        "AppSupport, a page for the Web Connector's user, on AppURL's host (required)",
    ),
    "app_description": ("TEXT", "AppDescription (required)"),
    "user": ("NAME", "UserName the Web Connector authenticates with (required)"),
    "owner_id": ("GUID", "OwnerID (default: derived from the app name, stable)"),
    "file_id": ("GUID", "FileID (default: derived from the app name and user, stable)"),
    "update_interval": (
        "SECONDS",
        "seconds between automatic updates: under 60 written as RunEveryNSeconds, "
        "else as RunEveryNMinutes, rounded to the nearest minute "
        "(default: 0, no schedule)",
    ),
    "qb_type": ("TYPE", "QBType: QBFS for QuickBooks, QBPOS for Point of Sale (default: QBFS)"),
}


def _qwc_problems(problems: list[Any], from_toml: set[str]) -> str:
    """The QWC file's problems in one line, each named as the user gave it (option or key)."""
    said = []
    for problem in problems:
        option = _QWC_OPTIONS.get(problem.field)
        name = option if option and problem.field not in from_toml else problem.field
        if problem.field in from_toml:
            name += " in the --toml file"
        said.append(f"{name} {str(problem)[len(problem.field) + 1 :]}")
    return "; ".join(said)


def cmd_qwc(args: argparse.Namespace) -> int:
    from ..exceptions import QWCFileExistsError
    from ..qwc import QWCError, QWCFile

    if args.check:
        QWCFile.parse(Path(args.check)).validate()
        print(f"{args.check}: valid")
        return 0
    values: dict[str, Any] = {}
    if args.toml:
        with open(args.toml, "rb") as handle:
            try:
                table = tomllib.load(handle)
            except tomllib.TOMLDecodeError as exc:  # its message names no file
                raise CommandError(f"{args.toml}: {exc}") from None
        section = table.get("qwc", table)
        if not isinstance(section, dict):
            raise CommandError(f"{args.toml}: [qwc] must be a table")
        values.update(section)
    from_toml = set(values)
    for field in _QWC_OPTIONS:
        if getattr(args, field) is not None:
            values[field] = getattr(args, field)
            from_toml.discard(field)
    if args.read_only:
        values["is_read_only"] = True
        from_toml.discard("is_read_only")
    try:
        qwc = QWCFile.from_mapping(values)
    except QWCError as exc:  # a key that is no property: only the TOML file can hold one
        raise CommandError(f"{exc.field} in {args.toml} is not a QWC property") from None
    problems = qwc.problems()
    if problems:
        raise CommandError(_qwc_problems(problems, from_toml))
    text = qwc.to_xml()
    interval = values.get("update_interval")
    written = QWCFile.parse(text).update_interval
    if isinstance(interval, int) and interval != written:
        # The Web Connector schedules in whole minutes past the first: say what 90 s became.
        print(
            f"note: an interval of a minute or more is written in whole minutes: "
            f"{interval} s is written as RunEveryNMinutes {written // 60} ({written} s)",
            file=sys.stderr,
        )
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        try:
            qwc.write(args.output, overwrite=args.overwrite)
        except QWCFileExistsError:  # its text names write()'s argument, not the option
            raise CommandError(f"{args.output} exists: --overwrite replaces it") from None
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def add_qwc_parser(commands: Any) -> None:
    """The ``qwc`` command."""
    qwc = commands.add_parser(
        "qwc",
        help="write or check a QWC file",
        description="Write a QWC file from options and/or a TOML file "
        "(a [qwc] table of QWCFile properties), or check one with --check.",
    )
    qwc.add_argument("--check", metavar="FILE", help="validate an existing .qwc file")
    qwc.add_argument(
        "--toml", metavar="FILE", help="read properties from a TOML file (options win)"
    )
    required = qwc.add_argument_group(
        "required, here or in the --toml file",
        "AppName, AppURL, AppSupport, AppDescription and UserName must be given.",
    )
    for field, option in _QWC_OPTIONS.items():
        metavar, text = _QWC_HELP[field]
        (required if text.endswith("(required)") else qwc).add_argument(
            option,
            dest=field,
            metavar=metavar,
            type=int if field == "update_interval" else str,
            help=text,
        )
    qwc.add_argument(
        "--read-only", action="store_true", help="ask for read-only access (default: read-write)"
    )
    qwc.add_argument(
        "-o", "--output", metavar="FILE", help="where to write (default: standard output)"
    )
    qwc.add_argument(
        "--overwrite", action="store_true", help="replace an existing file (default: refuse)"
    )
    qwc.set_defaults(run=cmd_qwc)
