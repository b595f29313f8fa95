"""Who may see the dashboard: a password for browsers, a token for scripts, CSRF tokens.

Strategy: nothing is kept on the server. A browser gets a session cookie
whose value is a random session id, whether it has logged in, and when it
expires, signed with HMAC-SHA256 under a key the dashboard holds. Each form
carries a CSRF token, the HMAC of that session id under the same key, so a
page of another site, which cannot read the cookie, cannot forge it. A
script sends ``Authorization: Bearer <token>`` instead: a browser never
adds that header by itself, so such requests need no CSRF token.

Secrets are compared with :func:`hmac.compare_digest` on their SHA-256
digests: the time taken says nothing about the secret, its length included.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass

__all__ = ["LoginGuard", "Signer", "Visit", "same_secret"]

#: How long a login lasts, in seconds.
LOGIN_LIFETIME = 12 * 3600
#: How long a cookie given before login lasts (long enough to type a password).
ANONYMOUS_LIFETIME = 3600


def same_secret(given: str, expected: str) -> bool:
    """Whether ``given`` is ``expected``, in time independent of both."""
    return hmac.compare_digest(
        hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest(),
        hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest(),
    )


@dataclass(frozen=True, kw_only=True)
class Visit:
    """What a valid session cookie says: its id, whether it logged in, when it expires."""

    sid: str
    logged_in: bool
    expires: int


class Signer:
    """Signs and checks session cookies and CSRF tokens with one key.

    Args:
        key: the HMAC key; every process serving the dashboard must use the
            same one, or a cookie made by one is refused by the others.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, data: bytes) -> str:
        return hmac.new(self._key, purpose.encode() + b"\0" + data, hashlib.sha256).hexdigest()

    def new_visit(self, *, logged_in: bool, now: float) -> Visit:
        """A fresh session id; a login always gets a new one, so an old id is worth nothing."""
        lifetime = LOGIN_LIFETIME if logged_in else ANONYMOUS_LIFETIME
        return Visit(
            sid=secrets.token_urlsafe(24), logged_in=logged_in, expires=int(now) + lifetime
        )

    def cookie(self, visit: Visit) -> str:
        """The cookie's value for ``visit``: its fields, then their signature."""
        data = json.dumps(
            {"sid": visit.sid, "in": visit.logged_in, "exp": visit.expires}, separators=(",", ":")
        ).encode()
        body = base64.urlsafe_b64encode(data).decode().rstrip("=")
        return f"{body}.{self._mac('cookie', body.encode())}"

    def visit(self, value: str | None, *, now: float) -> Visit | None:
        """The visit a cookie's value stands for; None if it is missing, forged or expired."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac("cookie", body.encode()).encode()):
            return None
        try:
            fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            visit = Visit(
                sid=str(fields["sid"]), logged_in=fields["in"] is True, expires=int(fields["exp"])
            )
        except (ValueError, KeyError, TypeError):
            return None
        return visit if visit.expires > now else None

    def csrf_token(self, visit: Visit) -> str:
        """The token this visit's forms carry."""
        return self._mac("csrf", visit.sid.encode())

    def csrf_ok(self, visit: Visit | None, token: str | None) -> bool:
        """Whether ``token`` is this visit's CSRF token (a missing one never is)."""
        if visit is None or not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(visit).encode())


class LoginGuard:
    """Slows password guessing: too many wrong passwords from one address, and it waits.

    After ``limit`` wrong passwords from one address within ``window``
    seconds, every login from that address, the right password included, is
    refused until the oldest of them is ``window`` seconds old: a guesser
    learns nothing during the wait. Kept in the process, for at most
    ``max_addresses`` addresses (the least recently wrong are forgotten).

    Args:
        limit: wrong passwords allowed per address and window.
        window: seconds over which they are counted.
        max_addresses: addresses remembered at most.
    """

    def __init__(self, *, limit: int = 10, window: float = 300.0, max_addresses: int = 10_000):
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self._wrong: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait(self, address: str, *, now: float) -> float:
        """Seconds ``address`` must wait before trying again; 0 when it may try now."""
        with self._lock:
            times = [t for t in self._wrong.get(address, ()) if now - t < self.window]
            if times:
                self._wrong[address] = times
            else:
                self._wrong.pop(address, None)
            if len(times) < self.limit:
                return 0.0
            return times[-self.limit] + self.window - now

    def failed(self, address: str, *, now: float) -> None:
        """Count a wrong password from ``address``."""
        with self._lock:
            times = self._wrong.pop(address, [])
            # Re-inserted last: the dict's order is the order of the latest failures.
            self._wrong[address] = [*times[-(self.limit - 1) :], now] if self.limit > 1 else [now]
            while len(self._wrong) > self.max_addresses:
                del self._wrong[next(iter(self._wrong))]

    def succeeded(self, address: str) -> None:
        """Forget the address's wrong passwords: the operator got in."""
        with self._lock:
            self._wrong.pop(address, None)
