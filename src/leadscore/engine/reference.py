"""The pure-Python reference scorer: what a model means, computed without SQL.

Every engine (DuckDB, Spark, Postgres) must give the numbers this module gives, to 1e-9; the
differential test (``tests/test_differential.py``) checks this on generated models and data. It
is also what ``explain`` uses to list the events behind a rule, and the fast path for rescoring
one contact whose rows are already in memory.

It implements DESIGN.md "What a model means" directly. Two points the summary leaves open are
decided here as in the compiler: a rule's matched events (``count``, ``matched``, and the event
that sets its decay) are those of its *positive* event leaves, the ones not under a ``not``; and
on ``email_domain`` the model's values are lower-cased, but a ``matches`` pattern never is.
A model becomes closures once (regexes compiled, dates parsed), cached per model object.

>>> from leadscore.model.spec import ScoringModel
>>> model = ScoringModel.model_validate({"name": "m", "groups": {"fit": {"rules": [
...     {"name": "ceo", "when": {"property": "job_title", "equals": "CEO"}, "points": 10}]}}})
>>> score_reference(model, {"contact_id": "c1", "job_title": "CEO"}, [], datetime(2025, 1, 1)).tier
'cold'
"""

from __future__ import annotations

import operator
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from leadscore.compiler.build import SUM_RUN
from leadscore.errors import LeadscoreError
from leadscore.model.conditions import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    InactivityCondition,
    NotCondition,
    PropertyCondition,
    ValueTest,
)
from leadscore.model.properties import free_email_domains
from leadscore.model.regex import re2_pattern
from leadscore.model.spec import Decay, ScoringModel
from leadscore.textfold import sql_lower
from leadscore.timeutil import age_days, parse_time, to_utc_naive

__all__ = ["ReferenceScore", "RuleScore", "score_many_reference", "score_reference"]


@dataclass(frozen=True)
class RuleScore:
    """One rule's part of a score (column ``r_i`` / ``rraw_i`` / ``rn_i`` / ``rf_i`` in SQL)."""

    group: str
    name: str
    index: int  #: position in ``model.rules()``
    points: float  #: contribution after decay and ``max``; 0 when the rule did not fire
    raw: float  #: the same without decay
    fired: bool
    count: int | None  #: events matching a positive event leaf (not under a ``not``); None without one
    matched: list[Mapping[str, Any]] = field(default_factory=list)  #: those events, newest first


@dataclass(frozen=True)
class ReferenceScore:
    """A contact's score under one model as of one instant."""

    contact_id: Any
    total: float
    tier: str
    grade: str | None
    groups: dict[str, float]  #: group name → points after the group's floor/cap
    rules: list[RuleScore]


# --------------------------------------------------------------------------- one contact's facts


@dataclass(frozen=True, slots=True)
class _Seen:
    """A visible event (``occurred_at ≤ as_of``) with its exact age in days."""

    age: float
    row: Mapping[str, Any]


def _normalize(value: Any) -> Any:
    """Dates become midnight UTC datetimes, aware datetimes naive UTC; everything else as is."""
    if isinstance(value, datetime):
        return to_utc_naive(value) if value.tzinfo is not None else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return value


def email_domain(email: Any) -> str | None:
    """Lower-cased part after the last ``@``; None without an ``@`` or with nothing after it."""
    if not isinstance(email, str) or "@" not in email:
        return None
    return sql_lower(email.rsplit("@", 1)[1]) or None  # DuckDB's lower, code point by code point


class _Facts:
    """What one contact's conditions look at: its properties and its visible events."""

    __slots__ = ("contact", "as_of", "events", "by_type", "leaf_matches")

    def __init__(self, contact: Mapping[str, Any], events: Iterable[Mapping[str, Any]],
                 as_of: datetime, leaves: int):
        self.contact = contact
        self.as_of = as_of
        seen = [_Seen(age_days(as_of, at), row) for row in events
                if (at := _normalize(row["occurred_at"])) <= as_of]
        seen.sort(key=lambda e: e.age)  # most recent first; stable for equal times
        self.events = seen
        self.by_type: dict[Any, list[_Seen]] = defaultdict(list)
        for e in seen:
            self.by_type[e.row.get("type")].append(e)
        self.leaf_matches: list[list[_Seen] | None] = [None] * leaves

    def prop(self, name: str) -> Any:
        """A property's value; a stored column wins over a derived property of the same name."""
        if name == "email_domain" and name not in self.contact:
            return email_domain(self.contact.get("email"))
        if name == "is_free_email" and name not in self.contact:
            domain = email_domain(self.contact.get("email"))
            return None if domain is None else domain in _free_domains()
        return _normalize(self.contact.get(name))


_free_domains = cache(lambda: frozenset(free_email_domains()))


# --------------------------------------------------------------------------- value tests

_Check = Callable[[Any, datetime], bool]  # (non-null value, as_of) -> holds
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "equals": operator.eq, "not_equals": operator.ne, "gt": operator.gt, "gte": operator.ge,
    "lt": operator.lt, "lte": operator.le,
}


class _Operand:
    """A user value, plus its reading as an instant when it is a date/ISO string."""

    def __init__(self, raw: Any, lower: bool):
        self.raw = sql_lower(raw) if lower and isinstance(raw, str) else raw
        self.instant: datetime | None = None
        if isinstance(raw, str) and raw.strip().lower() != "now":  # a model means one fixed date
            with suppress(LeadscoreError):  # not a date: then only ever compared with strings
                self.instant = parse_time(raw)

    def against(self, value: Any) -> Any:
        """The operand as compared with ``value``: an instant when ``value`` is a timestamp."""
        if isinstance(value, datetime) and isinstance(self.raw, str):
            if self.instant is None:
                raise ValueError(f"{self.raw!r} is not a date or ISO timestamp")
            return self.instant
        return self.raw


def _value_check(test: ValueTest, lower: bool) -> _Check:
    """The operator of ``test`` as a check on a non-null value (nulls are handled by the caller)."""
    op, value = test.operator, test.value
    if op in ("in", "not_in"):
        many = [_Operand(v, lower) for v in value]
        if op == "in":
            return lambda v, _: any(v == o.against(v) for o in many)
        return lambda v, _: all(v != o.against(v) for o in many)
    if op == "between":
        lo, hi = _Operand(value[0], lower), _Operand(value[1], lower)
        return lambda v, _: lo.against(v) <= v <= hi.against(v)
    if op == "matches":  # a pattern is never lower-cased: that could change its meaning (\D → \d)
        pattern = re2_pattern(value)  # RE2 itself, as in DuckDB: linear time, never backtracking
        return lambda v, _: pattern.search(v) is not None
    if op == "within_days":
        return lambda v, as_of: 0 <= age_days(as_of, v) <= value
    if op == "older_than_days":
        return lambda v, as_of: age_days(as_of, v) > value
    one = _Operand(value, lower)
    if op in _COMPARE:
        compare = _COMPARE[op]
        return lambda v, _: compare(v, one.against(v))
    text = {"contains": str.__contains__, "starts_with": str.startswith, "ends_with": str.endswith}[op]
    return lambda v, _: text(v, one.raw)


def _test(test: ValueTest, lower: bool = False) -> _Check:
    """A check on a possibly null value: null satisfies ``is_empty`` and nothing else."""
    if test.is_set:
        return lambda v, _: v is not None
    if test.is_empty:
        return lambda v, _: v is None
    check = _value_check(test, lower)
    return lambda v, as_of: v is not None and bool(check(v, as_of))


# --------------------------------------------------------------------------- conditions

_Pred = Callable[[_Facts], bool]


@dataclass(frozen=True, eq=False)
class _Leaf:
    """An event leaf: which events it matches (memoised per contact) and whether it is negated."""

    index: int
    types: tuple[str, ...]
    where: tuple[tuple[str, _Check], ...]
    within_days: float | None
    band: tuple[int, int | None]
    negated: bool

    def matches(self, facts: _Facts) -> list[_Seen]:
        found = facts.leaf_matches[self.index]
        if found is None:
            pool = (facts.by_type.get(self.types[0], []) if len(self.types) == 1
                    else [e for e in facts.events if e.row.get("type") in self.types])
            found = [e for e in pool if self._holds_for(e, facts.as_of)]
            facts.leaf_matches[self.index] = found
        return found

    def _holds_for(self, e: _Seen, as_of: datetime) -> bool:
        if self.within_days is not None and e.age > self.within_days:
            return False
        return all(check(_normalize(e.row.get(col)), as_of) for col, check in self.where)

    def holds(self, facts: _Facts) -> bool:
        n, (low, high) = len(self.matches(facts)), self.band
        return low <= n and (high is None or n <= high)


def _compile(cond: Condition, leaves: list[_Leaf], negated: bool) -> _Pred:
    """Turn a condition into a predicate, appending its event leaves to ``leaves``."""
    if isinstance(cond, PropertyCondition):
        name, check = cond.property, _test(cond)
        if name != "email_domain":
            return lambda f: check(f.prop(name), f.as_of)
        # the derived domain is lower case, so the model's values are lower-cased for it; a stored
        # `email_domain` column is compared as written, as the compiler does
        derived = _test(cond, lower=True)
        return lambda f: (check if name in f.contact else derived)(f.prop(name), f.as_of)
    if isinstance(cond, EventCondition):
        leaf = _Leaf(len(leaves), tuple(dict.fromkeys(cond.event_types)),
                     tuple((col, _test(t)) for col, t in cond.where.items()),
                     cond.within_days, cond.band, negated)
        leaves.append(leaf)
        return leaf.holds
    if isinstance(cond, InactivityCondition):
        days, types = cond.no_event_within_days, set(cond.events) if cond.events else None
        return lambda f: not any(e.age <= days for e in f.events
                                 if types is None or e.row.get("type") in types)
    if isinstance(cond, AllCondition):
        parts = [_compile(c, leaves, negated) for c in cond.all]
        return lambda f: all(p(f) for p in parts)
    if isinstance(cond, AnyCondition):
        parts = [_compile(c, leaves, negated) for c in cond.any]
        return lambda f: any(p(f) for p in parts)
    if isinstance(cond, NotCondition):
        inner = _compile(cond.not_, leaves, True)
        return lambda f: not inner(f)
    raise TypeError(f"unknown condition {type(cond).__name__}")


def _decay_fn(decay: Decay | None) -> Callable[[float], float] | None:
    if decay is None:
        return None  # no decay: every event counts in full
    half_life, per_month = decay.half_life_days, decay.percent_per_month
    if half_life is not None:
        return lambda age: 0.5 ** (age / half_life)
    assert per_month is not None
    return lambda age: max(0.0, 1 - per_month / 100 * age / 30)


# --------------------------------------------------------------------------- rules and the model


@dataclass(frozen=True, eq=False)
class _Rule:
    group: str
    name: str
    index: int
    holds: _Pred
    leaves: tuple[_Leaf, ...]
    decay: Callable[[float], float] | None
    points: float | None
    per_event: float | None
    max: float | None

    def score(self, facts: _Facts) -> RuleScore:
        positive = [leaf for leaf in self.leaves if not leaf.negated]
        if len(positive) == 1:
            matched = positive[0].matches(facts)
        else:  # events matching any positive leaf, once each, newest first
            seen = {id(e): e for leaf in positive for e in leaf.matches(facts)}
            matched = sorted(seen.values(), key=lambda e: e.age)
        if self.per_event is not None:
            points, raw, fired = self._per_event(matched)
        else:
            assert self.points is not None
            fired = self.holds(facts)
            raw = self.points if fired else 0.0
            decay = self.decay(matched[0].age) if self.decay and matched else 1.0
            points = raw * decay if fired else 0.0
        return RuleScore(self.group, self.name, self.index, points, raw, fired,
                         len(matched) if positive else None, [e.row for e in matched])

    def _per_event(self, matched: list[_Seen]) -> tuple[float, float, bool]:
        assert self.per_event is not None
        if not matched:
            return 0.0, 0.0, False
        raw = points = self.per_event * len(matched)
        if self.decay is not None:
            points = 0.0
            for e in matched:
                points += self.per_event * self.decay(e.age)
        if self.max is not None:
            points, raw = _clamp(points, -self.max, self.max), _clamp(raw, -self.max, self.max)
        return points, raw, True


_CompiledModel = tuple[tuple[_Rule, ...], int]  # the rules, and how many event leaves they hold
_CACHE: OrderedDict[int, tuple[ScoringModel, _CompiledModel]] = OrderedDict()
_CACHE_SIZE = 32


def _compiled(model: ScoringModel) -> _CompiledModel:
    """The model's closures, cached by identity (a ScoringModel holds dicts, so it is unhashable)."""
    hit = _CACHE.get(id(model))
    if hit is not None and hit[0] is model:
        _CACHE.move_to_end(id(model))
        return hit[1]
    leaves: list[_Leaf] = []
    rules = []
    for index, (group, rule) in enumerate(model.rules()):
        first = len(leaves)
        holds = _compile(rule.when, leaves, negated=False)
        rules.append(_Rule(group, rule.name, index, holds, tuple(leaves[first:]),
                           _decay_fn(model.decay_for(group, rule)), rule.points,
                           rule.points_per_event, rule.max))
    compiled = (tuple(rules), len(leaves))
    _CACHE[id(model)] = (model, compiled)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return compiled


def _clamp(value: float, low: float | None, high: float | None) -> float:
    value = value if high is None else min(value, high)
    return float(value if low is None else max(value, low))


def _add(values: Iterable[float]) -> float:
    """Left-to-right sum, as SQL's ``a + b + c`` (``sum()`` compensates on Python ≥ 3.12); a long
    one in runs of ``SUM_RUN`` terms, as the compiler adds them."""
    terms = list(values)
    if len(terms) > SUM_RUN:
        return _add([_add(terms[i:i + SUM_RUN]) for i in range(0, len(terms), SUM_RUN)])
    total = 0.0
    for v in terms:
        total += v
    return total


def score_reference(model: ScoringModel, contact: Mapping[str, Any],
                    events: Sequence[Mapping[str, Any]], as_of: datetime) -> ReferenceScore:
    """Score one contact from its own rows.

    ``contact`` maps property names to values (``email``, ``job_title``, custom columns...);
    ``events`` are that contact's events, each with ``type`` and ``occurred_at`` and its columns.
    Events after ``as_of`` are ignored. The contact is scored even if created after ``as_of``
    (``score_many_reference`` skips such contacts, as a batch run does).
    """
    as_of = to_utc_naive(as_of)
    compiled_rules, leaves = _compiled(model)
    facts = _Facts(contact, events, as_of, leaves)
    rules = [rule.score(facts) for rule in compiled_rules]
    groups = {
        name: _clamp(_add(r.points for r in rules if r.group == name), group.floor, group.cap)
        for name, group in model.groups.items()
    }
    total = _clamp(_add(groups.values()), model.floor, model.cap)
    grade = None
    if model.matrix is not None:
        fit, engagement = model.matrix.fit, model.matrix.engagement
        grade = fit.band_for(groups[fit.group]) + engagement.band_for(groups[engagement.group])
    return ReferenceScore(contact.get("contact_id"), total, model.tier_for(total), grade, groups,
                          rules)


def score_many_reference(model: ScoringModel, contacts: Iterable[Mapping[str, Any]],
                         events: Iterable[Mapping[str, Any]], as_of: datetime) -> dict[Any, ReferenceScore]:
    """Score every contact created at or before ``as_of`` (or with no ``created_at``), as a batch
    run does. ``events`` (of any contacts) are grouped by ``contact_id``; ``contacts`` order is kept.
    """
    as_of = to_utc_naive(as_of)
    by_contact: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for row in events:
        by_contact[row["contact_id"]].append(row)
    scores = {}
    for contact in contacts:
        created = _normalize(contact.get("created_at"))
        if created is not None and created > as_of:
            continue
        cid = contact["contact_id"]
        scores[cid] = score_reference(model, contact, by_contact.get(cid, []), as_of)
    return scores
