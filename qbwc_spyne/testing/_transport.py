"""zeep transports that keep every exchange: over HTTP, or into a WSGI app in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import zeep
from requests.structures import CaseInsensitiveDict
from werkzeug.test import Client

__all__ = ["WSDL_PATH", "Exchange", "HTTPTransport", "WSGIApp", "WSGITransport", "make_client"]

#: The WSDL the Web Connector's client is built from.
WSDL_PATH = Path(__file__).resolve().parent.parent / "server" / "QBWebConnectorSvc.wsdl"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(kw_only=True)
class Exchange:
    """One HTTP request and its response, as they crossed the wire."""

    request: bytes
    request_headers: dict[str, str]
    status_code: int
    response: bytes
    response_headers: dict[str, str]


class _RecordingTransport(zeep.Transport):
    """A zeep transport that keeps every exchange, raw bytes included, in :attr:`exchanges`."""

    exchanges: list[Exchange]

    def _send(self, address: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        raise NotImplementedError

    def post(self, address: str, message: bytes | str, headers: dict[str, str]) -> Any:
        body = message.encode("utf-8") if isinstance(message, str) else message
        response = self._send(address, body, headers)
        self.exchanges.append(
            Exchange(
                request=body,
                request_headers=dict(headers),
                status_code=response.status_code,
                response=response.content,
                response_headers=dict(response.headers),
            )
        )
        return response


class HTTPTransport(_RecordingTransport):
    """zeep's HTTP transport, keeping every exchange in :attr:`exchanges`."""

    def __init__(self, *, timeout: float = 300) -> None:
        super().__init__(operation_timeout=timeout)  # type: ignore[no-untyped-call]
        self.exchanges = []

    def _send(self, address: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        response: requests.Response = zeep.Transport.post(self, address, body, headers)  # type: ignore[no-untyped-call]
        return response


class WSGITransport(_RecordingTransport):
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
        self.exchanges = []

    def _send(self, address: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        result = self._client.post(self._path, data=body, headers=headers)
        response = requests.Response()
        response.status_code = result.status_code
        response._content = result.get_data()
        response.headers = CaseInsensitiveDict(dict(result.headers))
        response.encoding = result.mimetype_params.get("charset", "utf-8")
        return response


def make_client(transport: zeep.Transport, *, strict: bool = True) -> zeep.Client:
    """Build a zeep client from the project's WSDL over ``transport``."""
    settings = zeep.Settings(strict=strict)
    client: zeep.Client = zeep.Client(  # type: ignore[no-untyped-call]
        str(WSDL_PATH), transport=transport, settings=settings
    )
    return client
