"""The events a :class:`~qbwc_spyne.QBWCHandler` receives, one per Web Connector call.

Each event is a mutable object: the handler reads the fields the Web
Connector sent and sets the fields that decide the answer. Field names and
defaults follow the event parameters of the QBWCServer reference class; the
table in the guide "Write a handler by hand" says what each settable field does on the wire.

Events tied to a session also carry ``session``, the
:class:`~qbwc_spyne.Session` with the handler's own ``data``.

The protocol core makes them, so they live in ``protocol/``; applications
import them from :mod:`qbwc_spyne.events`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ._session import Session

__all__ = [
    "AuthenticateEvent",
    "ClientVersionEvent",
    "CloseConnectionEvent",
    "ConnectionErrorEvent",
    "ErrorCode",
    "ErrorEvent",
    "GetInteractiveURLEvent",
    "GetLastErrorEvent",
    "InteractiveDoneEvent",
    "InteractiveRejectedEvent",
    "ReceiveResponseEvent",
    "SendRequestEvent",
    "ServerVersionEvent",
]


@dataclass(kw_only=True)
class ServerVersionEvent:
    """serverVersion: the Web Connector asks for this service's version.

    Set ``version`` to any text; the Web Connector shows it to its user.
    """

    version: str = ""


@dataclass(kw_only=True)
class ClientVersionEvent:
    """clientVersion: the Web Connector reports its own version.

    Set ``error_message`` to refuse the update ("E:"), ``warning_message`` to
    let the user choose ("W:"), or ``required_version`` to ask for an
    upgrade when ``client_version`` is older ("O:").
    """

    client_version: str
    required_version: str = ""
    error_message: str = ""
    warning_message: str = ""


@dataclass(kw_only=True)
class AuthenticateEvent:
    """authenticate: the Web Connector presents a user name and password.

    Set ``accept = False`` to refuse the user ("nvu"), ``busy`` to ask the Web
    Connector to try later, ``no_work`` when there is nothing to exchange
    ("none"), ``company_file`` to name the company file to open ("" = the one
    open in QuickBooks). ``update_delay`` postpones the update by that many
    seconds and ``update_interval`` sets the least auto-run interval in
    seconds; each is sent only when set. ``session_ticket`` holds a fresh
    random GUID; set it to use a ticket of your own.
    """

    user: str
    password: str
    accept: bool = True
    busy: bool = False
    no_work: bool = False
    session_ticket: str = ""
    company_file: str = ""
    update_delay: int | None = None
    update_interval: int | None = None

    def __repr__(self) -> str:
        # The password must never reach a log through a repr.
        return (
            f"AuthenticateEvent(user={self.user!r}, password='***', accept={self.accept!r}, "
            f"busy={self.busy!r}, no_work={self.no_work!r}, company_file={self.company_file!r})"
        )


@dataclass(kw_only=True)
class SendRequestEvent:
    """sendRequestXML: the Web Connector asks for the next qbXML request.

    Set ``request`` to a complete qbXML document. Leaving it empty makes the
    Web Connector call getLastError: that is how a handler reports an error,
    asks for a pause (NoOp) or for interactive mode.
    """

    session_ticket: str
    company_response: str
    host_response: str
    prefs_response: str
    company_file: str
    qbxml_country: str
    qbxml_major_version: int
    qbxml_minor_version: int
    request: str = ""
    session: Session | None = None


@dataclass(kw_only=True)
class ReceiveResponseEvent:
    """receiveResponseXML: QuickBooks' answer to the last request.

    ``success`` is false when the Web Connector reports an hresult instead of
    a response. Set ``percent_done``: below 100 asks for another request, 100
    ends the update, a negative value makes the Web Connector call
    getLastError.
    """

    session_ticket: str
    response: str
    error_code: str
    error_message: str
    success: bool
    percent_done: int = 100
    session: Session | None = None


@dataclass(kw_only=True)
class ConnectionErrorEvent:
    """connectionError: the Web Connector could not open QuickBooks.

    Set ``company_file`` to have the Web Connector retry with that company
    file; leave it empty to end the update ("done").
    """

    session_ticket: str
    error_code: str
    error_message: str
    company_file: str = ""
    session: Session | None = None


@dataclass(kw_only=True)
class GetLastErrorEvent:
    """getLastError: the Web Connector asks what went wrong.

    ``error_message`` starts as the session's last recorded error. Set
    ``pause`` to have the Web Connector wait and ask for a request again
    ("NoOp"), or ``interactive_mode`` to start an interactive session.
    """

    session_ticket: str
    pause: bool = False
    interactive_mode: bool = False
    error_message: str = ""
    session: Session | None = None


@dataclass(kw_only=True)
class CloseConnectionEvent:
    """closeConnection: the update is over; the session ends.

    ``response_message`` is shown in the Web Connector's status column.
    """

    session_ticket: str
    response_message: str = "OK"
    session: Session | None = None


@dataclass(kw_only=True)
class GetInteractiveURLEvent:
    """getInteractiveURL: the Web Connector asks which page to open.

    Set ``url`` to an https URL of your site.
    """

    session_ticket: str
    session_id: str
    url: str = ""
    session: Session | None = None


@dataclass(kw_only=True)
class InteractiveDoneEvent:
    """interactiveDone: the Web Connector asks if the interactive session is over.

    Leave ``response`` as ``"Done"`` when it is; any other value (for example
    ``"Continue"``) says it is still going on.
    """

    session_ticket: str
    response: str = "Done"
    session: Session | None = None


@dataclass(kw_only=True)
class InteractiveRejectedEvent:
    """interactiveRejected: the user declined the interactive session.

    ``response_message`` is shown to the user.
    """

    session_ticket: str
    reason_message: str
    response_message: str = ""
    session: Session | None = None


class ErrorCode(enum.IntEnum):
    """What kind of exceptional condition an :class:`ErrorEvent` reports."""

    #: A handler method raised; ``ErrorEvent.exception`` holds what it raised.
    HANDLER_FAILED = 1
    #: A call named a ticket that no live session has.
    UNKNOWN_TICKET = 2
    #: A call named a session that had been idle longer than the timeout.
    SESSION_EXPIRED = 3
    #: A call came that the session's state does not allow (e.g. a response
    #: with no request outstanding).
    PROTOCOL_VIOLATION = 4
    #: The server failed while serving the call (e.g. the session store).
    INTERNAL_ERROR = 5
    #: Data the Web Connector sent could not be read (e.g. a malformed HCP response).
    BAD_INPUT = 6


@dataclass(kw_only=True)
class ErrorEvent:
    """An exceptional condition while serving a call; informational.

    The server has already chosen the safe answer for the Web Connector; this
    event lets the application log or alert. ``operation`` is the WSDL name
    of the call being served; ``exception`` what was raised, if anything.
    """

    error_code: int
    description: str
    operation: str = ""
    exception: BaseException | None = None
    session: Session | None = None
