"""Scoring a few contacts now: their rows looked up by key, scored without planning a query.

``run_model`` with ``contact_ids`` (the API's real-time path, ``score_one``, the settling of
``set`` actions) gets its rows from here instead of running the compiled query over the whole
``events`` table, which costs ~0.3 s at 20M events however few contacts are asked for. Two ways,
both reading only the contacts' own rows by ``contact_id`` (``storage.lookup_index.key_filter``: index
lookups in the server, which holds indexes on that column, else a scan of the key column):

* **reference**: up to ``REFERENCE_CONTACTS`` contacts with at most ``REFERENCE_EVENTS`` events
  together are scored by the pure-Python reference scorer (``engine.reference``), which needs no
  query planning (planning the compiled 25-rule query costs 12–20 ms, more than the rest of the
  request). It is the scorer every engine is differential-tested against
  (``tests/test_differential.py`` runs this exact path: rows read back from DuckDB by
  ``fetch_rows``, scored by ``reference_rows``), so the numbers are the batch run's to 1e-9, the
  engine's own test of "unchanged"; a contact whose total or group points sit within 1e-6 of a
  tier or band bound, with some inexact term (decay, points such as 0.1), is left to the compiled
  query, so the labels are the batch run's exactly;
* **sql**: more contacts (a batch of events) copy their rows into two temporary tables and run the
  model's parameterised compiled query over those (one plan for the whole group).

Either way the result is a relation of ``contact_id, score, tier, grade, g_0 …`` that
``run_model`` writes exactly as it writes a whole-base run's (``_run``, history, scores, hook).
The reference path is taken only for models whose columns are all of kinds the reference reads
as SQL does (text, integers, binary floats, booleans, naive timestamps and dates); others, and any
contact the reference cannot score, take the sql path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from leadscore.engine.reference import ReferenceScore, score_many_reference
from leadscore.model.conditions import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    NotCondition,
    PropertyCondition,
    ValueTest,
)
from leadscore.model.regex import portability_problem
from leadscore.model.spec import ScoringModel
from leadscore.storage.lookup_index import key_filter
from leadscore.storage.sql_names import quoted
from leadscore.storage.store import Store

log = logging.getLogger("leadscore.engine")

#: The reference scorer takes at most this many contacts ...
REFERENCE_CONTACTS = 8
#: ... with at most this many stored events together (Python's cost grows with the events).
REFERENCE_EVENTS = 2000
#: Temporary tables the sql path fills and the relation the reference path registers.
RT_CONTACTS, RT_EVENTS, RT_SCORED = "_rt_contacts", "_rt_events", "_rt_scored"

#: Column types the reference scorer reads exactly as the compiled SQL does.
_REFERENCE_TYPES = frozenset({"VARCHAR", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT",
                              "BOOLEAN", "TIMESTAMP", "DATE"})


@dataclass
class Scored:
    """Where a partial run's scores come from: SQL to read them, its parameters, what to drop after."""

    sql: str
    params: dict[str, Any]
    temporary: tuple[str, ...]
    how: str  #: "reference" or "sql", for the run's phases

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        for name in self.temporary:
            if name == RT_SCORED:
                con.unregister(name)
            else:
                con.execute(f"DROP TABLE IF EXISTS {name}")


def _select(table: str, ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
    where, params = key_filter("contact_id", ids)
    return f"SELECT * FROM {table} WHERE {where}", params


def fetch_rows(store: Store, ids: Sequence[str]) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The contacts' rows and their events, as the reference scorer takes them (column → value)."""
    con = store.con
    sql, params = _select("contacts", ids)
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    contacts = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    sql, params = _select("events", ids)
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    events: dict[str, list[dict[str, Any]]] = {}
    for row in cursor.fetchall():
        event = dict(zip(names, row, strict=True))
        events.setdefault(event["contact_id"], []).append(event)
    return contacts, events


def reference_rows(model: ScoringModel, contacts: Sequence[Mapping[str, Any]],
                   events: Mapping[str, Sequence[Mapping[str, Any]]], as_of: datetime) -> pa.Table:
    """The compiled query's output columns for these contacts, by the reference scorer
    (``score_many_reference``: contacts created after ``as_of`` are left out, as in SQL)."""
    return _as_table(model, _reference_scores(model, contacts, events, as_of))


def _reference_scores(model: ScoringModel, contacts: Sequence[Mapping[str, Any]],
                      events: Mapping[str, Sequence[Mapping[str, Any]]], as_of: datetime) -> list[ReferenceScore]:
    return list(score_many_reference(model, contacts, (e for rows in events.values() for e in rows), as_of).values())


def _as_table(model: ScoringModel, refs: Sequence[ReferenceScore]) -> pa.Table:
    columns: dict[str, pa.Array] = {
        "contact_id": pa.array([r.contact_id for r in refs], pa.string()),
        "score": pa.array([float(r.total) for r in refs], pa.float64()),
        "tier": pa.array([r.tier for r in refs], pa.string()),
        "grade": pa.array([r.grade for r in refs], pa.string()),
    }
    for i, name in enumerate(model.groups):
        columns[f"g_{i}"] = pa.array([float(r.groups[name]) for r in refs], pa.float64())
    return pa.table(columns)


#: A total or group's points this close to a tier or band bound may be labelled otherwise by the
#: compiled query, unless every term of the sums is exact (below): the reference adds decayed
#: points in another order than SQL, which may differ in the last bits (~1e-15).
NEAR_BOUND = 1e-6


def _exact(value: float) -> bool:
    """A multiple of 2^-20 well inside the float range: sums of such values are exact in any order."""
    return abs(value) < 2.0**30 and (value * 2.0**20).is_integer()


def label_at_risk(model: ScoringModel, score: ReferenceScore) -> bool:
    """Whether the compiled query could label this contact otherwise than the reference did: its
    total is near a tier bound, or a group's points near a band bound of the matrix, and some term
    of those sums is not exact (a decayed rule that fired, or points such as 0.1). The real-time
    path then takes the compiled query, so labels are always the batch run's."""
    def near(value: float, bounds: Sequence[float]) -> bool:
        return any(abs(value - b) <= NEAR_BOUND for b in bounds)

    at_risk = near(score.total, list(model.tiers.values()))
    if model.matrix is not None:
        for axis in (model.matrix.fit, model.matrix.engagement):
            at_risk = at_risk or near(score.groups[axis.group], list(axis.bands.values()))
    if not at_risk:
        return False
    rules = model.rules()
    return not all(_exact(r.points) and (not r.fired or model.decay_for(*rules[r.index]) is None)
                   for r in score.rules)


def _reads(model: ScoringModel) -> tuple[set[str], set[str], list[str]]:
    """The contact properties, event columns and ``matches`` patterns a model's rules read."""
    props: set[str] = set()
    event_cols: set[str] = set()
    patterns: list[str] = []

    def test(value: ValueTest) -> None:
        if value.operator == "matches":
            patterns.append(str(value.value))

    def walk(cond: Condition) -> None:
        if isinstance(cond, PropertyCondition):
            props.add("email" if cond.property in ("email_domain", "is_free_email") else cond.property)
            props.add(cond.property)
            test(cond)
        elif isinstance(cond, EventCondition):
            event_cols.update(cond.where)
            for value in cond.where.values():
                test(value)
        elif isinstance(cond, AllCondition):
            for part in cond.all:
                walk(part)
        elif isinstance(cond, AnyCondition):
            for part in cond.any:
                walk(part)
        elif isinstance(cond, NotCondition):
            walk(cond.not_)

    for _, rule in model.rules():
        walk(rule.when)
    return props, event_cols, patterns


def reference_reads_as_sql(model: ScoringModel, contact_types: Mapping[str, str],
                           event_types: Mapping[str, str]) -> bool:
    """Whether the reference scorer reads this model exactly as the compiled SQL does: every
    column it reads (and ``created_at``, ``occurred_at``, ``type``) of a type both compare alike,
    and every ``matches`` pattern one RE2 accepts and Python reads with RE2's meaning
    (``model.regex``), without inline flags such as ``(?i)``, whose Unicode case folding differs
    on a few letters."""
    props, event_cols, patterns = _reads(model)
    wanted = [(contact_types, name) for name in (*props, "created_at")]
    wanted += [(event_types, name) for name in (*event_cols, "occurred_at", "type")]
    if not all(types[name].upper() in _REFERENCE_TYPES for types, name in wanted if name in types):
        return False
    return all(portability_problem(p) is None and "(?" not in p.replace("(?:", "") for p in patterns)


def scored_by_reference(store: Store, model: ScoringModel, ids: Sequence[str], as_of: datetime) -> Scored | None:
    """The reference path, or None when these contacts should take the sql path."""
    if len(ids) > REFERENCE_CONTACTS:
        return None
    contacts, events = fetch_rows(store, ids)
    if sum(len(v) for v in events.values()) > REFERENCE_EVENTS:
        return None
    try:
        refs = _reference_scores(model, contacts, events, as_of)
    except Exception:  # noqa: BLE001 - a value the reference cannot compare: the compiled query decides
        log.debug("the reference scorer could not score %s; using the compiled query", list(ids), exc_info=True)
        return None
    if any(label_at_risk(model, r) for r in refs):
        return None
    store.con.register(RT_SCORED, _as_table(model, refs))
    return Scored(f"SELECT * FROM {RT_SCORED}", {}, (RT_SCORED,), "reference")


def event_columns_read(model: ScoringModel) -> set[str]:
    """The ``events`` columns a model's rules read besides ``contact_id``, ``type`` and ``occurred_at``."""
    return _reads(model)[1]


def events_read(store: Store) -> set[str]:
    """The ``events`` columns the store's published contact models read in ``where:`` tests (what
    the server keeps in memory by contact, ``storage.events_by_contact``); a stored text this
    build cannot read is left out (its runs fail on their own)."""
    from leadscore.engine.run import model_of

    columns: set[str] = set()
    for version in store.latest_versions():
        try:
            model = model_of(version)
        except Exception:  # noqa: BLE001 - reported by the runs of that model
            continue
        if isinstance(model, ScoringModel):
            columns |= event_columns_read(model)
    return columns


#: compiled query text → the identifiers it names (None: it selects ``*`` from the contacts' copy)
_NAMED: dict[str, frozenset[str] | None] = {}


def names_read(sql: str, table: str = RT_CONTACTS) -> frozenset[str] | None:
    """Every identifier ``sql`` names, lowered (a superset of the columns it reads from ``table``),
    or None when some SELECT takes ``*`` straight from ``table`` (then every column is read).
    Parsed once per query text (a compiled query is the same text for every batch). The cache is
    shared by the writer's two lanes, so it is read in one lookup (the other lane's ``clear``
    between a membership test and a read would raise). A text sqlglot cannot parse (or nests too
    deep) reads every column: this is an optimisation, and it must never be what fails a write."""
    try:
        return _NAMED[sql]
    except KeyError:
        pass
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except (sqlglot.errors.SqlglotError, RecursionError) as exc:
        log.warning("copying every contact column: the compiled query did not parse (%s)", type(exc).__name__)
        return None
    names: frozenset[str] | None = frozenset(i.name.lower() for i in tree.find_all(exp.Identifier))
    for select in tree.find_all(exp.Select):
        # the FROM clause: ``from_`` in recent sqlglot, ``from`` in older ones
        sources = [select.args.get("from_", select.args.get("from")), *(select.args.get("joins") or [])]
        direct = any(isinstance(s.this, exp.Table) and s.this.name == table for s in sources if s is not None)
        if direct and any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
                          for e in select.expressions):
            names = None
    if len(_NAMED) >= 64:
        _NAMED.clear()
    _NAMED[sql] = names
    return names


def copy_rows(store: Store, model: ScoringModel, ids: Sequence[str], sql: str | None = None) -> None:
    """Copy the contacts' rows and, of their events, the columns the model reads (a batch's
    events are spread over the whole table: reading 3 columns instead of 10 costs a third) into
    the temporary tables the sql path reads. Of the contacts, only the columns the compiled query
    ``sql`` names (``names_read``; all without it): 500 contacts' 6 of 18 columns by key cost 53 ms
    instead of 78 at 1M contacts. The query is compiled for every stored column, so a property
    the store lacks is still the compiler's model error, and every column it names is copied.
    In the server, the events come from its copy of those columns by contact
    (``storage.events_by_contact``) when it holds them, else from the table. Either table is read
    by key, or by one scan joined with the keys when they are many for its size (``key_filter``'s
    ``rows``: 1,000 of the demo's 20k contacts cost 132 ms wall by key, 3.6 scanned)."""
    con = store.con
    stored = store.column_types("events")
    columns = [c for c in stored if c in {"contact_id", "type", "occurred_at", *event_columns_read(model)}]
    named = names_read(sql) if sql is not None else None
    people = "*" if named is None else ", ".join(
        quoted(c) for c in store.column_types("contacts")
        if c == "contact_id" or c.lower() in named)
    memory = store.events_memory
    from_memory = memory is not None and memory.copy_into(store, RT_EVENTS, ids, columns)
    for name, table, select in ((RT_CONTACTS, "contacts", people), (RT_EVENTS, "events", ", ".join(columns))):
        if name == RT_EVENTS and from_memory:
            continue
        where, params = key_filter("contact_id", ids, rows=store.count(table))
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT {select} FROM {table} WHERE {where}", params)
