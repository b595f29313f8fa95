"""QBWCServer: the reference class, as its seed documents it, on the Web Connector endpoint.

:class:`QBWCServer` is :class:`~qbwc_spyne.server._app.WebConnectorApp`
(the endpoint :func:`make_wsgi_app` returns) with the reference class's
own interface added (``_reference.py``): ``qwc_file_info_*`` properties,
hooks, ``config()``, ``create_qwc_file()``, ``request_data`` and
``response_data``. Built without a handler it answers through the hooks;
built with one, it is that handler's endpoint, as ``make_wsgi_app`` gives.
"""

from __future__ import annotations

from typing import Unpack

from ..protocol._handler import QBWCHandler
from ._app import EndpointOptions, WebConnectorApp
from ._reference import ReferenceInterface

__all__ = ["QBWCServer"]


class QBWCServer(ReferenceInterface, WebConnectorApp):
    """The QBWCServer reference class: a Web Connector endpoint with the seed's interface.

    It has the QBWCServer reference class's own interface (the guide
    "Coming from another Web Connector library", From the reference class):
    ``QBWCServer()`` without a handler answers through hooks assigned as attributes
    (``server.on_authenticate = check``), and ``request_data``,
    ``process_request()``, ``response_data``, ``config()`` and
    ``create_qwc_file()`` work as that class documents. With a handler it
    serves that handler, as the app of :func:`make_wsgi_app` does, which is
    the same endpoint without this interface.

    Args:
        handler: the application's :class:`~qbwc_spyne.QBWCHandler`; None
            (the default) to answer through the assigned hooks.
        **options: ``store``, ``public_url``, ``max_body_bytes``,
            ``session_timeout``, ``max_connection_retries``, ``clock``,
            ``observers``, ``metrics``: the endpoint's, as
            :class:`~qbwc_spyne.server._app.WebConnectorApp` takes them.

    Raises:
        ConfigurationError: a handler that is not a QBWCHandler, or a bad limit.

    .. versionchanged:: Unreleased
       ``observers`` and ``metrics`` added.
    """

    def __init__(
        self, handler: QBWCHandler | None = None, **options: Unpack[EndpointOptions]
    ) -> None:
        WebConnectorApp.__init__(self, self._init_reference(handler), **options)

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
