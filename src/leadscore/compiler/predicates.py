"""One ``ValueTest`` (``{in: [CEO, CMO]}``, ``{within_days: 30}``...) → a SQL boolean expression.

The same code serves contact properties and the ``where`` of event conditions. Every user value
becomes a sqlglot literal, so quotes, ``%`` or ``;`` in a value are data, never SQL. String tests
avoid ``LIKE`` for the same reason: ``STRPOS``/``LEFT``/``RIGHT`` need no escaping of ``%``/``_``.

NULL handling is the caller's business: a test on a NULL value yields NULL here, which the
condition compiler turns into FALSE (``COALESCE(test, FALSE)``), and which an aggregate ``FILTER``
treats as "not matched" anyway. Only ``is_empty`` is TRUE on NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlglot import exp

from leadscore.errors import LeadscoreError
from leadscore.model.conditions import ValueTest
from leadscore.textfold import sql_lower
from leadscore.timeutil import parse_time

from .build import BadValue, number_literal
from .columns import Catalog


@dataclass(frozen=True)
class Target:
    """What a test reads: its SQL, logical type, and whether values are lower-cased (email_domain)."""

    expr: exp.Expr
    logical: str
    name: str
    lower_values: bool = False


def _timestamp(value: Any, catalog: Catalog) -> exp.Expr:
    if not isinstance(value, str):
        raise BadValue(f"`{value!r}` is not a date", "write a date like 2025-01-01 or an ISO timestamp")
    if value.strip().lower() == "now":  # a model must mean the same at every as_of
        raise BadValue("`now` is not a fixed date", "use within_days / older_than_days")
    try:
        instant = parse_time(value)
    except LeadscoreError as exc:
        raise BadValue(f"`{value}` is not a date", "write 2025-01-01 or 2025-01-01T09:30:00Z") from exc
    return catalog.dialect.timestamp_literal(instant)


def value_literal(value: Any, target: Target, catalog: Catalog) -> exp.Expr:
    """A YAML value compared with ``target``: numbers with numbers, text with text, and so on."""
    kind = target.logical
    if kind == "boolean":
        if not isinstance(value, bool):
            raise BadValue(f"`{target.name}` is true/false; got {value!r}", "write true or false")
        return exp.true() if value else exp.false()
    if isinstance(value, bool):
        raise BadValue(f"`{target.name}` is a {kind}, not true/false")
    if kind == "number":
        if not isinstance(value, int | float):
            raise BadValue(f"`{target.name}` is a number; got the text {value!r}",
                           "write the number unquoted")
        return number_literal(value)
    if kind == "timestamp":
        return _timestamp(value, catalog)
    if not isinstance(value, str):  # 12345 vs '12345' would match in SQL but not in Python
        raise BadValue(f"`{target.name}` is text; got the number {value!r}", f"quote it: '{value}'")
    return exp.Literal.string(sql_lower(value) if target.lower_values else value)


def _text(value: Any, target: Target) -> str:
    if target.logical != "string":
        raise BadValue(f"this operator needs a text property; `{target.name}` is a {target.logical}")
    assert isinstance(value, str)
    return sql_lower(value) if target.lower_values else value


def _ordered(value: Any, target: Target, catalog: Catalog) -> exp.Expr:
    if target.logical == "number":
        if isinstance(value, str):
            raise BadValue(f"`{target.name}` is a number; got the text {value!r}")
        return number_literal(value)
    if target.logical == "timestamp":
        return _timestamp(value, catalog)
    raise BadValue(
        f"gt/gte/lt/lte/between compare numbers or dates; `{target.name}` is a {target.logical}",
        "use equals / in / starts_with for text",
    )


def _age(target: Target, catalog: Catalog, as_of: datetime) -> exp.Expr:
    if target.logical != "timestamp":
        raise BadValue(f"within_days / older_than_days need a date property; `{target.name}` is a "
                        f"{target.logical}")
    return catalog.dialect.age_days(target.expr, as_of)


def _test_sql(test: ValueTest, target: Target, catalog: Catalog, as_of: datetime) -> exp.Expr:
    op, value, column = test.operator, test.value, target.expr
    if op == "is_set":
        return exp.not_(exp.Is(this=column, expression=exp.Null()))
    if op == "is_empty":
        return exp.Is(this=column, expression=exp.Null())
    if op in ("equals", "not_equals"):
        cmp = exp.EQ if op == "equals" else exp.NEQ
        return cmp(this=column, expression=value_literal(value, target, catalog))
    if op in ("in", "not_in"):
        member = exp.In(this=column, expressions=[value_literal(v, target, catalog) for v in value])
        return member if op == "in" else exp.not_(member)
    if op == "contains":
        pos = exp.StrPosition(this=column, substr=exp.Literal.string(_text(value, target)))
        return exp.GT(this=pos, expression=exp.Literal.number(0))
    if op in ("starts_with", "ends_with"):
        text = _text(value, target)
        cut = exp.Left if op == "starts_with" else exp.Right
        part = cut(this=column, expression=exp.Literal.number(len(text)))
        return exp.EQ(this=part, expression=exp.Literal.string(text))
    if op == "matches":
        _text(value, target)  # only text; a pattern is never lower-cased (that could change it)
        return catalog.dialect.regex_search(column, value)
    ordered = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}
    if op in ordered:
        return ordered[op](this=column, expression=_ordered(value, target, catalog))
    if op == "between":
        low, high = value
        return exp.Between(this=column, low=_ordered(low, target, catalog),
                           high=_ordered(high, target, catalog))
    if op == "within_days":
        age = _age(target, catalog, as_of)
        return exp.Between(this=age, low=exp.Literal.number(0), high=number_literal(value))
    if op == "older_than_days":
        return exp.GT(this=_age(target, catalog, as_of), expression=number_literal(value))
    raise AssertionError(f"operator {op} has no SQL")  # nodes.VALUE_OPERATORS and this stay in step


def compile_test(test: ValueTest, target: Target, catalog: Catalog, as_of: datetime,
                 path: str) -> exp.Expr | None:
    """The test as SQL (NULL when the value is NULL); None after recording an issue at ``path``."""
    try:
        return _test_sql(test, target, catalog, as_of)
    except BadValue as bad:
        catalog.issue(f"{path}.{test.operator}", bad.message, hint=bad.hint)
        return None
