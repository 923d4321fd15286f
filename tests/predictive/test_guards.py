"""Leakage guards on the public X Education leads (Leads.csv, read where it lies) and on planted data:
`--exclude` by the file's column names, identifier columns never features, a refusal naming the
columns that give the outcome away (or `--accept-leaky`, recorded on the model's card), and a
report that measures the model on the same held-out rows as `train`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.predictive.conftest import UNTIL
from typer.testing import CliRunner

import leadscore
from leadscore.bench.predictive import find_leads_csv
from leadscore.cli.main import app
from leadscore.errors import LeadscoreError
from leadscore.predictive.leakage import LeakageSuspected
from leadscore.predictive.train import train_model
from leadscore.reports.calibration import predictive_calibration
from leadscore.workspace import Workspace

LEADS = find_leads_csv()
needs_leads = pytest.mark.skipif(LEADS is None, reason="Leads.csv not found: set LEADSCORE_SHARED_DATA")


@pytest.fixture(scope="module")
def leads_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    assert LEADS is not None
    ws = leadscore.init(tmp_path_factory.mktemp("leads") / "ws")
    leadscore.import_file("contacts", LEADS, workspace=ws)
    return ws


@needs_leads
def test_a_real_export_with_sales_filled_columns_is_refused_naming_them(leads_ws: Workspace) -> None:
    with pytest.raises(LeakageSuspected) as caught:
        leadscore.train(workspace=leads_ws, label="Converted")
    message = str(caught.value)
    assert "held-out AUC 0.9" in message and "--exclude tags" in message and "--accept-leaky" in message
    with pytest.raises(LeadscoreError, match="did you mean `tags`"):
        leadscore.train(workspace=leads_ws, label="Converted", exclude=["Tag"])


@needs_leads
def test_excluded_by_their_file_names_the_model_is_honest_and_the_report_agrees(leads_ws: Workspace) -> None:
    result = leadscore.train(workspace=leads_ws, label="Converted",
                             exclude=["Tags", "Lead Quality", "Lead Profile"])
    m = result.metrics
    assert set(m["excluded"]) == {"tags", "lead_quality", "lead_profile"}
    assert m["identifiers"] == ["lead_number"]  # unique per lead: never a feature
    names = {f.name for f in result.model.plan.features}
    assert not {"p:tags", "p:lead_quality", "p:lead_profile", "p:lead_number"} & names
    assert 0.85 < m["auc"] < 0.97 and not m["leakage"]
    assert any("identifier" in w and "lead_number" in w for w in result.warnings)
    assert any("no recorded change" in w for w in result.warnings)  # an export has no history
    with leadscore.open_store(leads_ws, read_only=True) as store:
        [cal] = predictive_calibration(store)
    assert cal.calibration is not None and cal.contacts == m["validation_rows"]
    assert cal.calibration.auc == pytest.approx(m["auc"], abs=1e-12)
    assert cal.calibration.ece == pytest.approx(m["ece"], abs=1e-12)
    assert "random 20%" in cal.held_out


@needs_leads
def test_accepted_leakage_is_on_the_models_card(leads_ws: Workspace) -> None:
    result = leadscore.train(workspace=leads_ws, label="Converted", accept_leaky=True, name="leaky")
    assert result.metrics["leakage"] and any("accepted with --accept-leaky" in w for w in result.warnings)
    out = CliRunner().invoke(app, ["models", "-w", str(leads_ws.root)])
    assert out.exit_code == 0 and "leaky v1" in out.output and "leakage suspected" in " ".join(out.output.split())
    listed = json.loads(CliRunner().invoke(app, ["models", "--json", "-w", str(leads_ws.root)]).output)
    card = next(r for r in listed if r["model"] == "leaky")
    assert card["metrics"]["leakage"] == result.metrics["leakage"]


def test_a_column_written_after_the_outcome_stops_training(fresh_ws: Workspace, tmp_path: Path) -> None:
    """A CRM field sales fill in when a deal is won: alone it tells who converted."""
    with fresh_ws.open_store() as store:
        store.con.execute("ALTER TABLE contacts ADD COLUMN deal_desk_notes VARCHAR")
        store.con.execute("UPDATE contacts SET deal_desk_notes = 'signed' WHERE contact_id IN "
                          "(SELECT contact_id FROM deals WHERE status = 'won')")
        refused = r"deal desk notes \(AUC 0\.9\d\d alone\).*--exclude deal_desk_notes"
        with pytest.raises(LeakageSuspected, match=refused):
            train_model(store, until=UNTIL, min_positives=50)
        # the same field with its history (filled in when the deal closed) is honest: no refusal
        store.con.execute("""INSERT INTO property_history SELECT d.contact_id, 'deal_desk_notes', NULL, 'signed',
            d.closed_at, 'test', NULL, d.closed_at FROM deals d WHERE d.status = 'won'""")
        store.con.execute("INSERT OR REPLACE INTO meta SELECT 'property_history_latest', "
                          "CAST(max(changed_at) AS VARCHAR) FROM property_history")
        honest = train_model(store, until=UNTIL, min_positives=50)
    assert not honest.metrics["leakage"]
