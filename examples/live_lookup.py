"""A web page that asks QuickBooks now: a customer lookup answered within seconds.

``make_site(client)`` is a small werkzeug app: ``GET /customer?name=Acme``
sends a CustomerQuery to the shop's QuickBooks through a
:class:`~qbwc_spyne.LiveClient` and answers with what QuickBooks said, as
JSON. The view blocks until the answer comes; the Web Connector endpoint
(here mounted at ``/qbwc`` of the same server) keeps the session open
between lookups, so every lookup after the first goes out at the Web
Connector's next ask, about five seconds away at most.

``main()`` runs it all on 127.0.0.1 with the simulated Web Connector and a
fake QuickBooks: a first lookup starts a session (a cold start: it waits
for the update), a second arrives in the hot session, and the update ends
when the keep-alive window runs out::

    python -m examples.live_lookup
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.parse
from typing import Any

import requests
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from qbwc_spyne import LiveClient, MemoryJobQueue, QueueHandler, make_wsgi_app, qbxml
from qbwc_spyne.exceptions import LiveError
from qbwc_spyne.status import MemoryStatusStore, StatusRecorder

USER = "shop"
PASSWORD = "demo-password"  # noqa: S105 -- the demo's own credential


def make_site(client: LiveClient) -> Any:
    """The shop's site: ``/customer?name=...`` looks the customer up in QuickBooks now."""

    @Request.application
    def site(request: Request) -> Response:
        if request.path != "/customer":
            return Response("Try /customer?name=...", status=404)
        name = request.args.get("name", "")
        if not name:
            return Response("name is required", status=400)
        try:
            result = client.request(
                USER, qbxml.Rq("CustomerQueryRq", {"FullName": name}), timeout=60
            )
        except LiveError as exc:
            # Offline, timed out, refused: the words say which, and what to do.
            return Response(
                json.dumps({"error": str(exc)}), status=503, mimetype="application/json"
            )
        body = {
            "status": result.status_code,
            "message": result.message,
            "customers": [record.to_dict() for record in result.records],
        }
        return Response(json.dumps(body), mimetype="application/json")

    return site


def run(*, noop_delay: float = 5.0, keep_alive: float = 10.0) -> tuple[list[dict[str, Any]], Any]:
    """Serve the site and the endpoint, look two customers up, return what each lookup got.

    Args:
        noop_delay: the simulated Web Connector's wait after NoOp (5 s in the real one).
        keep_alive: the endpoint's keep-alive window.

    Returns:
        For each lookup its answer and the seconds it took; and the
        simulated update (:class:`~qbwc_spyne.testing.UpdateResult`).
    """
    from qbwc_spyne.testing import FakeQuickBooks, WebConnector

    queue = MemoryJobQueue()
    handler = QueueHandler(queue, passwords=lambda user, pw: pw == PASSWORD, keep_alive=keep_alive)
    # Who is connected: without it a lookup for a Web Connector that is not
    # there would wait its whole timeout instead of saying it is offline.
    status = MemoryStatusStore()
    site = make_site(LiveClient(queue, status=status))
    endpoint = make_wsgi_app(handler, observers=[StatusRecorder(status)])
    app = DispatcherMiddleware(site, {"/qbwc": endpoint})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    quickbooks = FakeQuickBooks()
    quickbooks.add_customers(3)
    quickbooks.delay = 0.05  # QuickBooks takes its time
    wc = WebConnector(
        f"{base}/qbwc", user=USER, password=PASSWORD, quickbooks=quickbooks, noop_delay=noop_delay
    )
    looked: list[dict[str, Any]] = []
    updates: list[Any] = []

    def lookup(name: str) -> None:
        began = time.monotonic()
        answer = requests.get(f"{base}/customer?name={urllib.parse.quote(name)}", timeout=120)
        looked.append({"answer": answer.json(), "seconds": time.monotonic() - began})

    try:
        wc.update()  # an earlier scheduled update, with nothing to do: the user is seen
        cold = threading.Thread(target=lookup, args=("Customer 0001",))
        cold.start()
        while not queue.jobs():  # the lookup's request is queued: the scheduled update runs
            time.sleep(0.01)
        update = threading.Thread(target=lambda: updates.append(wc.update()))
        update.start()
        cold.join(120)
        lookup("Customer 0003")  # the session is hot now
        update.join(keep_alive + 120)
    finally:
        server.shutdown()
        server.server_close()
    return looked, updates[0] if updates else None


def main(argv: list[str] | None = None) -> int:
    """Run the lookups with the simulator and print each answer and its time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noop-delay", type=float, default=5.0)
    parser.add_argument("--keep-alive", type=float, default=10.0)
    args = parser.parse_args(argv)
    lookups, update = run(noop_delay=args.noop_delay, keep_alive=args.keep_alive)
    for lookup in lookups:
        names = [c.get("Name") for c in lookup["answer"].get("customers", [])]
        print(f"{lookup['seconds']:6.2f} s  {names or lookup['answer']}")
    print(
        f"one session: {update.status}, {len(update.calls)} calls, closed {update.close_message!r}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
