"""The WSDL contract: ours against Intuit's copies, spyne's emitted WSDL against ours."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree
from werkzeug.test import Client

from qbwc_spyne import QBWCServer
from tools import codegen

from .helpers import DATA, WSDL, WSDL_NS, RecordingHandler

ROOT = Path(__file__).resolve().parent.parent  # where `python -m tools.codegen` runs

S = "{http://www.w3.org/2001/XMLSchema}"

OPERATIONS = [
    "serverVersion",
    "clientVersion",
    "authenticate",
    "sendRequestXML",
    "receiveResponseXML",
    "connectionError",
    "getLastError",
    "closeConnection",
    "getInteractiveURL",
    "interactiveDone",
    "interactiveRejected",
]


def signatures(root: etree._Element) -> dict[str, tuple]:
    """Each operation's input and result elements as (name, type, min, max, nillable).

    Works for any document/literal wrapped WSDL, whatever its prefixes: types
    are compared by their local name in the XML Schema namespace (or "tns:").
    """
    schema = root.find("wsdl:types/s:schema", WSDL_NS)
    assert schema is not None

    def type_of(el: etree._Element) -> str:
        prefix, _, local = el.get("type").rpartition(":")
        return f"{'xs' if el.nsmap.get(prefix) == S[1:-1] else 'tns'}:{local}"

    def fields(element_name: str) -> tuple:
        element = schema.find(f"{S}element[@name='{element_name}']")
        if element.get("type"):  # spyne names a complexType instead of nesting it
            complex_type = schema.find(
                f"{S}complexType[@name='{element.get('type').split(':')[1]}']"
            )
        else:
            complex_type = element.find(f"{S}complexType")
        return tuple(
            (
                el.get("name"),
                type_of(el),
                el.get("minOccurs", "1"),
                el.get("maxOccurs", "1"),
                el.get("nillable", "false"),
            )
            for el in complex_type.iterfind(f"{S}sequence/{S}element")
        )

    return {
        op.get("name"): (fields(op.get("name")), fields(op.get("name") + "Response"))
        for op in root.iterfind("wsdl:portType/wsdl:operation", WSDL_NS)
    }


def ours() -> etree._Element:
    return etree.parse(str(WSDL)).getroot()


class TestOurWSDL:
    def test_has_the_eleven_operations_in_order(self):
        """portType, binding and messages cover the 11 operations, nothing else."""
        root = ours()
        names = [op.get("name") for op in root.iterfind("wsdl:portType/wsdl:operation", WSDL_NS)]
        assert names == OPERATIONS
        bound = [op.get("name") for op in root.iterfind("wsdl:binding/wsdl:operation", WSDL_NS)]
        assert bound == OPERATIONS

    @pytest.mark.parametrize(
        "copy", ["TroubleshootWebServiceFS.intuit.wsdl", "QBWebConnectorSvc.intuit-v1.wsdl"]
    )
    def test_matches_intuits_copies_operation_by_operation(self, copy):
        """Every operation Intuit's WSDL has is identical here: names, order, types, occurrence."""
        intuit = signatures(etree.parse(str(DATA / copy)).getroot())
        mine = signatures(ours())
        assert intuit, copy
        for name, signature in intuit.items():
            assert mine[name] == signature, name

    def test_interactive_operations_follow_the_same_style(self):
        """The three operations no public Intuit copy has use wcTicket and <op>Result."""
        mine = signatures(ours())
        string = ("xs:string", "0", "1", "false")
        assert mine["getInteractiveURL"] == (
            (("wcTicket", *string), ("sessionID", *string)),
            (("getInteractiveURLResult", *string),),
        )
        assert mine["interactiveDone"] == (
            (("wcTicket", *string),),
            (("interactiveDoneResult", *string),),
        )
        assert mine["interactiveRejected"] == (
            (("wcTicket", *string), ("reason", *string)),
            (("interactiveRejectedResult", *string),),
        )

    def test_binding_is_one_soap11_document_literal_binding(self):
        """One SOAP 1.1 binding; soapAction http://developer.intuit.com/<op>; literal bodies."""
        root = ours()
        bindings = root.findall("wsdl:binding", WSDL_NS)
        assert len(bindings) == 1
        assert (
            bindings[0].find("soap:binding", WSDL_NS).get("transport")
            == "http://schemas.xmlsoap.org/soap/http"
        )
        for op in bindings[0].iterfind("wsdl:operation", WSDL_NS):
            soap_op = op.find("soap:operation", WSDL_NS)
            assert soap_op.get("soapAction") == f"http://developer.intuit.com/{op.get('name')}"
            assert soap_op.get("style") == "document"
            assert [b.get("use") for b in op.iterfind(".//soap:body", WSDL_NS)] == [
                "literal",
                "literal",
            ]

    def test_service_port_and_namespace(self):
        """Service QBWebConnectorSvc, port QBWebConnectorSvcSoap, qualified Intuit namespace."""
        root = ours()
        assert root.get("targetNamespace") == "http://developer.intuit.com/"
        schema = root.find("wsdl:types/s:schema", WSDL_NS)
        assert schema.get("elementFormDefault") == "qualified"
        assert schema.get("targetNamespace") == "http://developer.intuit.com/"
        service = root.find("wsdl:service", WSDL_NS)
        assert service.get("name") == "QBWebConnectorSvc"
        assert [p.get("name") for p in service] == ["QBWebConnectorSvcSoap"]

    def test_array_of_string_is_dotnets(self):
        """ArrayOfString holds unbounded, nillable, qualified <string> items."""
        schema = ours().find("wsdl:types/s:schema", WSDL_NS)
        (item,) = schema.findall(f"{S}complexType[@name='ArrayOfString']/{S}sequence/{S}element")
        assert dict(item.attrib) == {
            "minOccurs": "0",
            "maxOccurs": "unbounded",
            "name": "string",
            "nillable": "true",
            "type": "s:string",
        }


class TestSpyneService:
    @pytest.fixture
    def spyne_wsdl(self) -> etree._Element:
        """The WSDL spyne itself derives from the generated service."""
        server = QBWCServer(RecordingHandler())
        document = server._spyne.doc.wsdl11
        document.build_interface_document("http://localhost/")
        return etree.fromstring(document.get_interface_document())

    def test_spyne_emits_the_same_signatures_as_the_wsdl(self, spyne_wsdl):
        """Operations, input names and order, types, occurrence, nillability, result names."""
        assert signatures(spyne_wsdl) == signatures(ours())

    def test_spyne_uses_the_same_namespace_and_array_name(self, spyne_wsdl):
        """Same target namespace, qualified elements, the array type named ArrayOfString."""
        schema = spyne_wsdl.find("wsdl:types/s:schema", WSDL_NS)
        assert schema.get("targetNamespace") == "http://developer.intuit.com/"
        assert schema.get("elementFormDefault") == "qualified"
        assert schema.find(f"{S}complexType[@name='ArrayOfString']") is not None


class TestServedWSDL:
    def test_get_wsdl_serves_our_file_with_the_public_url(self):
        """GET ?wsdl is wsdl/ byte for byte except soap:address, set to public_url."""
        server = QBWCServer(RecordingHandler(), public_url="https://qb.example.com/sync?a=1&b=2")
        response = Client(server).get("/?wsdl")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        served = response.get_data()
        original = WSDL.read_bytes()
        assert (
            served.replace(
                b"https://qb.example.com/sync?a=1&amp;b=2", b"http://localhost:8000/qbwc"
            )
            == original
        )
        root = etree.fromstring(served)
        assert (
            root.find(".//soap:address", WSDL_NS).get("location")
            == "https://qb.example.com/sync?a=1&b=2"
        )

    def test_address_defaults_to_the_request_url_under_a_prefix(self):
        """Without public_url, soap:address is the URL the WSDL was fetched from."""
        server = QBWCServer(RecordingHandler())
        environ = {"SCRIPT_NAME": "/integrations/qbwc"}
        response = Client(server).get(
            "/",
            query_string="wsdl",
            base_url="https://shop.example.com/",
            environ_overrides=environ,
        )
        root = etree.fromstring(response.get_data())
        assert (
            root.find(".//soap:address", WSDL_NS).get("location")
            == "https://shop.example.com/integrations/qbwc/"
        )


class TestCodegen:
    def test_checked_in_service_is_up_to_date(self):
        """python -m tools.codegen --check passes on the repository."""
        result = subprocess.run(
            [sys.executable, "-m", "tools.codegen", "--check"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    def test_check_fails_when_the_wsdl_changed(self, tmp_path: Path):
        """--check exits 1 and says what to run when the WSDL and the module disagree."""
        changed = tmp_path / "changed.wsdl"
        changed.write_text(WSDL.read_text().replace('name="strVersion"', 'name="strClientVersion"'))
        result = subprocess.run(
            [sys.executable, "-m", "tools.codegen", "--check", "--wsdl", str(changed)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 1
        assert "python -m tools.codegen" in result.stderr

    def test_generation_writes_a_module_that_forwards_each_operation(self, tmp_path: Path):
        """Each operation becomes an @rpc method forwarding to the core's snake_case method."""
        output = tmp_path / "service.py"
        assert codegen.main(["--output", str(output)]) == 0
        source = output.read_text()
        for op in codegen.read_operations():
            # The table's row: the operation, then the core's method it forwards to.
            assert re.search(rf'\(\s*"{op.name}",\s*"{op.core_method}",', source), op.name
        assert re.search(r'"sendRequestXML",\s*"send_request_xml",', source)
        assert re.search(r'"getInteractiveURL",\s*"get_interactive_url",', source)
        # Built, each row is an @rpc method that hands its elements to that method.
        methods = QBWCServer(RecordingHandler())._spyne.app.interface.service_method_map
        calls = []

        class Core:
            def __getattr__(self, name):
                return lambda *elements: calls.append((name, elements))

        for op in codegen.read_operations():
            (descriptor,) = methods[f"{{http://developer.intuit.com/}}{op.name}"]
            ctx = type("Ctx", (), {"app": type("App", (), {"qbwc_core": Core()})()})()
            arguments = tuple(f"v{i}" for i in range(len(op.parameters)))
            descriptor.function(ctx, *arguments)
            assert calls.pop() == (op.core_method, arguments)

    def test_generation_writes_the_wire_module_beside_the_service(self, tmp_path: Path):
        """_wire.py goes beside the service: a reader and a writer for each operation."""
        output = tmp_path / "service.py"
        assert codegen.main(["--output", str(output)]) == 0
        wire = (tmp_path / "_wire.py").read_text()
        assert wire == (codegen.PACKAGE_DIR / "server" / "_wire.py").read_text()
        for op in codegen.read_operations():
            assert f'    "{op.name}": reader(' in wire and f'    "{op.name}": writer(' in wire

    def test_check_fails_when_the_wire_module_is_stale(self, tmp_path: Path):
        """--check names _wire.py when only it differs from what the WSDL gives."""
        output = tmp_path / "service.py"
        assert codegen.main(["--output", str(output)]) == 0
        wire = tmp_path / "_wire.py"
        fresh = wire.read_text()
        # clientVersion's strVersion made required: an occurrence the WSDL does not say.
        wire.write_text(fresh.replace('("strVersion", STRING, 0)', '("strVersion", STRING, 1)'))
        assert wire.read_text() != fresh
        result = subprocess.run(
            [sys.executable, "-m", "tools.codegen", "--check", "--output", str(output)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 1
        assert f"{wire} is out of date" in result.stderr
        assert str(output) not in result.stderr.replace(str(wire), "")

    def test_a_result_occurrence_the_writer_does_not_print_is_refused(self, tmp_path: Path):
        """A nillable result would be printed wrong by the templates: the generator stops."""
        changed = tmp_path / "changed.wsdl"
        changed.write_text(
            WSDL.read_text().replace(
                '<s:element minOccurs="1" maxOccurs="1" name="receiveResponseXMLResult"',
                '<s:element minOccurs="0" maxOccurs="1" name="receiveResponseXMLResult"',
            )
        )
        assert changed.read_text() != WSDL.read_text()
        with pytest.raises(SystemExit, match="receiveResponseXMLResult has an occurrence"):
            codegen.read_operations(changed)

    def test_unsupported_types_are_refused(self, tmp_path: Path):
        """A WSDL type the generator does not know stops it instead of guessing."""
        changed = tmp_path / "changed.wsdl"
        changed.write_text(
            WSDL.read_text().replace(
                'name="qbXMLMajorVers" type="s:int"', 'name="qbXMLMajorVers" type="s:long"'
            )
        )
        with pytest.raises(SystemExit, match="unsupported type s:long"):
            codegen.read_operations(changed)
