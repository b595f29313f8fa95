"""pytest fixtures for testing a Web Connector integration.

Installed as a pytest plugin with the package: in any test, ask for

- ``fake_quickbooks``: an empty :class:`~qbwc_spyne.testing.FakeQuickBooks`
  (add records with ``load()`` or ``add_customers()``);
- ``web_connector``: a factory, ``web_connector(app, user=..., password=...)``,
  returning a :class:`~qbwc_spyne.testing.WebConnector` wired to
  ``fake_quickbooks`` that does not wait after "NoOp".

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from . import FakeQuickBooks, WebConnector

__all__ = ["fake_quickbooks", "web_connector"]


@pytest.fixture
def fake_quickbooks() -> FakeQuickBooks:
    """An empty fake QuickBooks company."""
    # Imported here: the plugin loads in every pytest run of an environment
    # with qbwc_spyne, including those without zeep (the testing extra).
    from . import FakeQuickBooks

    return FakeQuickBooks()


@pytest.fixture
def web_connector(fake_quickbooks: FakeQuickBooks) -> Callable[..., WebConnector]:
    """A factory of Web Connectors running against ``fake_quickbooks``."""
    from . import WebConnector

    def make(
        target: Any,
        *,
        user: str = "user",
        password: str = "password",  # noqa: S107  (a test double's default)
        **options: Any,
    ) -> WebConnector:
        options.setdefault("quickbooks", fake_quickbooks)
        options.setdefault("noop_delay", 0)
        return WebConnector(target, user=user, password=password, **options)

    return make
