"""The Web Connector simulator: its call order, and what it does with each answer."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from ..exceptions import ConfigurationError
from ._errors import QuickBooksUnavailable
from ._fakeqb import FakeQuickBooks, QuickBooksAnswer
from ._result import STATUSES, Call, UpdateResult
from ._transport import HTTPTransport, WSGIApp, WSGITransport, make_client

__all__ = ["WebConnector"]


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
