"""``status``: every connection's status, trouble first."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ._common import DB_ENV, CommandError, add_db_arguments, open_queue, plain


def cmd_status(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from ..status._model import connection_status
    from ..store._status import SQLStatusStore

    # `status DB` as the guides show it, or --db (whose default is the environment's).
    if args.database and args.db not in (None, os.environ.get(DB_ENV), args.database):
        raise CommandError(f"two databases given, {args.database} and --db {args.db}: give one")
    args.db = args.database or args.db
    queue = open_queue(args)
    store = SQLStatusStore(queue._db, create=False)  # the queue's database, already checked
    try:
        rows = connection_status(store, queue, args.user)
    finally:
        queue.close()
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no connection seen yet" + (f" for user {args.user!r}" if args.user else ""))
        return 0
    print(
        f"{'user':<16} {'company':<24} {'last seen':<20} {'last success':<20}"
        f" {'session':<9} {'%':>4} {'pend':>5} {'fail':>5} {'unkn':>5}  last error"
    )
    for row in rows:
        error = " ".join(filter(None, [row.last_error_code, row.last_error_message]))
        if (row.connection_error_at or 0) > (row.last_error_at or 0):
            error = f"{row.connection_error_code}: {row.connection_error_message}"
        print(
            f"{row.user[:16]:<16} {Path(row.company_file).name[:24] or '-':<24}"
            f" {plain('updated', row.last_seen)[:19]:<20}"
            f" {plain('updated', row.last_success)[:19]:<20}"
            f" {row.ticket or '-':<9} {plain('', row.progress):>4}"
            f" {row.jobs_pending:>5} {row.jobs_failed:>5} {row.jobs_unknown:>5}"
            f"  {error[:70] or '-'}"
        )
    return 0


def add_status_parser(commands: Any) -> None:
    """The ``status`` command: every connection's status, trouble first."""
    status = commands.add_parser(
        "status",
        help="show each Web Connector connection's status, trouble first",
        description="Show what the status recorder saw of each user and company file "
        "(last seen, last success, errors, the session open now) with its jobs pending, "
        "failed and unknown. Connections in trouble come first.",
    )
    status.add_argument(
        "database",
        nargs="?",
        metavar="DB",
        help="the database, as --db names it; either may be given",
    )
    add_db_arguments(status)
    status.add_argument("--user", help="one user only")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(run=cmd_status)
