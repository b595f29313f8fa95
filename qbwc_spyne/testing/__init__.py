"""Test an integration without Windows: both ends of the wire in Python.

Needs the ``testing`` extra (``pip install qbwc_spyne[testing]``), which
brings zeep.

- :class:`WebConnector` plays the Web Connector with zeep, against a WSGI
  app in-process or a server's URL, following its call order and honouring
  every answer as it does.
- :class:`FakeQuickBooks` answers the qbXML requests as QuickBooks does,
  from an in-memory company.
- :class:`WSGITransport` lets any zeep client call a WSGI app in-process,
  through werkzeug's test client: no server, no socket.

::

    quickbooks = FakeQuickBooks.from_json("company.json")
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

from ._connector import WebConnector

# The command line's simulate checks its URL as the simulator does, and
# imports the check from here.
from ._connector import _check_url as _check_url
from ._errors import CompanyDataError, InvalidAnswerError, QuickBooksUnavailable
from ._fakeqb import FakeQuickBooks, QuickBooksAnswer
from ._result import STATUSES, Call, UpdateResult
from ._transport import WSDL_PATH, Exchange, HTTPTransport, WSGITransport, make_client

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
