"""The Web Connector protocol: the state machine, sessions and the handler base.

No spyne, no database, no HTTP: the server feeds it calls and hands it a
session store (the interface in ``qbwc_spyne.store._interfaces``).
"""
