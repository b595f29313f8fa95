"""The layers' public doors serve what the inner modules define, and import in any order."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings

import pytest

import qbwc_spyne.events
import qbwc_spyne.status
from qbwc_spyne.protocol import _events, _ports, _session
from qbwc_spyne.status import _model, _recorder
from qbwc_spyne.store import _status, _stores


def test_the_public_events_module_serves_the_protocols_events_without_a_warning():
    """qbwc_spyne.events is the same objects the core makes, under the same names."""
    # Events carry the session: its class and its states are served beside them.
    carried = {"Session": _session.Session, "SessionState": _session.SessionState}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in qbwc_spyne.events.__all__:
            made = carried[name] if name in carried else getattr(_events, name)
            assert getattr(qbwc_spyne.events, name) is made, name
    assert sorted(qbwc_spyne.events.__all__) == sorted([*_events.__all__, *carried])


def test_the_stores_implement_the_protocols_port():
    """Both session stores are the SessionStore the protocol core asks for."""
    assert isinstance(_stores.MemorySessionStore(), _ports.SessionStore)


def test_a_session_carries_no_store_record():
    """Session is its fields: what a store last saw of it is the store's."""
    names = {f.name for f in dataclasses.fields(_session.Session)}
    assert not any("stored" in name for name in names)
    assert not hasattr(_session, "hcp_changed") and not hasattr(_session, "hcp_stored")


def test_the_status_door_serves_the_model_the_recorder_and_the_stores():
    """The public names of qbwc_spyne.status are the model's, the recorder's and the stores'."""
    status = qbwc_spyne.status
    assert status.ConnectionStatus is _model.ConnectionStatus is _status.ConnectionStatus
    assert status.StatusStore is _model.StatusStore
    assert status.connection_status is _model.connection_status
    assert status.StatusRecorder is _recorder.StatusRecorder
    assert status.SQLStatusStore is _status.SQLStatusStore
    assert status.MemoryStatusStore is _status.MemoryStatusStore
    assert set(status.__all__) <= set(dir(status))
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        status.Nothing  # noqa: B018


@pytest.mark.parametrize(
    "first",
    [
        "qbwc_spyne.store._status",
        "qbwc_spyne.status",
        "qbwc_spyne.status._recorder",
        "qbwc_spyne.store._stores",
        "qbwc_spyne.events",
    ],
)
def test_each_layer_imports_first_in_a_fresh_process(first):
    """Whichever module a process imports first, the others import after it, warning-free."""
    code = (
        f"import {first}\n"
        "from qbwc_spyne.status import SQLStatusStore, StatusRecorder, connection_status\n"
        "from qbwc_spyne.store._status import CallEntry, StatusUpdate\n"
        "from qbwc_spyne.events import ErrorEvent\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
