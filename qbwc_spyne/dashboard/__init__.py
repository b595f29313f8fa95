"""The operator's dashboard: connections, jobs, sessions and a health check, in a browser.

::

    from qbwc_spyne.dashboard import make_dashboard_app

    dashboard = make_dashboard_app(queue, password=os.environ["DASHBOARD_PASSWORD"])

Needs the ``dashboard`` extra (``pip install qbwc_spyne[dashboard]``), which
brings Jinja2.

.. versionadded:: Unreleased
"""

from __future__ import annotations

from ._app import Dashboard, make_dashboard_app

__all__ = ["Dashboard", "make_dashboard_app"]
