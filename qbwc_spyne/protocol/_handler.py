"""The application's side of the Web Connector conversation."""

from __future__ import annotations

import abc
import logging

from ._events import (
    AuthenticateEvent,
    ClientVersionEvent,
    CloseConnectionEvent,
    ConnectionErrorEvent,
    ErrorEvent,
    GetInteractiveURLEvent,
    GetLastErrorEvent,
    InteractiveDoneEvent,
    InteractiveRejectedEvent,
    ReceiveResponseEvent,
    SendRequestEvent,
    ServerVersionEvent,
)

__all__ = ["QBWCHandler"]

logger = logging.getLogger("qbwc_spyne")


class QBWCHandler(abc.ABC):
    """Subclass this and override the events your application cares about.

    Each Web Connector call fires one method with one mutable event: read
    what the Web Connector sent, set the fields that decide the answer. The
    server turns the event into the exact value the Web Connector expects
    (the event table of the guide "Write a handler by hand" says which field does what).

    ``on_authenticate`` has no default and must be written: a server that
    accepts every user by accident is worse than one that does not start.
    Every other method has a default that keeps the session going the
    documented way.

    A handler instance serves every session and may be called from several
    threads at once: keep per-session state in ``event.session.data``, not
    on ``self``.

    If a method raises, the server answers the Web Connector with the safe
    value for that call (never a SOAP fault) and fires :meth:`on_error`.
    """

    @abc.abstractmethod
    def on_authenticate(self, event: AuthenticateEvent) -> None:
        """Check ``event.user`` and ``event.password``; decide whether there is work.

        Set ``event.accept = False`` for a bad user or password (compare in
        constant time: ``hmac.compare_digest``), ``event.no_work = True``
        when there is nothing to exchange (never accept a session you have
        no request for: the Web Connector fails on an empty first request),
        ``event.busy = True`` to be asked again later. ``event.company_file``
        names the company file to open; empty means the one open in QuickBooks.
        """

    def on_server_version(self, event: ServerVersionEvent) -> None:
        """Set ``event.version``; the Web Connector only displays it."""

    def on_client_version(self, event: ClientVersionEvent) -> None:
        """Accept or refuse ``event.client_version``; by default accept any."""

    def on_send_request(self, event: SendRequestEvent) -> None:
        """Set ``event.request`` to the next qbXML request document.

        Leaving it empty makes the Web Connector call getLastError; record
        why in ``event.session.last_error``, or answer in :meth:`on_get_last_error`.
        """

    def on_receive_response(self, event: ReceiveResponseEvent) -> None:
        """Process ``event.response``; set ``event.percent_done``.

        The default, 100, ends the update after the first response. Set a
        value below 100 to be asked for another request, or a negative one to
        report an error through getLastError.
        """

    def on_connection_error(self, event: ConnectionErrorEvent) -> None:
        """Set ``event.company_file`` to retry with it; by default end the update."""

    def on_get_last_error(self, event: GetLastErrorEvent) -> None:
        """Set ``event.pause``, ``event.interactive_mode`` or ``event.error_message``.

        By default the session's last recorded error is returned.
        """

    def on_close_connection(self, event: CloseConnectionEvent) -> None:
        """Set ``event.response_message`` (default "OK"); the session then ends."""

    def on_get_interactive_url(self, event: GetInteractiveURLEvent) -> None:
        """Set ``event.url`` to the page the Web Connector should open."""

    def on_interactive_done(self, event: InteractiveDoneEvent) -> None:
        """Leave ``event.response`` as "Done" when the interactive session is over."""

    def on_interactive_rejected(self, event: InteractiveRejectedEvent) -> None:
        """Set ``event.response_message`` to show the user."""

    def on_error(self, event: ErrorEvent) -> None:
        """Report an exceptional condition; by default it is logged in one line.

        The Web Connector has already been given a safe answer; use this to
        alert or record. An exception's traceback is logged at ERROR before
        this is called, whatever it does. What this method raises is logged
        and ignored.
        """
        logger.warning("%s: %s", event.operation or "qbwc", event.description)
