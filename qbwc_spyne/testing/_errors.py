"""The exceptions of the fake QuickBooks, raised only by the testing kit.

They stay in the library's tree (a :class:`~qbwc_spyne.exceptions.QBWCError`,
``CompanyDataError`` a :class:`~qbwc_spyne.exceptions.ConfigurationError`
too), so ``except QBWCError`` still catches them.

.. versionchanged:: Unreleased
   Moved here from :mod:`qbwc_spyne.exceptions`, which holds only what the
   library raises in production; the old names still import, deprecated.
"""

from __future__ import annotations

from ..exceptions import ConfigurationError, QBWCError

__all__ = ["CompanyDataError", "InvalidAnswerError", "QuickBooksUnavailable"]


class CompanyDataError(ConfigurationError, ValueError):
    """The company given to the fake QuickBooks cannot be loaded.

    Unreadable JSON, an unknown key or record type, a duplicate name or a
    reference to nothing; the message says which. Also a ``ValueError``, as
    it was before it had a name.
    """


class QuickBooksUnavailable(QBWCError):
    """The fake QuickBooks could not be opened, as the Web Connector reports it.

    Attributes:
        hresult: what the Web Connector passes to connectionError, e.g. ``"0x80040408"``.
        message: the text that goes with it.
    """

    def __init__(self, hresult: str, message: str) -> None:
        super().__init__(f"{hresult}: {message}")
        self.hresult = hresult
        self.message = message


class InvalidAnswerError(QBWCError):
    """The fake QuickBooks wrote an answer that Intuit's response schema refuses.

    Raised in strict mode (the default) instead of handing the answer on:
    real QuickBooks never writes one, so a test passing on it would prove
    nothing. It is a defect of the fake, or of company data loaded into it
    that QuickBooks could not hold.

    Attributes:
        problems: ``(path, message)`` pairs, e.g.
            ``("CustomerAddRs/CustomerRet", "its elements are out of the schema's order: ...")``.
        response: the answer refused.

    .. versionadded:: Unreleased
    """

    def __init__(self, message: str, problems: list[tuple[str, str]], response: str) -> None:
        super().__init__(message)
        self.problems = problems
        self.response = response
