"""The WSGI server: the spyne adapter, the generated service, the WSDL and log redaction.

The only part of the package that imports spyne.
"""
