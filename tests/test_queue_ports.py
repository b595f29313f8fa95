"""The queue's ports: one interface per audience, implemented whole by every queue.

A session uses :class:`SessionQueue`, an operator (the dashboard, a live
request) :class:`OperatorQueue`, a waiter :class:`QueueNotifications`;
:class:`JobQueue` is all three. The queue modules import each other in one
direction, and the old names keep working.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path
from typing import Any

import pytest

import qbwc_spyne
import qbwc_spyne._deprecation
from qbwc_spyne.exceptions import JobStateError, StorageError
from qbwc_spyne.queue import _ports
from qbwc_spyne.queue._handler import QueueHandler
from qbwc_spyne.queue._live import LiveClient
from qbwc_spyne.queue._operator import cancel_job, resolve_unknown, retry_job
from qbwc_spyne.queue._ports import (
    JobQueue,
    JobState,
    OperatorQueue,
    QueueNotifications,
    SessionQueue,
)
from qbwc_spyne.store._queue import MemoryJobQueue, SQLJobQueue

QUEUE_DIR = Path(qbwc_spyne.__file__).resolve().parent / "queue"


def members(port: type) -> set[str]:
    """A port's methods and properties, its bases' included."""
    return {
        name
        for base in port.__mro__
        if base.__module__ == _ports.__name__
        for name, value in vars(base).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


@pytest.fixture(params=["memory", "sqlite"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> SQLJobQueue:
    if request.param == "memory":
        return MemoryJobQueue()
    return SQLJobQueue(tmp_path / "jobs.db")


class TestThePorts:
    @pytest.mark.parametrize("port", [SessionQueue, OperatorQueue, QueueNotifications, JobQueue])
    def test_every_queue_implements_every_port(self, queue: SQLJobQueue, port: type) -> None:
        """The SQL and memory queues are each port, checked at run time."""
        assert isinstance(queue, port)
        assert all(hasattr(queue, name) for name in members(port))

    def test_job_queue_is_the_union_of_the_three(self) -> None:
        """Nothing in JobQueue that no audience asked for."""
        union = members(SessionQueue) | members(OperatorQueue) | members(QueueNotifications)
        assert members(JobQueue) == union

    def test_each_audience_has_its_own_methods(self) -> None:
        """A session sees no operator action, an operator no claim."""
        session, operator = members(SessionQueue), members(OperatorQueue)
        assert {"claim", "resume", "first_runnable", "complete_counting"} <= session
        assert not {"retry", "cancel", "resolve_unknown", "enqueue", "purge"} & session
        assert {"jobs_page", "history", "retry", "cancel", "enqueue"} <= operator
        assert not {"claim", "resume", "complete", "fail", "progress"} & operator
        assert members(QueueNotifications) == {"listens", "notifications"}

    def test_a_queue_without_the_operators_methods_is_no_operator_queue(self) -> None:
        """isinstance tells a partial queue from a whole one: what the dashboard relies on."""

        class Partial(MemoryJobQueue):
            # None marks a Protocol's method as not there (a class attribute:
            # from Python 3.12 isinstance reads attributes statically).
            jobs_page = None  # type: ignore[assignment]

        assert not isinstance(Partial(), OperatorQueue)
        assert isinstance(Partial(), SessionQueue)


class TestTheOperatorsDoor:
    def test_the_port_says_no_and_the_function_says_why(self, queue: SQLJobQueue) -> None:
        """retry/cancel/resolve_unknown on the queue: a bool; the functions: the job or a raise."""
        job = queue.enqueue(user="shop", kind="k")
        assert queue.retry(job.id, now=1.0) is False
        with pytest.raises(JobStateError, match="is pending"):
            retry_job(queue, job.id)
        with pytest.raises(JobStateError, match="is pending"):
            resolve_unknown(queue, job.id, happened=True)
        assert cancel_job(queue, job.id).state is JobState.CANCELLED
        assert queue.cancel(job.id, now=2.0) is False
        assert retry_job(queue, job.id).state is JobState.PENDING

    def test_the_handler_enqueues_only_registered_kinds_the_port_any(self) -> None:
        """QueueHandler.enqueue is the application's door; the queue's enqueue takes any name."""
        from qbwc_spyne.exceptions import ConfigurationError

        queue = MemoryJobQueue()
        handler = QueueHandler(queue, passwords=lambda user, password: True)
        with pytest.raises(ConfigurationError, match="no job kind named 'nope'"):
            handler.enqueue("nope", user="shop")
        assert queue.enqueue(user="shop", kind="nope").kind == "nope"


class TestLiveClientsListening:
    def test_a_queue_that_cannot_notify_is_polled(self) -> None:
        """No notifications port, or one that does not listen: the client polls, briefly."""

        class SessionOnly:
            def __init__(self) -> None:
                self._inner = MemoryJobQueue()

            def __getattr__(self, name: str) -> Any:
                if name in ("listens", "notifications"):
                    raise AttributeError(name)
                return getattr(self._inner, name)

        assert LiveClient(SessionOnly()).poll == 0.1
        memory = MemoryJobQueue()
        assert isinstance(memory, QueueNotifications) and not memory.listens
        assert LiveClient(memory).poll == 0.1
        with pytest.raises(StorageError, match="cannot notify"):
            memory.notifications()


class TestTheModules:
    def _imports(self, name: str) -> set[str]:
        tree = ast.parse((QUEUE_DIR / f"{name}.py").read_text(encoding="utf-8"))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found.add(node.module or "")
        return found

    def test_the_queue_modules_import_each_other_one_way(self) -> None:
        """ports <- kinds <- live <- handler; the operator's functions need only the ports."""
        assert self._imports("_ports") == set()
        assert self._imports("_kinds") <= {"_ports"}
        assert self._imports("_operator") <= {"_ports"}
        assert not {"_handler", "_jobs", "_operator"} & self._imports("_live")
        assert "_jobs" not in self._imports("_handler")

    def test_the_ports_import_nothing_of_the_package(self) -> None:
        tree = ast.parse((QUEUE_DIR / "_ports.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0 and not (node.module or "").startswith("qbwc_spyne")


class TestTheOldQueueName:
    def test_sqlite_job_queue_is_the_sql_queue_and_says_so_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The old name gives SQLJobQueue, with one DeprecationWarning naming it."""
        monkeypatch.setattr(qbwc_spyne._deprecation, "warned", set())
        with pytest.warns(DeprecationWarning, match=r"SQLiteJobQueue is deprecated: use .*SQLJob"):
            old = qbwc_spyne.SQLiteJobQueue
        assert old is SQLJobQueue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert qbwc_spyne.SQLiteJobQueue is SQLJobQueue

    def test_the_old_arguments_still_work(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """SQLiteJobQueue(path, timeout=, create=, upgrade=, prefix=) as before."""
        monkeypatch.setattr(qbwc_spyne._deprecation, "warned", set())
        with pytest.warns(DeprecationWarning, match="SQLiteJobQueue"):
            old = qbwc_spyne.SQLiteJobQueue
        path = tmp_path / "jobs.db"
        made = old(path, timeout=1.0, create=True, upgrade=False, prefix="old_")
        job = made.enqueue(user="shop", kind="k")
        made.close()
        again = SQLJobQueue(str(path), timeout=1.0, create=False, prefix="old_")
        assert again.get(job.id) is not None
        again.close()
