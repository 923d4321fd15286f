"""The building blocks every node of the model language shares: the strict base class, number types
that refuse YAML booleans, and the operator vocabularies.

``extra="forbid"`` on ``Node`` is what makes an unknown key an error instead of a silent no-op.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Scalar = str | int | float | bool


def _not_bool(value: Any) -> Any:
    """YAML ``true``/``false`` are not numbers (pydantic's lax mode would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


# Numbers in a model: int or float input, never a boolean, never NaN or infinite (``Node``).
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


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, allow_inf_nan=False)


def require_exactly_one(node: BaseModel, message: str) -> None:
    """For a node whose keys are alternatives (a trigger, a workflow step): exactly one is given."""
    if sum(getattr(node, key) is not None for key in type(node).model_fields) != 1:
        raise ValueError(message)
