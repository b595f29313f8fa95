"""The catalogue of error codes in words, under its old name.

.. deprecated:: Unreleased
   Import from :mod:`qbwc_spyne.codes`, the same names under a name that
   does not read as exceptions. This module re-exports them and will be
   removed in 1.0.
"""

from __future__ import annotations

from . import _deprecation
from .codes import Explanation, Kind, catalogue, describe, explain

__all__ = ["Explanation", "Kind", "catalogue", "describe", "explain"]

_deprecation.module_moved(__name__, "qbwc_spyne.codes")
