"""The qbwc-spyne command line: serve, qwc, simulate, hash-password, explain, jobs, demo.

``main`` is the entry point (``qbwc-spyne``, ``python -m qbwc_spyne``) and
``build_parser`` puts together the commands' parsers, each declared in its
command's module beside the code that reads it.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ..exceptions import QBWCError
from ._common import PROG, CommandError
from ._db import add_db_parser
from ._demo import add_demo_parser
from ._explain import add_explain_parser
from ._jobs import add_jobs_parser
from ._password import add_hash_password_parser
from ._qwc import add_qwc_parser
from ._serve import add_serve_parser
from ._simulate import add_simulate_parser
from ._status import add_status_parser

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse's parser, saying a mistake in one line: the usage is a --help away."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, in the order ``--help`` lists them."""
    parser = _Parser(prog=PROG, description="QuickBooks Web Connector service tools.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_parser(commands)
    add_qwc_parser(commands)
    add_simulate_parser(commands)
    add_hash_password_parser(commands)
    add_explain_parser(commands)
    add_jobs_parser(commands)
    add_db_parser(commands)
    add_status_parser(commands)
    add_demo_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except (CommandError, QBWCError, OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
