"""One object type's resource: list, get, add, mod, delete, void, deleted, custom fields."""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypedDict, TypeVar, Unpack, cast

import msgspec

from .. import qbxml
from ..codes import describe
from ..exceptions import (
    ConflictError,
    InvalidReferenceError,
    NameInUseError,
    NotFoundError,
    ObjectFieldError,
    QBWCError,
    QBXMLBuildError,
    QuickBooksStatusError,
)
from ..qbxml._objects import QBObject, QBRequest, load, snake

if TYPE_CHECKING:
    from ..objects import DataExtRet

__all__ = ["Filters", "Resource", "Send", "Spec", "custom_fields", "raise_for_status"]

#: What a client sends through: a typed request (or an Rq) in, QuickBooks' answer out.
Send = Callable[[QBRequest | qbxml.Rq], qbxml.Result]

RetT = TypeVar("RetT", bound=QBObject)
AddT = TypeVar("AddT", bound=QBObject)
ModT = TypeVar("ModT", bound=QBObject)
QueryT = TypeVar("QueryT", bound=QBRequest)
GoneT = TypeVar("GoneT", bound=QBObject)  # ListDeletedRet or TxnDeletedRet

_NOT_FOUND = (1, 500, 3120)
#: QuickBooks' status for an iteratorID it does not know (another session's, spent, expired).
_ITERATOR_NOT_VALID = 3391

_BY_CODE: dict[int, type[QuickBooksStatusError]] = {
    **dict.fromkeys(_NOT_FOUND, NotFoundError),
    3100: NameInUseError,
    3140: InvalidReferenceError,
    3200: ConflictError,
}


def raise_for_status(result: qbxml.Result, *, missing_ok: bool = False) -> qbxml.Result:
    """``result`` when QuickBooks did what was asked; else the typed exception of its status.

    An error status (1000 and up) raises: :class:`~qbwc_spyne.exceptions.NameInUseError`
    (3100), :class:`~qbwc_spyne.exceptions.InvalidReferenceError` (3140),
    :class:`~qbwc_spyne.exceptions.ConflictError` (3200),
    :class:`~qbwc_spyne.exceptions.NotFoundError` (3120), and
    :class:`~qbwc_spyne.exceptions.QuickBooksStatusError` for any other.
    Nothing found (1) and not everything named found (500) raise
    ``NotFoundError`` too, unless ``missing_ok``. Other warnings and
    information pass. Usable in a job kind's ``handle``.

    Args:
        result: one answer, e.g. from :func:`qbwc_spyne.qbxml.parse_response`.
        missing_ok: statuses 1 and 500 are answers (a query may match nothing).

    Returns:
        ``result`` itself.

    .. versionadded:: Unreleased
    """
    code = result.status_code
    if code == 0 or (missing_ok and code in (1, 500)):
        return result
    if code < 1000 and code not in (1, 500):
        return result
    cls = _BY_CODE.get(code, QuickBooksStatusError)
    request = result.name[:-2] + "Rq" if result.name.endswith("Rs") else ""
    raise cls(
        f"{request or 'a request'} failed with {describe(code, result.message)}",
        code=code,
        message=result.message,
        severity=result.severity,
        request=request,
        result=result,
    )


def _next_page(result: qbxml.Result) -> qbxml.Result:
    """The answer to a Continue, checked; 3391 says what it means to the one listing."""
    try:
        return raise_for_status(result, missing_ok=True)
    except QuickBooksStatusError as exc:
        if exc.code != _ITERATOR_NOT_VALID:
            raise
        # The catalogue's words promise a restart at the next update, which
        # is the queue's doing: here the one listing must ask again.
        raise QuickBooksStatusError(
            f"{exc.request or 'a request'} failed with 3391: {exc.message or 'iterator not valid'}"
            " — the next page could not be read: QuickBooks keeps an iterator in the Web"
            " Connector session that started it, and that session ended (or the iterator"
            " expired) before the next page was asked for. Nothing was changed: list again.",
            code=exc.code,
            message=exc.message,
            severity=exc.severity,
            request=exc.request,
            result=exc.result,
        ) from None


def custom_fields(record: QBObject, *, owner_id: str = "0") -> dict[str, str]:
    """A record's custom fields (its ``DataExtRet``) as ``{name: value}``.

    QuickBooks returns them only to a query that asked for them: ``list`` and
    ``get`` with ``custom_fields=True`` (``OwnerID`` 0, the fields a user
    sees in QuickBooks). ``owner_id`` picks another owner's private fields.

    .. versionadded:: Unreleased
    """
    found: list[DataExtRet] = getattr(record, "data_ext_ret", None) or []
    return {
        ext.data_ext_name or "": ext.data_ext_value or ""
        for ext in found
        if (ext.owner_id or "0") == owner_id
    }


@dataclass(frozen=True)
class Spec:
    """What qbXML has for one object type (from the schema tables).

    Attributes:
        name: the object type, e.g. ``"Customer"``.
        kind: ``"list"`` (ListID, ListDel) or ``"txn"`` (TxnID, TxnDel, TxnVoid).
        add, mod, delete, void: whether the request exists for the type.
        data_ext: its ``ListDataExtType``/``TxnDataExtType`` ("" when it takes no custom field).
    """

    name: str
    kind: Literal["list", "txn"]
    add: bool
    mod: bool
    delete: bool
    void: bool
    data_ext: str


def _cls(name: str) -> type[Any]:
    return cast(type[Any], load(name))


class Filters(TypedDict, total=False):
    """The filters of :meth:`Resource.list` and :meth:`Resource.query` (see there)."""

    modified_from: datetime
    modified_to: datetime
    active_status: Literal["ActiveOnly", "InactiveOnly", "All"]
    name_contains: str
    name_starts_with: str
    name_ends_with: str
    date_from: date
    date_to: date
    ref_number: str
    custom_fields: bool
    line_items: bool


class Resource(Generic[RetT, AddT, ModT, QueryT, GoneT]):
    """The requests of one object type, answered as typed records.

    Reached as an attribute of :class:`~qbwc_spyne.client.QuickBooks`
    (``qb.customer``, ``qb.invoice``...). Every method that sends has a
    twin that only builds the typed request (:meth:`query`,
    :meth:`add_request`...), for a job kind's ``build``.

    .. versionadded:: Unreleased
    """

    def __init__(self, spec: Spec, send: Send, *, iterators: bool, page_size: int) -> None:
        self.spec = spec
        self._send = send
        self._iterators = iterators
        self._page_size = page_size
        self._id = "list_id" if spec.kind == "list" else "txn_id"

    def __repr__(self) -> str:
        return f"<Resource {self.spec.name}>"

    # -- building requests ------------------------------------------------------------------

    def query(
        self,
        *,
        query: QueryT | None = None,
        page_size: int | None = None,
        **filters: Unpack[Filters],
    ) -> QueryT:
        """The ``XQueryRq`` that :meth:`list` sends for ``filters``.

        With ``page_size`` it is an iterated query (``iterator="Start"``,
        ``MaxReturned``), as a job kind's ``build`` returns it: the job
        queue then continues it page by page, each page to ``handle``.

        Filters (each refused, naming the query, when the type's query lacks it):

        - ``modified_from``, ``modified_to``: datetimes (``FromModifiedDate``,
          ``ToModifiedDate``; in ``ModifiedDateRangeFilter`` for transactions);
        - ``active_status``: ``"ActiveOnly"``, ``"InactiveOnly"`` or ``"All"`` (lists);
        - ``name_contains``, ``name_starts_with``, ``name_ends_with``: a ``NameFilter``;
        - ``date_from``, ``date_to``: dates (``TxnDateRangeFilter``);
        - ``ref_number``: a transaction's reference number;
        - ``custom_fields``: True to receive the custom fields (``OwnerID`` 0);
        - ``line_items``: True to receive a transaction's lines (``IncludeLineItems``);
        - ``query``: an ``XQueryRq`` holding anything else; the filters are set on it.

        Raises:
            ObjectFieldError: a filter the query does not take, or a value of the wrong type.
        """
        cls = _cls(self.spec.name + "QueryRq")
        fields = set(cls.__struct_fields__)
        unknown = sorted(filters.keys() - Filters.__annotations__.keys())
        if unknown:
            raise ObjectFieldError(
                f"{cls.__name__}: no filter {', '.join(unknown)}; the filters are"
                f" {', '.join(Filters.__annotations__)}, and query= for the rest"
            )
        given: dict[str, Any] = {
            k: v for k, v in filters.items() if v is not None and v is not False
        }
        values: dict[str, Any] = {}

        def needs(field: str, filter_name: str) -> None:
            if field not in fields:
                raise ObjectFieldError(
                    f"{cls.__name__} takes no {filter_name} filter: set the query's own"
                    " fields through query= instead"
                )

        modified = {k: given.pop(k) for k in ("modified_from", "modified_to") if k in given}
        if modified:
            pairs = {
                "from_modified_date": modified.get("modified_from"),
                "to_modified_date": modified.get("modified_to"),
            }
            if "from_modified_date" in fields:
                values.update(pairs)
            else:
                needs("modified_date_range_filter", "modified_from/modified_to")
                values["modified_date_range_filter"] = _cls("ModifiedDateRangeFilter")(**pairs)
        if "active_status" in given:
            needs("active_status", "active_status")
            values["active_status"] = given.pop("active_status")
        names = [
            (k, criterion)
            for k, criterion in (
                ("name_contains", "Contains"),
                ("name_starts_with", "StartsWith"),
                ("name_ends_with", "EndsWith"),
            )
            if k in given
        ]
        if len(names) > 1:
            raise ObjectFieldError("a query takes one of name_contains/starts_with/ends_with")
        if names:
            key, criterion = names[0]
            needs("name_filter", key)
            values["name_filter"] = _cls("NameFilter")(
                match_criterion=criterion, name=given.pop(key)
            )
        dates = {k: given.pop(k) for k in ("date_from", "date_to") if k in given}
        if dates:
            needs("txn_date_range_filter", "date_from/date_to")
            values["txn_date_range_filter"] = _cls("TxnDateRangeFilter")(
                from_txn_date=dates.get("date_from"), to_txn_date=dates.get("date_to")
            )
        if "ref_number" in given:
            needs("ref_number", "ref_number")
            values["ref_number"] = [given.pop("ref_number")]
        if given.pop("custom_fields", False):
            needs("owner_id", "custom_fields")
            values["owner_id"] = ["0"]
        if given.pop("line_items", False):
            needs("include_line_items", "line_items")
            values["include_line_items"] = True
        if page_size is not None:
            if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
                raise ObjectFieldError(f"page_size must be a positive int, not {page_size!r}")
            values.update(max_returned=page_size, iterator="Start")
        if query is None:
            return cls(**values)  # type: ignore[no-any-return]
        if type(query) is not cls:
            raise ObjectFieldError(f"query= takes a {cls.__name__}, not {type(query).__name__}")
        if page_size is not None:
            own = [f for f in ("max_returned", "iterator", "iterator_id") if getattr(query, f)]
            if own:
                raise ObjectFieldError(
                    f"query= sets {', '.join(own)}, which paging sets: give page_size= instead"
                    " (or stop reading the list early)"
                )
        return msgspec.structs.replace(query, **values)

    def add_request(self, obj: AddT) -> QBRequest:
        """The ``XAddRq`` that :meth:`add` sends."""
        self._needs("add", self.spec.add)
        name = self.spec.name
        if type(obj).__name__ != name + "Add":
            raise ObjectFieldError(f"{name}AddRq takes a {name}Add, not {type(obj).__name__}")
        return cast(QBRequest, _cls(name + "AddRq")(**{snake(name + "Add"): obj}))

    def mod_request(self, obj: ModT | RetT, **changes: Any) -> QBRequest:
        """The ``XModRq`` that :meth:`mod` sends first (see there for ``obj`` and ``changes``)."""
        return self._mod_rq(self._as_mod(obj, changes))

    def delete_request(self, obj_or_id: RetT | str) -> QBRequest:
        """The ``ListDelRq`` or ``TxnDelRq`` that :meth:`delete` sends."""
        self._needs("delete", self.spec.delete)
        key = self._key(obj_or_id)
        if self.spec.kind == "list":
            return cast(QBRequest, _cls("ListDelRq")(list_del_type=self.spec.name, list_id=key))
        return cast(QBRequest, _cls("TxnDelRq")(txn_del_type=self.spec.name, txn_id=key))

    def void_request(self, obj_or_id: RetT | str) -> QBRequest:
        """The ``TxnVoidRq`` that :meth:`void` sends."""
        self._needs("void", self.spec.void)
        return cast(
            QBRequest,
            _cls("TxnVoidRq")(txn_void_type=self.spec.name, txn_id=self._key(obj_or_id)),
        )

    def deleted_request(
        self, *, deleted_from: datetime | None = None, deleted_to: datetime | None = None
    ) -> QBRequest:
        """The ``ListDeletedQueryRq`` or ``TxnDeletedQueryRq`` that :meth:`deleted` sends."""
        self._needs("deleted", self.spec.delete)
        window = None
        if deleted_from is not None or deleted_to is not None:
            window = _cls("DeletedDateRangeFilter")(
                from_deleted_date=deleted_from, to_deleted_date=deleted_to
            )
        prefix = "List" if self.spec.kind == "list" else "Txn"
        field = "list_del_type" if self.spec.kind == "list" else "txn_del_type"
        return cast(
            QBRequest,
            _cls(f"{prefix}DeletedQueryRq")(
                **{field: [self.spec.name]}, deleted_date_range_filter=window
            ),
        )

    def custom_field_request(
        self, record: RetT, name: str, value: str, *, owner_id: str = "0"
    ) -> QBRequest:
        """The ``DataExtModRq`` (the field has a value) or ``DataExtAddRq`` (it has none)."""
        self._needs("custom fields", bool(self.spec.data_ext))
        has = name in custom_fields(record, owner_id=owner_id)
        values: dict[str, Any] = {
            "owner_id": owner_id,
            "data_ext_name": name,
            "data_ext_value": value,
        }
        key = self._key(record)
        if self.spec.kind == "list":
            values["list_data_ext_type"] = self.spec.data_ext
            values["list_obj_ref"] = _cls("ListObjRef")(list_id=key)
        else:
            values["txn_data_ext_type"] = self.spec.data_ext
            values["txn_id"] = key
        action = "Mod" if has else "Add"
        ext = _cls(f"DataExt{action}")(**values)
        return cast(QBRequest, _cls(f"DataExt{action}Rq")(**{f"data_ext_{action.lower()}": ext}))

    # -- sending ------------------------------------------------------------------------------

    def list(
        self,
        *,
        query: QueryT | None = None,
        page_size: int | None = None,
        **filters: Unpack[Filters],
    ) -> Generator[RetT, None, None]:
        """Every record matching the filters (see :meth:`query`), page by page.

        Pages come through a qbXML iterator, ``page_size`` records each
        (``MaxReturned``; the client's default otherwise). As soon as a
        page arrives the next is asked for in a background thread, before
        the page's records are handed out, so a slow consumer never lets
        QuickBooks' iterator expire. Closing the iterator early (``break``,
        ``close()``) asks for no more; a page in flight is dropped, not waited for.

        Raises:
            ObjectFieldError: a filter the query does not take.
            QuickBooksStatusError: a page was refused; 3391 when QuickBooks no
                longer knows the iterator (it lives in the Web Connector's
                session, and that session ended mid-list): list again.
        """
        whole = self.query(query=query, **filters)
        if not self._iterators or any(getattr(whole, f, None) for f in _KEYS):
            # A lookup by id, name or number takes no MaxReturned in qbXML: one answer.
            return self._whole(whole)
        size = self._page_size if page_size is None else page_size
        return self._pages(self.query(query=query, page_size=size, **filters))

    def _whole(self, rq: QueryT) -> Generator[RetT, None, None]:
        yield from cast("list[RetT]", raise_for_status(self._send(rq), missing_ok=True).objects)

    def _pages(self, first: QueryT) -> Generator[RetT, None, None]:
        executor = ThreadPoolExecutor(1, thread_name_prefix="qbwc-page")
        pending: Future[qbxml.Result] | None = None
        try:
            result = raise_for_status(self._send(first), missing_ok=True)
            while True:
                pending = None
                if result.remaining_count and result.iterator_id:
                    following = msgspec.structs.replace(
                        first, iterator="Continue", iterator_id=result.iterator_id
                    )
                    pending = executor.submit(self._send, following)
                yield from cast("list[RetT]", result.objects)
                if pending is None:
                    return
                result = _next_page(pending.result())
        finally:
            # Closed early: none more is asked; a page in flight ends on its own thread and
            # is dropped, so leaving a list never waits for QuickBooks.
            executor.shutdown(wait=False, cancel_futures=True)

    def get(
        self,
        id: str | None = None,
        *,
        full_name: str | None = None,
        ref_number: str | None = None,
        custom_fields: bool = False,
    ) -> RetT:
        """The one record with this ListID/TxnID, full name (lists) or reference number.

        A transaction comes with its lines (where its query can include them).
        With several transactions of one reference number, the first is returned.

        Raises:
            NotFoundError: there is none.
            ObjectFieldError: not exactly one key given, or one the type lacks.
        """
        keys = {k: v for k, v in (("id", id), ("full_name", full_name), ("ref_number", ref_number))}
        given = {k: v for k, v in keys.items() if v is not None}
        if len(given) != 1:
            raise ObjectFieldError("get takes exactly one of id, full_name, ref_number")
        ((key, value),) = given.items()
        whole: dict[str, Any] = {
            "custom_fields": custom_fields,
            "line_items": self._takes("include_line_items"),
        }
        if key == "ref_number":
            rq = self.query(ref_number=value, **whole)
        else:
            field = self._id if key == "id" else "full_name"
            base = self.query(**whole)
            if field not in type(base).__struct_fields__:
                raise ObjectFieldError(f"{type(base).__name__} takes no {key}")
            rq = msgspec.structs.replace(base, **{field: [value]})
        found = raise_for_status(self._send(rq)).objects
        if not found:
            raise NotFoundError(
                f"no {self.spec.name} with {key} {value!r}", code=1, message="",
                request=type(rq).__name__,
            )  # fmt: skip
        return cast(RetT, found[0])

    def add(self, obj: AddT) -> RetT:
        """Add ``obj`` (an ``XAdd``); return the record QuickBooks made.

        Raises:
            NameInUseError, InvalidReferenceError, QuickBooksStatusError: refused.
        """
        return self._one(self._send(self.add_request(obj)))

    def mod(
        self,
        obj: ModT | RetT,
        *,
        on_conflict: Literal["raise", "reapply"] = "raise",
        **changes: Any,
    ) -> RetT:
        """Change a record; return it as QuickBooks holds it after.

        Args:
            obj: an ``XMod`` (its ListID/TxnID and EditSequence set, and the
                fields to change), or the ``XRet`` read before: its id and
                EditSequence are taken, and only ``changes`` are sent.
            on_conflict: on status 3200 (the record changed since it was
                read): ``"raise"`` a :class:`~qbwc_spyne.exceptions.ConflictError`
                carrying what was sent and the record fetched again, or
                ``"reapply"``: fetch the record again and send the same
                fields (only those the caller set) on its new EditSequence, once.
            changes: fields of the ``XMod`` to set, by their snake_case names.

        Raises:
            ConflictError: 3200 and ``"raise"``, or 3200 again after re-applying.
            NotFoundError: the record is not in QuickBooks.
            NameInUseError: QuickBooks refuses a name another record has.
            InvalidReferenceError: a reference names no record.
            QuickBooksStatusError: any other error status.
        """
        if on_conflict not in ("raise", "reapply"):
            raise ObjectFieldError(f"on_conflict is 'raise' or 'reapply', not {on_conflict!r}")
        sent = self._as_mod(obj, changes)
        result = self._send(self._mod_rq(sent))
        if result.status_code == 3200:
            current = self._fetch_again(sent)
            if on_conflict == "reapply" and current is not None:
                sent = msgspec.structs.replace(sent, edit_sequence=current.edit_sequence)  # type: ignore[attr-defined]
                result = self._send(self._mod_rq(sent))
                if result.status_code == 3200:
                    current = self._fetch_again(sent)
            if result.status_code == 3200:
                try:
                    raise_for_status(result)
                except ConflictError as exc:
                    exc.sent, exc.current = sent, current
                    raise
        return self._one(result)

    def _fetch_again(self, sent: QBObject) -> RetT | None:
        # The record as it is now, for a ConflictError; None when it cannot be had.
        try:
            return self.get(getattr(sent, self._id))
        except QBWCError:
            return None

    def delete(self, obj_or_id: RetT | str) -> None:
        """Delete a record (``ListDelRq``/``TxnDelRq``), where qbXML can delete its type.

        Raises:
            QBXMLBuildError: QuickBooks cannot delete this type.
            NotFoundError, QuickBooksStatusError: refused.
        """
        raise_for_status(self._send(self.delete_request(obj_or_id)))

    def void(self, obj_or_id: RetT | str) -> None:
        """Void a transaction (``TxnVoidRq``), where qbXML can void its type.

        Raises:
            QBXMLBuildError: QuickBooks cannot void this type.
            NotFoundError, QuickBooksStatusError: refused.
        """
        raise_for_status(self._send(self.void_request(obj_or_id)))

    def deleted(
        self, *, deleted_from: datetime | None = None, deleted_to: datetime | None = None
    ) -> builtins.list[GoneT]:
        """The records of this type deleted in the window (``ListDeletedRet``/``TxnDeletedRet``).

        QuickBooks keeps them about 90 days. Not paged: the query takes no iterator.
        """
        rq = self.deleted_request(deleted_from=deleted_from, deleted_to=deleted_to)
        found = raise_for_status(self._send(rq), missing_ok=True).objects
        return cast("list[GoneT]", found)

    def set_custom_field(
        self, record: RetT, name: str, value: str, *, owner_id: str = "0"
    ) -> DataExtRet:
        """Set the custom field ``name`` of ``record`` to ``value``; return QuickBooks' DataExtRet.

        A field ``record`` holds (read with ``custom_fields=True``) is changed
        (``DataExtMod``), another is added (``DataExtAdd``); when QuickBooks
        says otherwise (the record was read without its custom fields), the
        other request is sent. The field must be defined in QuickBooks (a DataExtDef).

        Raises:
            QBXMLBuildError: the type takes no custom field.
            QuickBooksStatusError: refused (e.g. no such field defined).
        """
        rq = self.custom_field_request(record, name, value, owner_id=owner_id)
        result = self._send(rq)
        if result.status_code in (3120, 3180):
            # The record was read without its custom fields, or before another change:
            # QuickBooks says the value is there (3180) or not (3120); send the other.
            again = _cls("DataExtRet")(data_ext_name=name, owner_id=owner_id, data_ext_value="")
            held = [again] if result.status_code == 3180 else []
            other = self.custom_field_request(
                msgspec.structs.replace(record, data_ext_ret=held), name, value, owner_id=owner_id
            )
            if type(other) is not type(rq):
                result = self._send(other)
        return cast("DataExtRet", raise_for_status(result).objects[0])

    # -- helpers --------------------------------------------------------------------------------

    def _takes(self, field: str) -> bool:
        return field in _cls(self.spec.name + "QueryRq").__struct_fields__

    def _needs(self, what: str, has: bool) -> None:
        if not has:
            raise QBXMLBuildError(f"qbXML has no {what} for {self.spec.name}")

    def _key(self, obj_or_id: QBObject | str) -> str:
        if isinstance(obj_or_id, str):
            return obj_or_id
        key = getattr(obj_or_id, self._id, None)
        if not isinstance(key, str):
            raise ObjectFieldError(
                f"{type(obj_or_id).__name__} has no {self._id}: pass the record or its id"
            )
        return key

    def _as_mod(self, obj: QBObject, changes: dict[str, Any]) -> QBObject:
        self._needs("mod", self.spec.mod)
        name = self.spec.name
        mod_cls = _cls(name + "Mod")
        if isinstance(obj, mod_cls):
            return cast(QBObject, _build(mod_cls, msgspec.structs.asdict(obj), changes))
        if type(obj).__name__ != name + "Ret":
            raise ObjectFieldError(f"mod takes a {name}Mod or {name}Ret, not {type(obj).__name__}")
        if not changes:
            raise ObjectFieldError(f"mod of a {name}Ret needs the fields to change")
        sequence = getattr(obj, "edit_sequence", None)
        return cast(
            QBObject,
            _build(mod_cls, {self._id: self._key(obj), "edit_sequence": sequence}, changes),
        )

    def _mod_rq(self, mod: QBObject) -> QBRequest:
        name = self.spec.name
        return cast(QBRequest, _cls(name + "ModRq")(**{snake(name + "Mod"): mod}))

    def _one(self, result: qbxml.Result) -> RetT:
        found = raise_for_status(result).objects
        if not found:
            raise QuickBooksStatusError(
                f"{result.name} returned no record", code=result.status_code,
                message=result.message, severity=result.severity, result=result,
            )  # fmt: skip
        return cast(RetT, found[0])


#: The fields of a query that look records up by key: qbXML takes no MaxReturned with them.
_KEYS = ("list_id", "full_name", "txn_id", "ref_number", "ref_number_case_sensitive")


def _build(cls: type[Any], base: dict[str, Any], changes: dict[str, Any]) -> Any:
    """``cls(**base, **changes)``, a change misspelt or set to None refused by name."""
    fields = cls.__struct_fields__
    for field, value in changes.items():
        if field not in fields:
            close = difflib.get_close_matches(field, fields, n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise ObjectFieldError(f"{cls.__name__} has no field {field!r}{hint}")
        if field in (base.keys() & {"list_id", "txn_id", "edit_sequence"}) and base[field]:
            raise ObjectFieldError(f"{field} comes from the record; it is not a change")
        if value is None:
            raise ObjectFieldError(
                f"{cls.__name__}.{field}=None sends nothing: qbXML has no null"
                " (give '' to clear a text field)"
            )
    return cls(**{**base, **changes})
