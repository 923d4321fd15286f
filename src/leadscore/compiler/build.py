"""Small helpers to build sqlglot trees that render the way they read.

Why not sqlglot's operator overloads: a tree built by hand is rendered without regard to
precedence, so ``Sub(a, Sub(b, c))`` prints ``a - b - c``. These helpers parenthesise any compound
operand whose grouping SQL's left-to-right rules would not reproduce, so the SQL computes exactly
the arithmetic (and floating-point rounding order) the Python reference scorer does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlglot import exp

_ADDITIVE = (exp.Add, exp.Sub)
_MULTIPLICATIVE = (exp.Mul, exp.Div)


class BadValue(Exception):
    """A model value that cannot become a literal of the needed type (reported as a ModelIssue)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


def number_literal(value: float | int) -> exp.Expr:
    """A finite number as a SQL literal; integral floats print as integers (``50`` not ``50.0``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue(f"expected a number, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadValue(f"{value!r} is not a finite number")
        if value.is_integer() and abs(value) < 2**53:
            value = int(value)
    return exp.Literal.number(value if isinstance(value, int) else repr(value))


def _operand(e: exp.Expr, keep: tuple[type[exp.Expr], ...] = ()) -> exp.Expr:
    # Pow is a Binary node but renders as the function POWER(a, b): it needs no parentheses.
    if isinstance(e, exp.Binary | exp.Not) and not isinstance(e, keep + (exp.Pow,)):
        return exp.Paren(this=e)
    return e


#: ``a + b + c`` nests one level per term, and DuckDB refuses an expression nested deeper than 1000
#: (``max_expression_depth``), which a group of 995 rules reached. A longer sum is added in runs of
#: this many terms, each left to right, then the runs' totals left to right (the reference scorer
#: adds in the same order, so both round alike).
SUM_RUN = 100


def add(*terms: exp.Expr) -> exp.Expr:
    """``t0 + t1 + ...`` evaluated left to right, like Python's ``sum`` (in runs of ``SUM_RUN``)."""
    if len(terms) > SUM_RUN:
        return add(*[add(*terms[i:i + SUM_RUN]) for i in range(0, len(terms), SUM_RUN)])
    total = _operand(terms[0], _ADDITIVE)
    for term in terms[1:]:
        total = exp.Add(this=total, expression=_operand(term))
    return total


def sub(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Sub(this=_operand(a, _ADDITIVE), expression=_operand(b))


def mul(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Mul(this=_operand(a, _MULTIPLICATIVE), expression=_operand(b))


def div(a: exp.Expr, b: exp.Expr) -> exp.Expr:
    return exp.Div(this=_operand(a, _MULTIPLICATIVE), expression=_operand(b))


def greatest(*args: exp.Expr) -> exp.Expr:
    """GREATEST ignoring NULLs (DuckDB, Postgres and Spark all do; sqlglot is told so)."""
    return exp.Greatest(this=args[0], expressions=list(args[1:]), ignore_nulls=True)


def least(*args: exp.Expr) -> exp.Expr:
    """LEAST ignoring NULLs: the most recent of several optional ages."""
    return exp.Least(this=args[0], expressions=list(args[1:]), ignore_nulls=True)


def clamp(x: exp.Expr, low: float | None, high: float | None) -> exp.Expr:
    """``min(max(x, low), high)`` with absent bounds left out."""
    if low is not None:
        x = greatest(x, number_literal(low))
    if high is not None:
        x = least(x, number_literal(high))
    return x


def as_double(e: exp.Expr) -> exp.Expr:
    """Force DOUBLE: DuckDB would keep ``10.5`` literals as DECIMAL through sums and clamps."""
    return exp.cast(e, exp.DataType.build("DOUBLE"))


def case(whens: Sequence[tuple[exp.Expr, exp.Expr]], default: exp.Expr | None) -> exp.Expr:
    """``CASE WHEN c THEN v ... ELSE default END`` (no ELSE when default is None)."""
    node = exp.Case(ifs=[exp.If(this=c, true=v) for c, v in whens])
    if default is not None:
        node.set("default", default)
    return node


def col(name: str, table: str | None = None) -> exp.Column:
    """A column the compiler itself named (``n_0``, ``cid``): unquoted, optionally qualified."""
    return exp.column(name, table)


def alias(e: exp.Expr, name: str | exp.Identifier) -> exp.Expr:
    """``e AS name``; pass a quoted identifier for a user's name."""
    return exp.alias_(e, name)
