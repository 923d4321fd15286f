"""``leadscore bench dashboard`` works end to end on a tiny workspace (the figures are the bench's to
report, not a test's to assert), and ``--reuse`` times the same workspace again without rebuilding."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from leadscore.bench.dashboard import format_dashboard_bench, run_dashboard_bench
from leadscore.cli.main import app


def test_dashboard_bench_runs_every_page(tmp_path: Path) -> None:
    result = run_dashboard_bench(tmp_path, contacts=600, events=6000, rounds=1, sample=(6_000, 120_000))
    names = [p.name for p in result.pages]
    assert names == ["leads (rep)", "leads (all)", "leads (tier)", "leads (rep, tier)", "moved up", "priority",
                     "search", "lead page", "page N by URL"]
    assert result.contacts == 600 and result.built and all(p.ms and min(p.ms) > 0 for p in result.pages)
    assert result.built["predicted"] == 600  # every contact, by the predictive model trained on the sample
    assert len(result.pages[1].ms) == 5  # page 1 and four "Next" links
    assert len(result.pages[7].cpu_ms) == len(result.pages[7].ms)  # the server's CPU, read from /proc
    text = format_dashboard_bench(result)
    assert "p95 ms" in text and "lead page" in text and "predicted 600 contacts" in text
    again = CliRunner().invoke(app, ["bench", "dashboard", "--dir", str(tmp_path), "--reuse", "--rounds", "1",
                                     "--json"])
    assert again.exit_code == 0, again.output
    figures = json.loads(again.output)
    assert figures["built"] == {} and figures["contacts"] == 600 and len(figures["pages"]) == 9
