"""What to do with characters QuickBooks Desktop cannot store.

QuickBooks Desktop (US editions) is not a Unicode program: it keeps text in
a single-byte Windows code page. What public reports establish:

- Characters of ISO-8859-1 (the accents of French, Spanish, German) are
  accepted in requests and come back unchanged in responses (qbwc/qbxml#8,
  tested with QuickBooks 2015).
- Characters outside it (Chinese, Greek, Cyrillic were tested) make the
  whole request fail with "QuickBooks found an error when parsing the
  provided XML text stream"; sent as character references they are accepted
  but stored as ``?``, and stay ``?`` (qbwc/qbxml#8). Vietnamese came back
  as mojibake (consolibyte/quickbooks-php#36).
- Applications that share data with QuickBooks describe it as code-page
  based, with Windows-1252 as the code page of English Windows.

Not confirmed from Intuit's own documentation: that the code page is
exactly Windows-1252 rather than ISO-8859-1, so whether the characters
Windows-1252 adds in 0x80-0x9F (``€``, typographic quotes and dashes,
``…``, ``™``) are stored or refused. The default here is therefore
ISO-8859-1, the set known to work; pass ``codepage="cp1252"`` for a company
where those characters are known to be kept.

Three policies: ``error`` refuses, naming each field and character;
``transliterate`` keeps what the code page has and replaces the rest
(typographic quotes by ASCII quotes, ``€`` by ``EUR``, accents QuickBooks
lacks by the bare letter, what is left by ``?``, as QuickBooks would);
``pass`` sends the text unchanged.
"""

from __future__ import annotations

import codecs
import unicodedata
from collections.abc import Mapping
from typing import Any, Literal

from lxml import etree

from .._xml import parse_qbxml
from ..exceptions import CodePageError

__all__ = ["DEFAULT_CODEPAGE", "POLICIES", "Policy", "apply_to_document", "apply_to_value"]

Policy = Literal["error", "transliterate", "pass"]
POLICIES: tuple[str, ...] = ("error", "transliterate", "pass")
DEFAULT_CODEPAGE = "latin-1"

# Replacements tried before the code page's own characters are given up on;
# each is used only when the code page lacks the character.
_REPLACEMENTS = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2010": "-",
    "\u2011": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u20ac": "EUR",
    "\u2122": "(TM)",
    "\u2022": "*",
    "\u00a0": " ",
    "\u2009": " ",
    "\u200b": "",
    "\u0152": "OE",
    "\u0153": "oe",
    "\u0141": "L",
    "\u0142": "l",
    "\u0110": "D",
    "\u0111": "d",
    "\u00df": "ss",
    "\u00c6": "AE",
    "\u00e6": "ae",
    "\u00d8": "O",
    "\u00f8": "o",
}


def _check(policy: str, codepage: str) -> None:
    if policy not in POLICIES:
        raise CodePageError(f"the policy must be one of {', '.join(POLICIES)}, not {policy!r}", [])
    try:
        codecs.lookup(codepage)
    except LookupError:
        raise CodePageError(f"{codepage!r} is not a code page Python knows", []) from None


def _fits(char: str, codepage: str) -> bool:
    try:
        char.encode(codepage)
    except UnicodeEncodeError:
        return False
    return True


def _describe(char: str) -> str:
    name = unicodedata.name(char, "unnamed")
    return f"{char!r} (U+{ord(char):04X} {name})"


def _transliterate(char: str, codepage: str) -> str:
    replacement = _REPLACEMENTS.get(char)
    if replacement is not None and all(_fits(c, codepage) for c in replacement):
        return replacement
    bare = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if bare and all(_fits(c, codepage) for c in bare):
        return bare
    return "?"


def _apply(
    text: str, policy: str, codepage: str, path: str, problems: list[tuple[str, str]]
) -> str:
    if text.isascii() or policy == "pass":
        return text  # every code page QuickBooks uses holds ASCII
    try:
        text.encode(codepage)
        return text
    except UnicodeEncodeError:
        pass
    out: list[str] = []
    for char in text:
        if _fits(char, codepage):
            out.append(char)
        elif policy == "error":
            problems.append((path, f"{_describe(char)} is not in the {codepage} code page"))
        else:
            out.append(_transliterate(char, codepage))
    return "".join(out)


def apply_to_value(
    value: Any, policy: str, *, field: str = "", codepage: str = DEFAULT_CODEPAGE
) -> Any:
    """Apply a policy to a value, or to every string in a dict, list or pairs of a request.

    Apply it before building the request (``qbxml.Rq``): the schema check
    then sees the final text, so a replacement that makes a name longer
    (``…`` becomes ``...``) is caught against ``maxLength``.

    Args:
        value: a str, or the fields of a request (dicts, lists, ``(tag, value)`` pairs).
        policy: ``"error"``, ``"transliterate"`` or ``"pass"``.
        field: the path of ``value``, for messages (e.g. ``"CustomerAdd/Name"``).
        codepage: a Python codec name for the company's code page.

    Returns:
        The value with its strings changed as the policy says (a new dict or list).

    Raises:
        CodePageError: with ``error``, every character the code page lacks, with its field;
            or an unknown policy or code page.
    """
    _check(policy, codepage)
    problems: list[tuple[str, str]] = []
    result = _walk(value, policy, codepage, field, problems)
    if problems:
        raise CodePageError(_headline(problems), problems)
    return result


def _walk(
    value: Any, policy: str, codepage: str, path: str, problems: list[tuple[str, str]]
) -> Any:
    if isinstance(value, str):
        return _apply(value, policy, codepage, path, problems)
    prefix = f"{path}/" if path else ""
    if isinstance(value, Mapping):
        return {k: _walk(v, policy, codepage, prefix + str(k), problems) for k, v in value.items()}
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return (value[0], _walk(value[1], policy, codepage, prefix + value[0], problems))
    if isinstance(value, list | tuple):  # repeated values, or a tuple of pairs
        return [_walk(item, policy, codepage, path, problems) for item in value]
    return value


def _headline(problems: list[tuple[str, str]]) -> str:
    lines = ["QuickBooks cannot store these characters:"]
    lines += [f"  {path or '(value)'}: {message}" for path, message in problems]
    return "\n".join(lines)


def apply_to_document(document: str, policy: str, *, codepage: str = DEFAULT_CODEPAGE) -> str:
    """Apply a policy to every text and attribute of a qbXML request document.

    Args:
        document: a document from ``qbxml.request``.
        policy: ``"error"``, ``"transliterate"`` or ``"pass"``.
        codepage: a Python codec name for the company's code page.

    Returns:
        The document, its prolog kept, with the text changed as the policy says.

    Raises:
        CodePageError: with ``error``, every character the code page lacks, each
            with the element path (``CustomerAddRq/CustomerAdd/Name``).
    """
    _check(policy, codepage)
    if policy == "pass" or document.isascii():
        return document
    root = parse_qbxml(document)
    problems: list[tuple[str, str]] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        # Below QBXML/QBXMLMsgsRq, the path as SchemaError writes it.
        chain = [element, *element.iterancestors()][::-1][2:]
        path = "/".join(str(e.tag) for e in chain)
        if element.text:
            element.text = _apply(element.text, policy, codepage, path, problems)
        for name, value in element.attrib.items():
            element.set(name, _apply(value, policy, codepage, f"{path}@{name}", problems))
    if problems:
        raise CodePageError(_headline(problems), problems)
    prolog, _, _ = document.partition("<QBXML")
    return prolog + str(etree.tostring(root, encoding="unicode")) + "\n"
