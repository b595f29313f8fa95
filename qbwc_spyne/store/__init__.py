"""Storage backends: the SQL and in-memory session stores, job queues and status stores.

Each implements the interfaces of the layer that uses it: ``SessionStore``
(``protocol/_ports.py``), the job queue's ports (``queue/_ports.py``) and
``StatusStore`` (``status/_model.py``). Nothing outside this folder imports
a backend but the composition (``app.py``, ``cli/``), the endpoint's
default (a ``MemorySessionStore``), and the public modules that name them
(``qbwc_spyne.stores``, ``qbwc_spyne.status``).
"""
