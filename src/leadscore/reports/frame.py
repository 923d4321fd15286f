"""A backtest population scored as of a past date, with its outcome, as numpy arrays.

Why a frame: every report figure (tiers, AUC, rule impact, deciles, suggested weights) is a
different summary of the same rows — score, tier, which rules fired, and what happened next. The
rows come from ONE query: the model's compiled SQL with per-rule columns (``detail=True``) joined
to the outcome query. Nothing is written to the store: a backtest reads the past, it never
rewrites current scores or history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from leadscore.engine.account_sql import account_sql, contact_model_names, membership_sql
from leadscore.engine.run import compiled_sql, model_of
from leadscore.errors import LeadscoreError
from leadscore.model.account_spec import AccountModel, AccountRule
from leadscore.model.loader import AnyModel, LoadedModel, contact_model, load_model
from leadscore.model.spec import Rule, ScoringModel
from leadscore.model.validate import validate_against_store
from leadscore.reports.outcomes import Outcome, account_outcome_query, outcome_query
from leadscore.storage.store import Store


@dataclass(frozen=True)
class RuleInfo:
    """A rule of the scored model, as the report names it."""

    index: int
    group: str
    name: str
    points: float | None
    points_per_event: float | None
    max: float | None
    rollup: str | None = None  #: an account rule's ``points_from``, in words

    @property
    def label(self) -> str:
        return f"{self.group} / {self.name}"

    @property
    def sign(self) -> int:
        value = self.points if self.points is not None else self.points_per_event
        return 0 if not value else (1 if value > 0 else -1)

    def nominal_points(self) -> float:
        """The points as a number: a fixed award, or the award per event."""
        value = self.points if self.points is not None else self.points_per_event
        return float(value or 0.0)

    def describe_points(self) -> str:
        if self.rollup is not None:
            cap = f", max {self.max:g}" if self.max is not None else ""
            return f"{self.rollup}{cap}"
        if self.points is not None:
            return f"{self.points:+g}"
        cap = f", max {self.max:g}" if self.max is not None else ""
        return f"{self.points_per_event:+g} per event{cap}"


def rule_infos(model: AnyModel) -> list[RuleInfo]:
    out = []
    pairs: list[tuple[str, Rule | AccountRule]] = list(model.rules())
    for i, (group, r) in enumerate(pairs):
        rollup = None
        if isinstance(r, AccountRule) and r.points_from is not None:
            k = f" k={r.points_from.k}" if r.points_from.k else ""
            rollup = f"{r.scale:g} × {r.points_from.aggregate}{k} of {r.points_from.model}"
        out.append(RuleInfo(i, group, r.name, r.points, r.points_per_event, r.max, rollup))
    return out


@dataclass(frozen=True)
class ScoredFrame:
    """One row per contact of the population (per company for an account model); rule arrays are
    (rows × rules)."""

    model: AnyModel
    as_of: datetime
    outcome: Outcome
    contact_id: np.ndarray  # object (str): the row's id, a company's for an account model
    score: np.ndarray  # float
    tier: np.ndarray  # object (str)
    fired: np.ndarray  # bool, (n, rules)
    raw: np.ndarray  # float, (n, rules): points before decay
    converted: np.ndarray  # bool
    days_to_close: np.ndarray  # float, NaN when not converted (or label mode)
    deal_value: np.ndarray  # float, NaN when not converted / unknown

    @property
    def n(self) -> int:
        return int(self.score.shape[0])

    @property
    def positives(self) -> int:
        return int(self.converted.sum())

    @property
    def rules(self) -> list[RuleInfo]:
        return rule_infos(self.model)

    @property
    def tiers(self) -> list[str]:
        return list(self.model.tiers)

    @property
    def level(self) -> str:
        """``contact`` or ``account``: what a row is."""
        return "account" if isinstance(self.model, AccountModel) else "contact"

    def tier_rank(self) -> np.ndarray:
        """Each contact's tier as its position in the model's tier order (0 = lowest)."""
        order = {name: i for i, name in enumerate(self.model.tiers)}
        return np.array([order[t] for t in self.tier], dtype=np.int64)

    def subset(self, mask: np.ndarray) -> ScoredFrame:
        """The same frame restricted to the rows where ``mask`` holds."""
        return replace(self, contact_id=self.contact_id[mask], score=self.score[mask],
                       tier=self.tier[mask], fired=self.fired[mask], raw=self.raw[mask],
                       converted=self.converted[mask], days_to_close=self.days_to_close[mask],
                       deal_value=self.deal_value[mask])


def score_frame(store: Store, model: AnyModel, as_of: datetime, outcome: Outcome) -> ScoredFrame:
    """Score the population as of ``as_of`` with ``model`` (nothing written) and attach outcomes.

    An account model scores the companies existing at ``as_of`` and their outcome is a won deal of
    the company (``outcomes.account_outcome_query``).
    """
    n_rules = len(model.rules())
    if isinstance(model, AccountModel):
        key = "company_id"
        scored = account_sql(store, model, as_of, detail=True)
        outcome_sql, params = account_outcome_query(store, as_of, outcome, membership_sql(store))
    else:
        key = "contact_id"
        scored = compiled_sql(store, model, as_of, detail=True)
        outcome_sql, params = outcome_query(store, as_of, outcome)
    rule_cols = [f"q.rf_{i}" for i in range(n_rules)] + [f"q.rraw_{i}" for i in range(n_rules)]
    select = ", ".join([f"q.{key} AS contact_id", "q.score", "q.tier", *rule_cols,
                        "o.converted", "o.days_to_close", "o.deal_value"])
    sql = (f"SELECT {select} FROM ({scored}) AS q JOIN ({outcome_sql}) AS o USING ({key}) "
           f"ORDER BY q.{key}")
    cols: dict[str, Any] = store.con.execute(sql, params).fetchnumpy()
    n = len(cols["contact_id"])

    def floats(name: str) -> np.ndarray:
        return np.asarray(_filled(cols[name], np.nan), dtype=np.float64)

    fired = np.zeros((n, n_rules), dtype=bool)
    raw = np.zeros((n, n_rules), dtype=np.float64)
    for i in range(n_rules):
        fired[:, i] = np.asarray(_filled(cols[f"rf_{i}"], False), dtype=bool)
        raw[:, i] = np.asarray(_filled(cols[f"rraw_{i}"], 0.0), dtype=np.float64)
    return ScoredFrame(
        model=model, as_of=as_of, outcome=outcome,
        contact_id=np.asarray(cols["contact_id"], dtype=object),
        score=floats("score"), tier=np.asarray(cols["tier"], dtype=object), fired=fired, raw=raw,
        converted=np.asarray(_filled(cols["converted"], False), dtype=bool),
        days_to_close=floats("days_to_close"), deal_value=floats("deal_value"),
    )


def _filled(values: Any, fill: Any) -> Any:
    """A fetched column with SQL NULLs (masked entries) replaced by ``fill``."""
    if isinstance(values, np.ma.MaskedArray):
        return values.filled(fill)
    return values


@dataclass(frozen=True)
class Target:
    """A model to backtest: the validated model, a label for tables, and its YAML text."""

    model: AnyModel  # a contact model, or an account model (backtests only)
    source: str  # "b2b v3" or "models/draft.yml"
    text: str
    version: int | None = None  # the published version; None for a draft


def load_target(store: Store, ref: str | Path | Target | None) -> Target:
    """The model a command names: a draft file (validated against the store) or a published name.

    Without a name, the only published contact model is used; several need a name. A
    ``Target`` is taken as it is: the API builds one (``published_target``, ``draft_target``) so
    that a name from a request is never looked up as a file.
    """
    if isinstance(ref, Target):
        return ref
    if ref is not None and (str(ref).endswith((".yml", ".yaml")) or Path(ref).is_file()):
        loaded: LoadedModel = load_model(ref)
        return draft_target(store, loaded, str(ref))
    ref = str(ref) if ref is not None else None
    names = store.published_models()
    if ref is None:
        contact_models = contact_model_names(store)  # an account model is backtested by name
        names = contact_models if len(contact_models) == 1 else names
        if len(names) != 1:
            raise LeadscoreError(
                "name the model to use: " + (f"published models are {', '.join(names)}" if names
                                              else "no model is published yet (give a model file, "
                                                   "or run `leadscore publish models/NAME.yml`)"))
        ref = names[0]
    return published_target(store, ref)


def published_target(store: Store, name: str) -> Target:
    """The latest published version of a model (NotFoundError when it was never published)."""
    version = store.get_version(name)
    return Target(model_of(version), f"{version.model} v{version.version}", version.text, version.version)


def draft_target(store: Store, loaded: LoadedModel, source: str) -> Target:
    """An unpublished model, validated against the store first."""
    validate_against_store(loaded, store)
    return Target(loaded.model, source, loaded.text)


def contact_target(target: Target) -> ScoringModel:
    """The target's model, which must score contacts (reports and suggestions beyond a backtest)."""
    return contact_model(target.model, target.source)
