"""The report: every audit of one model in one object, for HTML, JSON, the API and the dashboard.

``build_report`` runs the backtest at ``as_of`` and the audits on the same population (rule
impact, deciles, thresholds), adds what is stored (current tier counts and score distribution,
stuck leads, predictive calibration), a rolling backtest, and the findings in plain language.
Nothing is written to the store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from leadscore.model.spec import ScoringModel
from leadscore.reports.audit_rules import RuleImpact, rule_impact
from leadscore.reports.backtest import (
    BacktestResult,
    backtest_frame,
    default_as_of,
    rolling,
    rolling_dates,
)
from leadscore.reports.calibration import PredictiveCalibration, predictive_calibration
from leadscore.reports.feedback_audit import FeedbackAudit, feedback_audit
from leadscore.reports.frame import ScoredFrame, Target, load_target
from leadscore.reports.metrics import BandStats, by_decile, gains_curve
from leadscore.reports.outcomes import Outcome, checked_outcome, parse_horizon
from leadscore.reports.thresholds import (
    StuckLeads,
    Threshold,
    stuck_leads,
    threshold_at,
    threshold_for_capacity,
    threshold_for_precision,
)
from leadscore.storage.store import Store
from leadscore.timeutil import parse_duration, utcnow


@dataclass
class ScoreDistribution:
    """Tier counts and a histogram of scores: the stored ones, or the backtest's when none are stored."""

    source: str  # "stored scores as of …" or "backtest as of …"
    tier_counts: dict[str, int]
    bin_edges: list[float]
    bin_counts: list[int]


@dataclass
class Report:
    generated_at: datetime
    model: str
    source: str
    as_of: datetime
    outcome: str
    distribution: ScoreDistribution
    backtest: BacktestResult
    deciles: list[BandStats]
    gains: list[tuple[float, float]]
    rolling: list[BacktestResult]
    rules: list[RuleImpact]
    thresholds: list[Threshold]
    stuck: StuckLeads
    calibration: list[PredictiveCalibration]
    tier_bounds: dict[str, float] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    #: rules firing on the leads reps called over- or under-scored (None: no feedback on the model)
    feedback: FeedbackAudit | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _distribution(store: Store, target: Target, frame: ScoredFrame) -> ScoreDistribution:
    # Stored scores describe the published version that made them; a draft has none of its own.
    params = [target.model.name, target.version if target.version is not None else -1]
    table = "account_scores" if frame.level == "account" else "scores"
    stored = store.con.execute(f"SELECT score, tier FROM {table} WHERE model = ? AND model_version = ?",
                               params).fetchnumpy()
    row = store.con.execute(f"SELECT max(as_of) FROM {table} WHERE model = ? AND model_version = ?",
                            params).fetchone()
    if stored["score"].size and row is not None:
        scores = np.asarray(stored["score"], dtype=np.float64)
        tiers = list(stored["tier"])
        source = f"stored scores as of {row[0]:%Y-%m-%d %H:%M}"
    else:
        scores, tiers = frame.score, list(frame.tier)
        source = f"no stored scores: the backtest's as of {frame.as_of:%Y-%m-%d}"
    names, n = np.unique(np.asarray(tiers, dtype=object).astype(str), return_counts=True)
    counts = {t: 0 for t in target.model.tiers}
    counts.update({str(t): int(c) for t, c in zip(names, n, strict=True)})
    if scores.size:
        hist, edges = np.histogram(scores, bins=30)
    else:
        hist, edges = np.zeros(0, dtype=np.int64), np.zeros(0)
    return ScoreDistribution(source, counts, [float(e) for e in edges], [int(c) for c in hist])


def report_thresholds(frame: ScoredFrame, top_tier: BandStats, *, precision: float | None,
                      capacity: int | None) -> list[Threshold]:
    """The current top-tier bound and the suggested ones (target precision, sales capacity)."""
    y, s = frame.converted, frame.score
    bound = float(frame.model.tiers[top_tier.name])
    current = threshold_at(y, s, bound, f"current `{top_tier.name}` bound")
    out = [current]
    target = precision if precision is not None else (
        np.floor(current.precision * 100) / 100 if current.precision > 0 else None)
    if target:
        found = threshold_for_precision(y, s, float(target))
        if found is not None:
            out.append(found)
    if capacity:
        horizon = frame.outcome.horizon.total_seconds() / 86_400
        found = threshold_for_capacity(y, s, capacity, horizon)
        if found is not None:
            out.append(found)
    return out


def build_report(store: Store, *, model: str | Path | Target | None = None, as_of: datetime | None = None,
                 horizon: str | int | timedelta = "90d", label: str | None = None,
                 rolling_dates_count: int = 4, step: str | int | timedelta = "30d",
                 stuck_days: int = 30, precision: float | None = None,
                 capacity: int | None = None) -> Report:
    """Backtest, audits and findings of one model (the only published one by default)."""
    from leadscore.reports.findings import findings_for

    target = load_target(store, model)
    outcome = checked_outcome(store, Outcome(parse_horizon(horizon), label))
    when = as_of if as_of is not None else default_as_of(store, target.model, outcome)
    result, frame = backtest_frame(store, target.model, target.source, when, outcome)
    deciles = by_decile(frame.converted, frame.score, frame.days_to_close, frame.deal_value,
                        frame.contact_id)
    history: list[BacktestResult] = []
    if rolling_dates_count > 1 and not label:
        dates = rolling_dates(when, rolling_dates_count, parse_duration(step, "step"))
        # the last date is `when`, scored above: reuse that result rather than scoring it again
        history = [*rolling(store, target.model, target.source, dates[:-1], outcome), result]
    report = Report(
        generated_at=utcnow(), model=target.model.name, source=target.source, as_of=when,
        outcome=outcome.describe(), distribution=_distribution(store, target, frame), backtest=result,
        deciles=deciles, gains=gains_curve(frame.converted, frame.score), rolling=history,
        rules=rule_impact(frame),
        thresholds=report_thresholds(frame, result.tiers[-1], precision=precision, capacity=capacity),
        stuck=stuck_leads(store, target.model, days=stuck_days),
        calibration=predictive_calibration(store) if frame.level == "contact" else [],
        tier_bounds={k: float(v) for k, v in target.model.tiers.items()},
        feedback=feedback_audit(store, target.model) if isinstance(target.model, ScoringModel) else None,
    )
    report.findings = findings_for(report)
    return report
