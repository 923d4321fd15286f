"""Features of every contact as of a cut-off: properties, event aggregates and rule scores.

Why one SQL query per cut-off: the same store the rules read is the feature store, so a feature
means the same thing at training and at prediction time, and time travel is one parameter. At a
cut-off T only contacts created at or before T exist and only events with ``occurred_at <= T``
are visible — the same rule the compiler applies — which is what keeps training free of leakage.

What a contact becomes (a :class:`FeaturePlan`, stored with the model):

* every contact property, as of the cut-off (its value then, from the property history, by the
  rule the compiler uses: docs/model-reference.md "Properties as of a date"): numbers and yes/no
  as numbers; text as a category (lower-cased, whitespace collapsed, so "VP  Sales" and "vp sales"
  agree; levels rarer than ``MIN_LEVEL_COUNT`` / ``MIN_LEVEL_SHARE`` grouped as "other"); dates
  as "days since"; the e-mail as its domain and a free-mail flag. Names, phone numbers and ids (a
  company_id too) say nothing about intent and are left out. ``lifecycle_stage`` and
  ``updated_at`` are features like any other: as of the cut-off they hold the value of then, not
  the one written after the outcome (a property with no change recorded before the cut-off is
  assumed, and training says so). A date property other than ``created_at`` is read only where
  a recorded change at or before the cut-off dates it (``DATED``): an assumed date is today's, a
  "last modified" that the outcome itself moved, and it leaks both through its value (after the
  cut-off for most converters) and through being empty had the future ones been blanked;
* per event type (the ``MAX_EVENT_TYPES`` commonest) counts in the last 7/30/90/365 days and days
  since the last one; overall days since the last and first event and distinct active days;
* the score and group points of every published rule model, computed as of the cut-off by the
  compiler (nothing is written to ``scores``) — or read from ``scores`` when it holds that very
  version as of that very moment for every contact (``stored_scores_cover``): ``leadscore score``
  then predicts without running the rule models twice.
"""

from __future__ import annotations

import math
from collections.abc import Set
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from leadscore.compiler.properties_as_of import contacts_as_of
from leadscore.engine.account_sql import contact_model_names
from leadscore.engine.run import compiled_sql, history_table, model_of
from leadscore.model.loader import contact_model
from leadscore.model.properties import UNVERSIONED_COLUMNS, free_email_domains
from leadscore.storage.store import Store

WINDOWS = (7, 30, 90, 365)
ACTIVE_WINDOWS = (30, 90, 365)
MAX_EVENT_TYPES = 20
MAX_LEVELS = 30
MIN_LEVEL_COUNT = 10
MIN_LEVEL_SHARE = 0.002
#: The alias of the join saying which date properties are dated at the cut-off (``_dated_join``).
DATED = "ls_dated"
#: Columns that identify a person or a record (see module docstring).
SKIPPED_COLUMNS = frozenset({"contact_id", "company_id", "email", "first_name", "last_name", "phone", "website"})
#: A text column with more distinct values than this share of contacts is an id or free text.
MAX_DISTINCT_SHARE = 0.5
#: A whole-number column with at least this share of distinct values is an id (a lead number).
ID_NUMBER_SHARE = 0.99
#: Below this many contacts (or values) no column is judged an identifier: too few to tell.
ID_MIN_ROWS = 100


@dataclass
class Feature:
    """One column of the model's input; ``label`` is how a sales rep reads it."""

    name: str
    kind: str  # "number" | "category"
    source: str  # "property" | "event" | "rule"
    label: str
    stat: str = "value"  # value | days_since | count | recency | active | first | score
    window: int | None = None
    levels: list[str] = field(default_factory=list)


@dataclass
class FeaturePlan:
    """Which features a model uses, and how each is computed: saved in the artefact as JSON."""

    features: list[Feature]
    event_types: list[str]
    rule_models: list[tuple[str, int]]
    property_columns: dict[str, str]  # column -> logical type (string/number/boolean/timestamp)
    #: columns left out as identifiers (unique or nearly unique per contact: ids, lead numbers)
    identifiers: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"features": [asdict(f) for f in self.features], "event_types": self.event_types,
                "rule_models": [list(r) for r in self.rule_models],
                "property_columns": self.property_columns, "identifiers": self.identifiers}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeaturePlan:
        return cls([Feature(**f) for f in data["features"]], list(data["event_types"]),
                   [(str(m), int(v)) for m, v in data["rule_models"]], dict(data["property_columns"]),
                   list(data.get("identifiers", [])))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _lit(value: str) -> str:
    return exp.Literal.string(value).sql(dialect="duckdb")


def _readable(column: str) -> str:
    return column.replace("_", " ")


def plan_features(store: Store, *, until: datetime, exclude: Set[str] = frozenset()) -> FeaturePlan:
    """Decide the feature columns from the store's columns, event types and published models."""
    columns = store.columns("contacts")
    row = store.con.execute("SELECT count(*) FROM contacts WHERE created_at IS NULL OR created_at <= ?",
                            [until]).fetchone()  # nothing created after `until`
    n_contacts = max(int(row[0]) if row else 0, 1)
    identifiers = _identifiers(store, columns, exclude, until, n_contacts)
    features: list[Feature] = []
    kept: dict[str, str] = {}
    for column, logical in columns.items():
        if column in SKIPPED_COLUMNS or column in exclude or column in identifiers:
            continue
        if logical == "string":
            features.append(Feature(f"p:{column}", "category", "property", _readable(column)))
        elif logical == "timestamp":
            label = "created" if column == "created_at" else _readable(column)
            features.append(Feature(f"p:{column}", "number", "property", label, stat="days_since"))
        else:
            features.append(Feature(f"p:{column}", "number", "property", _readable(column)))
        kept[column] = logical
    if "email" in columns and "email" not in exclude:
        derived = [Feature("p:email_domain", "category", "property", "e-mail domain"),
                   Feature("p:is_free_email", "number", "property", "free e-mail address")]
        derived = [f for f in derived if f.name[2:] not in exclude]
        features += derived
        if derived:
            kept["email"] = "string"
    types = [r[0] for r in store.con.execute(
        "SELECT type FROM events WHERE occurred_at <= ? GROUP BY type ORDER BY count(*) DESC, type LIMIT ?",
        [until, MAX_EVENT_TYPES]).fetchall()]
    for t in types:
        label = _readable(t)
        features += [Feature(f"e:{t}:n{w}", "number", "event", label, "count", w) for w in WINDOWS]
        features.append(Feature(f"e:{t}:recency", "number", "event", label, "recency"))
    if types:
        features.append(Feature("e:*:recency", "number", "event", "activity", "recency"))
        features.append(Feature("e:*:first", "number", "event", "activity", "first"))
        features += [Feature(f"e:*:active{w}", "number", "event", "activity", "active", w)
                     for w in ACTIVE_WINDOWS]
    rule_models: list[tuple[str, int]] = []
    for name in contact_model_names(store):  # account models score companies, not contacts
        version = store.get_version(name)
        rule_models.append((name, version.version))
        features.append(Feature(f"r:{name}:score", "number", "rule", f"{name} score", "score"))
        features += [Feature(f"r:{name}:g:{g}", "number", "rule", f"{name} {g} points", "score")
                     for g in version.group_names]
    return FeaturePlan(features, types, rule_models, kept, identifiers)


def _identifiers(store: Store, columns: dict[str, str], exclude: Set[str], until: datetime,
                 n_contacts: int, table: str = "contacts") -> list[str]:
    """Columns that identify a contact rather than describe it, never features: text with more
    distinct values than ``MAX_DISTINCT_SHARE`` of the contacts (ids, free text), whole numbers
    distinct on ``ID_NUMBER_SHARE`` of their values (a lead number)."""
    if n_contacts < ID_MIN_ROWS:
        return []
    candidates = [c for c, t in columns.items() if t in ("string", "number")
                  and c not in SKIPPED_COLUMNS and c not in exclude]
    if not candidates:
        return []
    parts = []
    for c in candidates:
        ref = _ident(c)
        whole = (f"count(*) FILTER (WHERE {ref} IS NOT NULL AND CAST({ref} AS DOUBLE) <> floor(CAST({ref} AS DOUBLE)))"
                 if columns[c] == "number" else "0")
        parts += [f"count(DISTINCT {ref})", f"count({ref})", whole]
    row = store.con.execute(f"SELECT {', '.join(parts)} FROM {table} WHERE created_at IS NULL OR created_at <= ?",
                            [until]).fetchone() or ()
    found = []
    for i, c in enumerate(candidates):
        distinct, present, fractional = (int(v or 0) for v in row[3 * i:3 * i + 3])
        if columns[c] == "string" and distinct > MAX_DISTINCT_SHARE * n_contacts:
            found.append(c)
        elif (columns[c] == "number" and not fractional and present >= ID_MIN_ROWS
              and distinct >= ID_NUMBER_SHARE * present):
            found.append(c)
    return found


def _property_sql(feature: Feature, plan: FeaturePlan) -> str:
    column = feature.name[2:]
    domain = "nullif(regexp_extract(lower(c.email), '@([^@]*)$', 1), '')"
    if column == "email_domain":
        return domain
    if column == "is_free_email":
        return f"CASE WHEN {domain} IS NULL THEN NULL WHEN list_contains($free, {domain}) THEN 1.0 ELSE 0.0 END"
    ref = f"c.{_ident(column)}"
    logical = plan.property_columns[column]
    if logical == "string":
        return rf"nullif(lower(trim(regexp_replace(CAST({ref} AS VARCHAR), '\s+', ' ', 'g'))), '')"
    if logical == "timestamp":
        days = f"date_diff('second', CAST({ref} AS TIMESTAMP), $as_of) / 86400.0"
        return days if column in UNVERSIONED_COLUMNS else f"CASE WHEN {DATED}.{_ident(column)} THEN {days} END"
    return f"CAST({ref} AS DOUBLE)"


def _dated_join(plan: FeaturePlan) -> str:
    """Per contact, whether each versioned date property read has a recorded change at or before
    the cut-off (see the module docstring): ``DATED.<column>``, NULL for a contact with none."""
    dates = [c for c, logical in plan.property_columns.items()
             if logical == "timestamp" and c not in UNVERSIONED_COLUMNS and f"p:{c}" in plan.names]
    if not dates:
        return ""
    flags = ", ".join(f"bool_or(property = {_lit(c)}) AS {_ident(c)}" for c in dates)
    names = ", ".join(_lit(c) for c in dates)
    return (f"LEFT JOIN (SELECT contact_id, {flags} FROM property_history WHERE changed_at <= $as_of "
            f"AND property IN ({names}) GROUP BY contact_id) {DATED} USING (contact_id)")


def _event_sql(feature: Feature) -> str:
    """The aggregate of one event feature over ``per_type`` (one row per contact and event type)
    or ``per_day`` (one row per contact and active day)."""
    _, etype, _ = feature.name.split(":", 2)
    if etype != "*":
        stat = f"n{feature.window}" if feature.stat == "count" else "recency"
        return f"max(t.{stat}) FILTER (WHERE t.type = {_lit(etype)})"
    if feature.stat == "recency":
        return "min(d.youngest)"
    if feature.stat == "first":
        return "max(d.oldest)"
    return f"count(*) FILTER (WHERE d.youngest <= {feature.window})"


def _events_join(plan: FeaturePlan, events: list[Feature]) -> str:
    """Event aggregates in two small steps instead of one wide one: counts per (contact, type),
    then a pivot per contact; active days from one row per (contact, day). A hundred filtered
    aggregates over every event cost four times more than this."""
    typed = [f for f in events if not f.name.startswith("e:*:")]
    overall = [f for f in events if f.name.startswith("e:*:")]
    age = "date_diff('microsecond', occurred_at, $as_of) / 86400000000.0"
    visible = "FROM events WHERE occurred_at <= $as_of"
    joins = []
    if typed:
        types = ", ".join(_lit(t) for t in sorted({f.name.split(":", 2)[1] for f in typed}))
        windows = ", ".join(f"count(*) FILTER (WHERE age <= {w}) AS n{w}" for w in WINDOWS)
        aggs = ", ".join(f"{_event_sql(f)} AS {_ident(f.name)}" for f in typed)
        joins.append(
            f"LEFT JOIN (SELECT t.contact_id, {aggs} FROM (SELECT contact_id, type, {windows}, min(age) AS recency "
            f"FROM (SELECT contact_id, type, {age} AS age {visible} AND type IN ({types})) "
            "GROUP BY contact_id, type) t GROUP BY t.contact_id) et USING (contact_id)")
    if overall:
        aggs = ", ".join(f"{_event_sql(f)} AS {_ident(f.name)}" for f in overall)
        joins.append(
            f"LEFT JOIN (SELECT d.contact_id, {aggs} FROM (SELECT contact_id, min({age}) AS youngest, "
            f"max({age}) AS oldest {visible} GROUP BY contact_id, CAST(occurred_at AS DATE)) d "
            "GROUP BY d.contact_id) ea USING (contact_id)")
    return " ".join(joins)


def features_query(store: Store, plan: FeaturePlan, as_of: datetime) -> str:
    """The SQL of the raw feature table at ``as_of``: one row per contact created by then."""
    props = [f"{_property_sql(f, plan)} AS {_ident(f.name)}" for f in plan.features if f.source == "property"]
    events = [f for f in plan.features if f.source == "event"]
    selects = ["c.contact_id", *props]
    joins = [dated] if (dated := _dated_join(plan)) else []
    if events:
        joins.append(_events_join(plan, events))
        for f in events:
            zero = f.stat in ("count", "active")
            ref = ("ea." if f.name.startswith("e:*:") else "et.") + _ident(f.name)
            selects.append(f"{f'coalesce({ref}, 0)' if zero else ref} AS {_ident(f.name)}")
    wanted = {f.name for f in plan.features}
    for i, (name, version) in enumerate(plan.rule_models):
        stored = store.get_version(name, version)
        columns = [("score", f"r:{name}:score")] + [(f"g_{gi}", f"r:{name}:g:{g}")
                                                    for gi, g in enumerate(stored.group_names)]
        columns = [(source, feature) for source, feature in columns if feature in wanted]
        if not columns:
            continue
        if stored_scores_cover(store, name, version, as_of):
            picked = ", ".join(f"{_stored_column(source)} AS {_ident(feature)}" for source, feature in columns)
            rows = (f"SELECT contact_id, {picked} FROM scores WHERE model = {_lit(name)} "
                    f"AND model_version = {int(version)} AND as_of = $as_of")
        else:
            picked = ", ".join(f"{source} AS {_ident(feature)}" for source, feature in columns)
            rows = f"SELECT contact_id, {picked} FROM ({compiled_sql(store, contact_model(model_of(stored)), as_of)})"
        joins.append(f"LEFT JOIN ({rows}) r{i} USING (contact_id)")
        selects += [f"r{i}.{_ident(feature)}" for _, feature in columns]
    return (f"SELECT {', '.join(selects)} FROM {contacts_source(store, plan, as_of)} c {' '.join(joins)} "
            "WHERE c.created_at IS NULL OR c.created_at <= $as_of ORDER BY c.contact_id")


def contacts_source(store: Store, plan: FeaturePlan, as_of: datetime) -> str:
    """The contacts table, or, when a property changed after ``as_of``, the contacts as they stood
    then (``compiler.properties_as_of.contacts_as_of``): the same rule the rules read by."""
    if history_table(store, as_of) is None:
        return "contacts"
    columns = store.columns("contacts")
    names = [c for c in plan.property_columns if c in columns]
    return f"({contacts_as_of(columns, names, as_of).sql(dialect='duckdb')})"


def stored_scores_cover(store: Store, model: str, version: int, as_of: datetime) -> bool:
    """Does ``scores`` hold this model version's score as of ``as_of`` for every contact created
    by then, with nothing imported since? Then the rule-score features can be read, not recomputed.

    Why: ``leadscore score`` scores every contact, then predicts at the same as-of; computing the
    rule models again inside the feature query doubled the work. Checked, never assumed: a
    contact rescored later (the API rescores at "now"), a contact added since, another version
    published and scored, or an import after the run (events or properties may have changed)
    sends the features back to the compiled query, which gives the same numbers when nothing
    changed.
    """
    row = store.con.execute(
        """SELECT NOT EXISTS (
               SELECT 1 FROM contacts c WHERE (c.created_at IS NULL OR c.created_at <= $as_of)
                 AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.model = $model AND s.contact_id = c.contact_id
                                 AND s.model_version = $version AND s.as_of = $as_of))
           AND NOT EXISTS (
               SELECT 1 FROM imports WHERE started_at >= (
                   SELECT min(computed_at) FROM scores
                   WHERE model = $model AND model_version = $version AND as_of = $as_of))""",
        {"model": model, "version": version, "as_of": as_of}).fetchone()
    return bool(row and row[0])


def _stored_column(source: str) -> str:
    """A compiled query's output column read from a ``scores`` row: ``g_i`` is ``groups[i + 1]``."""
    return "score" if source == "score" else f"groups[{int(source[2:]) + 1}]"


def arrow_table(store: Store, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    """A query's rows as Arrow without the extra copy a DB-API result makes.

    ``con.sql`` refuses to run while an earlier ``execute`` result is unread (an INSERT's count,
    say), so that result is run to its end first.
    """
    store.con.complete()
    return store.con.sql(sql, params=params).to_arrow_table()


def raw_features(store: Store, plan: FeaturePlan, as_of: datetime) -> pa.Table:
    """Every contact created by ``as_of`` with its raw feature values (text still text)."""
    params: dict[str, Any] = {"as_of": as_of}
    sql = features_query(store, plan, as_of)
    if "$free" in sql:
        params["free"] = list(free_email_domains())
    return arrow_table(store, sql, params)


def fit_levels(plan: FeaturePlan, table: pa.Table) -> None:
    """Learn each category's levels from training rows; rare ones will read as "other"."""
    floor = max(MIN_LEVEL_COUNT, math.ceil(MIN_LEVEL_SHARE * max(table.num_rows, 1)))
    for f in plan.features:
        if f.kind != "category":
            continue
        counts = pc.value_counts(pc.drop_null(table[f.name]).combine_chunks())
        pairs = sorted(((c.as_py(), v.as_py()) for v, c in zip(counts.field("values"), counts.field("counts"),
                                                                    strict=True)), key=lambda p: (-p[0], p[1]))
        f.levels = [v for c, v in pairs[:MAX_LEVELS] if c >= floor]


def encode(plan: FeaturePlan, table: pa.Table) -> np.ndarray:
    """The model's input matrix: numbers as floats, categories as level codes (NaN = missing).

    Code ``len(levels)`` is "other": a level seen rarely (or never) in training.
    """
    out = np.empty((table.num_rows, len(plan.features)), dtype=np.float64, order="F")  # column by column
    for j, f in enumerate(plan.features):
        column = table[f.name]
        if f.kind == "category":
            values = column.combine_chunks()
            codes = pc.index_in(values, value_set=pa.array(f.levels, pa.string())) if f.levels else \
                pa.nulls(len(values), pa.int32())
            filled = pc.if_else(pc.is_null(values), np.nan,
                                pc.cast(pc.fill_null(codes, len(f.levels)), pa.float64()))
            out[:, j] = filled.to_numpy(zero_copy_only=False)
        else:
            out[:, j] = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    return out


def prune(plan: FeaturePlan, x: np.ndarray) -> tuple[FeaturePlan, np.ndarray]:
    """Drop features that never vary in training: they cannot help and only cost time."""
    keep = []
    for j in range(x.shape[1]):
        column = x[:, j]
        finite = column[~np.isnan(column)]
        if finite.size and (finite.min() != finite.max() or finite.size < column.size):
            keep.append(j)
    features = [plan.features[j] for j in keep]
    return FeaturePlan(features, plan.event_types, plan.rule_models, plan.property_columns,
                       plan.identifiers), x[:, keep]
