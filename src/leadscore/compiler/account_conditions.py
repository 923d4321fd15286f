"""Account conditions → SQL over one row per company, and the per-contact pieces they need.

An account query works in three steps (``compiler/accounts.py``): per contact (``ls_base``: the
contact's properties ``c`` and event aggregates ``a``, the same as in a contact query), then per
contact again after the contact models it embeds are scored (``ls_mv``: tiers, roll-up values),
then per company (``ls_acc``: ``GROUP BY company_id`` of those pieces). A condition of an account
rule is compiled to a boolean over the company row (``c``, its properties) and its aggregates
(``aa``); each leaf registers the pieces it needs in ``MemberPieces``, deduplicated by their SQL,
so two rules counting the same events share one column.

Event leaves reuse the contact compiler's per-event match and aggregates (``ls_agg`` is per
contact), then add up per company: a count of events is the sum of the contacts' counts, "distinct
contacts" counts the contacts with at least one match, the newest event is the minimum of the
contacts' newest ages, a decayed sum the sum of the contacts' decayed sums.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlglot import exp

from leadscore.model.account_conditions import (
    MAX_GATED_LEAVES,
    AccountAll,
    AccountAny,
    AccountCondition,
    AccountEventCondition,
    AccountNot,
    ContactFilter,
    ContactsCondition,
    RoleCondition,
    Rollup,
    RollupCondition,
)
from leadscore.model.conditions import Condition, InactivityCondition, PropertyCondition

from .build import as_double, case, col, div, greatest, mul, number_literal
from .conditions import ConditionCompiler, band_test, type_test
from .dialects import UnsupportedError
from .members import CompanyCatalog
from .predicates import Target, compile_test

#: Table alias of the per-company aggregates in ``ls_abase``.
ACCOUNT_AGG_ALIAS = "aa"
#: Column of ``ls_base`` and later CTEs holding the member's company.
MEMBER_COMPANY = "coid"


@dataclass
class ContactModelColumns:
    """Where an embedded contact model's results sit in the per-contact CTEs."""

    score: exp.Column
    tier: exp.Column
    groups: dict[str, exp.Column]
    tiers: list[str]


@dataclass
class MemberPieces:
    """The per-contact and per-company columns an account query needs, each named once."""

    base: dict[str, exp.Expr] = field(default_factory=dict)  # ls_base: over c (contact) and a (its events)
    late: dict[str, exp.Expr] = field(default_factory=dict)  # ls_mv: over ls_base and the contact models
    ranks: dict[str, exp.Expr] = field(default_factory=dict)  # ls_rank: row numbers of late values
    company: dict[str, exp.Expr] = field(default_factory=dict)  # ls_acc: aggregates per company
    _names: dict[tuple[str, str], str] = field(default_factory=dict)

    def _add(self, where: dict[str, exp.Expr], prefix: str, expr: exp.Expr) -> str:
        key = (prefix, expr.sql(dialect="duckdb"))
        if key not in self._names:
            self._names[key] = f"{prefix}_{len(where)}"
            where[self._names[key]] = expr
        return self._names[key]

    def member(self, expr: exp.Expr) -> exp.Column:
        """A per-contact value computed in ``ls_base``."""
        return col(self._add(self.base, "mb", _inlined(expr, self.base)))

    def member_late(self, expr: exp.Expr) -> exp.Column:
        """A per-contact value that reads the embedded contact models (``ls_mv``)."""
        return col(self._add(self.late, "ml", _inlined(expr, self.late)))

    def rank(self, value: exp.Column) -> exp.Column:
        """The member's rank by ``value`` within its company, largest first (for top-k means)."""
        window = exp.Window(this=exp.RowNumber(), partition_by=[col(MEMBER_COMPANY)],
                            order=exp.Order(expressions=[exp.Ordered(this=value.copy(), desc=True,
                                                                     nulls_first=False)]))
        return col(self._add(self.ranks, "mr", window))

    def company_agg(self, expr: exp.Expr) -> exp.Column:
        """An aggregate over the company's contacts, read in ``ls_abase`` as ``aa.<name>``."""
        return col(self._add(self.company, "ac", expr), ACCOUNT_AGG_ALIAS)

    @property
    def used(self) -> bool:
        return bool(self.company)


def _inlined(expr: exp.Expr, same_select: Mapping[str, exp.Expr]) -> exp.Expr:
    """``expr`` with references to columns of the SELECT it joins replaced by their expressions.

    A piece may build on another (a role's flag inside a gated count): DuckDB and Spark read a
    column alias of the same SELECT, Postgres does not, so the text never relies on it. The
    expression goes in parenthesised: it stood for one value where the column was (a role
    ``m IS NULL OR m > D`` under an ``AND`` or a ``NOT`` must not be split by precedence).
    """
    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name in same_select:
            piece = same_select[node.name].copy()
            return piece if isinstance(piece, exp.Column | exp.Literal | exp.Paren) else exp.paren(piece, copy=False)
        return node

    return expr.transform(swap)


@dataclass(frozen=True)
class AccountLeaf:
    """An event condition inside an account rule: its per-event match, its role gate, its ``not``."""

    condition: AccountEventCondition
    match: exp.Expr
    gate: exp.Expr | None
    under_not: bool


def _gated(value: exp.Expr, gate: exp.Expr | None, default: exp.Expr | None) -> exp.Expr:
    """``value`` for contacts passing ``gate`` (all when None), else ``default`` (NULL when None)."""
    return value if gate is None else case([(gate, value)], default)


def _zero(value: exp.Expr) -> exp.Expr:
    return exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])


class AccountConditionCompiler:
    """Compiles the account conditions of one model, registering the pieces they need."""

    def __init__(self, company: CompanyCatalog, contacts: ConditionCompiler, roles: Mapping[str, Condition],
                 models: Mapping[str, ContactModelColumns], as_of: datetime):
        self.company = company
        self.contacts = contacts
        self.dialect = company.dialect
        self.roles = roles
        self.models = models
        self.as_of = as_of
        self.pieces = MemberPieces()
        self._role_columns: dict[str, exp.Column] = {}

    # ------------------------------------------------------------------ per contact

    def role(self, name: str, path: str) -> exp.Expr:
        """The member holds role ``name`` (its condition, compiled once); FALSE if unknown."""
        if name not in self.roles:
            self.company.issue(path, f"unknown role `{name}`",
                               hint="roles: " + (", ".join(self.roles) or "none: define them under `roles:`"))
            return exp.false()
        if name not in self._role_columns:
            holds = self.contacts.compile(self.roles[name], f"roles.{name}", [])
            self._role_columns[name] = self.pieces.member(holds)
        return self._role_columns[name]

    def any_role(self, names: list[str], path: str) -> exp.Expr | None:
        if not names:
            return None
        flags = [self.role(n, path) for n in names]
        return flags[0] if len(flags) == 1 else exp.or_(*flags)

    def contact_filter(self, f: ContactFilter, path: str) -> exp.Expr:
        """A member meets the filter (every part given); TRUE when the filter is empty."""
        parts: list[exp.Expr] = []
        gate = self.any_role(f.roles, f"{path}.role")
        if gate is not None:
            parts.append(gate)
        if f.when is not None:
            parts.append(self.contacts.compile(f.when, f"{path}.when", []))
        early = self.pieces.member(exp.and_(*parts)) if parts else None
        if f.model is None:
            return early if early is not None else exp.true()
        model = self.contact_model(f.model, f"{path}.model")
        tier = self._tier_test(model, f.tiers, f"{path}.tier") if model else exp.false()
        return self.pieces.member_late(exp.and_(early, tier) if early is not None else tier)

    def contact_model(self, name: str, path: str) -> ContactModelColumns | None:
        found = self.models.get(name)
        if found is None:
            self.company.issue(path, f"`{name}` is not a published contact model",
                               hint="publish it first (`leadscore publish models/NAME.yml`)")
        return found

    def _tier_test(self, model: ContactModelColumns, tiers: list[str], path: str) -> exp.Expr:
        unknown = [t for t in tiers if t not in model.tiers]
        if unknown:
            self.company.issue(path, f"tier `{unknown[0]}` is not a tier of the contact model",
                               hint="tiers: " + ", ".join(model.tiers))
        literals = [exp.Literal.string(t) for t in tiers]
        return exp.In(this=model.tier.copy(), expressions=literals)

    # ------------------------------------------------------------------ roll-ups

    def rollup(self, r: Rollup, path: str) -> tuple[exp.Expr, exp.Expr]:
        """A roll-up's value and the number of contacts in it, over the company row."""
        model = self.contact_model(r.model, f"{path}.model")
        if model is None:
            return exp.Null(), exp.Literal.number(0)
        value: exp.Expr = model.score
        if r.group is not None:
            if r.group not in model.groups:
                self.company.issue(f"{path}.group", f"`{r.group}` is not a group of contact model `{r.model}`",
                                   hint="groups: " + ", ".join(model.groups))
                return exp.Null(), exp.Literal.number(0)
            value = model.groups[r.group]
        if r.weights:
            weights = [case([(self.role(role, f"{path}.weights.{role}"), number_literal(w))], None)
                       for role, w in r.weights.items()]
            weight = weights[0] if len(weights) == 1 else greatest(*weights)
            value = mul(exp.Coalesce(this=weight, expressions=[number_literal(r.weight_default)]), value.copy())
        filters: list[exp.Expr] = []
        if r.tiers:
            filters.append(self._tier_test(model, r.tiers, f"{path}.tiers"))
        gate = self.any_role(r.roles or [], f"{path}.roles")
        if gate is not None:
            filters.append(gate)
        if filters:
            value = case([(exp.and_(*filters), value)], None)
        v = self.pieces.member_late(as_double(value))
        count = _zero(self.pieces.company_agg(exp.Count(this=v.copy())))
        n = exp.Count(this=v.copy())
        if r.aggregate == "sum":
            return _zero(self.pieces.company_agg(exp.Sum(this=v.copy()))), count
        if r.aggregate == "max":
            return self.pieces.company_agg(exp.Max(this=v.copy())), count
        if r.aggregate == "mean":
            mean = div(exp.Sum(this=v.copy()), exp.Nullif(this=n, expression=exp.Literal.number(0)))
            return self.pieces.company_agg(mean), count
        assert r.k is not None
        rank = self.pieces.rank(v)
        top = self.dialect.filtered(exp.Sum, v, exp.LTE(this=rank, expression=exp.Literal.number(r.k)))
        least = exp.Least(this=exp.Literal.number(r.k), expressions=[n])
        return self.pieces.company_agg(div(top, exp.Nullif(this=least, expression=exp.Literal.number(0)))), count

    # ------------------------------------------------------------------ events of all contacts

    def _per_contact(self, leaf: AccountLeaf, make: Callable[[exp.Expr], exp.Expr],
                     default: exp.Expr | None) -> exp.Column:
        return self.pieces.member(_gated(make(leaf.match), leaf.gate, default))

    def newest(self, leaf: AccountLeaf) -> exp.Expr:
        """Age of the newest matching event of any (gated) contact of the company; NULL if none."""
        age = self._per_contact(leaf, self.contacts.aggregates.min_age, None)
        return self.pieces.company_agg(exp.Min(this=age))

    def decayed_sum(self, leaf: AccountLeaf, factor: exp.Expr) -> exp.Expr:
        """Σ of ``factor`` (a decay of ``age``) over the company's matching events."""
        per = self._per_contact(leaf, lambda m: self.contacts.aggregates.total(factor, m), None)
        return self.pieces.company_agg(exp.Sum(this=per))

    def matched_events(self, leaves: list[AccountLeaf], path: str) -> exp.Expr:
        """How many of the company's events match at least one of ``leaves`` (each once).

        A leaf counts only the events of contacts passing its role gate, so per contact the
        events counted are those matching the leaves whose gate holds: one count per combination
        of differently gated leaves.
        """
        ungated = [leaf.match for leaf in leaves if leaf.gate is None]
        gated: dict[str, tuple[exp.Expr, list[exp.Expr]]] = {}
        for leaf in leaves:
            if leaf.gate is not None:
                gated.setdefault(leaf.gate.sql(dialect="duckdb"), (leaf.gate, []))[1].append(leaf.match)
        if len(gated) > MAX_GATED_LEAVES:
            raise UnsupportedError(f"{path}: at most {MAX_GATED_LEAVES} event conditions with different "
                                   "roles in one rule")
        count = self.contacts.aggregates.count

        def counted(matches: list[exp.Expr]) -> exp.Expr:
            if not matches:
                return exp.Literal.number(0)
            return count(matches[0] if len(matches) == 1 else exp.or_(*matches))

        groups = list(gated.values())
        if not groups:
            per_contact = counted(ungated)
        else:
            whens = []
            for held in itertools.product((True, False), repeat=len(groups)):
                test = exp.and_(*[g[0] if h else exp.not_(g[0]) for g, h in zip(groups, held, strict=True)])
                matches = ungated + [m for g, h in zip(groups, held, strict=True) if h for m in g[1]]
                whens.append((test, counted(matches)))
            per_contact = case(whens, exp.Literal.number(0))
        return _zero(self.pieces.company_agg(exp.Sum(this=self.pieces.member(per_contact))))

    # ------------------------------------------------------------------ conditions

    def compile(self, cond: AccountCondition, path: str, leaves: list[AccountLeaf], *,
                under_not: bool = False) -> exp.Expr:
        """The condition as a never-NULL boolean over the company row; event leaves go to ``leaves``."""
        if isinstance(cond, PropertyCondition):
            return self._property(cond, path)
        if isinstance(cond, AccountEventCondition):
            return self._event(cond, path, leaves, under_not)
        if isinstance(cond, InactivityCondition):
            match = type_test(cond.events) if cond.events else None
            if cond.events:
                self.contacts.scan.types.update(cond.events)
            else:
                self.contacts.scan.every_type = True
            per = self.pieces.member(self.contacts.aggregates.min_age(match))
            newest = self.pieces.company_agg(exp.Min(this=per))
            older = exp.GT(this=newest, expression=number_literal(cond.no_event_within_days))
            return exp.or_(exp.Is(this=newest.copy(), expression=exp.Null()), older)
        if isinstance(cond, ContactsCondition):
            selected = self.contact_filter(cond.contacts, f"{path}.contacts")
            n = _zero(self.pieces.company_agg(self.dialect.filtered(exp.Count, None, selected)))
            return band_test(n, *cond.band)
        if isinstance(cond, RollupCondition):
            value, _ = self.rollup(cond.rollup, f"{path}.rollup")
            test = compile_test(cond, Target(value, "number", "rollup"), self.company, self.as_of, path)
            return exp.false() if test is None else exp.Coalesce(this=test, expressions=[exp.false()])
        if isinstance(cond, RoleCondition):
            return self._role(cond, path)
        if isinstance(cond, AccountAll | AccountAny):
            key, parts = ("all", cond.all) if isinstance(cond, AccountAll) else ("any", cond.any)
            compiled = [self.compile(p, f"{path}.{key}.{i}", leaves, under_not=under_not)
                        for i, p in enumerate(parts)]
            return exp.and_(*compiled) if key == "all" else exp.or_(*compiled)
        if isinstance(cond, AccountNot):
            return exp.not_(self.compile(cond.not_, f"{path}.not", leaves, under_not=True))
        raise AssertionError(f"unknown account condition {type(cond).__name__}")

    def _property(self, cond: PropertyCondition, path: str) -> exp.Expr:
        prop = self.company.contact_property(cond.property, f"{path}.property")
        if prop is None:
            return exp.false()
        test = compile_test(cond, Target(prop.expr, prop.logical, prop.name), self.company, self.as_of, path)
        return exp.false() if test is None else exp.Coalesce(this=test, expressions=[exp.false()])

    def _event(self, cond: AccountEventCondition, path: str, leaves: list[AccountLeaf],
               under_not: bool) -> exp.Expr:
        leaf = AccountLeaf(cond, self.contacts.event_match(cond, path),
                           self.any_role(cond.roles, f"{path}.role"), under_not)
        leaves.append(leaf)
        per = self._per_contact(leaf, self.contacts.aggregates.count, exp.Literal.number(0))
        if cond.count == "contacts":
            n = self.dialect.filtered(exp.Count, None, exp.GT(this=per, expression=exp.Literal.number(0)))
        else:
            n = exp.Sum(this=per)
        return band_test(_zero(self.pieces.company_agg(n)), *cond.band)

    def _role(self, cond: RoleCondition, path: str) -> exp.Expr:
        holds = self.role(cond.role, f"{path}.role")
        if cond.engaged_within_days is None:
            n = _zero(self.pieces.company_agg(self.dialect.filtered(exp.Count, None, holds)))
            return exp.GTE(this=n, expression=exp.Literal.number(1))
        if cond.events:
            self.contacts.scan.types.update(cond.events)
            match: exp.Expr | None = type_test(cond.events)
        else:
            self.contacts.scan.every_type = True
            match = None
        age = self.pieces.member(_gated(self.contacts.aggregates.min_age(match), holds, None))
        newest = self.pieces.company_agg(exp.Min(this=age))
        return exp.and_(exp.not_(exp.Is(this=newest, expression=exp.Null())),
                        exp.LTE(this=newest.copy(), expression=number_literal(cond.engaged_within_days)))
