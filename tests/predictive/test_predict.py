"""Prediction runs: priorities by quantile, factors in words, drift warnings, and the engine's
readers (export, explain, score) showing the predictive part."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from tests.predictive.conftest import CONTACTS, UNTIL, copy_workspace
from typer.testing import CliRunner

import leadscore
from leadscore.cli.main import app
from leadscore.predictive.predict import PRIORITY_SHARES, priorities, psi
from leadscore.workspace import Workspace

runner = CliRunner()


def test_priority_buckets_follow_quantiles() -> None:
    p = np.random.default_rng(0).random(10_000)
    buckets = priorities(p)
    for name, share in PRIORITY_SHARES.items():
        assert abs((buckets == name).mean() - share) < 0.002
    assert p[buckets == "very high"].min() > p[buckets == "high"].max()
    assert p[buckets == "medium"].min() > p[buckets == "low"].max()
    assert list(priorities(np.full(50, 0.3))) == ["very high"] * 50  # ties share a bucket
    assert len(priorities(np.zeros(0))) == 0


def test_psi_is_zero_for_the_same_distribution_and_grows_with_shift() -> None:
    shares = [0.1] * 10
    assert psi(shares, shares) == 0
    assert psi(shares, [0.08] * 5 + [0.12] * 5) < 0.2 < psi(shares, [0.01] * 9 + [0.91])


@pytest.fixture(scope="module")
def predicted_template(demo_template: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Scored with the starter model, trained and predicted once for the module."""
    ws = copy_workspace(demo_template, tmp_path_factory.mktemp("predicted") / "ws")
    leadscore.publish(ws.models_dir / "b2b.yml", workspace=ws)
    leadscore.score(workspace=ws, as_of="2026-01-01")
    leadscore.train(workspace=ws, until=UNTIL, min_positives=50)
    result = leadscore.predict(workspace=ws, as_of="2026-01-01")
    assert result.contacts == CONTACTS and not result.warnings  # same moment as training: no drift
    return ws


@pytest.fixture
def predicted_ws(predicted_template: Workspace, tmp_path: Path) -> Workspace:
    return copy_workspace(predicted_template, tmp_path / "ws")


def test_predictions_have_probability_priority_and_factors(predicted_ws: Workspace) -> None:
    with predicted_ws.open_store(read_only=True) as store:
        rows = store.con.execute("SELECT contact_id, probability, priority, factors, as_of FROM predictions "
                                 "ORDER BY probability DESC").fetchall()
        won = {r[0] for r in store.con.execute("SELECT contact_id FROM deals WHERE status = 'won'").fetchall()}
    assert len(rows) == CONTACTS and len({r[0] for r in rows}) == CONTACTS  # one row per contact
    assert all(0 <= r[1] <= 1 for r in rows)
    assert {r[2] for r in rows} <= set(PRIORITY_SHARES) and "very high" in {r[2] for r in rows}
    # "low" is the bottom 40%, unless the lowest probability (an isotonic calibration's bottom
    # step) is shared by more than that: ties share a bucket, the higher one
    lowest = min(r[1] for r in rows)
    assert "low" in {r[2] for r in rows} or sum(r[1] == lowest for r in rows) > 0.4 * CONTACTS
    top_decile = rows[: CONTACTS // 10]
    assert np.mean([r[0] in won for r in top_decile]) > 3 * len(won) / CONTACTS  # ranks the winners up
    for _, _, _, factors, _ in rows[:50]:
        data = json.loads(factors)
        assert 0 < len(data["positive"]) <= 3 and len(data["negative"]) <= 3
        assert all(f["impact"] > 0 for f in data["positive"]) and all(f["impact"] < 0 for f in data["negative"])
        impacts = [f["impact"] for f in data["positive"]]
        assert impacts == sorted(impacts, reverse=True)
        assert all(isinstance(f["factor"], str) and f["factor"] for f in data["positive"] + data["negative"])
    # engagement reads as activity in words (among the reasons: an assumed updated_at, which led
    # them before, is no feature any more, see predictive/features.py)
    phrases = " | ".join(f["factor"] for r in rows[:200] for f in json.loads(r[3])["positive"])
    assert " in last " in phrases or "last " in phrases and " days ago" in phrases


def test_drift_warns_when_leads_have_moved(predicted_ws: Workspace) -> None:
    later = leadscore.predict(workspace=predicted_ws, as_of="2026-12-01")  # everyone went quiet
    assert later.psi > 0.2
    assert any("drifted" in w and "PSI" in w for w in later.warnings)
    with predicted_ws.open_store(read_only=True) as store:
        runs = store.con.execute("SELECT psi, warnings FROM prediction_runs ORDER BY computed_at").fetchall()
    assert len(runs) == 2 and runs[-1][0] == later.psi and runs[-1][1] == later.warnings


def test_export_gains_probability_and_priority(predicted_ws: Workspace, tmp_path: Path) -> None:
    n = leadscore.export_scores(tmp_path / "s.csv", workspace=predicted_ws)
    with (tmp_path / "s.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert n == len(rows) == CONTACTS
    assert {"probability", "priority", "score", "tier"} <= set(rows[0])
    assert all(0 <= float(r["probability"]) <= 1 and r["priority"] in PRIORITY_SHARES for r in rows)


def test_explain_shows_the_predictive_part_beside_the_rules(predicted_ws: Workspace) -> None:
    with predicted_ws.open_store(read_only=True) as store:
        cid, p, priority = store.con.execute(
            "SELECT contact_id, probability, priority FROM predictions ORDER BY probability DESC LIMIT 1").fetchone()
    e = leadscore.explain(cid, workspace=predicted_ws)
    assert e.prediction is not None and e.prediction.priority == priority == "very high"
    assert e.prediction.probability == p and e.prediction.positive
    out = runner.invoke(app, ["explain", cid, "-w", str(predicted_ws.root)])
    assert out.exit_code == 0, out.output
    assert f"rule tier {e.tier}" in out.output and "predicted priority very high" in out.output
    assert e.prediction.positive[0] in out.output.replace("\n", " ") or "+" in out.output
    data = json.loads(runner.invoke(app, ["explain", cid, "-w", str(predicted_ws.root), "--json"]).output)
    assert data["prediction"]["priority"] == "very high"


def test_score_refreshes_predictions_once_a_model_is_trained(predicted_ws: Workspace) -> None:
    out = runner.invoke(app, ["score", "-w", str(predicted_ws.root), "--as-of", "2026-02-01"])
    assert out.exit_code == 0, out.output
    assert "contacts predicted" in out.output
    with predicted_ws.open_store(read_only=True) as store:
        as_of = store.con.execute("SELECT DISTINCT as_of FROM predictions").fetchall()
    assert [str(r[0]) for r in as_of] == ["2026-02-01 00:00:00"]


def test_library_score_refreshes_predictions_too(predicted_ws: Workspace) -> None:
    """The library and the CLI do the same: a rule run also refreshes a trained model's predictions."""
    leadscore.score(workspace=predicted_ws, as_of="2026-02-15")
    with predicted_ws.open_store(read_only=True) as store:
        as_of = store.con.execute("SELECT DISTINCT as_of FROM predictions").fetchall()
    assert [str(r[0]) for r in as_of] == ["2026-02-15 00:00:00"]
    leadscore.score(workspace=predicted_ws, as_of="2026-02-20", predict=False)
    with predicted_ws.open_store(read_only=True) as store:
        assert store.con.execute("SELECT DISTINCT as_of FROM predictions").fetchall() == as_of


def test_score_predicts_from_the_stored_rule_scores(predicted_ws: Workspace,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """After a whole-base rule run, prediction at the same as-of reads the rule scores it just
    stored instead of running the rule models again, and predicts exactly what recomputing gives."""
    from leadscore.predictive import features
    from leadscore.predictive.artefact import load_predictive_model
    from leadscore.predictive.predict import predict_contacts

    def no_recompute(*args: object, **kwargs: object) -> str:
        raise AssertionError("the rule scores were recomputed inside the feature query")

    with monkeypatch.context() as patched:
        patched.setattr(features, "compiled_sql", no_recompute)
        leadscore.score(workspace=predicted_ws, as_of="2026-02-01")
    with predicted_ws.open_store() as store:
        assert any(f.source == "rule" for f in load_predictive_model(store).plan.features)
        read = store.con.execute("SELECT contact_id, probability FROM predictions ORDER BY contact_id").fetchall()
        store.con.execute("DELETE FROM scores WHERE contact_id = (SELECT min(contact_id) FROM scores)")
        assert predict_contacts(store, as_of=datetime(2026, 2, 1)).contacts == CONTACTS  # recomputed
        recomputed = store.con.execute("SELECT contact_id, probability FROM predictions "
                                       "ORDER BY contact_id").fetchall()
    assert read == recomputed and len(read) == CONTACTS


def test_blended_score_from_the_model_file(predicted_ws: Workspace, tmp_path: Path) -> None:
    model_file = predicted_ws.models_dir / "b2b.yml"
    model_file.write_text(model_file.read_text() + "predictive: {model: likelihood, weight: 0.25}\n")
    leadscore.publish(model_file, workspace=predicted_ws)
    leadscore.score(workspace=predicted_ws, as_of="2026-01-01")
    with predicted_ws.open_store(read_only=True) as store:
        cid, total, p = store.con.execute(
            "SELECT s.contact_id, s.score, p.probability FROM scores s JOIN predictions p USING (contact_id) "
            "ORDER BY p.probability DESC LIMIT 1").fetchone()
    e = leadscore.explain(cid, workspace=predicted_ws)
    assert e.prediction is not None and e.prediction.blended == pytest.approx(0.75 * total + 25 * p)
    out = runner.invoke(app, ["explain", cid, "-w", str(predicted_ws.root)]).output
    assert f"blended score {0.75 * total + 25 * p:.1f}" in out
    leadscore.export_scores(tmp_path / "b.csv", workspace=predicted_ws)
    with (tmp_path / "b.csv").open() as f:
        rows = {r["contact_id"]: r for r in csv.DictReader(f)}
    assert float(rows[cid]["blended"]) == pytest.approx(0.75 * total + 25 * p)


def test_blend_keys_are_documented() -> None:
    from leadscore.model.spec import PredictiveBlend

    doc = (Path(__file__).resolve().parents[2] / "docs" / "model-reference.md").read_text(encoding="utf-8")
    assert "`predictive`" in doc and all(f"`{key}`" in doc for key in PredictiveBlend.model_fields)
    with pytest.raises(leadscore.errors.ModelError, match="weight"):
        from leadscore.model.loader import parse_model

        parse_model("name: m\ngroups: {g: {rules: [{name: r, when: {property: job_title, equals: CEO}, "
                    "points: 1}]}}\npredictive: {model: likelihood, weight: 2}\n")
