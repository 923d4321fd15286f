"""Prediction runs: probability, priority bucket and top factors for every contact, plus drift checks.

A run computes the same features as training at ``as_of`` (default now; a past moment gives an
honest backtest), applies the stored learner and calibration map, and replaces the model's rows
in ``predictions`` in one transaction, recording the run in ``prediction_runs`` and setting the
leads list's priorities (``storage.lead_rows``) in the same transaction.

Priority is by quantile of the scored base, like HubSpot's contact priority: the top
``PRIORITY_SHARES["very high"]`` of contacts by probability are "very high", and so on down to
"low". A lead's bucket therefore says where it stands among today's leads; its probability says
how likely it is to convert.

Drift: the distribution of today's probabilities is compared with the training one by the
population stability index (PSI, over the training deciles; above ``PSI_WARN`` the population has
moved), and the mean probability with the training base rate. Either warns: retrain.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from leadscore.predictive.artefact import PredictiveModel, load_predictive_model
from leadscore.predictive.factors import FactorWriter
from leadscore.predictive.features import FeaturePlan, encode, raw_features
from leadscore.storage import lead_rows
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

#: Share of the scored base in each bucket, from the top.
PRIORITY_SHARES: dict[str, float] = {"very high": 0.10, "high": 0.20, "medium": 0.30, "low": 0.40}
PSI_WARN = 0.2
#: Mean probability vs training base rate: warn beyond this relative change (and 1 point absolute).
BASE_RATE_WARN = 0.3


@dataclass
class PredictResult:
    model: str
    model_version: int
    as_of: datetime
    contacts: int
    mean_probability: float
    psi: float
    priority_counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    #: the leads with the highest probability, when asked for (``top_predictions``)
    top: list[TopPrediction] = field(default_factory=list)
    #: ``contact``, or ``account``: then ``contacts`` counts companies and ``top`` holds company ids
    level: str = "contact"


@dataclass(frozen=True)
class TopPrediction:
    contact_id: str
    probability: float
    priority: str
    reasons: list[str]


def top_predictions(store: Store, model: str, n: int) -> list[TopPrediction]:
    """The ``n`` contacts with the highest stored probability under ``model``, with their reasons."""
    from leadscore.predictive.factors import factor_lines

    rows = store.con.execute(
        "SELECT contact_id, probability, priority, factors FROM predictions WHERE model = ? "
        "ORDER BY probability DESC, contact_id LIMIT ?", [model, n]).fetchall()
    return [TopPrediction(cid, float(p), priority, factor_lines(factors)) for cid, p, priority, factors in rows]


def priorities(p: np.ndarray) -> np.ndarray:
    """The bucket of each probability by its quantile among ``p`` (ties share a bucket)."""
    out = np.full(len(p), "low", dtype=object)
    if len(p) == 0:
        return out
    top = 0.0
    thresholds = []
    for name, share in PRIORITY_SHARES.items():
        top += share
        thresholds.append((name, float(np.quantile(p, 1.0 - top)) if top < 1 else -math.inf))
    for name, threshold in reversed(thresholds):
        out[p >= threshold] = name
    return out


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index between two binned distributions (0 = same; > 0.2 = moved)."""
    e = np.clip(np.asarray(expected), 1e-4, None)
    a = np.clip(np.asarray(actual), 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _drift(model: PredictiveModel, p: np.ndarray) -> tuple[float, list[str]]:
    warnings = []
    edges = np.asarray(model.score_edges)
    counts = np.bincount(np.searchsorted(edges, p, side="right"), minlength=len(edges) + 1)
    value = psi(model.score_shares, (counts / max(len(p), 1)).tolist()) if len(p) else 0.0
    if value > PSI_WARN:
        warnings.append(f"the probabilities have drifted from training (PSI {value:.2f} > {PSI_WARN}): "
                        "today's leads no longer look like the ones the model learned from; retrain "
                        "with `leadscore train`")
    base = float(model.metrics.get("base_rate", float("nan")))
    mean = float(p.mean()) if len(p) else float("nan")
    if base == base and mean == mean and abs(mean - base) > max(0.01, BASE_RATE_WARN * base):
        warnings.append(f"the mean predicted probability is {mean:.1%} against a base rate of {base:.1%} "
                        "in training: the mix of leads or the conversion rate has changed; retrain "
                        "when recent outcomes are in")
    return value, warnings


def predict_contacts(store: Store, *, name: str | None = None, as_of: datetime | None = None,
                     model: PredictiveModel | None = None, write: bool = True) -> PredictResult:
    """Predict every contact created by ``as_of`` and store the results (one transaction)."""
    chosen = model or load_predictive_model(store, name)
    return run_prediction(store, chosen, raw_features, "contact_id", as_of, write)


def run_prediction(store: Store, chosen: PredictiveModel, features: Callable[[Store, FeaturePlan, datetime], pa.Table],
                   key: str, as_of: datetime | None, write: bool) -> PredictResult:
    """Features of every row at ``as_of`` (default now; ``key`` names the id column), the model
    applied, and, when ``write``, the rows stored where the model's level keeps them."""
    started = time.perf_counter()
    phases: dict[str, float] = {}
    when = as_of or utcnow()
    table = features(store, chosen.plan, when)
    phases["features"] = time.perf_counter() - started
    result, p, buckets, factors = apply_model(chosen, table, when, phases)
    if write:
        t = time.perf_counter()
        result.run_id = write_predictions(store, chosen, table[key], p, buckets, factors, when, result)
        phases["write"] = time.perf_counter() - t
    result.seconds = time.perf_counter() - started
    result.phases = phases
    return result


def apply_model(chosen: PredictiveModel, table: pa.Table, when: datetime, phases: dict[str, float]
                ) -> tuple[PredictResult, np.ndarray, np.ndarray, pa.Array]:
    """Probabilities, priority buckets and factors of the raw feature rows ``table`` (contacts or
    companies), with the drift check; the caller writes them where its level keeps them."""
    t = time.perf_counter()
    x = encode(chosen.plan, table)
    if len(x):
        raw, contributions = chosen.learner.score_with_contributions(x)
        p = chosen.calibrator(raw)
    else:
        p, contributions = np.zeros(0), np.zeros((0, len(chosen.plan.features)))
    buckets = priorities(p)
    phases["predict"] = time.perf_counter() - t
    t = time.perf_counter()
    factors = FactorWriter(chosen.plan).write(x, contributions) if len(x) else pa.array([], pa.string())
    phases["factors"] = time.perf_counter() - t
    value, warnings = _drift(chosen, p)
    counts = {k: int((buckets == k).sum()) for k in PRIORITY_SHARES}
    result = PredictResult(chosen.name, chosen.version or 0, when, len(p), float(p.mean()) if len(p) else 0.0,
                           value, counts, warnings, level=chosen.level)
    return result, p, buckets, factors


#: Where each level keeps its predictions: (rows, runs, id column); storage/migrations_account_predict.py.
TABLES: dict[str, tuple[str, str, str]] = {
    "contact": ("predictions", "prediction_runs", "contact_id"),
    "account": ("account_predictions", "account_prediction_runs", "company_id"),
}


def write_predictions(store: Store, model: PredictiveModel, ids: pa.ChunkedArray, p: np.ndarray,
                      buckets: np.ndarray, factors: pa.Array, when: datetime, result: PredictResult) -> str:
    """Replace the model's rows in its level's predictions table and record the run, and for
    contacts the leads list's priorities (``storage.lead_rows``), in one transaction."""
    predictions, runs, key = TABLES[model.level]
    run_id = uuid.uuid4().hex
    now = utcnow()
    rows = pa.table({"id": ids, "probability": pa.array(p, pa.float64()),
                     "priority": pa.array(buckets.tolist(), pa.string()),
                     "factors": factors})
    con = store.con
    con.execute("SET preserve_insertion_order = false")
    try:
        with store.transaction():
            con.execute(f"DELETE FROM {predictions} WHERE model = ?", [model.name])
            con.register("_prediction_rows", rows)
            con.execute(f"INSERT INTO {predictions} (model, model_version, {key}, probability, priority, factors, "
                        "as_of, computed_at) SELECT ?, ?, id, probability, priority, factors, ?, ? "
                        "FROM _prediction_rows", [model.name, model.version, when, now])
            con.unregister("_prediction_rows")
            con.execute(f"INSERT INTO {runs} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, model.name, model.version, when, now, result.contacts,
                         result.mean_probability, result.psi, result.warnings])
            if model.level == "contact":  # the leads list shows the latest contact predictions
                lead_rows.write_priorities(con)
    finally:
        con.execute("RESET preserve_insertion_order")
    return run_id
