"""Is the predictive score's probability honest, and is it drifting?

Reads the ``predictions`` table (one latest row per predictive model and contact, written by
``leadscore predict``) and measures each probability against the outcome in the horizon after
that row's own ``as_of`` — the same outcome definition as a backtest and as training
(``predict.conversion``, through ``reports.outcomes``).
Only rows whose horizon has passed (``as_of + horizon ≤`` the latest thing the store knows) are
measurable; contacts that had already converted at the prediction's ``as_of`` are left out.

Drift: the same figures per calendar month of ``as_of``. A month whose mean predicted
probability drifts away from its observed rate is the sign to retrain.

No predictions table, or an empty one, is a normal state: the result is an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from leadscore.predictive.conversion import won_by_contact_sql
from leadscore.reports.metrics import Calibration, calibration
from leadscore.reports.outcomes import Outcome, data_end, label_truth_sql, resolve_label
from leadscore.storage.store import Store


@dataclass
class DriftPoint:
    month: str
    contacts: int
    mean_predicted: float
    observed_rate: float


@dataclass
class PredictiveCalibration:
    model: str
    measurable: int  # rows whose horizon has passed
    pending: int  # rows still inside their horizon
    calibration: Calibration | None
    drift: list[DriftPoint] = field(default_factory=list)


def has_predictions(store: Store) -> bool:
    row = store.con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'predictions'").fetchone()
    return bool(row and row[0])


def _rows(store: Store, outcome: Outcome) -> list[tuple[Any, ...]]:
    """(model, probability, as_of, converted, measurable) per prediction row."""
    if outcome.label:
        truth = label_truth_sql(store, resolve_label(store, outcome.label))
        return store.con.execute(
            f"""SELECT p.model, p.probability, p.as_of, coalesce({truth}, false), {truth} IS NOT NULL
                FROM predictions p JOIN contacts c USING (contact_id)""").fetchall()
    end = data_end(store)
    rows: list[tuple[Any, ...]] = []
    # One as-of at a time (a model's rows share the as-of of its run), so each uses the shared
    # won-in-window SQL with plain parameters.
    for (as_of,) in store.con.execute("SELECT DISTINCT as_of FROM predictions ORDER BY as_of").fetchall():
        rows += store.con.execute(
            f"""SELECT p.model, p.probability, p.as_of, coalesce(w.won, false), $end <= $known
                FROM predictions p
                LEFT JOIN ({won_by_contact_sql("$as_of", "$end")}) w USING (contact_id)
                WHERE p.as_of = $as_of AND NOT coalesce(w.before, false)""",
            {"as_of": as_of, "end": as_of + outcome.horizon, "known": end}).fetchall()
    return rows


def predictive_calibration(store: Store, outcome: Outcome, *, bins: int = 10) -> list[PredictiveCalibration]:
    """Calibration and monthly drift of every predictive model with rows in ``predictions``."""
    if not has_predictions(store):
        return []
    rows = _rows(store, outcome)
    out = []
    for name in sorted({r[0] for r in rows}):
        mine = [r for r in rows if r[0] == name]
        ok = [r for r in mine if r[4]]
        result = PredictiveCalibration(name, len(ok), len(mine) - len(ok), None)
        if ok:
            p = np.array([r[1] for r in ok], dtype=np.float64)
            y = np.array([bool(r[3]) for r in ok])
            result.calibration = calibration(y, p, bins)
            months: dict[str, list[tuple[float, bool]]] = {}
            for r in ok:
                when: datetime = r[2]
                months.setdefault(f"{when:%Y-%m}", []).append((float(r[1]), bool(r[3])))
            result.drift = [DriftPoint(m, len(v), float(np.mean([x for x, _ in v])),
                                       float(np.mean([c for _, c in v])))
                            for m, v in sorted(months.items())]
        out.append(result)
    return out
