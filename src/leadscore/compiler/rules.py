"""A rule's points: whether it fired, its match count, its decay, and what it contributes.

Each rule ``i`` yields columns in two CTEs. ``ls_base`` (one row per contact, reading the contact
``c`` and its aggregates ``a``) holds ``rf_i`` (fired), ``rn_i`` (match count) and the decay input:
``ra_i``, the age of the rule's most recent matching event (``points`` rules), or ``rs_i``, the sum
of the decay factors of its matching events (``points_per_event`` rules). ``ls_rules`` turns those
into ``r_i`` (points after decay and ``max``) and ``rraw_i`` (the same without decay). Without
``detail``, ``rn_i`` exists only for ``points_per_event`` rules, which need it for ``P × n``.

"The rule's matching events" are the events that match at least one of its *positive* event leaves:
leaves not under a ``not`` (a ``not`` leaf matching means the rule is *less* true, so its events
neither count nor set the decay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlglot import exp

from leadscore.model.spec import Decay, Rule

from .build import (
    alias,
    as_double,
    case,
    clamp,
    col,
    div,
    greatest,
    least,
    mul,
    number_literal,
    sub,
)
from .conditions import AGE, ConditionCompiler, EventLeaf


def decay_factor(decay: Decay, age: exp.Expr) -> exp.Expr:
    """``0.5 ** (age / H)`` or ``max(0, 1 − p/100 × age / 30)``, in Python's evaluation order."""
    if decay.half_life_days is not None:
        exponent = div(age, number_literal(decay.half_life_days))
        return exp.Pow(this=exp.Literal.number("0.5"), expression=exponent)
    assert decay.percent_per_month is not None
    per_day = div(mul(number_literal(decay.percent_per_month / 100), age), number_literal(30))
    return greatest(number_literal(0), sub(number_literal(1), per_day))


class RulePoints(Protocol):
    """What a rule's points are made of: a contact rule (``Rule``) or an account rule."""

    @property
    def points(self) -> float | None: ...
    @property
    def points_per_event(self) -> float | None: ...
    @property
    def max(self) -> float | None: ...


@dataclass
class CompiledRule:
    """The SQL of one rule, as expressions over the ``ls_base`` scope (``c`` and ``a``)."""

    index: int
    group: str
    rule: RulePoints
    decay: Decay | None
    fired: exp.Expr
    count: exp.Expr | None  # rn_i: NULL for rules without a positive event leaf; None: not output
    recency: exp.Expr | None = None
    decayed_sum: exp.Expr | None = None
    #: prefixes the column names: a contact model embedded in an account query (``m0_r_3``)
    tag: str = ""

    def name(self, prefix: str) -> str:
        return f"{self.tag}{prefix}_{self.index}"

    def base_columns(self) -> list[exp.Expr]:
        """``rf_i``, ``rn_i`` and the decay input, computed per contact in ``ls_base``."""
        out: list[exp.Expr] = [alias(self.fired, self.name("rf"))]
        if self.count is not None:
            out.append(alias(self.count, self.name("rn")))
        if self.recency is not None:
            out.append(alias(self.recency, self.name("ra")))
        if self.decayed_sum is not None:
            out.append(alias(self.decayed_sum, self.name("rs")))
        return out

    def points_columns(self) -> list[exp.Expr]:
        """``r_i`` and ``rraw_i`` from the ``ls_base`` columns, as DOUBLE."""
        fired, count = col(self.name("rf")), col(self.name("rn"))
        if self.rule.points_per_event is not None:
            per_event = number_literal(self.rule.points_per_event)
            raw = clamp(mul(per_event, count), *self._max_bounds())
            points = raw
            if self.decayed_sum is not None:
                summed = exp.Coalesce(this=col(self.name("rs")), expressions=[number_literal(0)])
                points = clamp(mul(per_event.copy(), summed), *self._max_bounds())
        else:
            assert self.rule.points is not None
            value = number_literal(self.rule.points)
            raw = case([(fired, value)], number_literal(0))
            points = raw
            if self.recency is not None and self.decay is not None:
                age = col(self.name("ra"))
                points = case([
                    (exp.not_(fired.copy()), number_literal(0)),
                    (exp.Is(this=age, expression=exp.Null()), value.copy()),
                ], mul(value.copy(), decay_factor(self.decay, age.copy())))
        return [alias(as_double(points.copy()), self.name("r")),
                alias(as_double(raw.copy()), self.name("rraw"))]

    def _max_bounds(self) -> tuple[float | None, float | None]:
        bound = self.rule.max
        return (None, None) if bound is None else (-bound, bound)


def compile_rule(conditions: ConditionCompiler, index: int, group: str, rule: Rule,
                 decay: Decay | None, path: str, *, detail: bool, tag: str = "") -> CompiledRule:
    """Compile ``rule`` (the ``index``-th of the model, at key ``path``).

    Without ``detail`` a ``points`` rule's match count is not output, so it is only computed
    where a count band needs it; ``points_per_event`` rules always need it (P × n).
    """
    leaves: list[EventLeaf] = []
    per_event = rule.points_per_event is not None
    recency_known = decay is not None and not per_event and not detail
    fired = conditions.compile(rule.when, f"{path}.when", leaves, recency_known=recency_known)
    positive = [leaf for leaf in leaves if not leaf.under_not]
    aggregates = conditions.aggregates
    count: exp.Expr | None = None
    if positive and (detail or per_event):
        match = positive[0].match if len(positive) == 1 else exp.or_(*[leaf.match for leaf in positive])
        count = aggregates.count(match)
    elif detail:
        count = exp.cast(exp.Null(), exp.DataType.build("BIGINT"))
    compiled = CompiledRule(index, group, rule, decay, fired, count, tag=tag)
    if decay is None or not positive:
        return compiled
    if rule.points_per_event is not None:
        compiled.decayed_sum = aggregates.total(decay_factor(decay, col(AGE)), positive[0].match)
    else:
        ages = [aggregates.min_age(leaf.match) for leaf in positive]
        compiled.recency = ages[0] if len(ages) == 1 else least(*ages)
    return compiled
