"""``qbwc-spyne simulate``: play the Web Connector against an endpoint, with a fake QuickBooks.

The only command that needs the testing kit (and its extra): it imports it
when it runs.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from ._common import CommandError, needs_extra, one_line, progress_bar

__all__ = ["add_simulate_parser"]

#: Read by ``simulate`` when neither --password nor --password-stdin is given.
PASSWORD_ENV = "QBWC_PASSWORD"  # noqa: S105  (a variable's name, not a password)


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
        from ..testing import FakeQuickBooks, WebConnector
        from ..testing._connector import _check_url
    except ImportError:
        raise needs_extra("simulate", extra="testing", package="zeep") from None
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
    return one_line(exc)


def add_simulate_parser(commands: Any) -> None:
    """The ``simulate`` command."""
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
        help="the fake QuickBooks company, a JSON file: the format is in the guide "
        '"Test an integration without Windows" (default: an empty company)',
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
