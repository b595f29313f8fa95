"""``explain``: what a QuickBooks or Web Connector error code means."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import CommandError


def cmd_explain(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from ..codes import explain

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
