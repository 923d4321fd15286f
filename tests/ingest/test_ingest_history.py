"""Contact property history from files: what a contacts import records (with and without a
`changed_at` column), and `leadscore import history` in long and interval format."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.ingest.helpers import read_rejects, rows

from leadscore.errors import ImportError_
from leadscore.ingest import ColumnMapping, ImportResult
from leadscore.ingest.history import import_history
from leadscore.storage.store import Store

Write = Callable[..., Path]
Run = Callable[..., ImportResult]


def _history(store: Store, contact: str = "c1") -> list[tuple[Any, ...]]:
    return rows(store, f"SELECT property, old_value, new_value, changed_at FROM property_history "
                       f"WHERE contact_id = '{contact}' ORDER BY property, changed_at")


def test_first_values_are_assumed_and_a_changed_value_is_recorded_at_the_import_time(
        store: Store, write: Write, run: Run) -> None:
    first = run("contacts", write("a.csv", "Record ID,Lifecycle Stage,Job Title\nc1,lead,CEO\n"))
    assert first.changes == 0 and _history(store) == []  # first known values: assumed, not changes
    again = run("contacts", write("b.csv", "Record ID,Lifecycle Stage,Job Title\nc1,customer,CEO\n"))
    assert again.changes == 1
    [(prop, old, new, at)] = _history(store)
    assert (prop, old, new) == ("lifecycle_stage", "lead", "customer")
    started = rows(store, f"SELECT started_at FROM imports WHERE import_id = '{again.import_id}'")[0][0]
    assert at == started
    assert run("contacts", write("c.csv", "Record ID,Lifecycle Stage\nc1,customer\n")).changes == 0


def test_a_changed_at_column_dates_the_changes(store: Store, write: Write, run: Run) -> None:
    mapping = ColumnMapping(changed_at="Last Modified Date")
    run("contacts", write("a.csv", "Record ID,Lifecycle Stage,Last Modified Date\nc1,lead,2024-01-05\n"),
        mapping=mapping)
    # a new contact with a change time: its values hold from then (nothing before)
    assert ("lifecycle_stage", None, "lead", datetime(2024, 1, 5)) in _history(store)
    run("contacts", write("b.csv", "Record ID,Lifecycle Stage,Last Modified Date\nc1,customer,2024-09-01\n"),
        mapping=mapping)
    # an older export imported afterwards goes in its place; the current value stays the latest
    run("contacts", write("c.csv", "Record ID,Lifecycle Stage,Last Modified Date\nc1,mql,2024-03-01\n"),
        mapping=mapping)
    stages = [h for h in _history(store) if h[0] == "lifecycle_stage"]
    assert stages == [("lifecycle_stage", None, "lead", datetime(2024, 1, 5)),
                      ("lifecycle_stage", "lead", "mql", datetime(2024, 3, 1)),
                      ("lifecycle_stage", "mql", "customer", datetime(2024, 9, 1))]
    assert rows(store, "SELECT lifecycle_stage FROM contacts") == [("customer",)]


def test_a_bad_changed_at_rejects_its_row_and_changed_at_is_for_contacts_only(
        store: Store, write: Write, run: Run) -> None:
    mapping = ColumnMapping(changed_at="modified")
    result = run("contacts", write("a.csv", "contact_id,lifecycle_stage,modified\nc1,lead,yesterday\n"),
                 mapping=mapping)
    assert result.rejected == 1
    assert "changed_at: yesterday is not a date" in read_rejects(result.rejects_file)[0]["reason"]
    with pytest.raises(ImportError_, match="changed_at"):
        run("events", write("e.csv", "contact_id,type,occurred_at\nc1,x,2024-01-01\n"), mapping=mapping)
    with pytest.raises(ImportError_, match="does not have"):
        run("contacts", write("b.csv", "contact_id,lifecycle_stage\nc1,lead\n"), mapping=mapping)


LONG = """contact_id,property,value,changed_at
c1,lifecyclestage,lead,
c1,lifecyclestage,mql,2024-03-01
c1,Lifecycle Stage,customer,2024-09-01T10:00:00Z
c1,company_size,80,2024-05-01
c1,company_size,eighty,2024-06-01
c1,lead_status,Open,2024-02-01
c9,lifecycle_stage,lead,2024-01-01
c1,created_at,2020-01-01,2024-01-01
c1,lifecycle_stage,customer,2999-01-01
"""


def test_long_history_is_recorded_typed_and_idempotent(store: Store, write: Write, run: Run,
                                                       tmp_path: Path) -> None:
    run("contacts", write("c.csv", "contact_id,lifecycle_stage,company_size,created_at\nc1,customer,50,2024-01-01\n"))
    file = write("h.csv", LONG)
    result = import_history(store, file, rejects_dir=tmp_path / "rejects")
    assert (result.shape, result.recorded, result.rejected, result.columns_added) == ("long", 4, 4, ["lead_status"])
    reasons = [r["reason"] for r in read_rejects(result.rejects_file)]
    assert reasons == ["company_size: eighty is not a whole number", "unknown contact c9 (import contacts first)",
                       "created_at has no history (it is the contact's own id or creation time)",
                       "changed_at 2999-01-01 00:00:00 is after the import's time"]
    assert _history(store) == [
        ("company_size", None, "80", datetime(2024, 5, 1)),  # the file says when it got a value
        ("lead_status", None, "Open", datetime(2024, 2, 1)),
        ("lifecycle_stage", "lead", "mql", datetime(2024, 3, 1)),  # `lead` assumed before
        ("lifecycle_stage", "mql", "customer", datetime(2024, 9, 1, 10))]
    assert rows(store, "SELECT lifecycle_stage, company_size, lead_status FROM contacts") == [("customer", 80, "Open")]
    before = rows(store, "SELECT * FROM property_history ORDER BY ALL")
    again = import_history(store, file, rejects_dir=tmp_path / "rejects")
    assert (again.recorded, again.unchanged, again.contacts_updated) == (0, 4, 0)
    assert rows(store, "SELECT * FROM property_history ORDER BY ALL") == before


def test_interval_history_ends_values_that_stop(store: Store, write: Write, run: Run) -> None:
    run("contacts", write("c.csv", "contact_id,created_at\nc2,2024-01-01\n"))
    result = import_history(store, write("i.csv", """record_id,field,value,dbt_valid_from,dbt_valid_to
c2,lifecycle_stage,subscriber,,2024-02-01
c2,lifecycle_stage,lead,2024-02-01,2024-06-01
c2,lifecycle_stage,customer,2024-07-01,9999-12-31
"""))
    assert (result.shape, result.rejected) == ("interval", 0)
    assert _history(store, "c2") == [("lifecycle_stage", "subscriber", "lead", datetime(2024, 2, 1)),
                                     ("lifecycle_stage", "lead", None, datetime(2024, 6, 1)),  # a gap
                                     ("lifecycle_stage", None, "customer", datetime(2024, 7, 1))]
    assert rows(store, "SELECT lifecycle_stage FROM contacts") == [("customer",)]
    before = rows(store, "SELECT * FROM property_history ORDER BY ALL")
    again = import_history(store, write("i.csv", """record_id,field,value,dbt_valid_from,dbt_valid_to
c2,lifecycle_stage,subscriber,,2024-02-01
c2,lifecycle_stage,lead,2024-02-01,2024-06-01
c2,lifecycle_stage,customer,2024-07-01,9999-12-31
"""))
    assert (again.recorded, again.contacts_updated) == (0, 0)  # the same periods again: nothing moves
    assert rows(store, "SELECT * FROM property_history ORDER BY ALL") == before


def test_a_file_without_the_history_columns_is_refused_naming_them(store: Store, write: Write) -> None:
    with pytest.raises(ImportError_, match="contact_id, property, value and either changed_at"):
        import_history(store, write("x.csv", "contact_id,value\nc1,2\n"))


def test_inclusive_ends_follow_on_and_overlapping_periods_are_rejected(store: Store, write: Write, run: Run,
                                                                       tmp_path: Path) -> None:
    """Fivetran's `_fivetran_end` is the next start minus 1 ms: no empty moment between periods.
    Two periods that overlap are both rejected with their lines, each naming the other."""
    run("contacts", write("c.csv", "contact_id,created_at\nc1,2024-01-01\nc2,2024-01-01\n"))
    result = import_history(store, write("f.csv", """contact_id,property,value,_fivetran_start,_fivetran_end
c1,lifecycle_stage,lead,2024-01-01 00:00:00,2024-03-01 09:59:59.999
c1,lifecycle_stage,mql,2024-03-01 10:00:00,2024-06-01 11:59:59
c1,lifecycle_stage,customer,2024-06-01 12:00:00,9999-12-31 23:59:59.999
c1,job_title,Intern,2024-01-01 00:00:00,2024-02-01 00:00:00
c1,job_title,CEO,2024-05-01 00:00:00,
"""), rejects_dir=tmp_path / "rejects")
    assert (result.shape, result.rejected) == ("interval", 0)
    assert _history(store) == [
        ("job_title", None, "Intern", datetime(2024, 1, 1)),
        ("job_title", "Intern", None, datetime(2024, 2, 1)),  # a real gap (three months) still ends it
        ("job_title", None, "CEO", datetime(2024, 5, 1)),
        ("lifecycle_stage", None, "lead", datetime(2024, 1, 1)),
        ("lifecycle_stage", "lead", "mql", datetime(2024, 3, 1, 10)),  # no "(empty)" at 09:59:59.999
        ("lifecycle_stage", "mql", "customer", datetime(2024, 6, 1, 12))]  # nor 1 s before (inclusive, in s)
    over = import_history(store, write("o.csv", """contact_id,property,value,valid_from,valid_to
c2,job_title,Manager,2024-01-01,2024-05-01
c2,job_title,Director,2024-04-01,2024-09-01
c2,job_title,VP,2024-09-01,
"""), rejects_dir=tmp_path / "rejects")
    assert over.rejected == 2
    rejects = read_rejects(over.rejects_file)
    assert [r["line"] for r in rejects] == ["2", "3"]
    assert "overlaps the one from 2024-04-01 00:00:00 (value Director)" in rejects[0]["reason"]
    assert "overlaps the one from 2024-01-01 00:00:00 to 2024-05-01 00:00:00 (value Manager)" in rejects[1]["reason"]
    assert _history(store, "c2") == [("job_title", None, "VP", datetime(2024, 9, 1))]
