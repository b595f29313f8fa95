"""How fast is the server, and how much memory does a large response take?

Run ``make bench`` (or ``python bench/bench_server.py``). Every figure
stands beside floors measured in the same run:

- bare spyne: the same generated spyne service, with the same signatures,
  over a core that returns constants: the framework's own cost;
- lxml parse: lxml parsing the same envelope: the least any SOAP server
  must spend on it.

Per call, each operation is timed in-process through the WSGI callable
(median of many calls), with the compiled SOAP reader and writer (as
shipped), with spyne's generic ones (``GenericServer``), and with the
server of the last release before this work (``RELEASE``, exported from
git into a temporary folder and timed in a process of its own, call by
call in turn with the others; skipped, with a note, without git history).
When a call misses its target, a cProfile of the compiled path shows where
its time goes. The large call is a receiveResponseXML carrying a
qbXML CustomerQuery response of 100,000 CustomerRet (about 30 MB); each of
its measurements runs in a fresh process so that peak memory (maximum RSS
above the process's size once the body is loaded) belongs to that case.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

from bench.common import customer_page, in_fresh_processes, memory
from qbwc_spyne import MemorySessionStore, QBWCHandler, QBWCServer, Session
from qbwc_spyne.events import (
    AuthenticateEvent,
    ConnectionErrorEvent,
    InteractiveDoneEvent,
    ReceiveResponseEvent,
    SendRequestEvent,
)

# From its defining module, which the release timed beside (RELEASE) has too.
from qbwc_spyne.protocol._session import SessionState
from qbwc_spyne.server._service import NAMESPACE, QBWebConnectorSvc

ROOT = Path(__file__).resolve().parent.parent
TRAFFIC = ROOT / "tests" / "data" / "traffic"
TICKET = "354f40b4-b661-4472-a13f-8abf13a743c3"
REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?><QBXML>'
    '<QBXMLMsgsRq onError="stopOnError"><CustomerQueryRq requestID="1"><MaxReturned>100'
    "</MaxReturned></CustomerQueryRq></QBXMLMsgsRq></QBXML>"
)

#: The last release before the compiled reader and writer, GC switch and
#: cheaper session saves: the "today" the per-call target is measured against.
RELEASE = "2be5214"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class BenchHandler(QBWCHandler):
    """Answers every call with a fixed value, as cheaply as a real handler could."""

    def on_authenticate(self, event: AuthenticateEvent) -> None:
        event.session_ticket = TICKET

    def on_send_request(self, event: SendRequestEvent) -> None:
        event.request = REQUEST

    def on_receive_response(self, event: ReceiveResponseEvent) -> None:
        event.percent_done = 50

    def on_connection_error(self, event: ConnectionErrorEvent) -> None:
        event.company_file = ""

    def on_interactive_done(self, event: InteractiveDoneEvent) -> None:
        event.response = "Continue"


class GenericServer(QBWCServer):
    """The server reading and writing through spyne's generic code: the "before"."""

    _compiled = False


class NullCore:
    """The floor: every operation answers a constant, with no logic at all."""

    def server_version(self) -> str:
        return "1"

    def client_version(self, *args: Any) -> str:
        return ""

    def authenticate(self, *args: Any) -> list[str]:
        return [TICKET, ""]

    def send_request_xml(self, *args: Any) -> str:
        return REQUEST

    def receive_response_xml(self, *args: Any) -> int:
        return 50

    def connection_error(self, *args: Any) -> str:
        return "done"

    def get_last_error(self, *args: Any) -> str:
        return "NoOp"

    def close_connection(self, *args: Any) -> str:
        return "OK"

    def get_interactive_url(self, *args: Any) -> str:
        return "https://example.com/"

    def interactive_done(self, *args: Any) -> str:
        return "Done"

    def interactive_rejected(self, *args: Any) -> str:
        return ""


def bare_spyne() -> WSGIApp:
    # Imported after qbwc_spyne, whose import hook lets spyne 2.14 import on
    # Python 3.12 and later.
    from spyne import Application
    from spyne.protocol.soap import Soap11
    from spyne.server.wsgi import WsgiApplication

    application = Application(
        [QBWebConnectorSvc],
        tns=NAMESPACE,
        name="QBWebConnectorSvc",
        # huge_tree: without it spyne cannot read a real large response at all.
        in_protocol=Soap11(validator="soft", huge_tree=True),
        out_protocol=Soap11(),
    )
    application.qbwc_core = NullCore()
    app: WSGIApp = WsgiApplication(application, max_content_length=200 * 1024 * 1024)
    return app


def envelope(operation: str, inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
        f'<{operation} xmlns="http://developer.intuit.com/">{inner}</{operation}>'
        "</soap:Body></soap:Envelope>"
    ).encode()


def bodies() -> dict[str, bytes]:
    """One request body per operation, in the Web Connector's shape."""
    t = f"<ticket>{TICKET}</ticket>"
    w = f"<wcTicket>{TICKET}</wcTicket>"
    return {
        "serverVersion": (TRAFFIC / "serverVersion.request.xml").read_bytes(),
        "clientVersion": (TRAFFIC / "clientVersion.request.xml").read_bytes(),
        "authenticate": (TRAFFIC / "authenticate.request.xml").read_bytes(),
        "sendRequestXML": (TRAFFIC / "sendRequestXML.subsequent.request.xml").read_bytes(),
        "receiveResponseXML": re.sub(
            rb"<ticket>[^<]*</ticket>",
            t.encode(),
            (TRAFFIC / "receiveResponseXML.InvoiceAddRs.request.xml").read_bytes(),
        ),
        "connectionError": (TRAFFIC / "connectionError.request.xml").read_bytes(),
        "getLastError": (TRAFFIC / "getLastError.request.xml").read_bytes(),
        "closeConnection": (TRAFFIC / "closeConnection.request.xml").read_bytes(),
        "getInteractiveURL": envelope("getInteractiveURL", w + "<sessionID>s</sessionID>"),
        "interactiveDone": envelope("interactiveDone", w),
        "interactiveRejected": envelope("interactiveRejected", w + "<reason>no</reason>"),
    }


def call(app: WSGIApp, body: bytes) -> bytes:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }
    status: list[str] = []
    result = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    if not status[0].startswith("200"):
        raise RuntimeError(f"{status[0]}: {result[:300]!r}")
    return result


# The session state each operation needs before it is called (the state
# machine refuses, say, a response with no request outstanding).
NEEDS = {
    "sendRequestXML": SessionState.READY,
    "receiveResponseXML": SessionState.AWAITING_RESPONSE,
    "getInteractiveURL": SessionState.INTERACTIVE,
    "interactiveDone": SessionState.INTERACTIVE,
    "interactiveRejected": SessionState.INTERACTIVE,
}


def _prepare(store: MemorySessionStore, operation: str) -> None:
    """The session the call needs, in the state it needs (authenticate creates its own)."""
    store.delete(TICKET)
    if operation != "authenticate":
        now = time.time()
        session = Session(ticket=TICKET, user="foo", created=now, last_seen=now)
        session.state = NEEDS.get(operation, SessionState.READY)
        store.put(session)


def time_one(app: WSGIApp, store: MemorySessionStore, operation: str, body: bytes) -> float:
    """Seconds one call of ``operation`` takes, its session prepared untimed."""
    _prepare(store, operation)
    start = time.perf_counter()
    call(app, body)
    return time.perf_counter() - start


def release_worker() -> None:
    """In a process importing the release's package: time calls as asked on stdin.

    The first line out names the package's folder, so that the caller can
    check it timed the release and not this checkout; then, for each line
    ``OPERATION`` in, one line out: the seconds of one call, as JSON.
    """
    import qbwc_spyne

    print(Path(qbwc_spyne.__file__).parent, flush=True)
    store = MemorySessionStore()
    app = QBWCServer(BenchHandler(), store=store)
    every = bodies()
    for line in sys.stdin:
        print(json.dumps(time_one(app, store, line.strip(), every[line.strip()])), flush=True)


def export_release(folder: Path) -> bool:
    """Write the release's package (and the WSDL it links to) into ``folder``.

    Returns:
        False when there is no git, or no such commit (a source archive).
    """
    try:
        archive = subprocess.run(
            ["git", "archive", RELEASE, "qbwc_spyne", "wsdl"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # Our own repository's archive; the filter exists from Python 3.11.4.
        if hasattr(tarfile, "tar_filter"):
            tar.extractall(folder, filter="tar")
        else:  # pragma: no cover - older 3.11 patch releases
            tar.extractall(folder)
    return True


@contextlib.contextmanager
def release_timer() -> Iterator[Callable[[str], float] | None]:
    """A function timing one call of an operation on the release; None without git."""
    with tempfile.TemporaryDirectory() as folder:
        if not export_release(Path(folder)):
            yield None
            return
        # The exported package first, then this checkout for bench itself; the
        # working folder holds no bench, and an editable install's finder
        # comes after sys.path.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([folder, str(ROOT)])}
        worker = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_server", "--release-worker"],
            cwd=folder,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert worker.stdin is not None and worker.stdout is not None
        stdin, stdout = worker.stdin, worker.stdout
        try:
            package = stdout.readline().strip()
            if not package.startswith(folder):
                raise RuntimeError(f"the release worker imported {package!r}, not the release")

            def timer(operation: str) -> float:
                stdin.write(operation + "\n")
                stdin.flush()
                return float(json.loads(stdout.readline()))

            yield timer
        finally:
            stdin.close()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def per_call(calls: int) -> tuple[list[tuple[str, float, float, float, float | None]], bool]:
    """Median microseconds per call, per operation: compiled, generic, bare spyne, release.

    Returns:
        The rows, and whether the release was timed (its figure is None if not).
    """
    store = MemorySessionStore()
    apps: dict[str, WSGIApp] = {
        "after": QBWCServer(BenchHandler(), store=store),
        "before": GenericServer(BenchHandler(), store=store),
        "floor": bare_spyne(),
    }
    rows = []
    with release_timer() as release:
        timers: dict[str, Callable[[str, bytes], float]] = {
            name: functools.partial(time_one, app, store) for name, app in apps.items()
        }
        if release is not None:
            timers["release"] = lambda operation, body: release(operation)
        for operation, body in bodies().items():
            timings: dict[str, list[float]] = {name: [] for name in timers}
            for i in range(calls):
                # Rotate which goes first, so none always meets a warm cache.
                names = list(timers)
                names = names[i % len(names) :] + names[: i % len(names)]
                for name in names:
                    timings[name].append(timers[name](operation, body))
            after, before, floor = (
                statistics.median(timings[name]) * 1e6 for name in ("after", "before", "floor")
            )
            then = statistics.median(timings["release"]) * 1e6 if release else None
            rows.append((operation, after, before, floor, then))
    return rows, release is not None


# Where a profiled function's own time is counted, by its file and name
# (first match wins). lxml's parse runs inside _parse_envelope, which is
# the only thing that function does.
_AREAS = [
    ("/spyne/", "", "spyne (context, events, dispatch, WSGI)"),
    ("/qbwc_spyne/server/_soap", "_parse_envelope", "lxml parsing the envelope"),
    ("/qbwc_spyne/server/_wire", "", "compiled reader and writer"),
    ("/qbwc_spyne/server/", "", "server adapter (checks, WSGI, protocol hooks)"),
    ("/qbwc_spyne/_xml", "", "server adapter (checks, WSGI, protocol hooks)"),
    ("/qbwc_spyne/store/", "", "session store"),
    ("/json/", "", "session store"),
    ("/qbwc_spyne/", "", "protocol core and handler"),
    ("/bench/", "", "benchmark harness"),
]


def profile(calls: int) -> list[tuple[str, float]]:
    """Share of the compiled path's time per area, over sendRequestXML + receiveResponseXML."""
    store = MemorySessionStore()
    app = QBWCServer(BenchHandler(), store=store)
    pair = {name: bodies()[name] for name in ("sendRequestXML", "receiveResponseXML")}
    profiler = cProfile.Profile()
    for _ in range(calls):
        for operation, body in pair.items():
            _prepare(store, operation)
            profiler.enable()
            call(app, body)
            profiler.disable()
    stats: Any = pstats.Stats(profiler)
    shares: dict[str, float] = {}
    for (filename, _, function), (_, _, tottime, _, _) in stats.stats.items():
        area = next(
            (label for part, name, label in _AREAS if part in filename and name in function),
            "built-ins (str, dict, re, ...)",
        )
        shares[area] = shares.get(area, 0) + tottime
    total = sum(shares.values())
    return sorted(((area, t / total) for area, t in shares.items()), key=lambda r: -r[1])


def large_body(records: int) -> bytes:
    """A receiveResponseXML whose response holds ``records`` CustomerRet."""
    return envelope(
        "receiveResponseXML",
        f"<ticket>{TICKET}</ticket><response>{escape(customer_page(records))}</response>"
        "<hresult /><message />",
    )


def measure_large(case: str, path: str) -> dict[str, float]:
    """In this process: load the body, then time one call of ``case`` and its peak memory."""
    body = Path(path).read_bytes()
    if case in ("ours", "before"):
        store = MemorySessionStore()
        server = QBWCServer if case == "ours" else GenericServer
        app: WSGIApp = server(BenchHandler(), store=store)
    elif case == "spyne":
        app = bare_spyne()
    if case in ("ours", "before", "spyne"):
        # Warm up with a small call, so imports and first-call costs are not counted.
        small = bodies()["getLastError"]
        call(app, small)
    baseline = memory("VmRSS")
    start = time.perf_counter()
    if case == "parse":
        parser = etree.XMLParser(huge_tree=True, resolve_entities=False)
        etree.fromstring(body, parser)
    else:
        if case in ("ours", "before"):
            now = time.time()
            session = Session(ticket=TICKET, user="foo", created=now, last_seen=now)
            session.state = SessionState.AWAITING_RESPONSE
            store.put(session)
        call(app, body)
    seconds = time.perf_counter() - start
    peak = memory("VmHWM")
    return {"seconds": seconds, "peak_extra": peak - baseline, "body": len(body)}


def large(records: int, repeat: int) -> dict[str, dict[str, float]]:
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as handle:
        handle.write(large_body(records))
        path = handle.name
    try:
        return in_fresh_processes(
            "bench.bench_server", ["ours", "before", "spyne", "parse"], path, repeat
        )
    finally:
        Path(path).unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="calls per operation")
    parser.add_argument(
        "--records", type=int, default=100_000, help="CustomerRet in the large call"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each large case")
    parser.add_argument("--profile", action="store_true", help="print the profile in any case")
    parser.add_argument("--measure", nargs=2, metavar=("CASE", "BODY"), help=argparse.SUPPRESS)
    parser.add_argument("--release-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_large(*args.measure)))
        return
    if args.release_worker:
        release_worker()
        return

    print(
        f"Per call, in-process, median of {args.calls} calls "
        f"(target: compiled at most 0.5x release {RELEASE})\n"
    )
    print(
        f"{'operation':<22}{'compiled µs':>13}{'release µs':>12}{'x release':>11}"
        f"{'generic µs':>12}{'x generic':>11}{'bare spyne µs':>15}{'x floor':>9}"
    )
    missed = False
    rows, timed = per_call(args.calls)
    for operation, after, before, floor, then in rows:
        missed = missed or after > 0.5 * (then if then is not None else before)
        release = (
            f"{then:>12.0f}{after / then:>11.2f}" if then is not None else f"{'-':>12}{'-':>11}"
        )
        print(
            f"{operation:<22}{after:>13.0f}{release}{before:>12.0f}{after / before:>11.2f}"
            f"{floor:>15.0f}{after / floor:>9.2f}"
        )
    print(
        f"\nrelease: the server of commit {RELEASE}, the last release before this work, "
        "timed in its own process."
    )
    if not timed:
        print(
            f"  (not timed: no git history holding {RELEASE} here; "
            "the target falls back to generic)"
        )
    print(
        "generic: this server through spyne's own reader and serializer, "
        "with the other changes since the release."
    )
    if missed or args.profile:
        print(
            "\nWhere a compiled sendRequestXML + receiveResponseXML pair spends its time "
            "(cProfile, own time):\n"
        )
        for area, share in profile(max(args.calls // 2, 1)):
            print(f"  {area:<46}{share:>6.0%}")

    figures = large(args.records, args.repeat)
    mb = 1024 * 1024
    body = figures["ours"]["body"]
    print(
        f"\nreceiveResponseXML of {body / mb:.1f} MB ({args.records:,} CustomerRet), "
        f"median of {args.repeat} fresh processes\n"
        "(targets: no slower and no larger than the generic path)\n"
    )
    print(f"{'case':<14}{'time ms':>10}{'x parse':>9}{'peak MB':>10}{'x body':>8}")
    for case, label in (
        ("ours", "qbwc_spyne"),
        ("before", "generic"),
        ("spyne", "bare spyne"),
        ("parse", "lxml parse"),
    ):
        f = figures[case]
        print(
            f"{label:<14}{f['seconds'] * 1000:>10.0f}"
            f"{f['seconds'] / figures['parse']['seconds']:>9.2f}"
            f"{f['peak_extra'] / mb:>10.0f}{f['peak_extra'] / body:>8.2f}"
        )
    print("\npeak MB: the most memory the call added to a process already holding the body.")


if __name__ == "__main__":
    main()
