"""Hypothesis strategies for account models and the companies, contacts and events they score.

``account_scenarios()`` draws companies (0-20 contacts each, with edge-case ids and domains),
contacts that name a company, name an unknown one, or have none and an e-mail on a company's
domain (matched only with ``match_by_domain``; free-mail domains never), events, a contact model
(``strategies.model_dicts``: any contact model the language allows) and an account model using
every kind of account condition, roll-up and rule over it. Any engine leg that can load three
tables and run one query can check itself against ``engine.reference_accounts`` with these
(tests/test_differential_accounts.py does it for DuckDB and Spark).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from tests.strategies import (
    AS_OF,
    CHANGE_DAYS,
    EMAILS,
    EVENT_TYPES,
    MICROS_PER_DAY,
    POINTS,
    SIZE_BOUNDS,
    SIZES,
    TIMESTAMP_DAYS,
    WINDOWS,
    _opt,
    conditions,
    contact_rows,
    event_conditions,
    event_rows,
    model_dicts,
    property_conditions,
    property_histories,
    string_tests,
)

from leadscore.model.account_spec import AccountModel
from leadscore.model.spec import ScoringModel

COMPANY_IDS = ("k0", "o'co", "50%", "k_1", "k\\2")
#: Company domains: two companies may share one (the smallest id wins), one is free mail (never matched).
DOMAINS = ("acme.io", "example.org", "gmail.com", "my_co.com", None)
INDUSTRIES = ("SaaS", "Retail", "o'Ind", None)
#: Company columns of the generated store: the built-ins the model may test.
COMPANY_SCHEMA: dict[str, str] = {"name": "string", "domain": "string", "industry": "string",
                                  "employees": "number", "created_at": "timestamp", "owner": "string"}
ROLE_NAMES = ("dm", "champion", "user")
AGGREGATES = ("sum", "max", "mean", "top_k_mean")

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class AccountScenario:
    """An account model, the contact model it reads, and the rows it scores, as of one instant."""

    model: AccountModel
    contact_model: ScoringModel
    companies: Rows
    contacts: Rows
    events: Rows
    as_of: datetime
    match_by_domain: bool
    history: Rows = field(default_factory=list)  #: contacts' recorded property changes
    company_history: Rows = field(default_factory=list)  #: companies' recorded property changes


# --------------------------------------------------------------------------- data


@st.composite
def company_rows(draw: st.DrawFn, as_of: datetime) -> Rows:
    ids = draw(st.lists(st.sampled_from(COMPANY_IDS), unique=True, min_size=1, max_size=3))
    instants = _opt(st.sampled_from(TIMESTAMP_DAYS).map(lambda d: as_of - timedelta(days=d)))
    return [{"company_id": cid, "name": f"Company {cid}", "domain": draw(st.sampled_from(DOMAINS)),
             "industry": draw(st.sampled_from(INDUSTRIES)), "employees": draw(_opt(st.sampled_from(SIZES))),
             "created_at": draw(instants), "owner": draw(_opt(st.sampled_from(("ann", "bob"))))} for cid in ids]


_LOCAL = ("ann", "Bob", "o'neil", "x_y")


@st.composite
def account_datasets(draw: st.DrawFn, as_of: datetime, max_events: int = 40) -> tuple[Rows, Rows, Rows]:
    """Companies, their contacts (0-20 each, plus strays) and events; see the module docstring."""
    companies = draw(company_rows(as_of))
    contacts: Rows = []
    for company in companies:
        for _ in range(draw(st.integers(0, 20))):
            row = draw(contact_rows(as_of))
            how = draw(st.integers(0, 5))
            if how <= 3:
                row["company_id"] = company["company_id"]
            else:  # no company_id: matched by the e-mail domain, if the workspace says so
                row["company_id"] = None
                domain = company["domain"] or "nowhere.test"
                row["email"] = f"{draw(st.sampled_from(_LOCAL))}@{domain.upper() if how == 5 else domain}"
            contacts.append(row)
    for _ in range(draw(st.integers(0, 3))):  # strays: an unknown company, or none at all
        row = draw(contact_rows(as_of))
        row["company_id"] = draw(st.sampled_from(("k-unknown", None)))
        contacts.append(row)
    for i, row in enumerate(contacts):
        row["contact_id"] = f"p{i}"
    owners = [c["contact_id"] for c in contacts] + ["ghost"]
    count = draw(st.integers(0, max_events))
    drawn = draw(st.lists(st.tuples(st.integers(0, len(owners) - 1), event_rows(as_of)),
                          min_size=count, max_size=count))
    events = [{"event_id": f"e{i}", "contact_id": owners[o], **row} for i, (o, row) in enumerate(drawn)]
    return companies, contacts, events


#: Company properties with a history and the values a change may set (domains move contacts).
COMPANY_HISTORY_VALUES: dict[str, tuple[Any, ...]] = {
    "domain": DOMAINS, "industry": INDUSTRIES, "employees": (5, 50, 500, 5000), "owner": ("ann", "bob", None)}


@st.composite
def changes_of(draw: st.DrawFn, rows: Rows, key: str, pools: dict[str, tuple[Any, ...]], as_of: datetime) -> Rows:
    """Recorded changes of some rows' properties, as ``strategies.property_histories`` draws them
    (several per property, exactly at ``as_of`` and a microsecond either side, values back and
    forth, NULL, an assumed value with no time), keyed by ``key``."""
    changes: Rows = []
    for row in rows:
        if draw(st.integers(0, 3)) == 0:
            continue
        for name in draw(st.lists(st.sampled_from(sorted(pools)), unique=True, min_size=1, max_size=3)):
            times: dict[datetime | None, Any] = {}
            for _ in range(draw(st.integers(1, 3))):
                days = draw(_opt(st.sampled_from(CHANGE_DAYS)))
                when = None if days is None else as_of - timedelta(microseconds=round(days * MICROS_PER_DAY))
                times[when] = draw(st.sampled_from(pools[name]))
            changes += [{key: row[key], "property": name, "value": value, "changed_at": when}
                        for when, value in times.items()]
    return changes


@st.composite
def account_histories(draw: st.DrawFn, companies: Rows, contacts: Rows, as_of: datetime) -> tuple[Rows, Rows]:
    """Contacts' changes (membership's: moving to another company, an unknown one or none, another
    e-mail) and companies' changes (their properties and domains)."""
    if draw(st.integers(0, 3)) == 0:
        return [], []
    ids = tuple(c["company_id"] for c in companies) + ("k-unknown", None)
    domains = tuple(f"x@{c['domain']}" for c in companies if c["domain"]) + EMAILS[:2]
    moves = draw(changes_of(contacts, "contact_id", {"company_id": ids, "email": domains}, as_of))
    # the contacts' own properties too (the store keeps one change per contact, property and moment)
    taken = {(c["contact_id"], c["property"], c["changed_at"]) for c in moves}
    own = [c for c in draw(property_histories(contacts, as_of))
           if (c["contact_id"], c["property"], c["changed_at"]) not in taken]
    return moves + own, draw(changes_of(companies, "company_id", COMPANY_HISTORY_VALUES, as_of))


# --------------------------------------------------------------------------- the model

_BAND = st.one_of(st.just({}), st.integers(0, 4).map(lambda n: {"at_least": n}),
                  st.integers(0, 3).map(lambda n: {"at_most": n}), st.integers(0, 3).map(lambda n: {"exactly": n}),
                  st.lists(st.integers(0, 4), min_size=2, max_size=2).map(lambda b: {"between": sorted(b)}))
_ROLE_LIST = st.one_of(st.sampled_from(ROLE_NAMES), st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=2,
                                                             unique=True))


@st.composite
def rollups(draw: st.DrawFn, tiers: list[str], groups: list[str]) -> dict[str, Any]:
    aggregate = draw(st.sampled_from(AGGREGATES))
    out: dict[str, Any] = {"model": "b2b", "aggregate": aggregate}
    if aggregate == "top_k_mean":
        out["k"] = draw(st.integers(1, 4))
    if draw(st.integers(0, 3)) == 0:
        out["group"] = draw(st.sampled_from(groups))
    if draw(st.integers(0, 3)) == 0:
        out["tiers"] = draw(st.lists(st.sampled_from(tiers), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 4)) == 0:
        out["roles"] = draw(st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 2)) == 0:
        out["weights"] = {r: draw(st.sampled_from((0, 0.5, 1.5, 2, -1)))
                          for r in draw(st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=2, unique=True))}
        if draw(st.booleans()):
            out["default_weight"] = draw(st.sampled_from((0, 0.5, 1)))
    return out


@st.composite
def account_leaves(draw: st.DrawFn, as_of: datetime, tiers: list[str], groups: list[str]) -> dict[str, Any]:
    kind = draw(st.integers(0, 7))
    if kind in (0, 7):  # company properties: twice as likely, so their histories are read often
        name = draw(st.sampled_from(sorted(COMPANY_SCHEMA)))
        if name == "employees":
            test = draw(st.one_of(st.sampled_from(SIZE_BOUNDS).map(lambda v: {"gte": v}),
                                  st.just({"is_empty": True}), st.sampled_from(SIZE_BOUNDS).map(lambda v: {"lt": v})))
        elif name == "created_at":
            test = draw(st.sampled_from(({"within_days": 30}, {"older_than_days": 7}, {"is_set": True})))
        else:
            test = draw(string_tests(("acme.io", "SaaS", "o'Ind", "Company k0", "ann", "gmail.com")))
        return {"property": name, **test}
    if kind == 1:
        cond = draw(event_conditions(with_band=False)) | draw(_BAND)
        if draw(st.booleans()):
            cond["count"] = "contacts"
        if draw(st.integers(0, 3)) == 0:
            cond["role"] = draw(_ROLE_LIST)
        return cond
    if kind == 2:
        return {"no_event_within_days": draw(st.sampled_from((0.5, 1, 7, 30)))} | (
            {"events": draw(st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2))} if draw(st.booleans())
            else {})
    if kind == 3:
        f: dict[str, Any] = {}
        if draw(st.booleans()):
            f["role"] = draw(_ROLE_LIST)
        if draw(st.booleans()):
            f["model"], f["tier"] = "b2b", draw(st.lists(st.sampled_from(tiers), min_size=1, max_size=2, unique=True))
        if draw(st.integers(0, 3)) == 0:
            f["when"] = draw(conditions(as_of))
        return {"contacts": f, **draw(_BAND)}
    if kind == 4:
        test = draw(st.one_of(st.sampled_from((-5, 0, 5, 10, 20, 30)).map(lambda v: {"gte": v}),
                              st.sampled_from((0, 10, 25)).map(lambda v: {"lt": v}),
                              st.just({"is_set": True}), st.just({"is_empty": True}),
                              st.lists(st.sampled_from((-5, 0, 10)), min_size=2, max_size=2)
                              .map(lambda b: {"between": sorted(b)})))
        return {"rollup": draw(rollups(tiers, groups)), **test}
    role: dict[str, Any] = {"role": draw(st.sampled_from(ROLE_NAMES))}
    if draw(st.booleans()):
        role["engaged_within_days"] = draw(st.sampled_from(WINDOWS))
        if draw(st.booleans()):
            role["events"] = draw(st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2))
    return role


def account_conditions(as_of: datetime, tiers: list[str], groups: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    leaves = account_leaves(as_of, tiers, groups)
    nested = st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda c: {"not": c}),
    ), max_leaves=4)
    return st.one_of(leaves, nested)


_DECAYS = st.one_of(st.none(), st.sampled_from((7, 30, 90)).map(lambda h: {"half_life_days": h}),
                    st.sampled_from((10, 50)).map(lambda p: {"percent_per_month": p}))


@st.composite
def account_rules(draw: st.DrawFn, as_of: datetime, tiers: list[str], groups: list[str]) -> dict[str, Any]:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        rule: dict[str, Any] = {"points_from": draw(rollups(tiers, groups)),
                                "factor": draw(st.sampled_from((0.5, 1, -1, 2))),
                                "max": draw(_opt(st.sampled_from((5, 20, 50))))}
        if draw(st.booleans()):
            rule["when"] = draw(account_conditions(as_of, tiers, groups))
        return {k: v for k, v in rule.items() if v is not None}
    if kind == 1:
        when = draw(event_conditions(with_band=False))
        if draw(st.integers(0, 3)) == 0:
            when["role"] = draw(_ROLE_LIST)
        rule = {"when": when, "points_per_event": draw(st.sampled_from(POINTS)),
                "max": draw(_opt(st.sampled_from((2.5, 10, 30))))}
        decay = draw(_DECAYS)
        return {k: v for k, v in (rule | {"decay": decay}).items() if v is not None}
    rule = {"when": draw(account_conditions(as_of, tiers, groups)), "points": draw(st.sampled_from(POINTS))}
    decay = draw(st.one_of(_DECAYS, st.just(False)))
    return rule | ({"decay": decay} if decay is not None else {})


@st.composite
def account_model_dicts(draw: st.DrawFn, as_of: datetime, contact: dict[str, Any]) -> dict[str, Any]:
    tiers, groups = list(contact["tiers"]), list(contact["groups"])
    roles = {name: draw(st.one_of(property_conditions(as_of), conditions(as_of)))
             for name in ROLE_NAMES}
    names = draw(st.lists(st.sampled_from(("fit", "people", "engagement")), min_size=1, max_size=3, unique=True))
    model: dict[str, Any] = {"name": "accounts", "level": "account", "roles": roles, "groups": {}}
    for g in names:
        rules = draw(st.lists(account_rules(as_of, tiers, groups), min_size=1, max_size=4))
        group: dict[str, Any] = {"rules": [{"name": f"{g}{i}", **r} for i, r in enumerate(rules)]}
        cap, floor = draw(_opt(st.sampled_from((10, 30, 60)))), draw(_opt(st.sampled_from((-20, 0))))
        group.update({k: v for k, v in (("cap", cap), ("floor", floor)) if v is not None})
        decay = draw(_DECAYS)
        if decay is not None:
            group["decay"] = decay
        model["groups"][g] = group
    bounds = sorted(draw(st.lists(st.sampled_from((-10, 0, 10, 25, 50)), min_size=1, max_size=3, unique=True)))
    model["tiers"] = {f"t{i}": b for i, b in enumerate(bounds)}
    if draw(st.booleans()):
        model["matrix"] = {axis: {"group": draw(st.sampled_from(names)),
                                  "bands": dict(zip(labels, sorted(draw(st.lists(st.sampled_from((-5, 0, 10)),
                                                                                 min_size=1, max_size=3,
                                                                                 unique=True))), strict=False))}
                           for axis, labels in (("fit", "AB"), ("engagement", "12"))}
    return model


@st.composite
def account_scenarios(draw: st.DrawFn) -> AccountScenario:
    as_of = draw(st.sampled_from((AS_OF, datetime(2024, 2, 29, 0, 0, 0, 1))))
    companies, contacts, events = draw(account_datasets(as_of))
    contact = draw(model_dicts(as_of)) | {"name": "b2b"}
    account = draw(account_model_dicts(as_of, contact))
    history, company_history = draw(account_histories(companies, contacts, as_of))
    return AccountScenario(AccountModel.model_validate(account), ScoringModel.model_validate(contact),
                           companies, contacts, events, as_of, draw(st.booleans()), history, company_history)
