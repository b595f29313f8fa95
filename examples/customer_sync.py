"""A small Web Connector integration: read customers from QuickBooks.

The handler accepts one user, asks QuickBooks for its customers with a
qbXML CustomerQuery, and keeps their names in the session. Serve it with::

    gunicorn 'examples.customer_sync:app' -c python:qbwc_spyne.gunicorn --bind 127.0.0.1:8000

or run this file for werkzeug's development server.
"""

from __future__ import annotations

import hmac
import os

from lxml import etree

from qbwc_spyne import QBWCHandler, SQLSessionStore, make_wsgi_app
from qbwc_spyne.events import (
    AuthenticateEvent,
    CloseConnectionEvent,
    ReceiveResponseEvent,
    SendRequestEvent,
    ServerVersionEvent,
)

USER = os.environ.get("QBWC_USER", "demo")
PASSWORD = os.environ.get("QBWC_PASSWORD", "demo-password")

CUSTOMER_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<?qbxml version="13.0"?>
<QBXML>
  <QBXMLMsgsRq onError="stopOnError">
    <CustomerQueryRq requestID="1">
      <MaxReturned>100</MaxReturned>
    </CustomerQueryRq>
  </QBXMLMsgsRq>
</QBXML>
"""


class CustomerSync(QBWCHandler):
    """Reads up to 100 customers in one request and reports how many came."""

    def on_server_version(self, event: ServerVersionEvent) -> None:
        event.version = "customer-sync example 1.0"

    def on_authenticate(self, event: AuthenticateEvent) -> None:
        # Compare in constant time, so the answer's timing leaks nothing.
        valid = hmac.compare_digest(event.user.encode(), USER.encode()) & hmac.compare_digest(
            event.password.encode(), PASSWORD.encode()
        )
        event.accept = bool(valid)

    def on_send_request(self, event: SendRequestEvent) -> None:
        event.request = CUSTOMER_QUERY

    def on_receive_response(self, event: ReceiveResponseEvent) -> None:
        assert event.session is not None
        if not event.success:
            event.session.last_error = f"QuickBooks: {event.error_message}"
            event.percent_done = -1
            return
        # QuickBooks never sends a DTD: a parser that expands no entity loses nothing.
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        root = etree.fromstring(event.response.encode(), parser)
        names = [el.text for el in root.iterfind(".//CustomerRet/FullName") if el.text]
        event.session.data["customers"] = names
        event.percent_done = 100

    def on_close_connection(self, event: CloseConnectionEvent) -> None:
        count = len(event.session.data.get("customers", [])) if event.session else 0
        event.response_message = f"Read {count} customers"


store_path = os.environ.get("QBWC_SESSIONS")
app = make_wsgi_app(
    CustomerSync(),
    store=SQLSessionStore(store_path) if store_path else None,
    public_url=os.environ.get("QBWC_PUBLIC_URL"),
)

if __name__ == "__main__":
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", 8000, app)
