"""The QBWCServer reference class, and its numbered errors.

:class:`QBWCServer` keeps the interface its seed documents:
``qwc_file_info_*`` properties, event hooks, ``config()``,
``create_qwc_file()``, ``request_data``/``process_request()``/``response_data``.
The numbered error table is the class's too: :data:`ERRORS`, and what
QuickBooks answers map to (:func:`for_status`, :func:`for_hresult`,
:func:`check_version`), here in a handler's answer:

.. code-block:: python

    import hmac

    from qbwc_spyne import QBWCHandler, make_wsgi_app, qbxml, reference

    class Handler(QBWCHandler):
        def on_authenticate(self, event):
            event.accept = hmac.compare_digest(event.password, "s3cret")

        def on_send_request(self, event):
            add = {"CustomerAdd": {"Name": "Acme", "TermsRef": {"FullName": "Net 99"}}}
            event.request = qbxml.request(qbxml.Rq("CustomerAddRq", add))

        def on_receive_response(self, event):
            for result in qbxml.parse_response(event.response):
                error = reference.for_status(result.status_code, result.message)
                if error is not None:
                    raise error  # 808 for status 3140 (no such terms); 805 for 3100...

    app = make_wsgi_app(Handler())

A new application is better served by :func:`~qbwc_spyne.make_wsgi_app`
and a :class:`~qbwc_spyne.QBWCHandler`; ``QBWCServer(handler)`` serves a
handler too.

.. versionadded:: Unreleased
   The table was ``qbwc_spyne.server_errors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._deprecation import moved
from .server._reference_errors import (
    ERRORS,
    HRESULT_CODES,
    STATUS_CODES,
    UNSUPPORTED_VERSION,
    check_version,
    error,
    for_hresult,
    for_status,
    message,
)

if TYPE_CHECKING:
    from .server._server import QBWCServer

__all__ = [
    "ERRORS",
    "HRESULT_CODES",
    "STATUS_CODES",
    "UNSUPPORTED_VERSION",
    "QBWCServer",
    "check_version",
    "error",
    "for_hresult",
    "for_status",
    "message",
]


# The server pulls in spyne and the generated service: loaded on first use,
# so that code using the error table alone does not load them.
__getattr__ = moved(__name__, {}, lazy={"QBWCServer": "qbwc_spyne.server._server:QBWCServer"})


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
