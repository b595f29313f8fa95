"""The qbwc-spyne command line: serve, qwc, simulate, hash-password, explain, jobs, demo."""

from __future__ import annotations

import argparse
import getpass
import importlib
import logging
import os
import socket
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from .._version import __version__
from ..exceptions import QBWCError
from ..store._interfaces import JobState

__all__ = ["main"]

PROG = "qbwc-spyne"
#: Read by ``simulate`` when neither --password nor --password-stdin is given.
PASSWORD_ENV = "QBWC_PASSWORD"  # noqa: S105  (a variable's name, not a password)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Read by ``serve --dashboard``: the operator's password, a token for scripts, the cookie key.
DASHBOARD_ENV = {
    "password": "QBWC_SPYNE_DASHBOARD_PASSWORD",
    "token": "QBWC_SPYNE_DASHBOARD_TOKEN",
    "secret_key": "QBWC_SPYNE_DASHBOARD_SECRET",
}


class CommandError(Exception):
    """A one-line error for the user; the command exits 1."""


def progress_bar(stream: TextIO = sys.stderr) -> Callable[[int], None]:
    """A progress callback: a bar redrawn in place on a terminal, a line per change elsewhere."""
    state = {"last": -1}

    def show(percent: int) -> None:
        percent = max(0, min(percent, 100))
        if percent == state["last"]:
            return
        state["last"] = percent
        if stream.isatty():
            filled = percent * 30 // 100
            stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%")
            if percent == 100:
                stream.write("\n")
        else:
            stream.write(f"progress: {percent}%\n")
        stream.flush()

    return show


def needs_extra(what: str, extra: str, package: str) -> CommandError:
    """The error for a command that needs an extra not installed: the line that installs it."""
    return CommandError(
        f"{what} needs {package}, in the {extra} extra: pip install 'qbwc_spyne[{extra}]'"
        f" (from a clone of the repository: pip install '.[{extra}]')"
    )


# -- serve ----------------------------------------------------------------------------


def load_target(spec: str) -> Any:
    """Import ``module:attribute`` (``module:factory()`` calls it); the cwd is importable."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CommandError(f"TARGET must be module:attribute, not {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    call = attribute.endswith("()")
    try:
        value: Any = importlib.import_module(module_name)
        for part in attribute.removesuffix("()").split("."):
            value = getattr(value, part)
    except Exception as exc:  # the module's own import may raise anything
        raise CommandError(f"cannot load {spec}: {_said(exc)}") from None
    if not call:
        return value
    if not callable(value):
        raise CommandError(
            f"{spec} calls {module_name}:{attribute[:-2]}, which is a"
            f" {type(value).__name__}, not a factory: drop the ()"
        )
    try:
        return value()
    except Exception as exc:  # the factory's own failure, as one line
        raise CommandError(f"{spec} raised {_said(exc)}") from None


def _port(text: str) -> int:
    """A TCP port, for argparse: the operating system would wrap 99999 round to 34463."""
    if not text.isdecimal() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number, 0 to 65535, not {text!r}")
    return int(text)


def _job_id(text: str) -> int:
    """A job's id, for argparse: the databases hold 64-bit integers, and nothing larger."""
    if not text.isdecimal() or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"must be a job's id, a whole number from 1, not {text!r}")
    return int(text)


def _said(exc: BaseException) -> str:
    """An exception as one line: its type and its message's first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def database(text: str | None, option: str = "--db", *, must_exist: bool = False) -> Any:
    """The database URL an option names, read by the one rule every option shares.

    ``sqlite:PATH``, ``sqlite:///PATH``, a plain file path, ``postgresql://``
    and ``postgres://`` (as hosting platforms write ``DATABASE_URL``) are
    accepted wherever a database is named.

    Args:
        text: what the option says.
        option: the option's name, for the messages.
        must_exist: a SQLite file must already exist (nothing is created).

    Returns:
        The SQLAlchemy URL.

    Raises:
        CommandError: no database given, a malformed or unsupported URL,
            or (``must_exist``) no such file.
    """
    from ..exceptions import DatabaseURLError
    from ..store._sql import database_url

    if not text:
        raise CommandError(f"{option} is required (or set {DB_ENV})")
    try:
        url = database_url(text)
    except DatabaseURLError as exc:
        raise CommandError(f"{option}: {exc}") from None
    if must_exist and url.drivername == "sqlite" and not Path(url.database or "").is_file():
        raise CommandError(f"no database at {url.database}")
    return url


def open_store(spec: str) -> Any:
    """The session store ``--store`` names: memory, or a database as ``--db`` names one.

    A database that cannot be reached, or whose tables need an upgrade,
    fails here, in one line, before the server starts.
    """
    from ..store._stores import MemorySessionStore, SQLSessionStore

    if spec == "memory":
        return MemorySessionStore()
    return SQLSessionStore(database(spec, "--store"))


def configure_logging(level: str) -> None:
    """Log to stderr from ``level`` up: the library's lines per session and job, werkzeug's.

    spyne describes its own workings at INFO (building the application, each
    call's plumbing): useful only when debugging, so below DEBUG it is held
    to WARNING.
    """
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("spyne").setLevel(level if level == "DEBUG" else "WARNING")


def cmd_serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from ..protocol._handler import QBWCHandler
    from ..server._server import make_wsgi_app

    configure_logging(args.log_level)
    if args.dashboard and not (
        os.environ.get(DASHBOARD_ENV["password"]) or os.environ.get(DASHBOARD_ENV["token"])
    ):
        # Before loading the target (which may start work): there is no open dashboard.
        raise CommandError(
            f"--dashboard needs a password: set {DASHBOARD_ENV['password']}"
            f" (or {DASHBOARD_ENV['token']} for scripts)"
        )
    store = open_store(args.store) if args.store else None  # before loading: fail early
    target = load_target(args.target)
    if isinstance(target, type) and issubclass(target, QBWCHandler):
        try:
            target = target()
        except TypeError as exc:  # e.g. a hook left abstract, or required arguments
            raise CommandError(f"cannot create {args.target}: {exc}") from None
    metrics = None
    if isinstance(target, QBWCHandler):
        metrics = _metrics(target) if args.metrics else None
        app = make_wsgi_app(target, store=store, public_url=args.public_url, metrics=metrics)
    elif callable(target):
        if args.store or args.public_url or args.metrics:
            raise CommandError(
                "--store, --public-url and --metrics apply to a handler, not a WSGI app"
            )
        app = target
    else:
        raise CommandError(f"{args.target} is neither a QBWCHandler nor a WSGI app")
    if args.dashboard:
        app = with_dashboard(app, target)
    try:
        # Bound here: werkzeug says a port in use or an unknown host on
        # several lines of its own, then exits.
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        listener = socket.create_server((args.host, args.port), family=family)
    except OSError as exc:
        said = exc.strerror or str(exc)
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {said}") from None
    with listener:
        server = make_server(args.host, args.port, app, threaded=True, fd=listener.fileno())
    url = f"http://{args.host}:{server.port}/"
    print(f"Serving {args.target} for the Web Connector at {url}")
    print(f"WSDL: {url}?wsdl")
    if args.metrics:
        print(f"Metrics: {url}metrics")
    if args.dashboard:
        print(f"Dashboard: {url}dashboard/")
    print(
        "This is werkzeug's development server; in production use gunicorn"
        " (-c python:qbwc_spyne.gunicorn). Ctrl-C stops."
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _metrics(handler: Any) -> Any:
    """A Metrics for ``handler`` (its queue's jobs too, for a QueueHandler)."""
    from ..queue._jobs import QueueHandler

    try:
        from ..server._metrics import Metrics
    except ImportError:
        raise needs_extra("--metrics", "metrics", "prometheus-client") from None
    return Metrics(queue=handler.queue if isinstance(handler, QueueHandler) else None)


def with_dashboard(app: Any, target: Any) -> Any:
    """``app`` with the dashboard of the target's job queue mounted at /dashboard.

    The password and token come from the environment (``DASHBOARD_ENV``), never
    from the command line, where other users of the machine could read them.
    When the app records connection status (a ``StatusRecorder`` among its
    observers), the dashboard shows it; when it does not, a recorder is
    added, into the queue's own database when it has one (so that
    ``qbwc-spyne status`` reads what the dashboard shows), else in memory:
    without one the Live page's check of a user whose Web Connector is not
    there would wait its whole timeout instead of saying it is offline.
    The live requests the dashboard makes are reported to the app's
    observers that count them (its ``Metrics``), as the Web Connector's
    calls are.
    """
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from ..dashboard import make_dashboard_app
    from ..queue._jobs import QueueHandler
    from ..queue._live import LiveClient
    from ..status import MemoryStatusStore, SQLStatusStore, StatusRecorder
    from ..store._queue import MemoryJobQueue, SQLJobQueue

    # The target itself, or the handler of the app it made (make_wsgi_app's).
    core = getattr(target, "core", None) or getattr(app, "core", None)
    handler = getattr(core, "handler", target)
    if not isinstance(handler, QueueHandler):
        raise CommandError(
            "--dashboard shows a job queue: TARGET must be a QueueHandler or its app"
        )
    queue = handler.queue
    observers = list(getattr(core, "observers", ()))
    recorders = [o for o in observers if isinstance(o, StatusRecorder)]
    status: Any = None
    if recorders:
        status = recorders[0].store
    elif core is not None:
        if isinstance(queue, SQLJobQueue) and not isinstance(queue, MemoryJobQueue):
            status = SQLStatusStore(queue._db)  # the queue's database, its tables beside
        else:
            status = MemoryStatusStore()
        core.observers.append(StatusRecorder(status))
    counters = [o.observe_live_request for o in observers if hasattr(o, "observe_live_request")]

    def observe(seconds: float, outcome: str) -> None:
        for count in counters:
            count(seconds, outcome)

    setting = {name: os.environ.get(variable) or None for name, variable in DASHBOARD_ENV.items()}
    dashboard = make_dashboard_app(
        queue,
        status=status,
        live=LiveClient(queue, status=status, observe=observe if counters else None),
        password=setting["password"],
        token=setting["token"],
        secret_key=setting["secret_key"],
    )
    return DispatcherMiddleware(app, {"/dashboard": dashboard})


# -- qwc ------------------------------------------------------------------------------

_QWC_OPTIONS = {
    "app_name": "--app-name",
    "app_url": "--app-url",
    "app_support_url": "--support-url",
    "app_description": "--description",
    "user": "--user",
    "owner_id": "--owner-id",
    "file_id": "--file-id",
    "update_interval": "--interval",
    "qb_type": "--qb-type",
}


_QWC_HELP = {
    "app_name": ("NAME", "AppName, shown in the Web Connector (required)"),
    "app_url": ("URL", "AppURL, the endpoint: https://, or http://localhost (required)"),
    "app_support_url": (
        "URL",
        "AppSupport, a page for the Web Connector's user, on AppURL's host (required)",
    ),
    "app_description": ("TEXT", "AppDescription (required)"),
    "user": ("NAME", "UserName the Web Connector authenticates with (required)"),
    "owner_id": ("GUID", "OwnerID (default: derived from the app name, stable)"),
    "file_id": ("GUID", "FileID (default: derived from the app name and user, stable)"),
    "update_interval": (
        "SECONDS",
        "seconds between automatic updates: under 60 written as RunEveryNSeconds, "
        "else as RunEveryNMinutes, rounded to the nearest minute "
        "(default: 0, no schedule)",
    ),
    "qb_type": ("TYPE", "QBType: QBFS for QuickBooks, QBPOS for Point of Sale (default: QBFS)"),
}


def _qwc_problems(problems: list[Any], from_toml: set[str]) -> str:
    """The QWC file's problems in one line, each named as the user gave it (option or key)."""
    said = []
    for problem in problems:
        option = _QWC_OPTIONS.get(problem.field)
        name = option if option and problem.field not in from_toml else problem.field
        if problem.field in from_toml:
            name += " in the --toml file"
        said.append(f"{name} {str(problem)[len(problem.field) + 1 :]}")
    return "; ".join(said)


def cmd_qwc(args: argparse.Namespace) -> int:
    from ..exceptions import QWCFileExistsError
    from ..qwc import QWCError, QWCFile

    if args.check:
        QWCFile.parse(Path(args.check)).validate()
        print(f"{args.check}: valid")
        return 0
    values: dict[str, Any] = {}
    if args.toml:
        with open(args.toml, "rb") as handle:
            try:
                table = tomllib.load(handle)
            except tomllib.TOMLDecodeError as exc:  # its message names no file
                raise CommandError(f"{args.toml}: {exc}") from None
        section = table.get("qwc", table)
        if not isinstance(section, dict):
            raise CommandError(f"{args.toml}: [qwc] must be a table")
        values.update(section)
    from_toml = set(values)
    for field in _QWC_OPTIONS:
        if getattr(args, field) is not None:
            values[field] = getattr(args, field)
            from_toml.discard(field)
    if args.read_only:
        values["is_read_only"] = True
        from_toml.discard("is_read_only")
    try:
        qwc = QWCFile.from_mapping(values)
    except QWCError as exc:  # a key that is no property: only the TOML file can hold one
        raise CommandError(f"{exc.field} in {args.toml} is not a QWC property") from None
    problems = qwc.problems()
    if problems:
        raise CommandError(_qwc_problems(problems, from_toml))
    text = qwc.to_xml()
    interval = values.get("update_interval")
    written = QWCFile.parse(text).update_interval
    if isinstance(interval, int) and interval != written:
        # The Web Connector schedules in whole minutes past the first: say what 90 s became.
        print(
            f"note: an interval of a minute or more is written in whole minutes: "
            f"{interval} s is written as RunEveryNMinutes {written // 60} ({written} s)",
            file=sys.stderr,
        )
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        try:
            qwc.write(args.output, overwrite=args.overwrite)
        except QWCFileExistsError:  # its text names write()'s argument, not the option
            raise CommandError(f"{args.output} exists: --overwrite replaces it") from None
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


# -- simulate ---------------------------------------------------------------------------


def read_password(args: argparse.Namespace) -> str:
    """The password from --password, --password-stdin, $QBWC_PASSWORD, or a prompt, in that order.

    Raises:
        CommandError: none of those is given and there is no terminal to ask on.
    """
    if args.password is not None:
        password: str = args.password
        return password
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    from_environment = os.environ.get(PASSWORD_ENV)
    if from_environment is not None:
        return from_environment
    if not sys.stdin.isatty():
        raise CommandError(
            f"no password and no terminal to ask on: give --password-stdin, "
            f"set {PASSWORD_ENV}, or --password"
        )
    return getpass.getpass(f"Password for {args.user}: ")


def cmd_simulate(args: argparse.Namespace) -> int:
    try:
        from ..testing import FakeQuickBooks, WebConnector, _check_url
    except ImportError:
        raise needs_extra("simulate", "testing", "zeep") from None
    try:
        _check_url(args.url)  # before asking for a password
    except ValueError as exc:  # urlsplit's own refusal: a bracket left open
        raise CommandError(f"the URL {args.url!r} cannot be read: {exc}") from None
    try:
        quickbooks = (
            FakeQuickBooks.from_json(Path(args.company)) if args.company else FakeQuickBooks()
        )
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot load the company {args.company}: {exc}") from None
    password = read_password(args)
    connector = WebConnector(
        args.url,
        user=args.user,
        password=password,
        quickbooks=quickbooks,
        version=args.client_version,
        noop_delay=args.noop_delay,
        progress=None if args.quiet else progress_bar(),
    )
    try:
        result = connector.update()
    except Exception as exc:  # the server's transport or SOAP errors, as one line
        raise CommandError(f"the update failed: {_unreachable(args.url, exc)}") from None
    print(result.transcript())
    if args.json:
        Path(args.json).write_text(result.to_json(), encoding="utf-8")
    # What the Web Connector's user would read last, set apart from the transcript.
    print()
    if result.status == "no work":
        print(f"No work: the application has nothing for {args.user} now (not a failure).")
        print(
            "If a job is stuck after a crash, the server's log names it and until when;"
            " `qbwc-spyne jobs recover --force` releases it now."
        )
        return 0
    print(f"Update {'completed' if result.ok else 'FAILED'}: {result.status}")
    if result.close_message:
        print(f"The application says: {result.close_message}")
    return 0 if result.ok else 1


def _unreachable(url: str, exc: Exception) -> str:
    """Why ``url`` gave no Web Connector answer, in one line (no urllib3 or zeep internals)."""
    import re
    from urllib.parse import urlsplit

    import requests
    import zeep.exceptions

    where = urlsplit(url).netloc
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{where} did not answer in time"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"cannot connect to {where}: the TLS handshake failed (is its certificate trusted?)"
    if isinstance(exc, requests.exceptions.ConnectionError):
        # requests wraps urllib3's retries around the operating system's reason.
        reason = re.search(r"\[Errno -?\d+\] ([^'\"()]+)", str(exc))
        said = reason.group(1).strip() if reason else "no connection"
        if "refused" in said.lower():
            said += " (is the server running, on that port?)"
        return f"cannot connect to {where}: {said}"
    if isinstance(exc, zeep.exceptions.TransportError) and exc.status_code >= 500:
        # The endpoint itself failed: a SOAP fault would have been read as one.
        return f"{url} answered HTTP {exc.status_code}, a server error: see the server's log"
    if isinstance(exc, zeep.exceptions.TransportError):
        return (
            f"{url} answered HTTP {exc.status_code}, not the Web Connector service:"
            " is the path the endpoint's (the AppURL)?"
        )
    if isinstance(exc, zeep.exceptions.Fault):
        return f"the server answered a SOAP fault: {' '.join(str(exc.message).split())[:300]}"
    return _said(exc)


# -- hash-password -------------------------------------------------------------------


def cmd_hash_password(args: argparse.Namespace) -> int:
    from ..auth import hash_password

    if args.stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the passwords differ")
    if not password:
        raise CommandError("the password is empty")
    print(hash_password(password))
    return 0


# -- explain ---------------------------------------------------------------------------


def cmd_explain(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from ..errors import explain

    why = explain(args.code)
    if why.kind == "unknown":
        raise CommandError(
            f"{args.code[:60]!r} is no error code: give a qbXML statusCode (3140),"
            " an HRESULT (0x80040408) or a Web Connector number (QBWC1012)"
        )
    if args.json:
        print(json.dumps(dataclasses.asdict(why), ensure_ascii=False, indent=2))
        return 0
    print(f"{why.code}: {why.title}")
    print(f"What it means: {why.developer}")
    print(f"What to do: {why.user}")
    print(f"Can retrying alone help: {'yes' if why.retry else 'no'}")
    print(f"Source: {why.source}")
    if not why.confirmed:
        print("Not confirmed from a public source: treat this as a likely reading.")
    return 0


def add_explain_parser(commands: Any) -> None:
    explain = commands.add_parser(
        "explain",
        help="explain a QuickBooks or Web Connector error code",
        description="Print what a qbXML statusCode (3140), an HRESULT (0x80040408) or a "
        "Web Connector number (QBWC1012) means, and what fixes it.",
    )
    explain.add_argument("code", metavar="CODE", help="the code, in any usual spelling")
    explain.add_argument(
        "--json", action="store_true", help="print the explanation as JSON (default: text)"
    )
    explain.set_defaults(run=cmd_explain)


# -- jobs ------------------------------------------------------------------------------

#: The environment variable ``--db`` falls back to.
DB_ENV = "QBWC_SPYNE_DB"
#: The ways every option naming a database accepts (``database``).
DB_FORMS = (
    "a SQLite file (PATH, sqlite:PATH or sqlite:///PATH) or a PostgreSQL URL "
    "(postgresql://USER:PASSWORD@HOST/DB; postgres:// too)"
)
_TIMES = ("created", "updated", "lease_until")


def _plain(name: str, value: Any) -> str:
    """A job field as an operator reads it: ISO-8601 times, no Python reprs."""
    import json
    from datetime import UTC, datetime

    if value is None or value == "":
        return "-"
    if isinstance(value, JobState):
        return value.value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name in _TIMES and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _open_queue(args: argparse.Namespace) -> Any:
    from ..store._queue import SQLJobQueue

    # create=False: a database that is not a queue is refused, and nothing is written to it.
    return SQLJobQueue(database(args.db, must_exist=True), create=False, prefix=args.prefix)


def cmd_jobs(args: argparse.Namespace) -> int:
    from ..queue._jobs import (
        cancel_job,
        in_flight_notes,
        recover_jobs,
        resolve_unknown,
        retry_job,
    )

    queue = _open_queue(args)
    if args.action == "list":
        states = [JobState(args.state)] if args.state else []
        rows = queue.jobs(user=args.user, states=states)
        print(
            f"{'id':>6}  {'user':<12} {'kind':<20} {'state':<10} {'tries':>5} {'pages':>5}  problem"
        )
        for job in rows:
            problem = job.error_message or job.warning or ""
            print(
                f"{job.id:>6}  {job.user:<12} {job.kind:<20} {job.state.value:<10} "
                f"{job.attempts:>5} {job.pages:>5}  {problem[:60]}"
            )
        return 0
    if args.action == "show":
        from dataclasses import asdict

        found = queue.get(args.id)
        if found is None:
            raise CommandError(f"no job {args.id}")
        for name, value in asdict(found).items():
            print(f"{name:>17}: {_plain(name, value)}")
        return 0
    if args.action == "recover":
        released = recover_jobs(queue, force=args.force)
        for job in released:
            print(f"job {job.id} ({job.kind}) of {job.user} is now {job.state.value}")
        print(f"{len(released)} job(s) released")
        if not released:
            # Nothing was due, yet an update may be stuck behind a job whose
            # session crashed: say which, and until when, so the operator
            # need not wait out its lease blind.
            for note in in_flight_notes(queue, hint="--force releases it now"):
                print(note)
        return 0
    if args.action == "purge":
        import math
        import time

        # NaN compares false with every time, and an infinite or negative age
        # purges everything or nothing: neither is what the operator meant.
        if not (math.isfinite(args.days * 86400) and args.days >= 0):
            raise CommandError(
                f"--days must be a finite number of days, 0 or more, not {args.days}"
            )
        purged = queue.purge(done_before=time.time() - args.days * 86400)
        print(f"{purged} finished job(s) purged")
        return 0
    if args.action == "resolve":
        job = resolve_unknown(queue, args.id, happened=args.happened)
    else:
        job = (retry_job if args.action == "retry" else cancel_job)(queue, args.id)
    print(f"job {job.id} is now {job.state.value}")
    return 0


def _add_db_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=os.environ.get(DB_ENV),
        metavar="DB",
        help=f"the database: {DB_FORMS} (default: ${DB_ENV}, now %(default)s)",
    )
    parser.add_argument(
        "--prefix", default="qbwc_", help="the prefix of the tables' names (default: %(default)s)"
    )


def cmd_db(args: argparse.Namespace) -> int:
    from ..store._migrations import check, upgrade, upgrade_command
    from ..store._sql import Database

    db = Database(database(args.db, must_exist=args.action == "check"), prefix=args.prefix)
    try:
        if args.action == "upgrade":
            before, after = upgrade(db)
            if before == after:
                print(f"{db.display}: already at schema version {after}")
            elif before == 0:
                print(f"{db.display}: created the tables at schema version {after}")
            else:
                print(f"{db.display}: upgraded from schema version {before} to {after}")
            return 0
        found, wanted = check(db)
    finally:
        db.close()
    if found == wanted:
        print(f"{db.display}: at schema version {found}, as this release needs")
        return 0
    if found > wanted:
        print(f"{db.display}: at schema version {found}, newer than this release's {wanted}")
        return 1
    if found == 0:
        print(f"{db.display}: no tables yet: run `{upgrade_command(db)}`")
        return 1
    print(
        f"{db.display}: at schema version {found}, this release needs {wanted}:"
        f" run `{upgrade_command(db)}`"
    )
    return 1


def add_db_parser(commands: Any) -> None:
    """The ``db`` command: create, upgrade and check the tables."""
    common = argparse.ArgumentParser(add_help=False)
    _add_db_arguments(common)
    db = commands.add_parser(
        "db",
        help="create, upgrade or check the tables of the session store and job queue",
        description="Create the tables, or upgrade those of an earlier release in place "
        "(safe to run again, and from several hosts at once), or check their version.",
    )
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "upgrade", parents=[common], help="create or upgrade the tables to this release's"
    )
    actions.add_parser(
        "check",
        parents=[common],
        help="exit 0 if the tables are at this release's version, 1 if not",
    )
    db.set_defaults(run=cmd_db)


def cmd_status(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from ..store._recorder import connection_status
    from ..store._status import SQLStatusStore

    # `status DB` as the README shows it, or --db (whose default is the environment's).
    if args.database and args.db not in (None, os.environ.get(DB_ENV), args.database):
        raise CommandError(f"two databases given, {args.database} and --db {args.db}: give one")
    args.db = args.database or args.db
    queue = _open_queue(args)
    store = SQLStatusStore(queue._db, create=False)  # the queue's database, already checked
    try:
        rows = connection_status(store, queue, args.user)
    finally:
        queue.close()
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print("no connection seen yet" + (f" for user {args.user!r}" if args.user else ""))
        return 0
    print(
        f"{'user':<16} {'company':<24} {'last seen':<20} {'last success':<20}"
        f" {'session':<9} {'%':>4} {'pend':>5} {'fail':>5} {'unkn':>5}  last error"
    )
    for row in rows:
        error = " ".join(filter(None, [row.last_error_code, row.last_error_message]))
        if (row.connection_error_at or 0) > (row.last_error_at or 0):
            error = f"{row.connection_error_code}: {row.connection_error_message}"
        print(
            f"{row.user[:16]:<16} {Path(row.company_file).name[:24] or '-':<24}"
            f" {_plain('updated', row.last_seen)[:19]:<20}"
            f" {_plain('updated', row.last_success)[:19]:<20}"
            f" {row.ticket or '-':<9} {_plain('', row.progress):>4}"
            f" {row.jobs_pending:>5} {row.jobs_failed:>5} {row.jobs_unknown:>5}"
            f"  {error[:70] or '-'}"
        )
    return 0


def add_status_parser(commands: Any) -> None:
    """The ``status`` command: every connection's status, trouble first."""
    status = commands.add_parser(
        "status",
        help="show each Web Connector connection's status, trouble first",
        description="Show what the status recorder saw of each user and company file "
        "(last seen, last success, errors, the session open now) with its jobs pending, "
        "failed and unknown. Connections in trouble come first.",
    )
    status.add_argument(
        "database",
        nargs="?",
        metavar="DB",
        help="the database, as --db names it; either may be given",
    )
    _add_db_arguments(status)
    status.add_argument("--user", help="one user only")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(run=cmd_status)


def add_jobs_parser(commands: Any) -> None:
    """The ``jobs`` command and its subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    _add_db_arguments(common)
    jobs = commands.add_parser(
        "jobs",
        help="look at and steer the jobs of a queue",
        description="Look at and steer the jobs of a job queue (a SQLite file or a "
        "database URL). It must already hold a queue: nothing is created.",
    )
    actions = jobs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="list jobs, oldest first")
    listing.add_argument("--user", help="only this user's jobs (default: every user's)")
    listing.add_argument(
        "--state", choices=[s.value for s in JobState], help="only jobs in this state"
    )
    show = actions.add_parser("show", parents=[common], help="every field of one job")
    show.add_argument("id", type=_job_id, help="the job's id")
    retry = actions.add_parser(
        "retry",
        parents=[common],
        help="send a failed, blocked, cancelled or unknown job again",
        description="Send the job again and unblock its dependants. For an unknown "
        "write it is your word that it did not happen (see also resolve).",
    )
    retry.add_argument("id", type=_job_id, help="the job's id")
    cancel = actions.add_parser(
        "cancel", parents=[common], help="cancel a job that is not in flight or done"
    )
    cancel.add_argument("id", type=_job_id, help="the job's id")
    recover = actions.add_parser(
        "recover",
        parents=[common],
        help="release jobs in flight whose lease ran out, of every user",
        description="Queries go back to pending; writes to reconcile, where the next "
        "session sends their reconcile query (or marks them unknown). When nothing is "
        "due, it names each job still in flight and until when.",
    )
    recover.add_argument(
        "--force",
        action="store_true",
        help="release every job in flight now, its lease run out or not (after a crash "
        "mid-sync; a write goes to reconcile, so nothing is sent twice)",
    )
    purge = actions.add_parser(
        "purge",
        parents=[common],
        help="delete finished jobs",
        description="Delete done, failed and cancelled jobs finished more than DAYS "
        "days ago, except those an unfinished job depends on. A job with a key keeps "
        "its row, without its payload, so its key still names its work.",
    )
    purge.add_argument(
        "--days", type=float, default=30.0, help="age in days (default: %(default)s)"
    )
    resolve = actions.add_parser(
        "resolve",
        parents=[common],
        help="settle an unknown write: it happened, or it did not",
    )
    resolve.add_argument("id", type=_job_id, help="the job's id")
    said = resolve.add_mutually_exclusive_group(required=True)
    said.add_argument(
        "--happened",
        dest="happened",
        action="store_true",
        help="it is in QuickBooks: the job is done",
    )
    said.add_argument(
        "--did-not-happen",
        dest="happened",
        action="store_false",
        help="it is not: the job is sent again",
    )
    jobs.set_defaults(run=cmd_jobs)


# -- demo ------------------------------------------------------------------------------


def checkout_root() -> Path | None:
    """The source checkout this package runs from, if it runs from one.

    The demo needs ``examples/``, which is not packaged: it is found beside
    the package directory, as in a clone (editable install or not), never
    on the working directory, where another project's ``examples`` may sit.
    """
    root = Path(__file__).resolve().parent.parent.parent
    if (root / "examples" / "demo.py").is_file() and (root / "pyproject.toml").is_file():
        return root
    return None


def cmd_demo(args: argparse.Namespace) -> int:
    root = checkout_root()
    if root is None:
        raise CommandError(
            "the demo runs from a source checkout of qbwc_spyne, not an installed "
            "package: clone the repository and run `make demo` there"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from examples.demo import run

    status: int = run(directory=args.directory, qwc_path=args.qwc, progress=progress_bar())
    return status


class _Parser(argparse.ArgumentParser):
    """argparse's parser, saying a mistake in one line: the usage is a --help away."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="QuickBooks Web Connector service tools.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve a handler or WSGI app with werkzeug (development)",
        description="Serve TARGET for the Web Connector with werkzeug's development server. "
        "In production, run the WSGI app with gunicorn and the package's settings: "
        "gunicorn 'module:app' -c python:qbwc_spyne.gunicorn.",
    )
    serve.add_argument(
        "target",
        metavar="TARGET",
        help="module:attribute of a QBWCHandler (class or "
        "instance) or a WSGI app; module:factory() calls a factory",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=_port, default=8000, help="the port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--store",
        metavar="STORE",
        help=f"session store for a handler: memory, or a database: {DB_FORMS} "
        "(default: memory, one process; a WSGI app keeps its own)",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL the Web Connector uses, written into the WSDL (default: the "
        "URL each request came to)",
    )
    serve.add_argument(
        "--metrics",
        action="store_true",
        help="serve Prometheus metrics at /metrics beside the endpoint (needs the metrics extra)",
    )
    serve.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default="INFO",
        help="log to stderr from this level up; INFO shows a line per session and per "
        "job (default: %(default)s)",
    )
    serve.add_argument(
        "--dashboard",
        action="store_true",
        help="serve the operator's dashboard at /dashboard/ too (a QueueHandler's queue); "
        f"it needs ${DASHBOARD_ENV['password']} (or ${DASHBOARD_ENV['token']})",
    )
    serve.set_defaults(run=cmd_serve)

    qwc = commands.add_parser(
        "qwc",
        help="write or check a QWC file",
        description="Write a QWC file from options and/or a TOML file "
        "(a [qwc] table of QWCFile properties), or check one with --check.",
    )
    qwc.add_argument("--check", metavar="FILE", help="validate an existing .qwc file")
    qwc.add_argument(
        "--toml", metavar="FILE", help="read properties from a TOML file (options win)"
    )
    required = qwc.add_argument_group(
        "required, here or in the --toml file",
        "AppName, AppURL, AppSupport, AppDescription and UserName must be given.",
    )
    for field, option in _QWC_OPTIONS.items():
        metavar, text = _QWC_HELP[field]
        (required if text.endswith("(required)") else qwc).add_argument(
            option,
            dest=field,
            metavar=metavar,
            type=int if field == "update_interval" else str,
            help=text,
        )
    qwc.add_argument(
        "--read-only", action="store_true", help="ask for read-only access (default: read-write)"
    )
    qwc.add_argument(
        "-o", "--output", metavar="FILE", help="where to write (default: standard output)"
    )
    qwc.add_argument(
        "--overwrite", action="store_true", help="replace an existing file (default: refuse)"
    )
    qwc.set_defaults(run=cmd_qwc)

    simulate = commands.add_parser(
        "simulate",
        help="drive a QBWC server with a simulated Web Connector",
        description="Play the Web Connector against URL, with a fake "
        "QuickBooks answering the requests.",
    )
    simulate.add_argument(
        "url", metavar="URL", help="the endpoint, with its scheme: http://HOST:PORT/PATH"
    )
    simulate.add_argument("--user", required=True, help="the QWC file's UserName (required)")
    simulate.add_argument(
        "--password",
        help=f"the password; other users of this machine can read it: prefer "
        f"--password-stdin or ${PASSWORD_ENV} (default: ${PASSWORD_ENV}, else asked for "
        f"on the terminal)",
    )
    simulate.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    simulate.add_argument(
        "--company",
        metavar="JSON",
        help="the fake QuickBooks company, a JSON file: the format is in the README, "
        '"Testing an integration without Windows"; examples/sample_company.json uses '
        "every key (default: an empty company)",
    )
    simulate.add_argument(
        "--json", metavar="FILE", help="also write the transcript as JSON (default: no file)"
    )
    simulate.add_argument(
        "--noop-delay",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help='seconds to wait after "NoOp", as the Web Connector does (default: %(default)s)',
    )
    simulate.add_argument(
        "--client-version",
        default="2.3.0.215",
        metavar="VERSION",
        help="the Web Connector version sent to clientVersion (default: %(default)s)",
    )
    simulate.add_argument(
        "--quiet", action="store_true", help="no progress bar (default: a bar on stderr)"
    )
    simulate.set_defaults(run=cmd_simulate)

    hash_pw = commands.add_parser(
        "hash-password",
        help="print an Argon2 hash of a password",
        description="Prompt for a password (or read one line from "
        "stdin) and print its hash for qbwc_spyne.auth.PasswordCheck.",
    )
    hash_pw.add_argument(
        "--stdin",
        action="store_true",
        help="read the password from stdin's first line (default: ask twice on the terminal, "
        "or read stdin when it is not one)",
    )
    hash_pw.set_defaults(run=cmd_hash_password)

    add_explain_parser(commands)
    add_jobs_parser(commands)
    add_db_parser(commands)
    add_status_parser(commands)

    demo = commands.add_parser(
        "demo",
        help="run the demo (from a source checkout: make demo)",
        description="Serve the customer-mirror example and drive it with the simulated Web "
        "Connector and a fake QuickBooks. Runs from a source checkout only: the examples "
        "are not part of the installed package.",
    )
    demo.add_argument(
        "--directory",
        default="demo-data",
        metavar="DIR",
        help="where the demo keeps its databases (default: %(default)s)",
    )
    demo.add_argument(
        "--qwc",
        default="demo.qwc",
        metavar="FILE",
        help="where to write the demo's QWC file (default: %(default)s)",
    )
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except (CommandError, QBWCError, OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
