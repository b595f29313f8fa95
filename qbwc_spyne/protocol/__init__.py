"""The Web Connector protocol: the state machine, sessions and the handler base.

No spyne, no database, no HTTP: the server feeds it calls and hands it a
session store. It owns what it exchanges with the outside: the events it
hands the handler (``_events``, public as :mod:`qbwc_spyne.events`) and the
session store it needs (``_ports``, implemented in ``qbwc_spyne.store``).
It imports nothing outside itself but the foundation modules (``_xml``, the
code catalogue, ``exceptions``, ``_deprecation``).
"""
