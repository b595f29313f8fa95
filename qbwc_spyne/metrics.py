"""Prometheus metrics of a Web Connector service (needs the ``metrics`` extra).

Pass a :class:`Metrics` to :func:`~qbwc_spyne.make_wsgi_app` as
``metrics=``: it counts every call, and ``GET /metrics`` beside the
endpoint serves it:

.. code-block:: python

    from qbwc_spyne import MemoryJobQueue, QueueHandler, make_wsgi_app
    from qbwc_spyne.auth import PasswordCheck, hash_password
    from qbwc_spyne.metrics import Metrics

    queue = MemoryJobQueue()
    handler = QueueHandler(queue, passwords=PasswordCheck({"shop": hash_password("s3cret")}))
    metrics = Metrics(queue=queue)
    app = make_wsgi_app(handler, metrics=metrics)

.. versionadded:: Unreleased
"""

from __future__ import annotations

from .server._metrics import LIVE_OUTCOMES, MAX_CODES, Metrics, multiprocess_dir

__all__ = ["LIVE_OUTCOMES", "MAX_CODES", "Metrics", "multiprocess_dir"]
