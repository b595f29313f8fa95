"""Moved: the recorder is in ``qbwc_spyne.status._recorder``, the reading in ``status._model``.

A plain re-export for the command line, which still imports from here;
it goes once that import names the status package.
"""

from __future__ import annotations

from ..status._model import connection_status
from ..status._recorder import StatusRecorder

__all__ = ["StatusRecorder", "connection_status"]
