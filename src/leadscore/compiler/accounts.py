"""AccountModel → one SQL query scoring companies, for DuckDB, Spark or Postgres.

Shape of the query (the contact query's, with a per-company step added)::

    ls_cpast/ls_firms   with a company history: every company's properties as of T
    ls_companies  companies existing at as_of, with the properties the model reads
    ls_past/ls_people   with a contact history: every contact's properties as of T
    ls_members    contact_id, company_id: membership (compiler/members.py), scored companies only
    ls_events     one scan of events (visible, the types used by the model and its contact models)
    ls_agg        GROUP BY contact: the conditional aggregates of every event test, shared
    ls_contacts   contacts existing at as_of with the properties read
    ls_base       per member: the embedded contact models' rule inputs, role flags, event pieces
    ls_m{k}_*     per member: each embedded contact model's rules, groups, score (then ls_tiers)
    ls_mv/ls_rank per member: filters by tier, roll-up values, ranks for top-k means
    ls_acc        GROUP BY company: sums, counts, minima, maxima of the member pieces
    ls_abase      per company (``c``) LEFT JOIN its aggregates (``aa``): each rule's inputs
    ls_rules / ls_groups / ls_total / final   as in a contact query

The contact models an account model rolls up are compiled into the same query, as of the same
instant, sharing the one scan of the events: an account's roll-up never reads stored scores, so
its as-of meaning is exact and any engine can run it. Output columns: ``company_id, score, tier,
grade, g_0 … g_{G-1}`` and, with ``detail=True``, per rule ``r_i, rraw_i, rn_i, rf_i``; for a
``points_from`` rule ``rn_i`` is the number of contacts in its roll-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlglot import exp

from leadscore.errors import ModelError
from leadscore.model.account_spec import AccountGroup, AccountModel, AccountRule
from leadscore.model.properties import COMPANY_COLUMNS
from leadscore.model.spec import Decay, Group, ScoringModel
from leadscore.timeutil import parse_time

from .account_conditions import (
    ACCOUNT_AGG_ALIAS,
    MEMBER_COMPANY,
    AccountConditionCompiler,
    AccountLeaf,
    ContactModelColumns,
)
from .build import add, alias, as_double, case, clamp, col, least, mul, number_literal
from .columns import AGG_ALIAS, CONTACT_ALIAS, Catalog, quoted
from .conditions import AGE, CID, ConditionCompiler
from .dialects import Dialect, UnsupportedError, get_dialect
from .members import COMPANY_KEY, companies_existing, company_catalog, membership
from .properties_as_of import COMPANY_SUBJECT, properties_as_of
from .query import _bands, _contacts, _events_scan, _grade, _star, _tier
from .rules import CompiledRule, compile_rule, decay_factor


@dataclass
class RollupRule(CompiledRule):
    """A ``points_from`` rule: factor × the roll-up's value (0 without contacts), within ±max."""

    value: exp.Expr | None = None

    def base_columns(self) -> list[exp.Expr]:
        assert self.value is not None
        return [*super().base_columns(), alias(self.value, self.name("rv"))]

    def points_columns(self) -> list[exp.Expr]:
        assert isinstance(self.rule, AccountRule)
        bound = self.rule.max
        value = exp.Coalesce(this=col(self.name("rv")), expressions=[number_literal(0)])
        scaled = clamp(mul(number_literal(self.rule.scale), value), -bound if bound else None, bound)
        points = case([(col(self.name("rf")), scaled)], number_literal(0))
        return [alias(as_double(points.copy()), self.name("r")), alias(as_double(points), self.name("rraw"))]


def compile_account_rule(acc: AccountConditionCompiler, index: int, group: str, rule: AccountRule,
                         decay: Decay | None, path: str, *, detail: bool) -> CompiledRule:
    """Compile one account rule (the ``index``-th of the model, at key ``path``)."""
    if rule.points_from is not None:
        value, count = acc.rollup(rule.points_from, f"{path}.points_from")
        fired: exp.Expr = exp.GT(this=count, expression=exp.Literal.number(0))
        if rule.when is not None:
            fired = exp.and_(acc.compile(rule.when, f"{path}.when", []), fired)
        return RollupRule(index, group, rule, None, fired, count.copy() if detail else None, value=value)
    assert rule.when is not None
    leaves: list[AccountLeaf] = []
    fired = acc.compile(rule.when, f"{path}.when", leaves)
    positive = [leaf for leaf in leaves if not leaf.under_not]
    per_event = rule.points_per_event is not None
    matches: exp.Expr | None = None
    if positive and (detail or per_event):
        matches = acc.matched_events(positive, path)
    elif detail:
        matches = exp.cast(exp.Null(), exp.DataType.build("BIGINT"))
    compiled = CompiledRule(index, group, rule, decay, fired, matches)
    if decay is None or not positive:
        return compiled
    if per_event:
        compiled.decayed_sum = acc.decayed_sum(positive[0], decay_factor(decay, col(AGE)))
    else:
        ages = [acc.newest(leaf) for leaf in positive]
        compiled.recency = ages[0] if len(ages) == 1 else least(*ages)
    return compiled


def compile_account_model(model: AccountModel, *, as_of: datetime | date,
                          contact_models: Mapping[str, ScoringModel], dialect: str = "duckdb",
                          company_id: str | None = None, detail: bool = False, params: bool = False,
                          match_by_domain: bool = False, companies_table: str = "companies",
                          contacts_table: str = "contacts", events_table: str = "events",
                          company_columns: Mapping[str, str] | None = None,
                          contact_columns: Mapping[str, str] | None = None,
                          event_columns: Mapping[str, str] | None = None,
                          history_table: str | None = None,
                          company_history_table: str | None = None) -> exp.Query:
    """The query scoring every company (or only ``company_id``) of ``model`` as of ``as_of``.

    With ``history_table`` (the contacts' property history), every contact property the query
    reads (roles, ``when`` filters, the embedded contact models' rules, and membership's
    ``company_id`` and ``email``) is its value as of ``as_of``, as in a contact query
    (``compile_model``); with ``company_history_table`` (the companies'), every company property
    (the model's, and membership's ``domain``) is. Without them the tables are read as stored:
    right when nothing changed after ``as_of`` (``engine.account_sql`` decides), and as fast.

    ``contact_models`` maps the names of the contact models the account model reads (roll-ups,
    tier filters) to those models: normally their latest published versions. ``match_by_domain``
    is the workspace's ``accounts.match_by_domain``. With ``params=True`` the text is independent
    of the instant and of the companies: ``$as_of`` / ``$as_of_us`` and, unless ``company_id`` is
    given, the list ``$company_ids`` are bound at execution. Raises ``ModelError`` naming every
    problem, ``UnsupportedError`` for what a dialect cannot express.
    """
    if not isinstance(as_of, date):
        raise TypeError(f"as_of must be a datetime, got {as_of!r}")
    target = get_dialect(dialect)
    if params:
        target = target.parameterized()
    instant = parse_time(as_of)
    file = f"<model {model.name}>"
    catalog = Catalog.build(target, file, contact_columns, event_columns)
    companies = company_catalog(target, file, company_columns if company_columns is not None else COMPANY_COLUMNS,
                                catalog.issues)
    conditions = ConditionCompiler(catalog, instant)
    embedded, chains = _embed_contact_models(model, contact_models, conditions)
    acc = AccountConditionCompiler(companies, conditions, model.roles, chains, instant)
    rules: list[CompiledRule] = []
    for group_name, group in model.groups.items():
        for j, rule in enumerate(group.rules):
            rules.append(compile_account_rule(acc, len(rules), group_name, rule, model.decay_for(group_name, rule),
                                              f"groups.{group_name}.rules.{j}", detail=detail))
    if acc.pieces.used:
        if COMPANY_KEY not in catalog.contact:
            catalog.issue("groups", "the contacts have no `company_id` column to find a company's contacts by",
                          hint="upgrade the store (any leadscore command does) or import contacts with company_id")
        if conditions.scan.used:
            catalog.require_event_system_columns()
    if catalog.issues:
        raise ModelError(catalog.issues)

    company_filter = _id_filter(company_id, params)
    by_domain = match_by_domain and acc.pieces.used
    ctes: list[tuple[str, exp.Query]] = []
    firms = companies_table
    if company_history_table is not None:  # every company when membership reads their domains
        ctes += properties_as_of(companies, target, instant, companies_table, company_history_table,
                                 None if by_domain else company_filter, subject=COMPANY_SUBJECT,
                                 extra=["domain"] if by_domain else [])
        firms = ctes[-1][0] if ctes else firms
    ctes.append(("ls_companies", companies_existing(companies, as_of=instant, companies_table=firms,
                                                    company_filter=company_filter)))
    if acc.pieces.used:
        ctes += _member_ctes(acc, catalog, conditions, embedded, target, instant, match_by_domain,
                             partial=company_filter is not None, tables=(firms, contacts_table, events_table),
                             history_table=history_table, company_dates=companies.has_created_at)
    ctes.append(("ls_abase", _account_base(rules, joined=acc.pieces.used)))
    ctes.append(("ls_rules", _star("ls_abase").select(*[c for r in rules for c in r.points_columns()])))
    ctes.append(("ls_groups", _star("ls_rules").select(*_group_sums(model.groups, rules, ""))))
    groups = list(model.groups)
    total = clamp(add(*[col(f"g_{k}") for k in range(len(groups))]), model.floor, model.cap)
    ctes.append(("ls_total", _star("ls_groups").select(alias(total, "score"))))
    final = exp.select(
        alias(col(CID), COMPANY_KEY), col("score"), alias(_tier(model), "tier"),
        alias(_grade(model, groups), "grade"), *[col(f"g_{k}") for k in range(len(groups))],
    ).from_("ls_total")
    if detail:
        final = final.select(*[col(r.name(p)) for r in rules for p in ("r", "rraw", "rn", "rf")])
    for name, query in ctes:
        final = final.with_(name, as_=query)
    return final


def render_account_sql(model: AccountModel, *, as_of: datetime | date, contact_models: Mapping[str, ScoringModel],
                       dialect: str = "duckdb", pretty: bool = True, **options: object) -> str:
    """``compile_account_model(...)`` as SQL text for ``dialect``."""
    query = compile_account_model(model, as_of=as_of, contact_models=contact_models, dialect=dialect,
                                  **options)  # type: ignore[arg-type]
    return query.sql(dialect=get_dialect(dialect).SQLGLOT, pretty=pretty)


# --------------------------------------------------------------------------- the parts


@dataclass
class _Embedded:
    """A contact model compiled into the account query, its columns prefixed with ``tag``."""

    tag: str
    model: ScoringModel
    rules: list[CompiledRule]


def _embed_contact_models(model: AccountModel, contact_models: Mapping[str, ScoringModel],
                          conditions: ConditionCompiler) -> tuple[list[_Embedded], dict[str, ContactModelColumns]]:
    embedded: list[_Embedded] = []
    chains: dict[str, ContactModelColumns] = {}
    for k, name in enumerate(model.contact_models()):
        contact = contact_models.get(name)
        if contact is None:
            continue  # reported where it is used, with its key path
        tag = f"m{k}_"
        rules = [compile_rule(conditions, i, g, rule, contact.decay_for(g, rule),
                              f"(contact model {name}).groups.{g}.rules.{j}", detail=False, tag=tag)
                 for i, (g, rule, j) in enumerate(
                     (g, rule, j) for g, grp in contact.groups.items() for j, rule in enumerate(grp.rules))]
        embedded.append(_Embedded(tag, contact, rules))
        chains[name] = ContactModelColumns(
            score=col(f"{tag}score"), tier=col(f"{tag}tier"), tiers=list(contact.tiers),
            groups={g: col(f"{tag}g_{i}") for i, g in enumerate(contact.groups)})
    return embedded, chains


def _id_filter(company_id: str | None, params: bool) -> Callable[[exp.Expr], exp.Expr] | None:
    """The test restricting a query to one company (a literal) or to ``$company_ids`` (a list)."""
    if company_id is not None:
        return lambda key: exp.EQ(this=key, expression=exp.Literal.string(company_id))
    if params:
        ids = exp.select(exp.Unnest(expressions=[exp.Placeholder(this="company_ids")]))
        return lambda key: exp.In(this=key, query=ids.subquery())
    return None


def _member_ctes(acc: AccountConditionCompiler, catalog: Catalog, conditions: ConditionCompiler,
                 embedded: list[_Embedded], dialect: Dialect, as_of: datetime, match_by_domain: bool, *,
                 partial: bool, tables: tuple[str, str, str],
                 history_table: str | None = None, company_dates: bool = False) -> list[tuple[str, exp.Query]]:
    """The per-contact and per-company CTEs, from membership to ``ls_acc``.

    ``tables[0]``: the companies as of T (``ls_firms``) or as stored. With ``history_table`` every
    contact's properties as of T come first (``ls_past``, ``ls_people``, not narrowed to the
    members: membership itself reads them), then membership, then the rest narrowed to members.
    """
    companies_table, contacts_table, events_table = tables
    ctes: list[tuple[str, exp.Query]] = []
    source = contacts_table
    if history_table is not None:  # the contacts' properties as of T, membership's own included
        extra = [COMPANY_KEY, *(["email"] if match_by_domain else [])]
        ctes += properties_as_of(catalog, dialect, as_of, contacts_table, history_table, None, extra=extra)
        source = ctes[-1][0] if ctes else source
    scored = exp.select(exp.column(COMPANY_KEY)).from_("ls_companies")
    members = membership(catalog, match_by_domain=match_by_domain, as_of=as_of, contacts_table=source,
                         companies_table=companies_table, company_dates=company_dates)
    members = exp.select(exp.Star()).from_(members.subquery("k")).where(
        exp.In(this=exp.column(COMPANY_KEY, "k"), query=scored.subquery()))
    ctes.append(("ls_members", members))

    def member_filter(key: exp.Expr) -> exp.Expr:
        return exp.In(this=key, query=exp.select(exp.column("contact_id")).from_("ls_members").subquery())

    only = member_filter if partial else None
    joined = conditions.scan.used
    if joined:
        ctes.append(("ls_events", _events_scan(conditions.scan, dialect, as_of, events_table, only)))
        ctes.append(("ls_agg", exp.select(col(CID), *conditions.aggregates.select_list())
                     .from_("ls_events").group_by(col(CID))))
    ctes.append(("ls_contacts", _contacts(catalog, dialect, as_of, source, only)))
    key = exp.column(quoted("contact_id"), CONTACT_ALIAS)
    base = exp.select(alias(key, CID), alias(exp.column(COMPANY_KEY, "m"), MEMBER_COMPANY),
                      *[c for e in embedded for r in e.rules for c in r.base_columns()],
                      *[alias(e, name) for name, e in acc.pieces.base.items()])
    base = base.from_(exp.to_table("ls_contacts").as_(CONTACT_ALIAS)).join(
        exp.to_table("ls_members").as_("m"), on=exp.EQ(this=exp.column("contact_id", "m"), expression=key.copy()))
    if joined:
        base = base.join(exp.to_table("ls_agg").as_(AGG_ALIAS), join_type="left",
                         on=exp.EQ(this=col(CID, AGG_ALIAS), expression=key.copy()))
    ctes.append(("ls_base", base))
    last = "ls_base"
    for e in embedded:
        for step, columns in ((f"ls_{e.tag}rules", [c for r in e.rules for c in r.points_columns()]),
                              (f"ls_{e.tag}groups", _group_sums(e.model.groups, e.rules, e.tag)),
                              (f"ls_{e.tag}total", [_embedded_total(e)])):
            ctes.append((step, _star(last).select(*columns)))
            last = step
    if embedded:
        tiers = [alias(_bands(col(f"{e.tag}score"), e.model.tiers), f"{e.tag}tier") for e in embedded]
        ctes.append(("ls_tiers", _star(last).select(*tiers)))
        last = "ls_tiers"
    for step, pieces in (("ls_mv", acc.pieces.late), ("ls_rank", acc.pieces.ranks)):
        if pieces:
            ctes.append((step, _star(last).select(*[alias(e, name) for name, e in pieces.items()])))
            last = step
    aggregates = [alias(e, name) for name, e in acc.pieces.company.items()]
    ctes.append(("ls_acc", exp.select(alias(col(MEMBER_COMPANY), COMPANY_KEY), *aggregates)
                 .from_(last).group_by(col(MEMBER_COMPANY))))
    return ctes


def _group_sums(groups: Mapping[str, Group | AccountGroup], rules: list[CompiledRule],
                tag: str) -> list[exp.Expr]:
    """``{tag}g_k``: the sum of group k's rules (left to right) clamped to [floor, cap]."""
    out = []
    for k, (name, group) in enumerate(groups.items()):
        points = add(*[col(r.name("r")) for r in rules if r.group == name])
        out.append(alias(clamp(points, group.floor, group.cap), f"{tag}g_{k}"))
    return out


def _embedded_total(e: _Embedded) -> exp.Expr:
    total = clamp(add(*[col(f"{e.tag}g_{k}") for k in range(len(e.model.groups))]), e.model.floor, e.model.cap)
    return alias(total, f"{e.tag}score")


def _account_base(rules: list[CompiledRule], *, joined: bool) -> exp.Select:
    """One row per scored company: each rule's fired flag, count and decay input."""
    key = exp.column(quoted(COMPANY_KEY), CONTACT_ALIAS)
    select = exp.select(alias(key, CID), *[c for r in rules for c in r.base_columns()])
    select = select.from_(exp.to_table("ls_companies").as_(CONTACT_ALIAS))
    if joined:
        on = exp.EQ(this=exp.column(COMPANY_KEY, ACCOUNT_AGG_ALIAS), expression=key.copy())
        select = select.join(exp.to_table("ls_acc").as_(ACCOUNT_AGG_ALIAS), on=on, join_type="left")
    return select


__all__ = ["UnsupportedError", "compile_account_model", "render_account_sql"]
