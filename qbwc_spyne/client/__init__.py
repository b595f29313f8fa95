"""A QuickBooks company as typed resources: an integration without a line of qbXML.

.. code-block:: python

    from qbwc_spyne.objects import CustomerAdd
    from qbwc_spyne.testing import FakeQuickBooks

    # In production: QuickBooks.live(live_client, "shop"), or QuickBooks(send).
    qb = FakeQuickBooks().client()
    acme = qb.customer.add(CustomerAdd(name="Acme"))
    acme = qb.customer.mod(acme, phone="555-0100", on_conflict="reapply")
    for customer in qb.customer.list(name_starts_with="A", active_status="All"):
        print(customer.full_name, customer.balance)  # a CustomerRet

One resource per object type that qbXML queries (``qb.customer``,
``qb.invoice``, ``qb.item_inventory``...), typed with the classes of
:mod:`qbwc_spyne.objects`. A status that says QuickBooks did not do what
was asked raises a typed :class:`~qbwc_spyne.exceptions.QuickBooksStatusError`.
Each resource also builds, without sending, the typed request it would
send (:meth:`Resource.query`, :meth:`Resource.add_request`...), which a
job kind's ``build`` returns; :func:`raise_for_status` then reads the
answer in its ``handle``.

.. versionadded:: Unreleased
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import qbxml
from ..exceptions import ConfigurationError
from ._resource import Filters, Resource, Send, Spec, custom_fields, raise_for_status
from ._resources import SPECS, Resources

if TYPE_CHECKING:
    from ..queue._live import LiveClient

__all__ = [
    "Filters",
    "QuickBooks",
    "Resource",
    "Send",
    "Spec",
    "custom_fields",
    "raise_for_status",
]


def _builds_only(rq: Any) -> qbxml.Result:
    raise ConfigurationError(
        "this QuickBooks only builds requests: give it a send (or use QuickBooks.live) to send"
    )


class QuickBooks(Resources):
    """One company's QuickBooks, one typed resource per object type.

    Args:
        send: None for a client that only builds requests (inside a job
            kind's ``build``: :meth:`Resource.query`, :meth:`Resource.add_request`...);
            else a callable that sends one request (a typed request or a
            :class:`~qbwc_spyne.qbxml.Rq`) and returns QuickBooks' answer to it.
        iterators: whether ``send`` carries qbXML iterators (one connection
            answers every page); without them :meth:`Resource.list` asks for
            everything at once.
        page_size: the records a page of :meth:`Resource.list` asks for.

    ``send`` is called from a background thread while ``list`` fetches a
    page ahead, and may be called from the caller's thread at the same
    time (a ``mod`` inside a ``for`` over ``list``): it must be thread-safe,
    as :meth:`LiveClient.request <qbwc_spyne.LiveClient.request>` is.

    .. versionadded:: Unreleased
    """

    def __init__(
        self, send: Send | None = None, *, iterators: bool = True, page_size: int = 100
    ) -> None:
        self.send: Send = send if send is not None else _builds_only
        self.iterators = iterators
        self.page_size = page_size

    @classmethod
    def live(
        cls,
        client: LiveClient,
        user: str,
        *,
        timeout: float = 60.0,
        company_file: str = "",
        page_size: int = 100,
    ) -> QuickBooks:
        """The user's QuickBooks through a :class:`~qbwc_spyne.LiveClient`: each request sent now.

        Each page of ``list`` is a live request of its own, and the next is
        asked for as soon as a page lands: the hot session (the queue
        handler's ``keep_alive``) takes it at the Web Connector's next ask.
        QuickBooks keeps an iterator in that session; should the session
        end mid-list, the next page is answered 3391 and ``list`` raises
        :class:`~qbwc_spyne.exceptions.QuickBooksStatusError`: list again.
        """

        def send(rq: Any) -> qbxml.Result:
            return client.request(user, rq, timeout=timeout, company_file=company_file)

        return cls(send, page_size=page_size)

    def _resource(self, attr: str) -> Resource[Any, Any, Any, Any, Any]:
        return Resource(SPECS[attr], self.send, iterators=self.iterators, page_size=self.page_size)

    def __repr__(self) -> str:
        return f"<QuickBooks send={self.send!r}>"
