"""The typed objects benchmark runs and prints each figure beside its floor (tiny sizes)."""

from __future__ import annotations

from .test_bench import run


def test_objects_benchmark_prints_each_figure_beside_its_floor():
    """Import beside the package before the objects, first use, reading, building, machinery."""
    out = run(
        "bench.bench_objects",
        *("--records", "300", "--lines", "5", "--builds", "5", "--classes", "5"),
        *("--instances", "200", "--imports", "1", "--repeat", "1"),
    )
    assert "qbwc_spyne (now)" in out and "msgspec loaded: False" in out
    assert "qbwc_spyne.objects loaded: False" in out
    assert "first use, in all" in out
    for case in (
        "qbxml.stream(objects=True)",
        "qbxml.stream + to_dict (floor)",
        "parse_response + .objects",
        "parse_response + to_dict (floor)",
        "parse_response + read_all (no GC)",
        "typed objects, qbxml.request",
        "dict through qbxml.Rq (floor)",
    ):
        assert case in out
    for machinery in ("dataclass(slots)", "msgspec.Struct"):
        assert machinery in out
