"""Property history: what each write records, in any order, and migration 9 from `property_changes`."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.compiler import compile_model
from leadscore.compiler.properties_as_of import contacts_as_of
from leadscore.engine.properties_as_of import contact_as_of
from leadscore.model.loader import parse_model
from leadscore.storage import history
from leadscore.storage.schema import MIGRATIONS, SCHEMA_VERSION
from leadscore.storage.store import Store

NOW = datetime(2025, 6, 1)
T0 = datetime(2025, 1, 1)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(":memory:")
    s.con.execute("INSERT INTO contacts (contact_id, job_title, company_size, created_at) "
                  "VALUES ('c1', 'Intern', 10, '2024-01-01'), ('c2', NULL, NULL, NULL)")
    yield s
    s.close()


def _rows(store: Store, contact: str = "c1") -> list[tuple[Any, ...]]:
    return store.con.execute(
        "SELECT property, old_value, new_value, changed_at FROM property_history WHERE contact_id = ? "
        "ORDER BY property, changed_at", [contact]).fetchall()


def _current(store: Store, contact: str = "c1") -> tuple[Any, ...]:
    row = store.con.execute("SELECT job_title, company_size FROM contacts WHERE contact_id = ?",
                            [contact]).fetchone()
    assert row is not None
    return tuple(row)


def test_a_change_is_recorded_with_its_old_value_and_time(store: Store) -> None:
    changed = history.write_properties(store.con, "c1", {"job_title": "CEO", "company_size": 10},
                                       source="api", now=NOW, changed_at=T0)
    assert changed == {"job_title": "CEO"}  # company_size did not change: nothing recorded for it
    assert _rows(store) == [("job_title", "Intern", "CEO", T0)]
    assert _current(store) == ("CEO", 10)
    assert history.latest_change(store.con) == T0
    assert history.needs_history(store.con, T0 - timedelta(microseconds=1))
    assert not history.needs_history(store.con, T0)  # a change at T is in effect at T


def test_an_older_change_goes_in_its_place_and_leaves_the_current_value(store: Store) -> None:
    history.write_properties(store.con, "c1", {"job_title": "CEO"}, source="api", now=NOW, changed_at=T0)
    history.write_properties(store.con, "c1", {"job_title": "Manager"}, source="api", now=NOW,
                             changed_at=T0 - timedelta(days=30))
    assert _rows(store) == [("job_title", "Intern", "Manager", T0 - timedelta(days=30)),
                            ("job_title", "Manager", "CEO", T0)]
    assert _current(store) == ("CEO", 10)  # the latest change, not the last written


def test_a_change_after_now_counts_from_now(store: Store) -> None:
    history.write_properties(store.con, "c1", {"job_title": "CEO"}, source="api", now=NOW,
                             changed_at=NOW + timedelta(days=3))
    assert _rows(store) == [("job_title", "Intern", "CEO", NOW)]


def test_updated_at_follows_a_change_when_asked(store: Store) -> None:
    history.write_properties(store.con, "c1", {"job_title": "CEO"}, source="api", now=NOW, changed_at=T0,
                             bump_updated_at=True)
    assert store.con.execute("SELECT updated_at FROM contacts WHERE contact_id = 'c1'").fetchone() == (T0,)
    assert ("updated_at", None, "2025-01-01 00:00:00", T0) in _rows(store)


def test_a_backdated_write_goes_into_the_past_and_leaves_the_values_known_since_updated_at(
        store: Store) -> None:
    """A Segment identify replayed late (dated before the CRM's last modification the import
    brought): the title it carries held then, but the one imported stays current, and updated_at
    does not move backwards."""
    store.con.execute("UPDATE contacts SET updated_at = '2025-04-30' WHERE contact_id = 'c1'")
    late = datetime(2025, 1, 10)
    changed = history.write_properties(store.con, "c1", {"job_title": "Manager"}, source="segment", now=NOW,
                                       changed_at=late, bump_updated_at=True)
    assert changed == {"job_title": "Manager"}
    assert _rows(store) == [("job_title", "Intern", "Manager", late),
                            ("job_title", "Manager", "Intern", datetime(2025, 4, 30))]
    assert _current(store) == ("Intern", 10)
    assert store.con.execute("SELECT updated_at FROM contacts WHERE contact_id = 'c1'").fetchone() == (
        datetime(2025, 4, 30),)
    # a write after updated_at is the latest news: it becomes current and moves updated_at
    history.write_properties(store.con, "c1", {"job_title": "VP"}, source="segment", now=NOW,
                             changed_at=datetime(2025, 5, 2), bump_updated_at=True)
    assert _current(store) == ("VP", 10)
    assert store.con.execute("SELECT updated_at FROM contacts WHERE contact_id = 'c1'").fetchone() == (
        datetime(2025, 5, 2),)
    # dated between two recorded changes: goes in its place, no anchor needed (VP came later)
    history.write_properties(store.con, "c1", {"job_title": "Director"}, source="api", now=NOW,
                             changed_at=datetime(2025, 5, 1), bump_updated_at=True)
    assert [r[2:] for r in _rows(store) if r[0] == "job_title"] == [
        ("Manager", late), ("Intern", datetime(2025, 4, 30)), ("Director", datetime(2025, 5, 1)),
        ("VP", datetime(2025, 5, 2))]
    assert _current(store) == ("VP", 10)


def test_a_dated_write_of_a_newer_record_is_current_whatever_its_date(store: Store) -> None:
    """A CRM sync sends the record (modified 2025-05-01, after the stored 2025-04-30) with the date
    the title changed: the title is the newer news, not a change back to the stored one."""
    store.con.execute("UPDATE contacts SET updated_at = '2025-04-30' WHERE contact_id = 'c1'")
    history.write_properties(store.con, "c1", {"job_title": "CEO", "updated_at": datetime(2025, 5, 1)},
                             source="api", now=NOW, changed_at=datetime(2025, 1, 10), bump_updated_at=True)
    assert _current(store) == ("CEO", 10)
    assert [r for r in _rows(store) if r[0] == "job_title"] == [("job_title", "Intern", "CEO", datetime(2025, 1, 10))]


def test_a_backdated_value_equal_to_the_value_then_records_nothing(store: Store) -> None:
    history.write_properties(store.con, "c1", {"job_title": "CEO"}, source="api", now=NOW, changed_at=T0)
    history.write_properties(store.con, "c1", {"job_title": "Intern"}, source="api", now=NOW,
                             changed_at=T0 - timedelta(days=10))
    assert _rows(store) == [("job_title", "Intern", "CEO", T0)]  # Intern held then already
    assert _current(store) == ("CEO", 10)


def _stage(store: Store, rows: list[tuple[Any, ...]]) -> None:
    history.stage_table(store.con)
    store.con.executemany("INSERT INTO __ls_changes VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def test_a_history_file_sets_the_latest_value_and_is_idempotent(store: Store) -> None:
    rows = [("c2", "job_title", None, None, "Student", True, 0),  # assumed before the first change
            ("c2", "job_title", "CEO", T0, None, False, 1),
            ("c2", "job_title", "CEO", T0 + timedelta(days=1), None, False, 2),  # a fact as given
            ("c2", "job_title", "CTO", T0 + timedelta(days=9), None, False, 3),
            ("c2", "job_title", "CFO", T0 + timedelta(days=9), None, False, 2)]  # same moment: last wins
    _stage(store, rows)
    first = history.record_changes(store.con, source="history", now=NOW, current_written=False)
    assert (first.recorded, first.unchanged, first.contacts_updated) == (2, 2, 1)
    assert _rows(store, "c2") == [("job_title", "Student", "CEO", T0),  # CEO again on day 1: no change
                                  ("job_title", "CEO", "CTO", T0 + timedelta(days=9))]
    assert _current(store, "c2") == ("CTO", None)
    before = store.con.execute("SELECT * FROM property_history ORDER BY ALL").fetchall()
    _stage(store, rows)
    again = history.record_changes(store.con, source="history", now=NOW + timedelta(days=1),
                                   current_written=False)
    assert (again.recorded, again.contacts_updated) == (0, 0)
    assert store.con.execute("SELECT * FROM property_history ORDER BY ALL").fetchall() == before


def test_an_assumed_value_alone_becomes_the_current_value(store: Store) -> None:
    _stage(store, [("c2", "job_title", None, None, "Founder", True, 0)])
    history.record_changes(store.con, source="history", now=NOW, current_written=False)
    assert _rows(store, "c2") == []
    assert _current(store, "c2") == ("Founder", None)


def test_dated_and_assumed_properties(store: Store) -> None:
    history.write_properties(store.con, "c1", {"job_title": "CEO"}, source="api", now=NOW, changed_at=T0)
    names = ["job_title", "company_size"]
    assert history.dated_properties(store.con, "c1", names, T0) == {"job_title"}
    assert history.dated_properties(store.con, "c1", names, T0 - timedelta(days=1)) == set()
    assert history.properties_without_history(store.con, names, T0) == ["company_size"]


# ------------------------------------------------------------------------ any order, as of any T

_TIMES = [T0 + timedelta(days=d) for d in range(5)]
_VALUES = ["A", "B", None]
_MODEL = parse_model("name: m\ngroups: {fit: {rules: [{name: r, when: {property: job_title, "
                     "is_set: true}, points: 1}]}}").model


def _as_of_sql(store: Store, as_of: datetime) -> Any:
    """The compiler's reading of job_title as of T (the ls_people CTE of the compiled query)."""
    query = compile_model(_MODEL, as_of=as_of, contact_columns=store.columns("contacts"),
                          event_columns=store.columns("events"), history_table="property_history")
    people = next(cte for cte in query.args["with_"].expressions if cte.alias == "ls_people")
    sql = f"WITH ls_past AS ({query.args['with_'].expressions[0].this.sql('duckdb')}) " \
          f"SELECT job_title FROM ({people.this.sql('duckdb')}) WHERE contact_id = 'c1'"
    row = store.con.execute(sql).fetchone()
    assert row is not None
    return row[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(st.tuples(st.sampled_from(_TIMES), st.sampled_from(_VALUES), st.booleans()),
                       max_size=8))
def test_writes_in_any_order_read_back_by_the_rule(writes: list[tuple[datetime, str | None, bool]]) -> None:
    """Live writes (skipped when equal to the current value) and history-file rows, in any order:
    the compiled query reads, at every instant, what the rule says of the changes kept (a change
    to the value already in effect is dropped). The stored value ('Intern') is assumed before the
    first change, unless a history file came first: a file says when the property got its values,
    and before its first change there is none."""
    with Store.open(":memory:") as store:
        store.con.execute("INSERT INTO contacts (contact_id, job_title) VALUES ('c1', 'Intern')")
        kept: dict[datetime, str | None] = {}
        assumed: str | None = "Intern"
        for when, value, live in writes:
            current = contact_as_of({}, _changes(assumed, kept), datetime.max)["job_title"]
            first = not kept
            if live:
                if value == current:
                    continue  # "values equal to the stored ones change nothing"
                history.write_properties(store.con, "c1", {"job_title": value}, source="api", now=NOW,
                                         changed_at=when)
            else:
                assumed = None if first else assumed
                _stage(store, [("c1", "job_title", value, when, None, False, 0)])
                history.record_changes(store.con, source="history", now=NOW, current_written=False)
            kept[when] = value
            kept = _effective(assumed, kept)
        assert _current(store)[0] == contact_as_of({}, _changes(assumed, kept), datetime.max)["job_title"]
        for t in [T0 - timedelta(days=1), *_TIMES, *(t - timedelta(microseconds=1) for t in _TIMES)]:
            want = contact_as_of({}, _changes(assumed, kept), t)["job_title"]
            assert _as_of_sql(store, t) == want, t


def _effective(assumed: str | None, kept: dict[datetime, str | None]) -> dict[datetime, str | None]:
    """The changes left once those whose value was already in effect are dropped (never stored)."""
    out: dict[datetime, str | None] = {}
    value = assumed
    for when in sorted(kept):
        if kept[when] != value:
            out[when] = value = kept[when]
    return out


def _changes(assumed: str | None, kept: dict[datetime, str | None]) -> list[dict[str, Any]]:
    return [{"property": "job_title", "value": assumed, "changed_at": None}] + [
        {"property": "job_title", "value": v, "changed_at": t} for t, v in kept.items()]


# ------------------------------------------------------------------------ migration 9


def test_property_changes_of_an_older_store_move_into_the_history(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        for steps in MIGRATIONS[:5]:
            for step in steps:
                con.execute(step) if isinstance(step, str) else step(con)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', '5')")
        con.execute("INSERT INTO contacts (contact_id, lifecycle_stage) VALUES ('c1', 'sql')")
        # two `set` rounds of one run share a time: the later row stays
        con.execute("""INSERT INTO property_changes VALUES
            ('c1', 'lifecycle_stage', 'lead', 'mql', '2025-01-01', 'workflow:m/a', 'r1'),
            ('c1', 'lifecycle_stage', 'mql', 'opportunity', '2025-02-01', 'workflow:m/b', 'r2'),
            ('c1', 'lifecycle_stage', 'opportunity', 'sql', '2025-02-01', 'workflow:m/b', 'r2')""")
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION >= 9
        assert store.con.execute(
            "SELECT old_value, new_value, changed_at, source, run_id FROM property_history ORDER BY changed_at"
        ).fetchall() == [("lead", "mql", datetime(2025, 1, 1), "workflow:m/a", "r1"),
                         ("mql", "sql", datetime(2025, 2, 1), "workflow:m/b", "r2")]
        # the old name still reads (a view now), and the latest change is known without a scan
        assert store.con.execute("SELECT count(*) FROM property_changes").fetchone() == (2,)
        assert history.latest_change(store.con) == datetime(2025, 2, 1)


def test_a_store_where_an_import_changed_what_a_set_wrote_keeps_its_current_value(tmp_path: Path) -> None:
    """Release d5563b2 logged only workflow `set`s: its store has c3's `set` to salesqualifiedlead,
    then an import that made her a customer, logged nowhere (fixtures/make_release_store.py
    set-then-import, made by that release's code). Migration 9 appends the change that must have
    happened, so the history's latest value is the current one: the compiled query and the rule
    agree at every instant, and a backdated write does not bring the stale value back."""
    path = tmp_path / "old.duckdb"
    with gzip.open(Path(__file__).parent / "fixtures" / "set-then-import-d5563b2.duckdb.gz", "rb") as src, \
            open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    with Store.open(path) as store:
        rows = store.con.execute(
            "SELECT old_value, new_value, changed_at, source FROM property_history WHERE contact_id = 'c3' "
            "AND property = 'lifecycle_stage' ORDER BY changed_at").fetchall()
        assert [(r[0], r[1], r[3]) for r in rows] == [
            (None, "salesqualifiedlead", "workflow:b2b/hand SQLs to sales"),
            ("salesqualifiedlead", "customer", "migration")]
        set_at, caught_up = rows[0][2], rows[1][2]
        assert set_at < caught_up
        assert history.latest_change(store.con) == caught_up
        columns = {"contact_id": "string", "created_at": "timestamp", "lifecycle_stage": "string"}
        contact = {"contact_id": "c3", "lifecycle_stage": "customer"}
        changes = [{"property": "lifecycle_stage", "value": r[1], "changed_at": r[2]} for r in rows]
        for t in (set_at - timedelta(days=1), set_at, caught_up - timedelta(microseconds=1), caught_up):
            sql = contacts_as_of(columns, ["lifecycle_stage"], t).sql(dialect="duckdb")
            got = dict((r[0], r[2]) for r in store.con.execute(sql).fetchall())["c3"]
            assert got == contact_as_of(contact, changes, t)["lifecycle_stage"], t
        history.write_properties(store.con, "c3", {"lifecycle_stage": "lead"}, source="segment",
                                 now=caught_up + timedelta(days=1), changed_at=set_at - timedelta(days=30))
        assert store.con.execute("SELECT lifecycle_stage FROM contacts WHERE contact_id = 'c3'").fetchone() == (
            "customer",)
