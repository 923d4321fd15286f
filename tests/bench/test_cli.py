"""``leadscore bench ...``: every benchmark starts from the CLI, each subcommand documented."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from leadscore.cli.main import app

runner = CliRunner()
SUBCOMMANDS = ("score", "api", "import", "predict", "workflows", "dashboard", "dashboard-accounts")


def test_every_benchmark_is_a_subcommand_with_an_example() -> None:
    out = runner.invoke(app, ["bench", "--help"]).output
    for name in SUBCOMMANDS:
        assert name in out
        sub = runner.invoke(app, ["bench", name, "--help"])
        assert sub.exit_code == 0 and "Example" in sub.output, name


def test_bench_score_prints_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "score", "--contacts", "300", "--events", "3000", "--dir", str(tmp_path),
                                 "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["engine"] == "library.score" and figures["agrees"] and figures["scored"] == 300


def test_bench_import_prints_its_figures(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "import", "--events", "5000", "--repeat", "1", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rows"] == 5000 and report["parquet"]["inserted"] == 5000
