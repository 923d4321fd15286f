"""The README's promise, tested: a score "as of" T uses only what was known at T, properties too.

A synthetic workspace (with the lifecycle history the demo ships) is scored, backtested, reported
on (audits, thresholds, rolling backtests, findings), given suggested weights, explained, turned
into predictive features, trained on and predicted as of T.
Then property changes are planted *after* T through three writers: contacts become customers (the
dashboard's / API's ``write_properties``), a field sales fill in after the deal appears (a contacts
import with a ``changed_at`` column), and a history file backdates nothing before T. Every figure
as of T is computed again and must not have moved; as of a later date, the planted changes show.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import leadscore
from leadscore.demo.generator import generate, load_into_store
from leadscore.engine.explain import explain_contact
from leadscore.ingest import ColumnMapping, import_file
from leadscore.ingest.history import import_history
from leadscore.predictive.artefact import load_predictive_model
from leadscore.predictive.features import raw_features
from leadscore.predictive.predict import predict_contacts
from leadscore.predictive.train import train_model
from leadscore.reports.backtest import run_backtest
from leadscore.reports.build import build_report
from leadscore.reports.suggest import run_suggest
from leadscore.scoring import score_all
from leadscore.storage.history import write_properties
from leadscore.storage.store import Store
from leadscore.workspace import Workspace

T = datetime(2025, 9, 1)
LATER = T + timedelta(days=30)
MODEL = """\
version: 1
name: stage
tiers: {cold: 0, warm: 20, hot: 45}
groups:
  fit:
    rules:
      - {name: customer, when: {property: lifecycle_stage, equals: customer}, points: 40}
      - {name: opportunity, when: {property: lifecycle_stage, equals: opportunity}, points: 10}
      - {name: graded A, when: {property: sales_grade, equals: A}, points: 30}
  engagement:
    decay: {half_life_days: 30}
    rules:
      - {name: visits, when: {event: page_view}, points_per_event: 1, max: 20}
      - {name: demo, when: {event: demo_request}, points: 15}
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = leadscore.init(tmp_path_factory.mktemp("leak") / "ws")
    with ws.open_store() as store:
        load_into_store(store, generate(4_000, 80_000, seed=11))
        store.con.execute("ALTER TABLE contacts ADD COLUMN sales_grade VARCHAR")  # filled in later by sales
    (ws.models_dir / "stage.yml").write_text(MODEL)
    leadscore.publish(ws.models_dir / "stage.yml", workspace=ws)
    return ws


def _figures(store: Store, when: datetime, planted: list[str]) -> dict[str, Any]:
    """Everything computed as of ``when``: scores, a backtest, explanations, features, predictions."""
    score_all(store, as_of=when)
    scores = store.con.execute("SELECT contact_id, score, tier FROM scores ORDER BY 1").fetchall()
    backtest = run_backtest(store, "stage", as_of=when, horizon="90d").to_dict()
    report = build_report(store, model="stage", as_of=when, horizon="90d").to_dict()
    del report["generated_at"]
    suggested = run_suggest(store, "stage", as_of=when, horizon="60d").to_dict()
    explained = [explain_contact(store, cid, model="stage", as_of=when).to_dict() for cid in planted[:5]]
    model = load_predictive_model(store)
    features = raw_features(store, model.plan, when)
    predicted = predict_contacts(store, model=model, as_of=when, write=False)
    return {"scores": scores, "backtest": backtest, "report": report, "suggested": suggested, "explained": explained,
            "features": features, "mean_probability": predicted.mean_probability,
            "priorities": predicted.priority_counts}


def _plant(store: Store, planted: list[str], tmp: Path) -> None:
    """Changes that became true after T: customer stages, a sales grade, a history file."""
    now = datetime(2026, 1, 2)
    for cid in planted:
        write_properties(store.con, cid, {"lifecycle_stage": "customer"}, source="dashboard", now=now,
                         changed_at=T + timedelta(days=5))
    grades = tmp / "grades.csv"
    grades.write_text("contact_id,sales_grade,graded_on\n" + "".join(f"{c},A,{T + timedelta(days=6):%Y-%m-%d}\n"
                                                                     for c in planted))
    result = import_file(store, "contacts", grades, mapping=ColumnMapping(changed_at="graded_on"),
                         rejects_dir=tmp)
    assert result.changes == 2 * len(planted) and not result.rejected  # sales_grade and graded_on itself
    history = tmp / "history.csv"
    history.write_text("contact_id,property,value,changed_at\n" + "".join(
        f"{c},lifecycle_stage,opportunity,{T + timedelta(days=2):%Y-%m-%d}\n" for c in planted[:10]))
    assert import_history(store, history, rejects_dir=tmp).recorded == 10


def test_nothing_as_of_T_moves_when_properties_change_after_T(ws: Workspace, tmp_path: Path) -> None:
    with ws.open_store() as store:
        planted = [r[0] for r in store.con.execute(
            "SELECT contact_id FROM contacts WHERE lifecycle_stage IN ('lead', 'subscriber') "
            "AND created_at <= ? ORDER BY contact_id LIMIT 150", [T]).fetchall()]
        trained = train_model(store, until=T, min_positives=50, seed=3)
        before = _figures(store, T, planted)
        _plant(store, planted, tmp_path)
        after = _figures(store, T, planted)
        retrained = train_model(store, until=T, min_positives=50, seed=3)
        rows = store.con.execute("SELECT spec, booster, metrics FROM predictive_models ORDER BY version").fetchall()
        later = _figures(store, LATER, planted)
    for name in ("scores", "backtest", "report", "suggested", "explained", "mean_probability", "priorities"):
        assert after[name] == before[name], name
    assert after["features"].equals(before["features"])
    # the same model: features, learner and metrics; the plan only knows one more column (graded_on,
    # new with the import, empty at every cut-off), so nothing it learned changed
    first, second = json.loads(rows[0][0]), json.loads(rows[1][0])
    assert set(second["plan"]["property_columns"]) - set(first["plan"]["property_columns"]) == {"graded_on"}
    assert first["plan"]["features"] == second["plan"]["features"]
    assert rows[0][1] == rows[1][1] and retrained.metrics == trained.metrics
    # the planted changes are real: as of a later date the planted contacts are customers graded A
    scored = dict((cid, score) for cid, score, _ in later["scores"])
    fired = {e["contact_id"]: {r["name"] for r in e["rules"] if r["fired"]} for e in later["explained"]}
    assert all({"customer", "graded A"} <= fired[c] for c in planted[:5])
    assert np.mean([scored[c] for c in planted]) > np.mean([s for c, s, _ in before["scores"] if c in planted]) + 60
    assert json.dumps(later["backtest"], default=str) != json.dumps(before["backtest"], default=str)
