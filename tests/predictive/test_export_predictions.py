"""A workspace with a predictive model and no rule model still gets its predictions out."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.predictive.conftest import CONTACTS, UNTIL

import leadscore
from leadscore.workspace import Workspace


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_predictions_export_without_any_rule_model(fresh_ws: Workspace, tmp_path: Path) -> None:
    leadscore.train(workspace=fresh_ws, until=UNTIL, min_positives=50)
    leadscore.predict(workspace=fresh_ws, as_of="2026-01-01")
    assert leadscore.export_predictions(tmp_path / "p.csv", workspace=fresh_ws) == CONTACTS
    rows = _read(tmp_path / "p.csv")
    assert list(rows[0]) == ["contact_id", "model", "model_version", "probability", "priority", "reasons",
                             "as_of", "computed_at"]
    assert float(rows[0]["probability"]) >= float(rows[-1]["probability"]) and rows[0]["reasons"].startswith("{")
    # `export scores` too: one row per predicted contact, the rule columns empty
    assert leadscore.export_scores(tmp_path / "s.csv", workspace=fresh_ws) == CONTACTS
    scores = _read(tmp_path / "s.csv")
    assert {r["model"] for r in scores} == {""} and all(r["probability"] for r in scores)
    assert {r["as_of"][:10] for r in scores} == {"2026-01-01"}


def test_scored_and_predicted_contacts_keep_their_rule_columns(fresh_ws: Workspace, tmp_path: Path) -> None:
    leadscore.publish(fresh_ws.models_dir / "b2b.yml", workspace=fresh_ws)
    leadscore.train(workspace=fresh_ws, until=UNTIL, min_positives=50)
    leadscore.score(workspace=fresh_ws, as_of="2026-01-01")  # scores, then predictions at the same as-of
    assert leadscore.export_scores(tmp_path / "s.csv", workspace=fresh_ws) == CONTACTS
    rows = _read(tmp_path / "s.csv")
    assert {r["model"] for r in rows} == {"b2b"} and all(r["probability"] and r["tier"] for r in rows)
