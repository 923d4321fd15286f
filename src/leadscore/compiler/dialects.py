"""What differs between the SQL engines a model compiles to, kept in one small place.

sqlglot already renders most functions per dialect (``STRPOS`` → Spark ``LOCATE``, ``REGEXP_LIKE``
→ DuckDB ``REGEXP_MATCHES`` / Postgres ``~``, string escaping, type names). What it cannot know is
*which expression has the semantics we need*: how to get exact epoch microseconds from a timestamp,
for instance. Those choices live here, one class per dialect, with capabilities as UPPER_SNAKE flags
(sqlglot's own style). A construct a dialect cannot express raises :class:`UnsupportedError`: a
query that silently means something else would be worse than no query.

Time convention (see ``leadscore.timeutil``): every timestamp is naive UTC. Postgres'
``EXTRACT(EPOCH FROM timestamp)`` already reads a ``timestamp without time zone`` as UTC. Spark's
``UNIX_MICROS`` and timestamp literals go through the session time zone, so Spark sessions that
run compiled models must set ``spark.sql.session.timeZone=UTC``.
"""

from __future__ import annotations

import copy
from datetime import datetime

from sqlglot import exp

from leadscore.errors import LeadscoreError
from leadscore.model.regex_engines import NotPortable, translate
from leadscore.timeutil import MICROS_PER_DAY, epoch_micros


class UnsupportedError(LeadscoreError):
    """The target dialect cannot express a construct of the model (never emit wrong SQL instead)."""


class Dialect:
    """The DuckDB-flavoured defaults; subclasses override what their engine does differently."""

    #: leadscore's name for the dialect (``--dialect``).
    NAME = "duckdb"
    #: sqlglot's name for the dialect, used to render and parse.
    SQLGLOT = "duckdb"
    #: ``AGG(x) FILTER (WHERE cond)``; without it we fall back to ``AGG(CASE WHEN cond THEN x END)``.
    SUPPORTS_AGGREGATE_FILTER = True
    #: a regular-expression *search* (partial match, like Python's ``re.search``).
    SUPPORTS_REGEX_SEARCH = True
    #: as-of bound at execution (``$as_of`` TIMESTAMP, ``$as_of_us`` BIGINT) instead of written in
    #: as literals: one compiled text then serves every instant (the real-time path caches it).
    as_of_params = False

    def parameterized(self) -> Dialect:
        """This dialect with the as-of taken from the parameters ``$as_of`` and ``$as_of_us``."""
        clone = copy.copy(self)
        clone.as_of_params = True
        return clone

    def as_of_timestamp(self, as_of: datetime) -> exp.Expr:
        """The run's instant as a TIMESTAMP: a literal, or the ``$as_of`` parameter."""
        if self.as_of_params:
            return exp.cast(exp.Placeholder(this="as_of"), exp.DataType.build("TIMESTAMP"))
        return self.timestamp_literal(as_of)

    def as_of_micros(self, as_of: datetime) -> exp.Expr:
        """The run's instant in microseconds since 1970: a literal, or the ``$as_of_us`` parameter."""
        if self.as_of_params:
            return exp.cast(exp.Placeholder(this="as_of_us"), exp.DataType.build("BIGINT"))
        return exp.Literal.number(epoch_micros(as_of))

    def epoch_micros(self, ts: exp.Expr) -> exp.Expr:
        """Microseconds since 1970-01-01 of a naive UTC timestamp, as an exact integer."""
        return exp.UnixMicros(this=ts)

    def timestamp_literal(self, value: datetime) -> exp.Expr:
        """A naive UTC instant as a typed literal (``CAST('2025-01-01 00:00:00' AS TIMESTAMP)``)."""
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))

    def age_days(self, ts: exp.Expr, as_of: datetime) -> exp.Expr:
        """``(epoch_micros(as_of) − epoch_micros(ts)) / 86400000000.0`` exactly as timeutil.age_days.

        The difference is an exact integer (below 2**53 for any plausible date), converted to a
        DOUBLE before one correctly rounded division: the same bits Python's ``int / int`` gives.
        """
        diff = exp.Sub(this=self.as_of_micros(as_of), expression=self.epoch_micros(ts))
        return exp.Div(
            this=exp.cast(diff, exp.DataType.build("DOUBLE")),
            expression=exp.Literal.number(f"{MICROS_PER_DAY}.0"),
        )

    def after_last(self, text: exp.Expr, separator: str) -> exp.Expr:
        """The part of ``text`` after the last ``separator`` (the whole text when there is none).

        ``SPLIT_PART`` with index -1 counts from the end in DuckDB, Spark ≥ 3.3 and Postgres ≥ 14,
        and costs a third of the ``REVERSE(SPLIT_PART(REVERSE(..)))`` it replaces.
        """
        sep = exp.Literal.string(separator)
        return exp.SplitPart(this=text, delimiter=sep, part_index=exp.Literal.number(-1))

    def regex_search(self, text: exp.Expr, pattern: str) -> exp.Expr:
        """True when ``pattern`` matches anywhere in ``text``."""
        if not self.SUPPORTS_REGEX_SEARCH:
            raise UnsupportedError(f"the {self.NAME} dialect has no regular-expression search (`matches`)")
        try:  # RE2's meaning in this engine's syntax
            written = translate(pattern, self.NAME)
        except NotPortable as exc:
            raise UnsupportedError(str(exc)) from exc
        return exp.RegexpLike(this=text, expression=exp.Literal.string(written))

    def filtered(self, agg: type[exp.AggFunc], value: exp.Expr | None,
                 condition: exp.Expr) -> exp.Expr:
        """``AGG(value) FILTER (WHERE condition)``; ``value`` None means ``COUNT(*)``."""
        if self.SUPPORTS_AGGREGATE_FILTER:
            inner = agg(this=value.copy() if value is not None else exp.Star())
            return exp.Filter(this=inner, expression=exp.Where(this=condition.copy()))
        picked = value.copy() if value is not None else exp.Literal.number(1)
        return agg(this=exp.Case(ifs=[exp.If(this=condition.copy(), true=picked)]))


class DuckDB(Dialect):
    """The embedded default: ``EPOCH_US`` gives exact microseconds."""


class Spark(Dialect):
    """Spark SQL 3.3+ (``UNIX_MICROS``, ``SPLIT_PART``, ``FILTER``); run with a UTC session zone."""

    NAME = "spark"
    SQLGLOT = "spark"


class Postgres(Dialect):
    """PostgreSQL 14+ (``EXTRACT`` returns an exact numeric there)."""

    NAME = "postgres"
    SQLGLOT = "postgres"

    def epoch_micros(self, ts: exp.Expr) -> exp.Expr:
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=ts)
        return exp.Paren(this=exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000)))


DIALECTS: dict[str, Dialect] = {d.NAME: d for d in (DuckDB(), Spark(), Postgres())}


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name``; an unknown name is a user error listing the known ones."""
    try:
        return DIALECTS[name.lower()]
    except KeyError:
        raise UnsupportedError(
            f"unknown SQL dialect {name!r}; leadscore compiles to: {', '.join(DIALECTS)}"
        ) from None
