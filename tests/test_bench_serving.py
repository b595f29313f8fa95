"""The serving benchmark runs, checks every answer, and leaves no server behind (tiny sizes)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bench import bench_serving
from bench.bench_serving import Setup, check, load, serving

from .test_bench import run

pytestmark = pytest.mark.wire


def servers_of(folder: Path) -> list[int]:
    """Processes started for a run in ``folder`` (their BENCH_SQLITE lies in it)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"BENCH_SQLITE={folder}/".encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


class TestRun:
    def test_every_row_is_printed_with_sessions_served_and_no_errors(self):
        """Each setup this machine has serves every session of a tiny run without an error."""
        out = run("bench.bench_serving", "--sessions", "4", "--connectors", "2", "--rounds", "1")
        names = [s.name for s in bench_serving.setups("")]
        assert (
            "qbwc_spyne, MemorySessionStore" in names and "bare spyne: constants (floor)" in names
        )
        for name in names:
            row = re.search(rf"^{re.escape(name)} +([\d.]+) +\S+ +\S+ +(\d+)$", out, re.MULTILINE)
            assert row is not None, (name, out)
            assert float(row[1]) > 0 and row[2] == "0", row[0]
        assert "The load generator's ceiling" in out


class TestProfile:
    def test_each_app_costs_a_session_and_ours_is_split_by_area(self):
        """In-process: a cost per session for each app, and qbwc_spyne's split into areas."""
        out = run("bench.bench_serving", "--profile", "--sessions", "3")
        for name in ("qbwc_spyne, MemorySessionStore", "bare spyne: constants (floor)"):
            assert re.search(rf"^{re.escape(name)} +\d+ +\S+$", out, re.MULTILINE), out
        shares = {
            area: int(share)
            for area, share in re.findall(r"^(\S.*?) +\d+ +(\d+)% +\d+$", out, re.MULTILINE)
        }
        for area in (
            "spyne: context, events, dispatch, faults",
            "spyne: WSGI and HTTP plumbing",
            "lxml: parse, tree, serialize",
            "qbwc_spyne: session store",
            "qbwc_spyne: compiled reader and writer",
        ):
            assert shares.get(area, 0) > 0, (area, out)
        assert 97 <= sum(shares.values()) <= 103, shares  # rounded shares of one whole


class TestLoadGenerator:
    @pytest.mark.parametrize(
        ("operation", "status", "body", "says"),
        [
            ("getLastError", 500, b"<x/>", "HTTP 500"),
            ("clientVersion", 200, b"<soap:Fault><faultstring>x</faultstring></soap:Fault>", "200"),
            ("sendRequestXML", 200, b"<sendRequestXMLResult></sendRequestXMLResult>", "no request"),
            ("receiveResponseXML", 200, b"<receiveResponseXMLResult>-1<", "receiveResponseXML"),
            ("receiveResponseXML", 200, b"<other/>", "receiveResponseXML"),
        ],
    )
    def test_a_wrong_answer_is_named(self, operation, status, body, says):
        """A fault, an error status, no request, or a negative or missing percentage."""
        assert says in check(operation, status, body)

    def test_right_answers_pass(self):
        """A request, a percentage of 0 or more, and any other 200 answer without a fault."""
        assert check("sendRequestXML", 200, b"<r>&lt;QBXML&gt;</r>") == ""
        assert check("receiveResponseXML", 200, b"<receiveResponseXMLResult>0<") == ""
        assert check("closeConnection", 200, b"<closeConnectionResult>OK<") == ""

    def test_sessions_refused_by_the_server_are_errors_not_served(self, tmp_path, monkeypatch):
        """The generator sends a wrong password: qbwc_spyne answers "nvu", the next call
        gets no request, and each session counts as an error, none as served."""
        monkeypatch.setattr(bench_serving, "PASSWORD", "wrong")
        setup = Setup("refusing", "qbwc_memory", "gthread", (1,))
        with serving([setup], tmp_path) as [running]:
            outcome = asyncio.run(load(running.port, 3, 1))
        assert outcome.sessions == 0 and len(outcome.errors) == 3
        assert all(error == "sendRequestXML: no request" for error in outcome.errors)


class TestProcesses:
    def test_every_server_process_is_stopped_when_the_run_fails(self, tmp_path):
        """An exception inside the run: each server's whole process group is gone after."""
        setups = [Setup("a", "canned", "gthread", (2,)), Setup("b", "qbwc_memory", "sync2", (2,))]
        with pytest.raises(RuntimeError, match="stop here"), serving(setups, tmp_path) as running:
            # Each gunicorn: a master and its workers.
            assert len(servers_of(tmp_path)) >= 2 * len(running) + 1
            raise RuntimeError("stop here")
        assert servers_of(tmp_path) == []

    def test_a_server_that_does_not_start_is_reported_and_the_others_stopped(self, tmp_path):
        """An app that fails to import: a RuntimeError naming the setup; nothing left running."""
        setups = [
            Setup("fine", "canned", "gthread", (2,)),
            Setup("broken", "nosuch", "sync2", (2,)),
        ]
        with (
            pytest.raises(RuntimeError, match="broken: the server did not start"),
            serving(setups, tmp_path),
        ):
            pass
        assert servers_of(tmp_path) == []
