"""README.md and every page of the site (docs/) run as written: every block, every line.

A block is run unless an HTML comment right above it says ``<!-- not run:
REASON -->``. Python blocks run in a temporary directory that holds, as a
reader's would, only the files the pages tell the reader to save: the
quickstart, the README's block that starts ``# app.py``, is app.py there, as
the later blocks and commands expect. A block needs no code of the reader's
that no page shows. Each block is then used the way its page says (a Web
Connector update against the quickstart, the jobs through a fake
QuickBooks), and every statement of every block must have run. Shell
commands each have a runner here; a command with none fails. A block in any
other language is a file the page asks the reader to write, and is checked
by the program that reads it.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from argon2 import PasswordHasher
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from qbwc_spyne import JobContext, JobKind, JobState, make_wsgi_app, qbxml
from qbwc_spyne.jobs import recover_jobs
from qbwc_spyne.objects import CustomerRet
from qbwc_spyne.qwc import QWCFile
from qbwc_spyne.testing import FakeQuickBooks, WebConnector
from tools import codegen_schema

from . import helpers
from .helpers import SOAP_ENV, TNS, free_port, soap_body_child, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SITE = "https://qbwc-spyne.readthedocs.io/en/latest/"  # mkdocs.yml's site_url
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent
DASHBOARD_ENV = "QBWC_SPYNE_DASHBOARD_PASSWORD"
FENCE = re.compile(r"^```(?P<info>\S*)\s*$")
NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<reason>.*?)\s*-->\s*$", re.DOTALL)


@dataclass(frozen=True)
class Block:
    """One fenced code block of README.md or of a page of the site."""

    page: Path
    info: str
    first_line: int  # the page's line number of the block's first line of code
    text: str
    not_run: str | None  # the reason given in the source, if the block is not run

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.first_line}"

    @property
    def python(self) -> bool:
        return self.info == "python"

    @property
    def commands(self) -> list[str]:
        """The block's commands, without trailing comments."""
        lines = (line.split("  #", 1)[0].strip() for line in self.text.splitlines())
        return [line for line in lines if line and not line.startswith("#")]


def page_blocks(page: Path) -> list[Block]:
    """Every fenced block of a page, with the ``not run`` reason written just above it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    number = 0
    while number < len(lines):
        match = FENCE.match(lines[number])
        if not match:
            number += 1
            continue
        end = next(i for i in range(number + 1, len(lines)) if lines[i].startswith("```"))
        above = "\n".join(lines[:number]).rstrip()
        comment = above[above.rfind("<!--") :] if above.endswith("-->") else ""
        reason = NOT_RUN.match(comment)
        blocks.append(
            Block(
                page=page,
                info=match["info"],
                first_line=number + 2,
                text="\n".join(lines[number + 1 : end]) + "\n",
                not_run=reason["reason"] if reason else None,
            )
        )
        number = end + 1
    return blocks


# The site includes the architecture and the changelog whole (docs/explanation,
# docs/changelog.md): their blocks are on it too.
PAGES = [README, ROOT / "ARCHITECTURE.md", ROOT / "CHANGELOG.md", *sorted(DOCS.rglob("*.md"))]
BLOCKS = [block for page in PAGES for block in page_blocks(page)]
PYTHON_BLOCKS = [block for block in BLOCKS if block.python]
JSON_BLOCKS = [block for block in BLOCKS if block.info == "json"]
TOML_BLOCKS = [block for block in BLOCKS if block.info == "toml"]
SHELL_INFO = ("", "console")
SHELL_BLOCKS = [block for block in BLOCKS if block.info in SHELL_INFO]


def statement_lines(block: Block) -> set[tuple[str, int]]:
    """The page and line number of every statement in a Python block."""
    first = block.first_line - 1
    return {(str(block.page), line + first) for line in helpers.statement_lines(block.text)}


@dataclass
class LineRecorder:
    """The lines of the pages executed."""

    lines: set[tuple[str, int]] = field(default_factory=set)

    def recording(self) -> contextlib.AbstractContextManager[None]:
        return helpers.recording_lines(PAGE_NAMES, self.lines)


PAGE_NAMES = frozenset(str(page) for page in PAGES)


def run_block(block: Block, module_name: str, recorder: LineRecorder) -> types.ModuleType:
    """Execute a Python block as module ``module_name``, its lines numbered as in its page."""
    code = compile("\n" * (block.first_line - 1) + block.text, str(block.page), "exec")
    module = types.ModuleType(module_name)
    module.__file__ = str(block.page)
    sys.modules[module_name] = module
    with recorder.recording():
        exec(code, module.__dict__)
    return module


@pytest.fixture
def reader_dir(tmp_path, monkeypatch) -> Iterator[Path]:
    """A directory like the reader's: app.py, the quickstart, saved as the README says."""
    (tmp_path / "app.py").write_text(quickstart_block().text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # The dashboard's block reads its password from the environment, as it says to.
    monkeypatch.setenv(DASHBOARD_ENV, "the operator's password")
    sys.modules.pop("app", None)
    yield tmp_path
    for name in list(sys.modules):
        if name == "app" or name.startswith("page_"):
            del sys.modules[name]


TUTORIAL = DOCS / "tutorial.md"


def quickstart_block() -> Block:
    """The README's quickstart: the block the reader saves as app.py."""
    return next(b for b in PYTHON_BLOCKS if b.page == README and b.text.startswith("# app.py"))


def page_file(name: str, page: Path = TUTORIAL) -> Block:
    """The block ``page`` asks the reader to save as ``name``."""
    if name == "app.py":
        return quickstart_block()
    if name.endswith(".py"):  # its first line names it: "# shop.py: ..."
        return next(b for b in PYTHON_BLOCKS if b.page == page and b.text.startswith(f"# {name}"))
    if name == "company.json":
        return next(b for b in JSON_BLOCKS if b.page == page)
    raise LookupError(name)


def write_page_file(name: str, page: Path = TUTORIAL) -> Path:
    """Save the block named ``name`` in the reader's directory (the current one), as told."""
    path = Path(name).resolve()
    path.write_text(page_file(name, page).text, encoding="utf-8")
    return path


# -- what each Python block is for -----------------------------------------------------


def shop_update(app: Any, quickbooks: FakeQuickBooks) -> Any:
    """One Web Connector update of ``app`` as the pages' user, against ``quickbooks``."""
    return WebConnector(app, user="shop", password="s3cret", quickbooks=quickbooks).update()


def use_quickstart(module: types.ModuleType, request: Any) -> None:
    """Ada is added once and listed; a restart of the app finds its jobs done: no work."""
    quickbooks = FakeQuickBooks()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        outcome = shop_update(module.app, quickbooks)
    assert outcome.ok and outcome.close_message == "2 done", outcome.transcript()
    assert printed.getvalue() == "Added Ada\nQuickBooks has ['Ada']\n"
    module.handler.queue.close()
    restarted = run_block(quickstart_block(), "app_restarted", LineRecorder())
    again = WebConnector(restarted.app, user="shop", password="s3cret", quickbooks=quickbooks)
    assert again.update().status == "no work"
    assert [c.findtext("Name") for c in quickbooks.records["Customer"].values()] == ["Ada"]
    restarted.handler.queue.close()


def tutorial_update(module: types.ModuleType) -> tuple[FakeQuickBooks, Any, io.StringIO]:
    """One update of the tutorial's app against its company, and what the app printed."""
    quickbooks = FakeQuickBooks.from_json(write_page_file("company.json"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        outcome = shop_update(module.app, quickbooks)
    return quickbooks, outcome, printed


def use_tutorial(module: types.ModuleType, request: Any) -> None:
    """Customers mirrored, invoice 1001 posted with its TxnID; a lost answer is reconciled."""
    quickbooks, outcome, printed = tutorial_update(module)
    assert outcome.ok and outcome.close_message == "2 done", outcome.transcript()
    assert printed.getvalue() == "Invoice 1001: 135.00 for Abbott Carpentry\n"
    with contextlib.closing(module.shop_db()) as db:
        names = [row[0] for row in db.execute("SELECT name FROM customers ORDER BY name")]
        (invoice,) = db.execute("SELECT ref_number, txn_id FROM invoices").fetchall()
    assert names == ["Abbott Carpentry", "Baker Plumbing", "Cole Electric"]
    (posted,) = quickbooks.records["Invoice"].values()
    assert invoice == ("1001", posted.findtext("TxnID"))

    # The next update syncs again from the checkpoint, reads the change, and posts nothing.
    client = quickbooks.client()
    client.customer.mod(client.customer.get(full_name="Baker Plumbing"), name="Baker & Sons")
    again = WebConnector(module.app, user="shop", password="s3cret", quickbooks=quickbooks)
    synced = again.update()
    assert synced.ok and synced.close_message == "1 done", synced.transcript()
    (query,) = synced.requests
    assert "<CustomerQueryRq" in query and "<FromModifiedDate>" in query, query
    with contextlib.closing(module.shop_db()) as db:
        names = [row[0] for row in db.execute("SELECT name FROM customers ORDER BY name")]
    assert names == ["Abbott Carpentry", "Baker & Sons", "Cole Electric"]

    # An order whose answer is lost on the way back: reconciled by the query, not sent again.
    quickbooks.lose_responses = 1
    order = {**module.order, "number": "1002"}
    module.handler.enqueue("post_invoice", user="shop", payload=order, key="order 1002")
    update = WebConnector(module.app, user="shop", password="s3cret", quickbooks=quickbooks)
    assert update.update().status == "response lost"
    recover_jobs(module.handler.queue, force=True)  # what the lease's end does, now
    with contextlib.redirect_stdout(printed):
        outcome = update.update()
    assert outcome.ok and "<InvoiceQueryRq" in outcome.requests[0], outcome.transcript()
    assert not any("<InvoiceAddRq" in request for request in outcome.requests)
    posted_refs = [r.findtext("RefNumber") for r in quickbooks.records["Invoice"].values()]
    assert posted_refs == ["1001", "1002"]
    assert printed.getvalue().endswith("Invoice 1002: 135.00 for Abbott Carpentry\n")
    module.handler.queue.close()


def use_jobs(module: types.ModuleType, request: Any) -> None:
    """The customers mirrored, the invoice posted and its TxnID kept; reconcile finds it."""
    order = module.order
    quickbooks = FakeQuickBooks()
    quickbooks.load(
        {
            "customers": [{"Name": order["customer"]}],
            "items": [{"type": "ItemService", "Name": order["item"]}],
        }
    )
    quickbooks.add_customers(2)
    result = shop_update(module.app, quickbooks)
    assert result.ok, result.transcript()
    mirrored = {
        c.findtext("ListID"): c.findtext("Name") for c in quickbooks.records["Customer"].values()
    }
    assert module.customers == mirrored and len(mirrored) == 3
    (posted,) = quickbooks.records["Invoice"].values()
    assert module.txn_ids == {"1042": posted.findtext("TxnID")}
    assert posted.findtext("RefNumber") == "1042"
    assert posted.findtext("CustomerRef/FullName") == order["customer"]

    queue = module.handler.queue
    (invoice,) = [job for job in queue.jobs() if job.kind == "add_invoice"]
    assert invoice.state is JobState.DONE
    reconcile = module.AddInvoice().reconcile(JobContext(job=invoice, session=None, version="13.0"))
    answer = qbxml.parse_response(quickbooks.process(qbxml.request(reconcile)).response)
    assert [r.findtext("TxnID") for r in answer[0].records] == [module.txn_ids["1042"]]


def use_testing(module: types.ModuleType, request: Any) -> None:
    """The guide's test passes with the plugin's fixtures, and again: each run has its folder."""
    fixtures = (
        request.getfixturevalue("web_connector"),
        request.getfixturevalue("fake_quickbooks"),
    )
    second = FakeQuickBooks()  # the next test's fixtures: the same, made anew

    def connector(app: Any, **options: Any) -> WebConnector:
        return WebConnector(app, quickbooks=second, noop_delay=0, **options)

    for number, (web_connector, fake_quickbooks) in enumerate([fixtures, (connector, second)]):
        folder = request.getfixturevalue("tmp_path_factory").mktemp(f"test{number}")
        with pytest.MonkeyPatch.context() as monkeypatch:
            module.test_sync(web_connector, fake_quickbooks, folder, monkeypatch)
        assert (folder / "jobs.db").is_file()


def use_reference(module: types.ModuleType, request: Any) -> None:
    """The hooks answer authenticate through request_data and response_data, too."""
    server = module.server
    for password in ("secret", "wrong"):
        server.request_data = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            '<soap:Body><authenticate xmlns="http://developer.intuit.com/">'
            f"<strUserName>shop</strUserName><strPassword>{password}</strPassword>"
            "</authenticate></soap:Body></soap:Envelope>"
        )
        server.process_request()
        accepted = ">nvu<" not in server.response_data
        assert accepted is (password == "secret"), server.response_data


def fresh_database(request: Any) -> str:
    """A new, empty database in the tests' PostgreSQL cluster, as a URL."""
    cluster = request.getfixturevalue("postgres")
    name = f"docs_{next(_databases)}"
    cluster.psql(f"CREATE DATABASE {name}")
    return str(cluster.url(name))


_databases = itertools.count(1)


def prepare_postgres(block: Block, request: Any) -> None:
    """The PostgreSQL app reads its database URL from $DB, as the reader's does."""
    if 'os.environ["DB"]' in block.text:
        request.getfixturevalue("monkeypatch").setenv("DB", fresh_database(request))


def use_postgres(module: types.ModuleType, request: Any) -> None:
    """An update through the app on PostgreSQL runs the reader's job: every customer listed."""
    try:
        module.handler.enqueue("list_customers", user="shop", key="customers")
        quickbooks = FakeQuickBooks()
        quickbooks.add_customers(3)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            result = shop_update(module.app, quickbooks)
        assert result.ok, result.transcript()
        names = [f"Customer {n:04}" for n in range(1, 4)]
        assert printed.getvalue() == f"QuickBooks has {names}\n"
        assert [job.state for job in module.handler.queue.jobs()] == [JobState.DONE]
    finally:
        module.engine.dispose()


def use_schema(module: types.ModuleType, request: Any) -> None:
    """Schema order, every problem named, typed answers; the kind transliterates, QB stores it."""
    add = qbxml.parse(module.document).find(".//InvoiceAdd")
    assert [child.tag for child in add] == ["CustomerRef", "TxnDate", *["InvoiceLineAdd"] * 2]
    assert [path for path, _ in module.problems] == [
        "CustomerAdd/Name",
        "CustomerAdd/Nmae",
        "CustomerAdd/CompanyName",
    ]
    assert module.acme.balance == module.balance == Decimal("120.50")
    quickbooks = FakeQuickBooks()
    result = WebConnector(
        make_wsgi_app(module.handler), user="shop", password="s3cret", quickbooks=quickbooks
    ).update()
    assert result.ok, result.transcript()
    names = [c.findtext("Name") for c in quickbooks.records["Customer"].values()]
    assert names == ['"Zoë" Café EUR']


def use_client(module: types.ModuleType, request: Any) -> None:
    """Every call of the client tour did what it says, and the kind's query pages."""
    assert module.taken == 3100 and module.missing == 500  # a FullName not found
    assert module.theirs.phone == "555-0101" and module.mine.fax == "555-0199"
    assert (module.acme.phone, module.acme.fax) == ("555-0101", "555-0199")
    assert module.names == ["Acme"] and module.same.list_id == module.acme.list_id
    assert module.region == "North" and module.gone == ["Acme"]
    query = module.MirrorCustomers().build(None)
    assert (query.iterator, query.max_returned, query.active_status) == ("Start", 100, "All")
    module.company.add_customers(2)
    (page,) = qbxml.parse_response(module.company.process(qbxml.request(query)).response)
    module.MirrorCustomers().handle(None, page)
    assert [c.name for c in page.objects_of(CustomerRet)] == ["Customer 0001", "Customer 0002"]


def use_metrics(module: types.ModuleType, request: Any) -> None:
    """An update counted at /metrics of the same app; the library's lines as JSON with the call."""
    lines = io.StringIO()
    module.json_lines.setStream(lines)
    try:
        quickbooks = FakeQuickBooks()
        result = shop_update(module.app, quickbooks)
        assert result.ok, result.transcript()
        page = Client(module.app).get("/metrics").get_data(as_text=True)
    finally:
        module.library.removeHandler(module.json_lines)
        module.library.setLevel(logging.NOTSET)
    calls = {
        (sample.labels["operation"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == "qbwc_calls_total"
    }
    assert calls[("authenticate", "ok")] == 1 and calls[("closeConnection", "ok")] == 1
    assert sum(calls.values()) == len(result.calls)
    entries = [json.loads(line) for line in lines.getvalue().splitlines()]
    started = next(e for e in entries if "started" in e["message"])
    assert started["qbwc_user"] == "shop" and started["qbwc_operation"] == "authenticate"
    assert started["qbwc_ticket"] == result.ticket[:8]


def use_errors(module: types.ModuleType, request: Any) -> None:
    """The hex spelled in lower case is the catalogued HRESULT, with words and a source."""
    from qbwc_spyne.codes import explain

    assert module.why is explain("0x8004040A")
    assert module.why.code == "0x8004040A" and module.why.confirmed
    assert "company file" in module.why.user and module.why.source


def use_live(module: types.ModuleType, request: Any) -> None:
    """A user never seen is offline at once; once seen, lookups and a list in one session."""
    assert "never seen" in module.customer("Customer 0001")["error"]
    assert module.queue.jobs() == []  # refused before anything was queued
    quickbooks = FakeQuickBooks()
    quickbooks.add_customers(3)
    wc = WebConnector(
        module.app, user="shop", password="s3cret", quickbooks=quickbooks, noop_delay=0.01
    )
    assert wc.update().status == "no work"  # a scheduled update: the user is seen
    updates: list[Any] = []

    def update_when_asked() -> None:  # the Web Connector's next scheduled update
        for _ in range(6000):
            if any(job.state is JobState.PENDING for job in module.queue.jobs()):
                break
            time.sleep(0.01)
        updates.append(wc.update())

    scheduled = threading.Thread(target=update_when_asked, daemon=True)
    scheduled.start()
    try:
        answer = module.customer("Customer 0002")
        missing = module.customer("Nobody")  # in the session the first lookup kept hot
        names = module.customer_names()
    finally:
        module.handler.keep_alive = 0  # the hot session ends at its next ask
        scheduled.join(60)
    assert answer == {"name": "Customer 0002", "balance": "0.00"}
    assert missing == {"error": "no customer named 'Nobody'"}
    assert names == ["Customer 0001", "Customer 0002", "Customer 0003"]
    assert updates and updates[0].ok, updates and updates[0].transcript()
    assert updates[0].operations().count("authenticate") == 1


def use_dashboard(module: types.ModuleType, request: Any) -> None:
    """The endpoint answers at /, and /dashboard/ lets the operator in with the password only."""
    module.queue.enqueue(user="shop", kind="add_invoice", payload={"order": "1042"})
    browser = Client(module.site)
    assert browser.get("/?wsdl").status_code == 200
    form = browser.get("/dashboard/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    wrong = browser.post("/dashboard/login", data={"csrf": csrf[1], "password": "guess"})
    assert wrong.status_code == 401
    right = browser.post(
        "/dashboard/login", data={"csrf": csrf[1], "password": os.environ[DASHBOARD_ENV]}
    )
    assert right.headers["Location"] == "/dashboard/"
    jobs = browser.get("/dashboard/jobs")
    assert jobs.status_code == 200 and "add_invoice" in jobs.text
    # The update is recorded: its company file, and the job that failed (no kind
    # named add_invoice is registered in this block) as the connection's trouble.
    WebConnector(module.site, user="shop", password="s3cret", quickbooks=FakeQuickBooks()).update()
    connections = browser.get("/dashboard/")
    assert "Fake.qbw" in connections.text and "1 failed job(s)" in connections.text
    module.site.close()
    module.site.status.close()
    module.queue.close()


def use_status(module: types.ModuleType, request: Any) -> None:
    """A job QuickBooks refuses: the user is in trouble, and the transcript shows the call."""

    class AddCustomer(JobKind):
        name = "add_customer"

        def build(self, ctx: JobContext) -> qbxml.Rq:
            return qbxml.Rq("CustomerAddRq", {"CustomerAdd": {"Name": "Taken"}})

    module.handler.register(AddCustomer())
    module.handler.enqueue("add_customer", user="shop")
    quickbooks = FakeQuickBooks()
    quickbooks.load({"customers": [{"Name": "Taken"}]})  # the name is in use: 3100
    result = shop_update(module.app, quickbooks)
    assert result.ok, result.transcript()
    assert module.in_trouble() == ["shop"]
    calls = module.last_session("shop")
    assert [c[0] for c in calls] == [c.operation for c in result.calls][2:]
    assert calls[0][2].startswith(result.ticket[:8] + "...")
    module.queue.close()
    module.status.close()


def use_public_url(module: types.ModuleType, request: Any) -> None:
    """Behind the proxy the WSDL names the public URL, whatever address the request came to."""
    wsdl = Client(module.app).get("http://127.0.0.1:8000/qbwc?wsdl")
    assert wsdl.status_code == 200
    address = etree.fromstring(wsdl.get_data()).find(".//{*}address")
    assert address is not None and address.get("location") == "https://qbwc.example.com/qbwc"
    quickbooks = FakeQuickBooks()
    quickbooks.add_customers(1)
    result = shop_update(module.app, quickbooks)
    assert result.ok, result.transcript()


def use_handler(module: types.ModuleType, request: Any) -> None:
    """Five customers in pages of two: Start, Continue twice; all mirrored, the user told."""
    from qbwc_spyne.testing import QuickBooksAnswer

    quickbooks = FakeQuickBooks()
    quickbooks.add_customers(5)
    result = shop_update(module.app, quickbooks)
    assert result.ok, result.transcript()
    iterators = [qbxml.parse(r).find(".//CustomerQueryRq").get("iterator") for r in result.requests]
    assert iterators == ["Start", "Continue", "Continue"]
    assert module.mirrored == [f"Customer {n:04}" for n in range(1, 6)]
    assert result.close_message == "5 customers mirrored"
    refused = WebConnector(module.app, user="shop", password="guess", quickbooks=quickbooks)
    assert not refused.update().ok
    # QuickBooks cannot parse a request: getLastError shows its message, the update stops.
    unparsed = QuickBooksAnswer(response="", hresult="0x80040400", message="parse error")
    quickbooks.process = lambda request: unparsed  # type: ignore[method-assign]
    failed = WebConnector(module.app, user="shop", password="s3cret", quickbooks=quickbooks)
    outcome = failed.update()
    assert not outcome.ok and "parse error" in outcome.transcript()


def use_unknown(module: types.ModuleType, request: Any) -> None:
    """The lost answer's write is settled as done: one Acme in QuickBooks, nothing left to send."""
    assert module.job.state is JobState.DONE
    names = [c.findtext("Name") for c in module.quickbooks.records["Customer"].values()]
    assert names == ["Acme"]
    again = WebConnector(module.app, user="shop", password="s3cret", quickbooks=module.quickbooks)
    assert again.update().status == "no work"
    assert [c.findtext("Name") for c in module.quickbooks.records["Customer"].values()] == names


def use_qwc_files(module: types.ModuleType, request: Any) -> None:
    """A file per account, each valid (the command's --check too), no two sharing an ID or name."""
    files = sorted(Path("qwc").glob("*.qwc"))
    assert [f.stem for f in files] == sorted(module.accounts)
    written = [QWCFile.parse(f) for f in files]
    for qwc, path in zip(written, files, strict=True):
        assert qwc.problems() == []
        checked = run([str(BIN / "qbwc-spyne"), "qwc", "--check", str(path)])
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert qwc.user == path.stem and module.accounts[qwc.user] in qwc.app_name
        assert qwc.update_interval == 1800 and "RunEveryNMinutes>30<" in path.read_text()
    for name in ("app_name", "user", "owner_id", "file_id"):
        assert len({getattr(qwc, name) for qwc in written}) == len(files), name
    # Written again, a file keeps its IDs: its user is not asked to authorise anew.
    again = QWCFile.from_mapping({"app_name": written[0].app_name, "user": written[0].user})
    assert (again.owner_id, again.file_id) == (written[0].owner_id, written[0].file_id)


def use_from_php_devkit(module: types.ModuleType, request: Any) -> None:
    """The customer is added once, its ListID kept; the key returns the job; reconcile finds it."""
    quickbooks = FakeQuickBooks()
    result = shop_update(module.app, quickbooks)
    assert result.ok, result.transcript()
    (added,) = quickbooks.records["Customer"]
    assert module.list_ids == {5: added}
    again = module.handler.enqueue(
        "add_customer", user="shop", key="customer 5", payload={"id": 5, "name": "Acme"}
    )
    assert again.state is JobState.DONE
    result = shop_update(module.app, quickbooks)
    assert result.status == "no work", result.transcript()
    assert len(quickbooks.records["Customer"]) == 1
    query = module.AddCustomer().reconcile(JobContext(job=again, session=None, version="13.0"))
    answer = qbxml.parse_response(quickbooks.process(qbxml.request(query)).response)
    assert [r.findtext("ListID") for r in answer[0].records] == [added]


def use_from_qbwc_gem(module: types.ModuleType, request: Any) -> None:
    """Every page of the iterated query reaches handle; a wrong password is refused."""
    quickbooks = FakeQuickBooks()
    quickbooks.add_customers(250)
    result = shop_update(module.app, quickbooks)
    assert result.ok, result.transcript()
    assert sum("CustomerQueryRq" in r for r in result.requests) == 3
    assert module.mirrored == [f"Customer {n:04}" for n in range(1, 251)]
    result = WebConnector(module.app, user="shop", password="guess", quickbooks=quickbooks).update()
    assert not result.ok and result.status != "no work"


def use_from_qbsync(module: types.ModuleType, request: Any) -> None:
    """The steps run in their order, each iterated to its end."""
    quickbooks = FakeQuickBooks()
    quickbooks.load({"items": [{"type": "ItemService", "Name": "Labor"}]})
    quickbooks.add_customers(120)
    result = shop_update(module.app, quickbooks)
    assert result.ok, result.transcript()
    kinds = ["Invoice" if "InvoiceQueryRq" in r else "Customer" for r in result.requests]
    assert kinds == ["Customer", "Customer", "Invoice"]
    assert module.seen == {"customers": 120, "invoices": 0}
    customers, invoices = module.handler.queue.jobs()
    assert invoices.depends_on == [customers.id] == [module.first.id]
    assert [customers.state, invoices.state] == [JobState.DONE] * 2


def use_from_reference_hooks(module: types.ModuleType, request: Any) -> None:
    """The hooks as methods: the version shown, the user let in with no work, others refused."""
    result = WebConnector(module.app, user="shop", password="secret").update()
    assert result.status == "no work", result.transcript()
    version = next(call for call in result.calls if call.operation == "serverVersion")
    assert version.result == "shop sync 1.0"
    result = WebConnector(module.app, user="shop", password="wrong").update()
    assert result.status == "auth failed", result.transcript()


def python_block_use(block: Block) -> Callable[[types.ModuleType, Any], None] | None:
    """How the tests use a block, known by what it defines; None for a block nobody uses."""
    if block.text.startswith("# app.py"):
        return use_quickstart
    if block.text.startswith("# shop.py"):
        return use_tutorial
    if "class AddInvoice" in block.text:
        return use_jobs
    if "def test_sync" in block.text:
        return use_testing
    if "server = QBWCServer()" in block.text:
        return use_reference
    if "SQLJobQueue(engine)" in block.text:
        return use_postgres
    if "company.client()" in block.text:
        return use_client
    if "qbxml.SchemaError" in block.text:
        return use_schema
    if "Metrics(" in block.text:
        return use_metrics
    if "from qbwc_spyne.codes import explain" in block.text:
        return use_errors
    if "client = LiveClient(queue, status=status)" in block.text:
        return use_live
    if "dashboard=True" in block.text:
        return use_dashboard
    if "StatusRecorder(" in block.text:
        return use_status
    if 'public_url="https://' in block.text:
        return use_public_url
    if "class CustomerPages(QBWCHandler)" in block.text:
        return use_handler
    if "resolve_unknown(queue" in block.text:
        return use_unknown
    if "one QWC file per customer" in block.text:
        return use_qwc_files
    if "$Queue->enqueue" in block.text:
        return use_from_php_devkit
    if "QBWC.add_job" in block.text:
        return use_from_qbwc_gem
    if "StepQueryRequestWithIterator" in block.text:
        return use_from_qbsync
    if "class ShopSync(QBWCHandler)" in block.text:
        return use_from_reference_hooks
    return None


class TestPythonBlocks:
    def test_there_are_python_blocks(self):
        """The Python examples are found, on the README and on the site's pages."""
        assert len(PYTHON_BLOCKS) >= 4
        assert {block.page for block in PYTHON_BLOCKS} - {README}, "the site has examples"

    @pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.where)
    def test_every_python_block_runs_every_line(self, block, reader_dir, request):
        """The block runs as written, its use succeeds, and each of its statements ran."""
        assert block.not_run is None, "every Python block runs"
        use = python_block_use(block)
        assert use is not None, f"{block.where}: a Python block nothing uses"
        recorder = LineRecorder()
        if use is not use_quickstart and "from app import" in block.text:
            run_block(quickstart_block(), "app", recorder)
        prepare_postgres(block, request)
        module = run_block(block, "page_" + re.sub(r"\W", "_", block.where), recorder)
        with recorder.recording():
            use(module, request)
        missed = sorted(statement_lines(block) - recorder.lines)
        assert not missed, f"lines never run: {missed}"

    def test_a_block_nothing_uses_fails(self):
        """A new Python block is refused until a test uses it."""
        new = Block(page=README, info="python", first_line=1, text="print('hello')\n", not_run=None)
        assert python_block_use(new) is None

    def test_a_line_that_never_runs_is_found(self):
        """The line check sees a statement that no use reaches."""
        block = Block(
            page=README, info="python", first_line=1, text="def f():\n    return 1\n", not_run=None
        )
        recorder = LineRecorder()
        run_block(block, "page_unused", recorder)
        assert statement_lines(block) - recorder.lines == {(str(README), 2)}


# -- shell blocks -----------------------------------------------------------------------


def command(line: str) -> list[str]:
    """A page's command as argv, split as a shell would, its program from this environment."""
    argv = shlex.split(line)
    if argv[0] in ("python", "qbwc-spyne", "gunicorn"):
        argv[0] = sys.executable if argv[0] == "python" else str(BIN / argv[0])
    return argv


def run(argv: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    # A new session has no terminal: getpass reads standard input, as in CI.
    options.setdefault("cwd", os.getcwd())
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        start_new_session=True,
        **options,
    )


@dataclass
class Shell:
    """What the commands of one block share: the reader's directory, a running server."""

    directory: Path
    stack: contextlib.ExitStack
    request: Any
    block: Block
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def expand(self, argv: list[str]) -> list[str]:
        """The block's "$NAME" references replaced by what its export lines set."""
        return [re.sub(r"\$(\w+)", lambda m: self.env[m[1]], arg.strip('"')) for arg in argv]


def run_export_db(shell: Shell, line: str) -> None:
    """The reader's database URL; here a new database of the tests' PostgreSQL."""
    shell.env["DB"] = fresh_database(shell.request)


def run_db(shell: Shell, line: str) -> None:
    """db upgrade makes the tables; db check then finds them current (exit 0)."""
    done = run(shell.expand(command(line)))
    assert done.returncode == 0, done.stdout + done.stderr


def write_served_file(line: str, page: Path) -> None:
    """Save the page's file a server command names (``deploy_app:app``), as the page says."""
    (target,) = [arg for arg in shlex.split(line) if re.fullmatch(r"\w+:\w+", arg)]
    write_page_file(target.split(":")[0] + ".py", page)


def run_gunicorn(shell: Shell, line: str) -> None:
    """gunicorn loads the page's own app file (``--check-config``: loaded, never bound)."""
    write_served_file(line, shell.block.page)
    done = run([*command(line), "--check-config"], env={**os.environ, **shell.env})
    assert done.returncode == 0, done.stderr


def run_codegen_check(shell: Shell, line: str) -> None:
    done = run(command(line), cwd=ROOT)
    assert done.returncode == 0, done.stderr


def run_codegen_schema_check(shell: Shell, line: str) -> None:
    """Up to date with the XSD where it is present; without it, says to pass --xsd (exit 2)."""
    done = run(command(line), cwd=ROOT)
    if (codegen_schema.default_xsd_dir() / codegen_schema.XSD_FILES["13.0"]).is_file():
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 2 and "pass --xsd" in done.stderr, done.stderr


def run_codegen(shell: Shell, line: str) -> None:
    """The generator writes what is committed (here into a copy, not the checkout)."""
    output = shell.directory / "_service.py"
    done = run([*command(line), "--output", str(output)], cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert output.read_text() == (ROOT / "qbwc_spyne" / "server" / "_service.py").read_text()


def run_serve(shell: Shell, line: str) -> None:
    """serve starts on a free port of 127.0.0.1, answers, and is stopped after the block."""
    port = free_port()
    server = subprocess.Popen(
        [*command(line), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def stop() -> None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    shell.stack.callback(stop)
    shell.url = f"http://127.0.0.1:{port}/"
    assert wait_until_serving(shell.url, lambda: server.poll() is None, probe_timeout=5), (
        "serve never answered"
    )


def run_qwc(shell: Shell, line: str) -> None:
    """The QWC guide's own qwc.toml becomes shop.qwc, which --check accepts."""
    (toml,) = [block for block in TOML_BLOCKS if block.text.startswith("[qwc]")]
    (shell.directory / "qwc.toml").write_text(toml.text, encoding="utf-8")
    done = run(command(line))
    assert done.returncode == 0, done.stderr
    checked = run([str(BIN / "qbwc-spyne"), "qwc", "--check", "shop.qwc"])
    assert checked.returncode == 0, checked.stderr
    written = QWCFile.parse(shell.directory / "shop.qwc")
    assert written == QWCFile.from_mapping(tomllib.loads(toml.text)["qwc"])


def run_hash_password(shell: Shell, line: str) -> None:
    """The password typed twice comes out as an Argon2 hash of it."""
    done = run(command(line), input="s3cret\ns3cret\n")
    assert done.returncode == 0, done.stderr
    assert PasswordHasher().verify(done.stdout.strip().splitlines()[-1], "s3cret")


def run_demo(shell: Shell, line: str) -> None:
    """The demo runs from the checkout, as it says."""
    done = run(command(line), cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def run_explain(shell: Shell, line: str) -> None:
    """The code's explanation: text naming it first, or JSON of every field."""
    import json

    from qbwc_spyne.codes import explain

    done = run(command(line))
    assert done.returncode == 0, done.stderr
    code = line.split()[2]
    if line.endswith("--json"):
        assert json.loads(done.stdout)["user"] == explain(code).user
    else:
        assert done.stdout.startswith(f"{code}: {explain(code).title}\n")


def run_status(shell: Shell, line: str) -> None:
    """A status recorded in the reader's qbwc.db: the table, or the user's row as JSON."""
    from qbwc_spyne import SQLJobQueue
    from qbwc_spyne.status import SQLStatusStore
    from qbwc_spyne.store._status import StatusUpdate

    path = shell.directory / "qbwc.db"
    if not path.exists():
        SQLJobQueue(path).close()
        status = SQLStatusStore(path)
        for user in ("shop", "other"):
            status.record(
                update=StatusUpdate(user=user, company_file="", values={"last_seen": 1.0})
            )
        status.close()
    done = run(command(line))
    assert done.returncode == 0, done.stderr
    if "--json" in line:
        import json

        assert [row["user"] for row in json.loads(done.stdout)] == ["shop"]
    else:
        assert [r.split()[0] for r in done.stdout.splitlines()[1:]] == ["other", "shop"]


def run_serve_page_file(shell: Shell, line: str) -> None:
    """The page's own file, saved as it says, served as in run_serve."""
    write_served_file(line, shell.block.page)
    run_serve(shell, line)


def run_simulate_local(shell: Shell, line: str) -> None:
    """The update against the app just served ends with its jobs done (the server's port)."""
    assert shell.url, "simulate follows serve in the block"
    assignment, *words = shlex.split(line)
    name, password = assignment.split("=", 1)
    if "--company" in words:
        write_page_file(words[words.index("--company") + 1], shell.block.page)
    argv = [shell.url if w == "http://127.0.0.1:8000/" else w for w in command(shlex.join(words))]
    done = run(argv, env={**os.environ, name: password})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The application says: 2 done" in done.stdout, done.stdout
    if "--json" in words:
        assert json.loads(Path(words[words.index("--json") + 1]).read_text())["status"] == "ok"


def run_jobs_list(shell: Shell, line: str) -> None:
    """The tutorial's jobs, both done, the sync in two pages."""
    if not Path("jobs.db").exists():
        module = run_block(page_file("shop.py"), "shop", LineRecorder())
        assert tutorial_update(module)[1].ok
        module.handler.queue.close()
    done = run(command(line))
    assert done.returncode == 0, done.stderr
    rows = [row.split() for row in done.stdout.splitlines()[1:]]
    assert rows == [
        ["1", "shop", "sync_customers", "done", "1", "2"],
        ["2", "shop", "post_invoice", "done", "1", "0"],
    ], done.stdout
    if shell.block.page == TUTORIAL:  # the output the page shows next is the output
        shown = next(
            b
            for b in BLOCKS
            if b.page == TUTORIAL and b.info == "text" and b.first_line > shell.block.first_line
        )
        assert shown.text.split() == done.stdout.split()


def run_qwc_options(shell: Shell, line: str) -> None:
    """The QWC file written from options holds them, and --check accepts it."""
    done = run(command(line))
    assert done.returncode == 0, done.stderr
    checked = run([str(BIN / "qbwc-spyne"), "qwc", "--check", "shop.qwc"])
    assert checked.returncode == 0, checked.stderr
    written = QWCFile.parse(shell.directory / "shop.qwc")
    assert (written.app_name, written.app_url, written.user) == (
        "Shop sync",
        "https://shop.example.com/qbwc",
        "shop",
    )


SERVER_VERSION = (
    f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}">'
    f'<soap:Body><serverVersion xmlns="{TNS}"/></soap:Body></soap:Envelope>'
)


def answers_soap(url: str, **options: Any) -> None:
    """A serverVersion call to ``url`` gets its SOAP answer."""
    answer = requests.post(
        url,
        data=SERVER_VERSION.encode(),
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{TNS}serverVersion"',
        },
        timeout=30,
        **options,
    )
    assert answer.status_code == 200, answer.text
    assert soap_body_child(answer.content).tag == f"{{{TNS}}}serverVersionResponse"


def start_server(stack: contextlib.ExitStack, argv: list[str], url: str, log: Path) -> None:
    """Start ``argv`` in the reader's directory; stop it when ``stack`` closes."""
    with log.open("wb") as errors:
        server = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
        )

    def stop() -> None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    stack.callback(stop)
    serving = wait_until_serving(url, lambda: server.poll() is None)
    assert serving, f"{argv[0]} never answered: {log.read_text(errors='replace')[-2000:]}"


def simulate_update(url: str, **env: str) -> None:
    """A whole Web Connector update over HTTP, as `qbwc-spyne simulate` runs it."""
    company = str(ROOT / "examples" / "sample_company.json")
    done = run(
        [str(BIN / "qbwc-spyne"), "simulate", url, "--user", "shop", "--company", company],
        env={**os.environ, "QBWC_PASSWORD": "s3cret", **env},
    )
    assert done.returncode == 0, done.stdout + done.stderr


def on_port(argv: list[str], port: int) -> list[str]:
    """The page's command with its port 8000 replaced by ``port``."""
    replaced = [
        re.sub(r"^(127\.0\.0\.1:)?8000$", lambda m: (m[1] or "") + str(port), arg) for arg in argv
    ]
    assert replaced != argv, "the command names port 8000"
    return replaced


def run_granian(shell: Shell, line: str) -> None:
    """granian serves the page's app file: a SOAP call, then a whole update, answered."""
    write_served_file(line, shell.block.page)
    port = free_port()
    argv = [sys.executable, "-m", "granian", *on_port(command(line), port)[1:]]
    url = f"http://127.0.0.1:{port}/qbwc"
    start_server(shell.stack, argv, url, shell.directory / "granian.log")
    answers_soap(url)
    simulate_update(url)


def run_db_sqlite(shell: Shell, line: str) -> None:
    """upgrade makes the tables in a new SQLite file; check then finds them current (exit 0)."""
    done = run(command(line))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (shell.directory / "qbwc.db").is_file()
    if " upgrade " in line:
        from qbwc_spyne import SQLJobQueue, SQLSessionStore

        SQLJobQueue(shell.directory / "qbwc.db").close()  # opens: no upgrade asked for
        SQLSessionStore(shell.directory / "qbwc.db").close()


def unknown_write(path: Path) -> None:
    """A queue at ``path`` holding job 1, a write whose answer was lost: ``unknown``."""
    from qbwc_spyne import SQLJobQueue
    from qbwc_spyne.jobs import QueueHandler, recover_jobs
    from qbwc_spyne.objects import CustomerAdd, CustomerAddRq

    class AddCustomer(JobKind):
        name = "add_customer"

        def build(self, ctx: JobContext) -> CustomerAddRq:
            return CustomerAddRq(customer_add=CustomerAdd(name="Acme"))

    queue = SQLJobQueue(path)
    handler = QueueHandler(queue, passwords=lambda user, password: True, kinds=[AddCustomer()])
    handler.enqueue("add_customer", user="shop")
    quickbooks = FakeQuickBooks()
    quickbooks.lose_responses = 1
    app = make_wsgi_app(handler)
    WebConnector(app, user="shop", password="s3cret", quickbooks=quickbooks).update()
    recover_jobs(queue, force=True)
    WebConnector(app, user="shop", password="s3cret", quickbooks=quickbooks).update()
    assert [job.state for job in queue.jobs()] == [JobState.UNKNOWN]
    queue.close()


def run_jobs(shell: Shell, line: str) -> None:
    """The reader's jobs.db holds a write of unknown outcome: listed, then resolved as done."""
    from qbwc_spyne import SQLJobQueue

    path = shell.directory / "jobs.db"
    if not path.exists():
        unknown_write(path)
    done = run(command(line))
    assert done.returncode == 0, done.stdout + done.stderr
    queue = SQLJobQueue(path)
    (job,) = queue.jobs()
    queue.close()
    if " resolve " in line:
        assert job.state is JobState.DONE
    else:
        row = done.stdout.splitlines()[1].split()
        assert row[:4] == [str(job.id), job.user, job.kind, job.state.value], done.stdout


RUNNERS: dict[str, Callable[[Shell, str], None]] = {
    "qbwc-spyne serve app:app": run_serve,
    "QBWC_PASSWORD=s3cret qbwc-spyne simulate http://127.0.0.1:8000/ --user shop": (
        run_simulate_local
    ),
    "qbwc-spyne serve shop:app": run_serve_page_file,
    "QBWC_PASSWORD=s3cret qbwc-spyne simulate http://127.0.0.1:8000/ --user shop"
    " --company company.json": run_simulate_local,
    "QBWC_PASSWORD=s3cret qbwc-spyne simulate http://127.0.0.1:8000/ --user shop"
    " --company company.json --json run.json": run_simulate_local,
    "qbwc-spyne jobs list --db jobs.db": run_jobs_list,
    'qbwc-spyne qwc --app-name "Shop sync" --app-url https://shop.example.com/qbwc'
    " --support-url https://shop.example.com/help"
    ' --description "The shop\'s customers and invoices" --user shop -o shop.qwc': run_qwc_options,
    "qbwc-spyne status qbwc.db": run_status,
    "qbwc-spyne status qbwc.db --user shop --json": run_status,
    "gunicorn deploy_app:app -c python:qbwc_spyne.gunicorn --bind 127.0.0.1:8000": run_gunicorn,
    "gunicorn postgres_app:app -c python:qbwc_spyne.gunicorn --bind 127.0.0.1:8000": run_gunicorn,
    "python -m tools.codegen": run_codegen,
    "python -m tools.codegen --check": run_codegen_check,
    "python -m tools.codegen_schema --check": run_codegen_schema_check,
    "qbwc-spyne serve 'app:handler' --store sqlite:sessions.db": run_serve,
    "qbwc-spyne qwc --toml qwc.toml -o shop.qwc": run_qwc,
    "qbwc-spyne hash-password": run_hash_password,
    "qbwc-spyne explain 3140": run_explain,
    "qbwc-spyne explain QBWC1012 --json": run_explain,
    "qbwc-spyne demo": run_demo,
    "export DB=postgresql+psycopg://qbwc:PASSWORD@db.internal/shop": run_export_db,
    'qbwc-spyne db upgrade --db "$DB"': run_db,
    'qbwc-spyne db check --db "$DB"': run_db,
    "granian --interface wsgi --workers 2 --host 127.0.0.1 --port 8000 deploy_app:app": (
        run_granian
    ),
    "qbwc-spyne jobs list --db jobs.db --state unknown": run_jobs,
    "qbwc-spyne jobs resolve 1 --happened --db jobs.db": run_jobs,
    "qbwc-spyne db upgrade --db qbwc.db": run_db_sqlite,
    "qbwc-spyne db check --db qbwc.db": run_db_sqlite,
}


def test_every_block_is_of_a_kind_the_tests_run():
    """A block in a language nothing here runs or checks is refused, naming its place."""
    kinds = {
        "python",
        "json",
        "toml",
        "nginx",
        "text",
        *SHELL_INFO,
    }  # text: a diagram, nothing to run
    assert [block.where for block in BLOCKS if block.info not in kinds] == []


# -- nginx configuration ------------------------------------------------------------------

NGINX_BLOCKS = [block for block in BLOCKS if block.info == "nginx"]
NGINX_ENV = "QBWC_SPYNE_REQUIRE_NGINX"
NGINX_INSTALL = (
    "nginx and openssl are not both on PATH: install them (Debian/Ubuntu: apt-get install"
    " nginx openssl) to check the pages' nginx configuration"
)
SIZES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def directive(block: Block, name: str) -> str:
    """The value of the one ``name`` directive of an nginx block."""
    (value,) = re.findall(rf"^\s*{name}\s+([^;]+);", block.text, re.MULTILINE)
    return str(value).strip()


def seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)(s?)", value)
    assert match, f"a time in seconds: {value}"
    return int(match[1])


def nginx_programs() -> tuple[str, str]:
    """nginx and openssl; skipped (or failed where ``QBWC_SPYNE_REQUIRE_NGINX=1``) without them."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    nginx, openssl = shutil.which("nginx", path=path), shutil.which("openssl", path=path)
    if nginx is None or openssl is None:
        if os.environ.get(NGINX_ENV) == "1":
            pytest.fail(f"{NGINX_ENV}=1 but {NGINX_INSTALL}")
        pytest.skip(NGINX_INSTALL)
    return nginx, openssl


def substitute(text: str, pattern: str, replacement: str) -> str:
    """``text`` with the one match of ``pattern`` replaced: the page and the test agree."""
    replaced, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count == 1, f"the server block has one {pattern!r}"
    return replaced


def nginx_config(block: Block, directory: Path, port: int, upstream: int) -> Path:
    """The page's server block in a whole configuration of its own, on test ports and files."""
    server = substitute(block.text, r"listen\s+443\s+ssl;", f"listen 127.0.0.1:{port} ssl;")
    server = substitute(
        server, r"ssl_certificate\s+\S+;", f"ssl_certificate {directory / 'cert.pem'};"
    )
    server = substitute(
        server, r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {directory / 'key.pem'};"
    )
    server = substitute(server, r"127\.0\.0\.1:8000;", f"127.0.0.1:{upstream};")
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config = directory / "nginx.conf"
    config.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'};\n"
        "events { worker_connections 64; }\n"
        f"http {{\n    access_log {directory / 'access.log'};\n{temp}\n{server}}}\n",
        encoding="utf-8",
    )
    return config


class TestNginxBlocks:
    def test_there_is_an_nginx_block(self):
        """The deployment guide shows the proxy's configuration."""
        assert [block.page.name for block in NGINX_BLOCKS] == ["deploy.md"]

    @pytest.mark.parametrize("block", NGINX_BLOCKS, ids=lambda b: b.where)
    def test_the_limits_fit_the_app_and_gunicorn(self, block):
        """Bodies up to the app's limit pass; nginx waits longer than a gunicorn worker may take."""
        from qbwc_spyne import gunicorn
        from qbwc_spyne.server._app import DEFAULT_MAX_BODY_BYTES

        size = re.fullmatch(r"(\d+)([kmg]?)", directive(block, "client_max_body_size").lower())
        assert size, "client_max_body_size in bytes, k, m or g"
        assert int(size[1]) * SIZES[size[2]] >= DEFAULT_MAX_BODY_BYTES
        assert directive(block, "proxy_request_buffering") == "on"
        assert seconds(directive(block, "proxy_read_timeout")) > gunicorn.timeout
        assert seconds(directive(block, "proxy_send_timeout")) > gunicorn.timeout
        assert seconds(directive(block, "keepalive_timeout")) >= gunicorn.keepalive

    @pytest.mark.parametrize("block", NGINX_BLOCKS, ids=lambda b: b.where)
    def test_nginx_serves_the_endpoint_over_https(self, block, reader_dir, monkeypatch):
        """nginx -t accepts the block; through it, over TLS, the page's gunicorn answers a
        SOAP call, a body over nginx's default limit and a whole Web Connector update."""
        nginx, openssl = nginx_programs()
        directory = reader_dir / "nginx"
        directory.mkdir()
        made = run(
            [
                *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")),
                *("-subj", "/CN=qbwc.example.com"),
                *("-addext", "subjectAltName=DNS:qbwc.example.com,IP:127.0.0.1"),
            ]
        )
        assert made.returncode == 0, made.stderr
        port, upstream = free_port(), free_port()
        config = nginx_config(block, directory, port, upstream)
        nginx_argv = [nginx, "-p", str(directory), "-c", str(config), "-e", str(directory / "e")]
        tested = run([*nginx_argv, "-t"])
        assert tested.returncode == 0 and "test is successful" in tested.stderr, tested.stderr

        (line,) = [
            line
            for shell in SHELL_BLOCKS
            if shell.page == block.page
            for line in shell.commands
            if line.startswith("gunicorn ")
        ]
        write_served_file(line, block.page)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(directory / "cert.pem"))
        url = f"https://127.0.0.1:{port}/qbwc"
        with contextlib.ExitStack() as stack:
            start_server(
                stack,
                on_port(command(line), upstream),
                f"http://127.0.0.1:{upstream}/qbwc",
                directory / "gunicorn.log",
            )
            start_server(stack, nginx_argv, url, directory / "nginx.log")
            answers_soap(url)
            # Over nginx's default client_max_body_size of 1 MB: passed on, answered.
            large = requests.post(
                url,
                data=SERVER_VERSION.replace(
                    "<soap:Body>", "<!--" + "x" * 2**21 + "-->" + "<soap:Body>"
                ).encode(),
                headers={"Content-Type": "text/xml; charset=utf-8"},
                timeout=60,
            )
            assert large.status_code == 200, large.text[:500]
            simulate_update(url)


class TestJSONBlocks:
    @pytest.mark.parametrize("block", JSON_BLOCKS, ids=lambda b: b.where)
    def test_every_company_file_loads(self, block, tmp_path):
        """A JSON block is a company file: the fake QuickBooks loads it whole."""
        path = tmp_path / "company.json"
        path.write_text(block.text, encoding="utf-8")
        quickbooks = FakeQuickBooks.from_json(path)
        assert quickbooks.records["Customer"], "the sample has customers"


class TestShellBlocks:
    @pytest.mark.parametrize("block", SHELL_BLOCKS, ids=lambda b: b.where)
    def test_every_command_runs_or_the_block_says_why_not(self, block, reader_dir, request):
        """Each command of a block runs, in order; a block not run gives its reason."""
        if block.not_run is not None:
            assert len(block.not_run) > 20, "say why the block is not run"
            return
        unknown = [line for line in block.commands if line not in RUNNERS]
        assert not unknown, f"{block.where}: commands nothing runs: {unknown}"
        with contextlib.ExitStack() as stack:
            shell = Shell(reader_dir, stack, request, block)
            for line in block.commands:
                RUNNERS[line](shell, line)

    def test_blocks_not_run_are_few(self):
        """Only the make targets and the install lines are left unrun."""
        assert [b.where for b in BLOCKS if b.not_run] == [
            b.where for b in SHELL_BLOCKS if b.commands[0].startswith(("make", "pip"))
        ]


def test_every_extra_a_page_names_is_real():
    """Each ``pip install 'qbwc_spyne[extra]'`` of the pages names extras of pyproject.toml."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    named = {
        (page.relative_to(ROOT).as_posix(), extra)
        for page in PAGES
        for group in re.findall(r"qbwc_spyne\[([\w,]+)\]", page.read_text(encoding="utf-8"))
        for extra in group.split(",")
    }
    assert {page for page, _ in named} >= {"docs/guides/deploy.md", "docs/guides/dashboard.md"}
    assert {extra for _, extra in named} >= set(extras) - {"test", "typing", "bench", "docs"}
    assert [(page, extra) for page, extra in sorted(named) if extra not in extras] == []


def test_every_link_and_image_works_off_the_repository():
    """The package index shows the README without the repository: no relative link or image."""
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"""src=["']([^"']+)""", text)
    assert targets, "the README links somewhere"
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#"))]
    assert relative == []


def test_the_readme_is_a_landing_page_whose_first_example_is_the_quickstart():
    """At most 250 lines; its first Python block is the quickstart, which the tests run as is."""
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250
    assert next(b for b in PYTHON_BLOCKS if b.page == README) is quickstart_block()


def test_every_link_from_the_readme_to_the_site_names_a_page():
    """Each absolute link to the site names a page of docs/ (mkdocs' directory URLs)."""
    links = re.findall(re.escape(SITE) + r"([\w/.-]*)", README.read_text(encoding="utf-8"))
    assert len(links) >= 10
    missing = [
        link
        for link in links
        if link
        and not (DOCS / (link.rstrip("/") + ".md")).is_file()
        and not (DOCS / link / "index.md").is_file()
    ]
    assert missing == []


def unseen_fences(text: str) -> list[int]:
    """Line numbers of fences the block reader would not pair as a block of its own.

    Markdown also opens a block with an indented fence, ``~~~``, or a fence
    with attributes; each would hide a block from the tests, or pair the
    next fence wrongly.
    """
    unseen, inside = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if not re.match(r"^\s*(```|~~~)", line):
            continue
        if inside and line == "```":
            inside = False
        elif not inside and FENCE.match(line):
            inside = True
        else:
            unseen.append(number)
    return unseen + ([len(text.splitlines())] if inside else [])


def test_every_fence_is_one_the_block_reader_pairs():
    """No block on any page escapes the tests by the way its fence is written."""
    unseen = [
        f"{page.relative_to(ROOT)}:{number}"
        for page in PAGES
        for number in unseen_fences(page.read_text(encoding="utf-8"))
    ]
    assert unseen == []


@pytest.mark.parametrize(
    "text",
    [
        "  ```python\nx = 1\n  ```\n",
        "~~~python\nx = 1\n~~~\n",
        '```python title="a.py"\nx = 1\n```\n',
        "```python\nx = 1\n",
    ],
    ids=["indented", "tildes", "attributes", "unclosed"],
)
def test_a_fence_the_block_reader_would_miss_is_found(text):
    assert unseen_fences(text) != []


def test_every_toml_block_is_toml():
    """A TOML block the reader saves parses (the [qwc] one is also written and checked)."""
    for block in TOML_BLOCKS:
        tomllib.loads(block.text)
