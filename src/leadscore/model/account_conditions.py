"""Conditions of account models (``level: account``): what a rule may test about a company.

An account rule looks at the company itself and at its contacts taken together:

* ``{property: employees, gt: 200}``: a company property (the contact operators, on ``companies``);
* ``{event: page_view, within_days: 14, at_least: 3, count: contacts}``: the events of all the
  company's contacts together, counted as events (default) or as distinct contacts, optionally only
  those of contacts holding a role;
* ``{no_event_within_days: 60}``: no contact of the company did anything for 60 days;
* ``{contacts: {role: decision_maker}, at_least: 2}``: how many contacts meet a filter (a role, a
  tier of a contact model, any contact condition);
* ``{rollup: {model: b2b, aggregate: max}, gte: 60}``: a number rolled up from a contact model's
  scores, compared like a number property;
* ``{role: decision_maker}`` / ``{role: champion, engaged_within_days: 30}``: a buying-group role is
  present, or one of its contacts did something lately;
* ``all`` / ``any`` / ``not`` of the above.

Shape rules that need only the file live here; names (models, roles, tiers, groups, properties)
are checked against the whole model and the store by ``model.validate_accounts``. Meaning:
docs/model-reference.md, "Account models".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator, model_validator

from leadscore.model.conditions import Condition, EventCondition, InactivityCondition, PropertyCondition, ValueTest
from leadscore.model.nodes import COUNT_BANDS, Node, NonNegativeCount, Number, PositiveNumber

#: Roll-up aggregates over a company's contacts.
AGGREGATES = ("sum", "max", "mean", "top_k_mean")
#: At most this many differently role-gated event conditions in one account rule (its match count
#: enumerates their combinations: ``compiler/account_conditions.py``); validation checks it.
MAX_GATED_LEAVES = 3
#: Operators a roll-up value (a number) may be tested with.
ROLLUP_OPERATORS = ("equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "between",
                    "is_set", "is_empty")


def _names(value: str | list[str] | None) -> list[str]:
    return [] if value is None else ([value] if isinstance(value, str) else list(value))


class CountBand(Node):
    """``at_least`` / ``at_most`` / ``exactly`` / ``between`` on a count; default ``at_least: 1``."""

    at_least: NonNegativeCount | None = None
    at_most: NonNegativeCount | None = None
    exactly: NonNegativeCount | None = None
    between: tuple[NonNegativeCount, NonNegativeCount] | None = None

    @model_validator(mode="after")
    def _one_band(self) -> CountBand:
        bands = [b for b in COUNT_BANDS if getattr(self, b) is not None]
        if len(bands) > 1:
            raise ValueError(f"give at most one count band, found {', '.join(bands)}")
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError(f"`between: {list(self.between)}` is empty: the first bound must be ≤ the second")
        return self

    @property
    def band(self) -> tuple[int, int | None]:
        """The band as ``(low, high)`` inclusive; ``high`` None means unbounded."""
        if self.at_most is not None:
            return (0, self.at_most)
        if self.exactly is not None:
            return (self.exactly, self.exactly)
        if self.between is not None:
            return (self.between[0], self.between[1])
        return (self.at_least if self.at_least is not None else 1, None)


class ContactFilter(Node):
    """Which of a company's contacts: every given part must hold (none given: every contact).

    ``role`` (one or a list: holds any of them), ``model`` + ``tier`` (in one of these tiers of
    a contact model), ``when`` (any contact condition: properties, events, inactivity).
    """

    role: str | list[str] | None = None
    model: str | None = None
    tier: str | list[str] | None = None
    when: Condition | None = None

    @model_validator(mode="after")
    def _tier_needs_model(self) -> ContactFilter:
        if self.tier is not None and self.model is None:
            raise ValueError("`tier` names tiers of a contact model: give `model` too")
        if self.model is not None and self.tier is None:
            raise ValueError("`model` is there to pick contacts by `tier`: give `tier` too")
        for key in ("role", "tier"):
            if isinstance(getattr(self, key), list) and not getattr(self, key):
                raise ValueError(f"`{key}` needs at least one name")
        return self

    @property
    def roles(self) -> list[str]:
        return _names(self.role)

    @property
    def tiers(self) -> list[str]:
        return _names(self.tier)


class ContactsCondition(CountBand):
    """``{contacts: {role: decision_maker}, at_least: 3}``: the number of the company's contacts
    meeting the filter is in the band (default ``at_least: 1``)."""

    contacts: ContactFilter


class Rollup(Node):
    """A number rolled up from a contact model over the company's contacts.

    Each contact in the roll-up (existing at the as-of, in ``tiers`` and holding one of ``roles``
    when given) has the value weight × its score (or its points in ``group``); the weight is the
    largest of ``weights`` over the roles it holds, else ``default_weight``. ``sum`` is 0 over no
    contacts; ``max``, ``mean`` and ``top_k_mean`` (the mean of the ``k`` largest values, over
    fewer when fewer exist) have no value then.
    """

    model: str
    aggregate: Literal["sum", "max", "mean", "top_k_mean"]
    k: Annotated[int, Field(ge=1)] | None = None
    group: str | None = None
    tiers: list[str] | None = Field(default=None, min_length=1)
    roles: list[str] | None = Field(default=None, min_length=1)
    weights: dict[str, Number] | None = None
    default_weight: Number | None = None

    @model_validator(mode="after")
    def _shape(self) -> Rollup:
        if self.aggregate == "top_k_mean" and self.k is None:
            raise ValueError("`top_k_mean` needs `k`, the number of best contacts averaged")
        if self.aggregate != "top_k_mean" and self.k is not None:
            raise ValueError("`k` goes with `aggregate: top_k_mean` only")
        if self.default_weight is not None and self.weights is None:
            raise ValueError("`default_weight` is the weight of contacts holding none of `weights`' roles: "
                             "give `weights` too")
        return self

    @property
    def weight_default(self) -> float:
        return 1.0 if self.default_weight is None else float(self.default_weight)


class RollupCondition(ValueTest):
    """``{rollup: {model: b2b, aggregate: max}, gte: 60}``: a roll-up tested like a number."""

    rollup: Rollup

    @model_validator(mode="after")
    def _number_operator(self) -> RollupCondition:
        if self.operator not in ROLLUP_OPERATORS:
            raise ValueError(f"a roll-up is a number: use one of {', '.join(ROLLUP_OPERATORS)}, "
                             f"not `{self.operator}`")
        values = self.value if isinstance(self.value, list | tuple) else [self.value]
        if self.operator not in ("is_set", "is_empty") and not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise ValueError("a roll-up is a number: compare it with numbers")
        return self


class AccountEventCondition(EventCondition):
    """An event condition over the events of all the company's contacts together.

    ``count: contacts`` makes the band count distinct contacts with a matching event rather than
    events ("pricing seen by 3+ people"); ``role`` keeps only the events of contacts holding one of
    the named roles.
    """

    count: Literal["events", "contacts"] = "events"
    role: str | list[str] | None = None

    @field_validator("role")
    @classmethod
    def _roles(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and not value:
            raise ValueError("`role` needs at least one role name")
        return value

    @property
    def roles(self) -> list[str]:
        return _names(self.role)


class RoleCondition(Node):
    """``{role: decision_maker}``: some contact of the company holds the role; with
    ``engaged_within_days: D``, one of them has an event (of ``events``, default any type) at
    most D days old."""

    role: str
    engaged_within_days: PositiveNumber | None = None
    events: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _events_need_window(self) -> RoleCondition:
        if self.events is not None and self.engaged_within_days is None:
            raise ValueError("`events` says which events make a role engaged: give `engaged_within_days` too")
        return self


class AccountAll(Node):
    all: list[AccountCondition] = Field(min_length=1)


class AccountAny(Node):
    any: list[AccountCondition] = Field(min_length=1)


class AccountNot(Node):
    not_: AccountCondition = Field(alias="not")


#: Condition class → the tag the loader and error paths use for it.
ACCOUNT_TAGS: dict[type[BaseModel], str] = {
    PropertyCondition: "property", AccountEventCondition: "event", InactivityCondition: "inactivity",
    ContactsCondition: "contacts", RollupCondition: "rollup", RoleCondition: "role",
    AccountAll: "all", AccountAny: "any", AccountNot: "not",
}
_KEYS = (("property", "property"), ("event", "event"), ("no_event_within_days", "inactivity"),
         ("contacts", "contacts"), ("rollup", "rollup"), ("role", "role"), ("all", "all"), ("any", "any"),
         ("not", "not"))


def _account_kind(raw: Any) -> str | None:
    if isinstance(raw, BaseModel):
        return ACCOUNT_TAGS.get(type(raw))
    if not isinstance(raw, dict):
        return None
    if "property" in raw and "rollup" in raw:
        return "rollup"  # `property` would then be an unknown key of the roll-up test
    for key, kind in _KEYS:
        if key in raw:
            return kind
    return None


AccountCondition = Annotated[
    Annotated[PropertyCondition, Tag("property")]
    | Annotated[AccountEventCondition, Tag("event")]
    | Annotated[InactivityCondition, Tag("inactivity")]
    | Annotated[ContactsCondition, Tag("contacts")]
    | Annotated[RollupCondition, Tag("rollup")]
    | Annotated[RoleCondition, Tag("role")]
    | Annotated[AccountAll, Tag("all")]
    | Annotated[AccountAny, Tag("any")]
    | Annotated[AccountNot, Tag("not")],
    Discriminator(
        _account_kind,
        custom_error_type="condition_kind",
        custom_error_message=(
            "an account condition needs one of the keys property, event, no_event_within_days, "
            "contacts, rollup, role, all, any, not"
        ),
    ),
]

AccountAll.model_rebuild()
AccountAny.model_rebuild()
AccountNot.model_rebuild()
