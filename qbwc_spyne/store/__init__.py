"""Storage: the session store and job queue interfaces, and their backends.

Everything outside this folder reaches storage through the interfaces in
``_interfaces``; the application picks a backend (``_stores``, ``_queue``).
"""
