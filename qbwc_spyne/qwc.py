"""QWC files: what a user imports into the Web Connector to add your application.

A QWC file names the application, the endpoint the Web Connector calls, the
user name it sends to authenticate, and IDs that tie the application to a
company file. The Web Connector refuses a file it does not like
("QBWC1039: There was a problem adding the application"), so
:meth:`QWCFile.validate` checks what the Web Connector checks, and every
error names the field.

.. code-block:: python

    from qbwc_spyne.qwc import QWCFile, stable_file_id, stable_owner_id

    qwc = QWCFile(
        app_name="Shop sync",
        app_url="https://shop.example.com/qbwc",
        app_support_url="https://shop.example.com/help",
        app_description="Sends shop orders to QuickBooks",
        user="shop",
        owner_id=stable_owner_id("Shop sync"),
        file_id=stable_file_id("Shop sync", "shop"),
    )
    qwc.write("shop.qwc")

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from .exceptions import QWCError, QWCFileExistsError

__all__ = ["QWCError", "QWCFile", "parse_auth_flags", "stable_file_id", "stable_owner_id"]

_GUID = re.compile(
    r"\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}"
)

# "Possible values are: 0x0 All, 0x1 Simple Start, 0x2 Professional,
# 0x4 Premier, 0x8 Enterprise ... you may [combine] the desired values."
# "All" is what leaving AuthFlags out means; a written AuthFlags combines
# at least one edition.
AUTH_FLAG_BITS = 0xF
# The characters XML 1.0 can carry (its production "Char"); any other one,
# a NUL or an ESC say, cannot be written into the file at all.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_AUTH_FLAGS_TEXT = re.compile(r"0[xX][0-9A-Fa-f]{1,8}|[0-9]{1,10}")
PERSONAL_DATA_PREFS = {0: "pdpNotNeeded", 1: "pdpOptional", 2: "pdpRequired"}
UNATTENDED_MODE_PREFS = {0: "umpOptional", 1: "umpRequired"}
QB_TYPES = ("QBFS", "QBPOS")
STYLES = ("Document", "DocWrapped", "RPC")

# A namespace of our own for the stable IDs: uuid5(namespace, name) gives the
# same GUID for the same name on every machine.
_ID_NAMESPACE = uuid.UUID("5b1c6f2e-8a4d-5e2b-9c3a-7f0d4e6b1a29")


def _braced(value: uuid.UUID) -> str:
    return "{" + str(value).upper() + "}"


def stable_owner_id(app_name: str) -> str:
    """The OwnerID for an application: the same GUID every time for the same name.

    The Web Connector stores OwnerID with the company file; a regenerated
    QWC file with the same OwnerID does not ask the user to authorise again.
    """
    return _braced(uuid.uuid5(_ID_NAMESPACE, f"owner:{app_name}"))


def stable_file_id(app_name: str, user: str) -> str:
    """The FileID for one user of an application, stable across regenerations."""
    return _braced(uuid.uuid5(_ID_NAMESPACE, f"file:{app_name}:{user}"))


def parse_auth_flags(value: int | str | None) -> int | None:
    """Read AuthFlags given as an int or as text ("0xF", "0x2", "10"); None for all editions.

    The empty string, None and 0 ("0x0 All" in the reference class's list)
    mean every edition, which a QWC file says by having no AuthFlags element.

    Raises:
        QWCError: not a number, or not a combination of 0x1 (Simple Start),
            0x2 (Pro), 0x4 (Premier) and 0x8 (Enterprise).
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if not _AUTH_FLAGS_TEXT.fullmatch(text):
            raise QWCError("auth_flags", f"must be a number such as 0xF, not {value[:40]!r}")
        value = int(text, 16) if text[:2].lower() == "0x" else int(text)
    if value == 0 and not isinstance(value, bool):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= AUTH_FLAG_BITS:
        raise QWCError(
            "auth_flags",
            "must combine 0x1 (Simple Start), 0x2 (Pro), 0x4 (Premier), 0x8 (Enterprise), "
            f"or be 0x0 or unset for every edition, not {value!r}",
        )
    return value


def _split(url: str) -> tuple[str, str]:
    """The scheme and the host (lower case) of ``url``; both empty for text that is no URL.

    urlsplit raises ValueError for a bracket left open ("https://[::1/"),
    and reading its port for a port out of range ("https://host:99999/").
    """
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return "", ""
    return parts.scheme, (parts.hostname or "").lower()


def _host(url: str) -> str:
    return _split(url)[1]


@dataclass(kw_only=True)
class QWCFile:
    """The properties of a QWC file; names follow the QBWCServer reference class.

    Attributes:
        app_name: the name shown in the Web Connector, unique per install (required).
        app_url: the endpoint; https, except on localhost (required).
        app_support_url: where users find help; same host as app_url (required).
        app_description: a line shown in the Web Connector (required).
        user: the user name the Web Connector sends to authenticate (required).
        owner_id: GUID in braces identifying the application (required).
        file_id: GUID in braces, one per user or company file (required).
        app_id: passed to QuickBooks; unused by it today.
        app_display_name: a name for display only.
        app_unique_name: makes the Web Connector replace, not clone, the app.
        auth_flags: the QuickBooks editions supported: 0x1 Simple Start,
            0x2 Pro, 0x4 Premier, 0x8 Enterprise, or their combination, as
            an int or as text such as "0xF" (kept as the int); None for all.
        cert_url: where the Web Connector gets the server's certificate.
        is_read_only: whether read-only access to the company file is enough.
        notify: whether the Web Connector may show tray notifications.
        personal_data_pref: 0 not needed, 1 optional, 2 required.
        unattended_mode_pref: 0 optional, 1 required (QuickBooks closed).
        update_interval: seconds between automatic runs; 0 for none. Under a
            minute it is written as ``RunEveryNSeconds``, else as
            ``RunEveryNMinutes``, to the nearest whole minute.
        qb_type: "QBFS" (QuickBooks) or "QBPOS" (Point of Sale).
        style: SOAP style: "Document" (for this server), "DocWrapped" or "RPC".
    """

    app_name: str
    app_url: str
    app_support_url: str
    app_description: str
    user: str
    owner_id: str
    file_id: str
    app_id: str = ""
    app_display_name: str = ""
    app_unique_name: str = ""
    auth_flags: int | str | None = None
    cert_url: str = ""
    is_read_only: bool = False
    notify: bool = False
    personal_data_pref: int = 0
    unattended_mode_pref: int = 0
    update_interval: int = 0
    qb_type: str = "QBFS"
    style: str = "Document"

    def __post_init__(self) -> None:
        # Text such as "0x2" is kept as the number, so that equal files
        # compare equal; text that is not a number is left for validate().
        if isinstance(self.auth_flags, str):
            with contextlib.suppress(QWCError):
                self.auth_flags = parse_auth_flags(self.auth_flags)

    def validate(self) -> None:
        """Check the file as the Web Connector would.

        Raises:
            QWCError: the first problem found; ``error.field`` names the property.
        """
        for problem in self._problems():
            raise problem

    def problems(self) -> list[QWCError]:
        """Every problem :meth:`validate` would raise the first of, in the same order.

        Returns:
            One :class:`QWCError` per property at fault (at most one each);
            empty when the Web Connector would accept the file.

        .. versionadded:: Unreleased
        """
        found: dict[str, QWCError] = {}
        for problem in self._problems():
            found.setdefault(problem.field, problem)
        return list(found.values())

    def _problems(self) -> Iterator[QWCError]:
        """Yield each problem found; a property's later checks are skipped once it failed."""
        for field in fields(self):
            value = getattr(self, field.name)
            # From a TOML file any value may come: a number where text belongs.
            if field.type == "str" and not isinstance(value, str):
                yield QWCError(field.name, f"must be text, not {type(value).__name__}")
            # The text "false" is true to Python: it would write the opposite.
            if field.type == "bool" and not isinstance(value, bool):
                yield QWCError(field.name, f"must be true or false, not {value!r}")
        text = {f.name: v for f in fields(self) if isinstance(v := getattr(self, f.name), str)}
        for name in ("app_name", "app_url", "app_support_url", "app_description", "user"):
            if name in text and not text[name].strip():
                yield QWCError(name, "is required")
        for name, value in text.items():
            bad = _NOT_XML_CHAR.search(value)
            if bad is not None:
                yield QWCError(name, f"holds {bad.group()!r}, a character an XML file cannot carry")
        for name in ("owner_id", "file_id"):
            if not _GUID.fullmatch(text.get(name, "")):
                yield QWCError(
                    name, "must be a GUID in braces, {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}"
                )
        app_url = text.get("app_url", "")
        scheme, host = _split(app_url)
        if scheme not in ("http", "https") or not host:
            yield QWCError("app_url", f"is not an http(s) URL: {app_url!r}")
        # "The URL ... must be a https:// URL. The only exception to this is
        # when using 'localhost' for development."
        elif scheme != "https" and host != "localhost":
            yield QWCError("app_url", "must use https (http is allowed only for localhost)")
        # "The domain name specified in this URL must match the domain name
        # specified in [AppURL]."
        support = text.get("app_support_url", "")
        if host and _host(support) != host:
            yield QWCError(
                "app_support_url",
                f"must be on the same host as the AppURL ({host}),"
                f" not {_host(support) or support!r}",
            )
        if text.get("cert_url") and _split(self.cert_url)[0] != "https":
            yield QWCError("cert_url", "must be an https URL")
        try:
            parse_auth_flags(self.auth_flags)
        except QWCError as problem:
            yield problem
        for name, words in (
            ("personal_data_pref", PERSONAL_DATA_PREFS),
            ("unattended_mode_pref", UNATTENDED_MODE_PREFS),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value not in words:
                *others, last = words
                yield QWCError(name, f"must be {', '.join(map(str, others))} or {last}")
        if (
            isinstance(self.update_interval, bool)
            or not isinstance(self.update_interval, int)
            or self.update_interval < 0
        ):
            yield QWCError("update_interval", "must be a whole number of seconds, 0 or more")
        if self.qb_type not in QB_TYPES:
            yield QWCError("qb_type", "must be QBFS or QBPOS")
        if self.style not in STYLES:
            yield QWCError("style", "must be Document, DocWrapped or RPC")

    def to_xml(self) -> str:
        """Return the file's text, after :meth:`validate`."""
        self.validate()
        root = etree.Element("QBWCXML")

        def add(tag: str, text: str) -> None:
            etree.SubElement(root, tag).text = text

        add("AppName", self.app_name)
        add("AppID", self.app_id)
        add("AppURL", self.app_url)
        add("AppDescription", self.app_description)
        add("AppSupport", self.app_support_url)
        add("UserName", self.user)
        add("OwnerID", self.owner_id)
        add("FileID", self.file_id)
        add("QBType", self.qb_type)
        add("Style", self.style)
        if self.update_interval:
            scheduler = etree.SubElement(root, "Scheduler")
            if self.update_interval < 60:
                # Live requests wait for the next scheduled update: the Web
                # Connector also schedules in seconds (RunEveryNSeconds).
                etree.SubElement(scheduler, "RunEveryNSeconds").text = str(self.update_interval)
            else:
                # "the 'Every_Min' value will be set to the nearest minute value."
                minutes = round(self.update_interval / 60)
                etree.SubElement(scheduler, "RunEveryNMinutes").text = str(minutes)
        add("IsReadOnly", "true" if self.is_read_only else "false")
        add("Notify", "true" if self.notify else "false")
        auth_flags = parse_auth_flags(self.auth_flags)
        if auth_flags is not None:
            add("AuthFlags", f"0x{auth_flags:X}")
        add("PersonalDataPref", PERSONAL_DATA_PREFS[self.personal_data_pref])
        add("UnattendedModePref", UNATTENDED_MODE_PREFS[self.unattended_mode_pref])
        for tag, value in (
            ("AppDisplayName", self.app_display_name),
            ("AppUniqueName", self.app_unique_name),
            ("CertURL", self.cert_url),
        ):
            if value:
                add(tag, value)
        body: str = etree.tostring(root, pretty_print=True, encoding="unicode")
        return '<?xml version="1.0"?>\n' + body

    def write(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the file; return its path.

        Nothing is written when the properties are invalid. Without
        ``overwrite``, an existing file is left alone, even when another
        process creates it at the same moment; with it, the file is
        replaced whole (written aside, then renamed over it), so a reader
        never sees half a file.

        Raises:
            QWCError: the properties are invalid.
            QWCFileExistsError: the file exists and ``overwrite`` is false
                (also a ``FileExistsError``).
        """
        target = Path(path)
        data = self.to_xml().replace("\n", "\r\n").encode("utf-8")
        if not overwrite:
            try:
                # O_EXCL: the check for an existing file and the creation
                # are one step, so two writers cannot both succeed.
                with open(target, "xb") as out:
                    out.write(data)
            except FileExistsError:
                raise QWCFileExistsError(str(target)) from None
            return target
        # Not tempfile.mkstemp: its file is private (0600), and the QWC file
        # is usually served to users by a web server running as another
        # user. "x" creates it as any new file is created, under the umask.
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        try:
            with open(temporary, "xb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def parse(cls, source: str | bytes | os.PathLike[str]) -> QWCFile:
        """Read a QWC file (a path, or its text) back into a QWCFile.

        Raises:
            QWCError: the file is not a readable QWC file.
        """
        if isinstance(source, os.PathLike):
            data = Path(source).read_bytes()
        else:
            data = source.encode() if isinstance(source, str) else source
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            raise QWCError("file", f"is not well-formed XML: {exc}") from None
        if root.tag != "QBWCXML":
            raise QWCError("file", "is not a QWC file (the root must be <QBWCXML>)")
        if root.getroottree().docinfo.doctype:
            # Entities would be read unexpanded, so refused: the Web Connector writes none.
            raise QWCError("file", "is not a QWC file: it holds a DOCTYPE, which none holds")

        def text(tag: str) -> str:
            return str(root.findtext(tag) or "").strip()

        def flag(tag: str) -> bool:
            return text(tag).lower() == "true"

        values: dict[str, Any] = {
            "app_name": text("AppName"),
            "app_id": text("AppID"),
            "app_url": text("AppURL"),
            "app_description": text("AppDescription"),
            "app_support_url": text("AppSupport"),
            "user": text("UserName"),
            "owner_id": text("OwnerID"),
            "file_id": text("FileID"),
            "qb_type": text("QBType") or "QBFS",
            "style": text("Style") or "Document",
            "is_read_only": flag("IsReadOnly"),
            "notify": flag("Notify"),
            "app_display_name": text("AppDisplayName"),
            "app_unique_name": text("AppUniqueName"),
            "cert_url": text("CertURL"),
        }
        try:
            if text("AuthFlags"):
                # 0x0 ("All") is written by other tools; it means what an
                # absent AuthFlags means.
                values["auth_flags"] = int(text("AuthFlags"), 0) or None
            minutes, seconds = (
                text("Scheduler/RunEveryNMinutes"),
                text("Scheduler/RunEveryNSeconds"),
            )
            values["update_interval"] = int(minutes) * 60 if minutes else int(seconds or 0)
        except ValueError as exc:
            raise QWCError("file", f"has a malformed number: {exc}") from None
        for tag, field_name, words in (
            ("PersonalDataPref", "personal_data_pref", PERSONAL_DATA_PREFS),
            ("UnattendedModePref", "unattended_mode_pref", UNATTENDED_MODE_PREFS),
        ):
            word = text(tag)
            if word:
                codes = {name: code for code, name in words.items()}
                if word not in codes:
                    raise QWCError(field_name, f"has an unknown value {word!r}")
                values[field_name] = codes[word]
        return cls(**values)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> QWCFile:
        """Build from a mapping such as a TOML table; unknown keys are an error.

        Missing ``owner_id`` and ``file_id`` are derived with
        :func:`stable_owner_id` and :func:`stable_file_id`. Other missing
        properties are left empty, for :meth:`problems` to list them all.

        Raises:
            QWCError: a key that is no QWC property.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise QWCError(unknown[0], "is not a QWC property")
        values = dict(values)
        if isinstance(values.get("auth_flags"), str):
            with contextlib.suppress(QWCError):  # reported by problems()
                values["auth_flags"] = parse_auth_flags(values["auth_flags"])
        for required in ("app_name", "user", "app_url", "app_support_url", "app_description"):
            values.setdefault(required, "")
        name, user = str(values["app_name"]), str(values["user"])
        values.setdefault("owner_id", stable_owner_id(name))
        values.setdefault("file_id", stable_file_id(name, user))
        return cls(**values)
