"""Training: rows from cut-offs, two candidates, time-based validation, calibration, refit.

The steps, and why:

1. Rows. For the ``won`` label, one row per contact per cut-off (``labels.plan_cutoffs``), with
   features as of that cut-off and the label from the window after it; the newest cut-off
   validates, older ones train. For a property label, one row per contact now and a seeded 80/20
   split.
2. Refusal. Fewer than ``min_positives`` converted contacts cannot support a model; below
   ``WEAK_POSITIVES`` the model is trained but flagged as weak.
3. Candidates. LightGBM and logistic regression fitted on the training rows; the one with the
   higher validation AUC wins (ranking is what priority buckets use).
4. Calibration on the validation rows (``calibrate.choose_calibration``); the reported metrics are
   the cross-fitted validation ones.
5. Refit of the winner on all rows with the same settings (LightGBM keeps the number of rounds
   early stopping found), so the newest behaviour is in the model. With time-based cut-offs the
   calibration map stays the one fitted on the newest cut-off; with a random split it is refitted
   on out-of-fold scores over all rows (``_out_of_fold_calibration``).

Everything is seeded: the same store, arguments and seed give the same artefact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.errors import LeadscoreError
from leadscore.predictive import calibrate
from leadscore.predictive.artefact import DEFAULT_NAME, PredictiveModel, save_predictive_model
from leadscore.predictive.conversion import resolve_label
from leadscore.predictive.factors import describe
from leadscore.predictive.features import FeaturePlan, encode, fit_levels, plan_features, prune, raw_features
from leadscore.predictive.labels import (
    busiest_cutoff,
    data_end,
    plan_cutoffs,
    property_labels,
    stratified_split,
    won_labels,
)
from leadscore.predictive.leakage import (
    LeakageSuspected,
    assumed_properties,
    assumed_warning,
    check_leakage,
    refusal,
    resolve_columns,
)
from leadscore.predictive.learners import GradientBoosting, Learner, Logistic
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

MIN_POSITIVES = 100
WEAK_POSITIVES = 500
VALIDATION_SHARE = 0.2
MIN_VALIDATION_CLASS = 10
TOP_FEATURES = 10
OOF_FOLDS = 5
DRIFT_BINS = 10


class TrainingRefused(LeadscoreError):
    """Too little data to learn from: the message says why and what to do instead."""


@dataclass
class TrainResult:
    model: PredictiveModel
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.model.metrics


@dataclass
class Rows:
    table: pa.Table
    y: np.ndarray
    validation: np.ndarray
    positives: int
    cutoffs: list[datetime]
    until: datetime
    #: the id column of ``table``: ``contact_id``, or ``company_id`` for a model of companies
    key: str = "contact_id"


#: The raw feature table of a level at a cut-off (``features.raw_features`` for contacts).
FeatureReader = Callable[[Store, FeaturePlan, datetime], pa.Table]
#: (won in the window, won before the cut-off) per id (``labels.won_labels`` for contacts).
LabelReader = Callable[[Store, pa.Array, datetime, int], tuple[np.ndarray, np.ndarray]]


def won_rows(store: Store, plan: FeaturePlan, cutoffs: list[datetime], horizon_days: int,
             until: datetime, seed: int, features: FeatureReader = raw_features,
             labels: LabelReader = won_labels, key: str = "contact_id") -> Rows:
    """Rows of every cut-off; the newest validates (one cut-off alone: a seeded random split).
    Rows already won before their cut-off (customers) are left out."""
    tables, ys, vals, positive_ids = [], [], [], set()
    for i, cutoff in enumerate(cutoffs):
        table = features(store, plan, cutoff)
        ids = table[key].combine_chunks()
        won, before = labels(store, ids, cutoff, horizon_days)
        keep = ~before
        table = table.filter(pa.array(keep))
        ys.append(won[keep])
        vals.append(np.full(int(keep.sum()), i == len(cutoffs) - 1))
        positive_ids.update(pc.filter(table[key], pa.array(won[keep])).to_pylist())
        tables.append(table)
    y = np.concatenate(ys)
    validation = np.concatenate(vals) if len(cutoffs) > 1 else stratified_split(y, VALIDATION_SHARE, seed)
    return Rows(pa.concat_tables(tables), y, validation, len(positive_ids), cutoffs, until, key)


#: ``plan_features(store, until=, exclude=)`` or its account counterpart.
Planner = Callable[..., FeaturePlan]


def cutoff_rows(store: Store, planner: Planner, features: FeatureReader, labels: LabelReader, key: str, *,
                cutoffs: list[datetime] | None, until: datetime | None, horizon_days: int, excluded: set[str],
                min_positives: int, seed: int, what: str) -> tuple[FeaturePlan, Rows, list[str]]:
    """The plan and rows of the ``won`` label at the given (or chosen) cut-offs, for either level.

    When the training cut-offs hold fewer than ``min_positives`` wins (``what``: "won deals"),
    the newest cut-off alone with a seeded random split, and a note saying so.
    """
    end = until if until is not None else data_end(store, utcnow())
    validate = None if cutoffs else busiest_cutoff(store, end, horizon_days)
    cut = plan_cutoffs(end, horizon_days, cutoffs, validate)
    plan = planner(store, until=cut[-1], exclude=excluded)
    rows = won_rows(store, plan, cut, horizon_days, end, seed, features, labels, key)
    trained_on = int(rows.y[~rows.validation].sum())
    notes = []
    if not cutoffs and trained_on < min_positives:
        notes.append(
            f"the training cut-offs before {cut[-1]:%Y-%m-%d} hold only {trained_on} {what}, so "
            "the model learns from one cut-off with a seeded random 20% validation split instead of a "
            "time-based one (give --cutoffs to choose)")
        rows = won_rows(store, plan, cut[-1:], horizon_days, end, seed, features, labels, key)
    return plan, rows, notes


def _property_rows(store: Store, plan: FeaturePlan, column: str, until: datetime, seed: int) -> Rows:
    table = raw_features(store, plan, until)
    y, known = property_labels(store, column, table["contact_id"].combine_chunks())
    table = table.filter(pa.array(known))
    y = y[known]
    return Rows(table, y, stratified_split(y, VALIDATION_SHARE, seed), int(y.sum()), [until], until)


def _refuse_if_thin(rows: Rows, label: str, horizon_days: int, min_positives: int) -> list[str]:
    what = (f"won a deal within {horizon_days} days after a cut-off" if label == "won"
            else f"have `{label}` true")
    noun = "companies" if rows.key == "company_id" else "contacts"
    if rows.positives < min_positives:
        raise TrainingRefused(
            f"only {rows.positives} {noun} {what} in the training data; a predictive model needs at "
            f"least {min_positives} to learn anything it can be trusted with (HubSpot's likelihood to "
            "close asks for hundreds of closed deals, Salesforce Einstein for at least 120 conversions). "
            "Score with rules instead (`leadscore publish models/NAME.yml && leadscore score`), try a "
            "longer --horizon or more history, or lower the bar with --min-positives if you accept a "
            "weak model")
    val_y = rows.y[rows.validation]
    if val_y.sum() < MIN_VALIDATION_CLASS or (~val_y).sum() < MIN_VALIDATION_CLASS:
        raise TrainingRefused(
            f"the validation rows hold {int(val_y.sum())} converters and {int((~val_y).sum())} others; "
            f"at least {MIN_VALIDATION_CLASS} of each are needed to measure the model (try other --cutoffs "
            "or a longer --horizon)")
    if rows.positives < WEAK_POSITIVES:
        return [f"only {rows.positives} converted {noun} (fewer than {WEAK_POSITIVES}): the model is weak; "
                "treat its probabilities as rough and keep the rule score beside it"]
    return []


def train_model(store: Store, *, name: str = DEFAULT_NAME, label: str = "won", horizon_days: int = 90,
                cutoffs: list[datetime] | None = None, until: datetime | None = None, seed: int = 42,
                min_positives: int = MIN_POSITIVES, exclude: set[str] | None = None,
                accept_leaky: bool = False) -> TrainResult:
    """Train, validate, calibrate and store a new version of predictive model ``name``.

    ``exclude`` names contact columns as the user's file named them (``Lead Quality``); an unknown
    one is an error. Suspected leakage (``predictive/leakage.py``) stops training with
    ``LeakageSuspected`` unless ``accept_leaky``, which records the warning on the model instead.
    """
    started = time.perf_counter()
    phases: dict[str, float] = {}
    if horizon_days < 1:
        raise LeadscoreError("--horizon must be at least one day")
    excluded = resolve_columns(store, exclude or ())
    notes: list[str] = []
    if label == "won":
        plan, rows, notes = cutoff_rows(store, plan_features, raw_features, won_labels, "contact_id",
                                        cutoffs=cutoffs, until=until, horizon_days=horizon_days, excluded=excluded,
                                        min_positives=min_positives, seed=seed, what="won deals")
    else:
        label = resolve_label(store, label)  # as written, or snake_case as imports name columns
        end = until or utcnow()
        plan = plan_features(store, until=end, exclude=excluded | {label})
        rows = _property_rows(store, plan, label, end, seed)
    phases["features"] = time.perf_counter() - started
    return fit_and_save(store, rows, plan, notes, name=name, label=label, horizon_days=horizon_days,
                        min_positives=min_positives, excluded=excluded, seed=seed, accept_leaky=accept_leaky,
                        started=started, phases=phases,
                        assumed=lambda used: assumed_warning(assumed_properties(store, used, rows.cutoffs[0]),
                                                             rows.cutoffs[0]))


def fit_and_save(store: Store, rows: Rows, plan: FeaturePlan, notes: list[str], *, name: str, label: str,
                 horizon_days: int, min_positives: int, excluded: set[str], seed: int, accept_leaky: bool,
                 started: float, phases: dict[str, float], assumed: Callable[[FeaturePlan], str | None],
                 level: str = "contact") -> TrainResult:
    """Steps 2-5 for rows of either level (``rows.key`` says which): refuse thin data, fit both
    candidates, calibrate, check for leakage, refit, and store the model with its held-out rows.
    ``assumed`` names the properties the final plan reads without history (a warning)."""
    warnings = notes + _refuse_if_thin(rows, label, horizon_days, min_positives)
    if plan.identifiers:
        noun = "company" if rows.key == "company_id" else "contact"
        warnings.append(f"left out {len(plan.identifiers)} identifier column(s), unique or nearly unique per "
                        f"{noun}, never features: {', '.join(plan.identifiers)}")

    t = time.perf_counter()
    train, val = ~rows.validation, rows.validation
    fit_levels(plan, rows.table.filter(pa.array(train)))
    x_all = encode(plan, rows.table)
    before = plan.names
    plan, x_train = prune(plan, x_all[train])
    kept = [j for j, n in enumerate(before) if n in set(plan.names)]
    x_all = x_all[:, kept]
    x_val, y_train, y_val = x_all[val], rows.y[train], rows.y[val]
    phases["encode"] = time.perf_counter() - t
    unversioned = assumed(plan)
    if unversioned:  # of the properties the model uses (after pruning the constant ones)
        warnings.append(unversioned)

    t = time.perf_counter()
    candidates: dict[str, Learner] = {
        "lightgbm": GradientBoosting.fit(plan, x_train, y_train, seed=seed, valid=(x_val, y_val)),
        "logistic": Logistic.fit(plan, x_train, y_train, seed=seed),
    }
    val_auc = {k: calibrate.auc(y_val, m.raw_score(x_val)) for k, m in candidates.items()}
    chosen = max(val_auc, key=lambda k: (val_auc[k], k == "logistic"))
    best = candidates[chosen]
    calibrator, crossed = calibrate.choose_calibration(best.raw_score(x_val), y_val, seed)
    phases["fit"] = time.perf_counter() - t
    leaks = check_leakage(plan, x_train, y_train, val_auc[chosen])
    if leaks.suspects and not accept_leaky:
        raise LeakageSuspected(refusal(leaks))
    if leaks.suspects:
        warnings.append(refusal(leaks) + " (accepted with --accept-leaky)")

    t = time.perf_counter()
    final = _refit(best, plan, x_all, rows.y, seed)
    if len(rows.cutoffs) == 1:
        calibrator = _out_of_fold_calibration(best, plan, x_all, rows.y, seed)
    phases["refit"] = time.perf_counter() - t

    val_probability = calibrator(final.raw_score(x_val))
    edges = sorted(set(np.quantile(val_probability, np.linspace(0, 1, DRIFT_BINS + 1))[1:-1].tolist()))
    shares = _shares(val_probability, edges)
    importance = final.importance()
    by_name: dict[str, float] = {}
    for f, share in zip(plan.features, importance, strict=True):
        by_name[describe(f)] = by_name.get(describe(f), 0.0) + float(share)
    top = sorted(by_name.items(), key=lambda kv: -kv[1])[:TOP_FEATURES]
    metrics: dict[str, Any] = {
        **calibrate.metrics(y_val, crossed), "positives_total": rows.positives,
        "training_rows": int(train.sum()), "validation_rows": int(val.sum()),
        "candidates_auc": val_auc, "chosen": chosen, "calibration": calibrator.method,
        "validation": "newest cut-off" if len(rows.cutoffs) > 1 else f"seeded random {VALIDATION_SHARE:.0%}",
        "top_features": [[k, round(v, 4)] for k, v in top], "features": len(plan.features),
        "seed": seed, "warnings": warnings, "excluded": sorted(excluded), "identifiers": plan.identifiers,
        "leakage": [s.describe() for s in leaks.suspects],
    }
    model = PredictiveModel(
        name=name, label=label, horizon_days=horizon_days if label == "won" else None, data_until=rows.until,
        cutoffs=rows.cutoffs, plan=plan, learner=final, calibrator=calibrator, metrics=metrics,
        score_edges=edges, score_shares=shares, level=level)
    # the rows the metrics come from, for the report: the same AUC and ECE, never in-sample
    holdout = pa.table({"contact_id": rows.table[rows.key].filter(pa.array(val)),
                        "cutoff": pa.array([rows.cutoffs[-1]] * int(val.sum()), pa.timestamp("us")),
                        "probability": pa.array(crossed, pa.float64()), "converted": pa.array(y_val, pa.bool_())})
    save_predictive_model(store, model, holdout)
    return TrainResult(model, warnings, time.perf_counter() - started, phases)


def _refit(best: Learner, plan: FeaturePlan, x: np.ndarray, y: np.ndarray, seed: int) -> Learner:
    """The winning learner again, with the same settings, on ``x``."""
    if isinstance(best, GradientBoosting):
        return GradientBoosting.fit(plan, x, y, seed=seed, rounds=best.rounds)
    return Logistic.fit(plan, x, y, seed=seed)


def _out_of_fold_calibration(best: Learner, plan: FeaturePlan, x: np.ndarray, y: np.ndarray,
                             seed: int) -> calibrate.Calibrator:
    """A calibration map for the refit model, from out-of-fold scores over all rows.

    Why: the map fitted on validation scores belongs to the model trained without the validation
    rows; the refit model, trained on a quarter more data with the same number of rounds, is a
    little more confident. Scores of models fitted on 80% of all rows match it better. Used when
    rows are exchangeable (a random split); with time-based cut-offs the map stays the one fitted
    on the newest cut-off, the period closest to the leads being predicted.
    """
    folds = stratified_folds(y, OOF_FOLDS, seed)
    raw = np.empty(len(y))
    for k in range(OOF_FOLDS):
        held = folds == k
        raw[held] = _refit(best, plan, x[~held], y[~held], seed).raw_score(x[held])
    return calibrate.choose_calibration(raw, y, seed)[0]


def stratified_folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A seeded fold number per row, each fold with the same share of positives."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    for value in (False, True):
        rows = np.flatnonzero(y == value)
        rng.shuffle(rows)
        folds[rows] = np.arange(len(rows)) % k
    return folds


def _shares(p: np.ndarray, edges: list[float]) -> list[float]:
    counts = np.bincount(np.searchsorted(np.asarray(edges), p, side="right"), minlength=len(edges) + 1)
    return (counts / max(len(p), 1)).tolist()
