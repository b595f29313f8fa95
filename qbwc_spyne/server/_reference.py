"""The QBWCServer reference class's own interface: properties, event hooks, config().

Theory of operation
-------------------
The reference class is one object that a program configures and feeds:
``qwc_file_info_*`` properties and ``overwrite`` for :meth:`create_qwc_file`,
twelve event hooks assigned as attributes (``server.on_authenticate = fn``),
``request_data`` in, ``process_request()``, ``response_data`` out, and
``config("NAME=VALUE")`` for the rarely used settings.

:class:`ReferenceInterface` carries all of that, and
:class:`~qbwc_spyne.QBWCServer` inherits it, so there is one server class
for both styles:

- ``QBWCServer(handler)``: the handler's ``on_*`` methods answer, as before.
  Its hooks stay unassigned; assigning one is refused, since it would never
  fire.
- ``QBWCServer()``: a :class:`HookHandler` answers, calling the hook
  assigned for each event with the same event object a handler method gets.

The protocol, the sessions and the safety rules (no SOAP fault mid-session,
a raising hook answered with the safe value and reported to ``on_error``)
are the server's, whichever style answers.

``request_data`` and ``response_data`` belong to the thread that set them:
a threaded HTTP server may share one server object, and each request still
reads back its own answer.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from .._version import __version__
from ..events import (
    AuthenticateEvent,
    ClientVersionEvent,
    CloseConnectionEvent,
    ConnectionErrorEvent,
    ErrorEvent,
    GetInteractiveURLEvent,
    GetLastErrorEvent,
    InteractiveDoneEvent,
    InteractiveRejectedEvent,
    ReceiveResponseEvent,
    SendRequestEvent,
    ServerVersionEvent,
)
from ..exceptions import ConfigurationError, QWCError, QWCFileExistsError
from ..protocol._handler import QBWCHandler
from ..qwc import (
    _NOT_XML_CHAR,
    PERSONAL_DATA_PREFS,
    QB_TYPES,
    STYLES,
    UNATTENDED_MODE_PREFS,
    QWCFile,
)
from ..qwc import parse_auth_flags as _parse_auth_flags
from ._logging import library_logger, shorten
from ._reference_errors import error as numbered_error

__all__ = [
    "CODE_PAGES",
    "HOOK_EVENTS",
    "REQUIRED_QWC_PROPERTIES",
    "SETTINGS",
    "HookHandler",
    "ReferenceInterface",
    "Setting",
]

logger = library_logger("qbwc_spyne.reference")

T = TypeVar("T")
E = TypeVar("E")

#: Windows code page identifiers accepted by ``config("CodePage=...")``, each
#: with the Python codec that encodes it: the identifiers of the reference
#: class's list that Python can encode to.
# fmt: off
_CP_CODECS = (
    37, 437, 500, 720, 737, 775, 850, 852, 855, 857, 858, 860, 861, 862, 863, 864, 865, 866,
    869, 874, 875, 932, 949, 950, 1026, 1140, 1250, 1251, 1252, 1253, 1254, 1255, 1256,
    1257, 1258,
)
# fmt: on
CODE_PAGES: dict[int, str] = {
    **{number: f"cp{number:03d}" for number in _CP_CODECS},
    936: "gbk",
    1200: "utf-16-le",
    1201: "utf-16-be",
    1361: "johab",
    10000: "mac-roman",
    10006: "mac-greek",
    10007: "mac-cyrillic",
    10029: "mac-latin2",
    10079: "mac-iceland",
    10081: "mac-turkish",
    12000: "utf-32-le",
    12001: "utf-32-be",
    20127: "ascii",
    20866: "koi8-r",
    20932: "euc-jp",
    20936: "gb2312",
    21866: "koi8-u",
    **{28590 + part: f"iso8859-{part}" for part in range(1, 10)},
    28605: "iso8859-15",
    50220: "iso2022-jp",
    50225: "iso2022-kr",
    51932: "euc-jp",
    51936: "gb2312",
    51949: "euc-kr",
    52936: "hz",
    54936: "gb18030",
    65000: "utf-7",
    65001: "utf-8",
}


# -- values --------------------------------------------------------------------------------


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} takes a str, not {type(value).__name__}")
    return value


def _qwc_text(name: str, value: object) -> str:
    text = _text(name, value)
    bad = _NOT_XML_CHAR.search(text)
    if bad is not None:
        # A QWC file is XML, which cannot carry a NUL or most control characters.
        raise numbered_error(
            111, f"{name} holds {bad.group()!r}, which a QWC file cannot carry", field=name
        )
    return text


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise numbered_error(107, f"{name} takes True or False, not {value!r}", field=name)
    return value


def _seconds(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise numbered_error(
            105, f"{name} takes a whole number of seconds, 0 or more, not {value!r}", field=name
        )
    return value


def _choice(choices: dict[int, str]) -> Callable[[str, object], int]:
    def check(name: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value not in choices:
            listed = ", ".join(f"{code} ({word})" for code, word in choices.items())
            raise numbered_error(104, f"{name} takes {listed}, not {value!r}", field=name)
        return value

    return check


def _auth_flags(name: str, value: object) -> str:
    text = _text(name, value)
    try:
        _parse_auth_flags(text)
    except QWCError as exc:
        # QWCError reads "auth_flags <problem>"; say it with this property's name.
        raise numbered_error(
            104, f"{name} {str(exc).removeprefix('auth_flags ')}", field=name
        ) from None
    return text.strip()


class _Property(Generic[T]):
    """A property of the reference class: a default, and a check for each value set."""

    def __init__(
        self, default: T, check: Callable[[str, object], T], doc: str, *, required: bool = False
    ) -> None:
        self.default = default
        self.check = check
        self.required = required
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Property[T]: ...
    @overload
    def __get__(self, obj: ReferenceInterface, owner: type | None = None) -> T: ...
    def __get__(
        self, obj: ReferenceInterface | None, owner: type | None = None
    ) -> T | _Property[T]:
        if obj is None:
            return self
        value: T = obj._values.get(self.name, self.default)
        return value

    def __set__(self, obj: ReferenceInterface, value: T) -> None:
        obj._values[self.name] = self.check(self.name, value)


class _Hook(Generic[E]):
    """An event hook: a callable taking the event, or None (the default) for none."""

    def __init__(self, event: type[E], doc: str) -> None:
        self.event = event
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Hook[E]: ...
    @overload
    def __get__(
        self, obj: ReferenceInterface, owner: type | None = None
    ) -> Callable[[E], None] | None: ...
    def __get__(
        self, obj: ReferenceInterface | None, owner: type | None = None
    ) -> Callable[[E], None] | _Hook[E] | None:
        if obj is None:
            return self
        return obj._hooks.get(self.name)

    def __set__(self, obj: ReferenceInterface, value: Callable[[E], None] | None) -> None:
        if value is not None and not callable(value):
            raise ConfigurationError(
                f"{self.name} must be a callable that takes a {self.event.__name__}, "
                f"or None; not {type(value).__name__}"
            )
        if not obj._hooks_enabled:
            raise ConfigurationError(
                f"{self.name} cannot be assigned: this server answers through its handler "
                f"({type(obj._own_handler).__name__}); create QBWCServer() without a "
                "handler to answer through hooks"
            )
        if value is None:
            obj._hooks.pop(self.name, None)
        else:
            obj._hooks[self.name] = value


# -- config settings ----------------------------------------------------------------------------

_BOOLEAN_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _parse_boolean(name: str, text: str) -> bool:
    # "For boolean values, use the strings "True", "False", "0", "1", "Yes",
    # or "No" (case does not matter)."
    value = _BOOLEAN_WORDS.get(text.lower())
    if value is None:
        raise numbered_error(
            107, f"{name} takes True, False, Yes, No, 1 or 0, not {text[:40]!r}", field=name
        )
    return value


def _parse_integer(name: str, text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise numbered_error(105, f"{name} takes a whole number, not {text[:40]!r}", field=name)
    return int(text)


def _parse_qb_type(name: str, text: str) -> int:
    if text not in ("0", "1"):
        raise numbered_error(
            104, f"{name} takes 0 (QuickBooks) or 1 (QuickBooks POS), not {text[:40]!r}", field=name
        )
    return int(text)


def _parse_style(name: str, text: str) -> str:
    for style in STYLES:
        if text.lower() == style.lower():
            return style
    raise numbered_error(104, f"{name} takes {', '.join(STYLES)}, not {text[:40]!r}", field=name)


def _parse_code_page(name: str, text: str) -> int:
    number = _parse_integer(name, text)
    if number not in CODE_PAGES:
        raise numbered_error(
            104,
            f"{name} {number} is not a Windows code page identifier that Python can encode "
            "to (65001 is UTF-8)",
            field=name,
        )
    return number


@dataclasses.dataclass(frozen=True, kw_only=True)
class Setting:
    """A config setting: how its text is read, and its default.

    ``parse`` is None for a read-only setting, whose value ``default``
    computes.
    """

    name: str
    default: Any
    parse: Callable[[str, str], Any] | None
    doc: str


#: The config settings, by lower-case name (setting names are not case-sensitive).
SETTINGS: dict[str, Setting] = {
    setting.name.lower(): setting
    for setting in (
        Setting(
            name="QBType",
            default=0,
            parse=_parse_qb_type,
            doc="0 QuickBooks (QBFS in the QWC file) or 1 QuickBooks POS (QBPOS).",
        ),
        Setting(
            name="Style",
            default="Document",
            parse=_parse_style,
            doc="The SOAP style written to the QWC file: Document, DocWrapped or RPC.",
        ),
        Setting(
            name="BuildInfo",
            default=lambda: __version__,
            parse=None,
            doc="Read-only: the qbwc_spyne version.",
        ),
        Setting(
            name="CodePage",
            default=65001,
            parse=_parse_code_page,
            doc="The code page of text going to QuickBooks; checked and kept (65001, UTF-8).",
        ),
        Setting(
            name="LicenseInfo",
            default=lambda: "qbwc_spyne is MIT-licensed; no license key is needed.",
            parse=None,
            doc="Read-only: the license.",
        ),
        Setting(
            name="MaskSensitive",
            default=True,
            parse=_parse_boolean,
            doc="Whether the password is masked in the server's own DEBUG records.",
        ),
        Setting(
            name="ProcessIdleEvents",
            default=True,
            parse=_parse_boolean,
            doc="Accepted and kept; there is no internal event loop.",
        ),
        Setting(
            name="SelectWaitMillis",
            default=20,
            parse=_parse_integer,
            doc="Accepted and kept; there is no internal event loop.",
        ),
        Setting(
            name="UseInternalSecurityAPI",
            default=True,
            parse=_parse_boolean,
            doc="Accepted and kept; TLS is the web server's or the proxy's.",
        ),
    )
}


# -- the hook dispatcher --------------------------------------------------------------------------


class HookHandler(QBWCHandler):
    """The handler of a server created without one: each event goes to its assigned hook.

    An event with no hook assigned gets the :class:`~qbwc_spyne.QBWCHandler`
    default, except authenticate: with no ``on_authenticate`` hook every
    user is refused ("nvu"), since a server that lets everyone in because
    a check was never assigned is worse than one that lets no one in.

    Args:
        server: the server whose hooks and settings to use.
    """

    def __init__(self, server: ReferenceInterface) -> None:
        self.server = server

    def _dispatch(self, name: str, event: Any) -> bool:
        """Call the hook ``name`` with ``event``; return False when none is assigned."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: %s", name, self._describe(event))
        hook = self.server._hooks.get(name)
        if hook is None:
            return False
        hook(event)
        return True

    def _describe(self, event: Any) -> str:
        masked = self.server._settings["MaskSensitive"]
        parts = []
        for field in dataclasses.fields(event):
            if field.name in ("session", "exception"):
                continue
            value = getattr(event, field.name)
            if field.name == "password" and masked:
                value = "***"
            parts.append(f"{field.name}={shorten(value)!r}")
        return ", ".join(parts)

    def on_authenticate(self, event: AuthenticateEvent) -> None:
        """Fire ``on_authenticate``; with no hook assigned, refuse the user."""
        if not self._dispatch("on_authenticate", event):
            logger.warning(
                "no on_authenticate hook is assigned: refused user %r", shorten(event.user)
            )
            event.accept = False

    def on_error(self, event: ErrorEvent) -> None:
        """Fire ``on_error``; with no hook assigned, log a warning as QBWCHandler does."""
        if not self._dispatch("on_error", event):
            super().on_error(event)


def _fire(name: str) -> Callable[[HookHandler, Any], None]:
    """A HookHandler method firing the hook ``name``, leaving the event as it is when none is."""

    def fire(self: HookHandler, event: Any) -> None:
        self._dispatch(name, event)

    fire.__name__, fire.__qualname__ = name, f"HookHandler.{name}"
    fire.__doc__ = f"Fire ``{name}``."
    return fire


# Every other event goes to its hook; unassigned, the event's defaults answer.
for _name in (
    "on_server_version",
    "on_client_version",
    "on_send_request",
    "on_receive_response",
    "on_connection_error",
    "on_get_last_error",
    "on_close_connection",
    "on_get_interactive_url",
    "on_interactive_done",
    "on_interactive_rejected",
):
    setattr(HookHandler, _name, _fire(_name))


# -- the interface ------------------------------------------------------------------------------

# "request_data" is text; the encoding its XML declaration names was undone
# when the HTTP body was decoded, so the declaration must name the encoding
# the text is parsed in.
_DECLARED_ENCODING = re.compile(r"""\A\ufeff?<\?xml\b[^>]*?\bencoding\s*=\s*(["'])([^"']*)\1""")


class ReferenceInterface:
    """The QBWCServer reference class's properties, hooks, config() and create_qwc_file().

    Mixed into :class:`~qbwc_spyne.QBWCServer`; see this module's docstring.
    """

    _values: dict[str, Any]
    _hooks: dict[str, Callable[[Any], None]]
    _hooks_enabled: bool
    _own_handler: QBWCHandler | None
    _settings: dict[str, Any]
    _exchange: threading.local

    def _init_reference(self, handler: QBWCHandler | None) -> QBWCHandler:
        """Set up the interface's state; return the handler the server should use."""
        self._values = {}
        self._hooks = {}
        self._hooks_enabled = handler is None
        self._own_handler = handler
        self._settings = {
            setting.name: setting.default for setting in SETTINGS.values() if setting.parse
        }
        self._exchange = threading.local()
        return HookHandler(self) if handler is None else handler

    # -- properties -------------------------------------------------------------------------

    overwrite = _Property(False, _flag, "Whether create_qwc_file replaces an existing file.")
    qwc_file_info_app_description = _Property(
        "",
        _qwc_text,
        "A line describing the application, shown in the Web Connector (required).",
        required=True,
    )
    qwc_file_info_app_display_name = _Property(
        "", _qwc_text, "A name for display in the Web Connector only."
    )
    qwc_file_info_app_id = _Property("", _qwc_text, "Passed to QuickBooks; unused by it today.")
    qwc_file_info_app_name = _Property(
        "",
        _qwc_text,
        "The application's name, shown in the Web Connector (required).",
        required=True,
    )
    qwc_file_info_app_support_url = _Property(
        "",
        _qwc_text,
        "Where users find help; on the host of the app URL (required).",
        required=True,
    )
    qwc_file_info_app_unique_name = _Property(
        "", _qwc_text, "Makes the Web Connector replace the application rather than clone it."
    )
    qwc_file_info_app_url = _Property(
        "", _qwc_text, "The endpoint; https, except on localhost (required).", required=True
    )
    qwc_file_info_auth_flags = _Property(
        "",
        _auth_flags,
        'The QuickBooks editions supported, as text such as "0xF": 0x1 Simple Start, '
        '0x2 Pro, 0x4 Premier, 0x8 Enterprise, combined; "" for every edition.',
    )
    qwc_file_info_cert_url = _Property(
        "", _qwc_text, "Where the Web Connector gets the server's certificate (https)."
    )
    qwc_file_info_file_id = _Property(
        "", _qwc_text, "A GUID in braces, stored with the company file (required).", required=True
    )
    qwc_file_info_is_read_only = _Property(
        False, _flag, "Whether read-only access to the company file is enough."
    )
    qwc_file_info_notify = _Property(
        False, _flag, "Whether the Web Connector may show tray notifications."
    )
    qwc_file_info_owner_id = _Property(
        "", _qwc_text, "A GUID in braces identifying the application (required).", required=True
    )
    qwc_file_info_personal_data_pref = _Property(
        0,
        _choice(PERSONAL_DATA_PREFS),
        "Access to personal data: 0 not needed, 1 optional, 2 required.",
    )
    qwc_file_info_unattended_mode_pref = _Property(
        0,
        _choice(UNATTENDED_MODE_PREFS),
        "Access while QuickBooks is closed: 0 optional, 1 required.",
    )
    qwc_file_info_update_interval = _Property(
        0, _seconds, "Seconds between automatic updates (written as whole minutes); 0 for none."
    )
    qwc_file_info_user = _Property(
        "",
        _qwc_text,
        "The user name the Web Connector sends to authenticate (required).",
        required=True,
    )

    @property
    def request_data(self) -> str:
        """The request to process: the HTTP body as text. Belongs to the thread that set it."""
        value: str = getattr(self._exchange, "request_data", "")
        return value

    @request_data.setter
    def request_data(self, value: str) -> None:
        if not isinstance(value, str):
            raise ConfigurationError(
                f"request_data takes a str, not {type(value).__name__}: decode the HTTP "
                "body (body.decode('utf-8')), or pass the bytes to process_request(body)"
            )
        self._exchange.request_data = value

    @property
    def response_data(self) -> str:
        """The answer process_request() wrote, to send with Content-Type text/xml."""
        value: str = getattr(self._exchange, "response_data", "")
        return value

    @response_data.setter
    def response_data(self, value: str) -> None:
        self._exchange.response_data = _text("response_data", value)

    def _request_bytes(self) -> bytes:
        """``request_data`` as the bytes to parse: UTF-8, and declared so."""
        text = self.request_data
        declared = _DECLARED_ENCODING.match(text)
        # Rewritten only when it names another encoding: the rewrite copies
        # the whole text, tens of megabytes for a large receiveResponseXML.
        if declared is not None and declared.group(2).lower() not in ("utf-8", "utf8"):
            text = f"{text[: declared.start(2)]}utf-8{text[declared.end(2) :]}"
        # A lone surrogate cannot be in XML; "surrogatepass" keeps it as bytes
        # the parser refuses (a one-line fault) instead of raising here.
        return text.encode("utf-8", "surrogatepass")

    # -- hooks ------------------------------------------------------------------------------

    on_authenticate = _Hook(
        AuthenticateEvent,
        "Fired when the Web Connector authenticates: check user and password, set accept.",
    )
    on_client_version = _Hook(
        ClientVersionEvent, "Fired with the Web Connector's version; may refuse or warn."
    )
    on_close_connection = _Hook(
        CloseConnectionEvent, "Fired when the update ends; set response_message."
    )
    on_connection_error = _Hook(
        ConnectionErrorEvent,
        "Fired when the Web Connector cannot open QuickBooks; set company_file to retry.",
    )
    on_error = _Hook(ErrorEvent, "Fired with exceptional conditions while serving a call.")
    on_get_interactive_url = _Hook(
        GetInteractiveURLEvent, "Fired when the interactive session's URL is needed."
    )
    on_get_last_error = _Hook(
        GetLastErrorEvent, "Fired when the Web Connector asks what went wrong."
    )
    on_interactive_done = _Hook(
        InteractiveDoneEvent, "Fired when the Web Connector asks if the interactive session ended."
    )
    on_interactive_rejected = _Hook(
        InteractiveRejectedEvent, "Fired when the user rejected the interactive session."
    )
    on_receive_response = _Hook(
        ReceiveResponseEvent, "Fired with QuickBooks' answer; set percent_done."
    )
    on_send_request = _Hook(SendRequestEvent, "Fired when the Web Connector asks for a request.")
    on_server_version = _Hook(
        ServerVersionEvent, "Fired when the Web Connector asks this service's version."
    )

    # -- methods ----------------------------------------------------------------------------

    def config(self, configuration_string: str) -> str:
        """Set a setting with ``"NAME=VALUE"``, or read one with ``"NAME"``.

        Setting names are not case-sensitive. Booleans are True, False, Yes,
        No, 1 or 0, in any case.

        Args:
            configuration_string: ``"NAME=VALUE"`` or ``"NAME"``.

        Returns:
            The setting's value as text when reading; "" when setting.

        Raises:
            QBWCServerError: 211 for an unknown setting, 402 for setting a
                read-only one, 104, 105 or 107 for a value it does not take;
                ``field`` names the setting. Nothing is changed.
            ConfigurationError: ``configuration_string`` is not a str.
        """
        if not isinstance(configuration_string, str):
            raise ConfigurationError(
                f'config takes "NAME=VALUE" or "NAME", not {type(configuration_string).__name__}'
            )
        name, equals, value = configuration_string.partition("=")
        name = name.strip()
        setting = SETTINGS.get(name.lower())
        if setting is None:
            raise numbered_error(211, f"no config setting named {name[:60]!r}", field=name)
        if not equals:
            if setting.parse is None:
                return str(setting.default())
            return str(self._settings[setting.name])
        if setting.parse is None:
            raise numbered_error(402, f"{setting.name} is read-only", field=setting.name)
        self._settings[setting.name] = setting.parse(setting.name, value.strip())
        return ""

    def create_qwc_file(self, file_path: str | os.PathLike[str]) -> None:
        """Write the QWC file that a user imports into the Web Connector.

        The ``qwc_file_info_*`` properties fill it; ``config("QBType")`` and
        ``config("Style")`` give QBType and Style. It is checked as
        :meth:`QWCFile.validate <qbwc_spyne.qwc.QWCFile.validate>` checks,
        and nothing is written unless it passes.

        Args:
            file_path: where to write.

        Raises:
            QBWCServerError: 201 when a required property is empty; ``field``
                names it.
            QWCError: a value the Web Connector would refuse (a malformed
                GUID, http off localhost...); ``field`` names the property.
            QWCFileExistsError: the file exists and ``overwrite`` is False.
        """
        values = {name: getattr(self, name) for name in _QWC_PROPERTIES}
        for name in REQUIRED_QWC_PROPERTIES:
            if not values[name].strip():
                raise numbered_error(201, name, field=name)
        qwc = QWCFile(
            **{name.removeprefix("qwc_file_info_"): value for name, value in values.items()},
            qb_type=QB_TYPES[self._settings["QBType"]],
            style=self._settings["Style"],
        )
        if qwc.style != "Document":
            # "When using the QBWCServer class to process requests this should
            # not be set": the Web Connector would call in a style this server
            # does not answer. The file may be meant for another service.
            logger.warning(
                "create_qwc_file: Style %s makes the Web Connector call in a style this "
                "server does not answer; leave Style at Document for a file that points here",
                qwc.style,
            )
        try:
            qwc.write(file_path, overwrite=self.overwrite)  # validates before writing
        except QWCFileExistsError:
            raise
        except QWCError as exc:
            # Name the property as this class names it.
            problem = str(exc).removeprefix(f"{exc.field} ")
            raise QWCError(f"qwc_file_info_{exc.field}", problem) from None


# The tables the descriptors above already hold, for callers and for the tests.
_DESCRIPTORS = vars(ReferenceInterface)
#: Each hook's name and the event class its callable receives.
HOOK_EVENTS: dict[str, type[Any]] = {
    name: hook.event for name, hook in _DESCRIPTORS.items() if isinstance(hook, _Hook)
}
#: The qwc_file_info_* properties, each named as the QWCFile field after its prefix.
_QWC_PROPERTIES = tuple(name for name in _DESCRIPTORS if name.startswith("qwc_file_info_"))
#: The properties create_qwc_file requires ("This property is required.").
REQUIRED_QWC_PROPERTIES = tuple(
    name for name, prop in _DESCRIPTORS.items() if isinstance(prop, _Property) and prop.required
)
