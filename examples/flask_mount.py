"""Serve the Web Connector endpoint under /qbwc of an existing Flask site.

The Web Connector's endpoint is the app's root, so mount it at a prefix with
werkzeug's DispatcherMiddleware: /qbwc takes SOAP POSTs and /qbwc?wsdl
serves the WSDL. The same app works in Django: route the prefix to it with
any WSGI dispatcher, or serve it beside Django under the same gunicorn.

Run: ``flask --app examples.flask_mount run`` (Flask is not a dependency of
qbwc_spyne; install it to try this).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from examples.customer_sync import CustomerSync
from qbwc_spyne import make_wsgi_app

app = Flask(__name__)


@app.get("/")
def home() -> str:
    return "The shop. The Web Connector talks to /qbwc."


# Behind a proxy, give the URL the Web Connector uses, for the WSDL's address.
qbwc = make_wsgi_app(CustomerSync(), public_url=None)
app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/qbwc": qbwc})  # type: ignore[method-assign]
