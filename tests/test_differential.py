"""The differential test: compiled SQL, run by a real engine, gives the reference scorer's numbers.

Hypothesis generates a model and data (``strategies.scenarios``); the data is loaded into an
engine, the model compiled with ``detail=True`` and run, and every output column is compared with
``engine.reference.score_many_reference`` on the same rows: score, each group ``g_k`` and each
rule's ``r_i``/``rraw_i`` within 1e-9, ``tier``, ``grade``, ``rn_i`` and ``rf_i`` equal. Labels
are excused only where the two engines' values differ in their last bits next to a bound; a
total exactly on a bound (about 8% of examples) must get the tier starting there. The one-contact
query (``contact_id=...``) must return the batch query's row, and the shapes production runs (the
batch query without detail, the parameterised query bound to an as-of and a list of contacts)
must give the reference's scores too.

Property histories are part of the data: the store records them with ``storage.history`` (as
``leadscore import history`` does, contacts then hold the latest values), the engines read
properties as of the instant from ``property_history``, and the reference resolves them from the
generated changes by the rule itself (``engine/properties_as_of.py``). When no change came after
the instant, the query without the history must give the same rows (the "now" path).

Engines: the embedded DuckDB store and a real local Spark session (``engine.spark``), each
with its own example budget (Spark queries cost ~100× more); the fixed cases run on both
(``ENGINES``). To check another backend, add a class with the methods of ``DuckDBEngine``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from tests.history_rows import record_history
from tests.strategies import CONTACT_SCHEMA, CUSTOM_CONTACT_COLUMNS, EVENT_SCHEMA, Scenario, scenarios

from leadscore.compiler import compile_model
from leadscore.engine.realtime import event_columns_read
from leadscore.engine.reference import ReferenceScore, score_many_reference
from leadscore.model.loader import load_model
from leadscore.model.spec import MatrixAxis, ScoringModel
from leadscore.storage.events_by_contact import EventsByContact
from leadscore.storage.history import needs_history
from leadscore.storage.store import Store, used_params
from leadscore.timeutil import epoch_micros

TOLERANCE = 1e-9
#: Examples per run; raise it to hunt for disagreements (LEADSCORE_DIFF_EXAMPLES=5000 pytest ...).
EXAMPLES = int(os.environ.get("LEADSCORE_DIFF_EXAMPLES", "150"))
CONTACT_FIELDS = ("contact_id", *CONTACT_SCHEMA)
EVENT_FIELDS = ("event_id", "contact_id", "type", "occurred_at", *EVENT_SCHEMA)
Row = dict[str, Any]


# --------------------------------------------------------------------------- engines


class DuckDBEngine:
    """The embedded store, in memory, with the custom columns the strategies use."""

    dialect = "duckdb"  # compile_model's dialect
    sqlglot_dialect = "duckdb"  # what the AST is rendered with

    def __init__(self) -> None:
        self.store = Store.open(":memory:")
        for name, ddl in CUSTOM_CONTACT_COLUMNS.items():
            self.store.con.execute(f'ALTER TABLE contacts ADD COLUMN "{name}" {ddl}')
        self.contact_columns = self.store.columns("contacts")
        self.event_columns = self.store.columns("events")

    def load(self, contacts: Sequence[Row], events: Sequence[Row], history: Sequence[Row] = ()) -> None:
        """Replace all contacts, events and property history with these rows (one INSERT per
        table: executemany is slow); the history is recorded as a history file's would be."""
        con = self.store.con
        con.execute("DELETE FROM property_history")
        con.execute("DELETE FROM meta WHERE key = 'property_history_latest'")
        for table, fields, rows in (("contacts", CONTACT_FIELDS, contacts),
                                    ("events", EVENT_FIELDS, events)):
            con.execute(f"DELETE FROM {table}")
            if not rows:
                continue
            types = self.store.column_types(table)
            row = "(" + ", ".join("?" for _ in fields) + ")"
            con.execute(
                f"INSERT INTO {table} ({', '.join(fields)}) "
                f"SELECT {', '.join(f'CAST({f} AS {types[f]})' for f in fields)} "
                f"FROM (VALUES {', '.join(row for _ in rows)}) v({', '.join(fields)})",
                [r.get(f) for r in rows for f in fields],
            )
        if history:
            self._record(history)

    def _record(self, history: Sequence[Row]) -> None:
        record_history(self.store.con, self.store.column_types("contacts"), history)

    def run(self, sql: str) -> list[Row]:
        cursor = self.store.con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def close(self) -> None:
        self.store.close()


class SparkEngine(DuckDBEngine):
    """A real local Spark session (``engine.spark``) over the same rows, with the store's column
    types: the compiled Spark SQL, executed, must give the reference's numbers too."""

    dialect = "spark"
    sqlglot_dialect = "spark"

    def __init__(self) -> None:
        from leadscore.engine.spark import local_session

        super().__init__()  # an in-memory store: the column names and types Spark's tables get
        self.spark = local_session("leadscore-differential", cores=1)

    def load(self, contacts: Sequence[Row], events: Sequence[Row], history: Sequence[Row] = ()) -> None:
        """The rows as the store holds them once recorded (contacts with their latest values)."""
        from leadscore.engine.spark import register_rows

        super().load(contacts, events, history)
        for table in ("contacts", "events", "property_history"):
            register_rows(self.spark, table, self.store.column_types(table), super().run(f"SELECT * FROM {table}"))

    def run(self, sql: str) -> list[Row]:
        from leadscore.engine.spark import run_sql

        return run_sql(self.spark, sql)

    def close(self) -> None:  # the session stays for the rest of the run (one per JVM)
        super().close()


ENGINES: dict[str, type[DuckDBEngine]] = {"duckdb": DuckDBEngine, "spark": SparkEngine}
#: Examples a Spark run gets: each query costs Spark ~0.1-0.5 s where DuckDB takes milliseconds.
SPARK_EXAMPLES = int(os.environ.get("LEADSCORE_SPARK_EXAMPLES", "40"))


@pytest.fixture(scope="module", params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Any:
    instance = ENGINES[request.param]()
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def duckdb_engine() -> Any:
    instance = DuckDBEngine()
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def spark_engine() -> Any:
    instance = SparkEngine()
    yield instance
    instance.close()


def engine_scores(engine: DuckDBEngine, model: ScoringModel, as_of: datetime,
                  contact_id: str | None = None, *, history: bool = True) -> dict[str, Row]:
    """The engine's rows by contact; ``history``: properties as of ``as_of`` from the history."""
    query = compile_model(model, as_of=as_of, dialect=engine.dialect, detail=True,
                          contact_id=contact_id, contact_columns=engine.contact_columns,
                          event_columns=engine.event_columns,
                          history_table="property_history" if history else None)
    rows = engine.run(query.sql(dialect=engine.sqlglot_dialect))
    by_id = {row["contact_id"]: row for row in rows}
    assert len(by_id) == len(rows), "one row per contact"
    return by_id


# --------------------------------------------------------------------------- comparing


def _near_bound(value: float, bounds: Mapping[str, float]) -> bool:
    """Within float noise of a tier/band bound, where 1e-9 of rounding may flip the label."""
    return any(abs(value - b) <= TOLERANCE for b in bounds.values())


def _label_ok(got: str | None, want: str | None, got_value: float, want_value: float,
              bounds: Mapping[str, float]) -> bool:
    """Labels agree, or the two engines' values differ by rounding next to a bound.

    A value *equal* on both sides must give the same label, bound or not: a total of exactly 30
    with a tier starting at 30 is in that tier (``>=``); only values that differ in their last
    bits may fall on two sides of a bound. (Excusing every value near a bound let a ``>=`` → ``>``
    bug in the tier SQL pass.)
    """
    if got == want:
        return True
    if got_value == want_value:
        return False
    return _near_bound(want_value, bounds)


def assert_agrees(model: ScoringModel, got: Mapping[str, Row],
                  expected: Mapping[str, ReferenceScore], *, detail: bool = True) -> None:
    """Every contact's SQL row matches the reference score (see the module docstring)."""
    assert sorted(got) == sorted(expected), "the engine scored other contacts than the reference"
    for cid, ref in expected.items():
        row, where = got[cid], f"contact {cid!r}"
        assert row["score"] == pytest.approx(ref.total, abs=TOLERANCE), f"{where}: score"
        if ref.total in model.tiers.values():
            _count("total exactly at a tier bound")
        assert _label_ok(row["tier"], ref.tier, row["score"], ref.total, model.tiers), \
            f"{where}: tier {row['tier']!r} != {ref.tier!r} (total {ref.total!r})"
        for k, (name, points) in enumerate(ref.groups.items()):
            assert row[f"g_{k}"] == pytest.approx(points, abs=TOLERANCE), f"{where}: group {name}"
        assert _grade_ok(model, row, ref), f"{where}: grade {row['grade']!r} != {ref.grade!r}"
        for rule in ref.rules if detail else ():
            i, what = rule.index, f"{where}: rule {rule.index} ({rule.group}.{rule.name})"
            assert row[f"rf_{i}"] is rule.fired, f"{what}: fired {row[f'rf_{i}']!r} != {rule.fired}"
            assert row[f"rn_{i}"] == rule.count, f"{what}: count {row[f'rn_{i}']!r} != {rule.count}"
            assert row[f"r_{i}"] == pytest.approx(rule.points, abs=TOLERANCE), f"{what}: points"
            assert row[f"rraw_{i}"] == pytest.approx(rule.raw, abs=TOLERANCE), f"{what}: raw points"


def _count(what: str) -> None:
    """Count a case in hypothesis's statistics (``--hypothesis-show-statistics``); no-op outside it."""
    with suppress(InvalidArgument):
        event(what)


def _grade_ok(model: ScoringModel, row: Row, ref: ReferenceScore) -> bool:
    grade = row["grade"]
    if model.matrix is None or grade == ref.grade:
        return bool(grade == ref.grade)
    axes: list[MatrixAxis] = [model.matrix.fit, model.matrix.engagement]
    names = list(model.groups)
    return any(row[f"g_{names.index(axis.group)}"] != ref.groups[axis.group]
               and _near_bound(ref.groups[axis.group], axis.bands) for axis in axes)


def _describe(scenario: Scenario) -> None:
    """Print the failing model as YAML and its rows, ready to paste into a regression test."""
    dumped = scenario.model.model_dump(mode="json", by_alias=True, exclude_none=True,
                                       exclude_defaults=True)
    note("model:\n" + yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True))
    note(f"as_of: {scenario.as_of.isoformat()}")
    note("contacts:\n" + "\n".join(repr(c) for c in scenario.contacts))
    note("events:\n" + "\n".join(repr(e) for e in scenario.events))
    note("history:\n" + "\n".join(repr(h) for h in scenario.history))


# --------------------------------------------------------------------------- tests


def check_agreement(engine: DuckDBEngine, scenario: Scenario) -> None:
    engine.load(scenario.contacts, scenario.events, scenario.history)
    expected = score_many_reference(scenario.model, scenario.contacts, scenario.events, scenario.as_of,
                                    scenario.history)
    try:
        got = engine_scores(engine, scenario.model, scenario.as_of)
        assert_agrees(scenario.model, got, expected)
        if not needs_history(engine.store.con, scenario.as_of):  # the "now" path: contacts alone
            assert engine_scores(engine, scenario.model, scenario.as_of, history=False) == got
    except Exception:
        _describe(scenario)
        raise


_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=scenarios())
def test_duckdb_agrees_with_reference(duckdb_engine: DuckDBEngine, scenario: Scenario) -> None:
    check_agreement(duckdb_engine, scenario)


@settings(max_examples=SPARK_EXAMPLES, deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=scenarios())
def test_spark_agrees_with_reference(spark_engine: SparkEngine, scenario: Scenario) -> None:
    check_agreement(spark_engine, scenario)


@settings(max_examples=max(EXAMPLES // 6, 10), deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=scenarios(), data=st.data())
def test_duckdb_one_contact_query_is_the_batch_row(duckdb_engine: DuckDBEngine, scenario: Scenario,
                                                   data: st.DataObject) -> None:
    check_one_contact(duckdb_engine, scenario, data)


@settings(max_examples=max(SPARK_EXAMPLES // 4, 5), deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=scenarios(), data=st.data())
def test_spark_one_contact_query_is_the_batch_row(spark_engine: SparkEngine, scenario: Scenario,
                                                  data: st.DataObject) -> None:
    check_one_contact(spark_engine, scenario, data)


def check_one_contact(engine: DuckDBEngine, scenario: Scenario, data: st.DataObject) -> None:
    engine.load(scenario.contacts, scenario.events, scenario.history)
    batch = engine_scores(engine, scenario.model, scenario.as_of)
    ids = [c["contact_id"] for c in scenario.contacts] + ["nobody"]
    one = data.draw(st.sampled_from(ids), label="contact_id")
    single = engine_scores(engine, scenario.model, scenario.as_of, contact_id=one)
    assert single == ({one: batch[one]} if one in batch else {})


def test_shipped_example_model_agrees(engine: DuckDBEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed, readable case: the example model on a handful of hand-made leads."""
    monkeypatch.setenv("SALES_HOOK_URL", "http://localhost/hook")
    model = load_model(Path(__file__).parents[1] / "src/leadscore/data/example_model.yml").model
    as_of = datetime(2025, 6, 1, 12)
    contacts: list[Row] = [
        {"contact_id": "ceo", "email": "ann@acme.io", "job_title": "CEO", "company_size": 200,
         "country": "US", "created_at": datetime(2025, 1, 1), "is_customer": False},
        {"contact_id": "free", "email": "bob@GMAIL.com", "job_title": "Intern", "company_size": None,
         "country": None, "created_at": None, "is_customer": None},
        {"contact_id": "new", "email": None, "job_title": "CMO", "company_size": 50, "country": "DE",
         "created_at": datetime(2025, 6, 2), "is_customer": True},
    ]
    events = [
        {"event_id": f"e{i}", "contact_id": cid, "type": kind,
         "occurred_at": as_of - timedelta(days=days),
         "url": url, "campaign": None}
        for i, (cid, kind, days, url) in enumerate([
            ("ceo", "page_view", 1, "/pricing"), ("ceo", "page_view", 2.5, "/blog"),
            ("ceo", "page_view", 7, "/docs"), ("ceo", "page_view", 30, "/pricing"),
            ("ceo", "email_open", 2, None), ("ceo", "email_open", 200, None),
            ("ceo", "demo_request", 45, None), ("free", "email_open", 1, None),
            ("free", "unsubscribe", 31, None), ("ceo", "unsubscribe", -1, None),  # after as_of
        ])
    ]
    engine.load(contacts, events)
    expected = score_many_reference(model, contacts, events, as_of)
    assert sorted(expected) == ["ceo", "free"]
    assert_agrees(model, engine_scores(engine, model, as_of), expected)


# --------------------------------------------------------------------------- the real-time path


def _rows_by_id(cursor: Any) -> dict[str, Row]:
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def assert_same_scores(model: ScoringModel, got: Mapping[str, Row], want: Mapping[str, Row], *,
                       exact_labels: bool = False) -> None:
    """Two runs' rows (``contact_id, score, tier, grade, g_k`` or ``groups``) are the same scores:
    to 1e-9 (``engine.run.SCORE_EPSILON``, the engine's "unchanged"); labels equal, and with
    ``exact_labels`` equal even where the values differ in their last bits next to a bound."""
    assert sorted(got) == sorted(want), "other contacts scored"
    for cid, row in got.items():
        ref = want[cid]
        assert row["score"] == pytest.approx(ref["score"], abs=TOLERANCE), f"contact {cid!r}: score"
        points = row["groups"] if "groups" in row else [row[f"g_{k}"] for k in range(len(model.groups))]
        for k, value in enumerate(points):
            assert value == pytest.approx(ref[f"g_{k}"], abs=TOLERANCE), f"contact {cid!r}: group {k}"
        if exact_labels:
            assert (row["tier"], row["grade"]) == (ref["tier"], ref["grade"]), f"contact {cid!r}: labels"
            continue
        assert _label_ok(row["tier"], ref["tier"], row["score"], ref["score"], model.tiers), f"contact {cid!r}: tier"
        if row["grade"] != ref["grade"]:
            assert model.matrix is not None and any(
                points[list(model.groups).index(axis.group)] != ref[f"g_{list(model.groups).index(axis.group)}"]
                and _near_bound(ref[f"g_{list(model.groups).index(axis.group)}"], axis.bands)
                for axis in (model.matrix.fit, model.matrix.engagement)), f"contact {cid!r}: grade"


def check_realtime_path(engine: DuckDBEngine, scenario: Scenario, data: st.DataObject) -> None:
    """What ``run_model(contact_ids=...)`` does in the server, step by step, against the batch query.

    The events arrive in three parts: before the server built its lookup indexes
    (``storage.lookup_index``), after (committed, added to the index as they are written), and inside
    the open transaction (uncommitted, as a request's own events are when its contact is
    rescored). The contacts asked for are read back from DuckDB by
    ``engine.realtime.fetch_rows`` and scored by ``reference_rows`` (the path single events take,
    for every model the reference reads as SQL does), and copied by ``copy_rows`` and scored by the
    parameterised query over the copy (the path batches take); then ``run_model`` writes them twice
    as the server does, with their stored rows read once per transaction
    (``engine.stored_scores``), and the rows it keeps for the response equal the table's.
    Each gives the batch query's scores for those contacts.
    """
    from leadscore.engine import score_rowids
    from leadscore.engine.realtime import (
        RT_CONTACTS,
        RT_EVENTS,
        copy_rows,
        fetch_rows,
        reference_reads_as_sql,
        reference_rows,
        scored_by_reference,
    )
    from leadscore.engine.run import _parameterized_sql, run_model
    from leadscore.engine.stored_scores import SCORE_COLUMNS, StoredScores
    from leadscore.storage.lookup_index import drop_lookup_indexes, ensure_lookup_indexes
    from leadscore.storage.store import ModelVersion
    from leadscore.storage.types import logical_type
    from leadscore.timeutil import epoch_micros

    events = list(scenario.events)
    cut1, cut2 = sorted(data.draw(st.lists(st.integers(0, len(events)), min_size=2, max_size=2), label="cuts"))
    engine.load(scenario.contacts, events[:cut1])
    store, model, as_of = engine.store, scenario.model, scenario.as_of
    ensure_lookup_indexes(store)
    # the server's copy of the model's event columns by contact, built at its start (here: after
    # the first part), told of every later write; its tail merged into its base or not
    store.events_memory = EventsByContact.build(store, event_columns_read(model))
    _count(f"real-time: events by contact {'kept' if store.events_memory else 'not kept (a column type)'}")
    # the compiled-SQL cache is keyed on the version hash: a content hash, as publishing
    # gives (an ``id()`` is reused once an example's objects are freed, and a later example
    # then ran an earlier model's cached SQL: CI's flaky "no column campaign")
    digest = hashlib.sha256(model.model_dump_json().encode()).hexdigest()
    version = ModelVersion(model.name, 1, f"diff-{digest}", "", None, datetime(2025, 1, 1),
                           list(model.groups))
    hints = None
    try:
        _append_events(engine, events[cut1:cut2])
        # the server's map of row ids (engine.score_rowids), or not: attached once a whole-base run
        # committed every contact's row, so the reads below fetch rows by their row ids
        if data.draw(st.booleans(), label="row id map"):
            with store.transaction():
                committed = run_model(store, version, as_of=as_of, model=model).run_id
            hints = score_rowids.attach(store)
        rolled_back = data.draw(st.lists(st.sampled_from(events), max_size=3), label="rolled back") if events else []
        with suppress(_Undo), store.transaction():  # a transaction that fails: none of its rows count
            _append_events(engine, [dict(e, event_id=f"undone-{i}") for i, e in enumerate(rolled_back)])
            raise _Undo
        if store.events_memory is not None and data.draw(st.booleans(), label="merge the tail"):
            store.events_memory._merge_tail()
        with store.transaction() as con:
            _append_events(engine, events[cut2:])
            batch = {cid: row for cid, row in engine_scores(engine, model, as_of).items()}
            known = [c["contact_id"] for c in scenario.contacts] + ["nobody"]
            ids = data.draw(st.lists(st.sampled_from(known), min_size=1, max_size=4, unique=True), label="ids")
            want = {cid: batch[cid] for cid in ids if cid in batch}

            contact_types, event_types = store.column_types("contacts"), store.column_types("events")
            if reference_reads_as_sql(model, contact_types, event_types):
                contacts, by_contact = fetch_rows(store, ids)
                scored = reference_rows(model, contacts, by_contact, as_of).to_pylist()
                assert_same_scores(model, {r["contact_id"]: r for r in scored}, want)
                # the path itself: labels exactly the batch run's (near a bound it defers to SQL)
                chosen = scored_by_reference(store, model, ids, as_of)
                if chosen is None:
                    _count("real-time: the reference path deferred to the compiled query")
                else:
                    try:
                        assert_same_scores(model, _rows_by_id(con.execute(chosen.sql)), want, exact_labels=True)
                    finally:
                        chosen.drop(con)

            sql = _parameterized_sql(version, model, {k: logical_type(v) for k, v in contact_types.items()},
                                     {k: logical_type(v) for k, v in event_types.items()}, (RT_CONTACTS, RT_EVENTS))
            copy_rows(store, model, ids, sql)  # of the contacts, the columns the query names, as run_model does
            memory = store.events_memory
            if memory is not None:  # the copy is exactly the table's rows of those contacts, values as stored
                columns = [c for c in event_types if c in {"contact_id", *memory.columns}]
                assert memory.usable(store)
                assert sorted(memory.rows(ids).select(columns).to_pylist(), key=repr) == sorted(
                    (dict(zip(columns, r, strict=True)) for r in con.execute(
                        f"SELECT {', '.join(columns)} FROM events WHERE contact_id IN (SELECT UNNEST(?))",
                        [ids]).fetchall()), key=repr)
            params = {"as_of": as_of, "as_of_us": epoch_micros(as_of), "contact_ids": ids}
            assert_same_scores(model, _rows_by_id(con.execute(sql, {k: v for k, v in params.items()
                                                                    if f"${k}" in sql})), want)

            # twice, as the server runs it: every model's rows of the contacts read once (the
            # committed ones or none, then the first run's), replaced by row id, kept for the
            # response; with the map the first read fetches the committed rows by row id, the
            # second the rows the first run appended by row id range, neither scans
            answered = 0
            for _ in range(2):
                scored = {c for (c,) in con.execute("SELECT contact_id FROM scores WHERE model = ?",
                                                    [model.name]).fetchall()}
                view = StoredScores.read(store, ids, [model.name])
                if hints is not None:
                    # the map answers unless a contact has no row of the model ("nobody", or one the
                    # model leaves out): that read goes to the scan
                    answered += scored.issuperset(ids)
                    assert hints.found == answered, "the map did not answer"
                    _count(f"real-time: rows by the row id map {hints.found > 0}")
                run_model(store, version, as_of=as_of, contact_ids=ids, model=model, stored=view)
                stored = _rows_by_id(con.execute(
                    "SELECT contact_id, score, tier, grade, groups FROM scores WHERE model = ? AND contact_id "
                    "IN (SELECT UNNEST(?))", [model.name, ids]))
                assert_same_scores(model, stored, want)
                for cid in ids:
                    assert view.rows_of(cid) == con.execute(
                        f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores WHERE contact_id = ? ORDER BY model",
                        [cid]).fetchall()
            raise _Undo
    except _Undo:
        pass
    except Exception:
        _describe(scenario)
        raise
    finally:
        store.events_memory = None
        score_rowids.detach(store)
        drop_lookup_indexes(store.con)
        store.con.execute("DELETE FROM scores")
        if hints is not None:  # the committed run's records
            store.con.execute("DELETE FROM score_history WHERE run_id = ?", [committed])
            store.con.execute("DELETE FROM score_runs WHERE run_id = ?", [committed])


class _Undo(Exception):
    """Rolls the example's transaction back (nothing of it stays for the next one)."""


def _append_events(engine: DuckDBEngine, events: Sequence[Row]) -> None:
    """Insert events as the server does: the rows as stored told to its copy by contact, if any."""
    if not events:
        return
    store = engine.store
    types = store.column_types("events")
    row = "(" + ", ".join("?" for _ in EVENT_FIELDS) + ")"
    memory = store.events_memory
    returning = f" RETURNING contact_id, {', '.join(memory.columns)}" if memory is not None else ""
    inserted = store.con.sql(
        f"INSERT INTO events ({', '.join(EVENT_FIELDS)}) "
        f"SELECT {', '.join(f'CAST({f} AS {types[f]})' for f in EVENT_FIELDS)} "
        f"FROM (VALUES {', '.join(row for _ in events)}) v({', '.join(EVENT_FIELDS)}){returning}",
        params=[e.get(f) for e in events for f in EVENT_FIELDS])
    if memory is not None and inserted is not None:
        memory.appended(store, inserted.to_arrow_table())


@settings(max_examples=max(EXAMPLES // 3, 20), deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=scenarios(), data=st.data())
def test_duckdb_realtime_path_is_the_batch_row(duckdb_engine: DuckDBEngine, scenario: Scenario,
                                               data: st.DataObject) -> None:
    check_realtime_path(duckdb_engine, scenario, data)


# --------------------------------------------------------------------------- labels at the bounds


BOUNDS_MODEL = """\
version: 1
name: bounds
tiers: {cold: 0, warm: 10, hot: 25}
matrix:
  fit: {group: fit, bands: {C: 0, B: 10, A: 20}}
  engagement: {group: engagement, bands: {"3": 0, "2": 5, "1": 15}}
groups:
  fit:
    rules:
      - {name: ceo, when: {property: job_title, equals: CEO}, points: 10}
      - {name: big, when: {property: company_size, gte: 100}, points: 10}
  engagement:
    rules:
      - {name: demo, when: {event: demo_request}, points: 5}
"""


def _bounds_rows(as_of: datetime) -> tuple[list[Row], list[Row]]:
    contacts: list[Row] = [{"contact_id": f"c{i}", "job_title": title, "company_size": size, "email": None,
                            "country": None, "created_at": None, "is_customer": None}
                           for i, (title, size) in enumerate([("CEO", 5), ("CEO", 500), ("x", 500), ("x", 5)])]
    events: list[Row] = [{"event_id": "e1", "contact_id": "c0", "type": "demo_request",
                          "occurred_at": as_of - timedelta(days=1), "url": None, "campaign": None}]
    return contacts, events


def test_labels_exactly_at_the_bounds(duckdb_engine: DuckDBEngine) -> None:
    """Totals of exactly 10 and 25 and group points of exactly 10, 20 and 5: the label is the one that
    starts there, in SQL as in the reference; and the comparison itself catches a `>=` turned `>`."""
    model = load_model_text(BOUNDS_MODEL)
    as_of = datetime(2025, 6, 1)
    contacts, events = _bounds_rows(as_of)
    duckdb_engine.load(contacts, events)
    expected = score_many_reference(model, contacts, events, as_of)
    got = engine_scores(duckdb_engine, model, as_of)
    assert_agrees(model, got, expected)
    assert [(got[c]["score"], got[c]["tier"], got[c]["grade"]) for c in ("c0", "c1", "c2", "c3")] == [
        (15.0, "warm", "B2"), (20.0, "warm", "A3"), (10.0, "warm", "B3"), (0.0, "cold", "C3")]
    sql = compile_model(model, as_of=as_of, dialect="duckdb", detail=True,
                        contact_columns=duckdb_engine.contact_columns,
                        event_columns=duckdb_engine.event_columns).sql(dialect="duckdb")
    labels = sql.index("AS score FROM ls_groups")  # the tier and grade CASEs come after the total
    broken_sql = sql[:labels] + sql[labels:].replace(">=", ">")
    assert broken_sql != sql
    broken = {row["contact_id"]: row for row in duckdb_engine.run(broken_sql)}
    with pytest.raises(AssertionError, match="tier|grade"):
        assert_agrees(model, broken, expected)


# --------------------------------------------------------------------------- the shapes production runs


@settings(max_examples=max(EXAMPLES // 3, 10), deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=scenarios(), data=st.data())
def test_duckdb_production_query_shapes_agree(duckdb_engine: DuckDBEngine, scenario: Scenario,
                                              data: st.DataObject) -> None:
    """What `leadscore score` runs (the batch query without per-rule detail, literals) and what the
    API runs (the parameterised query, bound to an as-of and a list of contacts) give the
    reference's scores, tiers, grades and group points too."""
    engine = duckdb_engine
    engine.load(scenario.contacts, scenario.events)
    expected = score_many_reference(scenario.model, scenario.contacts, scenario.events, scenario.as_of)
    options = {"contact_columns": engine.contact_columns, "event_columns": engine.event_columns}
    try:
        batch = compile_model(scenario.model, as_of=scenario.as_of, dialect="duckdb", **options)
        assert_agrees(scenario.model, _rows(engine, batch.sql(dialect="duckdb")), expected, detail=False)
        ids = data.draw(st.lists(st.sampled_from([c["contact_id"] for c in scenario.contacts] + ["nobody"]),
                                 unique=True), label="contact_ids")
        sql = compile_model(scenario.model, as_of=datetime(1970, 1, 1), dialect="duckdb", params=True,
                            **options).sql(dialect="duckdb")
        binds = used_params(sql, {"as_of": scenario.as_of, "as_of_us": epoch_micros(scenario.as_of),
                                  "contact_ids": ids})
        some = _rows(engine, sql, binds)
        assert_agrees(scenario.model, some, {c: r for c, r in expected.items() if c in ids}, detail=False)
    except Exception:
        _describe(scenario)
        raise


def _rows(engine: DuckDBEngine, sql: str, binds: Mapping[str, Any] | None = None) -> dict[str, Row]:
    cursor = engine.store.con.execute(sql, dict(binds or {}))
    names = [d[0] for d in cursor.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def load_model_text(text: str) -> ScoringModel:
    from leadscore.model.loader import parse_model

    return parse_model(text, "bounds.yml").model
