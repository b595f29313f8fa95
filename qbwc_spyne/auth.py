"""Checking Web Connector passwords against stored hashes.

The Web Connector sends the password its user typed with every
authenticate call. Store only a hash of it (``qbwc-spyne hash-password``
makes one) and check with :class:`PasswordCheck`::

    check = PasswordCheck({"shop": "$argon2id$v=19$m=65536,t=3,p=4$..."})

    class Handler(QBWCHandler):
        def on_authenticate(self, event):
            event.accept = check.verify(event.user, event.password)

Hashes are Argon2id, through argon2-cffi. Verification takes the same time
whether or not the user exists, so the answer's timing does not tell an
attacker which user names are real.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .exceptions import ConfigurationError

__all__ = ["PasswordCheck", "hash_password"]

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """Return an Argon2id hash of ``password``, with its salt and parameters."""
    return _HASHER.hash(password)


class PasswordCheck:
    """Verifies user names and passwords against Argon2 hashes.

    Args:
        hashes: user name -> hash, as :func:`hash_password` returns.

    Raises:
        ConfigurationError: a stored value is not an Argon2 hash.
    """

    def __init__(self, hashes: Mapping[str, str]) -> None:
        for user, stored in hashes.items():
            if not stored.startswith("$argon2"):
                raise ConfigurationError(f"the password hash of {user!r} is not an Argon2 hash")
        self._hashes = dict(hashes)
        # Checked when the user is unknown, so that both paths cost the same.
        self._decoy = hash_password(os.urandom(16).hex())

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
        """Tell whether ``password`` is ``user``'s; never raises for a wrong one."""
        stored = self._hashes.get(user)
        try:
            _HASHER.verify(stored if stored is not None else self._decoy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored is not None
