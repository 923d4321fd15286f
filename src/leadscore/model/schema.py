"""The JSON Schema of a model file, for editors (``leadscore schema > leadscore-model.schema.json``).

It starts from pydantic's schema of ``ScoringModel`` (by alias, so ``in``/``not``/``if``/``for``
appear as written in YAML) and adds what an editor needs and pydantic cannot see: a description
on every key, the ``where`` shorthands (``where: {form: demo}``), "exactly one of" rules the
spec enforces in code (one operator per test, ``points`` xor ``points_per_event``...), and the
model name pattern. The schema is a help for typing, not the validator: ``leadscore validate``
also checks names against the store, value types per column, and everything in
``model.validate``. Values written as ``${ENV}`` are strings until loaded, so an editor may flag
``cap: ${CAP}``; the loader accepts it.

Use it in VS Code (YAML extension) with a first line ``# yaml-language-server: $schema=<file>``.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from leadscore.model.nodes import NAME_PATTERN, VALUE_OPERATORS
from leadscore.model.spec import ScoringModel

__all__ = ["SCHEMA_ID", "model_json_schema"]

SCHEMA_ID = "urn:leadscore:schema:model:1"

#: ``$defs`` name → key → description (the class docstrings describe the objects themselves).
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "ScoringModel": {
        "version": "Version of the model language; always 1.",
        "name": "The model's name: scores are stored per model name. A letter, then letters, "
                "digits, _ or -.",
        "description": "Free text for people reading the model.",
        "level": "contact (the default) scores contacts; a file with `level: account` is an account model, "
                 "which scores companies (docs/model-reference.md, Account models).",
        "tiers": "Tier name → lower bound on the total, strictly increasing. A contact is in the "
                 "highest tier whose bound is ≤ its total; totals below every bound fall in the "
                 "first tier. Default {cold: 0, nurture: 30, sql: 60}.",
        "groups": "Group name → group. The total is the sum of the groups' points.",
        "cap": "Upper bound on the total (≥ 0).",
        "floor": "Lower bound on the total.",
        "matrix": "Optional two-letter grade such as A1: fit band + engagement band.",
        "predictive": "Optional blended score: (1 - weight) × total + weight × 100 × the probability "
                      "of a trained predictive model (a read-out; tiers never depend on it).",
        "workflows": "Actions when a contact's score or tier changes (structure only in this release).",
    },
    "Group": {
        "cap": "Upper bound on the group's points (≥ 0).",
        "floor": "Lower bound on the group's points (usually ≤ 0).",
        "decay": "Decay of every event rule in the group (a rule's own decay wins).",
        "description": "Free text.",
        "rules": "The group's rules; their points add up, then [floor, cap] applies.",
    },
    "Rule": {
        "name": "Shown by explain; unique within the group (and best unique in the model).",
        "when": "The condition: property, event, no_event_within_days, all, any or not.",
        "points": "Points when the condition holds, times the decay of the newest matching event.",
        "points_per_event": "Points for each matching event (times its decay); needs a single "
                            "event condition without a count band.",
        "max": "Bound on the absolute value of points_per_event's sum.",
        "decay": "This rule's decay; `false` turns the group's decay off for this rule.",
        "description": "Free text.",
    },
    "Decay": {
        "half_life_days": "Factor 0.5 ^ (age_days / H).",
        "percent_per_month": "Factor max(0, 1 − p/100 × age_days / 30); a month is 30 days.",
    },
    "PropertyCondition": {"property": "A contact property: a column, email_domain or is_free_email."},
    "EventCondition": {
        "event": "Event type, or a list of types (any of them).",
        "where": "Event property → test; a bare value means equals, a bare list means in.",
        "within_days": "Only events with 0 ≤ age_days ≤ D count.",
        "ever": "Explicitly any age (the default); cannot be combined with within_days.",
        "at_least": "Holds when at least N events match (default: at_least 1).",
        "at_most": "Holds when at most N events match (0 included).",
        "exactly": "Holds when exactly N events match.",
        "between": "Holds when the number of matching events is in [a, b], both included.",
    },
    "InactivityCondition": {
        "no_event_within_days": "Holds when no event (of `events`) has age_days ≤ D. Never decays.",
        "events": "Event types to consider; default: every type.",
    },
    "AllCondition": {"all": "Holds when every condition holds."},
    "AnyCondition": {"any": "Holds when at least one condition holds."},
    "NotCondition": {"not": "Holds when the condition does not hold."},
    "MatrixAxis": {
        "group": "The group whose points are banded.",
        "bands": "Band label → lower bound; the highest bound ≤ points wins, the lowest band "
                 "catches everything below.",
    },
    "Matrix": {"fit": "First letter of the grade.", "engagement": "Second part of the grade."},
    "Workflow": {
        "name": "Shown in logs and deliveries.",
        "on": "What fires the workflow: a crossing, not a level.",
        "if": "Optional condition on the contact, as in a rule's `when`.",
        "do": "Steps, each with exactly one action.",
        "cooldown_hours": "Minimum hours between two runs for the same contact.",
    },
}

_OPERATOR_HELP: dict[str, str] = {
    "equals": "Value equals this.", "not_equals": "Value is set and differs from this.",
    "in": "Value is one of these.", "not_in": "Value is set and none of these.",
    "contains": "Text contains this (case-sensitive).", "starts_with": "Text starts with this.",
    "ends_with": "Text ends with this.", "matches": "Regular expression found anywhere in the text.",
    "gt": "Number or date strictly greater.", "gte": "Number or date greater or equal.",
    "lt": "Number or date strictly less.", "lte": "Number or date less or equal.",
    "between": "[low, high], both included (numbers or dates).", "is_set": "Value is not null.",
    "is_empty": "Value is null (the only test a null value passes).",
    "within_days": "Date with 0 ≤ age ≤ D days.", "older_than_days": "Date with age > D days.",
}
for _cls in ("ValueTest", "PropertyCondition"):
    DESCRIPTIONS.setdefault(_cls, {}).update(_OPERATOR_HELP)

_SCALAR: list[dict[str, Any]] = [{"type": t} for t in ("string", "number", "boolean")]


def _exactly_one(*keys: str) -> dict[str, Any]:
    return {"oneOf": [{"required": [k]} for k in keys]}


@lru_cache(maxsize=1)
def _build() -> dict[str, Any]:
    schema = ScoringModel.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema["$defs"]
    for name, keys in DESCRIPTIONS.items():
        target = schema if name == "ScoringModel" else defs[name]
        for key, text in keys.items():
            target["properties"][key]["description"] = text
    schema["properties"]["name"]["pattern"] = NAME_PATTERN.pattern
    # where: {url: {contains: /x}} | {form: demo} (equals) | {form: [a, b]} (in)
    defs["EventCondition"]["properties"]["where"]["additionalProperties"] = {
        "anyOf": [{"$ref": "#/$defs/ValueTest"}, *_SCALAR,
                  {"type": "array", "items": {"anyOf": _SCALAR}, "minItems": 1}],
    }
    defs["ValueTest"].update(minProperties=1, maxProperties=1)
    defs["PropertyCondition"].update(
        minProperties=2, maxProperties=2, anyOf=[{"required": [op]} for op in VALUE_OPERATORS])
    defs["Rule"].update(_exactly_one("points", "points_per_event"))
    defs["Decay"].update(_exactly_one("half_life_days", "percent_per_month"))
    defs["Trigger"].update(minProperties=1, maxProperties=1)
    defs["Action"].update(minProperties=1, maxProperties=1)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "leadscore scoring model",
        "description": (
            "A leadscore scoring model (models/*.yml): rules that add or remove points, grouped, "
            "capped, decayed and mapped to tiers. Reference: docs/model-reference.md. "
            "Strings may use ${ENV} or ${ENV:-default}."
        ),
    }


def model_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a model file; a fresh copy on every call.

    >>> schema = model_json_schema()
    >>> schema["title"], schema["additionalProperties"]
    ('leadscore scoring model', False)
    """
    return copy.deepcopy(_build())
