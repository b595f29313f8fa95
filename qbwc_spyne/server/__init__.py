"""The WSGI server: the endpoint, the reference class, the spyne adapter, the WSDL and logging.

``_app`` is the endpoint (``WebConnectorApp``, ``make_wsgi_app``); ``_server``
adds the reference class's interface (``_reference``) to it as
``QBWCServer``; ``_soap`` is spyne's protocol fitted to the service;
``_service`` and ``_wire`` are generated from the WSDL as tables, read by
the hand-written ``_service_runtime`` and ``_wire_runtime``.

The only part of the package that imports spyne.
"""
