"""Checking Web Connector passwords against stored hashes.

The Web Connector sends the password its user typed with every
authenticate call. Store only a hash of it (``qbwc-spyne hash-password``
makes one) and check with :class:`PasswordCheck`:

.. code-block:: python

    from qbwc_spyne import QBWCHandler, make_wsgi_app
    from qbwc_spyne.auth import PasswordCheck, hash_password

    check = PasswordCheck({"shop": hash_password("s3cret")})  # the hash: from your settings

    class Handler(QBWCHandler):
        def on_authenticate(self, event):
            event.accept = check.verify(event.user, event.password)
            event.no_work = True  # no request yet: on_send_request would send it

    app = make_wsgi_app(Handler())

Hashes are Argon2id, through argon2-cffi. An unknown user name is checked
against a decoy hash made with the most expensive parameters among the
stored hashes, so that the answer's timing does not tell an attacker which
user names are real. Hashes stored with other parameters than today's
(older argon2-cffi defaults, say) can be upgraded as their users log in:

.. code-block:: python

    from argon2 import PasswordHasher

    hashes = {"shop": PasswordHasher(time_cost=1).hash("s3cret")}  # yesterday's parameters
    check = PasswordCheck(hashes)

    class Upgrading(QBWCHandler):
        def on_authenticate(self, event):
            event.accept = check.verify(event.user, event.password)
            event.no_work = True
            if event.accept:
                new_hash = check.upgrade(event.user, event.password)
                if new_hash is not None:
                    hashes[event.user] = new_hash  # yours: save it where the hashes live

    app = make_wsgi_app(Upgrading())

.. versionadded:: 0.1.0
.. versionchanged:: 0.2.0
   The decoy costs what the costliest stored hash costs;
   :meth:`PasswordCheck.needs_rehash` and :meth:`PasswordCheck.upgrade`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from argon2 import Parameters, PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .exceptions import ConfigurationError

__all__ = ["PasswordCheck", "hash_password"]

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """Return an Argon2id hash of ``password``, with its salt and parameters."""
    return _HASHER.hash(password)


def _cost(parameters: Parameters) -> tuple[int, int]:
    # Argon2 fills memory_cost KiB time_cost times; lanes run in parallel
    # threads, so fewer lanes take longer for the same work.
    return parameters.time_cost * parameters.memory_cost, -parameters.parallelism


class PasswordCheck:
    """Verifies user names and passwords against Argon2 hashes.

    Args:
        hashes: user name -> hash, as :func:`hash_password` returns.
        hasher: the parameters new hashes get (:meth:`upgrade`,
            :meth:`needs_rehash`); argon2-cffi's defaults if not given.

    Raises:
        ConfigurationError: a stored value is not an Argon2 hash.
    """

    def __init__(self, hashes: Mapping[str, str], *, hasher: PasswordHasher | None = None) -> None:
        for user, stored in hashes.items():
            try:
                if not stored.startswith("$argon2"):
                    raise InvalidHashError(stored)
                extract_parameters(stored)
            except InvalidHashError:
                raise ConfigurationError(
                    f"the password hash of {user!r} is not an Argon2 hash"
                ) from None
        self._hashes = dict(hashes)
        self._hasher = hasher if hasher is not None else _HASHER
        # Checked when the user is unknown. With the costliest stored
        # parameters, an unknown user takes as long as the slowest real one;
        # with today's defaults instead, a user whose hash has dearer
        # parameters answers measurably slower than a name that does not exist.
        self._costs: dict[str, tuple[int, int]] = {}
        self._decoy = ""
        self._decoy_cost = (0, 0)
        self._make_decoy()

    def _make_decoy(self) -> None:
        """Hash the decoy with the costliest parameters stored now."""
        self._costs = {user: _cost(extract_parameters(h)) for user, h in self._hashes.items()}
        dearest = max(self._hashes, key=self._costs.__getitem__, default=None)
        decoy_hasher = (
            self._hasher
            if dearest is None
            else PasswordHasher.from_parameters(extract_parameters(self._hashes[dearest]))
        )
        self._decoy = decoy_hasher.hash(os.urandom(16).hex())
        self._decoy_cost = _cost(extract_parameters(self._decoy))

    @property
    def decoy_parameters(self) -> Parameters:
        """The Argon2 parameters of the hash an unknown user name is checked against."""
        return extract_parameters(self._decoy)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PasswordCheck:
        """Read ``user:hash`` lines (``#`` starts a comment) from a file."""
        hashes = {}
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, stored = line.partition(":")
            if not sep or not user:
                raise ConfigurationError(f"{path}:{number}: expected user:hash")
            hashes[user] = stored
        return cls(hashes)

    def verify(self, user: str, password: str) -> bool:
        """Tell whether ``password`` is ``user``'s; never raises for a wrong one.

        Args:
            user: the user name the Web Connector sent.
            password: the password it sent.

        Returns:
            True for a known user with the right password, else False.
        """
        stored = self._hashes.get(user)
        matches = self._matches(stored if stored is not None else self._decoy, password)
        if stored is not None and self._costs[user] < self._decoy_cost:
            # A real user whose hash is cheaper than the decoy would answer
            # faster than a name that does not exist: the decoy's check makes
            # up the difference, so no user answers sooner than an unknown name.
            self._matches(self._decoy, password)
        return matches and stored is not None

    def _matches(self, stored: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(stored, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, user: str) -> bool:
        """Tell whether ``user``'s stored hash has other parameters than new hashes get.

        Returns:
            True when the hash should be replaced (see :meth:`upgrade`);
            False for an up-to-date hash or an unknown user.
        """
        stored = self._hashes.get(user)
        return stored is not None and self._hasher.check_needs_rehash(stored)

    def upgrade(self, user: str, password: str) -> str | None:
        """Rehash ``user``'s password with today's parameters, if the stored hash needs it.

        Call it after :meth:`verify` accepted the password: it verifies again
        (only when a rehash is due) before hashing. The new hash replaces the
        old one in this check; store it where your hashes live.

        Args:
            user: the user name.
            password: the password the Web Connector sent.

        Returns:
            The new hash, or None when no upgrade is due or the password is wrong.
        """
        if not self.needs_rehash(user) or not self.verify(user, password):
            return None
        new = self._hasher.hash(password)
        self._hashes[user] = new
        self._make_decoy()  # the dearest parameters stored may have changed
        return new
