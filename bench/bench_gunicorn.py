"""Which gunicorn settings hold under Web Connector traffic? Counted, not timed.

Run ``python -m bench.bench_gunicorn`` (about a minute). For each setting
it starts gunicorn on 127.0.0.1 serving ``examples/customer_sync.py`` with a
SQLite session store (and granian's WSGI server the same way, when it is
installed: ``pip install -e '.[bench]'``), and:

- **updates**: ``--updates`` simulated Web Connectors at once, each one
  whole update (serverVersion, clientVersion, authenticate, sendRequestXML,
  receiveResponseXML, closeConnection) over one kept-alive connection,
  pausing between calls as the Web Connector does while QuickBooks works
  (uniformly between ``--pause-min`` and ``--pause-max`` seconds: around
  gunicorn's default 2 s keep-alive). requests checks a pooled connection
  before reusing it and never retries, as the .NET client does, so a reset
  counted here is one a real Web Connector would report. Counted: updates
  that completed, connection resets, other errors.
- **slow clients**: ``--slow`` connections that send half a request and
  stall (a client on a bad line, or a proxy that does not buffer), then
  one ordinary serverVersion call: answered at once, or only after the
  stalled connections time out (its wait is printed; nothing is judged).

Every loop is bounded: a fixed number of updates and calls, every socket
with a timeout. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
TRAFFIC = ROOT / "tests" / "data" / "traffic"
HEADERS = {"Content-Type": "text/xml; charset=utf-8"}
TICKET = b"354f40b4-b661-4472-a13f-8abf13a743c3"

#: name -> gunicorn arguments. Sync workers: gunicorn's advice, 2 x cores + 1.
SETTINGS = {
    "gthread, keep-alive 2 s (default)": ["-k", "gthread", "-w", "2", "--threads", "16"],
    "gthread, keep-alive 75 s": ["-k", "gthread", "-w", "2", "--threads", "16", "--keep-alive=75"],
    "sync, 5 workers": ["-k", "sync", "-w", "5"],
}
if importlib.util.find_spec("granian"):
    SETTINGS["granian WSGI, 2 workers"] = ["granian", "--workers", "2"]

CUSTOMERS = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="1" statusCode="0"'
    ' statusSeverity="Info" statusMessage="Status OK"><CustomerRet><ListID>1-1</ListID>'
    "<FullName>Ada</FullName></CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(arguments: list[str], sessions: Path) -> Iterator[str]:
    """Serve the example with ``arguments``; yield its URL once it answers.

    Arguments that start with "granian" are granian's, after its name.
    """
    port = free_port()
    env = {**os.environ, "QBWC_SESSIONS": str(sessions), "PYTHONPATH": str(ROOT)}
    if arguments[:1] == ["granian"]:
        command = [
            *(sys.executable, "-m", "granian", "--interface", "wsgi", "--no-ws"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "error"),
            *arguments[1:],
            "examples.customer_sync:app",
        ]
    else:
        command = [
            *(sys.executable, "-m", "gunicorn", "examples.customer_sync:app"),
            *("--bind", f"127.0.0.1:{port}", "--log-level", "error", *arguments),
        ]
    # The server's own errors go to a file: when it exits early, they say why.
    log = sessions.with_name("server.log").open("w+b")
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}/qbwc"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    break
            except (requests.RequestException, OSError):
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn {' '.join(arguments)} did not start")
        yield url
        if process.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-5:]
            print(
                f"the server exited early ({process.returncode}): {' | '.join(tail)}",
                file=sys.stderr,
            )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def envelope(name: str, **values: str) -> bytes:
    """A recorded request body with its values replaced."""
    body = (TRAFFIC / name).read_bytes()
    for old, new in values.items():
        body = body.replace(old.encode(), new.encode())
    return body


def one_update(url: str, pause: tuple[float, float], rng: random.Random) -> str:
    """One whole update over one kept-alive connection; return how it ended."""
    calls = [
        envelope("serverVersion.request.xml"),
        envelope("clientVersion.request.xml"),
        envelope("authenticate.request.xml", bar="demo-password").replace(b">foo<", b">demo<"),
    ]
    with requests.Session() as http:
        try:
            for body in calls:
                answer = http.post(url, data=body, headers=HEADERS, timeout=60)
                answer.raise_for_status()
                time.sleep(rng.uniform(*pause))
            ticket = answer.text.split("string>")[1].split("<")[0]
            later = [
                envelope("sendRequestXML.subsequent.request.xml"),
                envelope("receiveResponseXML.hresult-error.request.xml")
                .replace(b"0x80040400", b"")
                .replace(
                    b"QuickBooks found an error when parsing the provided XML text stream.", b""
                )
                .replace(b"<response />", b"<response>" + escape(CUSTOMERS) + b"</response>"),
                envelope("closeConnection.request.xml"),
            ]
            for body in later:
                answer = http.post(
                    url, data=body.replace(TICKET, ticket.encode()), headers=HEADERS, timeout=60
                )
                answer.raise_for_status()
                if body is not later[-1]:
                    time.sleep(rng.uniform(*pause))
            return "completed" if "Read 1 customers" in answer.text else "wrong answer"
        except requests.ConnectionError as exc:
            text = repr(exc)
            if "reset" in text.lower() or "RemoteDisconnected" in text or "Broken pipe" in text:
                return "connection reset"
            return "connection error"
        except requests.RequestException as exc:
            return type(exc).__name__


def escape(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def updates(url: str, count: int, pause: tuple[float, float], seed: int) -> Counter[str]:
    """``count`` updates at once, each in its own thread; count how each ended."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(n: int) -> None:
        outcome = one_update(url, pause, random.Random(seed * 100_000 + n))
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return outcomes


def slow_clients(url: str, count: int) -> str:
    """Stall ``count`` connections mid-request; say how an ordinary call then fares."""
    port = int(url.split(":")[2].split("/")[0])
    stalled = []
    try:
        for _ in range(count):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError as exc:  # the server is gone: say so in the row, not a traceback
                return f"no server: {type(exc).__name__}"
            sock.sendall(b"POST /qbwc HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n")
            stalled.append(sock)
        time.sleep(0.5)
        start = time.monotonic()
        try:
            requests.post(
                url, data=envelope("serverVersion.request.xml"), headers=HEADERS, timeout=90
            )
        except requests.RequestException as exc:
            return f"{type(exc).__name__} after {time.monotonic() - start:.1f} s"
        return f"answered in {time.monotonic() - start:.1f} s"
    finally:
        for sock in stalled:
            sock.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=200, help="concurrent updates (200)")
    parser.add_argument("--pause-min", type=float, default=1.5, help="seconds (1.5)")
    parser.add_argument("--pause-max", type=float, default=2.5, help="seconds (2.5)")
    parser.add_argument("--slow", type=int, default=6, help="stalled connections (6)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each setting (1)")
    parser.add_argument("--only", default="", help="run only settings whose name contains this")
    args = parser.parse_args(argv)
    pause = (args.pause_min, args.pause_max)
    print(
        f"{args.updates} concurrent updates, pauses {pause[0]}-{pause[1]} s;"
        f" then {args.slow} stalled connections and one ordinary call"
    )
    print(f"{'setting':36} {'round':>5} {'completed':>9} {'resets':>6} {'other':>5}  ordinary call")
    for name, arguments in SETTINGS.items():
        if args.only not in name:
            continue
        for round_ in range(1, args.rounds + 1):
            with (
                tempfile.TemporaryDirectory() as tmp,
                gunicorn(arguments, Path(tmp) / "sessions.db") as url,
            ):
                outcomes = updates(url, args.updates, pause, seed=round_)
                wait = slow_clients(url, args.slow) if args.slow else "-"
            other = sum(outcomes.values()) - outcomes["completed"] - outcomes["connection reset"]
            print(
                f"{name:36} {round_:>5} {outcomes['completed']:>9}"
                f" {outcomes['connection reset']:>6} {other:>5}  {wait}",
                flush=True,
            )
            if other:
                print(f"{'':36} other outcomes: {dict(outcomes)}")


if __name__ == "__main__":
    main()
