"""Calibration (raw log-odds → probability) and the metrics a marketer is shown.

A probability is only useful if it means what it says: of the leads given 20%, about one in five
should convert. Boosted trees and regularised regressions are ranked well but often over- or
under-confident, so the raw score goes through a calibrator fitted on validation rows:

* Platt: a logistic curve on the raw score (two numbers; smooth, needs little data);
* isotonic: a monotone step function (more flexible, needs more data).

Which one is chosen on validation, by cross-fitting: each half of the validation rows is
calibrated by a calibrator fitted on the other half, and the method with the lower Brier score
wins. The metrics reported are computed on those cross-fitted probabilities, so they are honest
(no row is scored by a calibrator that saw its label).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ECE_BINS = 10


@dataclass
class Calibrator:
    """A fitted calibration map, stored as JSON numbers."""

    method: str  # "platt" | "isotonic"
    params: dict[str, list[float]]

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "platt":
            a, b = self.params["ab"]
            return np.asarray(1.0 / (1.0 + np.exp(-(a * raw + b))))
        xs, ys = np.asarray(self.params["x"]), np.asarray(self.params["y"])
        return np.asarray(np.interp(raw, xs, ys))

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibrator:
        return cls(str(data["method"]), {k: [float(v) for v in vals] for k, vals in data["params"].items()})


def fit_calibrator(method: str, raw: np.ndarray, y: np.ndarray) -> Calibrator:
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y.astype(int))
        return Calibrator("platt", {"ab": [float(model.coef_[0][0]), float(model.intercept_[0])]})
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y.astype(float))
    return Calibrator("isotonic", {"x": [float(v) for v in iso.X_thresholds_],
                                   "y": [float(v) for v in iso.y_thresholds_]})


def choose_calibration(raw: np.ndarray, y: np.ndarray, seed: int) -> tuple[Calibrator, np.ndarray]:
    """Pick Platt or isotonic by cross-fitted Brier score; returns the winner fitted on all rows
    and the cross-fitted probabilities the reported metrics are computed from."""
    rng = np.random.default_rng(seed)
    half = np.zeros(len(y), dtype=bool)
    for value in (False, True):
        rows = np.flatnonzero(y == value)
        rng.shuffle(rows)
        half[rows[: len(rows) // 2]] = True
    best: tuple[float, str, np.ndarray] | None = None
    for method in ("platt", "isotonic"):
        crossed = np.empty(len(y))
        for part in (half, ~half):
            crossed[part] = fit_calibrator(method, raw[~part], y[~part])(raw[part])
        brier = float(np.mean((crossed - y) ** 2))
        if best is None or brier < best[0] - 1e-12:
            best = (brier, method, crossed)
    assert best is not None
    return fit_calibrator(best[1], raw, y), best[2]


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random converter is ranked above a random non-converter."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p)) if y.sum() > 0 else float("nan")


def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float:
    """Conversion rate of the top 10% by probability over the overall rate (3.0 = three times)."""
    if len(y) == 0 or y.mean() == 0:
        return float("nan")
    k = max(1, int(np.ceil(0.1 * len(y))))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].mean() / y.mean())


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: the average gap between predicted and observed rates over ten
    equal-width probability bins, weighted by how many leads fall in each."""
    if len(y) == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return float(total / len(y))


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Everything shown after training and by ``leadscore models``."""
    return {"auc": auc(y, p), "average_precision": average_precision(y, p),
            "top_decile_lift": top_decile_lift(y, p), "ece": ece(y, p),
            "base_rate": float(y.mean()) if len(y) else float("nan"),
            "rows": float(len(y)), "positives": float(y.sum())}
