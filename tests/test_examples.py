"""The examples run as the README says."""

from __future__ import annotations

from werkzeug.test import Client

from qbwc_spyne.testing import WSGITransport, make_client

from .helpers import TRAFFIC

HCP = (TRAFFIC / "qbxml.HCPResponse.QBPro2014.xml").read_text()
CUSTOMERS = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="1" statusCode="0" '
    'statusSeverity="Info" statusMessage="Status OK"><CustomerRet><FullName>A</FullName>'
    "</CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>"
)


def test_flask_site_serves_the_web_connector_under_a_prefix():
    """Flask keeps its pages; /qbwc answers a whole session and /qbwc?wsdl the WSDL."""
    from examples.flask_mount import app

    site = app.wsgi_app
    assert Client(app).get("/").get_data(as_text=True).startswith("The shop")
    wsdl = Client(app).get("/qbwc?wsdl", base_url="https://shop.example.com/").get_data()
    assert b'location="https://shop.example.com/qbwc"' in wsdl
    wc = make_client(WSGITransport(site, path="/qbwc")).service
    ticket = wc.authenticate("demo", "demo-password")[0]
    assert "<CustomerQueryRq" in wc.sendRequestXML(ticket, HCP, "", "US", 13, 0)
    assert wc.receiveResponseXML(ticket, CUSTOMERS, "", "") == 100
    assert wc.closeConnection(ticket) == "Read 1 customers"


def test_example_refuses_a_wrong_password():
    """The example compares credentials and answers nvu for a wrong password."""
    from examples.customer_sync import app

    wc = make_client(WSGITransport(app)).service
    assert wc.authenticate("demo", "guess")[1] == "nvu"


def test_live_lookup_answers_a_web_page_from_quickbooks_in_one_hot_session():
    """Two lookups through the site: both answered, the second in the session the first opened."""
    from examples.live_lookup import run

    lookups, update = run(noop_delay=0.02, keep_alive=5.0)
    names = [lookup["answer"]["full_name"] for lookup in lookups]
    assert names == ["Customer 0001", "Customer 0003"]
    assert update.ok, update.transcript()
    assert update.operations().count("authenticate") == 1
    assert update.close_message == "2 done"
