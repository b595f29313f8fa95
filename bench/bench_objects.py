"""The typed objects (``qbwc_spyne.objects``), each figure beside its floor, in one run.

Usage::

    python -m bench.bench_objects              # 100,000 CustomerRet, 50-line invoices
    python -m bench.bench_objects --records 300 --lines 5 --builds 5 --classes 20 \\
        --instances 1000 --imports 1 --repeat 1

Printed, each beside its floor and its target:

- ``import qbwc_spyne`` in a fresh process (bytecode compiled first), beside
  the same import of the package as it was before the typed objects
  (``BEFORE``, exported from git into a temporary folder; skipped, with a
  note, without git history); and whether the import loaded msgspec or
  ``qbwc_spyne.objects``, which it must not (target: at most 1.1x);
- the first use of a typed class in a fresh process, once the package is
  imported: ``from qbwc_spyne.objects import CustomerRet`` and reading one
  record (target: at most 50 ms);
- reading 100,000 CustomerRet into typed objects, streaming and whole
  document, beside the untyped reading of the same page into dicts
  (``Record.to_dict``), and the bare stream: timed every way in turn in
  each of a few fresh processes, and the peak of traced memory each in a
  fresh process of its own (targets: streaming at most 1.5x, whole
  document at most 2x, memory of the same order);
- building a 50-line InvoiceAdd document from typed objects beside the same
  from a dict through ``qbxml.Rq``, the inputs built each time (target:
  at most 1.2x);
- the evidence the class machinery was chosen on: classes shaped as the
  generated ones, defined and instantiated with stdlib dataclasses (slots),
  msgspec Structs, attrs and pydantic v2 (those installed), each in a fresh
  process: the library's import, defining the classes, building instances,
  and memory per instance.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from qbwc_spyne import objects, qbxml
from qbwc_spyne.qbxml._objects import read_all

from .common import customer_page, in_fresh_processes, memory

ROOT = Path(__file__).resolve().parent.parent

#: The last commit before the typed objects: the "today" of the import target.
BEFORE = "e797ced"

TARGETS = {"import": 1.1, "first use ms": 50.0, "stream": 1.5, "whole": 2.0, "build": 1.2}

ONE_CUSTOMER = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="1" statusCode="0"'
    ' statusSeverity="Info" statusMessage="Status OK"><CustomerRet><ListID>80000001-1232697602'
    "</ListID><TimeModified>2009-01-23T03:00:02-05:00</TimeModified><EditSequence>1232697602"
    "</EditSequence><FullName>Ada Lovelace</FullName><Balance>0.00</Balance></CustomerRet>"
    "</CustomerQueryRs></QBXMLMsgsRs></QBXML>"
)


def verdict(figure: float, target: float) -> str:
    return "ok" if figure <= target else "MISSED"


def run_python(code: str, tree: Path, *args: str) -> Any:
    """Run ``code`` in a fresh interpreter importing ``qbwc_spyne`` from ``tree``; its JSON."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    output = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=tree,
        env=env,
    ).stdout
    return json.loads(output)


# -- import ----------------------------------------------------------------------------------

IMPORT = (
    "import time, sys, json; s = time.perf_counter(); import qbwc_spyne;"
    " e = time.perf_counter(); print(json.dumps([e - s, 'msgspec' in sys.modules,"
    " 'qbwc_spyne.objects' in sys.modules, 'qbwc_spyne.qbxml._objects' in sys.modules]))"
)


@contextlib.contextmanager
def before_tree() -> Iterator[Path | None]:
    """The package as of ``BEFORE``, exported into a temporary folder; None without git."""
    try:
        archive = subprocess.run(
            ["git", "archive", BEFORE, "qbwc_spyne"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="qbwc-bench-before-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            # Our own repository's archive; the filter exists from Python 3.11.4.
            if hasattr(tarfile, "tar_filter"):
                tar.extractall(folder, filter="tar")
            else:
                tar.extractall(folder)
        yield Path(folder)


def compiled(tree: Path) -> None:
    """Bytecode for the package in ``tree``, so imports measure loading, not compiling."""
    compileall.compile_dir(tree / "qbwc_spyne", quiet=1, workers=1)


def import_figures(repeat: int) -> None:
    compiled(ROOT)
    with before_tree() as before:
        trees = {"qbwc_spyne (now)": ROOT}
        if before is not None:
            compiled(before)
            trees[f"before the objects ({BEFORE}, floor)"] = before
        for tree in trees.values():
            run_python(IMPORT, tree)  # the first warms the file cache
        runs: dict[str, list[list[Any]]] = {name: [] for name in trees}
        for _ in range(repeat):
            for name, tree in trees.items():
                runs[name].append(run_python(IMPORT, tree))
    ms = {name: statistics.median(r[0] for r in found) * 1000 for name, found in runs.items()}
    now = runs["qbwc_spyne (now)"][-1]
    print(
        f"import qbwc_spyne in a fresh process, bytecode compiled, median of {repeat}"
        f" (target: at most {TARGETS['import']}x the package before the objects)\n"
    )
    print(f"{'case':<40}{'ms':>9}{'ratio':>8}")
    floor = ms.get(f"before the objects ({BEFORE}, floor)")
    for name, figure in ms.items():
        ratio = f"{figure / floor:>8.2f}" if floor else f"{'-':>8}"
        print(f"{name:<40}{figure:>9.1f}{ratio}")
    if floor:
        ratio = ms["qbwc_spyne (now)"] / floor
        print(f"  {verdict(ratio, TARGETS['import'])}: {ratio:.2f}x")
    else:
        print(f"  (the floor not timed: no git history holding {BEFORE} here)")
    print(
        f"  after the import: msgspec loaded: {now[1]}, qbwc_spyne.objects loaded: {now[2]},"
        f" the objects' machinery loaded: {now[3]}"
    )


# -- first use -------------------------------------------------------------------------------

FIRST_USE = (
    "import time, sys, json; import qbwc_spyne; from lxml import etree;"
    " s = time.perf_counter();"
    " from qbwc_spyne.objects import CustomerRet;"
    " loaded = time.perf_counter();"
    " from qbwc_spyne import qbxml;"
    " (result,) = qbxml.parse_response(sys.argv[1]); customer = result.objects[0];"
    " assert isinstance(customer, CustomerRet) and customer.full_name == 'Ada Lovelace';"
    " read = time.perf_counter();"
    " from qbwc_spyne.objects import CustomerAdd, CustomerAddRq;"
    " qbxml.request(CustomerAddRq(customer_add=CustomerAdd(name='Ada Lovelace')));"
    " e = time.perf_counter();"
    " print(json.dumps([read - s, loaded - s, read - loaded, e - read]))"
)


FIRST_RQ = (
    "import time, json; import qbwc_spyne; s = time.perf_counter();"
    " from qbwc_spyne import qbxml;"
    " qbxml.request(qbxml.Rq('CustomerAddRq', {'CustomerAdd': {'Name': 'Ada Lovelace'}}));"
    " print(json.dumps(time.perf_counter() - s))"
)


def first_use_figures(repeat: int) -> None:
    runs = [run_python(FIRST_USE, ROOT, ONE_CUSTOMER) for _ in range(repeat + 1)][1:]
    floor = statistics.median(run_python(FIRST_RQ, ROOT) for _ in range(repeat)) * 1000
    total, load, read, build = (statistics.median(r[i] for r in runs) * 1000 for i in range(4))
    print(
        f"\nFirst use of a typed class in a fresh process once qbwc_spyne is imported,"
        f" median of {repeat} (target: at most {TARGETS['first use ms']:.0f} ms)\n"
    )
    print(f"{'case':<52}{'ms':>9}")
    print(f"{'from qbwc_spyne.objects import CustomerRet':<52}{load:>9.1f}")
    print(f"{'  then reading one CustomerQuery response into it':<52}{read:>9.1f}")
    print(f"{'first use, in all':<52}{total:>9.1f}  {verdict(total, TARGETS['first use ms'])}")
    print(f"{'then building a CustomerAddRq document, first use':<52}{build:>9.1f}")
    print(f"{'  the same from a dict, first use (floor)':<52}{floor:>9.1f}")


# -- reading ---------------------------------------------------------------------------------

READS = [
    "stream objects",
    "stream to_dict",
    "stream bare",
    "whole objects",
    "whole read_all",
    "whole to_dict",
]


def read_once(case: str, data: bytes) -> int:
    """Read the page one way; the records read, each dropped as soon as it is counted."""
    count = 0
    if case == "stream objects":
        for _result, obj in qbxml.stream(data, objects=True):
            count += obj.extra is not None
    elif case == "stream to_dict":
        for _result, record in qbxml.stream(data):
            count += record.to_dict() is not None
    elif case == "stream bare":
        for _result, record in qbxml.stream(data):
            count += record is not None
    elif case == "whole objects":
        for result in qbxml.parse_response(data):
            count += len(result.objects)
    elif case == "whole read_all":
        for result in qbxml.parse_response(data):
            count += len(read_all(result.records))
    else:
        for result in qbxml.parse_response(data):
            count += len([record.to_dict() for record in result.records])
    return count


def measure(case: str, path: str) -> dict[str, float]:
    """In this process: time one reading of the page, then trace the memory of another.

    ``times``: each way read in turn in this one process, its seconds by way.
    """
    data = Path(path).read_bytes()
    if case == "times":
        times: dict[str, float] = {}
        for way in READS:
            read_once(way, ONE_CUSTOMER.encode())
            start = time.perf_counter()
            read_once(way, data)
            times[way] = time.perf_counter() - start
        return times
    read_once(case, ONE_CUSTOMER.encode())  # classes and schema loaded: not what is timed
    baseline = memory("VmRSS")
    start = time.perf_counter()
    count = read_once(case, data)
    seconds = time.perf_counter() - start
    rss = memory("VmHWM") - baseline
    tracemalloc.start()
    read_once(case, data)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": seconds, "peak": peak, "rss": rss, "records": count}


def read_figures(records: int, repeat: int) -> None:
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as handle:
        handle.write(customer_page(records).encode())
        path = handle.name
    try:
        # Times: every way in turn in each fresh process, so that the load of a
        # shared machine, which drifts, weighs on a way and its floor alike.
        # Memory: a fresh process for each way, so its peak is its own.
        times = in_fresh_processes("bench.bench_objects", ["times"], path, repeat)["times"]
        pages = in_fresh_processes("bench.bench_objects", READS, path, 1)
    finally:
        Path(path).unlink()
    for case in READS:
        pages[case]["seconds"] = times[case]
    mb = 1024 * 1024
    print(
        f"\nReading {records:,} CustomerRet, every way in turn in each of {repeat} fresh processes,"
        " median"
        f" (targets: typed objects at most {TARGETS['stream']}x the untyped stream,"
        f" {TARGETS['whole']}x the untyped whole document; memory of the same order)\n"
    )
    print(f"{'case':<40}{'seconds':>9}{'ratio':>7}{'traced MB':>10}{'ratio':>7}{'RSS MB':>8}")
    rows = (
        ("stream", "stream objects", "stream to_dict", "qbxml.stream(objects=True)"),
        ("stream", "stream to_dict", "stream to_dict", "qbxml.stream + to_dict (floor)"),
        ("stream", "stream bare", "stream to_dict", "qbxml.stream, records untouched"),
        ("whole", "whole objects", "whole to_dict", "parse_response + .objects"),
        ("whole", "whole read_all", "whole to_dict", "parse_response + read_all (no GC)"),
        ("whole", "whole to_dict", "whole to_dict", "parse_response + to_dict (floor)"),
    )
    for target, case, floor, label in rows:
        figures, base = pages[case], pages[floor]
        ratio = figures["seconds"] / base["seconds"]
        judged = f"  {verdict(ratio, TARGETS[target])}" if case.endswith("objects") else ""
        judged = "  (proposed for .objects)" if case == "whole read_all" else judged
        print(
            f"{label:<40}{figures['seconds']:>9.2f}{ratio:>7.2f}{figures['peak'] / mb:>10.1f}"
            f"{figures['peak'] / base['peak']:>7.2f}{figures['rss'] / mb:>8.0f}{judged}"
        )
    print(
        "  (traced: the peak of Python's allocations, tracemalloc, in a second reading;"
        " RSS: the process's peak above its size before the timed reading, which"
        " counts libxml2's tree too)"
    )


# -- building --------------------------------------------------------------------------------


def invoice_dict(lines: int) -> qbxml.Rq:
    return qbxml.Rq(
        "InvoiceAddRq",
        {
            "InvoiceAdd": {
                "CustomerRef": {"FullName": "Ada Lovelace"},
                "TxnDate": date(2024, 3, 1),
                "RefNumber": "INV-1001",
                "Memo": "March work",
                "InvoiceLineAdd": [
                    {
                        "ItemRef": {"FullName": "Consulting"},
                        "Desc": f"Consulting, week {n}",
                        "Quantity": Decimal("7.5"),
                        "Rate": Decimal("95.00"),
                        "ServiceDate": date(2024, 3, 1 + n % 28),
                    }
                    for n in range(lines)
                ],
            }
        },
    )


def invoice_objects(lines: int) -> objects.InvoiceAddRq:
    return objects.InvoiceAddRq(
        invoice_add=objects.InvoiceAdd(
            customer_ref=objects.CustomerRef(full_name="Ada Lovelace"),
            txn_date=date(2024, 3, 1),
            ref_number="INV-1001",
            memo="March work",
            invoice_line_add=[
                objects.InvoiceLineAdd(
                    item_ref=objects.ItemRef(full_name="Consulting"),
                    desc=f"Consulting, week {n}",
                    quantity=Decimal("7.5"),
                    rate=Decimal("95.00"),
                    service_date=date(2024, 3, 1 + n % 28),
                )
                for n in range(lines)
            ],
        )
    )


def build_figures(lines: int, builds: int, repeat: int) -> None:
    typed, untyped = qbxml.request(invoice_objects(lines)), qbxml.request(invoice_dict(lines))
    assert typed == untyped, "the two ways must write the same document"
    rounds: dict[str, list[float]] = {"objects": [], "dict": []}
    # Each document timed alone, the two ways alternating: a shared machine's
    # load drifts, and alternating documents see both ways under the same load.
    clock = time.perf_counter
    for _ in range(builds * repeat):
        start = clock()
        qbxml.request(invoice_objects(lines))
        middle = clock()
        qbxml.request(invoice_dict(lines))
        rounds["dict"].append(clock() - middle)
        rounds["objects"].append(middle - start)
    ms = {case: statistics.median(found) * 1000 for case, found in rounds.items()}
    ratio = ms["objects"] / ms["dict"]
    print(
        f"\nBuilding a {lines}-line InvoiceAdd document, inputs built each time, median of"
        f" {builds * repeat} documents each way, alternating"
        f" (target: typed at most {TARGETS['build']}x the dict)\n"
    )
    print(f"{'case':<44}{'ms/document':>12}{'ratio':>8}")
    print(
        f"{'typed objects, qbxml.request':<44}{ms['objects']:>12.3f}{ratio:>8.2f}"
        f"  {verdict(ratio, TARGETS['build'])}"
    )
    print(f"{'dict through qbxml.Rq (floor)':<44}{ms['dict']:>12.3f}{1:>8.2f}")


# -- the machinery ---------------------------------------------------------------------------

MACHINERY = {
    "dataclass(slots)": ("dataclasses", "stdlib"),
    "msgspec.Struct": ("msgspec", "msgspec"),
    "attrs.define": ("attrs", "attrs"),
    "pydantic v2": ("pydantic", "pydantic"),
}

# Fifteen fields, as the generated classes have: text, amounts, dates, a list.
FIELDS = [
    ("str | None", "None"),
    ("str | None", "None"),
    ("str | None", "None"),
    ("Decimal | None", "None"),
    ("date | None", "None"),
    ("bool | None", "None"),
    ("int | None", "None"),
    ("str | None", "None"),
    ("str | None", "None"),
    ("Decimal | None", "None"),
    ("str | None", "None"),
    ("str | None", "None"),
    ("date | None", "None"),
    ("str | None", "None"),
    ("list[str]", "[]"),
]


def machinery_source(name: str, classes: int) -> str:
    """A module of ``classes`` classes shaped as the generated ones, defined with ``name``."""
    head = {
        "dataclass(slots)": (
            "from dataclasses import dataclass, field",
            "@dataclass(slots=True, kw_only=True)",
            "",
        ),
        "msgspec.Struct": ("import msgspec", "", "(msgspec.Struct, kw_only=True)"),
        "attrs.define": ("import attrs", "@attrs.define(kw_only=True)", ""),
        "pydantic v2": ("import pydantic", "", "(pydantic.BaseModel)"),
    }[name]
    lines = [
        "from __future__ import annotations",
        "from datetime import date",
        "from decimal import Decimal",
        head[0],
    ]
    for n in range(classes):
        if head[1]:
            lines.append(head[1])
        lines.append(f"class C{n}{head[2]}:")
        for i, (annotation, default) in enumerate(FIELDS):
            if default == "[]" and name == "dataclass(slots)":
                default = "field(default_factory=list)"
            elif default == "[]" and name == "attrs.define":
                default = "attrs.field(factory=list)"
            lines.append(f"    f{i}: {annotation} = {default}")
    return "\n".join(lines) + "\n"


MACHINE = (
    "import time, sys, json, tracemalloc, importlib; from datetime import date;"
    " from decimal import Decimal; n = int(sys.argv[2]);"
    " s = time.perf_counter(); importlib.import_module(sys.argv[1]); i = time.perf_counter();"
    " import shaped; d = time.perf_counter();"
    " amount = Decimal('1.00'); day = date(2024, 3, 1);"
    " kept = [shaped.C0(f0='8000', f1='Ada', f3=amount, f4=day, f5=True) for _ in range(n)];"
    " b = time.perf_counter(); del kept;"
    " tracemalloc.start(); before = tracemalloc.get_traced_memory()[0];"
    " kept = [shaped.C0(f0='8000', f1='Ada', f3=amount, f4=day, f5=True) for _ in range(n)];"
    " per = (tracemalloc.get_traced_memory()[0] - before - sys.getsizeof(kept)) / n;"
    " print(json.dumps([i - s, d - i, b - d, per]))"
)


def machinery_figures(classes: int, instances: int, repeat: int) -> None:
    print(
        f"\nThe class machinery: {classes:,} classes of {len(FIELDS)} fields shaped as the"
        f" generated ones, {instances:,} instances of one; fresh processes, median of {repeat}\n"
    )
    print(f"{'machinery':<20}{'import ms':>10}{'define ms':>10}{'build ms':>10}{'B/instance':>11}")
    with tempfile.TemporaryDirectory(prefix="qbwc-bench-shapes-") as scratch:
        for name, (module, package) in MACHINERY.items():
            try:
                __import__(module)
            except ImportError:
                print(f"{name:<20}  not installed ({package}; `pip install -e .[bench]`)")
                continue
            folder = Path(scratch) / module
            folder.mkdir()
            (folder / "shaped.py").write_text(machinery_source(name, classes))
            compileall.compile_dir(folder, quiet=1)
            code = MACHINE
            runs = [run_python(code, folder, module, str(instances)) for _ in range(repeat)]
            imp, define, build, per = (statistics.median(r[i] for r in runs) for i in range(4))
            print(
                f"{name:<20}{imp * 1000:>10.1f}{define * 1000:>10.1f}{build * 1000:>10.1f}"
                f"{per:>11.0f}"
            )
    print("  (import: the library itself; define: executing the module of classes)")


SECTIONS = "import,first,read,build,machinery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="CustomerRet in the page")
    parser.add_argument("--lines", type=int, default=50, help="lines of the InvoiceAdd")
    parser.add_argument("--builds", type=int, default=300, help="documents per repeat")
    parser.add_argument("--classes", type=int, default=1200, help="classes of the machinery")
    parser.add_argument("--instances", type=int, default=100_000, help="instances built")
    parser.add_argument("--imports", type=int, default=15, help="fresh processes per import")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=SECTIONS, help=f"comma-separated sections, of {SECTIONS}")
    parser.add_argument("--measure", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    sections = set(args.only.split(","))
    if "import" in sections:
        import_figures(args.imports)
    if "first" in sections:
        first_use_figures(args.imports)
    if "read" in sections:
        read_figures(args.records, args.repeat)
    if "build" in sections:
        build_figures(args.lines, args.builds, args.repeat)
    if "machinery" in sections:
        machinery_figures(args.classes, args.instances, args.repeat)


if __name__ == "__main__":
    main()
