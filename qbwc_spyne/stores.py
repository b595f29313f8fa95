"""Where sessions and jobs are kept: SQLite or PostgreSQL, or memory for one process.

Each store has one constructor, taking a path (a SQLite file) or a database
URL (``sqlite:///…``, ``postgresql+psycopg://…``), and the same keyword
parameters: ``prefix``, ``create``, ``upgrade``, ``timeout``, ``pool_size``:

.. code-block:: python

    from qbwc_spyne.stores import SQLJobQueue, SQLSessionStore

    queue = SQLJobQueue("qbwc.db")
    sessions = SQLSessionStore("qbwc.db")

The status store, :class:`~qbwc_spyne.status.SQLStatusStore`, takes the
same. :class:`SessionStore` is the interface the protocol needs of a
session store; the job queue's interfaces are in :mod:`qbwc_spyne.jobs`.

.. versionadded:: Unreleased
"""

from __future__ import annotations

from .protocol._ports import SessionStore
from .store._queue import MemoryJobQueue, SQLJobQueue
from .store._stores import MemorySessionStore, SQLSessionStore

__all__ = ["MemoryJobQueue", "MemorySessionStore", "SQLJobQueue", "SQLSessionStore", "SessionStore"]
