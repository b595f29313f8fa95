"""Schema checks and typed reading, each beside the unchecked or untyped floor.

Usage::

    python -m bench.bench_schema                  # 50-line invoices; 100,000 CustomerRet
    python -m bench.bench_schema --lines 5 --records 300 --builds 20 --repeat 1

Printed, each beside its floor measured in the same run:

- building a 50-line InvoiceAdd document with the schema (order, check,
  format) against today's unchecked build (target: at most 1.2x);
- reading 100,000 CustomerRet typed against untyped, whole-document and
  streaming (target: typed streaming at most 1.5x untyped streaming, with
  the same bounded memory).

Also the generated schema module's size and its import time in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from qbwc_spyne import qbxml

from .common import customer_page, in_fresh_processes, memory

ROOT = Path(__file__).resolve().parent.parent


def invoice(lines: int) -> qbxml.Rq:
    """An InvoiceAdd of ``lines`` lines, keys in no particular order."""
    return qbxml.Rq(
        "InvoiceAddRq",
        {
            "InvoiceAdd": {
                "RefNumber": "INV-1001",
                "TxnDate": date(2024, 3, 1),
                "CustomerRef": {"FullName": "Ada Lovelace"},
                "Memo": "March work",
                "InvoiceLineAdd": [
                    {
                        "Desc": f"Consulting, week {n}",
                        "Quantity": Decimal("7.5"),
                        "ItemRef": {"FullName": "Consulting"},
                        "Rate": Decimal("95.00"),
                        "ServiceDate": date(2024, 3, 1 + n % 28),
                    }
                    for n in range(lines)
                ],
            }
        },
    )


def per_build(rq: qbxml.Rq, builds: int, repeat: int) -> tuple[float, float]:
    """Median seconds per document, checked and unchecked, rounds interleaved."""
    rounds: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeat):
        for validate in (True, False):
            start = time.perf_counter()
            for _ in range(builds):
                qbxml.request(rq, validate=validate)
            rounds[validate].append((time.perf_counter() - start) / builds)
    return statistics.median(rounds[True]), statistics.median(rounds[False])


def measure(case: str, path: str) -> dict[str, float]:
    """In this process: read the page at ``path`` one way; time and peak memory."""
    data = Path(path).read_bytes()
    baseline = memory("VmRSS")
    start = time.perf_counter()
    count = 0
    if case == "stream":
        for _result, record in qbxml.stream(data):
            count += len(record.to_dict())
    elif case == "stream typed":
        for _result, values in qbxml.stream(data, typed=True):
            count += len(values)
    else:
        for result in qbxml.parse_response(data, typed=case == "whole typed"):
            if case == "whole typed":
                count += sum(len(values) for values in result.typed)
            else:
                count += sum(len(record.to_dict()) for record in result.records)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_extra": memory("VmHWM") - baseline, "fields": count}


def import_figures() -> dict[str, float]:
    """The generated module's size, and in a fresh process (median of 5) the time to
    execute it (its bytecode cached) and to read the 13.0 lines on first use."""
    code = (
        "import time, json, importlib.util, sys;"
        "spec = importlib.util.spec_from_file_location('tables', sys.argv[1]);"
        "module = importlib.util.module_from_spec(spec);"
        "s = time.perf_counter(); spec.loader.exec_module(module); loaded = time.perf_counter();"
        "text = module.COMMON + module.ONLY_130;"
        "lines = dict(line.partition('=')[::2] for line in text.splitlines());"
        "print(json.dumps([loaded - s, time.perf_counter() - loaded]))"
    )
    source = ROOT / "qbwc_spyne" / "qbxml" / "_qbxml_schema.py"
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", code, str(source)],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            ).stdout
        )
        for _ in range(5)
    ]
    return {
        "bytes": source.stat().st_size,
        "ms": statistics.median(r[0] for r in runs) * 1000,
        "index_ms": statistics.median(r[1] for r in runs) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50, help="lines of the InvoiceAdd")
    parser.add_argument("--builds", type=int, default=300, help="documents per timed round")
    parser.add_argument("--records", type=int, default=100_000, help="CustomerRet in the page")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return

    module = import_figures()
    print(
        f"Generated schema module: {module['bytes'] / 1024:.0f} KiB,"
        f" import {module['ms']:.2f} ms, indexing a version's lines on first use"
        f" {module['index_ms']:.2f} ms (fresh process, median of 5)\n"
    )

    rq = invoice(args.lines)
    qbxml.request(rq)  # the first use parses the schema lines it needs
    checked, unchecked = per_build(rq, args.builds, args.repeat)
    print(f"Building a {args.lines}-line InvoiceAdd document (target: checked <= 1.2x)\n")
    print(f"{'case':<34}{'ms/document':>12}{'ratio':>8}")
    print(f"{'schema: ordered, checked':<34}{checked * 1000:>12.3f}{checked / unchecked:>8.2f}")
    print(f"{'unchecked, as given (floor)':<34}{unchecked * 1000:>12.3f}{1:>8.2f}")

    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as handle:
        handle.write(customer_page(args.records).encode())
        path = handle.name
    cases = ["stream typed", "stream", "whole typed", "whole"]
    try:
        pages = in_fresh_processes("bench.bench_schema", cases, path, args.repeat)
    finally:
        Path(path).unlink()
    mb = 1024 * 1024
    print(
        f"\nReading {args.records:,} CustomerRet to dicts, median of {args.repeat} fresh"
        " processes (target: typed streaming <= 1.5x untyped streaming, same memory)\n"
    )
    print(f"{'case':<34}{'seconds':>9}{'ratio':>8}{'peak MB':>9}")
    for typed, floor in (("stream typed", "stream"), ("whole typed", "whole")):
        for case in (typed, floor):
            figures = pages[case]
            ratio = figures["seconds"] / pages[floor]["seconds"]
            label = f"{case} (floor)" if case == floor else case
            print(
                f"{label:<34}{figures['seconds']:>9.2f}{ratio:>8.2f}"
                f"{figures['peak_extra'] / mb:>9.0f}"
            )


if __name__ == "__main__":
    main()
