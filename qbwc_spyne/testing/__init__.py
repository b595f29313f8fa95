"""Test an integration without Windows: both ends of the wire in Python.

The simulator needs the ``testing`` extra (``pip install
'qbwc_spyne[testing]'``), which brings zeep; the fake QuickBooks and its
exceptions need nothing more than the package.

- :class:`WebConnector` plays the Web Connector with zeep, against a WSGI
  app in-process or a server's URL, following its call order and honouring
  every answer as it does.
- :class:`FakeQuickBooks` answers the qbXML requests as QuickBooks does,
  from an in-memory company.
- :class:`WSGITransport` lets any zeep client call a WSGI app in-process,
  through werkzeug's test client: no server, no socket.

.. code-block:: python

    from qbwc_spyne import QBWCHandler, make_wsgi_app, qbxml
    from qbwc_spyne.testing import FakeQuickBooks, WebConnector

    class Handler(QBWCHandler):  # yours: the integration under test
        def on_authenticate(self, event):
            event.accept = event.password == "pw"

        def on_send_request(self, event):
            event.request = qbxml.request(qbxml.Rq("CustomerQueryRq", {}))

    app = make_wsgi_app(Handler())
    quickbooks = FakeQuickBooks.from_json({"customers": [{"Name": "Acme"}]})  # or a file's path
    result = WebConnector(app, user="shop", password="pw", quickbooks=quickbooks).update()
    assert result.ok, result.transcript()

The fake's own exceptions are here too: :class:`CompanyDataError` (company
data it cannot load), :class:`QuickBooksUnavailable` (it could not be
opened) and :class:`InvalidAnswerError` (it wrote an answer the schema
refuses).

The pytest plugin (installed with the package) gives the fixtures
``fake_quickbooks`` and ``web_connector``.

.. versionadded:: 0.1.0

.. versionchanged:: Unreleased
   ``CompanyDataError`` and ``InvalidAnswerError`` are exported here; they
   were in :mod:`qbwc_spyne.exceptions`, whose old names still import,
   deprecated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._deprecation import moved
from ._errors import CompanyDataError, InvalidAnswerError, QuickBooksUnavailable
from ._fakeqb import FakeQuickBooks, QuickBooksAnswer

if TYPE_CHECKING:
    from ._connector import WebConnector
    from ._result import STATUSES, Call, UpdateResult
    from ._transport import WSDL_PATH, Exchange, HTTPTransport, WSGITransport, make_client

# The simulator speaks SOAP with zeep, the testing extra's: loaded on first
# use, so that the fake QuickBooks and the exceptions import without it.
__getattr__ = moved(
    __name__,
    {},
    lazy={
        "WebConnector": "qbwc_spyne.testing._connector:WebConnector",
        "STATUSES": "qbwc_spyne.testing._result:STATUSES",
        "Call": "qbwc_spyne.testing._result:Call",
        "UpdateResult": "qbwc_spyne.testing._result:UpdateResult",
        "WSDL_PATH": "qbwc_spyne.testing._transport:WSDL_PATH",
        "Exchange": "qbwc_spyne.testing._transport:Exchange",
        "HTTPTransport": "qbwc_spyne.testing._transport:HTTPTransport",
        "WSGITransport": "qbwc_spyne.testing._transport:WSGITransport",
        "make_client": "qbwc_spyne.testing._transport:make_client",
    },
)

__all__ = [
    "STATUSES",
    "WSDL_PATH",
    "Call",
    "CompanyDataError",
    "Exchange",
    "FakeQuickBooks",
    "HTTPTransport",
    "InvalidAnswerError",
    "QuickBooksAnswer",
    "QuickBooksUnavailable",
    "UpdateResult",
    "WSGITransport",
    "WebConnector",
    "make_client",
]
