"""Test an integration without Windows: both ends of the wire in Python.

Needs the ``testing`` extra (``pip install qbwc_spyne[testing]``), which
brings zeep.

- :class:`WebConnector` plays the Web Connector with zeep, against a WSGI
  app in-process or a server's URL, following its call order and honouring
  every answer as it does.
- :class:`FakeQuickBooks` answers the qbXML requests as QuickBooks does,
  from an in-memory company.
- :class:`WSGITransport` lets any zeep client call a WSGI app in-process,
  through werkzeug's test client: no server, no socket.

::

    quickbooks = FakeQuickBooks.from_json("company.json")
    result = WebConnector(app, user="shop", password="pw", quickbooks=quickbooks).update()
    assert result.ok, result.transcript()

The pytest plugin (installed with the package) gives the fixtures
``fake_quickbooks`` and ``web_connector``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests
import zeep
from requests.structures import CaseInsensitiveDict
from werkzeug.test import Client

from ..exceptions import ConfigurationError
from ._fakeqb import FakeQuickBooks, QuickBooksAnswer, QuickBooksUnavailable

__all__ = [
    "STATUSES",
    "WSDL_PATH",
    "Call",
    "Exchange",
    "FakeQuickBooks",
    "HTTPTransport",
    "QuickBooksAnswer",
    "QuickBooksUnavailable",
    "UpdateResult",
    "WSGITransport",
    "WebConnector",
    "make_client",
]

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


@dataclass(kw_only=True)
class Call:
    """One Web Connector call: its arguments (password masked), its answer, its time."""

    operation: str
    arguments: dict[str, Any]
    result: Any
    seconds: float


#: How an update ended, and what the Web Connector would tell its user.
STATUSES = {
    "ok": "The update completed.",
    "no work": "No data exchange required.",
    "busy": "The application is busy; the Web Connector will try again later.",
    "postponed": "The application postponed the update.",
    "auth failed": "Authentication failed: the user name or password is not valid.",
    "client refused": "The application refused this Web Connector version.",
    "cancelled": "The user cancelled the update after a warning.",
    "connection error": "QuickBooks could not be opened.",
    "error": "The update ended with an error from the application.",
    "interactive rejected": "The user rejected interactive mode.",
    "response lost": "The session died: a response never reached the application.",
    "runaway": "The update was stopped: too many calls.",
}


@dataclass(kw_only=True)
class UpdateResult:
    """What one update did: every call, the raw envelopes, and how it ended.

    Attributes:
        status: a key of :data:`STATUSES`, e.g. ``"ok"``, ``"no work"``, ``"error"``.
        messages: what the Web Connector would show its user, in order.
        calls: every call with its arguments, answer and duration.
        exchanges: the raw HTTP bodies of every call.
        requests: the qbXML requests the application sent.
        ticket: the session ticket.
        min_run_interval: authenticate's fourth element, in seconds, if sent.
        close_message: what closeConnection answered, the application's last
            word to the Web Connector's user (e.g. how many jobs failed);
            ``""`` when the update ended before closeConnection.
    """

    status: str = "ok"
    messages: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    ticket: str = ""
    min_run_interval: int | None = None
    close_message: str = ""

    @property
    def ok(self) -> bool:
        """True when the update completed."""
        return self.status == "ok"

    def operations(self) -> list[str]:
        """The operations called, in order."""
        return [call.operation for call in self.calls]

    def transcript(self) -> str:
        """A readable account of the update, one line a call."""
        lines = []
        for number, call in enumerate(self.calls, 1):
            args = ", ".join(f"{k}={_short(v)}" for k, v in call.arguments.items())
            lines.append(
                f"{number:>3}. {call.operation}({args}) -> {_short(call.result)}"
                f"  [{call.seconds * 1000:.1f} ms]"
            )
        lines.append(f"status: {self.status} ({STATUSES[self.status]})")
        lines.extend(f"message: {message}" for message in self.messages)
        return "\n".join(lines)

    def to_json(self) -> str:
        """The calls, status and messages as JSON (the raw envelopes left out)."""
        return json.dumps(
            {
                "status": self.status,
                "messages": self.messages,
                "close_message": self.close_message,
                "ticket": self.ticket,
                "calls": [asdict(call) for call in self.calls],
            },
            indent=2,
        )


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}...({len(text)} chars)"


class WebConnector:
    """Plays the QuickBooks Web Connector 2.x against a server.

    Follows the real call order and honours every answer as the Web
    Connector does: serverVersion; clientVersion (W: asks the user, E:
    and O: stop); authenticate (nvu, none, busy, a postponement, the company
    file); opening QuickBooks (connectionError on failure, retried with the
    company file the server returns); sendRequestXML, the first carrying
    the HCP response; a request goes to QuickBooks and its answer to
    receiveResponseXML; below 100 asks again, a negative percentage or an
    empty request calls getLastError, whose "NoOp" pauses and asks again,
    "Interactive mode" opens the interactive URL, and anything else ends
    the update with that error; closeConnection last.

    Args:
        target: a WSGI app (called in-process) or the endpoint's URL.
        user: the QWC file's UserName.
        password: the password the Web Connector's user typed.
        quickbooks: the QuickBooks to run requests against; an empty
            :class:`FakeQuickBooks` if not given.
        version: the Web Connector version sent to clientVersion.
        noop_delay: seconds to wait after "NoOp" (5 in the real one).
        accept_warning: whether the user continues after a "W:" warning.
        interactive: called with the interactive URL; returns True when the
            user completes the page, False when the user rejects it. By
            default the user rejects.
        interactive_polls: interactiveDone calls before the user gives up.
        max_calls: the guard against runaway sessions.
        progress: called with each percentage receiveResponseXML returns.
        sleep: the wait function, for tests.

    Raises:
        ConfigurationError: ``target`` is a string but not an http:// or https:// URL.
    """

    SERVICE = "{http://developer.intuit.com/}QBWebConnectorSvcSoap"

    def __init__(
        self,
        target: WSGIApp | str,
        *,
        user: str,
        password: str,
        quickbooks: FakeQuickBooks | None = None,
        version: str = "2.3.0.215",
        noop_delay: float = 5.0,
        accept_warning: bool = True,
        interactive: Callable[[str], bool] | None = None,
        interactive_polls: int = 10,
        max_calls: int = 10_000,
        progress: Callable[[int], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.quickbooks = quickbooks if quickbooks is not None else FakeQuickBooks()
        self.user = user
        self.password = password
        self.version = version
        self.noop_delay = noop_delay
        self.accept_warning = accept_warning
        self.interactive = interactive
        self.interactive_polls = interactive_polls
        self.max_calls = max_calls
        self.progress = progress
        self.sleep = sleep
        self.transport: WSGITransport | HTTPTransport
        if isinstance(target, str):
            _check_url(target)
            self.transport = HTTPTransport()
            client = make_client(self.transport)
            self._service = client.create_service(self.SERVICE, target)  # type: ignore[no-untyped-call]
        else:
            self.transport = WSGITransport(target)
            self._service = make_client(self.transport).service

    def update(self) -> UpdateResult:
        """Run one update, as "Update Selected" does; return what happened."""
        result = UpdateResult()
        start = len(self.transport.exchanges)
        try:
            self._update(result)
        except _Stop:
            pass
        finally:
            self.quickbooks.close()
            result.exchanges = self.transport.exchanges[start:]
        return result

    # -- the conversation ----------------------------------------------------------

    def _call(self, result: UpdateResult, operation: str, **arguments: Any) -> Any:
        if len(result.calls) >= self.max_calls:
            self._end(result, "runaway", f"Stopped after {self.max_calls} calls.")
        began = time.perf_counter()
        answer = getattr(self._service, operation)(**arguments)
        if isinstance(answer, list):
            answer = ["" if item is None else item for item in answer]
        elif answer is None:
            answer = ""  # zeep reads an empty string element as None
        shown = {k: ("***" if k == "strPassword" else v) for k, v in arguments.items()}
        result.calls.append(
            Call(
                operation=operation,
                arguments=shown,
                result=answer,
                seconds=time.perf_counter() - began,
            )
        )
        return answer

    def _end(self, result: UpdateResult, status: str, message: str = "") -> None:
        result.status = status
        if message:
            result.messages.append(message)
        raise _Stop

    def _update(self, result: UpdateResult) -> None:
        self._call(result, "serverVersion")
        answer = self._call(result, "clientVersion", strVersion=self.version)
        if answer.startswith("E:"):
            self._end(result, "client refused", answer[2:])
        if answer.startswith("O:"):
            self._end(
                result,
                "client refused",
                f"This application needs Web Connector version {answer[2:]} or later.",
            )
        if answer.startswith("W:"):
            result.messages.append(answer[2:])
            if not self.accept_warning:
                self._end(result, "cancelled")

        auth = self._call(result, "authenticate", strUserName=self.user, strPassword=self.password)
        auth = [*auth, "", "", "", ""]
        ticket, word = auth[0], auth[1]
        result.ticket = ticket
        if auth[3]:
            result.min_run_interval = int(auth[3])
        # The log upper-cases these words: match them in any case.
        if word.lower() == "nvu":
            self._end(result, "auth failed", STATUSES["auth failed"])
        if word.lower() == "none":
            self._end(result, "no work", STATUSES["no work"])
        if word.lower() == "busy":
            self._end(result, "busy", STATUSES["busy"])
        if auth[2] and int(auth[2]) > 0:
            self._end(result, "postponed", f"The update was postponed by {int(auth[2])} seconds.")

        company = self._open(result, ticket, word)
        self._exchange(result, ticket, company)

    def _open(self, result: UpdateResult, ticket: str, company: str) -> str:
        while True:
            try:
                return self.quickbooks.open(company)
            except QuickBooksUnavailable as failure:
                answer = self._call(
                    result,
                    "connectionError",
                    ticket=ticket,
                    hresult=failure.hresult,
                    message=failure.message,
                )
                if answer.lower() == "done":
                    result.messages.append(failure.message)
                    self._close(result, ticket, "connection error")
                company = answer

    def _exchange(self, result: UpdateResult, ticket: str, company: str) -> None:
        major, minor = self.quickbooks.highest_version()
        hcp = self.quickbooks.hcp_response()
        while True:
            request = self._call(
                result,
                "sendRequestXML",
                ticket=ticket,
                strHCPResponse=hcp,
                strCompanyFileName=company,
                qbXMLCountry=self.quickbooks.country,
                qbXMLMajorVers=major,
                qbXMLMinorVers=minor,
            )
            hcp = ""  # only the first sendRequestXML of a session carries it
            if not request:
                self._last_error(result, ticket)
                continue
            result.requests.append(request)
            answer: QuickBooksAnswer = self.quickbooks.process(request)
            if self.quickbooks.lose_responses > 0:
                self.quickbooks.lose_responses -= 1
                self._end(result, "response lost", STATUSES["response lost"])
            percent = self._call(
                result,
                "receiveResponseXML",
                ticket=ticket,
                response=answer.response,
                hresult=answer.hresult,
                message=answer.message,
            )
            if self.progress is not None:
                self.progress(percent)
            if percent >= 100:
                self._close(result, ticket, "ok")
            if percent < 0:
                self._last_error(result, ticket)

    def _last_error(self, result: UpdateResult, ticket: str) -> None:
        """getLastError and what its answer makes the Web Connector do."""
        answer = self._call(result, "getLastError", ticket=ticket)
        if answer == "NoOp":
            self.sleep(self.noop_delay)
            return
        if answer == "Interactive mode":
            self._interactive(result, ticket)
            return
        result.messages.append(answer)
        self._close(result, ticket, "error")

    def _interactive(self, result: UpdateResult, ticket: str) -> None:
        url = self._call(result, "getInteractiveURL", wcTicket=ticket, sessionID=str(uuid.uuid4()))
        completed = self.interactive(url) if self.interactive is not None else False
        if completed:
            for _ in range(self.interactive_polls):
                if self._call(result, "interactiveDone", wcTicket=ticket) == "Done":
                    return
                self.sleep(self.noop_delay)
        reason = (
            "User rejected interactive mode" if not completed else "Interactive session timed out"
        )
        message = self._call(result, "interactiveRejected", wcTicket=ticket, reason=reason)
        if message:
            result.messages.append(message)
        self._close(result, ticket, "interactive rejected")

    def _close(self, result: UpdateResult, ticket: str, status: str) -> None:
        message = self._call(result, "closeConnection", ticket=ticket)
        result.close_message = message
        if message:
            result.messages.append(message)
        self._end(result, status)


def _check_url(url: str) -> None:
    """Refuse a URL requests could not post to, naming the fix."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # "localhost:8000/qbwc" parses with "localhost" as its scheme.
        bare = url.split("://", 1)[-1]
        raise ConfigurationError(
            f"the URL {url!r} needs http:// or https:// and a host: "
            f"write http://{bare} (or https://{bare})"
        )


class _Stop(Exception):
    """The update is over (its status is set)."""
