"""``serve``: a handler or a WSGI app under werkzeug's development server."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import socket
import sys
from typing import Any

from ._common import DB_FORMS, CommandError, database, needs_extra, one_line

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: Read by ``serve --dashboard``: the operator's password, a token for scripts, the cookie key.
DASHBOARD_ENV = {
    "password": "QBWC_SPYNE_DASHBOARD_PASSWORD",
    "token": "QBWC_SPYNE_DASHBOARD_TOKEN",
    "secret_key": "QBWC_SPYNE_DASHBOARD_SECRET",
}
DASHBOARD_NEEDS_A_QUEUE = "--dashboard shows a job queue: TARGET must be a QueueHandler or its app"


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
        raise CommandError(f"cannot load {spec}: {one_line(exc)}") from None
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
        raise CommandError(f"{spec} raised {one_line(exc)}") from None


def _port(text: str) -> int:
    """A TCP port, for argparse: the operating system would wrap 99999 round to 34463."""
    if not text.isdecimal() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number, 0 to 65535, not {text!r}")
    return int(text)


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

    from ..app import WebConnectorApp, make_app
    from ..protocol._handler import QBWCHandler
    from ..queue._handler import QueueHandler

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
    if isinstance(target, QBWCHandler):
        if args.dashboard and not isinstance(target, QueueHandler):
            raise CommandError(DASHBOARD_NEEDS_A_QUEUE)
        app: Any = make_app(
            target,
            store=store,
            public_url=args.public_url,
            metrics=_metrics(target) if args.metrics else None,
            **(dashboard_settings() if args.dashboard else {}),
        )
    elif callable(target):
        if args.store or args.public_url or args.metrics:
            raise CommandError(
                "--store, --public-url and --metrics apply to a handler, not a WSGI app"
            )
        app = target
        if args.dashboard:
            # An App from make_app is served through its endpoint.
            endpoint = getattr(target, "endpoint", target)
            if getattr(target, "dashboard", None) is not None:
                raise CommandError(f"{args.target} serves a dashboard already: drop --dashboard")
            if not isinstance(endpoint, WebConnectorApp) or not isinstance(
                endpoint.handler, QueueHandler
            ):
                raise CommandError(DASHBOARD_NEEDS_A_QUEUE)
            app = make_app(endpoint, **dashboard_settings())
    else:
        raise CommandError(f"{args.target} is neither a QBWCHandler nor a WSGI app")
    try:
        # Bound here: werkzeug says a port in use or an unknown host on
        # several lines of its own, then exits.
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        listener = socket.create_server((args.host, args.port), family=family)
    except OSError as exc:
        said = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            said += " (--port chooses another port)"
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
    from ..queue._handler import QueueHandler

    try:
        from ..server._metrics import Metrics
    except ImportError:
        raise needs_extra("--metrics", extra="metrics", package="prometheus-client") from None
    return Metrics(queue=handler.queue if isinstance(handler, QueueHandler) else None)


def dashboard_settings() -> dict[str, Any]:
    """``make_app``'s dashboard arguments, the password, token and key from ``DASHBOARD_ENV``.

    From the environment, never from the command line, where other users of
    the machine could read them.
    """
    return {
        "dashboard": True,
        **{
            f"dashboard_{name}": os.environ.get(variable) or None
            for name, variable in DASHBOARD_ENV.items()
        },
    }


def add_serve_parser(commands: Any) -> None:
    """The ``serve`` command."""
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
