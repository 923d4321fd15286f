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

AUC, ECE and top-k% precision/lift/capture live here once, for training and for the backtests
(``reports.metrics`` re-exports them; their definitions are spelled out there).
"""

from __future__ import annotations

import math
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


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC with ties = ½; None when there are no positives or no negatives.

    The probability that a random converter scores higher than a random non-converter: the
    Mann–Whitney U over average ranks, what scikit-learn's ``roc_auc_score`` computes (tested
    against it with many ties). The one implementation: ``reports.metrics`` imports it.
    """
    y = np.asarray(y, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(s)
    u = float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their positions."""
    order = np.argsort(values, kind="mergesort")
    sorted_vals = values[order]
    starts = np.r_[True, sorted_vals[1:] != sorted_vals[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    counts = np.diff(np.r_[first, values.size])
    mean_rank = first + (counts + 1) / 2.0  # positions first+1 .. first+count, averaged
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = mean_rank[group]
    return ranks


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random converter is ranked above a random non-converter
    (``roc_auc``; NaN instead of None when one class is missing, for the metrics JSON)."""
    value = roc_auc(y, p)
    return float("nan") if value is None else value


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p)) if y.sum() > 0 else float("nan")


@dataclass(frozen=True)
class TopShare:
    """What calling the best-scored ``fraction`` of contacts yields."""

    fraction: float
    contacts: float  # k = ceil(fraction × n)
    converters: float  # expected converters among them (ties shared pro rata)
    precision: float
    lift: float | None
    capture: float | None


class Ranked:
    """Scores sorted best first with running converter counts: each top-k% query is then O(log n)."""

    def __init__(self, y: np.ndarray, score: np.ndarray):
        order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
        self.s = np.asarray(score, dtype=np.float64)[order]
        self.cum = np.r_[0, np.cumsum(np.asarray(y, dtype=bool)[order])]
        self.n = int(self.s.size)
        self.total = float(self.cum[-1])

    def top(self, fraction: float) -> TopShare:
        if self.n == 0:
            return TopShare(fraction, 0, 0, 0.0, None, None)
        k = min(self.n, max(1, math.ceil(fraction * self.n - 1e-9)))
        cut = self.s[k - 1]
        # ties are contiguous in the sorted order: [first, last) is the group scoring `cut`
        first = int(np.searchsorted(-self.s, -cut, side="left"))
        last = int(np.searchsorted(-self.s, -cut, side="right"))
        at_cut = float(self.cum[last] - self.cum[first])
        converters = float(self.cum[first]) + (k - first) * at_cut / (last - first)
        precision = converters / k
        base = self.total / self.n
        return TopShare(fraction, float(k), converters, precision,
                        precision / base if base > 0 else None,
                        converters / self.total if self.total > 0 else None)


def top_share(y: np.ndarray, score: np.ndarray, fraction: float) -> TopShare:
    """Precision, lift and capture of the top ``fraction`` by score (ties at the cut pro rata)."""
    return Ranked(y, score).top(fraction)


def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float:
    """Conversion rate of the top 10% by probability over the overall rate (3.0 = three times);
    the backtests' ``top_share`` (ties at the cut shared pro rata), NaN without converters."""
    lift = top_share(y, p, 0.10).lift
    return float("nan") if lift is None else lift


def probability_bins(p: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """The equal-width bin of each probability: ``[k/bins, (k+1)/bins)``, 1.0 in the last bin.

    ``floor(p × bins)`` rather than a search among ``linspace`` edges: 0.3, 0.6 and 0.7 are a hair
    below ``linspace(0, 1, 11)[3]``, ``[6]`` and ``[7]`` and would fall one bin low there (isotonic
    calibration often outputs such round shares).
    """
    clipped = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    return np.minimum((clipped * bins).astype(np.int64), bins - 1)


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: the average gap between predicted and observed rates over ten
    equal-width probability bins (``probability_bins``), weighted by how many leads fall in each.
    Probabilities outside [0, 1] are clipped. The one implementation: ``reports.metrics`` uses it."""
    y = np.asarray(y, dtype=np.float64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    if len(y) == 0:
        return float("nan")
    which = probability_bins(p, bins)
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
