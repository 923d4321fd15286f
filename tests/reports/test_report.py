"""The report end to end: library, JSON, one offline HTML file, the CLI, and the demo's verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.reports.handdata import TINY_MODEL, T
from typer.testing import CliRunner

import leadscore
from leadscore.cli.main import app
from leadscore.workspace import Workspace

runner = CliRunner()


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def _no_external_requests(html: str) -> None:
    """Nothing the browser would fetch: no src/href to another host, no CSS import, no CDN."""
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert not re.search(r"<img[^>]+src=[\"']https?:", html)
    assert "cdn.plot.ly" not in html.split("<script>", 1)[0]  # before the inlined library: nothing


def test_report_on_the_hand_data(tiny_ws: Workspace, tmp_path: Path) -> None:
    # a rule name with markup must come out escaped, not as markup
    (tiny_ws.models_dir / "tiny.yml").write_text(TINY_MODEL.replace("name: spam", "name: <b>spam</b>"))
    leadscore.publish(tiny_ws.models_dir / "tiny.yml", workspace=tiny_ws)
    out = tmp_path / "r" / "report.html"
    r = leadscore.report(workspace=tiny_ws, as_of=T, horizon="30d", out=out, rolling=2, capacity=1)
    assert r.backtest.auc == pytest.approx(2 / 3) and r.backtest.contacts == 8
    assert [t.reason for t in r.thresholds] == ["current `high` bound", "precision ≥ 50%",
                                                "1 calls a week over 30 days"]
    assert r.thresholds[0].score == 20.0 and r.thresholds[0].contacts == 2
    assert r.thresholds[1].score == 10.0  # the widest selection keeping the high tier's 50%
    assert r.distribution.source.startswith("no stored scores")  # published, never scored
    assert r.distribution.tier_counts == {"low": 4, "mid": 2, "high": 2}
    assert sum(r.distribution.bin_counts) == 8
    assert any("AUC 0.67" in f for f in r.findings)
    assert any("1 converters (33% of all) sat in the lowest tier" in f for f in r.findings)
    html = out.read_text()
    _no_external_requests(html)
    assert "&lt;b&gt;spam&lt;/b&gt;" in html and "<b>spam</b>" not in html
    assert html.count("Plotly.newPlot") >= 3 and len(html) > 3_000_000  # plotly.js is inlined
    for section in ("findings", "tiers", "backtest", "rules", "thresholds", "stuck", "calibration"):
        assert f'id="{section}"' in html
    assert not list(out.parent.glob(".*.tmp"))  # written through a temporary file, then renamed


def test_report_without_converters_or_contacts_still_renders(tiny_ws: Workspace, tmp_path: Path) -> None:
    model = str(tiny_ws.models_dir / "tiny.yml")
    r = leadscore.report(workspace=tiny_ws, model=model, as_of="2024-01-01", out=tmp_path / "a.html")
    assert r.backtest.contacts == 1  # only i (no created_at) existed
    assert r.findings[-1].startswith("None of the 1 contacts converted")
    r = leadscore.report(workspace=tiny_ws, model=model, as_of=T, horizon="1d", out=tmp_path / "b.html")
    assert (r.backtest.converters, r.backtest.auc) == (0, None)
    assert "within 1 day after" in r.findings[-1]
    with tiny_ws.open_store() as store:
        store.con.execute("DELETE FROM deals")
    r = leadscore.report(workspace=tiny_ws, model=model, as_of=T, out=tmp_path / "c.html")
    assert r.findings[0].startswith("The data ends before 2025-06-01 + 90 days")
    assert all((tmp_path / name).stat().st_size > 1_000_000 for name in ("a.html", "b.html", "c.html"))


def test_report_json_is_plain_json(tiny_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    leadscore.publish(tiny_ws.models_dir / "tiny.yml", workspace=tiny_ws)
    out = cli("report", "--json", "--as-of", "2025-06-01", "--horizon", "30d", "-w", str(tiny_ws.root))
    data = json.loads(out)
    assert data["backtest"]["auc"] == pytest.approx(2 / 3)
    assert data["as_of"] == "2025-06-01T00:00:00"
    assert {r["rule"] for r in data["rules"]} == {"exec", "demo", "spam"}
    assert not (tmp_path / "report.html").exists()  # --json alone writes no file


def test_cli_backtest_suggest_audit_on_the_hand_data(tiny_ws: Workspace, tmp_path: Path) -> None:
    w = str(tiny_ws.root)
    model = str(tiny_ws.models_dir / "tiny.yml")
    data = json.loads(cli("backtest", model, "--as-of", "2025-06-01", "--horizon", "30d", "--json", "-w", w))
    assert data["result"]["converters"] == 3 and data["result"]["missed"] == 1
    text = cli("backtest", model, "--as-of", "2025-06-01", "--horizon", "30d", "--rolling", "2", "-w", w)
    assert "AUC 0.667" in text and "tiers in order" in text
    audit = cli("audit", model, "--as-of", "2025-06-01", "--horizon", "30d", "-w", w)
    assert "exec" in audit and "Findings" in audit
    out = tmp_path / "report.html"
    text = cli("report", "-m", model, "--as-of", "2025-06-01", "--horizon", "30d", "--out", str(out), "-w", w)
    assert out.exists() and "wrote" in text
    bad = runner.invoke(app, ["backtest", model, "--horizon", "soon", "-w", w])
    assert bad.exit_code != 0


def test_demo_report_orders_tiers_by_conversion(demo_ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "demo.html"
    # the demo's data ends 2026-01-01: its last observed 90-day window starts a quarter earlier
    r = leadscore.report(workspace=demo_ws, out=out, capacity=100, as_of="2025-10-01")
    rates = [t.rate for t in r.backtest.tiers]
    assert [t.name for t in r.backtest.tiers] == ["cold", "nurture", "sql"]
    assert all(rate is not None for rate in rates)
    assert rates == sorted(rates) and r.backtest.tiers_ordered  # type: ignore[type-var]
    assert r.backtest.auc is not None and r.backtest.auc > 0.75
    assert r.findings[0].startswith("Conversion rises with the tier")
    assert len(r.rolling) == 4 and out.stat().st_size > 3_000_000
    _no_external_requests(out.read_text())


def test_label_mode_report_has_no_deal_columns_or_rolling(tiny_ws: Workspace, tmp_path: Path) -> None:
    with tiny_ws.open_store() as store:
        store.con.execute("ALTER TABLE contacts ADD COLUMN converted BOOLEAN")
        store.con.execute("UPDATE contacts SET converted = contact_id IN ('a', 'c')")
    out = tmp_path / "label.html"
    r = leadscore.report(workspace=tiny_ws, model=str(tiny_ws.models_dir / "tiny.yml"), label="converted",
                         out=out, rolling=4)
    assert r.rolling == [] and (r.backtest.contacts, r.backtest.converters) == (9, 2)
    html = out.read_text()
    assert "avg days to close" not in html and 'id="rolling"' not in html
    assert "contact property `converted` is true" in html


def test_a_drafts_report_does_not_borrow_the_published_scores(demo_ws: Workspace, tmp_path: Path) -> None:
    draft = tmp_path / "draft.yml"
    draft.write_text((demo_ws.models_dir / "b2b.yml").read_text().replace("points: 5}", "points: 6}"))
    r = leadscore.report(workspace=demo_ws, model=draft, rolling=1)
    assert r.source == str(draft) and r.distribution.source.startswith("no stored scores")
    assert sum(r.distribution.tier_counts.values()) == r.backtest.contacts
    published = leadscore.report(workspace=demo_ws, rolling=1)
    assert published.distribution.source.startswith("stored scores as of 2026-01-01")
