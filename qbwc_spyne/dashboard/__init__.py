"""The operator's dashboard: connections, jobs, sessions and a health check, in a browser.

.. code-block:: python

    import os

    from qbwc_spyne import MemoryJobQueue
    from qbwc_spyne.dashboard import make_dashboard_app

    queue = MemoryJobQueue()  # the handler's queue
    dashboard = make_dashboard_app(queue, password=os.environ["DASHBOARD_PASSWORD"])

Needs the ``dashboard`` extra (``pip install 'qbwc_spyne[dashboard]'``), which
brings Jinja2.

.. versionadded:: Unreleased
"""

from __future__ import annotations

from ._app import Dashboard, make_dashboard_app

__all__ = ["Dashboard", "make_dashboard_app"]
