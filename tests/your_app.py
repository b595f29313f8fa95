"""The reader's own code that README.md's examples import as ``your_app``.

tests/test_docs.py copies this file beside the README's ``app.py`` as
``your_app.py``. Each name does what a real application would, in the
simplest way: the tests then check what reached it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from argon2 import PasswordHasher

from qbwc_spyne import JobContext, JobKind, Session, qbxml
from qbwc_spyne.objects import CustomerRef, CustomerRet, InvoiceAdd, InvoiceLineAdd, ItemRef

# The quickstart: the qbXML requests waiting to be sent, and the answers.
waiting: list[str] = [
    qbxml.request(qbxml.Rq("CustomerQueryRq", {"MaxReturned": 5})),
    qbxml.request(qbxml.Rq("ItemQueryRq", {"MaxReturned": 5})),
]
responses: list[str] = []


def orders_waiting() -> bool:
    return bool(waiting)


def next_qbxml_request(session: Session) -> str:
    return waiting[0] if waiting else ""


def store_response(response: str) -> None:
    responses.append(response)
    waiting.pop(0)


def all_done() -> bool:
    return not waiting


# The jobs example: the mirror of the customers, the invoices' TxnIDs, the
# Web Connector user's password hash.
customers: list[dict[str, Any]] = []
txn_ids: dict[str, str] = {}
hashes = {"shop": PasswordHasher().hash("s3cret")}


def save_customers(records: Iterable[CustomerRet | Mapping[str, Any]]) -> None:
    customers.extend(
        dict(record)
        if isinstance(record, Mapping)
        else {"Name": record.name, "ListID": record.list_id}
        for record in records
    )


def invoice_for(payload: Mapping[str, Any]) -> InvoiceAdd:
    return InvoiceAdd(
        customer_ref=CustomerRef(full_name="Customer 0001"),
        ref_number=payload["order"],
        invoice_line_add=[
            InvoiceLineAdd(
                item_ref=ItemRef(full_name="Labor"), quantity=Decimal(1), rate=Decimal("80.00")
            )
        ],
    )


def record_txn_id(order: str, txn_id: str | None) -> None:
    txn_ids[order] = txn_id or ""


# Running on PostgreSQL: a job kind of the reader's.
class MirrorCustomers(JobKind):
    name = "mirror_customers"

    def build(self, ctx: JobContext) -> qbxml.Rq:
        return qbxml.Rq("CustomerQueryRq", {"MaxReturned": 50})

    def handle(self, ctx: JobContext, result: qbxml.Result) -> None:
        save_customers(record.to_dict() for record in result.records)
