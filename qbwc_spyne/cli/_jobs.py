"""``jobs``: look at and steer the jobs of a queue."""

from __future__ import annotations

import argparse
from typing import Any

from ..queue._ports import JobState
from ._common import CommandError, add_db_arguments, open_queue, plain


def _job_id(text: str) -> int:
    """A job's id, for argparse: the databases hold 64-bit integers, and nothing larger."""
    if not text.isdecimal() or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"must be a job's id, a whole number from 1, not {text!r}")
    return int(text)


def cmd_jobs(args: argparse.Namespace) -> int:
    from ..queue._operator import (
        cancel_job,
        in_flight_notes,
        recover_jobs,
        resolve_unknown,
        retry_job,
    )

    queue = open_queue(args)
    if args.action == "list":
        states = [JobState(args.state)] if args.state else []
        rows = queue.jobs(user=args.user, states=states)
        print(
            f"{'id':>6}  {'user':<12} {'kind':<20} {'state':<10} {'tries':>5} {'pages':>5}  problem"
        )
        for job in rows:
            problem = job.error_message or job.warning or ""
            print(
                f"{job.id:>6}  {job.user:<12} {job.kind:<20} {job.state.value:<10} "
                f"{job.attempts:>5} {job.pages:>5}  {problem[:60]}"
            )
        return 0
    if args.action == "show":
        from dataclasses import asdict

        found = queue.get(args.id)
        if found is None:
            raise CommandError(f"no job {args.id}")
        for name, value in asdict(found).items():
            print(f"{name:>17}: {plain(name, value)}")
        return 0
    if args.action == "recover":
        released = recover_jobs(queue, force=args.force)
        for job in released:
            print(f"job {job.id} ({job.kind}) of {job.user} is now {job.state.value}")
        print(f"{len(released)} job(s) released")
        if not released:
            # Nothing was due, yet an update may be stuck behind a job whose
            # session crashed: say which, and until when, so the operator
            # need not wait out its lease blind.
            for note in in_flight_notes(queue, hint="--force releases it now"):
                print(note)
        return 0
    if args.action == "purge":
        import math
        import time

        # NaN compares false with every time, and an infinite or negative age
        # purges everything or nothing: neither is what the operator meant.
        if not (math.isfinite(args.days * 86400) and args.days >= 0):
            raise CommandError(
                f"--days must be a finite number of days, 0 or more, not {args.days}"
            )
        purged = queue.purge(done_before=time.time() - args.days * 86400)
        print(f"{purged} finished job(s) purged")
        return 0
    if args.action == "resolve":
        job = resolve_unknown(queue, args.id, happened=args.happened)
    else:
        job = (retry_job if args.action == "retry" else cancel_job)(queue, args.id)
    print(f"job {job.id} is now {job.state.value}")
    return 0


def add_jobs_parser(commands: Any) -> None:
    """The ``jobs`` command and its subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    add_db_arguments(common)
    jobs = commands.add_parser(
        "jobs",
        help="look at and steer the jobs of a queue",
        description="Look at and steer the jobs of a job queue (a SQLite file or a "
        "database URL). It must already hold a queue: nothing is created.",
    )
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="list jobs, oldest first")
    listing.add_argument("--user", help="only this user's jobs (default: every user's)")
    listing.add_argument(
        "--state", choices=[s.value for s in JobState], help="only jobs in this state"
    )
    show = actions.add_parser("show", parents=[common], help="every field of one job")
    show.add_argument("id", type=_job_id, help="the job's id")
    retry = actions.add_parser(
        "retry",
        parents=[common],
        help="send a failed, blocked, cancelled or unknown job again",
        description="Send the job again and unblock its dependants. For an unknown "
        "write it is your word that it did not happen (see also resolve).",
    )
    retry.add_argument("id", type=_job_id, help="the job's id")
    cancel = actions.add_parser(
        "cancel", parents=[common], help="cancel a job that is not in flight or done"
    )
    cancel.add_argument("id", type=_job_id, help="the job's id")
    recover = actions.add_parser(
        "recover",
        parents=[common],
        help="release jobs in flight whose lease ran out, of every user",
        description="Queries go back to pending; writes to reconcile, where the next "
        "session sends their reconcile query (or marks them unknown). When nothing is "
        "due, it names each job still in flight and until when.",
    )
    recover.add_argument(
        "--force",
        action="store_true",
        help="release every job in flight now, its lease run out or not (after a crash "
        "mid-sync; a write goes to reconcile, so nothing is sent twice)",
    )
    purge = actions.add_parser(
        "purge",
        parents=[common],
        help="delete finished jobs",
        description="Delete done, failed and cancelled jobs finished more than DAYS "
        "days ago, except those an unfinished job depends on. A job with a key keeps "
        "its row, without its payload, so its key still names its work.",
    )
    purge.add_argument(
        "--days", type=float, default=30.0, help="age in days (default: %(default)s)"
    )
    resolve = actions.add_parser(
        "resolve",
        parents=[common],
        help="settle an unknown write: it happened, or it did not",
    )
    resolve.add_argument("id", type=_job_id, help="the job's id")
    said = resolve.add_mutually_exclusive_group(required=True)
    said.add_argument(
        "--happened",
        dest="happened",
        action="store_true",
        help="it is in QuickBooks: the job is done",
    )
    said.add_argument(
        "--did-not-happen",
        dest="happened",
        action="store_false",
        help="it is not: the job is sent again",
    )
    jobs.set_defaults(run=cmd_jobs)
