"""Live requests: ask a user's QuickBooks now, from any process, and wait for the answer.

.. versionadded:: Unreleased
"""

from __future__ import annotations

from .queue._live import Health, LiveClient

__all__ = ["Health", "LiveClient"]
