"""A web page that asks QuickBooks now: a customer lookup answered within seconds.

``make_site(client)`` is a small werkzeug app: ``GET /customer?name=Acme``
looks the customer up in the shop's QuickBooks through a
:class:`~qbwc_spyne.LiveClient` and the resource client
(``qb.customer.get(full_name=...)``), and answers with the typed record's
fields as JSON; 404 when QuickBooks has no such customer. The view blocks
until the answer comes; the Web Connector endpoint (here mounted at
``/qbwc`` of the same server) keeps the session open between lookups, so
every lookup after the first goes out at the Web Connector's next ask,
about five seconds away at most.

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

from qbwc_spyne import LiveClient, MemoryJobQueue, QueueHandler, make_wsgi_app
from qbwc_spyne.client import QuickBooks
from qbwc_spyne.exceptions import LiveError, NotFoundError, QuickBooksStatusError
from qbwc_spyne.objects import CustomerRet
from qbwc_spyne.status import MemoryStatusStore, StatusRecorder

USER = "shop"
PASSWORD = "demo-password"  # noqa: S105 -- the demo's own credential


def customer_json(customer: CustomerRet) -> dict[str, Any]:
    """What the page shows of a customer: typed values made JSON (Decimal and datetime as text)."""
    return {
        "list_id": customer.list_id,
        "full_name": customer.full_name,
        "phone": customer.phone,
        "email": customer.email,
        "balance": None if customer.balance is None else str(customer.balance),
        "is_active": customer.is_active,
        "time_modified": customer.time_modified.isoformat() if customer.time_modified else None,
    }


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def make_site(client: LiveClient) -> Any:
    """The shop's site: ``/customer?name=...`` looks the customer up in QuickBooks now."""
    qb = QuickBooks.live(client, USER, timeout=60)

    @Request.application
    def site(request: Request) -> Response:
        if request.path != "/customer":
            return Response("Try /customer?name=...", status=404)
        name = request.args.get("name", "")
        if not name:
            return Response("name is required", status=400)
        try:
            customer = qb.customer.get(full_name=name)
        except NotFoundError:
            return _json({"error": f"QuickBooks has no customer named {name!r}"}, 404)
        except QuickBooksStatusError as exc:  # QuickBooks answered, but not with the customer
            return _json({"error": str(exc), "code": exc.code}, 502)
        except LiveError as exc:
            # Offline, timed out, refused: the words say which, and what to do.
            return _json({"error": str(exc)}, 503)
        return _json(customer_json(customer))

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
        answer = lookup["answer"]
        found = answer.get("full_name") or answer
        print(f"{lookup['seconds']:6.2f} s  {found}  balance {answer.get('balance')}")
    print(
        f"one session: {update.status}, {len(update.calls)} calls, closed {update.close_message!r}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
