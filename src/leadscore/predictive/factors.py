"""Per-lead reasons in words: the three features that raised a lead's probability most, and the
three that lowered it most.

Contributions come from the learner (path attributions along LightGBM's trees, see
``learners.GradientBoosting.contributions``, or coefficient × standardised value for the
regression), in log-odds against an average lead. Each
feature is then read back into a phrase with the lead's own value — "job title = vp sales",
"no demo request in 30 days", "last page view 45 days ago" — which is what a rep needs to open
the conversation.

Why phrases are cached per (feature, value): a million leads share a few thousand distinct
phrases, and building the JSON from cached pieces keeps a million-lead run in seconds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.predictive.features import Feature, FeaturePlan

TOP_FACTORS = 3
#: Contributions smaller than this (log-odds) are not reasons.
MIN_IMPACT = 5e-4
_NAN_KEY = 1.0e308
_PAIR = np.dtype([("feature", "<i4"), ("value", "<f8")])


def describe(feature: Feature) -> str:
    """The feature itself, for the "most important features" list."""
    if feature.source == "account":  # a roll-up of a company's contacts: its label says it all
        return ("days since last " if feature.stat == "recency" else "") + feature.label
    if feature.stat == "count":
        return f"{feature.label} in last {feature.window} days"
    if feature.stat == "recency":
        return "days since last " + ("activity" if feature.label == "activity" else feature.label)
    if feature.stat == "first":
        return "days since first activity"
    if feature.stat == "active":
        return f"active days in last {feature.window} days"
    if feature.stat == "days_since":
        return f"days since {feature.label}"
    return feature.label


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.3g}"


#: category levels that are a form's "no answer", not an answer (levels are lower-cased)
PLACEHOLDERS = frozenset({"select", "n/a", "na", "none", "unknown", "-", "--", "not provided", "not specified",
                          "not given", "other (not specified)"})


def phrase(feature: Feature, value: float, boolean: bool = False) -> str:
    """One feature with one lead's value, as a rep would say it: "city is mumbai", "city not given"
    (for a form's `Select`), "rule score of 75 (model b2b)", never "city = select" or "x = 75"."""
    missing = math.isnan(value)
    label = feature.label
    if feature.kind == "category":
        if missing:
            return f"{label} not given"
        code = int(value)
        if code >= len(feature.levels):
            return f"{label} is a rare one"
        level = feature.levels[code]
        return f"{label} not given" if level in PLACEHOLDERS else f"{label} is {level}"
    if feature.source == "account" and not missing and feature.stat != "recency":
        # roll-ups of a company's contacts (predictive/account_features.py): "3 contacts",
        # "no contacts created in the last 30 days", "best b2b score among its contacts: 80"
        if feature.stat == "score":
            return f"{label}: {_number(value)}"
        return f"no {label}" if value == 0 else f"{_number(value)} {label}"
    if feature.source == "rule" and not missing:
        parts = feature.name.split(":")  # r:MODEL:score or r:MODEL:g:GROUP
        if parts[-1] == "score" and len(parts) == 3:
            return f"rule score of {_number(value)} (model {parts[1]})"
        return f"{_number(value)} {parts[-1]} points (model {parts[1]})"
    if feature.stat == "count":
        return f"no {label} in {feature.window} days" if value == 0 else \
            f"{_number(value)} × {label} in last {feature.window} days"
    if feature.stat == "recency":
        what = "activity" if label == "activity" else label
        return f"no {what} yet" if missing else f"last {what} {value:.0f} days ago"
    if feature.stat == "first":
        return "no activity yet" if missing else f"first activity {value:.0f} days ago"
    if feature.stat == "active":
        return f"active on {value:.0f} of the last {feature.window} days"
    if missing:
        return f"{label} not given"
    if feature.stat == "days_since":
        return f"{label} {value:.0f} days ago"
    if boolean:
        return f"{label}: {'yes' if value else 'no'}"
    return f"{label} of {_number(value)}"


class FactorWriter:
    """Turns contribution rows into the ``factors`` JSON of the predictions table."""

    def __init__(self, plan: FeaturePlan):
        self.plan = plan
        self.booleans = [
            f.source == "property" and (f.name == "p:is_free_email"
                                        or plan.property_columns.get(f.name[2:]) == "boolean")
            for f in plan.features]
        self._cache: dict[tuple[int, float | None], str] = {}
        #: Features whose phrase shows a whole number (days, counts, codes): keyed by it, so a
        #: million distinct ages make a few hundred phrases, not a million.
        self.whole = np.array([f.kind == "category" or f.stat != "value" or b
                               for f, b in zip(plan.features, self.booleans, strict=True)], dtype=bool)

    def _piece(self, j: int, value: float) -> str:
        key = (j, None if math.isnan(value) else round(value, 3))
        piece = self._cache.get(key)
        if piece is None:
            text = phrase(self.plan.features[j], value, self.booleans[j])
            piece = '{"factor": ' + json.dumps(text, ensure_ascii=False) + ', "impact": '
            self._cache[key] = piece
        return piece

    def _pieces(self, features: np.ndarray, values: np.ndarray) -> pa.Array:
        """``{"factor": "<phrase>", "impact": `` for each (feature, value) pair, built once per
        distinct pair (phrases show values rounded, so the key is rounded to 3 decimals).

        Why bytes: hashing each pair as a 12-byte key in Arrow is ~10× faster than numpy's
        sort-based unique on a million rows."""
        pairs = np.empty(len(features), dtype=_PAIR)
        pairs["feature"] = features
        rounded = np.where(self.whole[features], np.round(values), np.round(values, 3))
        pairs["value"] = np.where(np.isnan(values), _NAN_KEY, rounded)
        keys = pa.Array.from_buffers(pa.binary(_PAIR.itemsize), len(pairs), [None, pa.py_buffer(pairs.tobytes())])
        encoded = keys.dictionary_encode()
        distinct = np.frombuffer(encoded.dictionary.buffers()[1], dtype=_PAIR, count=len(encoded.dictionary))
        texts = [self._piece(int(j), math.nan if v == _NAN_KEY else float(v)) for j, v in distinct.tolist()]
        return pa.array(texts, pa.string()).take(encoded.indices)

    def write(self, x: np.ndarray, contributions: np.ndarray) -> pa.Array:
        """One JSON text per row: ``{"positive": [...], "negative": [...]}``, strongest first.

        Built column-wise (three arg-max passes each way, Arrow string kernels for the text): a
        million rows take seconds, not a minute.
        """
        n, width = contributions.shape
        k = min(TOP_FACTORS, width)
        if n == 0 or k == 0:
            return pa.array(['{"positive": [], "negative": []}'] * n, pa.string())
        rows = np.arange(n)
        lists = []
        for sign in (1.0, -1.0):
            signed = (sign * contributions).astype(np.float32)
            items = []
            # strongest first, so once one item is too small to be a reason, so are the rest
            for c in range(k):
                best = signed.argmax(axis=1)
                strength = signed[rows, best].astype(np.float64)
                signed[rows, best] = -np.inf
                impact = sign * strength
                text = pc.binary_join_element_wise(
                    ", " if c else "", self._pieces(best.astype(np.int32), x[rows, best]),
                    pc.cast(pc.round(pa.array(impact), 3), pa.string()), "}", "")
                items.append(pc.if_else(pa.array(strength > MIN_IMPACT), text, ""))
            lists.append(pc.binary_join_element_wise(*items, ""))
        return pc.binary_join_element_wise('{"positive": [', lists[0], '], "negative": [', lists[1], "]}", "")


def factor_lines(factors_json: str | None) -> list[str]:
    """``["+ job title is vp sales", "− no page view in 30 days", ...]`` from a stored factors text:
    what raised the likelihood, then what lowered it."""
    if not factors_json:
        return []
    data = json.loads(factors_json)
    return ([f"+ {f['factor']}" for f in data.get("positive", [])]
            + [f"− {f['factor']}" for f in data.get("negative", [])])
