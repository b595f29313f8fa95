"""The reference class's own documentation, read as a checklist: every name it lists works here.

The document lives beside the repository, in ``../shared/seeds/``; these
tests are skipped where it is absent. The error mapping tests further down
need no document.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from pathlib import Path

import pytest

from qbwc_spyne import QBWCServer, reference
from qbwc_spyne.exceptions import QBWCError, QBWCServerError
from qbwc_spyne.server import _reference_errors
from qbwc_spyne.server._reference import CODE_PAGES, HOOK_EVENTS, REQUIRED_QWC_PROPERTIES
from qbwc_spyne.testing import FakeQuickBooks, WebConnector

from .helpers import TRAFFIC

ROOT = Path(__file__).resolve().parent.parent
SEED_NAME = Path("seeds", "000_1e586e19dccd30cb.txt")
HCP = (TRAFFIC / "qbxml.HCPResponse.QBPro2014.xml").read_text()


def _seed_path() -> Path | None:
    # ../shared beside the checkout; a worktree one level deeper finds it a level up.
    for parent in (ROOT.parent, ROOT.parent.parent):
        candidate = parent / "shared" / SEED_NAME
        if candidate.is_file():
            return candidate
    return None


SEED = _seed_path()
needs_seed = pytest.mark.skipif(
    SEED is None, reason=f"the reference class's document ../shared/{SEED_NAME} is not here"
)


@pytest.fixture(scope="module")
def seed() -> str:
    assert SEED is not None
    return SEED.read_text(encoding="utf-8")


def sections(text: str, kind: str) -> dict[str, str]:
    """Each "<name> <kind>" section of the document (Property, Method, Event), by name."""
    heads = list(re.finditer(rf"^(\w+) {kind}$", text, re.MULTILINE))
    found = {}
    for head in heads:
        end = re.search(r"^\w+ (?:Property|Method|Event)$", text[head.end() :], re.MULTILINE)
        found[head.group(1)] = text[head.end() : head.end() + end.start() if end else None]
    return found


def config_settings(text: str) -> list[str]:
    """The names of the "NAME:   description" entries of the config settings section."""
    start = text.index("QBWCServer Config Settings\n\nThe class accepts")
    end = text.index("QBWCServer Errors", start)
    # The document separates name and description with no-break spaces.
    return re.findall(r"^(\w+):\s{2,}", text[start:end], re.MULTILINE)


def error_table(text: str) -> list[tuple[int, str]]:
    """The (code, message) rows of the errors table, the final period dropped."""
    start = text.rindex("QBWCServer Errors")
    rows = re.findall(r"^(\d{3})\s+(.+?)\s*$", text[start:], re.MULTILINE)
    return [(int(code), message.strip().removesuffix(".")) for code, message in rows]


@needs_seed
class TestEveryNameOfTheReferenceClass:
    def test_the_document_lists_what_it_details(self, seed):
        """The parser finds 20 properties, 3 methods, 12 events and 9 settings, as the lists say."""
        assert (len(sections(seed, "Property")), len(sections(seed, "Method"))) == (20, 3)
        assert len(sections(seed, "Event")) == 12
        assert len(config_settings(seed)) == 9
        listed = seed[seed.index("Property List") : seed.index("Method List")]
        for name in sections(seed, "Property"):
            assert f"\n{name}" in listed

    def test_every_property_has_the_documented_type_and_default(self, seed):
        """Each property reads back, on a new server, with the type and default documented."""
        server = QBWCServer()
        types = {"str": str, "bool": bool, "int": int}
        defaults = {'""': "", "FALSE": False, "TRUE": True}
        for name, body in sections(seed, "Property").items():
            declared = re.search(rf"def get_{name}\(\) -> (\w+):", body)
            default = re.search(r"Default Value\n\n(.+)\n", body)
            assert declared and default, name
            value, kind, raw = getattr(server, name), declared.group(1), default.group(1)
            assert type(value) is types[kind], name
            assert value == (int(raw) if kind == "int" else defaults[raw]), name

    def test_every_property_can_be_set(self, seed):
        """Each property takes a value of its type and reads it back (setters exist)."""
        server = QBWCServer()
        samples = {"str": "0x2", "bool": True, "int": 1}
        for name, body in sections(seed, "Property").items():
            declared = re.search(rf"def set_{name}\(value: (\w+)\) -> None", body)
            assert declared, name
            setattr(server, name, samples[declared.group(1)])
            assert getattr(server, name) == samples[declared.group(1)], name

    def test_the_required_properties_are_the_documented_ones(self, seed):
        """ "This property is required." marks exactly the properties create_qwc_file demands."""
        required = {
            name
            for name, body in sections(seed, "Property").items()
            if "This property is required." in body
        }
        assert required == set(REQUIRED_QWC_PROPERTIES)

    def test_every_required_property_missing_is_201_naming_it(self, seed, tmp_path):
        """For each documented required property left empty: error 201, the name, no file."""
        from .test_reference import filled

        for name, body in sections(seed, "Property").items():
            if "This property is required." not in body:
                continue
            server = filled(QBWCServer(), **{name: ""})
            with pytest.raises(QBWCServerError) as error:
                server.create_qwc_file(str(tmp_path / "x.qwc"))
            assert (error.value.code, error.value.field) == (201, name)
            assert name in str(error.value)
        assert list(tmp_path.iterdir()) == []

    def test_every_method_takes_the_documented_parameters(self, seed):
        """config(configuration_string), create_qwc_file(file_path), process_request()."""
        for name, body in sections(seed, "Method").items():
            declared = re.search(rf"def {name}\(([^)]*)\) -> (\w+):", body)
            assert declared, name
            documented = [p.split(":")[0].strip() for p in declared.group(1).split(",") if p]
            method = getattr(QBWCServer(), name)
            parameters = inspect.signature(method).parameters
            required = [p for p, v in parameters.items() if v.default is inspect.Parameter.empty]
            assert required == documented, name
            assert list(parameters)[: len(documented)] == documented, name

    def test_every_event_is_an_assignable_hook(self, seed):
        """Each event is a hook: None until assigned, then the callable assigned."""
        server = QBWCServer()
        for name in sections(seed, "Event"):
            assert getattr(server, name) is None, name
            setattr(server, name, print)
            assert getattr(server, name) is print, name

    def test_every_event_parameter_is_a_field_of_the_event(self, seed):
        """The hook's event has every parameter the document lists for it."""
        for name, body in sections(seed, "Event").items():
            parameters = re.findall(r"^  def (\w+)\(\) -> \w+: \.\.\.", body, re.MULTILINE)
            assert parameters, name
            fields = {field.name for field in dataclasses.fields(HOOK_EVENTS[name])}
            assert set(parameters) <= fields, (name, set(parameters) - fields)

    def test_every_config_setting_reads_back_as_text(self, seed):
        """config("NAME") answers for each documented setting, under its own name."""
        server = QBWCServer()
        for name in config_settings(seed):
            assert isinstance(server.config(name), str), name

    def test_every_config_setting_takes_back_what_it_reads(self, seed):
        """config("NAME=" + config("NAME")) sets it, except the settings documented as queried."""
        server = QBWCServer()
        start = seed.index("QBWCServer Config Settings\n\nThe class accepts")
        for name in config_settings(seed):
            value = server.config(name)
            entry = seed[seed.index(f"\n{name}:", start) :][:300]
            if "When queried, this setting will return" in entry:
                with pytest.raises(QBWCServerError) as error:
                    server.config(f"{name}={value}")
                assert (error.value.code, error.value.field) == (402, name)
            else:
                assert server.config(f"{name}={value}") == "", name
            assert server.config(name) == value, name

    def test_every_event_parameter_has_the_documented_type(self, seed):
        """str, int or bool as documented; None is also allowed where "not set" means something."""
        for name, body in sections(seed, "Event").items():
            hints = typing.get_type_hints(HOOK_EVENTS[name])
            for parameter, kind in re.findall(
                r"^  def (\w+)\(\) -> (\w+): \.\.\.", body, re.MULTILINE
            ):
                documented = {"str": str, "int": int, "bool": bool}[kind]
                assert hints[parameter] in (documented, documented | None), (name, parameter)

    def test_the_error_table_is_the_documents(self, seed):
        """reference.ERRORS is the document's table, row for row, in its order."""
        assert list(reference.ERRORS) == error_table(seed)

    def test_every_code_page_accepted_is_in_the_documents_list(self, seed):
        """CODE_PAGES only holds identifiers of the document's Windows code page list."""
        start = seed.index("The following is a list of valid code page identifiers:")
        end = seed.index("The following is a list of valid code page identifiers for Mac OS")
        listed = {int(n) for n in re.findall(r"^(\d+)\D", seed[start:end], re.MULTILINE)}
        assert set(CODE_PAGES) <= listed
        assert 65001 in listed


class TestErrorNumbers:
    @pytest.mark.parametrize(
        ("status", "code", "text"),
        [
            (3100, 805, "The name already exists in QuickBooks"),
            (3120, 807, "An object could not be found in QuickBooks"),
            (3140, 808, "A reference did not refer to an object that exists in QuickBooks"),
            (3200, 811, "The object may not be updated because it is obsolete"),
        ],
    )
    def test_quickbooks_statuses_map_to_the_reference_codes(self, status, code, text):
        """The four statuses the reference class numbers, QuickBooks' message kept."""
        error = reference.for_status(status, "QuickBooks says so")
        assert error is not None
        assert (error.code, error.message) == (code, f"{text}: QuickBooks says so")
        assert isinstance(error, QBWCError)

    @pytest.mark.parametrize("status", [0, 1, 500, 3180, 3210, -3100])
    def test_other_statuses_map_to_nothing(self, status):
        """No number is invented for a status the reference class does not name."""
        assert reference.for_status(status) is None

    @pytest.mark.parametrize(
        "hresult",
        ["0x80040408", "0X80040408", " 0x80040408 ", "-2147220472", 0x80040408, -2147220472],
    )
    def test_could_not_start_quickbooks_is_606_in_every_spelling(self, hresult):
        """0x80040408 as the Web Connector sends it, in decimal (signed or not), or an int."""
        error = reference.for_hresult(hresult)
        assert error is not None and error.code == 606

    @pytest.mark.parametrize("hresult", ["0x80040400", "", "junk", "0x", 2**40, -(2**40), "0x1_0"])
    def test_other_hresults_map_to_nothing(self, hresult):
        """Unknown or malformed hresults give None, never an exception."""
        assert reference.for_hresult(hresult) is None

    def test_an_unsupported_version_is_751(self):
        """A version the HostQuery response does not list is 751, naming what is supported."""
        reference.check_version("13.0", HCP)
        with pytest.raises(QBWCServerError) as error:
            reference.check_version("99.0", HCP)
        assert error.value.code == 751
        assert "99.0" in error.value.message and "13.0" in error.value.message

    def test_an_unknown_code_is_a_key_error(self):
        """error() builds only the reference class's codes."""
        with pytest.raises(KeyError):
            reference.error(999)
        assert reference.message(899).startswith("An unknown QuickBooks error")

    def test_the_statuses_the_fake_quickbooks_sends_map_in_a_session(self):
        """A duplicate name (3100) and a stale EditSequence (3200) reach the hook as 805 and 811."""
        from qbwc_spyne import qbxml

        quickbooks = FakeQuickBooks()
        (list_id,) = quickbooks.add_customers(1, prefix="Ada")
        requests = iter(
            [
                qbxml.request(qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": "Ada 0001"}})),
                qbxml.request(
                    qbxml.Rq(
                        "CustomerModRq",
                        {"CustomerMod": {"ListID": list_id, "EditSequence": "1", "Name": "B"}},
                    )
                ),
            ]
        )
        codes: list[int | None] = []
        server = QBWCServer()
        server.on_authenticate = lambda event: None

        def send(event):
            event.request = next(requests, "")

        def receive(event):
            for result in qbxml.parse_response(event.response):
                error = reference.for_status(result.status_code, result.message)
                codes.append(None if error is None else error.code)
            event.percent_done = 50 if len(codes) < 2 else 100

        server.on_send_request = send
        server.on_receive_response = receive
        result = WebConnector(server, user="shop", password="pw", quickbooks=quickbooks).update()
        assert result.ok, result.transcript()
        assert codes == [805, 811]

    def test_quickbooks_not_running_reaches_the_hook_as_606(self):
        """connectionError's hresult, through for_hresult, is the reference class's 606."""
        quickbooks = FakeQuickBooks()
        quickbooks.running = False
        codes: list[int] = []
        server = QBWCServer()
        server.on_authenticate = lambda event: None

        def connection_error(event):
            error = reference.for_hresult(event.error_code, event.error_message)
            codes.append(error.code if error else 0)

        server.on_connection_error = connection_error
        result = WebConnector(server, user="shop", password="pw", quickbooks=quickbooks).update()
        assert result.status == "connection error"
        assert codes == [606]


def test_the_reference_module_exports_exactly_the_tables_public_names():
    """qbwc_spyne.reference lists what the table's module defines, and QBWCServer, each
    documented."""
    import types

    defined = {
        key
        for key, value in vars(_reference_errors).items()
        if not key.startswith("_")
        and isinstance(value, type | types.FunctionType)
        and value.__module__ == _reference_errors.__name__
    }
    assert defined <= set(_reference_errors.__all__)
    assert set(reference.__all__) == {*_reference_errors.__all__, "QBWCServer"}
    assert reference.QBWCServer is QBWCServer
    for name in reference.__all__:
        value = getattr(reference, name)
        if isinstance(value, type | types.FunctionType):
            assert value.__doc__, name


def test_the_old_module_still_gives_the_table():
    """qbwc_spyne.server_errors gives the same objects as qbwc_spyne.reference."""
    import importlib
    import sys
    import warnings

    sys.modules.pop("qbwc_spyne.server_errors", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("qbwc_spyne.server_errors")
    # Deprecated: any warning it gives names where the table went.
    assert all(
        issubclass(w.category, DeprecationWarning) and "qbwc_spyne.reference" in str(w.message)
        for w in caught
    )
    assert set(old.__all__) == set(_reference_errors.__all__)
    for name in old.__all__:
        assert getattr(old, name) is getattr(reference, name)
