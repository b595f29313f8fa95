"""The job queue's SQL statements, built once for each table prefix and dialect.

Each statement is text SQLAlchemy caches; :class:`Statements` holds those of
one prefix and dialect (SQLite or PostgreSQL). The queue in ``_queue`` runs
them; the tables they read are laid out in ``_migrations``.
"""

# Every statement is built from the table prefix (checked when the queue
# opens) and constants; values are always bound parameters.

from __future__ import annotations

import functools

from sqlalchemy import TextClause, bindparam, text

__all__ = ["BLOCKING", "Statements", "like_pattern", "statements"]

#: States of a dependency that keep its dependants from ever running.
BLOCKING = ("failed", "cancelled", "blocked")


def like_pattern(text: str) -> str:
    """A LIKE pattern (escape character ``!``) matching ``text`` anywhere."""
    return "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


_COLUMNS = (
    "user", "kind", "payload", "company_file", "priority", "key", "replaced_by", "state",
    "attempts", "ticket", "lease_until", "reconciling", "request", "writes", "iterator_id",
    "pages", "checkpoint", "staged_checkpoint", "error_code", "error_message", "warning",
    "created", "updated", "response", "company_key",
)  # fmt: skip
_WAITING = "state IN ('pending', 'reconcile')"
_HEAD = 'id, "user", kind, state, ticket, replaced_by'
#: A purged job that keeps its key: enqueue never stores a payload of JSON null.
_PURGED = "payload = 'null'"
# What a job leaving flight no longer has.
_LAND = (
    "ticket = NULL, lease_until = NULL, iterator_id = NULL, reconciling = 0,"
    " staged_checkpoint = 'null', updated = :now"
)


def _quoted(name: str) -> str:
    # "user" is reserved in PostgreSQL; quoting "key" too keeps MySQL-minded readers calm.
    return f'"{name}"' if name in ("user", "key") else name


class Statements:
    """The queue's statements for one prefix and dialect, made once (SQLAlchemy caches them)."""

    def __init__(self, prefix: str, postgresql: bool) -> None:
        j, d = f"{prefix}jobs", f"{prefix}job_deps"
        self.jobs, self.deps = j, d
        # A job's dependencies come with its row, as one text column: one
        # statement reads (or claims) a job whole.
        listed = (
            "string_agg(CAST(x.depends_on AS TEXT), ',')"
            if postgresql
            else "group_concat(x.depends_on)"
        )

        def with_deps(table: str) -> str:
            return f"(SELECT {listed} FROM {d} AS x WHERE x.job_id = {table}.id) AS deps"

        columns = ", ".join(f"{j}.{_quoted(c)}" for c in ("id", *_COLUMNS))
        self.whole = f"{columns}, {with_deps(j)}"
        # Runnable: waiting, and every job it depends on done.
        self.runnable_where = (
            f'j."user" = :user AND j.{_WAITING} AND NOT EXISTS ('
            f" SELECT 1 FROM {d} AS d JOIN {j} AS p ON p.id = d.depends_on"
            " WHERE d.job_id = j.id AND p.state != 'done')"
        )
        # The company file, compared in its folded form (see fold_company_file).
        here = "j.company_key IN ('', :company_key)"
        order = " ORDER BY j.priority DESC, j.id"
        listed_columns = ", ".join(f"j.{_quoted(c)}" for c in ("id", *_COLUMNS))
        runnable = f"SELECT {listed_columns}, {with_deps('j')} FROM {j} AS j WHERE"
        self.runnable = text(f"{runnable} {self.runnable_where}{order}")
        self.runnable_here = text(f"{runnable} {self.runnable_where} AND {here}{order}")
        # LIMIT: the walk of the waiting index stops at the first rows found.
        self.runnable_first = text(f"{runnable} {self.runnable_where}{order} LIMIT :limit")
        self.runnable_here_first = text(
            f"{runnable} {self.runnable_where} AND {here}{order} LIMIT :limit"
        )
        # A login's one statement: the first runnable job (if any) and whether
        # any job's lease ran out, on the (state, lease_until) index; the
        # sweep's write runs only when one did.
        self.first_runnable = text(
            f"SELECT r.*, e.expired_lease FROM (SELECT EXISTS (SELECT 1 FROM {j}"
            " WHERE state = 'in_flight' AND lease_until < :now) AS expired_lease) AS e"
            f" LEFT JOIN ({runnable} {self.runnable_where}{order} LIMIT 1) AS r ON 1 = 1"
        )
        # The index of waiting jobs by (user, company_key) alone: no row is read.
        self.waiting = text(
            f'SELECT count(*) AS n FROM {j} AS j WHERE j."user" = :user AND j.{_WAITING} AND {here}'
        )
        # One statement: choose the next runnable job and take it. On PostgreSQL
        # the choice locks the row and skips rows other hosts are taking, so
        # concurrent claims neither wait on each other nor take the same job;
        # on SQLite the write lock is held already.
        lock = " FOR UPDATE OF j SKIP LOCKED" if postgresql else ""
        self.claim = text(
            f"UPDATE {j} SET state = 'in_flight',"
            " reconciling = CASE WHEN state = 'reconcile' THEN 1 ELSE 0 END,"
            " ticket = :ticket, lease_until = :lease_until, staged_checkpoint = 'null',"
            f" updated = :now WHERE {_WAITING} AND id = ("
            f" SELECT j.id FROM {j} AS j WHERE {self.runnable_where}"
            f" AND {here}{order} LIMIT 1{lock}) RETURNING {self.whole}"
        )
        self.load = text(f"SELECT {self.whole} FROM {j} WHERE id = :id")
        # The session's job, still its own: the lease renewed and the row read
        # in one statement (a later page of an iterator needs nothing else).
        self.resume = text(
            f"UPDATE {j} SET lease_until = :lease_until, updated = :now"
            " WHERE id = :id AND state = 'in_flight' AND ticket = :ticket"
            f" RETURNING {self.whole}"
        )
        self.head = text(f"SELECT {_HEAD} FROM {j} WHERE id = :id")
        # FOR SHARE: a dependency cannot fail or be cancelled until the new
        # job is committed, so the sweep that blocks its dependants sees it.
        share = " FOR SHARE" if postgresql else ""
        self.states = text(f"SELECT id, state FROM {j} WHERE id IN :ids{share}").bindparams(
            bindparam("ids", expanding=True)
        )
        self.by_key = text(
            f'SELECT {self.whole} FROM {j} WHERE "user" = :user AND "key" = :key'
            " AND replaced_by IS NULL"
        )
        self.insert = text(
            f"INSERT INTO {j} ({', '.join(map(_quoted, _COLUMNS))})"
            f" VALUES ({', '.join(f':{c}' for c in _COLUMNS)}) RETURNING id"
        )
        self.insert_dep = text(
            f"INSERT INTO {d} (job_id, depends_on) VALUES (:job_id, :depends_on)"
        )
        self.set_replaced = text(f"UPDATE {j} SET replaced_by = :by WHERE id = :id")
        # The unfinished jobs that waited on the old job wait on its replacement;
        # finished ones keep the history of what they ran after.
        self.move_deps = text(
            f"UPDATE {d} SET depends_on = :new WHERE depends_on = :old AND job_id IN ("
            f" SELECT id FROM {j} WHERE state NOT IN ('done', 'failed', 'cancelled'))"
        )
        #: The channel a job's landing is announced on (PostgreSQL): a live
        #: request waiting in another process LISTENs on it.
        self.channel = f"{prefix}jobs"

        def landing(update: str) -> TextClause:
            if not postgresql:
                return text(update)
            # NOTIFY in the same statement, so in the same transaction: it is
            # delivered when, and only if, the change is committed.
            return text(
                f"WITH landed AS ({update}) SELECT landed.*,"
                f" pg_notify('{self.channel}', CAST(landed.id AS TEXT)) AS notified FROM landed"
            )

        # How many of the changed job's user's jobs wait for the session's
        # company file (the waiting statement's count), read by the change
        # itself: the job in flight is not among them before or after.
        self.counted = (
            f', (SELECT count(*) FROM {j} AS w WHERE w."user" = :user'
            f" AND w.{_WAITING} AND w.company_key IN ('', :company_key)) AS waiting"
        )
        # The last page's count and checkpoint come with the completion: one
        # statement, where a progress then a complete took two.
        complete = (
            f"UPDATE {j} SET state = 'done', pages = COALESCE(:pages, pages),"
            " checkpoint = CASE WHEN :staged != 'null' THEN :staged"
            " WHEN staged_checkpoint = 'null' THEN checkpoint ELSE staged_checkpoint END,"
            " request = CASE WHEN :keep = 1 THEN request ELSE NULL END,"
            " response = COALESCE(:response, response),"
            " warning = COALESCE(:warning, warning), error_code = NULL, error_message = NULL,"
            f" {_LAND} WHERE id = :id AND state = 'in_flight' AND ticket = :ticket"
            f" RETURNING {_HEAD}"
        )
        self.complete = landing(complete)
        self.complete_counting = landing(complete + self.counted)
        self.fail = landing(
            f"UPDATE {j} SET state = 'failed', error_code = :code, error_message = :message,"
            f" response = COALESCE(:response, response), {_LAND}"
            " WHERE id = :id AND state = 'in_flight' AND ticket = :ticket"
            f" RETURNING {_HEAD}"
        )
        self.release = text(
            f"UPDATE {j} SET state = :to, error_code = :code, error_message = :message,"
            f" request = NULL, {_LAND} WHERE id = :id AND state = 'in_flight'"
            f" AND ticket = :ticket RETURNING {_HEAD}"
        )
        # ``force``: every job in flight, its lease run out or not (the operator's call).
        self.expired = "state = 'in_flight' AND (lease_until < :now OR :force = 1)"
        self.any_expired = text(f"SELECT 1 FROM {j} WHERE {self.expired} LIMIT 1")
        for_update = " FOR UPDATE" if postgresql else ""
        self.expired_jobs = text(f"SELECT {self.whole} FROM {j} WHERE {self.expired}{for_update}")
        # Only jobs still in flight past their lease: one that landed, or
        # was released and claimed again, since it was read is left alone.
        self.release_many = text(
            f"UPDATE {j} SET state = :to,"
            " error_message = CASE WHEN :unknown = 1 THEN :message ELSE error_message END,"
            f" request = NULL, {_LAND} WHERE id IN :ids AND {self.expired}"
            f" RETURNING {self.whole}"
        ).bindparams(bindparam("ids", expanding=True))
        below = (
            f"WITH RECURSIVE below (id) AS (SELECT job_id FROM {d} WHERE depends_on = :id"
            f" UNION SELECT d.job_id FROM {d} AS d JOIN below AS b ON d.depends_on = b.id) "
        )
        waiting_below = f"id IN (SELECT id FROM below) AND {_WAITING}"
        self.waiting_below = text(
            f'{below}SELECT id, "user", kind, state FROM {j} WHERE {waiting_below}'
        )
        self.block_below = text(
            f"{below}UPDATE {j} SET state = 'blocked', error_message = :message,"
            f" updated = :now WHERE {waiting_below}"
        )
        free = (
            "state = 'blocked' AND id IN (SELECT id FROM below) AND NOT EXISTS ("
            f" SELECT 1 FROM {d} AS d JOIN {j} AS p ON p.id = d.depends_on"
            f" WHERE d.job_id = {j}.id AND p.state IN ('failed', 'cancelled', 'blocked'))"
        )
        self.free_below = text(f'{below}SELECT id, "user", kind, state FROM {j} WHERE {free}')
        self.unblock_below = text(
            f"{below}UPDATE {j} SET state = 'pending', error_message = NULL,"
            f" updated = :now WHERE {free}"
        )
        self.abandon = text(
            f"UPDATE {j} SET state = 'unknown', error_message = :message, updated = :now"
            f" WHERE id = :id AND state = 'reconcile' RETURNING {_HEAD}"
        )
        self.cancel = text(
            f"UPDATE {j} SET state = 'cancelled', updated = :now WHERE id = :id AND state = :state"
        )
        # Only from waiting: a job that failed or was done meanwhile keeps its
        # answer. The row comes back from the change itself, never a stale read.
        self.withdraw = text(
            f"UPDATE {j} SET state = 'cancelled', updated = :now"
            f" WHERE id = :id AND {_WAITING} RETURNING {self.whole}"
        )
        self.blocker = text(
            f"SELECT p.id FROM {d} AS d JOIN {j} AS p ON p.id = d.depends_on"
            f" WHERE d.job_id = :id AND p.state IN {BLOCKING} ORDER BY p.id LIMIT 1"
        )
        # Never to 'blocked': a retry that would leave the job blocked is
        # refused (the caller names the dependency), not reported as done.
        self.retry = text(
            f"UPDATE {j} SET state = 'pending',"
            " error_code = NULL, error_message = NULL, iterator_id = NULL, request = NULL,"
            " staged_checkpoint = 'null', updated = :now"
            f" WHERE id = :id AND state = :state AND replaced_by IS NULL AND NOT {_PURGED}"
            f" AND NOT EXISTS (SELECT 1 FROM {d} AS d JOIN {j} AS p ON p.id = d.depends_on"
            f" WHERE d.job_id = {j}.id AND p.state IN {BLOCKING})"
        )
        self.resolve = text(
            f"UPDATE {j} SET state = :to, error_code = NULL, error_message = NULL,"
            " request = NULL, iterator_id = NULL, staged_checkpoint = 'null', updated = :now"
            f" WHERE id = :id AND state = 'unknown' RETURNING {_HEAD}"
        )
        # One batch of a purge: the next ``:batch`` finished jobs of one state
        # in (updated, id) order after the cursor, on the (state, updated)
        # index. Each row says whether it goes (no unfinished job depends on
        # it; not a tombstone already) and whether it keeps its key, so a
        # batch reads at most ``:batch`` rows whatever it skips, and the next
        # batch starts after them.
        self.purge_batch = text(
            'SELECT id, updated, CASE WHEN "key" IS NOT NULL AND replaced_by IS NULL THEN 1'
            " ELSE 0 END AS keyed,"
            f" CASE WHEN ({_PURGED} AND replaced_by IS NULL) OR EXISTS (SELECT 1 FROM {d} AS d"
            f" JOIN {j} AS u ON u.id = d.job_id WHERE d.depends_on = j.id"
            " AND u.state NOT IN ('done', 'failed', 'cancelled')) THEN 0 ELSE 1 END AS goes"
            f" FROM {j} AS j WHERE state = :state AND updated < :before"
            " AND (updated > :after OR (updated = :after AND id > :after_id))"
            " ORDER BY updated, id LIMIT :batch"
        )
        self.purge_deps = text(
            f"DELETE FROM {d} WHERE job_id IN :ids OR depends_on IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        self.purge_jobs = text(f"DELETE FROM {j} WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        # What a keyed job keeps when purged: who, what kind, its key, how it
        # ended and when. What it carried (customer data, errors) goes.
        self.tombstone = text(
            f"UPDATE {j} SET payload = 'null', request = NULL, checkpoint = 'null',"
            " staged_checkpoint = 'null', iterator_id = NULL, error_code = NULL,"
            " error_message = NULL, warning = NULL, response = NULL WHERE id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        # A purged job's history goes with it: its messages hold its errors.
        self.purge_events = text(f"DELETE FROM {prefix}job_events WHERE job_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        self.history = text(
            f"SELECT job_id, at, from_state, to_state, message FROM {prefix}job_events"
            " WHERE job_id = :id ORDER BY id"
        )
        # Replaced jobs are not counted: their replacement stands for their work.
        self.counts = text(
            f"SELECT state, count(*) AS n FROM {j} WHERE replaced_by IS NULL GROUP BY state"
        )
        self.counts_of = text(
            f'SELECT state, count(*) AS n FROM {j} WHERE "user" = :user AND replaced_by IS NULL'
            " GROUP BY state"
        )

    @functools.lru_cache(maxsize=64)  # noqa: B019  (few instances, each lives for the process)
    def progress(self, names: tuple[str, ...], counting: bool = False) -> TextClause:
        assignments = "".join(f"{name} = :{name}, " for name in names)
        returning = f" RETURNING id{self.counted}" if counting else ""
        return text(
            f"UPDATE {self.jobs} SET {assignments}updated = :now"
            f" WHERE id = :id AND state = 'in_flight' AND ticket = :ticket{returning}"
        )


@functools.lru_cache(maxsize=32)
def statements(prefix: str, postgresql: bool) -> Statements:
    return Statements(prefix, postgresql)
