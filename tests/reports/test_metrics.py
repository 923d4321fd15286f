"""Metrics against independent computations: scikit-learn for AUC, brute force for ties, hand values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from leadscore.reports.metrics import (
    average_ranks,
    by_decile,
    by_tier,
    calibration,
    gains_curve,
    roc_auc,
    top_share,
)


@pytest.mark.parametrize("seed", range(8))
def test_auc_matches_sklearn_on_random_data_with_many_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    scores = rng.integers(0, 6, n).astype(float)  # six distinct values: ties everywhere
    y = rng.random(n) < rng.uniform(0.05, 0.7)
    if y.all() or not y.any():
        y[0] = not y[0]
    assert roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)


def test_auc_by_hand_and_degenerate_cases() -> None:
    # positives {3, 2}, negatives {2, 1}: 3 beats both (2), 2 ties one and beats one (1.5) → 3.5/4
    assert roc_auc(np.array([1, 1, 0, 0], bool), np.array([3.0, 2.0, 2.0, 1.0])) == 0.875
    assert roc_auc(np.array([1, 0], bool), np.array([5.0, 5.0])) == 0.5
    assert roc_auc(np.array([1, 1], bool), np.array([1.0, 2.0])) is None
    assert roc_auc(np.array([], bool), np.array([])) is None


def test_average_ranks_share_tied_positions() -> None:
    assert list(average_ranks(np.array([10.0, 20.0, 10.0, 30.0, 20.0]))) == [1.5, 3.5, 1.5, 5.0, 3.5]


def _brute_force_top(y: list[int], s: list[float], k: int) -> float:
    """Expected converters in the top k over every order of the contacts that sorts them by score."""
    totals = []
    for perm in itertools.permutations(range(len(y))):
        if all(s[perm[i]] >= s[perm[i + 1]] for i in range(len(perm) - 1)):
            totals.append(sum(y[j] for j in perm[:k]))
    return sum(totals) / len(totals)


@pytest.mark.parametrize("seed", range(6))
def test_top_share_equals_random_tie_breaking_expectation(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = 7
    s = [float(v) for v in rng.integers(0, 3, n)]
    y = [int(v) for v in rng.random(n) < 0.4]
    if not any(y):
        y[0] = 1
    for fraction in (0.1, 0.2, 0.5):
        k = math.ceil(fraction * n)
        got = top_share(np.array(y, bool), np.array(s), fraction)
        expected = _brute_force_top(y, s, k)
        assert got.contacts == k
        assert got.converters == pytest.approx(expected)
        assert got.precision == pytest.approx(expected / k)
        assert got.capture == pytest.approx(expected / sum(y))
        assert got.lift == pytest.approx((expected / k) / (sum(y) / n))


def test_a_constant_score_has_lift_one() -> None:
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0], bool)
    t = top_share(y, np.zeros(10), 0.2)
    assert t.lift == pytest.approx(1.0) and t.capture == pytest.approx(0.2)


def test_gains_curve_runs_from_zero_to_everyone() -> None:
    y = np.array([1, 0, 1, 0], bool)
    curve = gains_curve(y, np.array([4.0, 3.0, 2.0, 1.0]), points=4)
    # best first: a converter, a non-converter, a converter, a non-converter
    assert curve == [(0.0, 0.0), (0.25, 0.5), (0.5, 0.5), (0.75, 1.0), (1.0, 1.0)]


def test_deciles_and_tiers_by_hand() -> None:
    score = np.arange(1.0, 21.0)  # 1 … 20
    y = score >= 19  # the two best convert
    days = np.where(y, np.array([10.0] * 20), np.nan)
    value = np.where(y, score * 100, np.nan)
    deciles = by_decile(y, score, days, value)
    assert [d.name for d in deciles] == [f"D{i}" for i in range(1, 11)]
    assert (deciles[0].contacts, deciles[0].converters, deciles[0].rate) == (2, 2, 1.0)
    assert (deciles[0].min_score, deciles[0].max_score) == (19.0, 20.0)
    assert deciles[0].avg_deal_value == 1950.0
    assert all(d.converters == 0 and d.avg_deal_value is None for d in deciles[1:])
    tier = np.where(score >= 15, "hot", "cold")
    low, high = by_tier(["cold", "hot", "empty"], tier, y, score, days, value)[:2]
    assert (low.contacts, low.converters, high.contacts, high.converters) == (14, 0, 6, 2)
    assert high.rate == pytest.approx(2 / 6) and high.avg_days_to_close == 10.0
    empty = by_tier(["cold", "hot", "empty"], tier, y, score, days, value)[2]
    assert (empty.contacts, empty.rate, empty.avg_days_to_close) == (0, None, None)


def test_calibration_by_hand() -> None:
    # the predictions of tests/reports/test_audits.py::test_predictive_calibration_by_hand
    p = np.array([0.9, 0.1, 0.7, 0.2, 0.05, 0.3, 0.1, 0.8])
    y = np.array([1, 0, 1, 1, 0, 0, 0, 0], bool)
    c = calibration(y, p)
    assert c.ece == pytest.approx(2.55 / 8)
    assert c.brier == pytest.approx(1.4925 / 8)
    assert c.auc == pytest.approx(12 / 15)
    occupied = {i: (b.contacts, b.observed_rate) for i, b in enumerate(c.bins) if b.contacts}
    assert occupied == {0: (1, 0.0), 1: (2, 0.0), 2: (1, 1.0), 3: (1, 0.0), 7: (1, 1.0), 8: (1, 0.0),
                        9: (1, 1.0)}
