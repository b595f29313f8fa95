"""Over a real HTTP server on 127.0.0.1: gunicorn serving the example, zeep over the network."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree

from qbwc_spyne.testing import WSDL_PATH

from .helpers import TRAFFIC, WSDL_NS, free_port, wait_until_serving

pytestmark = pytest.mark.wire

ROOT = Path(__file__).resolve().parent.parent
HCP = (TRAFFIC / "qbxml.HCPResponse.QBPro2014.xml").read_text()
CUSTOMERS = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="1" statusCode="0" '
    'statusSeverity="Info" statusMessage="Status OK">'
    "<CustomerRet><ListID>80000001-1</ListID><FullName>Ada &amp; Co</FullName></CustomerRet>"
    "<CustomerRet><ListID>80000002-1</ListID><FullName>Zoë Ltd</FullName></CustomerRet>"
    "</CustomerQueryRs></QBXMLMsgsRs></QBXML>"
)


@contextmanager
def gunicorn(sessions: Path, *, workers: int = 1) -> Iterator[str]:
    """Serve examples/customer_sync.py with gunicorn on a free port; yield its URL."""
    port = free_port()
    env = {**os.environ, "QBWC_SESSIONS": str(sessions), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "examples.customer_sync:app",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        if not wait_until_serving(url, lambda: process.poll() is None):
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"gunicorn did not start: {output[-2000:]}")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def web_connector(url: str) -> zeep.proxy.ServiceProxy:
    """zeep, built from wsdl/, calling ``url`` over HTTP."""
    client = zeep.Client(str(WSDL_PATH), settings=zeep.Settings(strict=True))
    return client.create_service("{http://developer.intuit.com/}QBWebConnectorSvcSoap", url)


def test_whole_session_over_http(tmp_path):
    """A full session against gunicorn: each answer as the example handler sets it."""
    with gunicorn(tmp_path / "sessions.db") as url:
        wc = web_connector(url)
        assert wc.serverVersion() == "customer-sync example 1.0"
        assert wc.clientVersion("2.3.0.215") is None
        assert wc.authenticate("demo", "wrong")[1] == "nvu"
        ticket, company = wc.authenticate("demo", "demo-password")
        assert company is None  # "": the company file open in QuickBooks
        request = wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
        assert "<CustomerQueryRq" in request
        assert wc.receiveResponseXML(ticket, CUSTOMERS, "", "") == 100
        assert wc.closeConnection(ticket) == "Read 2 customers"


def test_raw_http_answers_are_exact(tmp_path):
    """Over the socket: text/xml; charset=utf-8, <?xml first, WSDL address of this server."""
    with gunicorn(tmp_path / "sessions.db") as url:
        body = (TRAFFIC / "serverVersion.request.xml").read_bytes()
        response = requests.post(
            url,
            data=body,
            timeout=10,
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": '"http://developer.intuit.com/serverVersion"',
            },
        )
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert response.content.startswith(b"<?xml")
        wsdl = etree.fromstring(requests.get(url + "?wsdl", timeout=10).content)
        assert wsdl.find(".//soap:address", WSDL_NS).get("location") == url
        refused = requests.post(
            url, data=b"<!DOCTYPE x><x/>", headers={"Content-Type": "text/xml"}, timeout=10
        )
        assert refused.status_code == 500 and b"DOCTYPE" in refused.content


def test_two_server_processes_share_one_session(tmp_path):
    """Calls alternate between two servers on one SQLite file: the session continues."""
    sessions = tmp_path / "sessions.db"
    with gunicorn(sessions) as first, gunicorn(sessions) as second:
        a, b = web_connector(first), web_connector(second)
        ticket = a.authenticate("demo", "demo-password")[0]
        assert "<CustomerQueryRq" in b.sendRequestXML(ticket, HCP, "", "US", 13, 0)
        assert a.receiveResponseXML(ticket, CUSTOMERS, "", "") == 100
        assert b.closeConnection(ticket) == "Read 2 customers"


def test_session_survives_a_server_restart(tmp_path):
    """The server stops after sendRequestXML; a new one takes the response and closes."""
    sessions = tmp_path / "sessions.db"
    with gunicorn(sessions) as url:
        wc = web_connector(url)
        ticket = wc.authenticate("demo", "demo-password")[0]
        wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
    with gunicorn(sessions) as url:
        wc = web_connector(url)
        assert wc.receiveResponseXML(ticket, CUSTOMERS, "", "") == 100
        assert wc.closeConnection(ticket) == "Read 2 customers"


def test_several_gunicorn_workers(tmp_path):
    """With 3 workers, whichever serves each call, the session holds together."""
    with gunicorn(tmp_path / "sessions.db", workers=3) as url:
        for _ in range(3):
            wc = web_connector(url)
            ticket = wc.authenticate("demo", "demo-password")[0]
            wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
            assert wc.receiveResponseXML(ticket, CUSTOMERS, "", "") == 100
            assert wc.closeConnection(ticket) == "Read 2 customers"


def test_readiness_probe_waits_through_a_read_timeout():
    """A server that accepts but answers late (gunicorn booting) is asked again, not a failure."""
    answered: list[int] = []

    class SlowFirst(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answered.append(1)
            if len(answered) == 1:
                time.sleep(0.6)  # past the probe's timeout: a ReadTimeout
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowFirst)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert wait_until_serving(url, lambda: True, within=20, probe_timeout=0.2)
        assert len(answered) >= 2
    finally:
        server.shutdown()
        server.server_close()
