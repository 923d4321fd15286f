"""``leadscore bench dashboard-accounts`` works end to end on a small demo (the figures are the bench's to
report, not a test's to assert), and ``--reuse`` times the same workspace again without rebuilding."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from leadscore.bench.dashboard_accounts import format_accounts_dashboard_bench, run_accounts_dashboard_bench
from leadscore.cli.main import app


def test_accounts_dashboard_bench_runs_every_page(tmp_path: Path) -> None:
    result = run_accounts_dashboard_bench(tmp_path, contacts=900, events=9000, rounds=1)
    names = [p.name for p in result.pages]
    assert names == ["accounts (rep)", "accounts (all)", "accounts (filtered)", "account page"]
    assert result.companies and result.build_s and all(p.ms and min(p.ms) > 0 for p in result.pages)
    assert len(result.pages[1].ms) == 5  # page 1 and four "Next" links (300 companies)
    assert len(result.pages[3].ms) == 6
    text = format_accounts_dashboard_bench(result)
    assert "p95 ms" in text and "account page" in text
    again = CliRunner().invoke(app, ["bench", "dashboard-accounts", "--dir", str(tmp_path), "--reuse",
                                     "--rounds", "1", "--json"])
    assert again.exit_code == 0, again.output
    figures = json.loads(again.output)
    assert figures["build_s"] is None and figures["contacts"] == 900 and len(figures["pages"]) == 4
