"""Suggested weights: let the outcomes say what each rule is worth, on the model's own scale.

How: score the population as of a *past* date (``fit_as_of``, by default one horizon before the
as-of) with the current model, take each rule's "fired" indicator as a feature and "converted in
the horizon after" as the label, and fit a sparse (L1) logistic regression. L1 sets the
coefficient of a rule that adds nothing to exactly zero. The strength is chosen by 3-fold
cross-validated log-loss, preferring the sparsest fit within 0.5% of the best.

A coefficient is a change in log-odds; points are on the model's scale. The translation keeps the
spread of scores: ``points_i = β_i × std(current scores) / std(Σ β_i × fired_i)``, rounded like
the model's own points. For a ``points_per_event`` rule the suggestion is what it typically
contributes when it fires, and its per-event points and ``max`` are scaled by the same ratio.
Decay, caps and tiers are kept as they are.

The suggestion is then backtested beside the current model at ``as_of`` — out of time: the fit
only saw outcomes up to ``as_of``. With a label property (no dates), the fit uses a seeded 70% of
contacts and the backtest the other 30%.

``write_suggestion`` writes a draft YAML (validated by parsing it back) and never publishes it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from leadscore.errors import LeadscoreError
from leadscore.model.loader import _Loader, parse_model
from leadscore.reports.backtest import Comparison, compare
from leadscore.reports.frame import ScoredFrame, Target, contact_target, score_frame
from leadscore.reports.html import write_atomic
from leadscore.reports.outcomes import Outcome
from leadscore.storage.store import Store

HEADER = "# Suggested by `leadscore suggest`"
CANDIDATE_C = (0.01, 0.03, 0.1, 0.3, 1.0)
MIN_CLASS = 10
HOLDOUT_SHARE = 0.3


@dataclass
class SuggestedRule:
    group: str
    rule: str
    current: str  # as written in the model
    current_points: float  # typical points when it fires
    coefficient: float
    suggested_points: float
    fired: int


@dataclass
class Suggestion:
    model: str
    source: str
    fit_as_of: datetime
    as_of: datetime
    evaluation: str
    strength_c: float
    scale: float
    rules: list[SuggestedRule]
    text: str  # the draft model's YAML
    comparison: Comparison | None = None
    written: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["comparison"] = self.comparison.to_dict() if self.comparison else None
        return d


def holdout_mask(contact_id: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """True for a seeded 30% of contacts (by sorted id, so reruns pick the same people)."""
    ids = np.asarray(contact_id).astype(str)
    order = np.argsort(ids, kind="mergesort")
    draw = np.random.default_rng(seed).random(ids.size) < HOLDOUT_SHARE
    mask = np.empty(ids.size, dtype=bool)
    mask[order] = draw
    return mask


def _choose_c(x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    losses = {}
    for c in CANDIDATE_C:
        est = LogisticRegression(l1_ratio=1.0, C=c, solver="liblinear")
        losses[c] = -float(cross_val_score(est, x, y, cv=folds, scoring="neg_log_loss").mean())
    best = min(losses.values())
    return min(c for c, loss in losses.items() if loss <= best * 1.005)


def fit_weights(frame: ScoredFrame) -> tuple[np.ndarray, float]:
    """L1 logistic coefficients of each rule's fired indicator, and the chosen strength C."""
    from sklearn.linear_model import LogisticRegression

    y = frame.converted
    pos, neg = int(y.sum()), int((~y).sum())
    if pos < MIN_CLASS or neg < MIN_CLASS:
        raise LeadscoreError(
            f"too few outcomes to fit weights as of {frame.as_of:%Y-%m-%d}: {pos} converters and "
            f"{neg} others (need {MIN_CLASS} of each); choose an earlier --fit-as-of or a longer horizon")
    x = frame.fired.astype(np.float64)
    c = _choose_c(x, y)
    est = LogisticRegression(l1_ratio=1.0, C=c, solver="liblinear").fit(x, y)
    return np.asarray(est.coef_[0], dtype=np.float64), c


def _typical_points(frame: ScoredFrame) -> np.ndarray:
    """What each rule contributes when it fires (before decay): |points|, or the mean of a per-event rule."""
    out = np.zeros(len(frame.rules))
    for info in frame.rules:
        if info.points is not None:
            out[info.index] = abs(info.points)
            continue
        f = frame.fired[:, info.index]
        out[info.index] = float(np.abs(frame.raw[f, info.index]).mean()) if f.any() else abs(
            info.points_per_event or 0.0)
    return out


def _round_like(model_points: list[float], value: float) -> float:
    whole = all(float(p).is_integer() for p in model_points)
    return float(round(value)) if whole else round(value, 1)


def suggest_weights(store: Store, target: Target, *, as_of: datetime, outcome: Outcome,
                    fit_as_of: datetime | None = None) -> Suggestion:
    """Fit, translate to points, build the draft model and backtest it beside the current one."""
    contact_target(target)  # suggestions write a contact model's draft: an account model is refused
    notes: list[str] = []
    holdout = outcome.label is not None
    fit_when = as_of if holdout else (fit_as_of or as_of - outcome.horizon)
    if not holdout and fit_when + outcome.horizon > as_of:
        raise LeadscoreError(
            f"the fit's outcome window (from {fit_when:%Y-%m-%d}, {outcome.horizon.days} days) overlaps "
            f"the backtest from {as_of:%Y-%m-%d}: give a --fit-as-of at least one horizon earlier")
    frame = score_frame(store, target.model, fit_when, outcome)
    if not holdout and fit_as_of is None and min(frame.positives, frame.n - frame.positives) < MIN_CLASS:
        notes.append(f"only {frame.positives} converters after {fit_when:%Y-%m-%d}: fitted on a sample "
                     f"of contacts as of {as_of:%Y-%m-%d} instead, and backtested on the others")
        holdout, fit_when = True, as_of
        frame = score_frame(store, target.model, fit_when, outcome)
    if holdout:
        frame = frame.subset(~holdout_mask(frame.contact_id))
        evaluation = f"held-out {HOLDOUT_SHARE:.0%} of contacts (fitted on the other {1 - HOLDOUT_SHARE:.0%})"
    else:
        evaluation = (f"out of time: fitted on outcomes from {fit_when:%Y-%m-%d}, "
                      f"backtested from {as_of:%Y-%m-%d}")
    beta, c = fit_weights(frame)
    logit = frame.fired.astype(np.float64) @ beta
    if not np.any(beta) or float(np.std(logit)) == 0.0:
        raise LeadscoreError("no rule separates converters from the others at this date: nothing to suggest")
    scale = float(np.std(frame.score)) / float(np.std(logit)) if float(np.std(frame.score)) else 1.0
    typical = _typical_points(frame)
    written_points = [info.points if info.points is not None else (info.points_per_event or 0.0)
                      for info in frame.rules]
    rules = []
    for info in frame.rules:
        suggested = _round_like(written_points, beta[info.index] * scale)
        rules.append(SuggestedRule(info.group, info.name, info.describe_points(),
                                   float(typical[info.index]) * (info.sign or 1), float(beta[info.index]),
                                   suggested, int(frame.fired[:, info.index].sum())))
        if suggested == 0 and info.sign != 0:
            notes.append(f"`{info.name}` adds nothing the other rules do not: suggested 0 points")
    text = draft_text(target, frame, rules, fit_when, outcome)
    suggestion = Suggestion(target.model.name, target.source, fit_when, as_of, evaluation, c, scale,
                            rules, text, notes=notes)
    draft = Target(parse_model(text, "suggested.yml").contact_model, "suggested", text)
    mask = (lambda f: holdout_mask(f.contact_id)) if holdout else None
    suggestion.comparison = compare(store, target, draft, as_of, outcome, mask=mask)
    return suggestion


def draft_text(target: Target, frame: ScoredFrame, rules: list[SuggestedRule], fit_when: datetime,
               outcome: Outcome) -> str:
    """The model's YAML with suggested points (comments are not kept; ``${ENV}`` references are)."""
    data = yaml.load(target.text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    index = 0
    for group in data["groups"].values():
        for rule in group["rules"]:
            info, s = frame.rules[index], rules[index]
            if info.points is not None:
                rule["points"] = _plain(s.suggested_points)
            else:
                # Scale per-event points (and max) so the typical contribution becomes the suggestion.
                ratio = s.suggested_points / s.current_points if s.current_points else 0.0
                ppe = round((info.points_per_event or 0.0) * ratio, 2)
                rule["points_per_event"] = _plain(ppe)
                if info.max is not None and ppe != 0:
                    rule["max"] = _plain(round(info.max * abs(ratio), 1))
            index += 1
    header = (f"{HEADER} from {target.source}: a sparse logistic regression on which rules\n"
              f"# fired as of {fit_when:%Y-%m-%d}; outcome: {outcome.describe()}.\n"
              "# A draft: try it with `leadscore backtest FILE --vs MODEL`, then publish it yourself.\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120, default_flow_style=None)


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def write_suggestion(suggestion: Suggestion, path: str | Path, *, force: bool = False) -> Path:
    """Write the draft (atomically); refuse to overwrite a file that is not an earlier suggestion."""
    target = Path(path)
    if target.exists() and not force:
        head = target.read_text(encoding="utf-8", errors="replace")[: len(HEADER)]
        if head != HEADER:
            raise LeadscoreError(f"{target} exists and was not written by `leadscore suggest`; "
                                 "choose another path or pass --force")
    parse_model(suggestion.text, str(target))  # never write a file that would not load
    write_atomic(target, suggestion.text)
    suggestion.written = str(target)
    return target


def run_suggest(store: Store, model: str | Path | None, *, as_of: datetime | None = None,
                horizon: str | int | timedelta = "90d", label: str | None = None,
                fit_as_of: datetime | None = None) -> Suggestion:
    """The library's ``suggest``: a model name or draft file, dates as text or datetimes."""
    from leadscore.reports.backtest import default_as_of
    from leadscore.reports.frame import load_target
    from leadscore.reports.outcomes import parse_horizon

    target = load_target(store, model)
    outcome = Outcome(parse_horizon(horizon), label)
    when = as_of if as_of is not None else default_as_of(store, target.model, outcome)
    return suggest_weights(store, target, as_of=when, outcome=outcome,
                           fit_as_of=fit_as_of)
