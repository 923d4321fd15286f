"""Condition trees → SQL booleans over one row per contact, plus the event aggregates they need.

The query reads events once: a scan CTE (``ls_events``: ``cid``, ``typ``, ``age`` and each ``where``
column as ``w_k``), then one ``GROUP BY cid`` (``ls_agg``) whose columns are conditional aggregates
(``COUNT(*) FILTER (WHERE ...)``, ``MIN(age) FILTER ...``). Each event leaf of a rule becomes one such
aggregate, deduplicated, so two rules testing the same events share one count. The boolean tree is
then evaluated per contact against the contact's columns (alias ``c``) and the aggregates (``a``).

Two-valued logic: every property leaf is wrapped as ``COALESCE(test, FALSE)`` and every count as
``COALESCE(n, 0)`` (a contact without events has no ``ls_agg`` row), so ``all``/``any``/``not`` are
plain boolean algebra and ``not: {property: x, equals: y}`` holds for contacts whose ``x`` is NULL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlglot import exp

from leadscore.model.conditions import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    InactivityCondition,
    NotCondition,
    PropertyCondition,
)

from .build import alias, col, number_literal
from .columns import AGG_ALIAS, Catalog
from .predicates import Target, compile_test

#: Column names of the events scan CTE.
CID, TYPE, AGE = "cid", "typ", "age"


@dataclass
class EventScan:
    """What the one scan of the events table must produce: which types and which columns."""

    types: set[str] = field(default_factory=set)
    every_type: bool = False  # an inactivity leaf without `events:` looks at all types
    where_columns: dict[str, str] = field(default_factory=dict)  # event column -> alias w_k

    @property
    def used(self) -> bool:
        return self.every_type or bool(self.types)

    def column(self, name: str) -> exp.Column:
        if name not in self.where_columns:
            self.where_columns[name] = f"w_{len(self.where_columns)}"
        return col(self.where_columns[name])


class Aggregates:
    """The ``ls_agg`` columns, deduplicated by their SQL: alias → aggregate expression."""

    def __init__(self, catalog: Catalog):
        self._dialect = catalog.dialect
        self._by_sql: dict[str, str] = {}
        self.columns: dict[str, exp.Expr] = {}

    def _add(self, prefix: str, expr: exp.Expr) -> exp.Column:
        key = expr.sql(dialect="duckdb")
        if key not in self._by_sql:
            name = f"{prefix}_{sum(1 for a in self.columns if a.startswith(prefix + '_'))}"
            self._by_sql[key] = name
            self.columns[name] = expr
        return col(self._by_sql[key], AGG_ALIAS)

    def count(self, match: exp.Expr) -> exp.Expr:
        """How many events match, 0 for a contact without events (never NULL)."""
        column = self._add("n", self._dialect.filtered(exp.Count, None, match))
        return exp.Coalesce(this=column, expressions=[exp.Literal.number(0)])

    def min_age(self, match: exp.Expr | None) -> exp.Column:
        """Age of the most recent matching event; NULL when none matches."""
        if match is None:
            return self._add("m", exp.Min(this=col(AGE)))
        return self._add("m", self._dialect.filtered(exp.Min, col(AGE), match))

    def total(self, value: exp.Expr, match: exp.Expr) -> exp.Column:
        """Sum of ``value`` over matching events (NULL when none matches)."""
        return self._add("s", self._dialect.filtered(exp.Sum, value, match))

    def select_list(self) -> list[exp.Expr]:
        return [alias(e, name) for name, e in self.columns.items()]


@dataclass(frozen=True)
class EventLeaf:
    """An event condition inside a rule: its per-event match and whether it sits under a ``not``."""

    condition: EventCondition
    match: exp.Expr
    under_not: bool


def type_test(types: list[str], column: exp.Expr | None = None) -> exp.Expr:
    """The event's type is one of ``types`` (``column`` defaults to the scan's ``typ``)."""
    column = column if column is not None else col(TYPE)
    literals = [exp.Literal.string(t) for t in types]
    if len(literals) == 1:
        return exp.EQ(this=column, expression=literals[0])
    return exp.In(this=column, expressions=literals)


def band_test(count: exp.Expr, low: int, high: int | None) -> exp.Expr:
    """``low ≤ n ≤ high`` (``high`` None: unbounded)."""
    if high is not None and low == high:
        return exp.EQ(this=count, expression=number_literal(low))
    test: exp.Expr = exp.GTE(this=count, expression=number_literal(low))
    if high is not None:
        test = exp.and_(test, exp.LTE(this=count, expression=number_literal(high)))
    return test


class ConditionCompiler:
    """Compiles the ``when`` trees of a model, registering what the events scan must provide."""

    def __init__(self, catalog: Catalog, as_of: datetime):
        self.catalog = catalog
        self.as_of = as_of
        self.scan = EventScan()
        self.aggregates = Aggregates(catalog)

    def compile(self, cond: Condition, path: str, leaves: list[EventLeaf], *,
                under_not: bool = False, recency_known: bool = False) -> exp.Expr:
        """The condition as a never-NULL boolean; event leaves met on the way go to ``leaves``.

        ``recency_known``: the caller needs the age of the newest match of every positive event
        leaf anyway (a decaying ``points`` rule) and not the counts, so "at least one match" is
        read from that age (``m IS NOT NULL``) instead of a second aggregate over the same events.

        After an issue (recorded in the catalog) the result is a FALSE placeholder: compiling goes
        on so that every problem of the model is reported at once.
        """
        if isinstance(cond, PropertyCondition):
            return self.property_leaf(cond, path)
        if isinstance(cond, EventCondition):
            match = self.event_match(cond, path)
            leaves.append(EventLeaf(cond, match, under_not))
            if recency_known and not under_not and cond.band == (1, None):
                return exp.not_(exp.Is(this=self.aggregates.min_age(match), expression=exp.Null()))
            return band_test(self.aggregates.count(match), *cond.band)
        if isinstance(cond, InactivityCondition):
            return self.inactivity_leaf(cond)
        if isinstance(cond, AllCondition | AnyCondition):
            key, parts = ("all", cond.all) if isinstance(cond, AllCondition) else ("any", cond.any)
            compiled = [self.compile(p, f"{path}.{key}.{i}", leaves, under_not=under_not,
                                     recency_known=recency_known) for i, p in enumerate(parts)]
            return exp.and_(*compiled) if key == "all" else exp.or_(*compiled)
        if isinstance(cond, NotCondition):
            return exp.not_(self.compile(cond.not_, f"{path}.not", leaves, under_not=True))
        raise AssertionError(f"unknown condition {type(cond).__name__}")

    def property_leaf(self, cond: PropertyCondition, path: str) -> exp.Expr:
        prop = self.catalog.contact_property(cond.property, f"{path}.property")
        if prop is None:
            return exp.false()
        target = Target(prop.expr, prop.logical, prop.name, lower_values=prop.lower_values)
        test = compile_test(cond, target, self.catalog, self.as_of, path)
        if test is None:
            return exp.false()
        return exp.Coalesce(this=test, expressions=[exp.false()])

    def event_match(self, cond: EventCondition, path: str) -> exp.Expr:
        """The per-event test: type, every ``where`` test, and ``age ≤ within_days``."""
        self.scan.types.update(cond.event_types)
        parts = [type_test(cond.event_types)]
        for name, test in cond.where.items():
            where_path = f"{path}.where.{name}"
            logical = self.catalog.event_property(name, where_path)
            if logical is None:
                continue
            target = Target(self.scan.column(name), logical, name)
            sql = compile_test(test, target, self.catalog, self.as_of, where_path)
            if sql is not None:
                parts.append(sql)
        if cond.within_days is not None:
            parts.append(exp.LTE(this=col(AGE), expression=number_literal(cond.within_days)))
        return exp.and_(*parts)

    def inactivity_leaf(self, cond: InactivityCondition) -> exp.Expr:
        """No event (of the listed types) with ``age ≤ D``: the most recent is older, or none."""
        if cond.events:
            self.scan.types.update(cond.events)
            newest = self.aggregates.min_age(type_test(cond.events))
        else:
            self.scan.every_type = True
            newest = self.aggregates.min_age(None)
        older = exp.GT(this=newest, expression=number_literal(cond.no_event_within_days))
        return exp.or_(exp.Is(this=newest.copy(), expression=exp.Null()), older)
