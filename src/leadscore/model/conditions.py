"""Conditions of the model language: on a contact property, on events, inactivity, and all/any/not.

Shape rules that need only the file (one operator per condition, ordered bounds, impossible count
bands) live here; what needs the store (does the property exist, is it numeric) lives in
``model.validate``. Meaning: docs/model-reference.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from leadscore.errors import LeadscoreError
from leadscore.model.nodes import (
    COUNT_BANDS,
    VALUE_OPERATORS,
    Node,
    NonNegativeCount,
    NonNegativeNumber,
    Number,
    PositiveNumber,
    Scalar,
)
from leadscore.timeutil import parse_time

# --------------------------------------------------------------------------- conditions


class ValueTest(Node):
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
                return parse_time(lo) > parse_time(hi)
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


class EventCondition(Node):
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


class InactivityCondition(Node):
    """``{no_event_within_days: 30, events: [page_view]}``: nothing (of those types) in D days."""

    no_event_within_days: PositiveNumber
    events: list[str] | None = None


class AllCondition(Node):
    all: list[Condition] = Field(min_length=1)


class AnyCondition(Node):
    any: list[Condition] = Field(min_length=1)


class NotCondition(Node):
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

