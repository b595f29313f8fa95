"""A production app in one call: the Web Connector's endpoint and what runs beside it.

:func:`make_app` composes the parts a deployment serves from one process:
the endpoint (:func:`~qbwc_spyne.make_wsgi_app`), a status recorder, a
live client for the handler's queue, the operator's dashboard at
``/dashboard/`` and Prometheus metrics at ``/metrics``. ``qbwc-spyne serve``
builds its app with it:

.. code-block:: python

    import os

    from qbwc_spyne import QueueHandler, SQLJobQueue, SQLSessionStore, make_app
    from qbwc_spyne.metrics import Metrics
    from qbwc_spyne.auth import PasswordCheck

    queue = SQLJobQueue(os.environ["DATABASE_URL"])
    app = make_app(
        QueueHandler(queue, passwords=PasswordCheck({"shop": os.environ["SHOP_HASH"]})),
        store=SQLSessionStore(os.environ["DATABASE_URL"]),
        metrics=Metrics(queue=queue),
        dashboard=True,
        dashboard_password=os.environ["DASHBOARD_PASSWORD"],
        dashboard_secret_key=os.environ["DASHBOARD_SECRET"],
    )
    # gunicorn 'myapp:app' -c python:qbwc_spyne.gunicorn

Elsewhere in the application, ``app.live`` (a :class:`~qbwc_spyne.LiveClient`)
asks QuickBooks now: ``app.live.request("shop", qbxml.Rq("CustomerQueryRq",
{"FullName": "Acme"}))`` returns its answer once the user's Web Connector
takes the request.

.. versionadded:: Unreleased
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from .exceptions import ConfigurationError
from .protocol._calls import CallObserver
from .protocol._handler import QBWCHandler
from .protocol._ports import SessionStore
from .queue._handler import QueueHandler
from .queue._live import LiveClient
from .queue._ports import JobQueue
from .server._app import WebConnectorApp, make_wsgi_app
from .status import MemoryStatusStore, SQLStatusStore, StatusRecorder, StatusStore
from .store._queue import MemoryJobQueue, SQLJobQueue

if TYPE_CHECKING:
    from .dashboard import Dashboard
    from .server._metrics import Metrics

__all__ = ["App", "WebConnectorApp", "make_app"]

#: Where :func:`make_app` mounts the dashboard.
DASHBOARD_PATH = "/dashboard"


class App:
    """The app :func:`make_app` composes: a WSGI callable that holds its parts.

    Requests under ``/dashboard`` go to the dashboard (when there is one),
    every other one to the endpoint, which serves ``/metrics`` itself when
    it was given metrics.

    Attributes:
        endpoint: the Web Connector's endpoint, as :func:`~qbwc_spyne.make_wsgi_app`
            returns it; its ``core.observers`` include the status recorder.
        status: the status store the recorder fills, or None (no status kept).
        recorder: the :class:`~qbwc_spyne.status.StatusRecorder` filling it,
            or None.
        live: a :class:`~qbwc_spyne.LiveClient` for a ``QueueHandler``'s
            queue (reading ``status``, its requests counted in ``metrics``),
            else None.
        dashboard: the operator's dashboard, or None.
        metrics: the metrics served at ``/metrics``, or None.

    .. versionadded:: Unreleased
    """

    def __init__(
        self,
        endpoint: WebConnectorApp,
        *,
        status: StatusStore | None = None,
        recorder: StatusRecorder | None = None,
        live: LiveClient | None = None,
        dashboard: Dashboard | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.status = status
        self.recorder = recorder
        self.live = live
        self.dashboard = dashboard
        self.metrics = metrics
        self._wsgi: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]] = (
            DispatcherMiddleware(endpoint, {DASHBOARD_PATH: dashboard})
            if dashboard is not None
            else endpoint
        )

    @property
    def handler(self) -> QBWCHandler:
        """The application's handler."""
        return self.endpoint.handler

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        return self._wsgi(environ, start_response)

    def close(self) -> None:
        """Stop the live client's listening (PostgreSQL); the stores stay open, as given."""
        if self.live is not None:
            self.live.close()


def make_app(
    target: QBWCHandler | WebConnectorApp,
    *,
    store: SessionStore | None = None,
    public_url: str | None = None,
    status: StatusStore | None = None,
    observers: Iterable[CallObserver] = (),
    metrics: Metrics | None = None,
    dashboard: bool = False,
    dashboard_password: str | None = None,
    dashboard_token: str | None = None,
    dashboard_secret_key: bytes | str | None = None,
    dashboard_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> App:
    """Compose the production app serving ``handler``: endpoint, status, live, dashboard, metrics.

    Status: the calls are recorded (a :class:`~qbwc_spyne.status.StatusRecorder`
    among the endpoint's observers) into ``status`` when one is given. The
    dashboard needs one: without ``status``, it reads the store of a recorder
    given in ``observers``, else a store is made beside the queue's jobs (in
    the queue's own database for a SQL queue, so that ``qbwc-spyne status``
    reads what the dashboard shows; in memory otherwise). Without status and
    without the dashboard nothing is recorded.

    Live: for a :class:`~qbwc_spyne.QueueHandler`, ``app.live`` is a
    :class:`~qbwc_spyne.LiveClient` of its queue, reading the status (so
    that a user whose Web Connector is not there is offline at once) and
    counting its requests in the metrics (and in any observer with an
    ``observe_live_request``). The dashboard's health check uses it.

    An endpoint made already (by ``make_wsgi_app``, or a ``QBWCServer``)
    may be given instead of a handler: the parts are composed around it, its
    own observers kept (a status recorder among them is the one used), and
    the endpoint's options are its own, so ``store``, ``public_url``,
    ``observers``, ``metrics`` and the rest are refused with it.
    ``qbwc-spyne serve APP --dashboard`` does this.

    Args:
        target: the application's handler (a ``QueueHandler`` for the
            dashboard and the live client), or its endpoint.
        store: where sessions live (default: in memory, one process).
        public_url: the endpoint's public URL, when behind a proxy.
        status: where connection status and session transcripts are recorded.
        observers: more observers of every call (see ``make_wsgi_app``).
        metrics: a :class:`~qbwc_spyne.metrics.Metrics`, served at ``GET /metrics``
            and counting the calls and live requests.
        dashboard: serve the operator's dashboard at ``/dashboard/``
            (needs the ``dashboard`` extra).
        dashboard_password: the password a browser logs in to the dashboard with.
        dashboard_token: a token scripts send as ``Authorization: Bearer <token>``.
            The dashboard needs this or the password: it is never open.
        dashboard_secret_key: the key its session cookies are signed with;
            give every process serving it the same one (default: a random
            key, so logins end with the process).
        dashboard_options: more arguments of
            :func:`~qbwc_spyne.dashboard.make_dashboard_app` (``page_size``,
            ``title``, ``stale_after``, ``live_timeout``, ``clock``).
        **options: the rest of ``make_wsgi_app``'s: ``max_body_bytes``,
            ``session_timeout``, ``max_connection_retries``, ``clock``.

    Returns:
        The :class:`App`: the WSGI callable, with its parts as attributes.

    Raises:
        ConfigurationError: the dashboard for a handler that is not a
            ``QueueHandler``, or without a password or token, a
            ``dashboard_*`` argument without ``dashboard=True``, or what
            ``make_wsgi_app`` and ``make_dashboard_app`` refuse.

    .. versionadded:: Unreleased
    """
    settings = {
        "dashboard_password": dashboard_password,
        "dashboard_token": dashboard_token,
        "dashboard_secret_key": dashboard_secret_key,
        "dashboard_options": dashboard_options,
    }
    if not dashboard and any(value is not None for value in settings.values()):
        given = ", ".join(name for name, value in settings.items() if value is not None)
        raise ConfigurationError(f"{given} given without dashboard=True: serve the dashboard?")
    if isinstance(target, WebConnectorApp):
        made = {"store": store, "public_url": public_url, "metrics": metrics, **options}
        own = [name for name, value in made.items() if value is not None]
        if own or observers:
            named = ", ".join([*own, *(["observers"] if observers else [])])
            raise ConfigurationError(
                f"{named} given with an endpoint made already: give them to make_wsgi_app"
            )
        endpoint: WebConnectorApp | None = target
        handler = target.handler
        watching = target.core.observers
    else:
        endpoint, handler = None, target
        watching = list(observers)
    if dashboard and dashboard_password is None and dashboard_token is None:
        raise ConfigurationError(
            "the dashboard needs a password or a token: make_app(...,"
            " dashboard_password=...) or dashboard_token=...; it is never open"
        )
    queue = handler.queue if isinstance(handler, QueueHandler) else None
    if dashboard and queue is None:
        raise ConfigurationError(
            "the dashboard shows a job queue: make_app(..., dashboard=True) needs a"
            f" QueueHandler, not a {type(handler).__name__}"
        )
    recorder = _status_recorder(watching)
    if status is None and recorder is not None:
        status = recorder.store
    elif status is None and dashboard and queue is not None:
        status = _status_beside(queue)
    if status is not None and (recorder is None or recorder.store is not status):
        recorder = StatusRecorder(status)
        # For an endpoint made already, its core's observers are this list:
        # the one place left to record its calls from.
        watching.append(recorder)
    if endpoint is None:
        endpoint = make_wsgi_app(
            handler,
            store=store,
            public_url=public_url,
            observers=watching,
            metrics=metrics,
            **options,
        )
    live = None
    if isinstance(handler, QueueHandler):
        # Checked at once as the session would check it, and against the
        # sessions' own timeout and clock.
        live = LiveClient(
            handler.queue,
            status=status,
            session_timeout=endpoint.core.session_timeout,
            clock=endpoint.core.clock,
            version=handler.version_cap,
            encoding=handler.encoding,
            codepage=handler.codepage,
            observe=_live_observer(endpoint.core.observers),
        )
    board = None
    if dashboard and queue is not None:
        from .dashboard import make_dashboard_app

        board = make_dashboard_app(
            queue,
            status=status,
            live=live,
            password=dashboard_password,
            token=dashboard_token,
            secret_key=dashboard_secret_key,
            **(dashboard_options or {}),
        )
    return App(
        endpoint, status=status, recorder=recorder, live=live, dashboard=board, metrics=metrics
    )


def _status_recorder(observers: Iterable[object]) -> StatusRecorder | None:
    """The first status recorder among ``observers``, if there is one."""
    for observer in observers:
        if isinstance(observer, StatusRecorder):
            return observer
    return None


def _status_beside(queue: JobQueue) -> StatusStore:
    """A status store beside ``queue``'s jobs: in its database when it has one, else in memory.

    In the queue's own database (its tables beside the jobs', the same
    connections), ``qbwc-spyne status`` on that database reads what a
    dashboard shows.
    """
    if isinstance(queue, SQLJobQueue) and not isinstance(queue, MemoryJobQueue):
        return SQLStatusStore(queue._db)
    return MemoryStatusStore()


def _live_observer(observers: Iterable[object]) -> Callable[[float, str], None] | None:
    """One callback reporting a live request to each observer that counts them, or None."""
    counters: list[Callable[[float, str], None]] = [
        observer.observe_live_request
        for observer in observers
        if hasattr(observer, "observe_live_request")
    ]
    if not counters:
        return None

    def observe(seconds: float, outcome: str) -> None:
        for count in counters:
            count(seconds, outcome)

    return observe
