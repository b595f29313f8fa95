"""Test an integration without Windows: zeep plays the Web Connector.

Needs the ``testing`` extra (``pip install qbwc_spyne[testing]``), which
brings zeep.

:class:`WSGITransport` lets a zeep client call a WSGI app in-process,
through werkzeug's test client: no server, no socket.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import zeep
from requests.structures import CaseInsensitiveDict
from werkzeug.test import Client

__all__ = ["WSDL_PATH", "Exchange", "WSGITransport", "make_client"]

#: The WSDL the Web Connector's client is built from.
WSDL_PATH = Path(__file__).resolve().parent / "QBWebConnectorSvc.wsdl"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(kw_only=True)
class Exchange:
    """One HTTP request and its response, as they crossed the wire."""

    request: bytes
    request_headers: dict[str, str]
    status_code: int
    response: bytes
    response_headers: dict[str, str]


class WSGITransport(zeep.Transport):
    """A zeep transport that calls a WSGI app in-process instead of the network.

    Every exchange is kept in :attr:`exchanges`, raw bytes included.

    Args:
        app: the WSGI application, e.g. from :func:`qbwc_spyne.make_wsgi_app`.
        path: the path the app is called at.
    """

    def __init__(self, app: WSGIApp, *, path: str = "/") -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._client = Client(app)
        self._path = path
        self.exchanges: list[Exchange] = []

    def post(self, address: str, message: bytes | str, headers: dict[str, str]) -> Any:
        body = message.encode("utf-8") if isinstance(message, str) else message
        result = self._client.post(self._path, data=body, headers=headers)
        response = requests.Response()
        response.status_code = result.status_code
        response._content = result.get_data()
        response.headers = CaseInsensitiveDict(dict(result.headers))
        response.encoding = result.mimetype_params.get("charset", "utf-8")
        self.exchanges.append(
            Exchange(
                request=body,
                request_headers=dict(headers),
                status_code=result.status_code,
                response=response._content,
                response_headers=dict(result.headers),
            )
        )
        return response


def make_client(transport: zeep.Transport, *, strict: bool = True) -> zeep.Client:
    """Build a zeep client from the project's WSDL over ``transport``."""
    settings = zeep.Settings(strict=strict)
    client: zeep.Client = zeep.Client(  # type: ignore[no-untyped-call]
        str(WSDL_PATH), transport=transport, settings=settings
    )
    return client
