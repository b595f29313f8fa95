"""The demo behind `make demo`: a Web Connector session against a real server.

It serves the example handler (examples/customer_sync.py) with werkzeug on
127.0.0.1, then plays the Web Connector over HTTP with zeep, built from
wsdl/QBWebConnectorSvc.wsdl, printing each call and its answer. The qbXML
QuickBooks would answer with is a fixed sample here.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import zeep
from werkzeug.serving import make_server

from examples.customer_sync import PASSWORD, USER, app
from qbwc_spyne.testing import WSDL_PATH

HCP = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><HostQueryRs requestID="0" statusCode="0" '
    'statusSeverity="Info" statusMessage="Status OK"><HostRet><ProductName>QuickBooks Pro 2014'
    "</ProductName><MajorVersion>24</MajorVersion><MinorVersion>0</MinorVersion><Country>US"
    "</Country><SupportedQBXMLVersion>13.0</SupportedQBXMLVersion></HostRet></HostQueryRs>"
    "</QBXMLMsgsRs></QBXML>"
)
CUSTOMERS = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="1" statusCode="0" '
    'statusSeverity="Info" statusMessage="Status OK">'
    + "".join(
        f"<CustomerRet><ListID>8000000{n}-1</ListID><FullName>{name}</FullName></CustomerRet>"
        for n, name in enumerate(["Abercrombie, Kristy", "Baker &amp; Sons", "Cook, Brian"])
    )
    + "</CustomerQueryRs></QBXMLMsgsRs></QBXML>"
)


def show(call: str, answer: Any) -> Any:
    text = repr(answer)
    print(f"  {call:<58} -> {text if len(text) < 70 else text[:67] + '...'}")
    return answer


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"Serving the example handler at {url} (WSDL: {url}?wsdl)\n")
    print("The Web Connector's calls, over HTTP:")
    try:
        client = zeep.Client(str(WSDL_PATH), settings=zeep.Settings(strict=True))
        wc = client.create_service("{http://developer.intuit.com/}QBWebConnectorSvcSoap", url)
        show("serverVersion()", wc.serverVersion())
        show('clientVersion("2.3.0.215")', wc.clientVersion("2.3.0.215") or "")
        ticket, company = show(f'authenticate("{USER}", "***")', wc.authenticate(USER, PASSWORD))
        request = show(
            "sendRequestXML(ticket, HCP response, ...)",
            wc.sendRequestXML(ticket, HCP, company or "", "US", 13, 0),
        )
        assert "<CustomerQueryRq" in request
        show(
            "receiveResponseXML(ticket, 3 customers, '', '')",
            wc.receiveResponseXML(ticket, CUSTOMERS, "", ""),
        )
        result = show("closeConnection(ticket)", wc.closeConnection(ticket))
        assert result == "Read 3 customers", result
        print("\nDone: a whole Web Connector session, every answer as the WSDL says.")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
