"""Workflows in a model file: the trigger (a crossing), an optional ``if:`` condition and the
actions. What they do when they fire lives in ``leadscore.workflows``; docs/workflows.md.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from leadscore.model.conditions import Condition
from leadscore.model.nodes import Node, NonNegativeNumber, Number, PositiveNumber, Scalar, require_exactly_one


class Trigger(Node):
    """When a workflow fires: a crossing, not a level (``score_above: 60`` fires once on the way up)."""

    enters_tier: str | None = None
    leaves_tier: str | None = None
    score_above: Number | None = None
    score_below: Number | None = None
    score_changed_by: PositiveNumber | None = None

    @model_validator(mode="after")
    def _one(self) -> Trigger:
        require_exactly_one(self, "give exactly one trigger: enters_tier, leaves_tier, score_above, "
                                  "score_below, score_changed_by")
        return self


class WebhookAction(Node):
    url: str
    secret: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: PositiveNumber = 10


class EmailAction(Node):
    to: str
    subject: str
    body: str | None = None
    template: str | None = None


class TaskAction(Node):
    for_: str = Field(default="owner", alias="for")
    title: str
    due_in_days: NonNegativeNumber | None = None
    notes: str | None = None


class ListAction(Node):
    list: str


class Action(Node):
    """One step of a workflow; exactly one key."""

    webhook: WebhookAction | None = None
    email: EmailAction | None = None
    task: TaskAction | None = None
    set: dict[str, Scalar | None] | None = None
    add_to_list: ListAction | str | None = None
    remove_from_list: ListAction | str | None = None

    @model_validator(mode="after")
    def _one(self) -> Action:
        require_exactly_one(self, "each step needs exactly one action: webhook, email, task, set, "
                                  "add_to_list, remove_from_list")
        return self


class Workflow(Node):
    name: str
    on: Trigger
    if_: Condition | None = Field(default=None, alias="if")
    do: list[Action] = Field(min_length=1)
    cooldown_hours: NonNegativeNumber | None = None


