"""The scoring model language as typed, validated objects.

A YAML model file is parsed (``model.loader``) into pydantic classes with ``extra="forbid"``
(``model.nodes``): this module holds rules, groups, decay, the matrix and the whole model;
conditions live in ``model.conditions`` and workflows in ``model.workflow_spec``. Anywhere,
any key the language does not know is an error, never silently ignored. Shape rules that need
only the file itself (one operator per condition, ascending tiers, caps ≥ 0, ``max`` only with
``points_per_event`` ...) live here; rules that need the store (does property ``job_title`` exist,
is ``company_size`` numeric) live in ``model.validate``.

The meaning of every node is normative and defined in docs/model-reference.md (and DESIGN.md):
the compiler, the reference scorer and every engine implement exactly that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from leadscore.model.conditions import Condition, EventCondition
from leadscore.model.nodes import NAME_PATTERN, Node, NonNegativeNumber, Number, Percent, PositiveNumber
from leadscore.model.workflow_spec import Workflow

# --------------------------------------------------------------------------- rules and groups


class Decay(Node):
    """How event points fade with age: exponential (half-life) or linear (percent per 30 days).

    ``half_life_days: H``  → factor 0.5 ** (age_days / H)
    ``percent_per_month: p`` → factor max(0, 1 − p/100 × age_days / 30)
    """

    half_life_days: PositiveNumber | None = None
    percent_per_month: Percent | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Decay:
        if (self.half_life_days is None) == (self.percent_per_month is None):
            raise ValueError("give exactly one of half_life_days or percent_per_month")
        return self


class Rule(Node):
    """One scoring rule: a condition and the points it is worth."""

    name: str = Field(min_length=1)
    when: Condition
    points: Number | None = None
    points_per_event: Number | None = None
    max: PositiveNumber | None = None
    decay: Decay | Literal[False] | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _points(self) -> Rule:
        if (self.points is None) == (self.points_per_event is None):
            raise ValueError("give exactly one of `points` or `points_per_event`")
        if self.max is not None and self.points_per_event is None:
            raise ValueError("`max` bounds `points_per_event`; with `points` it has no meaning")
        if self.points_per_event is not None:
            if not isinstance(self.when, EventCondition):
                raise ValueError("`points_per_event` needs `when` to be a single event condition")
            if self.when.has_band:
                raise ValueError(
                    "`points_per_event` counts every matching event: drop the count band "
                    "(at_least/at_most/exactly/between) or use `points`"
                )
        return self


class Group(Node):
    """Rules whose points add up to one subtotal, clamped to ``[floor, cap]``."""

    cap: NonNegativeNumber | None = None
    floor: Number | None = None
    decay: Decay | None = None
    description: str | None = None
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounds(self) -> Group:
        check_group(self.cap, self.floor, [r.name for r in self.rules])
        return self


def check_group(cap: float | None, floor: float | None, names: list[str]) -> None:
    """A group's shape rules, shared by contact and account groups: floor ≤ cap, unique names."""
    if cap is not None and floor is not None and floor > cap:
        raise ValueError(f"`floor: {floor}` is above `cap: {cap}`")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"rule names must be unique within a group: {', '.join(dupes)}")


class MatrixAxis(Node):
    """One axis of the fit × engagement grade: a group and named lower bounds (``A: 30``)."""

    group: str
    bands: dict[str, Number] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> MatrixAxis:
        values = list(self.bands.values())
        if len(set(values)) != len(values):
            raise ValueError("two bands share the same lower bound")
        return self

    def band_for(self, points: float) -> str:
        """The band with the highest lower bound ≤ points; the lowest band below every bound."""
        ordered = sorted(self.bands.items(), key=lambda kv: kv[1])
        label = ordered[0][0]
        for name, bound in ordered:
            if points >= bound:
                label = name
        return label


class Matrix(Node):
    """Optional grade such as ``A1``: fit band letter followed by engagement band label."""

    fit: MatrixAxis
    engagement: MatrixAxis


class PredictiveBlend(Node):
    """Optional blended score: the rule total and a predictive model's probability in one number.

    ``blended = (1 - weight) × rule total + weight × 100 × probability``; shown by ``explain`` and
    exported as ``blended`` for contacts that have a prediction (docs/predictive.md). It never
    changes the rule total, tiers or workflows.
    """

    model: str = Field(description="name of a predictive model (`leadscore train --name`, default likelihood)")
    weight: float = Field(default=0.5, ge=0, le=1, description="share of 100 × probability in the blend")


# --------------------------------------------------------------------------- the model


DEFAULT_TIERS = {"cold": 0.0, "nurture": 30.0, "sql": 60.0}


class ScoringModel(Node):
    """A whole scoring model, as written in one ``models/*.yml`` file."""

    version: Literal[1] = 1
    name: str
    level: Literal["contact"] = "contact"
    description: str | None = None
    tiers: dict[str, Number] = Field(default_factory=lambda: dict(DEFAULT_TIERS))
    groups: dict[str, Group] = Field(min_length=1)
    cap: NonNegativeNumber | None = None
    floor: Number | None = None
    matrix: Matrix | None = None
    predictive: PredictiveBlend | None = None
    workflows: list[Workflow] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                f"model name {value!r} must start with a letter and hold only letters, digits, _ and -"
            )
        return value

    @model_validator(mode="after")
    def _whole(self) -> ScoringModel:
        check_model(self.tiers, self.cap, self.floor, self.matrix, list(self.groups), self.workflows)
        return self

    # ---- derived views used by compiler, engine and reference scorer

    def rules(self) -> list[tuple[str, Rule]]:
        """Every rule with its group name, in file order: index i is column ``r_i`` in SQL."""
        return [(g, r) for g, group in self.groups.items() for r in group.rules]

    def decay_for(self, group: str, rule: Rule) -> Decay | None:
        """The decay that applies to a rule's event points: the rule's own, else its group's."""
        return decay_of(rule.decay, self.groups[group].decay)

    def tier_for(self, total: float) -> str:
        """Highest tier whose lower bound ≤ total; below every bound falls in the lowest tier."""
        return tier_of(self.tiers, total)


def decay_of(rule_decay: Decay | Literal[False] | None, group_decay: Decay | None) -> Decay | None:
    """The decay a rule's events get: its own, none with ``decay: false``, else its group's."""
    if rule_decay is False:
        return None
    return rule_decay if rule_decay is not None else group_decay


def tier_of(tiers: dict[str, float], total: float) -> str:
    """Highest tier whose lower bound ≤ total; below every bound falls in the lowest tier."""
    names = list(tiers)
    tier = names[0]
    for name in names:
        if total >= tiers[name]:
            tier = name
    return tier


def check_model(tiers: dict[str, float], cap: float | None, floor: float | None, matrix: Matrix | None,
                groups: list[str], workflows: Sequence[Any]) -> None:
    """The whole-model shape rules shared by contact and account models: increasing tiers,
    floor ≤ cap, matrix axes naming groups, workflow tiers naming tiers (``workflows``: anything
    with a ``name`` and a trigger ``on``, contact or account workflows)."""
    if not tiers:
        raise ValueError("`tiers` needs at least one tier")
    for (a_name, a), (b_name, b) in zip(tiers.items(), list(tiers.items())[1:], strict=False):
        if b <= a:
            raise ValueError(
                f"tiers must be listed with strictly increasing lower bounds: `{b_name}: {b}` "
                f"comes after `{a_name}: {a}`"
            )
    if cap is not None and floor is not None and floor > cap:
        raise ValueError(f"`floor: {floor}` is above `cap: {cap}`")
    if matrix is not None:
        for axis_name in ("fit", "engagement"):
            axis: MatrixAxis = getattr(matrix, axis_name)
            if axis.group not in groups:
                raise ValueError(
                    f"matrix.{axis_name}.group `{axis.group}` is not a group of this model "
                    f"(groups: {', '.join(groups)})"
                )
    for wf in workflows:
        for tier in (wf.on.enters_tier, wf.on.leaves_tier):
            if tier is not None and tier not in tiers:
                raise ValueError(
                    f"workflow `{wf.name}` names tier `{tier}`, not one of {', '.join(tiers)}"
                )
