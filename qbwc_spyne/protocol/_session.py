"""A Web Connector session: what the server keeps between two calls."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HCP_FIELDS", "Session", "SessionState", "hcp_of"]

#: The session fields that hold the HCP responses: tens of KB, set by the
#: first sendRequestXML and not changed after, so a store writes them once.
HCP_FIELDS = ("host_response", "company_response", "prefs_response")


class SessionState(enum.Enum):
    """Where a session stands in the Web Connector's call sequence.

    The transitions between these states are the table in ``_core.py``.
    """

    #: Authenticated; the Web Connector will ask for a request next.
    READY = "ready"
    #: A request went out; its response (receiveResponseXML) is due.
    AWAITING_RESPONSE = "awaiting_response"
    #: We signalled an error or a pause; getLastError is due.
    AWAITING_LAST_ERROR = "awaiting_last_error"
    #: getLastError answered "Interactive mode"; the interactive calls are due.
    INTERACTIVE = "interactive"
    #: Nothing more will be exchanged; closeConnection is due.
    FINISHED = "finished"


@dataclass(kw_only=True)
class Session:
    """One Web Connector update, from authenticate to closeConnection.

    Events tied to a session carry it as ``event.session``. Handlers read it
    and may change ``data``; the server saves the session after every call,
    so ``data`` must hold JSON values only (it goes into the session store).

    Attributes:
        ticket: the ticket authenticate returned; the Web Connector echoes it.
        user: the Web Connector user name (``UserName`` of the QWC file).
        company_file: the company file path the Web Connector reported, or
            the one authenticate asked for.
        created: when authenticate created the session (seconds since the epoch).
        last_seen: when the last call for this session arrived.
        qbxml_country: the country edition of QuickBooks, e.g. ``"US"``.
        qbxml_major_version: the highest qbXML major version QuickBooks reported.
        qbxml_minor_version: the matching minor version.
        host_response: the HostQuery response of the first sendRequestXML.
        company_response: the CompanyQuery response of the first sendRequestXML.
        prefs_response: the PreferencesQuery response of the first sendRequestXML.
        last_error: the last error recorded for the session; getLastError
            returns it unless the handler says otherwise.
        data: the handler's own state, kept for the whole session.
        state: where the session stands in the call sequence (managed by the server).
        connection_retries: how many connectionError retries the session had.
        calls: how many Web Connector calls the session has served,
            authenticate included (for the log line that ends it).
    """

    ticket: str
    user: str
    company_file: str = ""
    created: float = 0.0
    last_seen: float = 0.0
    qbxml_country: str = ""
    qbxml_major_version: int = 0
    qbxml_minor_version: int = 0
    host_response: str = ""
    company_response: str = ""
    prefs_response: str = ""
    last_error: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    state: SessionState = SessionState.READY
    connection_retries: int = 0
    calls: int = 0

    def to_dict(self, *, hcp: bool = True) -> dict[str, Any]:
        """Return the session as JSON-ready values (what stores save).

        A shallow copy: ``data`` is the session's own dict, so serialise the
        result before changing the session again. (``dataclasses.asdict``
        deep-copies, which cost more than the rest of a call.)

        Args:
            hcp: include the HCP responses (:data:`HCP_FIELDS`); a store that
                keeps them apart leaves them out.

        Returns:
            The fields by name, the state as its value.

        .. versionchanged:: Unreleased
           ``hcp`` added.
        """
        values = dict(vars(self))
        values["state"] = self.state.value
        if not hcp:
            for name in HCP_FIELDS:
                del values[name]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Session:
        """Rebuild a session from :meth:`to_dict`'s output (fields left out keep their defaults)."""
        values = dict(values)
        values["state"] = SessionState(values["state"])
        return cls(**values)


def hcp_of(session: Session) -> tuple[str, str, str]:
    """The session's HCP responses: host, company, preferences."""
    return (session.host_response, session.company_response, session.prefs_response)
