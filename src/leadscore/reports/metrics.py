"""The numbers a backtest reports, computed from plain arrays so each can be checked by hand.

* **AUC**: the probability that a random converter scores higher than a random non-converter,
  ties counting one half — what scikit-learn's ``roc_auc_score`` computes (Mann–Whitney U over
  average ranks). 0.5 is a coin toss, 1.0 a perfect ranking. Implemented once, in
  ``predict.calibrate.roc_auc`` (the lower layer), shared with training.
* **Top-k% precision, lift and capture**: call the best-scored k% of contacts. Precision is the
  share of them that converted, lift is that precision over the base rate (2.0 = twice as good as
  calling at random), capture the share of all converters they hold. When the cut falls inside a
  group of equal scores, that group counts in proportion (as if ties were broken at random), so a
  model giving everyone the same score has lift exactly 1.
* **Calibration**: predicted probability against observed rate per bin; the expected calibration
  error (ECE) is the contact-weighted mean gap (``predict.calibrate.ece``, shared with training),
  the Brier score the mean squared error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# AUC, ECE and top-k% have one implementation, in predict.calibrate (re-exported here).
from leadscore.predictive.calibrate import Ranked, ece, probability_bins
from leadscore.predictive.calibrate import TopShare as TopShare
from leadscore.predictive.calibrate import average_ranks as average_ranks
from leadscore.predictive.calibrate import roc_auc as roc_auc
from leadscore.predictive.calibrate import top_share as top_share


def gains_curve(y: np.ndarray, score: np.ndarray, points: int = 50) -> list[tuple[float, float]]:
    """(share of contacts called, share of converters reached), from the best score down."""
    ranked = Ranked(y, score)
    out = [(0.0, 0.0)]
    for i in range(1, points + 1):
        f = i / points
        out.append((f, ranked.top(f).capture or 0.0))
    return out


@dataclass(frozen=True)
class BandStats:
    """Contacts of one tier or score band and how they converted."""

    name: str
    contacts: int
    converters: int
    rate: float | None
    avg_days_to_close: float | None
    avg_deal_value: float | None
    min_score: float | None = None
    max_score: float | None = None


def _mean(values: np.ndarray) -> float | None:
    v = values[~np.isnan(values)]
    return float(v.mean()) if v.size else None


def band_stats(name: str, y: np.ndarray, score: np.ndarray, days: np.ndarray,
               value: np.ndarray) -> BandStats:
    """Stats of one group of contacts; times and values average over its converters only."""
    n = int(y.size)
    conv = int(np.asarray(y, dtype=bool).sum())
    yy = np.asarray(y, dtype=bool)
    return BandStats(name, n, conv, conv / n if n else None,
                     _mean(days[yy]), _mean(value[yy]),
                     float(score.min()) if n else None, float(score.max()) if n else None)


def by_tier(tiers: list[str], tier: np.ndarray, y: np.ndarray, score: np.ndarray, days: np.ndarray,
            value: np.ndarray) -> list[BandStats]:
    """One row per tier of the model, lowest first (empty tiers included)."""
    return [band_stats(t, y[tier == t], score[tier == t], days[tier == t], value[tier == t])
            for t in tiers]


def by_decile(y: np.ndarray, score: np.ndarray, days: np.ndarray, value: np.ndarray,
              contact_id: np.ndarray | None = None, bands: int = 10) -> list[BandStats]:
    """Score bands of equal size, best first ("D1" = top 10%); ties split by contact id."""
    n = y.size
    if n == 0:
        return []
    keys = contact_id if contact_id is not None else np.arange(n)
    order = np.lexsort((keys, -score))
    out = []
    for i, idx in enumerate(np.array_split(order, bands)):
        if idx.size:
            out.append(band_stats(f"D{i + 1}", y[idx], score[idx], days[idx], value[idx]))
    return out


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    contacts: int
    mean_predicted: float | None
    observed_rate: float | None


@dataclass(frozen=True)
class Calibration:
    bins: list[CalibrationBin]
    ece: float | None
    brier: float | None
    auc: float | None
    contacts: int
    converters: int


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> Calibration:
    """Reliability curve on ``bins`` equal-width probability bins, ECE, Brier score and AUC.

    Bins, ECE and AUC are ``predict.calibrate``'s, so the report and ``leadscore train`` give the
    same figure for the same probabilities.
    """
    y = np.asarray(y, dtype=bool)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    n = y.size
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = probability_bins(p, bins)
    out = []
    for b in range(bins):
        m = which == b
        k = int(m.sum())
        mean_p = float(p[m].mean()) if k else None
        rate = float(y[m].mean()) if k else None
        out.append(CalibrationBin(float(edges[b]), float(edges[b + 1]), k, mean_p, rate))
    brier = float(np.mean((p - y) ** 2)) if n else None
    return Calibration(out, ece(y, p, bins) if n else None, brier, roc_auc(y, p), n, int(y.sum()))
