"""ScoringModel → one SQL query (a sqlglot AST), for any supported dialect.

Shape of the query, chosen so scoring a million contacts costs one pass over the events::

    ls_events  one scan of events: occurred_at <= as_of, type IN (types the model uses);
               per row cid, typ, age (days, computed once) and each `where` column as w_k
    ls_agg     GROUP BY cid: conditional aggregates (COUNT/MIN(age)/SUM(decay) FILTER (WHERE ...))
    ls_contacts  contacts existing at as_of (created_at), with the properties the model reads
    ls_base    ls_contacts c LEFT JOIN ls_agg a: per rule rf_i (fired), rn_i (count), decay inputs
    ls_rules   per rule r_i (points after decay and max) and rraw_i (without decay)
    ls_groups  per group g_k, the sum of its rules clamped to [floor, cap]
    ls_total   score: the sum of the groups clamped to the model's [floor, cap]
    final      contact_id, score, tier, grade, g_0.. [, r_i, rraw_i, rn_i, rf_i per rule]

A model without event conditions skips the first two. Nothing here opens a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import sqlglot
from sqlglot import exp

from leadscore.errors import ModelError
from leadscore.model.account_spec import AccountModel
from leadscore.model.spec import MatrixAxis, ScoringModel
from leadscore.timeutil import parse_time

from .build import add, alias, case, clamp, col, number_literal
from .columns import AGG_ALIAS, CONTACT_ALIAS, TWO_STEP, Catalog, quoted, table
from .conditions import AGE, CID, TYPE, ConditionCompiler, EventScan, type_test
from .dialects import Dialect, get_dialect
from .rules import CompiledRule, compile_rule

EVENT_ALIAS = "e"


def compile_model(model: ScoringModel, *, as_of: datetime | date, dialect: str = "duckdb",
                  contact_id: str | None = None, detail: bool = False, params: bool = False,
                  contacts_table: str = "contacts", events_table: str = "events",
                  contact_columns: Mapping[str, str] | None = None,
                  event_columns: Mapping[str, str] | None = None) -> exp.Query:
    """The query scoring every contact (or only ``contact_id``) of ``model`` as of ``as_of``.

    ``contact_columns`` / ``event_columns`` map column name → logical type (string, number,
    boolean, timestamp), e.g. ``store.columns("contacts")``; without them the built-in columns of
    ``model.properties`` are assumed. Raises ``ModelError`` naming every key path that refers to
    an unknown column or gives a value of the wrong type, and ``UnsupportedError`` for a dialect
    that cannot express the model.

    With ``params=True`` the text is independent of the instant and of the contacts: the as-of
    comes from the parameters ``$as_of`` (TIMESTAMP) and ``$as_of_us`` (microseconds since 1970,
    BIGINT) and, unless ``contact_id`` is given, the scored contacts from the list parameter
    ``$contact_ids``. The real-time path compiles once per model version and binds per request.

    >>> from leadscore.model.loader import parse_model
    >>> m = parse_model("name: m\\ngroups: {fit: {rules: [{name: ceo, when: {property: job_title,"
    ...                 " equals: CEO}, points: 10}]}}").model
    >>> compile_model(m, as_of=datetime(2025, 1, 1)).selects[0].alias_or_name
    'contact_id'
    """
    if not isinstance(as_of, date):  # parse_as_of(None) would mean "now": never silently
        raise TypeError(f"as_of must be a datetime, got {as_of!r}")
    target = get_dialect(dialect)
    if params:
        target = target.parameterized()
    instant = parse_time(as_of)  # aware → naive UTC; a date means its midnight UTC
    catalog = Catalog.build(target, f"<model {model.name}>", contact_columns, event_columns)
    conditions = ConditionCompiler(catalog, instant)
    rules: list[CompiledRule] = []  # in model.rules() order: rule i is column r_i
    for group_name, group in model.groups.items():
        for j, rule in enumerate(group.rules):
            rules.append(compile_rule(conditions, len(rules), group_name, rule,
                                      model.decay_for(group_name, rule), f"groups.{group_name}.rules.{j}",
                                      detail=detail))
    if conditions.scan.used:
        catalog.require_event_system_columns()
    if catalog.issues:
        raise ModelError(catalog.issues)

    ctes: list[tuple[str, exp.Query]] = []
    if conditions.scan.used:
        ctes.append(("ls_events", _events_scan(conditions.scan, target, instant, events_table,
                                               _contact_filter(contact_id, params))))
        ctes.append(("ls_agg", exp.select(col(CID), *conditions.aggregates.select_list())
                     .from_("ls_events").group_by(col(CID))))
    ctes.append(("ls_contacts", _contacts(catalog, target, instant, contacts_table,
                                          _contact_filter(contact_id, params))))
    ctes.append(("ls_base", _base(rules, joined=conditions.scan.used)))
    ctes.append(("ls_rules", _star("ls_base").select(*[c for r in rules for c in r.points_columns()])))
    groups = list(model.groups)
    ctes.append(("ls_groups", _star("ls_rules").select(*_group_columns(model, rules))))
    total = clamp(add(*[col(f"g_{k}") for k in range(len(groups))]), model.floor, model.cap)
    ctes.append(("ls_total", _star("ls_groups").select(alias(total, "score"))))

    final = exp.select(
        alias(col(CID), "contact_id"), col("score"), alias(_tier(model), "tier"),
        alias(_grade(model, groups), "grade"), *[col(f"g_{k}") for k in range(len(groups))],
    ).from_("ls_total")
    if detail:
        final = final.select(*[col(r.name(p)) for r in rules for p in ("r", "rraw", "rn", "rf")])
    for name, query in ctes:
        final = final.with_(name, as_=query)
    return final


def render_sql(model: ScoringModel, *, as_of: datetime | date, dialect: str = "duckdb",
               pretty: bool = True, **options: Any) -> str:
    """``compile_model(...)`` rendered as SQL text for ``dialect`` (options are compile_model's)."""
    query = compile_model(model, as_of=as_of, dialect=dialect, **options)
    return query.sql(dialect=get_dialect(dialect).SQLGLOT, pretty=pretty)


def parse_sql(sql: str, dialect: str = "duckdb") -> exp.Expr:
    """Parse compiled SQL back with sqlglot (tests and tools that transpile the output)."""
    return sqlglot.parse_one(sql, read=get_dialect(dialect).SQLGLOT)


def _star(source: str) -> exp.Select:
    return exp.select(exp.Star()).from_(source)


def _contact_filter(contact_id: str | None, params: bool) -> Callable[[exp.Expr], exp.Expr] | None:
    """The test restricting a query to one contact (a literal) or to ``$contact_ids`` (a list)."""
    if contact_id is not None:
        return lambda key: exp.EQ(this=key, expression=exp.Literal.string(contact_id))
    if params:
        ids = exp.select(exp.Unnest(expressions=[exp.Placeholder(this="contact_ids")]))
        return lambda key: exp.In(this=key, query=ids.subquery())
    return None


def _events_scan(scan: EventScan, dialect: Dialect, as_of: datetime, events_table: str,
                 contact_filter: Callable[[exp.Expr], exp.Expr] | None) -> exp.Select:
    """The one pass over events: only visible events of the types the model looks at."""
    def column(name: str) -> exp.Column:
        return exp.column(quoted(name), EVENT_ALIAS)

    select = exp.select(
        alias(column("contact_id"), CID), alias(column("type"), TYPE),
        alias(dialect.age_days(column("occurred_at"), as_of), AGE),
        *[alias(column(name), w) for name, w in scan.where_columns.items()],
    ).from_(table(events_table).as_(EVENT_ALIAS))
    where: list[exp.Expr] = [
        exp.LTE(this=column("occurred_at"), expression=dialect.as_of_timestamp(as_of))
    ]
    if not scan.every_type:
        where.append(type_test(sorted(scan.types), column("type")))
    if contact_filter is not None:
        where.append(contact_filter(column("contact_id")))
    return select.where(exp.and_(*where))


def _contacts(catalog: Catalog, dialect: Dialect, as_of: datetime, contacts_table: str,
              contact_filter: Callable[[exp.Expr], exp.Expr] | None) -> exp.Select:
    """The scored contacts (existing at ``as_of``) with the properties the model reads.

    Every column keeps its own name (derived properties included, which cannot collide with a
    stored column: a stored one wins), so no name chosen here can clash with a user's column.
    """
    key = exp.column(quoted("contact_id"), CONTACT_ALIAS)
    columns: list[exp.Expr] = [key]
    second: list[exp.Expr] = []
    for name, expr in catalog.projected.items():
        if name == "contact_id":
            continue
        column = expr if isinstance(expr, exp.Column) else alias(expr, quoted(name))
        (second if name in TWO_STEP and name not in catalog.contact else columns).append(column)
    select = exp.select(*columns).from_(table(contacts_table).as_(CONTACT_ALIAS))
    where: list[exp.Expr] = []
    if catalog.has_created_at:
        created = exp.column(quoted("created_at"), CONTACT_ALIAS)
        where.append(exp.or_(
            exp.Is(this=created, expression=exp.Null()),
            exp.LTE(this=created.copy(), expression=dialect.as_of_timestamp(as_of)),
        ))
    if contact_filter is not None:
        where.append(contact_filter(key.copy()))
    if where:
        select = select.where(exp.and_(*where))
    if not second:
        return select
    return exp.select(exp.Star(), *second).from_(select.subquery(CONTACT_ALIAS))


def _base(rules: list[CompiledRule], *, joined: bool) -> exp.Select:
    """One row per scored contact: each rule's fired flag, count and decay input."""
    key = exp.column(quoted("contact_id"), CONTACT_ALIAS)
    select = exp.select(alias(key, CID), *[c for r in rules for c in r.base_columns()])
    select = select.from_(exp.to_table("ls_contacts").as_(CONTACT_ALIAS))
    if joined:
        on = exp.EQ(this=col(CID, AGG_ALIAS), expression=key.copy())
        select = select.join(exp.to_table("ls_agg").as_(AGG_ALIAS), on=on, join_type="left")
    return select


def _group_columns(model: ScoringModel, rules: list[CompiledRule]) -> list[exp.Expr]:
    """``g_k``: the sum of group k's rules (left to right, as Python sums) clamped to [floor, cap]."""
    columns = []
    for k, (name, group) in enumerate(model.groups.items()):
        points = add(*[col(r.name("r")) for r in rules if r.group == name])
        columns.append(alias(clamp(points, group.floor, group.cap), f"g_{k}"))
    return columns


def _bands(value: exp.Expr, bands: Mapping[str, float]) -> exp.Expr:
    """The label with the highest lower bound ≤ value; below every bound, the lowest label."""
    ordered = sorted(bands.items(), key=lambda kv: kv[1])
    if len(ordered) == 1:
        return exp.Literal.string(ordered[0][0])
    whens: list[tuple[exp.Expr, exp.Expr]] = [
        (exp.GTE(this=value.copy(), expression=number_literal(bound)), exp.Literal.string(name))
        for name, bound in reversed(ordered[1:])
    ]
    return case(whens, exp.Literal.string(ordered[0][0]))


def _tier(model: ScoringModel | AccountModel) -> exp.Expr:
    return _bands(col("score"), model.tiers)


def _grade(model: ScoringModel | AccountModel, groups: list[str]) -> exp.Expr:
    """Fit band label followed by engagement band label (``A1``); NULL without a matrix."""
    if model.matrix is None:
        return exp.cast(exp.Null(), exp.DataType.build("VARCHAR"))

    def band(axis: MatrixAxis) -> exp.Expr:
        return _bands(col(f"g_{groups.index(axis.group)}"), axis.bands)

    return exp.Concat(expressions=[band(model.matrix.fit), band(model.matrix.engagement)])
