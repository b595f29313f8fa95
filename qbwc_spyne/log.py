"""Logging: the library's records as JSON lines, with the call each belongs to.

.. versionadded:: Unreleased
"""

from __future__ import annotations

from .server._logging import JSONFormatter

__all__ = ["JSONFormatter"]
