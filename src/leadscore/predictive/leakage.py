"""Leakage guards: what training checks before a model that "knows the answer" can be stored.

Found when a new user trained on a real CRM export (the public X Education leads): columns the
sales team fills in during or after the deal (``Tags`` such as "Closed by Horizzon", ``Lead
Quality``) made a model with a held-out AUC of 0.98 that would be useless on new leads. The guards:

* ``--exclude`` names columns as the user's file named them (``Tags``, ``Lead Quality``), as
  ``--label Converted`` does; an unknown name is an error listing the close matches
  (``resolve_columns``), never silently ignored;
* identifier columns (unique or nearly unique per contact: a lead number, a UUID) are never
  features (``features.plan_features``; ``train`` says which it dropped);
* a feature that alone separates converters from the others (single-feature AUC ≥
  ``SINGLE_FEATURE_AUC``), or a held-out AUC ≥ ``HELD_OUT_AUC``, stops training with a message
  naming the columns (for a held-out AUC alone, the columns that best separate converters on
  their own), unless ``--accept-leaky``; the model's card (``leadscore models``) then records the
  warning (``check_leakage``, ``refusal``);
* properties with no recorded change before a cut-off are read at their first imported value,
  assumed since each contact's ``created_at`` (``assumed_properties``): training says so when
  that holds for most contacts (one contact's dated change does not make a field honest), since
  a field filled in after the outcome leaks that way.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from leadscore.errors import LeadscoreError
from leadscore.model.properties import DERIVED_PROPERTIES, UNVERSIONED_COLUMNS
from leadscore.predictive.calibrate import auc
from leadscore.predictive.features import FeaturePlan
from leadscore.storage.history import assumed_shares
from leadscore.storage.store import Store

#: One feature alone ranking converters at least this well is most likely written after the outcome.
SINGLE_FEATURE_AUC = 0.95
#: No honest lead-scoring model on real data gets here (DESIGN: HubSpot and peers report 0.7-0.9).
HELD_OUT_AUC = 0.97
#: A property whose value at the first cut-off is assumed for this share of contacts is named.
ASSUMED_SHARE = 0.5
#: How many property names a warning lists before "and N more".
SHOWN = 8


class LeakageSuspected(LeadscoreError):
    """Training stopped: some columns look like they were written after the outcome."""


def snake(name: str) -> str:
    """A name as imports name columns (``Lead Quality`` → ``lead_quality``)."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def resolve_columns(store: Store, names: Iterable[str], what: str = "--exclude", table: str = "contacts") -> set[str]:
    """The ``table`` columns (contacts, or companies for an account model) ``names`` mean: as
    written, or as the import named the file's column.

    An unknown name is a ``LeadscoreError`` listing the closest columns.
    """
    noun = "company" if table == "companies" else "contact"
    columns = list(store.columns(table)) + (list(DERIVED_PROPERTIES) if table == "contacts" else [])
    out: set[str] = set()
    for name in names:
        found = name if name in columns else snake(name) if snake(name) in columns else None
        if found is None:
            close = difflib.get_close_matches(snake(name), columns, n=3, cutoff=0.6)
            hint = (f"did you mean {', '.join(f'`{c}`' for c in close)}?" if close
                    else f"{noun} columns: " + ", ".join(columns[:30]))
            raise LeadscoreError(f"{what} {name}: no {noun} column of that name; {hint}")
        out.add(found)
    return out


@dataclass(frozen=True)
class Suspect:
    """A feature that alone separates converters from the others, or the whole model when its
    held-out AUC is too good to be true (``column`` None)."""

    column: str | None
    label: str
    auc: float

    def describe(self) -> str:
        return f"{self.label} (AUC {self.auc:.3f} alone)" if self.column else f"held-out AUC {self.auc:.3f}"


def _column_of(name: str) -> str | None:
    """The contacts column behind a property feature (``p:tags`` → ``tags``); None for the others."""
    if not name.startswith("p:"):
        return None
    column = name[2:]
    return "email" if column in DERIVED_PROPERTIES else column


def single_feature_auc(column: np.ndarray, y: np.ndarray, category: bool) -> float:
    """How well one feature alone ranks converters (0.5: not at all, 1: perfectly).

    A category (or a missing value) is replaced by its share of converters among these rows, the
    best ranking that feature alone can give; a number is ranked as it is, missing values below
    all others, in whichever direction ranks better.
    """
    if len(y) == 0 or y.all() or not y.any():
        return 0.5
    values = np.where(np.isnan(column), -1.0, column) if category else column
    if category:
        levels, index = np.unique(values, return_inverse=True)
        rate = np.bincount(index, weights=y.astype(float)) / np.bincount(index)
        score = rate[index]
    else:
        finite = values[~np.isnan(values)]
        low = float(finite.min()) - 1.0 if finite.size else 0.0
        score = np.where(np.isnan(values), low, values)
    value = auc(y, score)
    return max(value, 1.0 - value) if value == value else 0.5


@dataclass(frozen=True)
class LeakCheck:
    """What the check found: ``suspects`` stop training; ``ranking`` is every property column by
    how well it alone ranks converters, best first (named when only the held-out AUC is too good)."""

    suspects: list[Suspect]
    ranking: list[Suspect]


def check_leakage(plan: FeaturePlan, x: np.ndarray, y: np.ndarray, held_out_auc: float) -> LeakCheck:
    """The property features whose single-feature AUC on ``x`` reaches ``SINGLE_FEATURE_AUC``,
    and the model itself when its held-out AUC reaches ``HELD_OUT_AUC``."""
    best: dict[str, Suspect] = {}
    for j, feature in enumerate(plan.features):
        column = _column_of(feature.name)
        if column is None:  # event aggregates and rule scores are as of the cut-off by construction
            continue
        value = single_feature_auc(x[:, j], y, feature.kind == "category")
        if column not in best or value > best[column].auc:
            best[column] = Suspect(column, feature.label, value)
    ranking = sorted(best.values(), key=lambda s: -s.auc)
    found = [s for s in ranking if s.auc >= SINGLE_FEATURE_AUC]
    if held_out_auc == held_out_auc and held_out_auc >= HELD_OUT_AUC:
        found.append(Suspect(None, "the model", held_out_auc))
    return LeakCheck(found, ranking)


def refusal(check: LeakCheck) -> str:
    """The message that stops training (or, accepted, the warning on the model's card)."""
    alone = [s for s in check.suspects if s.column]
    named = alone or check.ranking[:3]
    what = "; ".join(s.describe() for s in check.suspects)
    if alone:
        why = ("a column that alone tells who converted was most likely filled in during or after the sale "
               "(a sales tag, a lead quality grade, a stage)")
    else:
        why = ("no honest lead score ranks that well; the columns that best separate converters on their own "
               f"are {', '.join(s.describe() for s in named)}: look for fields filled in during or after the sale")
    exclude = " ".join(f"--exclude {s.column}" for s in named if s.column)
    return (f"leakage suspected: {what}. {why[0].upper() + why[1:]}; a model using them looks brilliant on history and "
            f"is useless on new leads. Leave them out ({exclude}), or keep them knowingly with --accept-leaky")


def assumed_properties(store: Store, plan: FeaturePlan, cutoff: datetime) -> list[str]:
    """The property columns the features of ``plan`` read whose value at ``cutoff`` is assumed (no
    recorded change at or before it) for at least ``ASSUMED_SHARE`` of the contacts, each with its
    share (``lifecycle_stage (80% assumed)``). Date properties are left out: the features read
    them only where dated (``features._dated_join``)."""
    used = dict.fromkeys(c for f in plan.features if (c := _column_of(f.name)) is not None)
    names = [c for c in used if c not in UNVERSIONED_COLUMNS and plan.property_columns.get(c) != "timestamp"]
    shares = assumed_shares(store.con, names, cutoff)
    return [f"{n} ({shares[n]:.0%} assumed)" for n in names if shares.get(n, 0.0) >= ASSUMED_SHARE]


def assumed_warning(names: list[str], cutoff: datetime) -> str | None:
    """A warning naming the properties whose values as of ``cutoff`` are mostly assumed."""
    if not names:
        return None
    shown = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
    return (f"{len(names)} properties have, for most contacts, no recorded change at or before {cutoff:%Y-%m-%d}, "
            f"so their values there are the ones first imported, assumed to have held since each contact was "
            f"created: {shown}. If one of them was filled in after the outcome (a stage, a lead status, a field "
            "sales fills in), it leaks: import its history (`leadscore import history`) or leave it out with --exclude")
