"""What the benchmarks share: a large qbXML page, and memory readings of a fresh process."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path


def customer_page(records: int) -> str:
    """A qbXML CustomerQuery response of ``records`` CustomerRet (100,000 make about 30 MB)."""
    rows = (
        f"<CustomerRet><ListID>{n:08X}-1232697602</ListID>"
        "<TimeModified>2009-01-23T03:00:02-05:00</TimeModified>"
        f"<EditSequence>1232697602</EditSequence><FullName>Customer {n} &amp; Sons"
        "</FullName><Balance>0.00</Balance></CustomerRet>"
        for n in range(records)
    )
    return (
        '<?xml version="1.0" ?>\n<QBXML>\n<QBXMLMsgsRs>\n<CustomerQueryRs requestID="1" '
        'statusCode="0" statusSeverity="Info" statusMessage="Status OK">'
        + "\n".join(rows)
        + "</CustomerQueryRs>\n</QBXMLMsgsRs>\n</QBXML>\n"
    )


def memory(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in bytes.

    Not getrusage's ru_maxrss: Linux carries it across exec, so a child
    would inherit the peak of the parent that built the input.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def in_fresh_processes(
    module: str, cases: list[str], argument: str, repeat: int
) -> dict[str, dict[str, float]]:
    """Run ``python -m module --measure CASE ARGUMENT`` for each case, ``repeat`` times,
    interleaved; return the median of each figure it prints as JSON."""
    runs: dict[str, list[dict[str, float]]] = {case: [] for case in cases}
    for _ in range(repeat):
        for case in cases:
            output = subprocess.run(
                [sys.executable, "-m", module, "--measure", case, argument],
                check=True,
                capture_output=True,
                text=True,
                cwd=Path(__file__).resolve().parent.parent,
            ).stdout
            runs[case].append(json.loads(output))
    return {
        case: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for case, results in runs.items()
    }
