"""Features of every company as of a cut-off: its own properties and roll-ups of its contacts.

The account counterpart of ``predictive/features.py`` (``leadscore train --level account``): one
SQL query per cut-off T, one row per company that exists at T (``created_at`` NULL or ≤ T).

* **company properties as of T**, from the companies' property history (the rule of
  docs/model-reference.md "Company properties as of a date"); training warns about the properties
  used that have no recorded change at or before the first cut-off (every value of theirs is the
  one first imported, assumed), as it does for contact properties. ``name`` and ``domain``
  identify a company and are never features, nor are columns
  unique per company (``features._identifiers``); ``updated_at`` is when the row was last written,
  a moment after any cut-off, so it is left out too.
* **its contacts as of T** (the membership rule of ``engine.account_sql.membership_sql`` with
  only contacts created by T): how many, how many created in the last 30 / 90 days.
* **events of all its contacts together**, only those with ``occurred_at`` ≤ T: per event type
  (the ``MAX_EVENT_TYPES`` commonest) the count in the last 30 and 90 days and the number of
  distinct contacts with one in the last 90 days; overall the days since the last event of any of
  its contacts and the distinct engaged contacts (any event) in the last 30 and 90 days.
* **rule scores of its contacts**: for every published contact rule model, the sum and the best
  of its contacts' scores as of T, computed by the compiler at T (nothing is read from ``scores``,
  which holds today's values). The contact *predictive* model's probabilities are not used: they
  are stored for the latest run only, and recomputing them at a past cut-off would apply a model
  trained on outcomes after that cut-off — a leak.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime
from typing import Any

import pyarrow as pa

from leadscore.engine.account_sql import companies_as_of_sql, contact_model_names, membership_sql
from leadscore.engine.accounts_read import COMPANIES
from leadscore.engine.run import compiled_sql, model_of
from leadscore.model.loader import contact_model
from leadscore.predictive.features import (
    SKIPPED_COLUMNS,
    Feature,
    FeaturePlan,
    _ident,
    _identifiers,
    _lit,
    _property_sql,
    _readable,
    arrow_table,
)
from leadscore.storage.store import Store

#: Company columns that are never features: ids, names, and the time the row was last written.
SKIPPED_COMPANY_COLUMNS = SKIPPED_COLUMNS | {"name", "domain", "updated_at"}
#: Event types rolled up per company (the commonest).
MAX_EVENT_TYPES = 10
COUNT_WINDOWS = (30, 90)
CONTACT_WINDOW = 90
NEW_WINDOWS = (30, 90)
ENGAGED_WINDOWS = (30, 90)
KEY = "company_id"


def _rollup(name: str, label: str, stat: str = "count") -> Feature:
    return Feature(name, "number", "account", label, stat)


def plan_account_features(store: Store, *, until: datetime, exclude: Set[str] = frozenset()) -> FeaturePlan:
    """Decide the feature columns of a model of companies from the store as of ``until``."""
    columns = store.columns("companies")
    row = store.con.execute(f"SELECT count(*) FROM {COMPANIES} WHERE created_at IS NULL OR created_at <= ?",
                            [until]).fetchone()
    n_companies = max(int(row[0]) if row else 0, 1)
    skipped = SKIPPED_COMPANY_COLUMNS | set(exclude)
    identifiers = _identifiers(store, columns, skipped, until, n_companies, table="companies")
    features: list[Feature] = []
    kept: dict[str, str] = {}
    for column, logical in columns.items():
        if column in skipped or column in identifiers:
            continue
        if logical == "timestamp":
            label = "company created" if column == "created_at" else _readable(column)
            features.append(Feature(f"p:{column}", "number", "property", label, stat="days_since"))
        else:
            kind = "category" if logical == "string" else "number"
            features.append(Feature(f"p:{column}", kind, "property", _readable(column)))
        kept[column] = logical
    features.append(_rollup("a:contacts", "contacts"))
    features += [_rollup(f"a:new{w}", f"contacts created in the last {w} days") for w in NEW_WINDOWS]
    types = [r[0] for r in store.con.execute(
        "SELECT type FROM events WHERE occurred_at <= ? GROUP BY type ORDER BY count(*) DESC, type LIMIT ?",
        [until, MAX_EVENT_TYPES]).fetchall()]
    for t in types:
        what = _readable(t)
        features += [_rollup(f"a:e:{t}:n{w}", f"{what} events by its contacts in the last {w} days")
                     for w in COUNT_WINDOWS]
        article = "an" if what[:1] in ("a", "e", "i", "o", "u") else "a"
        features.append(_rollup(f"a:e:{t}:who{CONTACT_WINDOW}",
                                f"contacts with {article} {what} in the last {CONTACT_WINDOW} days"))
    if types:
        features.append(_rollup("a:*:recency", "activity of its contacts", "recency"))
        features += [_rollup(f"a:*:engaged{w}", f"engaged contacts (any activity) in the last {w} days")
                     for w in ENGAGED_WINDOWS]
    rule_models: list[tuple[str, int]] = []
    for name in contact_model_names(store):
        version = store.get_version(name)
        rule_models.append((name, version.version))
        features += [_rollup(f"a:r:{name}:sum", f"sum of its contacts' {name} scores", "score"),
                     _rollup(f"a:r:{name}:max", f"best {name} score among its contacts", "score")]
    return FeaturePlan(features, types, rule_models, kept, identifiers)


def _days(column: str) -> str:
    return f"date_diff('microsecond', {column}, $as_of) / 86400000000.0"


def account_features_query(store: Store, plan: FeaturePlan, as_of: datetime) -> str:
    """The SQL of the raw feature table at ``as_of``: one row per company existing then."""
    wanted = {f.name for f in plan.features}
    selects = [f"c.{KEY}"]
    selects += [f"{_property_sql(f, plan)} AS {_ident(f.name)}" for f in plan.features if f.source == "property"]
    members = membership_sql(store, as_of=as_of)
    joins = []
    counts = ["count(*) AS n"] + [f"count(*) FILTER (WHERE {_days('c.created_at')} <= {w}) AS new{w}"
                                  for w in NEW_WINDOWS]
    joins.append(f"LEFT JOIN (SELECT m.{KEY}, {', '.join(counts)} FROM ({members}) m JOIN contacts c "
                 f"USING (contact_id) GROUP BY m.{KEY}) k USING ({KEY})")
    selects.append(f'coalesce(k.n, 0) AS {_ident("a:contacts")}')
    selects += [f"coalesce(k.new{w}, 0) AS {_ident(f'a:new{w}')}" for w in NEW_WINDOWS]
    aggs: list[str] = []
    for t in plan.event_types:
        for w in COUNT_WINDOWS:
            aggs.append(f"count(*) FILTER (WHERE type = {_lit(t)} AND age <= {w}) AS {_ident(f'a:e:{t}:n{w}')}")
        aggs.append(f"count(DISTINCT contact_id) FILTER (WHERE type = {_lit(t)} AND age <= {CONTACT_WINDOW}) "
                    f"AS {_ident(f'a:e:{t}:who{CONTACT_WINDOW}')}")
    if plan.event_types:
        aggs.append(f'min(age) AS {_ident("a:*:recency")}')
        aggs += [f"count(DISTINCT contact_id) FILTER (WHERE age <= {w}) AS {_ident(f'a:*:engaged{w}')}"
                 for w in ENGAGED_WINDOWS]
        joins.append(f"LEFT JOIN (SELECT m.{KEY}, {', '.join(aggs)} FROM (SELECT contact_id, type, "
                     f"{_days('occurred_at')} AS age FROM events WHERE occurred_at <= $as_of) e "
                     f"JOIN ({members}) m USING (contact_id) GROUP BY m.{KEY}) ea USING ({KEY})")
    for f in plan.features:
        if f.name.startswith("a:e:") or f.name.startswith("a:*:"):
            ref = f"ea.{_ident(f.name)}"
            selects.append(f"{ref} AS {_ident(f.name)}" if f.stat == "recency"
                           else f"coalesce({ref}, 0) AS {_ident(f.name)}")
    for i, (name, version) in enumerate(plan.rule_models):
        parts = [(f"a:r:{name}:{stat}", stat) for stat in ("sum", "max") if f"a:r:{name}:{stat}" in wanted]
        if not parts:
            continue
        stored = store.get_version(name, version)
        scores = compiled_sql(store, contact_model(model_of(stored)), as_of)
        # a sum of doubles depends on the order threads add them in: rounded, the same store gives the
        # same features (and the same artefact) every time
        picked = ", ".join(f"round({stat}(r.score), 6) AS {_ident(feature)}" for feature, stat in parts)
        joins.append(f"LEFT JOIN (SELECT m.{KEY}, {picked} FROM ({members}) m JOIN (SELECT contact_id, score "
                     f"FROM ({scores})) r USING (contact_id) GROUP BY m.{KEY}) r{i} USING ({KEY})")
        selects += [f"r{i}.{_ident(feature)}" for feature, _ in parts]
    names = [f.name[2:] for f in plan.features if f.source == "property"]
    then = companies_as_of_sql(store, [n for n in names if n in store.column_types("companies")], as_of)
    # one row per company_id, as COMPANIES reads them
    companies = COMPANIES if then == "companies" else (
        f"(SELECT * FROM {then} QUALIFY row_number() OVER (PARTITION BY {KEY} ORDER BY {KEY}) = 1)")
    return (f"SELECT {', '.join(selects)} FROM {companies} c {' '.join(joins)} "
            f"WHERE c.created_at IS NULL OR c.created_at <= $as_of ORDER BY c.{KEY}")


def raw_account_features(store: Store, plan: FeaturePlan, as_of: datetime) -> pa.Table:
    """Every company existing at ``as_of`` with its raw feature values (text still text)."""
    params: dict[str, Any] = {"as_of": as_of}
    return arrow_table(store, account_features_query(store, plan, as_of), params)


def company_properties_warning(plan: FeaturePlan, store: Store | None = None,
                               cutoff: datetime | None = None) -> str | None:
    """The warning that company properties a model uses have no recorded change at or before
    ``cutoff`` (none at all without a store), so they are read as first imported at every cut-off."""
    used = sorted({f.name[2:] for f in plan.features if f.source == "property"} - {"created_at"})
    if used and store is not None and cutoff is not None:
        dated = {r[0] for r in store.con.execute(
            "SELECT DISTINCT property FROM company_property_history WHERE changed_at <= ? "
            "AND property IN (SELECT unnest(?::VARCHAR[]))", [cutoff, used]).fetchall()}
        used = [n for n in used if n not in dated]
    if not used:
        return None
    return (f"{len(used)} company properties have no recorded change at or before the first cut-off, "
            f"so every cut-off reads them as imported first: {', '.join(used)}. If one of them was "
            "filled in after the outcome (a customer flag, a stage, a field sales fills in), it leaks: leave it "
            "out with --exclude")
