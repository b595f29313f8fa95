"""What the generated spyne service (``_service.py``) is built from: its types and one builder.

The generated module is the WSDL's operations as a table; :func:`service`
turns it into the spyne ``ServiceBase`` whose methods hand each call's
elements, in the WSDL's order, to the protocol core (``_core.Core``),
holding no logic.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Integer32, ServiceBase, Unicode, rpc

from ..protocol._core import Core

__all__ = [
    "ARRAY_OF_STRING",
    "INTEGER32",
    "NAMESPACE",
    "STRING",
    "ArrayOfString",
    "String",
    "service",
]

NAMESPACE = "http://developer.intuit.com/"


class String(Unicode):  # type: ignore[misc]
    """xs:string read as XSD reads it: an empty element is "", not nil.

    The Web Connector sends ``<hresult />`` on every successful response.
    spyne reads an empty element as None and refuses None where the WSDL
    says the element is not nillable; this type keeps the WSDL's
    not-nillable declaration and accepts the empty string.
    """

    __type_name__ = "string"
    __namespace__ = "http://www.w3.org/2001/XMLSchema"

    @staticmethod
    def validate_string(cls: Any, value: str | None) -> bool:
        valid: bool = Unicode.validate_string(cls, "" if value is None else value)
        return valid


# .NET's string[]: items named "string", qualified in NAMESPACE.
ArrayOfString = Array(Unicode(min_occurs=0, nillable=True), type_name="ArrayOfString")

#: The WSDL's types, as the generated table names them.
STRING, INTEGER32, ARRAY_OF_STRING = "s:string", "s:int", "tns:ArrayOfString"
_SPYNE_TYPES: dict[str, Any] = {
    STRING: String,
    INTEGER32: Integer32,
    ARRAY_OF_STRING: ArrayOfString,
}

#: One element of a table: its name, type, minOccurs and nillable.
Element = tuple[str, str, int, bool]


def _spyne_type(element: Element) -> Any:
    _, kind, min_occurs, nillable = element
    return _SPYNE_TYPES[kind].customize(min_occurs=min_occurs, nillable=nillable)


def _method(operation: str, core_method: str) -> Any:
    """The method of ``operation``: its elements, as spyne reads them, to the core's method."""

    def method(ctx: Any, *elements: Any) -> Any:
        # make_wsgi_app attaches the protocol core to the spyne Application.
        core: Core = ctx.app.qbwc_core
        return getattr(core, core_method)(*elements)

    method.__name__ = method.__qualname__ = operation
    return method


def service(
    name: str,
    doc: str,
    module: str,
    operations: tuple[tuple[str, str, tuple[Element, ...], Element], ...],
) -> type[ServiceBase]:
    """The spyne service of ``operations``.

    Args:
        name: the service's name (the WSDL's).
        doc: its docstring.
        module: the module it is defined in.
        operations: each operation's name, the core's method it calls, its
            request elements in the WSDL's order, and its result element.
    """
    methods = {
        operation: rpc(
            *(_spyne_type(element) for element in elements),
            _returns=_spyne_type(result),
            _out_variable_name=result[0],
            _args=tuple(element[0] for element in elements),
        )(_method(operation, core_method))
        for operation, core_method, elements, result in operations
    }
    built: type[ServiceBase] = type(
        name, (ServiceBase,), {"__module__": module, "__doc__": doc, **methods}
    )
    return built
