"""Account models: a model file with ``level: account`` scores companies, not contacts.

The file has the shape of a contact model (tiers, groups with caps, floors and decay, rules, a
matrix, workflows) plus ``roles`` (named contact conditions: the buying group), and its rules use
the account conditions of ``model.account_conditions``. A rule may also take its points from a
roll-up (``points_from``) of a contact model's scores::

    - name: best three contacts
      points_from: {model: b2b, aggregate: top_k_mean, k: 3, weights: {decision_maker: 1.5}}
      factor: 0.5
      max: 30

Workflows of an account model fire on the company's tier and score crossings; their actions are
webhooks, e-mails and tasks (for the account's owner). ``set`` and lists act on contacts and are
refused here. Meaning: docs/model-reference.md, "Account models".
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from leadscore.model.account_conditions import AccountCondition, AccountEventCondition, Rollup
from leadscore.model.conditions import Condition
from leadscore.model.nodes import NAME_PATTERN, Node, NonNegativeNumber, Number, PositiveNumber
from leadscore.model.spec import (
    DEFAULT_TIERS,
    Decay,
    Matrix,
    check_group,
    check_model,
    decay_of,
    tier_of,
)
from leadscore.model.workflow_spec import Action, Trigger


class AccountRule(Node):
    """One rule of an account model: a condition and its points, or points from a roll-up."""

    name: str = Field(min_length=1)
    when: AccountCondition | None = None
    points: Number | None = None
    points_per_event: Number | None = None
    points_from: Rollup | None = None
    factor: Number | None = None
    max: PositiveNumber | None = None
    decay: Decay | Literal[False] | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _points(self) -> AccountRule:
        given = [k for k in ("points", "points_per_event", "points_from") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `points`, `points_per_event` or `points_from`")
        if self.when is None and self.points_from is None:
            raise ValueError("`when` is required (only a `points_from` rule may leave it out)")
        if self.factor is not None and self.points_from is None:
            raise ValueError("`factor` scales `points_from`; with fixed points it has no meaning")
        if self.max is not None and self.points is not None:
            raise ValueError("`max` bounds `points_per_event` or `points_from`; with `points` it has no meaning")
        if self.points_per_event is not None:
            if not isinstance(self.when, AccountEventCondition):
                raise ValueError("`points_per_event` needs `when` to be a single event condition")
            if self.when.has_band or self.when.count != "events":
                raise ValueError("`points_per_event` counts every matching event: drop the count band "
                                 "and `count: contacts`, or use `points`")
        return self

    @property
    def scale(self) -> float:
        """``factor`` of a ``points_from`` rule (1 when not given)."""
        return 1.0 if self.factor is None else float(self.factor)


class AccountGroup(Node):
    """Account rules whose points add up to one subtotal, clamped to ``[floor, cap]``."""

    cap: NonNegativeNumber | None = None
    floor: Number | None = None
    decay: Decay | None = None
    description: str | None = None
    rules: list[AccountRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounds(self) -> AccountGroup:
        check_group(self.cap, self.floor, [r.name for r in self.rules])
        return self


class AccountWorkflow(Node):
    """A workflow on an account's crossings: ``if`` is an account condition, and the actions are
    webhooks, e-mails and tasks (``for: owner`` is the company's owner)."""

    name: str
    on: Trigger
    if_: AccountCondition | None = Field(default=None, alias="if")
    do: list[Action] = Field(min_length=1)
    cooldown_hours: NonNegativeNumber | None = None

    @field_validator("do")
    @classmethod
    def _account_actions(cls, steps: list[Action]) -> list[Action]:
        for step in steps:
            for key in ("set", "add_to_list", "remove_from_list"):
                if getattr(step, key) is not None:
                    raise ValueError(f"`{key}` changes contacts; an account workflow may use webhook, "
                                     "email and task")
        return steps


class AccountModel(Node):
    """A whole account model, as written in one ``models/*.yml`` file with ``level: account``."""

    version: Literal[1] = 1
    name: str
    level: Literal["account"]
    description: str | None = None
    tiers: dict[str, Number] = Field(default_factory=lambda: dict(DEFAULT_TIERS))
    roles: dict[str, Condition] = Field(default_factory=dict)
    groups: dict[str, AccountGroup] = Field(min_length=1)
    cap: NonNegativeNumber | None = None
    floor: Number | None = None
    matrix: Matrix | None = None
    workflows: list[AccountWorkflow] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                f"model name {value!r} must start with a letter and hold only letters, digits, _ and -"
            )
        return value

    @field_validator("roles")
    @classmethod
    def _role_names(cls, roles: dict[str, Condition]) -> dict[str, Condition]:
        for name in roles:
            if not NAME_PATTERN.match(name):
                raise ValueError(f"role name {name!r} must start with a letter and hold only letters, "
                                 "digits, _ and -")
        return roles

    @model_validator(mode="after")
    def _whole(self) -> AccountModel:
        check_model(self.tiers, self.cap, self.floor, self.matrix, list(self.groups), self.workflows)
        return self

    # ---- derived views used by compiler, engine and reference scorer (as ScoringModel's)

    def rules(self) -> list[tuple[str, AccountRule]]:
        """Every rule with its group name, in file order: index i is column ``r_i`` in SQL."""
        return [(g, r) for g, group in self.groups.items() for r in group.rules]

    def decay_for(self, group: str, rule: AccountRule) -> Decay | None:
        """The decay of a rule's event points: the rule's own, else its group's (none for roll-ups)."""
        if rule.points_from is not None:
            return None
        return decay_of(rule.decay, self.groups[group].decay)

    def tier_for(self, total: float) -> str:
        return tier_of(self.tiers, total)

    def contact_models(self) -> list[str]:
        """The contact models this model reads (roll-ups, tier filters), in order of first use."""
        from leadscore.model.account_walk import referenced_models

        return referenced_models(self)
