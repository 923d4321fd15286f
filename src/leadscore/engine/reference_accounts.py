"""The pure-Python reference scorer of account models: what an account model means, without SQL.

Every engine's account query must give these numbers to 1e-9 (tests/test_differential_accounts.py).
It is built on the contact reference scorer (``engine.reference``), which the contact
differential test already holds to the SQL: a company's contact-level facts — a contact model's
score, whether a contact holds a role or meets a ``when``, which of its events match an event
test — are asked of ``score_reference`` with a one-rule probe model, and this module adds them up
per company as docs/model-reference.md ("Account models") says. It also says which contacts and
events are behind each rule, which ``explain COMPANY`` shows.

>>> from leadscore.model.account_spec import AccountModel
>>> model = AccountModel.model_validate({"name": "a", "level": "account", "groups": {"fit": {"rules": [
...     {"name": "big", "when": {"property": "employees", "gt": 100}, "points": 10}]}}})
>>> score_accounts_reference(model, [{"company_id": "k1", "employees": 500}], [], [],
...                          datetime(2025, 1, 1), {})["k1"].total
10.0
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadscore.engine.properties_as_of import contact_as_of
from leadscore.engine.reference import (
    ReferenceScore,
    _add,
    _clamp,
    _decay_fn,
    _normalize,
    _test,
    email_domain,
    score_reference,
)
from leadscore.model.account_conditions import (
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
from leadscore.model.account_spec import AccountModel, AccountRule
from leadscore.model.conditions import Condition, EventCondition, InactivityCondition, PropertyCondition
from leadscore.model.properties import free_email_domains
from leadscore.model.spec import ScoringModel
from leadscore.timeutil import age_days, to_utc_naive

__all__ = ["AccountReferenceScore", "AccountRuleScore", "members_of", "score_accounts_reference"]

Row = Mapping[str, Any]


@dataclass(frozen=True)
class AccountRuleScore:
    """One rule's part of a company's score, and what is behind it."""

    group: str
    name: str
    index: int
    points: float
    raw: float
    fired: bool
    count: int | None  #: matching events (event rules), contacts in the roll-up (points_from); else None
    contacts: list[str] = field(default_factory=list)  #: the contacts behind the rule
    matched: list[Row] = field(default_factory=list)  #: the events behind it, newest first
    values: dict[str, float] = field(default_factory=dict)  #: roll-up: contact → its value


@dataclass(frozen=True)
class AccountReferenceScore:
    company_id: Any
    total: float
    tier: str
    grade: str | None
    groups: dict[str, float]
    rules: list[AccountRuleScore]
    contacts: list[str]  #: the company's contacts at the as-of
    #: contact → contact model → (score, tier) of the contact models the account model reads
    member_scores: dict[str, dict[str, tuple[float, str]]] = field(default_factory=dict)


# --------------------------------------------------------------------------- membership


def members_of(companies: Iterable[Row], contacts: Iterable[Row], *, match_by_domain: bool) -> dict[Any, Any]:
    """contact_id → company_id by the membership rule (compiler/members.py), for every contact."""
    ids = {c["company_id"] for c in companies}
    by_domain: dict[str, Any] = {}
    if match_by_domain:
        free = set(free_email_domains())
        for c in companies:
            domain, cid = c.get("domain"), c["company_id"]
            if domain is not None and domain not in free and (domain not in by_domain or cid < by_domain[domain]):
                by_domain[domain] = cid
    out: dict[Any, Any] = {}
    for contact in contacts:
        own = contact.get("company_id")
        if own is not None:
            if own in ids:
                out[contact["contact_id"]] = own
        elif match_by_domain:
            found = by_domain.get(email_domain(contact.get("email")))  # type: ignore[arg-type]
            if found is not None:
                out[contact["contact_id"]] = found
    return out


# --------------------------------------------------------------------------- one contact's facts


_PROBES: OrderedDict[int, tuple[Any, ScoringModel]] = OrderedDict()


def _probe(cond: Condition) -> ScoringModel:
    """A one-rule contact model worth 1 when ``cond`` holds: asks the contact reference about it.

    Cached by the condition's identity (the reference caches its closures per model object)."""
    hit = _PROBES.get(id(cond))
    if hit is not None and hit[0] is cond:
        return hit[1]
    probe = ScoringModel.model_validate({"name": "probe", "groups": {"probe": {"rules": [
        {"name": "probe", "when": cond, "points": 1}]}}})
    _PROBES[id(cond)] = (cond, probe)
    if len(_PROBES) > 512:
        _PROBES.popitem(last=False)
    return probe


_PLAIN: OrderedDict[int, tuple[Any, EventCondition]] = OrderedDict()


def _event_probe(cond: AccountEventCondition) -> ScoringModel:
    """The per-contact test of an account event condition: type, ``where`` and window, no band."""
    hit = _PLAIN.get(id(cond))
    if hit is None or hit[0] is not cond:
        plain = EventCondition.model_validate(cond.model_dump(
            by_alias=True, exclude_none=True, include={"event", "where", "within_days", "ever"}))
        hit = _PLAIN[id(cond)] = (cond, plain)
        if len(_PLAIN) > 512:
            _PLAIN.popitem(last=False)
    return _probe(hit[1])


@dataclass
class _Member:
    """A contact of the company at the as-of, with what the account model asks about it."""

    contact_id: str
    contact: Row
    events: list[Row]
    seen: list[tuple[float, Row]]  # visible events with their ages, newest first
    scores: dict[str, ReferenceScore] = field(default_factory=dict)
    roles: dict[str, bool] = field(default_factory=dict)


class _Context:
    """One company as of T: its row, its members, and memoised per-member answers."""

    def __init__(self, model: AccountModel, company: Row, members: list[_Member], as_of: datetime):
        self.model, self.company, self.members, self.as_of = model, company, members, as_of
        self._fired: dict[tuple[int, str], bool] = {}
        self._matched: dict[tuple[int, str], list[tuple[float, Row]]] = {}

    def holds(self, cond: Condition, member: _Member) -> bool:
        key = (id(cond), member.contact_id)
        if key not in self._fired:
            probe = _probe(cond)
            self._fired[key] = score_reference(probe, member.contact, member.events, self.as_of).rules[0].fired
        return self._fired[key]

    def role(self, name: str, member: _Member) -> bool:
        if name not in member.roles:
            member.roles[name] = self.holds(self.model.roles[name], member)
        return member.roles[name]

    def any_role(self, names: list[str], member: _Member) -> bool:
        return not names or any(self.role(n, member) for n in names)

    def matched(self, cond: AccountEventCondition, member: _Member) -> list[tuple[float, Row]]:
        """The member's events matching ``cond``'s type, ``where`` and window, newest first."""
        key = (id(cond), member.contact_id)
        if key not in self._matched:
            rows = score_reference(_event_probe(cond), member.contact, member.events, self.as_of).rules[0].matched
            self._matched[key] = [(age_days(self.as_of, _normalize(r["occurred_at"])), r) for r in rows]
        return self._matched[key]

    def events_of(self, cond: AccountEventCondition) -> list[tuple[_Member, float, Row]]:
        """Every matching event of every contact passing the role gate."""
        return [(m, age, row) for m in self.members if self.any_role(cond.roles, m)
                for age, row in self.matched(cond, m)]

    def selected(self, f: ContactFilter) -> list[_Member]:
        out = []
        for m in self.members:
            if not self.any_role(f.roles, m):
                continue
            if f.when is not None and not self.holds(f.when, m):
                continue
            if f.model is not None and m.scores[f.model].tier not in f.tiers:
                continue
            out.append(m)
        return out

    def rollup(self, r: Rollup) -> tuple[float | None, dict[str, float]]:
        """The roll-up's value (None when undefined) and each contact's value in it."""
        values: dict[str, float] = {}
        for m in self.members:
            score = m.scores[r.model]
            if r.tiers and score.tier not in r.tiers:
                continue
            if r.roles and not self.any_role(r.roles, m):
                continue
            value = score.total if r.group is None else score.groups[r.group]
            if r.weights:
                held = [float(w) for role, w in r.weights.items() if self.role(role, m)]
                value = (max(held) if held else r.weight_default) * value
            values[m.contact_id] = float(value)
        ordered = list(values.values())
        if r.aggregate == "sum":
            return _add(ordered), values
        if not ordered:
            return None, values
        if r.aggregate == "max":
            return max(ordered), values
        if r.aggregate == "mean":
            return _add(ordered) / len(ordered), values
        assert r.k is not None
        top = sorted(ordered, reverse=True)[:r.k]
        return _add(top) / len(top), values


# --------------------------------------------------------------------------- conditions


_Leaf = tuple[AccountEventCondition, bool]  # an event leaf and whether it is under a `not`


def _holds(cond: AccountCondition, ctx: _Context, leaves: list[_Leaf], negated: bool = False) -> bool:
    """Whether ``cond`` holds for the company; event leaves met on the way go to ``leaves``."""
    if isinstance(cond, PropertyCondition):
        return _test(cond)(_normalize(ctx.company.get(cond.property)), ctx.as_of)
    if isinstance(cond, AccountEventCondition):
        leaves.append((cond, negated))
        found = ctx.events_of(cond)
        n = len({id(m) for m, _, _ in found}) if cond.count == "contacts" else len(found)
        low, high = cond.band
        return low <= n and (high is None or n <= high)
    if isinstance(cond, InactivityCondition):
        types = set(cond.events) if cond.events else None
        return not any(age <= cond.no_event_within_days for m in ctx.members for age, row in m.seen
                       if types is None or row.get("type") in types)
    if isinstance(cond, ContactsCondition):
        n = len(ctx.selected(cond.contacts))
        low, high = cond.band
        return low <= n and (high is None or n <= high)
    if isinstance(cond, RollupCondition):
        value, _ = ctx.rollup(cond.rollup)
        return _test(cond)(value, ctx.as_of)
    if isinstance(cond, RoleCondition):
        holders = [m for m in ctx.members if ctx.role(cond.role, m)]
        if cond.engaged_within_days is None:
            return bool(holders)
        types = set(cond.events) if cond.events else None
        return any(age <= cond.engaged_within_days for m in holders for age, row in m.seen
                   if types is None or row.get("type") in types)
    if isinstance(cond, AccountAll):
        results = [_holds(c, ctx, leaves, negated) for c in cond.all]  # every leaf is visited
        return all(results)
    if isinstance(cond, AccountAny):
        results = [_holds(c, ctx, leaves, negated) for c in cond.any]
        return any(results)
    if isinstance(cond, AccountNot):
        return not _holds(cond.not_, ctx, leaves, True)  # under any `not`, as in contact models
    raise TypeError(f"unknown account condition {type(cond).__name__}")


# --------------------------------------------------------------------------- rules and the model


def _rule(model: AccountModel, index: int, group: str, rule: AccountRule, ctx: _Context) -> AccountRuleScore:
    if rule.points_from is not None:
        value, values = ctx.rollup(rule.points_from)
        fired = bool(values) and (rule.when is None or _holds(rule.when, ctx, []))
        bound = rule.max
        points = _clamp(rule.scale * (value or 0.0), -bound if bound else None, bound) if fired else 0.0
        return AccountRuleScore(group, rule.name, index, points, points, fired, len(values),
                                contacts=list(values), values=values)
    assert rule.when is not None
    leaves: list[_Leaf] = []
    holds = _holds(rule.when, ctx, leaves)
    positive = [cond for cond, negated in leaves if not negated]
    seen: dict[tuple[int, int], tuple[_Member, float, Row]] = {}
    for cond in positive:
        for m, age, row in ctx.events_of(cond):
            seen.setdefault((id(m), id(row)), (m, age, row))
    matched = sorted(seen.values(), key=lambda e: e[1])
    decay = _decay_fn(model.decay_for(group, rule))
    if rule.points_per_event is not None:
        fired = bool(matched)
        raw = points = rule.points_per_event * len(matched)
        if decay is not None:
            points = 0.0
            for _, age, _ in matched:
                points += rule.points_per_event * decay(age)
        if rule.max is not None:
            points, raw = _clamp(points, -rule.max, rule.max), _clamp(raw, -rule.max, rule.max)
        if not fired:
            points = raw = 0.0
    else:
        assert rule.points is not None
        fired = holds
        raw = rule.points if fired else 0.0
        factor = decay(matched[0][1]) if decay and matched else 1.0
        points = raw * factor if fired else 0.0
    contacts = list(dict.fromkeys(m.contact_id for m, _, _ in matched))
    return AccountRuleScore(group, rule.name, index, float(points), float(raw), fired,
                            len(matched) if positive else None, contacts=contacts,
                            matched=[{**row, "contact_id": m.contact_id} for m, _, row in matched])


def _member(contact: Row, events: Sequence[Row], as_of: datetime, contact_models: Mapping[str, ScoringModel],
            needed: list[str]) -> _Member:
    seen = sorted(((age_days(as_of, at), row) for row in events
                   if (at := _normalize(row["occurred_at"])) <= as_of), key=lambda e: e[0])
    member = _Member(contact["contact_id"], contact, list(events), seen)
    for name in needed:
        member.scores[name] = score_reference(contact_models[name], contact, events, as_of)
    return member


def score_account_reference(model: AccountModel, company: Row, members: list[tuple[Row, Sequence[Row]]],
                            as_of: datetime, contact_models: Mapping[str, ScoringModel]) -> AccountReferenceScore:
    """Score one company from its row and its contacts (each with its events) existing at ``as_of``."""
    as_of = to_utc_naive(as_of)
    needed = model.contact_models()
    ctx = _Context(model, company, [_member(c, e, as_of, contact_models, needed) for c, e in members], as_of)
    rules = [_rule(model, i, g, r, ctx) for i, (g, r) in enumerate(model.rules())]
    groups = {name: _clamp(_add(r.points for r in rules if r.group == name), group.floor, group.cap)
              for name, group in model.groups.items()}
    total = _clamp(_add(groups.values()), model.floor, model.cap)
    grade = None
    if model.matrix is not None:
        fit, engagement = model.matrix.fit, model.matrix.engagement
        grade = fit.band_for(groups[fit.group]) + engagement.band_for(groups[engagement.group])
    return AccountReferenceScore(company.get("company_id"), total, model.tier_for(total), grade, groups, rules,
                                 [m.contact_id for m in ctx.members],
                                 {m.contact_id: {name: (s.total, s.tier) for name, s in m.scores.items()}
                                  for m in ctx.members})


def _exists(row: Row, as_of: datetime) -> bool:
    created = _normalize(row.get("created_at"))
    return created is None or created <= as_of


def score_accounts_reference(model: AccountModel, companies: Iterable[Row], contacts: Iterable[Row],
                             events: Iterable[Row], as_of: datetime, contact_models: Mapping[str, ScoringModel],
                             *, match_by_domain: bool = False,
                             keep: Callable[[Row], bool] | None = None,
                             changes: Mapping[Any, Sequence[Row]] | None = None,
                             company_changes: Mapping[Any, Sequence[Row]] | None = None,
                             ) -> dict[Any, AccountReferenceScore]:
    """Score every company existing at ``as_of`` (``keep`` narrows them), as a batch run does.

    ``changes`` maps a contact id to its recorded property changes (``engine.properties_as_of``),
    ``company_changes`` a company id to its own: properties are then read as of ``as_of``, and so
    is membership (a contact's ``company_id`` and ``email``, a company's ``domain``, among the
    companies existing at ``as_of``).
    """
    as_of = to_utc_naive(as_of)
    companies = [contact_as_of(c, company_changes.get(c["company_id"], ()), as_of) if company_changes else c
                 for c in companies]
    contacts = [contact_as_of(c, changes.get(c["contact_id"], ()), as_of) if changes else c for c in contacts]
    company_of = members_of([c for c in companies if _exists(c, as_of)], contacts, match_by_domain=match_by_domain)
    by_contact: dict[Any, list[Row]] = {}
    for row in events:
        by_contact.setdefault(row["contact_id"], []).append(row)
    members: dict[Any, list[tuple[Row, Sequence[Row]]]] = {}
    for contact in contacts:
        owner = company_of.get(contact["contact_id"])
        if owner is not None and _exists(contact, as_of):
            members.setdefault(owner, []).append((contact, by_contact.get(contact["contact_id"], [])))
    out = {}
    for company in companies:
        if not _exists(company, as_of) or (keep is not None and not keep(company)):
            continue
        cid = company["company_id"]
        out[cid] = score_account_reference(model, company, members.get(cid, []), as_of, contact_models)
    return out
