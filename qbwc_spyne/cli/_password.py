"""``hash-password``: the Argon2 hash of a password, for ``PasswordCheck``."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from ._common import CommandError


def cmd_hash_password(args: argparse.Namespace) -> int:
    from ..auth import hash_password

    if args.stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the passwords differ")
    if not password:
        raise CommandError("the password is empty")
    print(hash_password(password))
    return 0


def add_hash_password_parser(commands: Any) -> None:
    """The ``hash-password`` command."""
    hash_pw = commands.add_parser(
        "hash-password",
        help="print an Argon2 hash of a password",
        description="Prompt for a password (or read one line from "
        "stdin) and print its hash for qbwc_spyne.auth.PasswordCheck.",
    )
    hash_pw.add_argument(
        "--stdin",
        action="store_true",
        help="read the password from stdin's first line (default: ask twice on the terminal, "
        "or read stdin when it is not one)",
    )
    hash_pw.set_defaults(run=cmd_hash_password)
