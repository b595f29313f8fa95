"""Web Connector sessions per second over real HTTP, beside a peer, a floor and a ceiling.

Run ``python -m bench.bench_serving`` (``make bench`` runs it). Every server
runs on 127.0.0.1 in its own processes; a load generator in this process
plays ``--connectors`` Web Connectors at once, each running whole sessions
of 13 calls (clientVersion, authenticate, five sendRequestXML and
receiveResponseXML pairs, the first carrying a recorded HCP response,
closeConnection), over one kept-alive connection, or a new
connection per call where the server closes each one. Every answer is
checked (a ticket from authenticate, a request from sendRequestXML, a
percentage of at least 0 from receiveResponseXML, no fault): a session
with a wrong answer is counted as an error, not as served.

Side by side in one run, the order rotated each round, the median of
``--rounds`` rounds:

1. Under gunicorn, gthread workers with keep-alive: qbwc_spyne on
   ``MemorySessionStore`` and on ``SQLSessionStore``; bare spyne (the
   same generated service over a core that returns constants: the
   framework's floor); qbwc-kit 0.1.3 (hand-written SOAP), when installed
   (``pip install -e '.[bench]'``).
2. qbwc_spyne on ``SQLSessionStore`` (what several workers share) under
   gunicorn's sync worker (no keep-alive: a TCP connection per call) with
   2 and 5 workers, gthread, and granian's WSGI interface when installed
   (there also on the memory store, and the floor and the peer); the
   servers with a canned answer, their own ceilings.
3. The load generator's ceiling: the same sessions against the cheapest
   server, granian with a canned answer (without granian, a raw asyncio
   server in Python, which is slower).

``--profile`` instead runs the same sessions in this process, straight
through each WSGI callable (no HTTP, no server): the microseconds a whole
session costs qbwc_spyne on ``MemorySessionStore``, bare spyne and qbwc-kit
(median of ``--sessions``, the order rotated), then where qbwc_spyne's and
bare spyne's time goes by cProfile, split into spyne's machinery, its WSGI
plumbing, lxml, our code, the store and the bench's handler.

Every loop is bounded (a fixed number of sessions, every call with a
timeout); every server process is stopped, killed if it must be, whatever
happens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import importlib.util
import io
import os
import pstats
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.serving_apps import CANNED, PASSWORD, REQUESTS, USER, WSGIApp, make

ROOT = Path(__file__).resolve().parent.parent
TRAFFIC = ROOT / "tests" / "data" / "traffic"
HOST = "127.0.0.1"
TICKET = b"354f40b4-b661-4472-a13f-8abf13a743c3"
CALL_TIMEOUT = 30.0
RESPONSE = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="1" statusCode="0"'
    ' statusSeverity="Info" statusMessage="Status OK"><CustomerRet><ListID>1-1</ListID>'
    "<FullName>Ada &amp; Sons</FullName></CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>"
)

#: gunicorn's arguments by worker class: the README's settings.
GUNICORN = {
    "gthread": ["-k", "gthread", "-w", "2", "--threads", "8", "--keep-alive", "75"],
    "sync2": ["-k", "sync", "-w", "2"],
    "sync5": ["-k", "sync", "-w", "5"],
}


# -- the servers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """One server with one app, as the tables name it."""

    name: str
    app: str
    server: str  # a key of GUNICORN, "granian" or "raw"
    tables: tuple[int, ...]

    def command(self, port: int) -> list[str]:
        if self.server == "raw":
            return [sys.executable, "-m", "bench.bench_serving", "--raw-server", str(port)]
        if self.server == "granian":
            return [
                *(sys.executable, "-m", "granian", "--interface", "wsgi"),
                *("--host", HOST, "--port", str(port), "--workers", "2", "--no-ws"),
                *("--log-level", "error", "bench.serving_apps:app"),
            ]
        return [
            *(sys.executable, "-m", "gunicorn", "bench.serving_apps:app"),
            *("--bind", f"{HOST}:{port}", "--log-level", "error", "--timeout", "120"),
            *GUNICORN[self.server],
        ]


def setups(include: str) -> list[Setup]:
    """What this machine can run, whose name contains ``include``."""
    granian = importlib.util.find_spec("granian") is not None
    kit = importlib.util.find_spec("qbwc_kit") is not None
    found = [
        Setup("qbwc_spyne, MemorySessionStore", "qbwc_memory", "gthread", (1,)),
        Setup("qbwc_spyne, SQLSessionStore", "qbwc_sqlite", "gthread", (1, 2)),
        Setup("bare spyne: constants (floor)", "bare_spyne", "gthread", (1,)),
    ]
    if kit:
        found.append(Setup("qbwc-kit 0.1.3, hand-written SOAP", "qbwc_kit", "gthread", (1,)))
    found += [
        Setup("gunicorn sync -w 2: qbwc_spyne, SQLite", "qbwc_sqlite", "sync2", (2,)),
        Setup("gunicorn sync -w 5: qbwc_spyne, SQLite", "qbwc_sqlite", "sync5", (2,)),
        Setup("gunicorn gthread -w 2: canned answer", "canned", "gthread", (2,)),
        Setup("gunicorn sync -w 2: canned answer", "canned", "sync2", (2,)),
    ]
    if granian:
        found += [
            Setup("granian WSGI -w 2: qbwc_spyne, SQLite", "qbwc_sqlite", "granian", (2,)),
            Setup("granian WSGI -w 2: qbwc_spyne, memory", "qbwc_memory", "granian", (2,)),
            Setup("granian WSGI -w 2: bare spyne (floor)", "bare_spyne", "granian", (2,)),
            *(
                [Setup("granian WSGI -w 2: qbwc-kit 0.1.3", "qbwc_kit", "granian", (2,))]
                if kit
                else []
            ),
            # The cheapest server here: the generator's ceiling.
            Setup("granian WSGI -w 2: canned answer", "canned", "granian", (2, 3)),
        ]
    else:
        found.append(Setup("raw asyncio server: canned answer", "canned", "raw", (3,)))
    return [s for s in found if include in s.name]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def answers(port: int) -> bool:
    """Whether something on ``port`` answers an HTTP request."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"GET /qbwc HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


@dataclass
class Running:
    setup: Setup
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def serving(all_setups: list[Setup], folder: Path) -> Iterator[list[Running]]:
    """Start every setup's server; yield them once each answers; stop them all after."""
    started: list[Running] = []
    try:
        for n, setup in enumerate(all_setups):
            port = free_port()
            env = {
                **os.environ,
                "BENCH_APP": setup.app,
                "BENCH_SQLITE": str(folder / f"sessions{n}.db"),
                "PYTHONPATH": str(ROOT),
            }
            process = subprocess.Popen(
                setup.command(port),
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: its workers die with it
            )
            started.append(Running(setup, port, process))
        for running in started:
            deadline = time.monotonic() + 60
            while not answers(running.port):
                if running.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{running.setup.name}: the server did not start")
                time.sleep(0.1)
        yield started
    finally:
        for running in started:
            stop(running.process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group; SIGKILL what is left after 15 s."""
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def raw_server(port: int) -> None:
    """Answer every request with CANNED, as cheaply as Python can: the generator's ceiling."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\n"
        b"Content-Length: " + str(len(CANNED)).encode() + b"\r\n\r\n"
    )

    class Answer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport, self.buffer = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                found = re.search(rb"(?i)content-length: *(\d+)", self.buffer[:end])
                total = end + 4 + (int(found[1]) if found else 0)
                if len(self.buffer) < total:
                    return
                self.buffer = self.buffer[total:]
                self.transport.write(head + CANNED)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Answer, HOST, port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# -- the load generator ---------------------------------------------------------------------


def _body(name: str, **values: bytes) -> bytes:
    body = (TRAFFIC / name).read_bytes()
    for old, new in values.items():
        body = body.replace(old.encode(), new)
    return body


def _escape(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def session_calls() -> list[tuple[str, bytes]]:
    """The 13 calls of a session; ``TICKET`` stands for the ticket authenticate gives."""
    receive = (
        _body("receiveResponseXML.hresult-error.request.xml")
        .replace(b"<hresult>0x80040400</hresult>", b"<hresult />")
        .replace(
            b"<message>QuickBooks found an error when parsing the provided XML text stream."
            b"</message>",
            b"<message />",
        )
        .replace(b"<response />", b"<response>" + _escape(RESPONSE) + b"</response>")
    )
    calls = [
        ("clientVersion", _body("clientVersion.request.xml")),
        (
            "authenticate",
            _body("authenticate.request.xml")
            .replace(b">foo<", f">{USER}<".encode())
            .replace(b">bar<", f">{PASSWORD}<".encode()),
        ),
    ]
    for n in range(REQUESTS):
        first = "first" if n == 0 else "subsequent"
        calls += [
            ("sendRequestXML", _body(f"sendRequestXML.{first}.request.xml")),
            ("receiveResponseXML", receive),
        ]
    calls.append(("closeConnection", _body("closeConnection.request.xml")))
    assert len(calls) == 13
    assert all(TICKET in body for op, body in calls[2:]), "every later call carries the ticket"
    return calls


_TICKET = re.compile(rb"<(?:\w+:)?string>([^<]+)</(?:\w+:)?string>")
_PERCENT = re.compile(rb"receiveResponseXMLResult>(-?\d+)<")


def check(operation: str, status: int, body: bytes) -> str:
    """What is wrong with an answer, or ""."""
    if status != 200 or b"Fault>" in body:
        return f"{operation}: HTTP {status} {body[:120]!r}"
    if operation == "sendRequestXML" and b"QBXML" not in body:
        return "sendRequestXML: no request"
    if operation == "receiveResponseXML":
        found = _PERCENT.search(body)
        if found is None or int(found[1]) < 0:
            return f"receiveResponseXML: {body[-200:]!r}"
    return ""


class Connection:
    """One client connection, kept alive unless the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def call(self, operation: str, body: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(HOST, self.port)
        reader, writer = self.streams
        writer.write(
            b"POST /qbwc HTTP/1.1\r\nHost: bench\r\nContent-Type: text/xml; charset=utf-8\r\n"
            b'SOAPAction: "http://developer.intuit.com/' + operation.encode() + b'"\r\n'
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        headers = head.lower()
        length = re.search(rb"content-length: *(\d+)", headers)
        if length is not None:
            answer = await reader.readexactly(int(length[1]))
        elif b"transfer-encoding: chunked" in headers:
            answer = await self._chunks(reader)
        else:
            answer = await reader.read()  # to the end of the connection
        if b"connection: close" in headers or (length is None and b"chunked" not in headers):
            await self.close()
        return status, answer

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
        return b"".join(parts)

    async def close(self) -> None:
        if self.streams is not None:
            writer = self.streams[1]
            self.streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@dataclass
class Outcome:
    sessions: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sessions / self.seconds if self.seconds else 0.0


async def one_session(connection: Connection, calls: list[tuple[str, bytes]]) -> str:
    """Run one session's calls; return what went wrong, or ""."""
    ticket = TICKET
    for operation, body in calls:
        status, answer = await asyncio.wait_for(
            connection.call(operation, body.replace(TICKET, ticket)), CALL_TIMEOUT
        )
        wrong = check(operation, status, answer)
        if wrong:
            await connection.close()
            return wrong
        if operation == "authenticate":
            found = _TICKET.search(answer)
            if found is None:
                return f"authenticate: no ticket in {answer[:200]!r}"
            ticket = found[1]
    return ""


async def load(port: int, sessions: int, connectors: int) -> Outcome:
    """``sessions`` sessions from ``connectors`` Web Connectors at once, each on its connection."""
    calls = session_calls()
    left = sessions
    outcome = Outcome()

    async def connector() -> None:
        nonlocal left
        connection = Connection(port)
        try:
            while left > 0:
                left -= 1
                try:
                    wrong = await one_session(connection, calls)
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                    wrong = f"{type(exc).__name__}: {exc}"
                    await connection.close()
                if wrong:
                    outcome.errors.append(wrong)
                else:
                    outcome.sessions += 1
        finally:
            await connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(connector() for _ in range(connectors)))
    outcome.seconds = time.perf_counter() - began
    return outcome


# -- the in-process profile -----------------------------------------------------------------

#: The apps profiled in-process, by their serving_apps name.
PROFILED = {
    "qbwc_memory": "qbwc_spyne, MemorySessionStore",
    "bare_spyne": "bare spyne: constants (floor)",
    "qbwc_kit": "qbwc-kit 0.1.3, hand-written SOAP",
}

# Where a function's own time is counted, by its file (or, for a built-in,
# its name) and function; first match wins. Anything else (str, dict, re,
# the standard library) is counted where it was called from, in proportion.
# cProfile does not see lxml's own functions (Cython), so the few functions
# that do nothing but call lxml are counted as lxml.
_AREAS = [
    ("/qbwc_spyne/server/_soap.py", "_parse_envelope", "lxml: parse, tree, serialize"),
    ("/qbwc_spyne/_xml.py", "parse_qbxml", "lxml: parse, tree, serialize"),
    ("/qbwc_spyne/_xml.py", "split_hcp_response", "lxml: parse, tree, serialize"),
    ("/spyne/protocol/soap/soap11.py", "_parse_xml_string", "lxml: parse, tree, serialize"),
    ("/spyne/protocol/xml.py", "create_out_string", "lxml: parse, tree, serialize"),
    ("lxml", "", "lxml: parse, tree, serialize"),
    ("/spyne/server/wsgi.py", "", "spyne: WSGI and HTTP plumbing"),
    ("/spyne/server/http.py", "", "spyne: WSGI and HTTP plumbing"),
    ("/spyne/", "", "spyne: context, events, dispatch, faults"),
    ("/qbwc_spyne/store/", "", "qbwc_spyne: session store"),
    ("/qbwc_spyne/server/_wire", "", "qbwc_spyne: compiled reader and writer"),
    ("/qbwc_spyne/server/", "", "qbwc_spyne: server adapter (spyne hooks, checks)"),
    ("/qbwc_spyne/", "", "qbwc_spyne: protocol core, events, qbXML"),
    ("/bench/serving_apps.py", "", "the bench's handler"),
    ("/bench/bench_server.py", "NullCore", "the bench's handler"),
    ("/bench/", "", "the bench's harness (WSGI environ)"),
    ("/qbwc_kit/", "", "qbwc-kit's own code"),
]


def wsgi_call(app: WSGIApp, operation: str, body: bytes) -> tuple[int, bytes]:
    """One POST through ``app``, as a server would make it; its status and body."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/qbwc",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_SOAPACTION": f'"http://developer.intuit.com/{operation}"',
        "SERVER_NAME": HOST,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }
    status: list[str] = []
    answer = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return int(status[0].split()[0]), answer


def session_in_process(
    app: WSGIApp, calls: list[tuple[str, bytes]], profiler: cProfile.Profile | None = None
) -> float:
    """Seconds the app spends on one whole session (every answer checked).

    Args:
        app: the WSGI callable.
        calls: the session's calls, from :func:`session_calls`.
        profiler: a profiler to enable around each call only, or None.

    Raises:
        RuntimeError: an answer was wrong.
    """
    ticket, spent = TICKET, 0.0
    for operation, body in calls:
        body = body.replace(TICKET, ticket)
        with profiler or contextlib.nullcontext():
            start = time.perf_counter()
            status, answer = wsgi_call(app, operation, body)
            spent += time.perf_counter() - start
        wrong = check(operation, status, answer)
        if wrong:
            raise RuntimeError(wrong)
        if operation == "authenticate":
            found = _TICKET.search(answer)
            if found is None:
                raise RuntimeError(f"authenticate: no ticket in {answer[:200]!r}")
            ticket = found[1]
    return spent


def _area_of(entry: tuple[str, int, str]) -> str | None:
    filename, _, function = entry
    where = function if filename == "~" else filename
    return next((label for part, name, label in _AREAS if part in where and name in function), None)


def split(stats: Any) -> dict[str, float]:
    """Seconds of own time per area, the rest counted where it was called from."""
    cache: dict[Any, dict[str, float]] = {}

    def shares(entry: Any, seen: frozenset[Any]) -> dict[str, float]:
        """Which areas ``entry``'s time belongs to, as fractions summing to 1."""
        area = _area_of(entry)
        if area is not None:
            return {area: 1.0}
        if entry in cache:
            return cache[entry]
        callers = stats.stats[entry][4]
        weights = {c: t[2] for c, t in callers.items() if c not in seen and c in stats.stats}
        total = sum(weights.values())
        if not total:
            return {"other (interpreter, unattributed)": 1.0}
        found: dict[str, float] = {}
        for caller, weight in weights.items():
            for name, part in shares(caller, seen | {entry}).items():
                found[name] = found.get(name, 0.0) + part * weight / total
        cache[entry] = found
        return found

    seconds: dict[str, float] = {}
    for entry, (_, _, tottime, _, _) in stats.stats.items():
        for name, part in shares(entry, frozenset({entry})).items():
            seconds[name] = seconds.get(name, 0.0) + tottime * part
    return seconds


def profile(sessions: int) -> None:
    """Print each app's cost per session in-process, and where qbwc_spyne's goes."""
    calls = session_calls()
    names = [n for n in PROFILED if n != "qbwc_kit" or importlib.util.find_spec("qbwc_kit")]
    apps = {name: make(name) for name in names}
    for name in names:  # warm up: imports, first-call costs
        session_in_process(apps[name], calls)
    spent: dict[str, list[float]] = {name: [] for name in names}
    for n in range(sessions):
        for name in names[n % len(names) :] + names[: n % len(names)]:
            spent[name].append(session_in_process(apps[name], calls))
    total = {name: statistics.median(spent[name]) * 1e6 for name in names}
    kit = total.get("qbwc_kit")
    print(
        f"One 13-call session in-process, straight through the WSGI callable (no HTTP),"
        f" median of {sessions} sessions, the order rotated\n"
    )
    print(f"{'':40}{'µs/session':>12}{'x qbwc-kit':>12}")
    for name in names:
        times = f"{total[name] / kit:.2f}" if kit else "-"
        print(f"{PROFILED[name]:40}{total[name]:>12.0f}{times:>12}")

    profiled = ("qbwc_memory", "bare_spyne")
    split_us: dict[str, dict[str, float]] = {}
    for name in profiled:
        profiler = cProfile.Profile()
        for _ in range(sessions):
            session_in_process(apps[name], calls, profiler=profiler)
        seconds = split(pstats.Stats(profiler))
        whole = sum(seconds.values())
        # cProfile slows Python code more than C code: shares are its, the
        # microseconds are the shares of the unprofiled median.
        split_us[name] = {area: total[name] * t / whole for area, t in seconds.items()}
    areas = sorted(
        {a for found in split_us.values() for a in found},
        key=lambda a: -split_us[profiled[0]].get(a, 0),
    )
    print(
        "\nWhere a session's time goes (cProfile's shares of the medians above; built-ins and"
        " the standard library counted where they were called from)\n"
    )
    print(f"{'':50}{'qbwc_spyne µs':>14}{'share':>7}{'bare spyne µs':>15}")
    for area in areas:
        ours = split_us[profiled[0]].get(area, 0.0)
        print(
            f"{area:50}{ours:>14.0f}{ours / total[profiled[0]]:>7.0%}"
            f"{split_us[profiled[1]].get(area, 0.0):>15.0f}"
        )
    if kit:
        spyne = sum(us for a, us in split_us[profiled[0]].items() if a.startswith("spyne"))
        print(
            f"\nqbwc_spyne less spyne's share: {total[profiled[0]] - spyne:.0f} µs,"
            f" {(total[profiled[0]] - spyne) / kit:.2f}x qbwc-kit's {kit:.0f} µs."
        )


# -- the report -----------------------------------------------------------------------------


def measure(
    running: list[Running], sessions: int, connectors: int, rounds: int
) -> dict[str, list[Outcome]]:
    """Warm each server up, then ``rounds`` rounds over all of them, the order rotated."""
    results: dict[str, list[Outcome]] = {r.setup.name: [] for r in running}
    for each in running:
        asyncio.run(load(each.port, max(connectors, sessions // 10), connectors))
    for round_ in range(rounds):
        shift = round_ % len(running)
        for each in running[shift:] + running[:shift]:
            results[each.setup.name].append(asyncio.run(load(each.port, sessions, connectors)))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=300, help="sessions per measurement")
    parser.add_argument("--connectors", type=int, default=8, help="Web Connectors at once")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is shown")
    parser.add_argument("--only", default="", help="only setups whose name contains this")
    parser.add_argument(
        "--profile", action="store_true", help="profile whole sessions in-process instead"
    )
    parser.add_argument("--raw-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.raw_server:
        raw_server(args.raw_server)
        return
    if args.profile:
        profile(args.sessions)
        return
    chosen = setups(args.only)
    with (
        tempfile.TemporaryDirectory(prefix="qbwc-serving-") as folder,
        serving(chosen, Path(folder)) as running,
    ):
        results = measure(running, args.sessions, args.connectors, args.rounds)
    rate = {name: statistics.median(o.rate for o in runs) for name, runs in results.items()}
    spread = {
        name: (min(o.rate for o in runs), max(o.rate for o in runs))
        for name, runs in results.items()
    }
    errors = {name: sum(len(o.errors) for o in runs) for name, runs in results.items()}
    print(
        f"Sessions of 13 calls per second over HTTP on {HOST}: {args.sessions} sessions per"
        f" measurement, {args.connectors} Web Connectors at once, median of {args.rounds}"
        " rounds, the order rotated (higher is better)"
    )
    base = rate.get("qbwc_spyne, MemorySessionStore")
    titles = {
        1: "Under gunicorn gthread -w 2 --threads 8 --keep-alive 75 (gthread -w 2 below)",
        2: "By server: qbwc_spyne, and a canned answer (the server's own ceiling)",
        3: "The load generator's ceiling: its sessions against the cheapest server",
    }
    for table, title in titles.items():
        rows = [s for s in chosen if table in s.tables]
        if not rows:
            continue
        print(f"\n{title}")
        print(f"{'':48}{'sessions/s':>11}{'min-max':>14}{'x qbwc_spyne':>14}{'errors':>8}")
        for setup in rows:
            low, high = spread[setup.name]
            times = f"{rate[setup.name] / base:.2f}" if base else "-"
            print(
                f"{setup.name:48}{rate[setup.name]:>11.1f}{f'{low:.0f}-{high:.0f}':>14}"
                f"{times:>14}{errors[setup.name]:>8}"
            )
    for name, runs in results.items():
        for outcome in runs:
            if outcome.errors:
                print(f"{name}: first error: {outcome.errors[0]}")
                break


if __name__ == "__main__":
    main()
