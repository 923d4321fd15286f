"""Artefacts: stored without pickle, reloaded to the same predictions, refused across versions."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
from tests.predictive.conftest import UNTIL

import leadscore
from leadscore.cli.main import main
from leadscore.predictive.artefact import ArtefactVersionError, load_predictive_model
from leadscore.predictive.predict import predict_contacts
from leadscore.predictive.train import train_model
from leadscore.workspace import Workspace


@pytest.mark.parametrize("learner", ["lightgbm", "logistic"])
def test_reloaded_artefact_predicts_the_same(fresh_ws: Workspace, learner: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if learner == "logistic":  # make the regression win, to reload its JSON form too
        from leadscore.predictive import calibrate

        real_auc = calibrate.auc
        calls = iter(range(10_000))
        monkeypatch.setattr(calibrate, "auc", lambda y, p: 0.0 if next(calls) == 0 else real_auc(y, p))
    with fresh_ws.open_store() as store:
        trained = train_model(store, until=UNTIL, min_positives=50).model
        assert trained.learner_kind == learner
        in_memory = predict_contacts(store, model=trained, as_of=datetime(2026, 1, 1), write=False)
        reloaded = load_predictive_model(store)
        row = store.con.execute("SELECT spec, booster FROM predictive_models").fetchone()
        assert row is not None
        assert reloaded.learner_kind == learner
        spec = json.loads(row[0])  # plain JSON, and LightGBM's own text format
        assert spec["plan"]["features"] and spec["calibration"]["method"] == trained.calibrator.method
        assert (row[1] or "").startswith("tree") == (learner == "lightgbm")
        predict_contacts(store, model=reloaded, as_of=datetime(2026, 1, 1))
        stored = np.array([r[0] for r in store.con.execute(
            "SELECT probability FROM predictions ORDER BY contact_id").fetchall()])
        x_ids = store.con.execute("SELECT count(*) FROM predictions").fetchone()
    assert x_ids == (in_memory.contacts,)
    assert abs(stored.mean() - in_memory.mean_probability) < 1e-12
    assert in_memory.priority_counts == predict_contacts_counts(fresh_ws)


def predict_contacts_counts(ws: Workspace) -> dict[str, int]:
    with ws.open_store(read_only=True) as store:
        return {p: int(n) for p, n in store.con.execute(
            "SELECT priority, count(*) FROM predictions GROUP BY 1").fetchall()}


def test_artefact_from_another_version_is_refused_clearly(fresh_ws: Workspace,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    leadscore.train(workspace=fresh_ws, until=UNTIL, min_positives=50)
    with fresh_ws.open_store() as store:
        store.con.execute("UPDATE predictive_models SET leadscore_version = '0.0.1'")
        with pytest.raises(ArtefactVersionError, match=r"trained by leadscore 0\.0\.1.*retrain"):
            load_predictive_model(store)
    with pytest.raises(SystemExit) as info:
        main(["predict", "-w", str(fresh_ws.root)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "0.0.1" in err and "leadscore train" in err and "Traceback" not in err
    with fresh_ws.open_store() as store:
        store.con.execute("UPDATE predictive_models SET leadscore_version = ?, format = 99", [leadscore.__version__])
        with pytest.raises(ArtefactVersionError, match="format 99"):
            load_predictive_model(store)
        assert store.con.execute("SELECT count(*) FROM predictions").fetchone() == (0,)


def test_damaged_artefact_is_an_error_not_a_crash(fresh_ws: Workspace) -> None:
    leadscore.train(workspace=fresh_ws, until=UNTIL, min_positives=50)
    with fresh_ws.open_store() as store:
        store.con.execute("UPDATE predictive_models SET spec = '{\"plan\": {}}'")
        with pytest.raises(ArtefactVersionError, match="damaged"):
            load_predictive_model(store)


def test_predict_without_a_trained_model_says_what_to_do(fresh_ws: Workspace) -> None:
    with pytest.raises(leadscore.errors.NotFoundError, match="leadscore train"):
        leadscore.predict(workspace=fresh_ws)
