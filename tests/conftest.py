from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from qbwc_spyne import MemorySessionStore, QBWCServer, SQLiteSessionStore, SQLSessionStore
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
        yield SQLiteSessionStore(tmp_path / "sessions.db")
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
