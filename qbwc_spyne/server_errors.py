"""The QBWCServer reference class's numbered errors: moved to :mod:`qbwc_spyne.reference`.

.. deprecated:: Unreleased
   Import them from :mod:`qbwc_spyne.reference` (``from qbwc_spyne import
   reference``; ``reference.for_status(...)``): the table lives beside the
   reference class it numbers.
"""

from __future__ import annotations

from . import _deprecation
from .server._reference_errors import (
    ERRORS,
    HRESULT_CODES,
    STATUS_CODES,
    UNSUPPORTED_VERSION,
    check_version,
    error,
    for_hresult,
    for_status,
    message,
)

__all__ = [
    "ERRORS",
    "HRESULT_CODES",
    "STATUS_CODES",
    "UNSUPPORTED_VERSION",
    "check_version",
    "error",
    "for_hresult",
    "for_status",
    "message",
]

_deprecation.module_moved(__name__, "qbwc_spyne.reference")
