"""A Web Connector service written the way the QBWCServer reference class describes a session.

Create the server, assign its event hooks, and for every HTTP request: put
the body in ``request_data``, call ``process_request()``, and send
``response_data`` back with ``Content-Type: text/xml``. The HTTP side is the
standard library's ``http.server``; any host that can read a request body
and write a response works the same way.

The integration reads every customer, five a page with a qbXML iterator,
and reports how many it read::

    python -m examples.seed_style_server                 # http://localhost:8000/
    python -m examples.seed_style_server --port 0        # any free port
    python -m examples.seed_style_server --qwc shop.qwc  # the QWC file there

The QWC file goes to the system's temporary directory unless ``--qwc``
says where: run from a clone, nothing is written into it.
"""

from __future__ import annotations

import argparse
import hmac
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from qbwc_spyne import QBWCServer, qbxml
from qbwc_spyne.events import (
    AuthenticateEvent,
    CloseConnectionEvent,
    GetLastErrorEvent,
    ReceiveResponseEvent,
    SendRequestEvent,
    ServerVersionEvent,
)
from qbwc_spyne.qwc import stable_file_id, stable_owner_id

USER = "demo"
PASSWORD = "demo-password"  # noqa: S105 -- the demo's own credential
PAGE = 5


def on_server_version(event: ServerVersionEvent) -> None:
    event.version = "seed-style example 1.0"


def on_authenticate(event: AuthenticateEvent) -> None:
    # Compare in constant time, so the answer's timing says nothing about the password.
    event.accept = event.user == USER and hmac.compare_digest(
        event.password.encode(), PASSWORD.encode()
    )


def on_send_request(event: SendRequestEvent) -> None:
    session = event.session
    if session is None:  # every sendRequestXML has a session; this satisfies the type
        return
    iterator_id = session.data.get("iterator_id")
    query = qbxml.Rq(
        "CustomerQueryRq",
        {"MaxReturned": PAGE},
        request_id="1",
        iterator="Continue" if iterator_id else "Start",
        iterator_id=iterator_id,
    )
    event.request = qbxml.request(query, version=qbxml.choose_version(session.host_response))


def on_receive_response(event: ReceiveResponseEvent) -> None:
    session = event.session
    if session is None:
        return
    if not event.success:  # QuickBooks answered with an hresult instead of a response
        session.last_error = f"QuickBooks: {event.error_message} ({event.error_code})"
        event.percent_done = -1
        return
    (result,) = qbxml.parse_response(event.response)
    names = session.data.setdefault("customers", [])
    names.extend(record.findtext("FullName") for record in result.records)
    remaining = result.remaining_count or 0
    session.data["iterator_id"] = result.iterator_id if remaining else None
    event.percent_done = 100 if not remaining else 100 * len(names) // (len(names) + remaining)


def on_get_last_error(event: GetLastErrorEvent) -> None:
    if event.session is not None:
        event.error_message = event.session.last_error or "Unknown error"


def on_close_connection(event: CloseConnectionEvent) -> None:
    count = len(event.session.data.get("customers", [])) if event.session else 0
    event.response_message = f"Read {count} customers"


def make_server() -> QBWCServer:
    """The server, with its hooks assigned."""
    server = QBWCServer()
    server.on_server_version = on_server_version
    server.on_authenticate = on_authenticate
    server.on_send_request = on_send_request
    server.on_receive_response = on_receive_response
    server.on_get_last_error = on_get_last_error
    server.on_close_connection = on_close_connection
    return server


def write_qwc(server: QBWCServer, path: str, url: str) -> None:
    """Write the QWC file the Web Connector's user imports."""
    server.qwc_file_info_app_name = "Seed-style example"
    server.qwc_file_info_app_description = "Reads the customers of the company file"
    server.qwc_file_info_app_url = url
    server.qwc_file_info_app_support_url = url
    server.qwc_file_info_user = USER
    server.qwc_file_info_owner_id = stable_owner_id("Seed-style example")
    server.qwc_file_info_file_id = stable_file_id("Seed-style example", USER)
    server.qwc_file_info_update_interval = 3600
    server.overwrite = True
    server.create_qwc_file(path)


def make_http_handler(server: QBWCServer) -> type[BaseHTTPRequestHandler]:
    """An ``http.server`` request handler that passes each POST body through ``server``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or "0")
            except ValueError:
                length = -1
            if length < 0:
                self.send_error(400, "Content-Length is not a number")
                return
            if length > server.max_body_bytes:  # refused before a byte is read
                self.send_error(413)
                return
            try:
                server.request_data = self.rfile.read(length).decode("utf-8")
            except UnicodeDecodeError:
                self.send_error(400, "The body is not UTF-8")
                return
            server.process_request()
            body = server.response_data.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line a call would drown the console during an update

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve on localhost until interrupted, after writing the QWC file (see ``--qwc``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--qwc",
        default=str(Path(tempfile.gettempdir()) / "seed_style.qwc"),
        help="where to write the QWC file (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    server = make_server()
    http = ThreadingHTTPServer(("localhost", args.port), make_http_handler(server))
    url = f"http://localhost:{http.server_address[1]}/"
    write_qwc(server, args.qwc, url)
    print(f"serving {url}; import {args.qwc} into the Web Connector (password {PASSWORD!r})")
    try:
        http.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        http.server_close()


if __name__ == "__main__":
    main()
