"""Where to draw the sales line, and who is stuck below it.

* ``threshold_for_precision``: the lowest score ``t`` such that contacts scoring ≥ t converted at
  least at the target rate in the backtest — the widest SQL tier that still meets the precision
  sales asked for ("half the leads we get must buy").
* ``threshold_for_capacity``: sales can call N leads a week, so over the horizon they can call
  N × horizon/7; the threshold is the score of the last lead they reach, best first.
* ``stuck_leads``: contacts whose stored tier is a middle tier (neither the lowest nor the
  highest) and who entered it more than N days before the latest score run — leads nobody moves on.
  "Entered" is read from ``score_history`` in as-of order: the earliest as-of of the unbroken run
  of rows in that tier since the contact was last seen in another one (history only records
  changes, so a run without a row left the tier as it was).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from leadscore.engine.run import last_as_of
from leadscore.model.account_spec import AccountModel
from leadscore.model.loader import AnyModel
from leadscore.storage.store import Store


@dataclass(frozen=True)
class Threshold:
    """A candidate lower bound for the top tier and what it would have given in the backtest."""

    reason: str
    score: float
    contacts: int
    converters: int
    precision: float
    recall: float | None


def threshold_at(y: np.ndarray, s: np.ndarray, t: float, reason: str) -> Threshold:
    """Who a bound ``score ≥ t`` selects: contacts, converters, precision and recall."""
    sel = s >= t
    k = int(sel.sum())
    c = int(y[sel].sum())
    total = int(y.sum())
    return Threshold(reason, float(t), k, c, c / k if k else 0.0, c / total if total else None)


def threshold_for_precision(y: np.ndarray, score: np.ndarray, target: float) -> Threshold | None:
    """Lowest threshold whose selection (score ≥ t) converts at ≥ ``target``; None if none does."""
    if not 0 < target <= 1:
        raise ValueError("target precision must be in (0, 1]")
    y = np.asarray(y, dtype=bool)
    if y.size == 0:
        return None
    values = np.unique(score)[::-1]  # candidate thresholds, best first
    order = np.argsort(-score, kind="mergesort")
    ys, ss = y[order], score[order]
    cum_pos = np.cumsum(ys)
    # selection size for each threshold = number of scores ≥ it
    sizes = np.searchsorted(-ss, -values, side="right")
    precision = cum_pos[sizes - 1] / sizes
    ok = np.flatnonzero(precision >= target - 1e-12)
    if ok.size == 0:
        return None
    return threshold_at(y, score, float(values[ok.max()]), f"precision ≥ {target:.0%}")


def threshold_for_capacity(y: np.ndarray, score: np.ndarray, per_week: int,
                           horizon_days: float) -> Threshold | None:
    """The score of the last lead sales can call in the horizon at ``per_week`` calls a week."""
    y = np.asarray(y, dtype=bool)
    if y.size == 0 or per_week < 1:
        return None
    k = min(y.size, max(1, math.floor(per_week * horizon_days / 7)))
    t = float(np.sort(score)[::-1][k - 1])
    return threshold_at(y, score, t, f"{per_week} calls a week over {horizon_days:g} days")


@dataclass
class StuckLeads:
    """Contacts sitting in a middle tier for longer than ``days`` days at the latest score run."""

    model: str
    as_of: datetime | None
    days: int
    middle_tiers: list[str]
    total_in_middle: int
    stuck: int
    by_tier: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)


def stuck_leads(store: Store, model: AnyModel, *, days: int = 30, examples: int = 10) -> StuckLeads:
    """Middle-tier contacts who entered that tier more than ``days`` days before the latest run.

    Read from stored ``scores`` and ``score_history``: it measures the scores as users saw them,
    so it needs score runs at several dates to find anyone. For an account model: companies, from
    ``account_scores`` and ``account_score_history`` (an example's ``contact_id`` is the company's id).
    """
    scores, history, key = (("account_scores", "account_score_history", "company_id")
                            if isinstance(model, AccountModel) else ("scores", "score_history", "contact_id"))
    tiers = list(model.tiers)
    middle = tiers[1:-1]
    when = last_as_of(store, model.name)
    result = StuckLeads(model.name, when, days, middle, 0, 0)
    if when is None or not middle:
        return result
    rows = store.con.execute(
        f"""WITH cur AS (
               SELECT {key} AS contact_id, tier, score FROM {scores} WHERE model = ? AND list_contains(?, tier)),
           h AS (SELECT {key} AS contact_id, tier, as_of FROM {history} WHERE model = ?),
           last_other AS (
               SELECT h.contact_id, max(h.as_of) AS t FROM h JOIN cur USING (contact_id)
               WHERE h.tier <> cur.tier GROUP BY h.contact_id),
           entered AS (
               SELECT c.contact_id, c.tier, c.score, min(h.as_of) AS since
               FROM cur c JOIN h ON h.contact_id = c.contact_id AND h.tier = c.tier
               LEFT JOIN last_other l ON l.contact_id = c.contact_id
               WHERE l.t IS NULL OR h.as_of > l.t
               GROUP BY ALL)
           SELECT contact_id, tier, score, since,
                  (epoch_us(?::TIMESTAMP) - epoch_us(since)) / 86400000000.0 AS days_in
           FROM entered ORDER BY days_in DESC, contact_id""",
        [model.name, middle, model.name, when],
    ).fetchall()
    result.total_in_middle = len(rows)
    stuck = [r for r in rows if r[4] is not None and r[4] > days]
    result.stuck = len(stuck)
    result.by_tier = {t: sum(1 for r in stuck if r[1] == t) for t in middle}
    result.examples = [{"contact_id": r[0], "tier": r[1], "score": r[2], "since": r[3],
                        "days": r[4]} for r in stuck[:examples]]
    return result
