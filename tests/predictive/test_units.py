"""The small parts: metrics, calibration, phrases, property labels."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from leadscore.errors import LeadscoreError
from leadscore.predictive import calibrate
from leadscore.predictive.factors import FactorWriter, factor_lines, phrase
from leadscore.predictive.features import Feature, FeaturePlan
from leadscore.predictive.labels import property_labels, stratified_split
from leadscore.predictive.train import train_model
from leadscore.workspace import init_workspace


def test_metrics_on_known_cases() -> None:
    y = np.array([0, 0, 1, 1], dtype=bool)
    assert calibrate.auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert calibrate.auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert calibrate.ece(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    assert calibrate.ece(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.0)  # 50% said, 50% happened
    assert calibrate.ece(y, np.array([0.9, 0.9, 0.9, 0.9])) == pytest.approx(0.4)
    y10 = np.array([True] + [False] * 9 + [True] * 10 + [False] * 80)
    p10 = np.linspace(1, 0, 100)
    assert calibrate.top_decile_lift(y10, p10) == pytest.approx(0.1 / 0.11)
    assert math.isnan(calibrate.auc(np.zeros(3, bool), np.zeros(3)))


def test_auc_and_ece_have_one_implementation_shared_with_the_reports() -> None:
    from sklearn.metrics import roc_auc_score

    from leadscore.reports import metrics

    assert metrics.roc_auc is calibrate.roc_auc and metrics.average_ranks is calibrate.average_ranks
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 4, 300).astype(float)  # four distinct values: ties everywhere
    y = rng.random(300) < 0.3
    assert calibrate.auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    # the hand-worked case of tests/reports/test_metrics.py: 0.3 and 0.7 sit on bin edges
    p = np.array([0.9, 0.1, 0.7, 0.2, 0.05, 0.3, 0.1, 0.8])
    y8 = np.array([1, 0, 1, 1, 0, 0, 0, 0], bool)
    assert calibrate.ece(y8, p) == pytest.approx(2.55 / 8) == metrics.calibration(y8, p).ece
    # 0.3 is in [0.3, 0.4), not with 0.25 in [0.2, 0.3): (0.7 + 0.25) / 2, not |0.5 - 0.275|
    assert calibrate.ece(np.array([True, False]), np.array([0.3, 0.25])) == pytest.approx(0.475)
    assert math.isnan(calibrate.ece(np.zeros(0, bool), np.zeros(0)))


def test_calibration_repairs_an_overconfident_score() -> None:
    rng = np.random.default_rng(1)
    true_logit = rng.normal(-1, 1.5, 20_000)
    y = rng.random(20_000) < 1 / (1 + np.exp(-true_logit))
    raw = 3 * true_logit + 2  # right ranking, wrong scale
    naive = 1 / (1 + np.exp(-raw))
    calibrator, crossed = calibrate.choose_calibration(raw, y, seed=0)
    assert calibrate.ece(y, naive) > 0.1
    assert calibrate.ece(y, crossed) < 0.02 and calibrate.ece(y, calibrator(raw)) < 0.02
    again = calibrate.Calibrator.from_json(calibrator.to_json())
    assert np.allclose(again(raw), calibrator(raw))


def test_phrases_read_like_a_rep_would_say_them() -> None:
    title = Feature("p:job_title", "category", "property", "job title", levels=["vp sales", "ceo"])
    assert phrase(title, 0.0) == "job title is vp sales"
    assert phrase(title, 2.0) == "job title is a rare one"
    assert phrase(title, float("nan")) == "job title not given"
    city = Feature("p:city", "category", "property", "city", levels=["mumbai", "select"])
    assert phrase(city, 1.0) == "city not given"  # a form's placeholder is no answer, not "city = select"
    score = Feature("r:leads:score", "number", "rule", "leads score", "score")
    assert phrase(score, 75.0) == "rule score of 75 (model leads)"
    group = Feature("r:leads:g:fit", "number", "rule", "leads fit points", "score")
    assert phrase(group, 30.0) == "30 fit points (model leads)"
    visits = Feature("e:page_view:n30", "number", "event", "page view", "count", 30)
    assert phrase(visits, 0.0) == "no page view in 30 days"
    assert phrase(visits, 3.0) == "3 × page view in last 30 days"
    last = Feature("e:page_view:recency", "number", "event", "page view", "recency")
    assert phrase(last, 45.2) == "last page view 45 days ago" and phrase(last, float("nan")) == "no page view yet"
    free = Feature("p:is_free_email", "number", "property", "free e-mail address")
    assert phrase(free, 1.0, boolean=True) == "free e-mail address: yes"
    size = Feature("p:company_size", "number", "property", "company size")
    assert phrase(size, 250.0) == "company size of 250"
    for text in (phrase(f, v) for f, v in ((title, 0.0), (city, 1.0), (score, 75.0), (size, 250.0))):
        assert " = " not in text and not text.endswith(("+", "−")), text


def test_factor_writer_keeps_three_each_way_strongest_first() -> None:
    features = [Feature(f"p:n{i}", "number", "property", f"n{i}") for i in range(5)]
    plan = FeaturePlan(features, [], [], {f"n{i}": "number" for i in range(5)})
    x = np.arange(10, dtype=float).reshape(2, 5)
    contributions = np.array([[0.5, -0.2, 0.1, 0.3, -0.4], [0.0, 0.0, 0.0, 0.0, 0.0]])
    first, second = FactorWriter(plan).write(x, contributions).to_pylist()
    assert factor_lines(first) == ["+ n0 of 0", "+ n3 of 3", "+ n2 of 2", "− n4 of 4", "− n1 of 1"]
    assert factor_lines(second) == []


def test_property_labels_accept_yes_no_like_values_only(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    with ws.open_store() as store:
        store.con.execute("ALTER TABLE contacts ADD COLUMN converted VARCHAR")
        store.con.execute("INSERT INTO contacts (contact_id, converted) VALUES ('a', 'Yes'), ('b', 'no'), "
                          "('c', NULL), ('d', '1')")
        y, known = property_labels(store, "converted", pa.array(["a", "b", "c", "d", "e"]))
        assert y.tolist() == [True, False, False, True, False]
        assert known.tolist() == [True, True, False, True, False]
        store.con.execute("INSERT INTO contacts (contact_id, converted) VALUES ('f', 'maybe')")
        with pytest.raises(LeadscoreError, match="'maybe'"):
            property_labels(store, "converted", pa.array(["a"]))
        with pytest.raises(LeadscoreError, match="no such contact property"):
            property_labels(store, "convertd", pa.array(["a"]))


def test_stratified_split_is_seeded_and_keeps_the_rate() -> None:
    y = np.array([True] * 100 + [False] * 900)
    a, b, c = (stratified_split(y, 0.2, s) for s in (1, 1, 2))
    assert (a == b).all() and not (a == c).all()
    assert a.sum() == 200 and y[a].sum() == 20


def test_train_resolves_a_label_written_as_in_the_export(tmp_path: Path) -> None:
    """`--label Converted` names the column imports called `converted`, as for backtests."""
    ws = init_workspace(tmp_path / "ws")
    with ws.open_store() as store:
        store.con.execute("ALTER TABLE contacts ADD COLUMN converted VARCHAR")
        store.con.execute("INSERT INTO contacts (contact_id, converted) VALUES ('a', 'yes'), ('b', 'no')")
        with pytest.raises(LeadscoreError, match="have `converted` true"):  # resolved, then too few
            train_model(store, label="Converted", until=datetime(2025, 1, 1))
        with pytest.raises(LeadscoreError, match="no contact property `Convertd`"):
            train_model(store, label="Convertd", until=datetime(2025, 1, 1))
