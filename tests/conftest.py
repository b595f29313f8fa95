from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qbwc_spyne import (
    MemoryJobQueue,
    MemorySessionStore,
    QBWCHandler,
    QBWCServer,
    QueueHandler,
    SQLSessionStore,
)
from qbwc_spyne.protocol._core import Core
from qbwc_spyne.testing import WSGITransport, make_client

from .helpers import FakeClock, RecordingHandler, close_test_connections, response_schema

pytest_plugins = ["qbwc_spyne.testing.pytest_plugin", "tests.postgres"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def handler() -> RecordingHandler:
    """A handler that accepts every user with the open company file and records events."""
    return RecordingHandler(authenticate={"company_file": ""})


@pytest.fixture
def store() -> MemorySessionStore:
    return MemorySessionStore()


@pytest.fixture
def core(handler: RecordingHandler, store: MemorySessionStore, clock: FakeClock) -> Core:
    """The protocol core alone, without spyne."""
    return Core(handler, store, clock=clock)


@pytest.fixture
def make_core(store: MemorySessionStore, clock: FakeClock) -> Callable[..., Core]:
    """Build a :class:`Core` for ``handler`` on the test's ``store`` and ``clock``.

    Core's own options pass through, and ``store=`` or ``clock=`` replace the
    test's: ``make_core(RecordingHandler(authenticate={}), observers=[seen])``.
    """

    def make(handler: QBWCHandler, **options: Any) -> Core:
        options.setdefault("clock", clock)
        return Core(handler, options.pop("store", store), **options)

    return make


@pytest.fixture
def queue() -> MemoryJobQueue:
    """A job queue in memory (a test module may serve its own ``queue``)."""
    return MemoryJobQueue()


@pytest.fixture
def make_handler(queue: Any) -> Callable[..., QueueHandler]:
    """Build a :class:`QueueHandler` on the test's ``queue``, for the password "pw".

    QueueHandler's options pass through (``kinds=``, ``clock=``, ``passwords=``,
    ...); with no ``clock=`` it keeps its own, the real time, as the queue does.
    ``make_handler(other_queue)`` serves another queue.
    """

    def make(jobs: Any = None, **options: Any) -> QueueHandler:
        options.setdefault("passwords", lambda user, password: password == "pw")
        return QueueHandler(queue if jobs is None else jobs, **options)

    return make


@pytest.fixture
def server(handler: RecordingHandler, store: MemorySessionStore, clock: FakeClock) -> QBWCServer:
    return QBWCServer(handler, store=store, clock=clock, public_url="https://qb.example.com/qbwc")


@pytest.fixture
def transport(server: QBWCServer) -> WSGITransport:
    """A zeep transport calling the server in-process; it keeps every exchange."""
    return WSGITransport(server)


@pytest.fixture
def wc(transport: WSGITransport) -> Any:
    """zeep, built strictly from wsdl/, playing the Web Connector: ``wc.authenticate(...)``."""
    return make_client(transport).service


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """A session store of each kind: in memory, a SQLite file, PostgreSQL."""
    if request.param == "memory":
        yield MemorySessionStore()
    elif request.param == "sqlite":
        yield SQLSessionStore(tmp_path / "sessions.db")
    else:
        postgres = request.getfixturevalue("postgres")
        store = SQLSessionStore(postgres.url(), prefix=request.getfixturevalue("pg_prefix"))
        yield store
        store.close()


@pytest.fixture(scope="session")
def schema():
    return response_schema()


@pytest.fixture(autouse=True)
def _close_test_connections() -> Iterator[None]:
    yield
    close_test_connections()


@pytest.fixture(autouse=True)
def _quiet_spyne(caplog: pytest.LogCaptureFixture) -> None:
    # spyne logs client faults with tracebacks at ERROR; capture, don't print.
    caplog.set_level(logging.INFO)
