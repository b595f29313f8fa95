"""Exceptions raised by qbwc_spyne.

This module imports nothing from the package but :mod:`qbwc_spyne._deprecation`
(which imports only the standard library), so any module may import it.

The tree, split by who is at fault:

.. code-block:: text

    QBWCError
    ├── RemoteProtocolError   the Web Connector (or whoever posted) broke the protocol
    │   └── BadRequestError   the HTTP request is not a SOAP call we can read
    ├── HandlerError          the application's handler misused the API
    ├── ConfigurationError    qbwc_spyne was set up wrongly (a bad setting or file)
    │   ├── QWCError          a QWC file property the Web Connector would refuse
    │   │   └── QWCFileExistsError  the QWC file exists and overwriting was not asked for
    │   ├── NotAQueueDatabaseError  a file or database that holds no job queue
    │   ├── DatabaseURLError  a database URL that is malformed or of an unsupported kind
    │   └── SchemaVersionError  a database whose tables need `qbwc-spyne db upgrade`
    ├── XMLError              a qbXML document cannot be read (not well-formed, not UTF-8)
    │   └── UnsafeXMLError    it declares a DTD or entities, which qbXML never does
    ├── QBXMLBuildError       a qbXML request cannot be built from the values given
    │   ├── SchemaError       it does not fit its version's schema (every problem listed)
    │   └── ObjectFieldError  a typed object was given a value its field cannot take
    ├── JobError              the application asked the queue for something it refuses
    │   ├── InvalidJobError   enqueue was given arguments it cannot store
    │   ├── KeyConflictError  a key already names a job of another kind
    │   └── JobStateError     no such job, or not in a state the operation applies to
    ├── StorageError          a session store or job queue failed (locked, gone, full)
    ├── CodePageError         text QuickBooks' code page cannot store
    ├── QBWCServerError       a numbered error of the QBWCServer reference class
    ├── QuickBooksStatusError QuickBooks answered that a request was not done
    │   ├── NotFoundError     no such record (1, 500, 3120)
    │   ├── NameInUseError    the name is taken (3100)
    │   ├── InvalidReferenceError  a reference names nothing (3140)
    │   └── ConflictError     somebody else changed the record first (3200)
    └── LiveError             a live request got no answer from QuickBooks
        ├── LiveTimeout       none came in time (says whether it was ever sent)
        ├── QuickBooksOffline the user's Web Connector or QuickBooks is not there
        └── LiveRequestFailed it ended without an answer (refused, expired, cancelled)

The errors the application causes through a plain bad value (``JobError``
and its subclasses, ``XMLError``, ``QBXMLBuildError`` and ``SchemaError``,
``CodePageError``) are also ``ValueError``, so ``except ValueError`` code
written before they existed keeps working.

The fake QuickBooks' own exceptions (``CompanyDataError``,
``QuickBooksUnavailable``, ``InvalidAnswerError``) live in
:mod:`qbwc_spyne.testing`, below ``QBWCError`` as before; their old names
here still import, deprecated, as does ``LiveExpired``, which became the
job queue's own control flow (a ``LiveError``, seen only by ``on_error``).

Outcomes the protocol itself defines ("nvu", "none", a negative percentage)
are return values, never exceptions. None of these exceptions reaches the
Web Connector as a SOAP fault in the middle of a session: the protocol core
turns each into the failure value of the operation that met it.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from . import _deprecation

if TYPE_CHECKING:
    from . import codes as _codes

__all__ = [
    "BadRequestError",
    "CodePageError",
    "ConfigurationError",
    "ConflictError",
    "DatabaseURLError",
    "HandlerError",
    "InvalidJobError",
    "InvalidReferenceError",
    "JobError",
    "JobStateError",
    "KeyConflictError",
    "LiveError",
    "LiveRequestFailed",
    "LiveTimeout",
    "NameInUseError",
    "NotAQueueDatabaseError",
    "NotFoundError",
    "ObjectFieldError",
    "QBWCError",
    "QBWCServerError",
    "QBXMLBuildError",
    "QWCError",
    "QWCFileExistsError",
    "QuickBooksOffline",
    "QuickBooksStatusError",
    "RemoteProtocolError",
    "SchemaError",
    "SchemaVersionError",
    "StorageError",
    "UnreadValueWarning",
    "UnsafeXMLError",
    "XMLError",
]


class QBWCError(Exception):
    """Base class of every exception qbwc_spyne raises."""


class RemoteProtocolError(QBWCError):
    """The peer broke the Web Connector protocol.

    Attributes:
        error_status_hint: the HTTP status a server should answer with when
            the error is met before any SOAP processing (like h11's hint).
    """

    def __init__(self, message: str, *, error_status_hint: int = 400) -> None:
        super().__init__(message)
        self.error_status_hint = error_status_hint


class BadRequestError(RemoteProtocolError):
    """The HTTP request could not be read as a SOAP 1.1 call."""


class HandlerError(QBWCError):
    """The application's handler set something unusable (e.g. a non-numeric percent_done).

    Attributes:
        operation: the Web Connector operation being served, e.g. ``"sendRequestXML"``.
    """

    def __init__(self, message: str, *, operation: str) -> None:
        super().__init__(message)
        self.operation = operation


class ConfigurationError(QBWCError):
    """qbwc_spyne was configured wrongly: a bad argument, setting or file."""


class QWCError(ConfigurationError):
    """A QWC file property is missing or has a value the Web Connector refuses.

    Attributes:
        field: the property at fault, e.g. ``"owner_id"`` (``"file"`` for the file itself).
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field


class NotAQueueDatabaseError(ConfigurationError):
    """The file or database named holds no job queue (and none is created in it)."""


class JobError(QBWCError, ValueError):
    """The job queue refused what it was asked; nothing was written."""


class InvalidJobError(JobError):
    """``enqueue`` was given a value it cannot store (a blank user, a non-int priority...)."""


class KeyConflictError(JobError):
    """A key already names a job of another kind, or was queued again since.

    Attributes:
        existing_id: the id of the job that holds the key.
    """

    def __init__(self, message: str, *, existing_id: int) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class JobStateError(JobError):
    """No such job, or the job is not in a state the operation applies to.

    Attributes:
        job_id: the job asked for.
        state: its state when asked ("" when there is no such job).
    """

    def __init__(self, message: str, *, job_id: int, state: str = "") -> None:
        super().__init__(message)
        self.job_id = job_id
        self.state = state


class StorageError(QBWCError):
    """A session store or job queue could not be read or written.

    Not QuickBooks' fault and not the application's: the work it was doing
    is left as it was, to be taken up again when storage answers.
    """


class QBXMLBuildError(QBWCError, ValueError):
    """A qbXML request could not be built from the values given.

    Raised by :mod:`qbwc_spyne.qbxml` for a request name that does not end
    in ``Rq``, an ``onError`` QuickBooks does not know, or a malformed
    version. Also a ``ValueError``, as it was before it had a name.
    """


class QWCFileExistsError(QWCError, FileExistsError):
    """The QWC file to write exists, and overwriting it was not asked for.

    Also a ``FileExistsError``, which ``QWCFile.write`` raised before this
    class existed. ``field`` is ``"file"``; ``path`` the file's path.

    .. versionadded:: 0.2.0
    """

    def __init__(self, path: str) -> None:
        super().__init__("file", f"{path}: File exists (set overwrite to replace it)")
        self.path = path
        # What code written for the FileExistsError expects to find.
        self.errno = errno.EEXIST
        self.filename = path

    def __str__(self) -> str:
        # OSError would print "[Errno 17] None: path" once errno is set.
        return str(self.args[0])


class QBWCServerError(QBWCError):
    """An error numbered as the QBWCServer reference class numbers its errors.

    ``qbwc_spyne.reference`` holds the reference class's table (code and
    message) and maps QuickBooks statuses and hresults onto it.

    Args:
        code: the reference class's error number, e.g. 201.
        message: what went wrong: the table's message, often followed by
            the specifics ("Required field unspecified: qwc_file_info_user").
        field: the property or setting at fault, when there is one.

    Attributes:
        code: as given.
        message: as given.
        field: as given ("" when no one property is at fault).

    .. versionadded:: 0.2.0
    """

    def __init__(self, *, code: int, message: str, field: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field


class SchemaError(QBXMLBuildError):
    """A qbXML request does not fit the schema of its version; nothing was sent.

    QuickBooks refuses such a request whole, with an hresult (0x80040400) or
    a status (3070, a string too long) that does not say which element was
    wrong; this names every problem before the request leaves.

    Attributes:
        problems: ``(path, message)`` pairs, e.g.
            ``("InvoiceAdd/InvoiceLineAdd[2]/Amount", "'1.234' is not an amount ...")``.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


class ObjectFieldError(QBXMLBuildError, TypeError):
    """A typed qbXML object was given a value its field cannot take; nothing was built.

    The message names the class, the field, its qbXML element, what it takes
    and what it was given, e.g. ``CustomerAdd.credit_limit (CreditLimit)
    expects a Decimal, not str '100'``.

    .. versionadded:: Unreleased
    """


class UnreadValueWarning(UserWarning):
    """A value of an answer did not read as its qbXML type, and was kept as text.

    QuickBooks wrote something its schema does not allow (a date in another
    form, say). Reading goes on; the field holds the text as QuickBooks sent it.

    .. versionadded:: Unreleased
    """


class CodePageError(QBWCError, ValueError):
    """Text holds characters the company's code page cannot store; nothing was sent.

    QuickBooks Desktop keeps text in a single-byte code page and refuses a
    request carrying other characters, or stores them as ``?``.

    Attributes:
        problems: ``(path, message)`` pairs naming each field and character.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


class XMLError(QBWCError, ValueError):
    """A qbXML document could not be read: not well-formed, or not UTF-8.

    .. versionchanged:: 0.2.0
       A ``QBWCError``; it was only a ``ValueError``.
    """


class UnsafeXMLError(XMLError):
    """The document declares a DTD or entities, which qbXML never does."""


class DatabaseURLError(ConfigurationError, ValueError):
    """A database URL is malformed, or names a database qbwc_spyne does not support."""


class SchemaVersionError(ConfigurationError):
    """The database's tables are at another schema version than this release's.

    Attributes:
        found: the version the database is at.
        wanted: the version this release uses.
    """

    def __init__(self, message: str, *, found: int, wanted: int) -> None:
        super().__init__(message)
        self.found = found
        self.wanted = wanted


class LiveError(QBWCError):
    """A live request (:class:`~qbwc_spyne.LiveClient`) got no answer from QuickBooks.

    Attributes:
        user: the Web Connector user it was for.
        job_id: its job, or None when none was queued.

    .. versionadded:: Unreleased
    """

    def __init__(self, message: str, *, user: str, job_id: int | None = None) -> None:
        super().__init__(message)
        self.user = user
        self.job_id = job_id


class LiveTimeout(LiveError, TimeoutError):
    """No answer came within the live request's timeout.

    Attributes:
        sent: False: the request never left (it is cancelled, and never
            will); True: it went to QuickBooks and its answer did not come
            back in time; a write's outcome then goes the usual way (the job
            is reconciled, or left ``unknown`` for the operator).
        timeout: the seconds waited.

    .. versionadded:: Unreleased
    """

    def __init__(
        self, message: str, *, user: str, job_id: int | None, sent: bool, timeout: float
    ) -> None:
        super().__init__(message, user=user, job_id=job_id)
        self.sent = sent
        self.timeout = timeout


class QuickBooksOffline(LiveError):
    """The user's Web Connector or QuickBooks is not there: the request was not queued.

    Attributes:
        reason: ``"never seen"`` (no session of the user on record),
            ``"not seen"`` (none within its expected interval) or
            ``"not running"`` (its last connectionError said QuickBooks
            could not be opened, and no update succeeded since).
        last_seen: when the user's Web Connector last called (seconds since
            the epoch), or None.
        error_code: for ``"not running"``, the hresult the Web Connector
            reported (e.g. ``"0x80040408"``); else "".

    .. versionadded:: Unreleased
    """

    def __init__(
        self,
        message: str,
        *,
        user: str,
        reason: str,
        last_seen: float | None,
        error_code: str = "",
    ) -> None:
        super().__init__(message, user=user)
        self.reason = reason
        self.last_seen = last_seen
        self.error_code = error_code


class LiveRequestFailed(LiveError):
    """The live request ended without an answer from QuickBooks to return.

    QuickBooks refused the whole document (an hresult), the request no
    longer fitted the schema of the session's qbXML version, its deadline
    passed before a session took it, or an operator cancelled it. An
    answer with an error status is not this: it is returned, as a
    :class:`~qbwc_spyne.qbxml.Result`.

    Attributes:
        code: the job's error code (an hresult, ``"schema"``, ``"expired"``,
            ``"cancelled"``...).

    .. versionadded:: Unreleased
    """

    def __init__(self, message: str, *, user: str, job_id: int, code: str) -> None:
        super().__init__(message, user=user, job_id=job_id)
        self.code = code


# Old names: each still gives the same class, with one DeprecationWarning. The
# testing kit is imported only when one is asked for, as it needs zeep.
_MOVED: dict[str, str | tuple[str, str]] = {
    "CompanyDataError": "qbwc_spyne.testing:CompanyDataError",
    "InvalidAnswerError": "qbwc_spyne.testing:InvalidAnswerError",
    "QuickBooksUnavailable": "qbwc_spyne.testing:QuickBooksUnavailable",
    # The queue's control flow, which no caller sees: private to the queue now.
    "LiveExpired": (
        "qbwc_spyne.queue._live:LiveExpired",
        "qbwc_spyne.exceptions.LiveError, its base (the class is internal to the queue)",
    ),
}

__getattr__ = _deprecation.moved(__name__, _MOVED)


class QuickBooksStatusError(QBWCError):
    """QuickBooks ran a request and answered it with a status that says it was not done.

    Raised by the resource client (:mod:`qbwc_spyne.client`) and by
    :func:`qbwc_spyne.client.raise_for_status`. The message is the status,
    QuickBooks' own words and the error catalogue's
    (:func:`qbwc_spyne.codes.describe`).

    Attributes:
        code: the ``statusCode``, e.g. 3100.
        message: QuickBooks' ``statusMessage``.
        severity: its ``statusSeverity`` (``"Info"``, ``"Warn"``, ``"Error"``).
        request: the request answered, e.g. ``"CustomerAddRq"`` ("" when unknown).
        result: the whole answer (a :class:`~qbwc_spyne.qbxml.Result`), or None.

    .. versionadded:: Unreleased
    """

    def __init__(
        self,
        text: str,
        *,
        code: int,
        message: str,
        severity: str = "",
        request: str = "",
        result: object = None,
    ) -> None:
        super().__init__(text)
        self.code = code
        self.message = message
        self.severity = severity
        self.request = request
        self.result = result

    @property
    def explanation(self) -> _codes.Explanation:
        """The error catalogue's entry for :attr:`code`: title, meaning, fix, whether to retry."""
        from . import codes  # imports only the standard library; read on first use

        return codes.explain(self.code)


class NotFoundError(QuickBooksStatusError):
    """Not there: a query matched nothing (1) or not all it named (500), or an id is unknown (3120).

    .. versionadded:: Unreleased
    """


class NameInUseError(QuickBooksStatusError):
    """An Add or Mod would give a list element a name another already has (3100).

    .. versionadded:: Unreleased
    """


class InvalidReferenceError(QuickBooksStatusError):
    """A reference (``CustomerRef``, ``ItemRef``...) names nothing in its list (3140).

    .. versionadded:: Unreleased
    """


class ConflictError(QuickBooksStatusError):
    """A Mod's EditSequence was out of date: the record changed since it was read (3200).

    Attributes:
        sent: the Mod object that was refused.
        current: the record as QuickBooks holds it now, fetched again (None
            when it could not be).

    .. versionadded:: Unreleased
    """

    def __init__(
        self,
        text: str,
        *,
        code: int,
        message: str,
        severity: str = "",
        request: str = "",
        result: object = None,
        sent: Any = None,
        current: Any = None,
    ) -> None:
        super().__init__(
            text, code=code, message=message, severity=severity, request=request, result=result
        )
        self.sent = sent
        self.current = current
