"""QBWCServer: the reference class, as its seed documents it, on the Web Connector endpoint.

:class:`QBWCServer` is :class:`~qbwc_spyne.server._app.WebConnectorApp`
(the endpoint :func:`make_wsgi_app` returns) with the reference class's
own interface added (``_reference.py``): ``qwc_file_info_*`` properties,
hooks, ``config()``, ``create_qwc_file()``, ``request_data`` and
``response_data``. Built without a handler it answers through the hooks;
built with one, it is that handler's endpoint, as ``make_wsgi_app`` gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..protocol._calls import CallObserver
from ..protocol._handler import QBWCHandler
from ..store._interfaces import SessionStore

# make_wsgi_app is imported from here too, as it was defined here.
from ._app import DEFAULT_MAX_BODY_BYTES, WebConnectorApp, make_wsgi_app
from ._reference import ReferenceInterface

if TYPE_CHECKING:
    from ._metrics import Metrics

__all__ = ["DEFAULT_MAX_BODY_BYTES", "QBWCServer", "make_wsgi_app"]


class QBWCServer(ReferenceInterface, WebConnectorApp):
    """The QBWCServer reference class: a Web Connector endpoint with the seed's interface.

    It has the QBWCServer reference class's own interface (the README's
    "Coming from the reference class"): ``QBWCServer()`` without a handler
    answers through hooks assigned as attributes
    (``server.on_authenticate = check``), and ``request_data``,
    ``process_request()``, ``response_data``, ``config()`` and
    ``create_qwc_file()`` work as that class documents. With a handler it
    serves that handler, as the app of :func:`make_wsgi_app` does, which is
    the same endpoint without this interface.

    Args:
        handler: the application's :class:`~qbwc_spyne.QBWCHandler`; None
            (the default) to answer through the assigned hooks.
        store: where sessions live; a :class:`~qbwc_spyne.MemorySessionStore`
            if not given (one process only: use
            :class:`~qbwc_spyne.SQLiteSessionStore` for several workers).
        public_url: the endpoint's URL as the Web Connector reaches it, for
            the WSDL's ``soap:address`` behind a proxy; by default the URL
            of the ``?wsdl`` request.
        max_body_bytes: the largest request body accepted (413 above it).
        session_timeout: seconds a session may stay idle before it expires.
        max_connection_retries: connectionError retries allowed per session.
        clock: the time source, for tests.
        observers: told of every call once it is answered (connection
            status, metrics); see ``qbwc_spyne.protocol._calls.Call``.
        metrics: a :class:`~qbwc_spyne.metrics.Metrics`: added to the
            observers, and served at ``GET /metrics`` beside the endpoint
            (under a prefix: ``GET <prefix>/metrics``).

    Raises:
        ConfigurationError: a handler that is not a QBWCHandler, or a bad limit.

    .. versionchanged:: Unreleased
       ``observers`` and ``metrics`` added.
    """

    def __init__(
        self,
        handler: QBWCHandler | None = None,
        *,
        store: SessionStore | None = None,
        public_url: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        session_timeout: float = 1800.0,
        max_connection_retries: int = 3,
        clock: Callable[[], float] = time.time,
        observers: Iterable[CallObserver] = (),
        metrics: Metrics | None = None,
    ) -> None:
        WebConnectorApp.__init__(
            self,
            self._init_reference(handler),
            store=store,
            public_url=public_url,
            max_body_bytes=max_body_bytes,
            session_timeout=session_timeout,
            max_connection_retries=max_connection_retries,
            clock=clock,
            observers=observers,
            metrics=metrics,
        )

    def process_request(self, request_data: bytes | None = None) -> bytes:
        """Serve one SOAP request; return the response bytes.

        For hosts that are not WSGI (the reference class's model): read the
        HTTP body yourself, call this, and send the result with
        ``Content-Type: text/xml; charset=utf-8``. It runs the same pipeline
        as the WSGI app, checks included; a fault comes back as a SOAP Fault
        document.

        Args:
            request_data: the HTTP body. Without it, the ``request_data``
                property is served and the answer also goes to the
                ``response_data`` property, as the reference class does.

        Returns:
            The response body: a SOAP answer, or a one-line SOAP fault for a
            body that cannot be served. Nothing is raised for bad input.
        """
        if request_data is None:
            self.response_data = ""
            response = WebConnectorApp.process_request(self, self._request_bytes())
            self.response_data = response.decode("utf-8")
            return response
        return WebConnectorApp.process_request(self, request_data)
