"""``db``: create, upgrade and check the tables."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_db_arguments, database


def cmd_db(args: argparse.Namespace) -> int:
    from ..store._migrations import check, upgrade, upgrade_command
    from ..store._sql import Database

    db = Database(database(args.db, must_exist=args.action == "check"), prefix=args.prefix)
    try:
        if args.action == "upgrade":
            before, after = upgrade(db)
            if before == after:
                print(f"{db.display}: already at schema version {after}")
            elif before == 0:
                print(f"{db.display}: created the tables at schema version {after}")
            else:
                print(f"{db.display}: upgraded from schema version {before} to {after}")
            return 0
        found, wanted = check(db)
    finally:
        db.close()
    if found == wanted:
        print(f"{db.display}: at schema version {found}, as this release needs")
        return 0
    if found > wanted:
        print(f"{db.display}: at schema version {found}, newer than this release's {wanted}")
        return 1
    if found == 0:
        print(f"{db.display}: no tables yet: run `{upgrade_command(db)}`")
        return 1
    print(
        f"{db.display}: at schema version {found}, this release needs {wanted}:"
        f" run `{upgrade_command(db)}`"
    )
    return 1


def add_db_parser(commands: Any) -> None:
    """The ``db`` command: create, upgrade and check the tables."""
    common = argparse.ArgumentParser(add_help=False)
    add_db_arguments(common)
    db = commands.add_parser(
        "db",
        help="create, upgrade or check the tables of the session store and job queue",
        description="Create the tables, or upgrade those of an earlier release in place "
        "(safe to run again, and from several hosts at once), or check their version.",
    )
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "upgrade", parents=[common], help="create or upgrade the tables to this release's"
    )
    actions.add_parser(
        "check",
        parents=[common],
        help="exit 0 if the tables are at this release's version, 1 if not",
    )
    db.set_defaults(run=cmd_db)
