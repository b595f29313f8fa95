"""make_app: the endpoint, status, live client, dashboard and metrics of a production app."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.test import Client

from qbwc_spyne import MemoryJobQueue, QueueHandler, SQLJobQueue
from qbwc_spyne.app import App, make_app
from qbwc_spyne.exceptions import ConfigurationError, QuickBooksOffline
from qbwc_spyne.metrics import Metrics
from qbwc_spyne.status import MemoryStatusStore, SQLStatusStore, StatusRecorder
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

from .helpers import RecordingHandler, update

TOKEN = "script-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def queue_handler(queue: Any) -> QueueHandler:
    return QueueHandler(queue, passwords=lambda user, password: password == "pw")


def update_with_work(app: Any, user: str = "shop") -> None:
    """A Web Connector update with work to do, so that a session opens."""
    app.live.queue.enqueue(user=user, kind="unregistered")
    result = update(app, FakeQuickBooks(), user=user)
    assert result.ok, result.transcript()


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[App, str]]:
    """A full app over a SQLite queue, served on 127.0.0.1 by a real HTTP server."""
    queue = SQLJobQueue(tmp_path / "jobs.db")
    handler = queue_handler(queue)
    app = make_app(handler, metrics=Metrics(queue=queue), dashboard=True, dashboard_token=TOKEN)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.port}/"
    finally:
        server.shutdown()
        server.server_close()
        app.close()
        queue.close()


class TestServed:
    """Each part answers over HTTP, at its own path."""

    def test_the_endpoint_answers_the_web_connector(self, served):
        app, url = served
        assert "QBWebConnectorSvc" in requests.get(url + "?wsdl", timeout=10).text
        app.live.queue.enqueue(user="shop", kind="unregistered")
        result = WebConnector(url, user="shop", password="pw").update()
        assert result.ok, result.transcript()

    def test_the_metrics_are_at_slash_metrics(self, served):
        _app, url = served
        answer = requests.get(url + "metrics", timeout=10)
        assert answer.status_code == 200 and "qbwc_calls_total" in answer.text

    def test_the_dashboard_needs_its_token(self, served):
        _app, url = served
        refused = requests.get(url + "dashboard/jobs", timeout=10, allow_redirects=False)
        assert refused.status_code == 303
        assert refused.headers["Location"].startswith("/dashboard/login")
        wrong = {"Authorization": "Bearer nope"}
        assert requests.get(url + "dashboard/jobs", headers=wrong, timeout=10).status_code == 401
        answer = requests.get(url + "dashboard/jobs", headers=BEARER, timeout=10)
        assert answer.status_code == 200

    def test_the_status_goes_beside_the_jobs_in_the_queues_database(self, served, tmp_path):
        """What the dashboard shows is in the database, where `qbwc-spyne status` reads it."""
        app, url = served
        app.live.queue.enqueue(user="shop", kind="unregistered")
        assert WebConnector(url, user="shop", password="pw").update().ok
        reader = SQLStatusStore(tmp_path / "jobs.db", create=False)
        try:
            assert [row.user for row in reader.statuses()] == ["shop"]
        finally:
            reader.close()
        connections = requests.get(url + "dashboard/", headers=BEARER, timeout=10)
        assert ">shop<" in connections.text


class TestParts:
    def test_the_parts_are_attributes(self):
        metrics = Metrics()
        handler = queue_handler(MemoryJobQueue())
        app = make_app(handler, metrics=metrics, dashboard=True, dashboard_token=TOKEN)
        assert app.handler is handler and app.metrics is metrics
        assert app.endpoint.core.handler is handler
        assert isinstance(app.status, MemoryStatusStore)
        assert app.recorder in app.endpoint.core.observers
        assert metrics in app.endpoint.core.observers
        assert app.live is not None and app.live.status_store is app.status
        assert app.dashboard is not None and app.dashboard.live is app.live

    def test_the_recorder_records_the_calls(self):
        app = make_app(queue_handler(MemoryJobQueue()), dashboard=True, dashboard_token=TOKEN)
        update_with_work(app)
        assert app.status is not None
        (row,) = app.status.statuses(user="shop")
        assert row.last_seen is not None and row.last_success is not None

    def test_a_user_never_seen_is_offline_at_once(self):
        """The live client reads the recorded status: no wait for its whole timeout."""
        app = make_app(queue_handler(MemoryJobQueue()), dashboard=True, dashboard_token=TOKEN)
        assert app.live is not None
        with pytest.raises(QuickBooksOffline) as caught:
            app.live.health("nobody", timeout=5)
        assert caught.value.reason == "never seen" and app.live.queue.jobs() == []

    def test_live_requests_are_counted_in_the_metrics(self):
        metrics = Metrics()
        app = make_app(queue_handler(MemoryJobQueue()), metrics=metrics)
        assert app.live is not None and app.live.observe is not None
        app.live.observe(0.25, "offline")
        count = metrics.registry.get_sample_value(
            "qbwc_live_request_duration_seconds_count", {"outcome": "offline"}
        )
        assert count == 1

    def test_without_status_or_dashboard_nothing_is_recorded(self):
        app = make_app(queue_handler(MemoryJobQueue()))
        assert app.status is None and app.recorder is None and app.dashboard is None
        assert not any(isinstance(o, StatusRecorder) for o in app.endpoint.core.observers)
        assert app.live is not None and app.live.status_store is None

    def test_a_status_store_given_is_recorded_into_without_the_dashboard(self):
        status = MemoryStatusStore()
        app = make_app(queue_handler(MemoryJobQueue()), status=status)
        update_with_work(app)
        assert app.status is status and status.statuses(user="shop")

    def test_a_recorder_among_the_observers_is_the_one_used(self):
        """Its store is the app's status: no second recorder writes the same calls."""
        recorder = StatusRecorder(MemoryStatusStore())
        app = make_app(
            queue_handler(MemoryJobQueue()),
            observers=[recorder],
            dashboard=True,
            dashboard_token=TOKEN,
        )
        recorders = [o for o in app.endpoint.core.observers if isinstance(o, StatusRecorder)]
        assert recorders == [recorder] and app.recorder is recorder
        assert app.status is recorder.store
        assert app.live is not None and app.live.status_store is recorder.store

    def test_a_plain_handler_has_an_endpoint_and_metrics_but_no_live_client(self):
        app = make_app(RecordingHandler(), metrics=Metrics())
        assert app.live is None and app.dashboard is None
        assert Client(app).get("/metrics").status_code == 200
        assert "QBWebConnectorSvc" in Client(app).get("/?wsdl").text

    def test_without_the_dashboard_its_path_is_the_endpoints(self):
        app = make_app(queue_handler(MemoryJobQueue()))
        assert (
            Client(app).get("/dashboard/jobs").status_code
            == Client(app.endpoint).get("/dashboard/jobs").status_code
        )


class TestRefused:
    def test_the_dashboard_of_a_handler_without_a_queue(self):
        """It shows a job queue: a plain handler has none, and the error says what is needed."""
        with pytest.raises(
            ConfigurationError, match="needs a QueueHandler, not a RecordingHandler"
        ):
            make_app(RecordingHandler(), dashboard=True, dashboard_token=TOKEN)

    def test_the_dashboard_without_a_password_or_token(self):
        with pytest.raises(
            ConfigurationError,
            match=r"needs a password or a token: make_app\(\.\.\., dashboard_password=",
        ):
            make_app(queue_handler(MemoryJobQueue()), dashboard=True)

    def test_dashboard_settings_without_the_dashboard(self):
        """A password for a dashboard that is not served is a mistake, not a no-op."""
        with pytest.raises(ConfigurationError, match="dashboard_password given without"):
            make_app(queue_handler(MemoryJobQueue()), dashboard_password="secret")

    def test_the_endpoints_own_refusals(self):
        with pytest.raises(ConfigurationError, match="max_body_bytes"):
            make_app(queue_handler(MemoryJobQueue()), max_body_bytes=0)


class TestAnEndpointMadeAlready:
    """make_app around make_wsgi_app's endpoint: what `serve APP --dashboard` does."""

    def test_its_recorder_is_kept_and_the_parts_composed_around_it(self):
        from qbwc_spyne import make_wsgi_app

        status = MemoryStatusStore()
        recorder = StatusRecorder(status)
        endpoint = make_wsgi_app(queue_handler(MemoryJobQueue()), observers=[recorder])
        app = make_app(endpoint, dashboard=True, dashboard_token=TOKEN)
        assert app.endpoint is endpoint and app.recorder is recorder and app.status is status
        assert endpoint.core.observers == [recorder]
        assert app.live is not None and app.live.status_store is status
        update_with_work(app)
        assert status.statuses(user="shop")
        assert Client(app).get("/dashboard/", headers=BEARER).status_code == 200

    def test_without_a_recorder_one_is_added_to_the_endpoint(self):
        from qbwc_spyne import make_wsgi_app

        endpoint = make_wsgi_app(queue_handler(MemoryJobQueue()))
        app = make_app(endpoint, dashboard=True, dashboard_token=TOKEN)
        assert endpoint.core.observers == [app.recorder]
        update_with_work(app)
        assert app.status is not None and app.status.statuses(user="shop")

    @pytest.mark.parametrize(
        "given",
        [{"store": MemoryStatusStore()}, {"public_url": "https://x/"}, {"clock": time.time}],
    )
    def test_the_endpoints_own_options_are_refused_with_it(self, given):
        from qbwc_spyne import make_wsgi_app

        endpoint = make_wsgi_app(queue_handler(MemoryJobQueue()))
        (name,) = given
        with pytest.raises(ConfigurationError, match=rf"{name} given with an endpoint made"):
            make_app(endpoint, **given)
