"""The scoring model language as typed, validated objects.

A YAML model file is parsed (``model.loader``) into these pydantic classes with ``extra="forbid"``:
any key the language does not know is an error, never silently ignored. Shape rules that need
only the file itself (one operator per condition, ascending tiers, caps ≥ 0, ``max`` only with
``points_per_event`` ...) live here; rules that need the store (does property ``job_title`` exist,
is ``company_size`` numeric) live in ``model.validate``.

The meaning of every node is normative and defined in docs/model-reference.md (and DESIGN.md):
the compiler, the reference scorer and every engine implement exactly that.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from leadscore.errors import LeadscoreError
from leadscore.timeutil import parse_as_of

Scalar = str | int | float | bool


def _not_bool(value: Any) -> Any:
    """YAML ``true``/``false`` are not numbers (pydantic's lax mode would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


# Numbers in a model: int or float input, never a boolean, never NaN or infinite (``_Node``).
# Bounds sit before the bool check so that they reach the JSON Schema (``minimum``...).
Number = Annotated[float, BeforeValidator(_not_bool)]
PositiveNumber = Annotated[float, Field(gt=0), BeforeValidator(_not_bool)]
NonNegativeNumber = Annotated[float, Field(ge=0), BeforeValidator(_not_bool)]
Percent = Annotated[float, Field(gt=0, le=100), BeforeValidator(_not_bool)]
#: A whole number of events (``at_least: 3``).
NonNegativeCount = Annotated[int, Field(ge=0), BeforeValidator(_not_bool)]

#: Operators allowed on a property (of a contact, or of an event in ``where``).
VALUE_OPERATORS = (
    "equals", "not_equals", "in", "not_in", "contains", "starts_with", "ends_with", "matches",
    "gt", "gte", "lt", "lte", "between", "is_set", "is_empty", "within_days", "older_than_days",
)
STRING_OPERATORS = ("contains", "starts_with", "ends_with", "matches")
ORDER_OPERATORS = ("gt", "gte", "lt", "lte", "between")
DATE_OPERATORS = ("within_days", "older_than_days")
COUNT_BANDS = ("at_least", "at_most", "exactly", "between")

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- conditions


class ValueTest(_Node):
    """Exactly one operator applied to one value (a contact property or an event property)."""

    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    contains: str | None = None
    starts_with: str | None = None
    ends_with: str | None = None
    matches: str | None = None
    gt: Number | str | None = None
    gte: Number | str | None = None
    lt: Number | str | None = None
    lte: Number | str | None = None
    between: tuple[Number | str, Number | str] | None = None
    is_set: Literal[True] | None = None
    is_empty: Literal[True] | None = None
    within_days: NonNegativeNumber | None = None
    older_than_days: NonNegativeNumber | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> ValueTest:
        used = self.operators_used()
        if len(used) != 1:
            raise ValueError(
                f"give exactly one operator, found {len(used) or 'none'}"
                + (f" ({', '.join(used)})" if used else "")
                + f"; operators: {', '.join(VALUE_OPERATORS)}; combine several with all/any"
            )
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"`matches` is not a valid regular expression: {exc}") from exc
        if self.between is not None:
            lo, hi = self.between
            if type(lo) is not type(hi) and not (isinstance(lo, int | float) and isinstance(hi, int | float)):
                raise ValueError("both ends of `between` must be of the same type")
            if _empty_range(lo, hi):
                raise ValueError(f"`between: [{lo}, {hi}]` is empty: the first bound must be ≤ the second")
        for op in ("in_", "not_in"):
            values = getattr(self, op)
            if values is not None and not values:
                raise ValueError(f"`{op.rstrip('_')}` needs at least one value")
        return self

    def operators_used(self) -> list[str]:
        return [
            op for op in VALUE_OPERATORS
            if getattr(self, "in_" if op == "in" else op) is not None
        ]

    @property
    def operator(self) -> str:
        return self.operators_used()[0]

    @property
    def value(self) -> Any:
        return getattr(self, "in_" if self.operator == "in" else self.operator)


class PropertyCondition(ValueTest):
    """``{property: job_title, in: [CEO, CMO]}``: a test on one contact property."""

    property: str


def _empty_range(lo: float | str, hi: float | str) -> bool:
    """Is ``between: [lo, hi]`` empty? Dates compare as instants (``…T10:00+05:00`` < ``…T06:00Z``)."""
    if isinstance(lo, str) and isinstance(hi, str):
        try:
            if "now" not in (lo.strip().lower(), hi.strip().lower()):
                return parse_as_of(lo) > parse_as_of(hi)
        except LeadscoreError:
            pass
    return lo > hi  # type: ignore[operator]


def _where_value(raw: Any) -> Any:
    """``where`` shorthands: a bare scalar means ``equals``, a bare list means ``in``."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, list):
        return {"in": raw}
    return {"equals": raw}


class EventCondition(_Node):
    """``{event: page_view, where: {url: {contains: /pricing}}, within_days: 30, at_least: 3}``.

    Holds when the number of matching events (type matches, every ``where`` test holds, age within
    ``within_days``) satisfies the count band; the default band is ``at_least: 1``.
    """

    event: str | list[str]
    where: dict[str, ValueTest] = Field(default_factory=dict)
    within_days: PositiveNumber | None = None
    ever: Literal[True] | None = None
    at_least: NonNegativeCount | None = None
    at_most: NonNegativeCount | None = None
    exactly: NonNegativeCount | None = None
    between: tuple[NonNegativeCount, NonNegativeCount] | None = None

    @field_validator("where", mode="before")
    @classmethod
    def _expand_where(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            return {k: _where_value(v) for k, v in raw.items()}
        return raw

    @field_validator("event")
    @classmethod
    def _event_types(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("`event` needs at least one event type")
        return value

    @model_validator(mode="after")
    def _band(self) -> EventCondition:
        bands = [b for b in COUNT_BANDS if getattr(self, b) is not None]
        if len(bands) > 1:
            raise ValueError(f"give at most one count band, found {', '.join(bands)}")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError(
                f"`between: {list(self.between)}` is empty: the first bound must be ≤ the second"
            )
        if self.ever and self.within_days is not None:
            raise ValueError("`ever` and `within_days` contradict each other: keep one")
        return self

    @property
    def event_types(self) -> list[str]:
        return [self.event] if isinstance(self.event, str) else list(self.event)

    @property
    def band(self) -> tuple[int, int | None]:
        """The count band as ``(low, high)`` inclusive; ``high`` None means unbounded."""
        if self.at_most is not None:
            return (0, self.at_most)
        if self.exactly is not None:
            return (self.exactly, self.exactly)
        if self.between is not None:
            return (self.between[0], self.between[1])
        return (self.at_least if self.at_least is not None else 1, None)

    @property
    def has_band(self) -> bool:
        return any(getattr(self, b) is not None for b in COUNT_BANDS)


class InactivityCondition(_Node):
    """``{no_event_within_days: 30, events: [page_view]}``: nothing (of those types) in D days."""

    no_event_within_days: PositiveNumber
    events: list[str] | None = None


class AllCondition(_Node):
    all: list[Condition] = Field(min_length=1)


class AnyCondition(_Node):
    any: list[Condition] = Field(min_length=1)


class NotCondition(_Node):
    not_: Condition = Field(alias="not")


def _condition_kind(raw: Any) -> str | None:
    if isinstance(raw, BaseModel):
        return {
            PropertyCondition: "property", EventCondition: "event", InactivityCondition: "inactivity",
            AllCondition: "all", AnyCondition: "any", NotCondition: "not",
        }.get(type(raw))
    if not isinstance(raw, dict):
        return None
    for key, kind in (("property", "property"), ("event", "event"),
                      ("no_event_within_days", "inactivity"), ("all", "all"), ("any", "any"),
                      ("not", "not")):
        if key in raw:
            return kind
    return None


Condition = Annotated[
    Annotated[PropertyCondition, Tag("property")]
    | Annotated[EventCondition, Tag("event")]
    | Annotated[InactivityCondition, Tag("inactivity")]
    | Annotated[AllCondition, Tag("all")]
    | Annotated[AnyCondition, Tag("any")]
    | Annotated[NotCondition, Tag("not")],
    Discriminator(
        _condition_kind,
        custom_error_type="condition_kind",
        custom_error_message=(
            "a condition needs one of the keys property, event, no_event_within_days, all, any, not"
        ),
    ),
]

AllCondition.model_rebuild()
AnyCondition.model_rebuild()
NotCondition.model_rebuild()


# --------------------------------------------------------------------------- rules and groups


class Decay(_Node):
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


class Rule(_Node):
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


class Group(_Node):
    """Rules whose points add up to one subtotal, clamped to ``[floor, cap]``."""

    cap: NonNegativeNumber | None = None
    floor: Number | None = None
    decay: Decay | None = None
    description: str | None = None
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounds(self) -> Group:
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            raise ValueError(f"`floor: {self.floor}` is above `cap: {self.cap}`")
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique within a group: {', '.join(dupes)}")
        return self


class MatrixAxis(_Node):
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


class Matrix(_Node):
    """Optional grade such as ``A1``: fit band letter followed by engagement band label."""

    fit: MatrixAxis
    engagement: MatrixAxis


class PredictiveBlend(_Node):
    """Optional blended score: the rule total and a predictive model's probability in one number.

    ``blended = (1 - weight) × rule total + weight × 100 × probability``; shown by ``explain`` and
    exported as ``blended`` for contacts that have a prediction (docs/predictive.md). It never
    changes the rule total, tiers or workflows.
    """

    model: str = Field(description="name of a predictive model (`leadscore train --name`, default likelihood)")
    weight: float = Field(default=0.5, ge=0, le=1, description="share of 100 × probability in the blend")


# --------------------------------------------------------------------------- workflows


class Trigger(_Node):
    """When a workflow fires: a crossing, not a level (``score_above: 60`` fires once on the way up)."""

    enters_tier: str | None = None
    leaves_tier: str | None = None
    score_above: Number | None = None
    score_below: Number | None = None
    score_changed_by: PositiveNumber | None = None

    @model_validator(mode="after")
    def _one(self) -> Trigger:
        used = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(used) != 1:
            raise ValueError(
                "give exactly one trigger: enters_tier, leaves_tier, score_above, score_below, "
                "score_changed_by"
            )
        return self


class WebhookAction(_Node):
    url: str
    secret: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: PositiveNumber = 10


class EmailAction(_Node):
    to: str
    subject: str
    body: str | None = None
    template: str | None = None


class TaskAction(_Node):
    for_: str = Field(default="owner", alias="for")
    title: str
    due_in_days: NonNegativeNumber | None = None
    notes: str | None = None


class ListAction(_Node):
    list: str


class Action(_Node):
    """One step of a workflow; exactly one key."""

    webhook: WebhookAction | None = None
    email: EmailAction | None = None
    task: TaskAction | None = None
    set: dict[str, Scalar | None] | None = None
    add_to_list: ListAction | str | None = None
    remove_from_list: ListAction | str | None = None

    @model_validator(mode="after")
    def _one(self) -> Action:
        used = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(used) != 1:
            raise ValueError(
                "each step needs exactly one action: webhook, email, task, set, add_to_list, "
                "remove_from_list"
            )
        return self


class Workflow(_Node):
    name: str
    on: Trigger
    if_: Condition | None = Field(default=None, alias="if")
    do: list[Action] = Field(min_length=1)
    cooldown_hours: NonNegativeNumber | None = None


# --------------------------------------------------------------------------- the model


DEFAULT_TIERS = {"cold": 0.0, "nurture": 30.0, "sql": 60.0}


class ScoringModel(_Node):
    """A whole scoring model, as written in one ``models/*.yml`` file."""

    version: Literal[1] = 1
    name: str
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
        if not self.tiers:
            raise ValueError("`tiers` needs at least one tier")
        bounds = list(self.tiers.values())
        for (a_name, a), (b_name, b) in zip(self.tiers.items(), list(self.tiers.items())[1:], strict=False):
            if b <= a:
                raise ValueError(
                    f"tiers must be listed with strictly increasing lower bounds: `{b_name}: {b}` "
                    f"comes after `{a_name}: {a}`"
                )
        del bounds
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            raise ValueError(f"`floor: {self.floor}` is above `cap: {self.cap}`")
        if self.matrix is not None:
            for axis_name in ("fit", "engagement"):
                axis: MatrixAxis = getattr(self.matrix, axis_name)
                if axis.group not in self.groups:
                    raise ValueError(
                        f"matrix.{axis_name}.group `{axis.group}` is not a group of this model "
                        f"(groups: {', '.join(self.groups)})"
                    )
        for wf in self.workflows:
            for tier in (wf.on.enters_tier, wf.on.leaves_tier):
                if tier is not None and tier not in self.tiers:
                    raise ValueError(
                        f"workflow `{wf.name}` names tier `{tier}`, not one of {', '.join(self.tiers)}"
                    )
        return self

    # ---- derived views used by compiler, engine and reference scorer

    def rules(self) -> list[tuple[str, Rule]]:
        """Every rule with its group name, in file order: index i is column ``r_i`` in SQL."""
        return [(g, r) for g, group in self.groups.items() for r in group.rules]

    def decay_for(self, group: str, rule: Rule) -> Decay | None:
        """The decay that applies to a rule's event points: the rule's own, else its group's."""
        if rule.decay is False:
            return None
        if rule.decay is not None:
            return rule.decay
        return self.groups[group].decay

    def tier_for(self, total: float) -> str:
        """Highest tier whose lower bound ≤ total; below every bound falls in the lowest tier."""
        names = list(self.tiers)
        tier = names[0]
        for name in names:
            if total >= self.tiers[name]:
                tier = name
        return tier
