"""The feedback finding: a rule firing far more often on leads reps call over-scored (or under-scored)
than on the rest is named, with the share of feedback by tier; in the library's report, `leadscore
audit` and the HTML report."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import leadscore
from leadscore.cli.main import app
from leadscore.demo.build import build_demo
from leadscore.engine.explain import explain_contact
from leadscore.engine.run import model_of
from leadscore.feedback import record_feedback
from leadscore.reports.feedback_audit import feedback_audit
from leadscore.workspace import Workspace


@pytest.fixture(scope="module")
def disputed_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The small demo with feedback: 'pricing page' leads called too high, 'free mail' leads too low."""
    ws = Workspace.load(build_demo(tmp_path_factory.mktemp("fb") / "ws", contacts=400, events=8000, seed=3).directory)
    with ws.open_store() as store:
        explained = {cid: {r.name for r in explain_contact(store, cid).rules if r.fired}
                     for (cid,) in store.con.execute("SELECT contact_id FROM scores ORDER BY contact_id").fetchall()}
        pricing = [c for c, fired in explained.items() if "pricing page" in fired][:8]
        free = [c for c, fired in explained.items() if "free mail" in fired and "pricing page" not in fired][:6]
        plain = [c for c, fired in explained.items() if not {"pricing page", "free mail"} & fired][:4]
        assert len(pricing) == 8 and len(free) == 6
        with store.transaction():
            for cid in pricing:
                record_feedback(store, cid, verdict="right", author="dana", source="dashboard")  # changed mind:
                record_feedback(store, cid, verdict="too_high", author="dana", source="dashboard")  # latest counts
            for cid in free:
                record_feedback(store, cid, verdict="too_low", author="crm", source="api", outcome="converted")
            for cid in plain:
                record_feedback(store, cid, verdict="right", author="marcus", source="dashboard")
    return ws


def test_the_audit_names_the_rules_and_the_share_by_tier(disputed_ws: Workspace) -> None:
    with disputed_ws.open_store(read_only=True) as store:
        audit = feedback_audit(store, model_of(store.get_version("b2b")))
        contacts = store.count("scores")
    assert audit is not None and audit.contacts == contacts
    assert audit.by_verdict == {"right": 4, "too_high": 8, "too_low": 6}
    assert sum(sum(v.values()) for v in audit.by_tier.values()) == 18
    flagged = {(r.rule, r.direction) for r in audit.flagged}
    assert ("pricing page", "too_high") in flagged and ("free mail", "too_low") in flagged
    pricing = next(r for r in audit.rules if r.rule == "pricing page" and r.direction == "too_high")
    assert pricing.rate_disputed == 1.0 and pricing.fired_disputed == 8 and pricing.disputed == 8
    assert pricing.rest == contacts - 8 and pricing.rate_rest is not None and pricing.rate_rest < 0.5
    # a rule that fires on nobody disputed is not flagged
    assert ("unsubscribed", "too_high") not in flagged


def test_report_and_audit_cli_show_the_finding(disputed_ws: Workspace, tmp_path: Path) -> None:
    report = leadscore.report(workspace=disputed_ws, out=tmp_path / "r.html", rolling=1)
    text = " ".join(report.findings)
    assert "The 'pricing page' rule (+15) fires on 100% of the 8 leads reps called over-scored" in text
    assert "The 'free mail' rule (-10) fires on 100% of the 6 leads reps called under-scored" in text
    assert "penalty may bite too hard" in text and "Feedback from reps on 18 leads, by tier" in text
    html = (tmp_path / "r.html").read_text()
    assert 'id="feedback"' in html and "over-scored (8)" in html
    result = CliRunner().invoke(app, ["audit", "-w", str(disputed_ws.root)])
    assert result.exit_code == 0, result.output
    assert "Feedback from reps on 18 leads" in result.output and "pricing page" in result.output


def test_no_feedback_no_finding(tmp_path: Path) -> None:
    ws = Workspace.load(build_demo(tmp_path / "ws", contacts=200, events=3000, seed=5).directory)
    with ws.open_store(read_only=True) as store:
        assert feedback_audit(store, model_of(store.get_version("b2b"))) is None
    report = leadscore.report(workspace=ws, rolling=1)
    assert report.feedback is None and not any("Feedback from reps" in f for f in report.findings)
