"""``demo``: the customer-mirror example against a simulated Web Connector."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._common import CommandError, progress_bar


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


def add_demo_parser(commands: Any) -> None:
    """The ``demo`` command."""
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
