"""The import benchmark measures real imports of generated files (the figures are not asserted)."""

from __future__ import annotations

from pathlib import Path

from leadscore.bench.imports import bench_import


def test_bench_import_reports_both_formats(tmp_path: Path) -> None:
    report = bench_import(tmp_path, 20_000)
    assert report["rows"] == 20_000
    for fmt in ("csv", "parquet"):
        assert report[fmt]["inserted"] == 20_000 and report[fmt]["rows_per_s"] > 0
    assert report["contacts_csv"]["inserted"] == 4_000
    assert report["bare_insert_parquet"]["seconds"] > 0
