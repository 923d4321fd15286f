"""Rule impact, thresholds, stuck leads and predictive calibration against hand-computed answers."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from tests.reports.handdata import SCORES, TINY_MODEL, T

from leadscore.engine.run import publish
from leadscore.model.loader import load_model, parse_model
from leadscore.reports.audit_rules import rule_impact, two_proportion_z
from leadscore.reports.calibration import predictive_calibration
from leadscore.reports.frame import ScoredFrame, score_frame
from leadscore.reports.outcomes import Outcome
from leadscore.reports.thresholds import stuck_leads, threshold_for_capacity, threshold_for_precision
from leadscore.scoring import score_all
from leadscore.workspace import Workspace

OUTCOME = Outcome(timedelta(days=30))


def _frame(ws: Workspace) -> ScoredFrame:
    with ws.open_store(read_only=True) as store:
        return score_frame(store, parse_model(TINY_MODEL).model, T, OUTCOME)


def test_rule_impact_by_hand(tiny_ws: Workspace) -> None:
    rows = {r.rule: r for r in rule_impact(_frame(tiny_ws))}
    exec_, demo, spam = rows["exec"], rows["demo"], rows["spam"]
    assert (exec_.fired, exec_.fire_rate, exec_.rate_fired, exec_.rate_not_fired) == (4, 0.5, 0.25, 0.5)
    assert exec_.lift == pytest.approx(2 / 3)
    assert exec_.z == pytest.approx((0.25 - 0.5) / np.sqrt(0.375 * 0.625 * 0.5))
    assert (demo.fired, demo.rate_fired, demo.rate_not_fired) == (3, pytest.approx(2 / 3), 0.2)
    assert demo.lift == pytest.approx(16 / 9)
    assert (spam.fired, spam.rate_fired, spam.rate_not_fired, spam.lift) == (2, 0.0, 0.5, 0.0)
    assert exec_.points == "+10" and spam.points == "-5" and spam.sign == -1
    assert all(not r.flags for r in rows.values())  # 8 contacts: too few to call anything clear


FLAG_MODEL = """\
version: 1
name: flags
groups:
  g:
    rules:
      - {name: everyone, when: {property: job_title, is_set: true}, points: 5}
      - {name: nobody, when: {property: job_title, equals: Pope}, points: 5}
      - {name: bad sign, when: {property: job_title, equals: Intern}, points: 10}
      - {name: twin a, when: {property: country, equals: FR}, points: 3}
      - {name: twin b, when: {property: city, equals: Paris}, points: 3}
      - {name: good penalty, when: {property: industry, equals: Retail}, points: -5}
"""


def _synthetic_frame() -> ScoredFrame:
    """200 contacts; columns of `fired` set by hand so each rule earns exactly one kind of flag."""
    n = 200
    y = np.zeros(n, bool)
    y[::4] = True  # 50 converters, base rate 25%
    fired = np.zeros((n, 6), bool)
    fired[:195, 0] = True  # 97.5%: almost everyone
    fired[:100, 2] = True
    fired[:100, 2] &= ~y[:100]  # bad sign: fires on 75 non-converters of the first half
    fired[100:160, 3] = True
    fired[100:159, 4] = True  # twin b: 59 of twin a's 60 → Jaccard 59/60
    fired[:, 5] = y | (np.arange(n) % 4 == 1)  # good penalty: fires on all converters (+50 others)
    model = parse_model(FLAG_MODEL).model
    return ScoredFrame(model, T, OUTCOME, np.array([f"c{i:03d}" for i in range(n)], object),
                       np.zeros(n), np.array(["cold"] * n, object), fired, fired * 1.0, y,
                       np.full(n, np.nan), np.full(n, np.nan))


def test_rule_flags() -> None:
    rows = {r.rule: r for r in rule_impact(_synthetic_frame())}
    assert rows["everyone"].flags == ["fires on almost everyone"]
    assert rows["nobody"].flags == ["never fires"]
    assert rows["bad sign"].flags == ["contradicts its sign: converts worse when it fires"]
    assert rows["twin a"].flags == ["near-duplicate of `twin b`"]
    assert rows["twin b"].flags == ["near-duplicate of `twin a`"]
    assert rows["good penalty"].flags == ["contradicts its sign: converts better when it fires"]


def test_two_proportion_z_by_hand() -> None:
    # 30/100 vs 20/100: pooled 0.25, se = sqrt(0.25 * 0.75 * 0.02) = 0.061237…
    assert two_proportion_z(30, 100, 20, 100) == pytest.approx(0.1 / np.sqrt(0.25 * 0.75 * 0.02))
    assert two_proportion_z(0, 0, 3, 10) is None and two_proportion_z(0, 5, 0, 5) is None


def test_thresholds_by_hand(tiny_ws: Workspace) -> None:
    f = _frame(tiny_ws)
    # score ≥ t → precision: 25 → 1/2, 15 → 2/3, 10 → 2/4, 5 → 2/5, 0 → 3/7, -5 → 3/8
    t = threshold_for_precision(f.converted, f.score, 0.5)
    assert t is not None and (t.score, t.contacts, t.converters) == (10.0, 4, 2)
    assert t.recall == pytest.approx(2 / 3)
    t = threshold_for_precision(f.converted, f.score, 0.6)
    assert t is not None and (t.score, t.contacts, t.precision) == (15.0, 3, pytest.approx(2 / 3))
    assert threshold_for_precision(f.converted, f.score, 0.7) is None
    t = threshold_for_precision(f.converted, f.score, 0.375)
    assert t is not None and t.score == -5.0 and t.contacts == 8
    # 1 call a week for 30 days: floor(30 / 7) = 4 leads; the 4th best score is 10
    c = threshold_for_capacity(f.converted, f.score, 1, 30)
    assert c is not None and (c.score, c.contacts, c.converters) == (10.0, 4, 2)
    assert sorted(SCORES.values(), reverse=True)[3] == 10.0


def test_stuck_leads_from_history(tiny_ws: Workspace) -> None:
    with tiny_ws.open_store() as store:
        publish(store, load_model(tiny_ws.models_dir / "tiny.yml"))
        assert stuck_leads(store, parse_model(TINY_MODEL).model).as_of is None  # no run yet
        for when in (datetime(2025, 3, 1), datetime(2025, 5, 1), T):
            score_all(store, as_of=when)
        s = stuck_leads(store, parse_model(TINY_MODEL).model, days=30)
    # mid at T: b (CEO, mid since the first run, 03-01: 92 days) and c (demo 05-20: mid since T)
    assert s.middle_tiers == ["mid"] and s.total_in_middle == 2
    assert s.stuck == 1 and s.by_tier == {"mid": 1}
    assert s.examples[0]["contact_id"] == "b" and s.examples[0]["days"] == 92.0
    assert s.examples[0]["since"] == datetime(2025, 3, 1)


def _model_row(store: object, name: str, version: int, validation: str) -> None:
    store.con.execute(  # type: ignore[attr-defined]
        "INSERT INTO predictive_models VALUES (?, ?, ?, NULL, '0', 1, 'won', 90, ?, [?], 'logistic', 'platt', "
        "?, '{}', NULL, 'contact')", [name, version, T, T, T, f'{{"validation": "{validation}", "auc": 0.8}}'])


def test_predictive_calibration_by_hand(tiny_ws: Workspace) -> None:
    """Measured on the held-out rows training kept, never on the predictions table: a model scored
    on the rows it learned from looks better calibrated than it is."""
    with tiny_ws.open_store() as store:
        assert predictive_calibration(store) == []  # no predictive model
        _model_row(store, "p1", 1, "newest cut-off")
        held_out = [("a", 0.9, True), ("b", 0.1, False), ("c", 0.7, True), ("d", 0.2, True),
                    ("e", 0.05, False), ("f", 0.3, False), ("i", 0.1, False), ("j", 0.8, False)]
        for cid, p, y in held_out:
            store.con.execute("INSERT INTO predictive_holdout VALUES ('p1', 1, ?, ?, ?, ?)", [cid, T, p, y])
        # in-sample predictions (perfect, as a model on its own training rows can be): not read
        store.con.execute("INSERT INTO predictions VALUES ('p1', 1, 'a', 1.0, 'low', NULL, ?, ?)", [T, T])
        _model_row(store, "p2", 1, "seeded random 20%")  # trained before held-out rows were kept
        result = {c.model: c for c in predictive_calibration(store)}
    p1 = result["p1"]
    assert p1.contacts == 8 and p1.calibration is not None
    assert p1.calibration.ece == pytest.approx(2.55 / 8)  # worked out in test_metrics
    assert p1.calibration.brier == pytest.approx(1.4925 / 8)
    assert p1.calibration.converters == 3 and not p1.honest  # ECE 0.32: far above the threshold
    assert "newest cut-off" in p1.held_out and "time split" in p1.held_out
    assert (result["p2"].contacts, result["p2"].calibration) == (0, None)


def test_honest_only_below_the_documented_threshold(tiny_ws: Workspace) -> None:
    from leadscore.predictive.calibrate import ECE_HONEST
    from leadscore.reports.findings import _predictive_findings

    with tiny_ws.open_store() as store:
        _model_row(store, "p", 1, "seeded random 20%")
        for i in range(100):  # 30% predicted, 30% observed: calibrated
            store.con.execute("INSERT INTO predictive_holdout VALUES ('p', 1, ?, ?, 0.3, ?)", [f"k{i}", T, i < 30])
        [cal] = predictive_calibration(store)
    assert cal.honest and cal.calibration is not None and cal.calibration.ece is not None
    assert cal.calibration.ece < ECE_HONEST and "random 20%" in cal.held_out
    [line] = _predictive_findings([cal])
    assert f"honest (calibration error below {ECE_HONEST})" in line
    cal.honest = False  # above the threshold, never "honest"
    assert "honest" not in _predictive_findings([cal])[0]


def test_rule_findings_say_what_to_do_once_per_problem() -> None:
    from leadscore.reports.findings import _rule_findings

    text = _rule_findings(rule_impact(_synthetic_frame()))
    assert any(t.startswith("The 'everyone' rule fires on 98% of contacts") for t in text)
    assert any(t.startswith("The 'nobody' rule fires on 0 contacts") for t in text)
    bad = next(t for t in text if t.startswith("The 'bad sign' rule (+10)"))
    # fires on the 75 non-converters among the first 100; the other 125 hold all 50 converters: 40%
    assert "fires on 38% of contacts, who convert at 0.0% against 40.0% for the rest: consider lowering" in bad
    assert any("'good penalty' rule (-5) marks contacts who convert better" in t for t in text)
    assert sum("near-duplicate" in t for t in text) == 1  # one sentence for the pair, not two
