"""What the protocol core needs from the outside, as Protocols it owns.

The core keeps no session of its own between two calls: it hands each one
to a :class:`SessionStore`. The backends (``qbwc_spyne.store``) implement
it; the core knows only this interface, so the protocol layer imports
nothing outside itself.

.. versionadded:: Unreleased
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._session import Session

__all__ = ["SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """Saves and loads sessions by ticket. Implementations must be thread-safe."""

    def get(self, ticket: str) -> Session | None:
        """Return a copy of the session with this ticket, or None."""

    def put(self, session: Session) -> None:
        """Save the session, replacing any saved under the same ticket."""

    def delete(self, ticket: str) -> None:
        """Forget the session; a missing ticket is not an error."""

    def purge(self, idle_before: float) -> int:
        """Delete sessions last seen before ``idle_before``; return how many."""
