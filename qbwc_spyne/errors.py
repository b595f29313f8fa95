"""The catalogue of error codes in words, under its old name.

.. deprecated:: Unreleased
   Import from :mod:`qbwc_spyne.codes`, the same names under a name that
   does not read as exceptions. This module re-exports them and will be
   removed in 1.0.
"""

from __future__ import annotations

from .codes import Explanation, Kind, catalogue, describe, explain

__all__ = ["Explanation", "Kind", "catalogue", "describe", "explain"]

# Not warning yet: modules of the package itself still import this name, and
# the package must import without a DeprecationWarning. Once none does, the
# module warns its importer (with `from . import _deprecation` above):
# _deprecation.module_moved("qbwc_spyne.errors", "qbwc_spyne.codes")
