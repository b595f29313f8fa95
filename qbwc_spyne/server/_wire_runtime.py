"""The compiled readers and writers: one reader and one writer, fitted to each operation's table.

Theory of operation: spyne reads a request by walking the wrapper element
generically (a lookup of each child's class, its handlers and attributes,
then a frequency pass) and writes a response by building an lxml tree and
serializing it. Our eleven signatures are fixed: the generated ``_wire.py``
holds each operation's request elements (name, type, minOccurs, in the
WSDL's order) and its result (type and element name), and :func:`reader`
and :func:`writer` fit the one reader and the one writer here to them,
once, at import.

Both are exact copies of spyne's behaviour, not a second opinion of it:

- a reader takes each child by its local name (spyne ignores the
  namespace of a child), ignores elements the operation
  does not declare, lets the last of repeated elements win, and then
  raises spyne's own frequency fault for the first declared element that
  is missing or repeated. A value it cannot take on sight (an integer with
  a sign, spaces or too many digits, text that is not one) goes through
  spyne's own handler for its type, which gives spyne's value or spyne's
  fault. It answers None, and spyne's generic reader reads the whole
  wrapper, for anything rarer: attributes (``xsi:nil``, ``xsi:type``) on
  the wrapper or on a declared element, or a node that is not an element
  (spyne's parser drops comments and processing instructions).
- a writer prints the bytes spyne's serializer prints for the same value
  (a test holds them equal for every value shape). It answers None, and
  spyne's serializer writes the answer, for a value of any other type or a
  string holding a character XML cannot carry, so that spyne's own error
  is the answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from spyne.model.fault import Fault

__all__ = ["ARRAY_OF_STRING", "INTEGER32", "STRING", "Reader", "Writer", "reader", "writer"]

#: (protocol, ctx, wrapper element) -> the arguments in order, or None for spyne's reader.
Reader = Callable[[Any, Any, Any], "list[Any] | None"]
#: The method's return value -> the response document, or None for spyne's serializer.
Writer = Callable[[Any], "bytes | None"]

#: The WSDL's types, as the tables name them.
STRING, INTEGER32, ARRAY_OF_STRING = "s:string", "s:int", "tns:ArrayOfString"

# What spyne's serializer prints around every answer: its prefixes for the
# SOAP envelope and the target namespace, with xsi declared only when an
# element is nil (lxml's cleanup_namespaces drops unused declarations).
_HEAD = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n"
    b'<soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/"'
    b' xmlns:tns="http://developer.intuit.com/"><soap11env:Body>'
)
_HEAD_XSI = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n"
    b'<soap11env:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    b' xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/"'
    b' xmlns:tns="http://developer.intuit.com/"><soap11env:Body>'
)
_TAIL = b"</soap11env:Body></soap11env:Envelope>"

# Characters XML 1.0 cannot carry: lxml refuses them, so spyne's serializer
# must be the one to fail on them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# An Integer32 on sight: up to nine ASCII digits, no sign, no spaces.
_PLAIN_INT = re.compile("[0-9]{1,9}")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _frequency(name: str) -> Fault:
    """spyne's fault for an element missing or repeated (``complex_from_element``)."""
    return Fault(
        "Client.ValidationError", f"{name!r} member does not respect frequency constraints."
    )


def _integer(protocol: Any, ctx: Any, child: Any, name: str) -> Any:
    text = child.text
    if text is not None and _PLAIN_INT.fullmatch(text):
        return int(text)
    # Signs, spaces, other digits, overflow, not a number: spyne decides.
    return protocol.from_element(ctx, ctx.descriptor.in_message._type_info[name], child)


def reader(*elements: tuple[str, str, int]) -> Reader:
    """The reader of an operation whose request elements are ``elements``.

    Args:
        elements: each element's name, type (:data:`STRING` or
            :data:`INTEGER32`) and minOccurs, in the WSDL's order.
    """
    names = tuple(name for name, _, _ in elements)
    integers = tuple(kind == INTEGER32 for _, kind, _ in elements)
    least = tuple(min_occurs for _, _, min_occurs in elements)
    required = tuple(i for i, min_occurs in enumerate(least) if min_occurs)
    index = {name: i for i, name in enumerate(names)}
    count = len(names)

    def refuse(seen: list[int]) -> None:
        # spyne checks every declared element, in declaration order, after the walk.
        for i in range(count):
            if seen[i] > 1 or seen[i] < least[i]:
                raise _frequency(names[i])

    def read(protocol: Any, ctx: Any, body: Any) -> list[Any] | None:
        if body.attrib:
            return None
        values: list[Any] = [None] * count
        seen = [0] * count
        for child in body:
            tag = child.tag
            if tag.__class__ is not str:
                # A comment or processing instruction: spyne's parser drops both.
                return None
            i = index.get(tag[tag.find("}") + 1 :])
            if i is None:
                continue
            if child.attrib:
                return None
            seen[i] += 1
            if integers[i]:
                values[i] = _integer(protocol, ctx, child, names[i])
            else:
                # A string element's text, "" when empty (see _service.String).
                text = child.text
                values[i] = "" if text is None else text
        if max(seen, default=0) > 1:
            refuse(seen)
        for i in required:
            if not seen[i]:
                refuse(seen)
        return values

    return read


def _escape(text: str) -> bytes:
    """Text content as libxml2 escapes it (a carriage return too, which parsers would fold)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\r", "&#13;")
        .encode("utf-8")
    )


def _string(value: Any, response: bytes, result: bytes) -> bytes | None:
    """An optional xs:string result: left out when None."""
    if value is None:
        return b"".join((_HEAD, b"<", response, b"/>", _TAIL))
    if value.__class__ is not str or _NOT_XML.search(value):
        return None
    parts = (_HEAD, b"<", response, b"><", result, b">", _escape(value))
    return b"".join((*parts, b"</", result, b"></", response, b">", _TAIL))


def _integer32(value: Any, response: bytes, result: bytes) -> bytes | None:
    """A required xs:int result: nil when None."""
    if value is None:
        nil = b' xsi:nil="true"/></'
        return b"".join((_HEAD_XSI, b"<", response, b"><", result, nil, response, b">", _TAIL))
    if value.__class__ is not int or not _INT32_MIN <= value <= _INT32_MAX:
        return None
    parts = (_HEAD, b"<", response, b"><", result, b">", str(value).encode())
    return b"".join((*parts, b"</", result, b"></", response, b">", _TAIL))


def _strings(value: Any, response: bytes, result: bytes) -> bytes | None:
    """An optional ArrayOfString result: items named "string", None items nil."""
    if value is None:
        return b"".join((_HEAD, b"<", response, b"/>", _TAIL))
    if value.__class__ not in (list, tuple):
        return None
    if not value:
        return b"".join((_HEAD, b"<", response, b"><", result, b"/></", response, b">", _TAIL))
    head = _HEAD
    items = []
    for item in value:
        if item is None:
            head = _HEAD_XSI
            items.append(b'<tns:string xsi:nil="true"/>')
        elif item.__class__ is not str or _NOT_XML.search(item):
            return None
        else:
            items.append(b"<tns:string>" + _escape(item) + b"</tns:string>")
    parts = (head, b"<", response, b"><", result, b">", *items)
    return b"".join((*parts, b"</", result, b"></", response, b">", _TAIL))


# The result occurrences these print: an optional string or array is left
# out when None, a required int is written nil (the generator refuses others).
_RESULTS: dict[str, Callable[[Any, bytes, bytes], bytes | None]] = {
    STRING: _string,
    INTEGER32: _integer32,
    ARRAY_OF_STRING: _strings,
}


def writer(kind: str, operation: str, result: str) -> Writer:
    """The writer of an operation's answer.

    Args:
        kind: the result's type: :data:`STRING`, :data:`INTEGER32` or
            :data:`ARRAY_OF_STRING`.
        operation: the operation's name; its response element is
            ``<operation>Response``.
        result: the result element's name.
    """
    write = _RESULTS[kind]
    response_tag = f"tns:{operation}Response".encode()
    result_tag = f"tns:{result}".encode()

    def written(value: Any) -> bytes | None:
        return write(value, response_tag, result_tag)

    return written
