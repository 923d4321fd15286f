"""LightGBM's raw score and contributions come from one pass of the trees."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from leadscore.predictive import learners
from leadscore.predictive.features import Feature, FeaturePlan
from leadscore.predictive.learners import GradientBoosting


def _trained(seed: int = 3) -> tuple[GradientBoosting, np.ndarray]:
    """A small model on numbers with missing values and a category (LightGBM's categorical splits)."""
    rng = np.random.default_rng(seed)
    n = 4_000
    x = rng.normal(size=(n, 5))
    x[:, 4] = rng.integers(0, 12, n)
    x[rng.random(x.shape) < 0.1] = np.nan
    signal = np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * (np.nan_to_num(x[:, 4]) % 3 - 1)
    y = signal + rng.normal(size=n) > 0.3
    features = [Feature(f"p:n{j}", "number", "property", f"n{j}") for j in range(4)]
    features.append(Feature("p:c", "category", "property", "c", levels=[str(k) for k in range(11)]))
    plan = FeaturePlan(features, [], [], {})
    model = GradientBoosting.fit(plan, x[:3_000], y[:3_000], seed=seed, valid=(x[3_000:], y[3_000:]))
    return model, x


@pytest.mark.parametrize("chunk", [learners.CONTRIB_CHUNK, 777])
def test_raw_score_from_leaf_values_equals_lightgbms(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learners, "CONTRIB_CHUNK", chunk)  # 777: several chunks, a short last one
    model, x = _trained()
    assert model.rounds > 2
    raw, contributions = model.score_with_contributions(x)
    expected = model.booster_.predict(x, raw_score=True, num_iteration=model.rounds)
    assert np.abs(raw - expected).max() <= 1e-9
    assert np.allclose(raw, model.raw_score(x), rtol=0, atol=1e-9)
    # the contributions still add up to the raw score minus one constant (the average)
    offset = raw - contributions.sum(axis=1)
    assert np.ptp(offset) < 1e-5
    assert np.allclose(contributions, model.contributions(x))


def test_the_trees_run_once_per_prediction(monkeypatch: pytest.MonkeyPatch) -> None:
    model, x = _trained()
    real = model.booster_.predict
    calls: list[dict[str, Any]] = []

    def counting(data: np.ndarray, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(data, **kwargs)

    monkeypatch.setattr(model.booster_, "predict", counting)
    model.score_with_contributions(x)
    assert len(calls) == 1 and calls[0].get("pred_leaf") and not calls[0].get("raw_score")


def test_a_reloaded_model_scores_the_same() -> None:
    model, x = _trained()
    again = GradientBoosting.from_text(model.to_text())
    raw, contributions = again.score_with_contributions(x)
    assert np.abs(raw - again.booster_.predict(x, raw_score=True)).max() <= 1e-9
    assert np.array_equal(raw, model.score_with_contributions(x)[0])
    assert np.array_equal(contributions, model.score_with_contributions(x)[1])
