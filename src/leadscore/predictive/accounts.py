"""Predictive scoring of companies: ``leadscore train --level account`` and ``predict --level account``.

The same machinery as for contacts (``train.fit_and_save``: LightGBM and logistic candidates,
time-based validation, calibration, leakage guards, refusal below the minimum, no pickle), on
rows that are companies:

* a row is a company as it was at a cut-off T (``account_features``: its properties as stored,
  its contacts and their events as of T, its contacts' rule scores at T);
* the label (``--label won``, the default) is "a deal of the company won in ``[T, T +
  horizon)``", a deal's company being its ``company_id`` or else its contact's company: the
  definition account backtests use (``conversion.won_by_company_sql`` with today's membership),
  so a backtest and a trained model count the same companies as converted. Companies with a
  deal won before T are customers and left out;
* ``--label PROPERTY`` names a yes/no company property (``customer``): one row per company now, a
  seeded random split, as for a contact property.

Predictions go to ``account_predictions`` (``storage/migrations_account_predict.py``), which the
account tools read: ``explain COMPANY``, ``GET /v1/companies/{id}``, ``GET /v1/accounts/scores``,
``top --level account``, ``export predictions --level account``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from leadscore.engine.account_sql import membership_sql
from leadscore.engine.accounts_read import COMPANIES
from leadscore.errors import LeadscoreError
from leadscore.predictive import conversion
from leadscore.predictive.account_features import (
    KEY,
    company_properties_warning,
    plan_account_features,
    raw_account_features,
)
from leadscore.predictive.artefact import DEFAULT_ACCOUNT_NAME, load_predictive_model
from leadscore.predictive.factors import factor_lines
from leadscore.predictive.features import FeaturePlan, arrow_table
from leadscore.predictive.labels import lookup, stratified_split
from leadscore.predictive.leakage import resolve_columns
from leadscore.predictive.predict import PredictResult, TopPrediction, run_prediction
from leadscore.predictive.train import MIN_POSITIVES, VALIDATION_SHARE, Rows, TrainResult, cutoff_rows, fit_and_save
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow


def won_company_labels(store: Store, company_ids: pa.Array, cutoff: datetime, horizon_days: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(won in ``[cutoff, cutoff + horizon)``, already won before ``cutoff``) for each company."""
    end = cutoff + timedelta(days=horizon_days)
    sql = conversion.won_by_company_sql("$cut", "$end", membership_sql(store))
    table = arrow_table(store, sql, {"cut": cutoff, "end": end})
    return lookup(company_ids, table, "won", KEY), lookup(company_ids, table, "before", KEY)


def _property_rows(store: Store, plan: FeaturePlan, column: str, until: datetime, seed: int) -> Rows:
    """One row per company now, labelled by a yes/no company property (unknown values left out)."""
    table = raw_account_features(store, plan, until)
    truth = conversion.label_truth_sql(store, column, "c", "companies")
    labels = arrow_table(store, f"SELECT company_id, v, true AS k FROM (SELECT c.company_id, {truth} AS v "
                                f"FROM {COMPANIES} c) WHERE v IS NOT NULL")
    ids = table[KEY].combine_chunks()
    known, y = lookup(ids, labels, "k", KEY), lookup(ids, labels, "v", KEY)
    table, y = table.filter(pa.array(known)), y[known]
    return Rows(table, y, stratified_split(y, VALIDATION_SHARE, seed), int(y.sum()), [until], until, key=KEY)


def _company_label(store: Store, label: str) -> str:
    columns = store.columns("companies")
    if label in columns:
        return label
    found = resolve_columns(store, [label], "--label", table="companies")
    return next(iter(found))


def train_account_model(store: Store, *, name: str = DEFAULT_ACCOUNT_NAME, label: str = "won",
                        horizon_days: int = 90, cutoffs: list[datetime] | None = None,
                        until: datetime | None = None, seed: int = 42, min_positives: int = MIN_POSITIVES,
                        exclude: set[str] | None = None, accept_leaky: bool = False) -> TrainResult:
    """Train, validate, calibrate and store a new version of the model of companies ``name``.

    ``exclude`` names company columns (as imported, or as the file named them). The guards are
    the contact model's: identifiers never features, ``LeakageSuspected`` unless ``accept_leaky``,
    ``TrainingRefused`` below ``min_positives`` converted companies.
    """
    started = time.perf_counter()
    phases: dict[str, float] = {}
    if horizon_days < 1:
        raise LeadscoreError("--horizon must be at least one day")
    if store.con.execute("SELECT count(*) FROM companies").fetchone() == (0,):
        raise LeadscoreError("no companies to learn from: import them first (`leadscore import companies FILE`)")
    excluded = resolve_columns(store, exclude or (), table="companies")
    notes: list[str] = []
    if label == "won":
        plan, rows, notes = cutoff_rows(store, plan_account_features, raw_account_features, won_company_labels, KEY,
                                        cutoffs=cutoffs, until=until, horizon_days=horizon_days, excluded=excluded,
                                        min_positives=min_positives, seed=seed, what="companies with a won deal")
    else:
        label = _company_label(store, label)
        end = until or utcnow()
        plan = plan_account_features(store, until=end, exclude=excluded | {label})
        rows = _property_rows(store, plan, label, end, seed)
    phases["features"] = time.perf_counter() - started
    return fit_and_save(store, rows, plan, notes, name=name, label=label, horizon_days=horizon_days,
                        min_positives=min_positives, excluded=excluded, seed=seed, accept_leaky=accept_leaky,
                        started=started, phases=phases, level="account",
                        assumed=lambda used: company_properties_warning(used, store, min(rows.cutoffs)))


def predict_accounts(store: Store, *, name: str | None = None, as_of: datetime | None = None,
                     write: bool = True) -> PredictResult:
    """Predict every company existing at ``as_of`` (default now) and store the results."""
    chosen = load_predictive_model(store, name, level="account")
    return run_prediction(store, chosen, raw_account_features, KEY, as_of, write)


def top_account_predictions(store: Store, model: str, n: int) -> list[TopPrediction]:
    """The ``n`` companies with the highest stored probability under ``model``, with their reasons."""
    rows = store.con.execute(
        "SELECT company_id, probability, priority, factors FROM account_predictions WHERE model = ? "
        "ORDER BY probability DESC, company_id LIMIT ?", [model, n]).fetchall()
    return [TopPrediction(cid, float(p), priority, factor_lines(factors)) for cid, p, priority, factors in rows]
