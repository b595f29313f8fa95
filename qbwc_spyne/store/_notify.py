"""PostgreSQL's notifications of jobs that land, for a live request's waiter.

The queue notifies on its channel in the statement that lands a job (see
``_statements``); :class:`JobNotifications` is a connection of its own,
out of the pool, that LISTENs on that channel.
"""

from __future__ import annotations

import logging
from typing import Any

from ._sql import Database

__all__ = ["JobNotifications"]

logger = logging.getLogger("qbwc_spyne")


class JobNotifications:
    """A PostgreSQL connection, out of the pool, LISTENing for jobs that land.

    Args:
        db: the queue's database.
        channel: the channel the queue notifies on.

    Raises:
        StorageError: the database could not be reached.
    """

    def __init__(self, db: Database, channel: str) -> None:
        self._db = db
        try:
            raw = db.engine().raw_connection()
            conn: Any = raw.driver_connection
            raw.detach()  # ours alone: a LISTEN must not go back to the pool
            conn.rollback()
            conn.autocommit = True
            conn.execute(f'LISTEN "{channel}"')
        except Exception as exc:
            raise db.error(exc, "the job queue's notifications") from exc
        self._conn = conn

    def wait(self, timeout: float) -> list[int]:
        """The ids of jobs that landed, as soon as one does or after ``timeout`` seconds.

        Raises:
            StorageError: the connection was lost.
        """
        try:
            return [
                int(note.payload)
                for note in self._conn.notifies(timeout=timeout, stop_after=1)
                if note.payload.isdigit()
            ]
        except Exception as exc:
            raise self._db.error(exc, "the job queue's notifications") from exc

    def close(self) -> None:
        """Stop listening and close the connection."""
        try:
            self._conn.close()
        except Exception:  # pragma: no cover - closing a connection already lost
            logger.debug("closing the notification connection failed", exc_info=True)
