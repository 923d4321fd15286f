"""Events: idempotent re-imports, generated ids, contacts found by e-mail, timestamps in UTC."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from tests.ingest.helpers import read_rejects, rows

from leadscore.errors import ImportError_
from leadscore.ingest import ColumnMapping, ImportResult
from leadscore.storage.store import Store

Run = Callable[..., ImportResult]
Write = Callable[..., Path]

ACTIVITY = (
    "Contact ID,Activity Type,Occurred At,Page URL,Campaign,Duration\n"
    "1,page_view,2024-05-01 10:00:00,/pricing,spring,12\n"
    "1,page_view,2024-05-01T12:00:00+02:00,/pricing,spring,12\n"   # same instant as above
    "2,email_open,2024-05-02T08:00:00Z,,spring,\n"
    "2,form_submit,2024-05-03,/demo,,3\n"
)


def test_activity_export_imports_with_generated_ids(run: Run, write: Write, store: Store) -> None:
    result = run("events", write("activity.csv", ACTIVITY))
    # the first two rows are the same event once the offset is applied
    assert (result.rows_read, result.inserted, result.duplicates, result.rejected) == (4, 3, 1, 0)
    assert result.columns_added == ["duration"]
    assert rows(store, "SELECT contact_id, type, occurred_at, url, campaign, duration FROM events "
                       "ORDER BY occurred_at") == [
        ("1", "page_view", datetime(2024, 5, 1, 10), "/pricing", "spring", 12),
        ("2", "email_open", datetime(2024, 5, 2, 8), None, "spring", None),
        ("2", "form_submit", datetime(2024, 5, 3), "/demo", None, 3)]
    assert all(r[0].startswith("e_") and len(r[0]) == 22 for r in rows(store, "SELECT event_id FROM events"))


def test_reimport_inserts_nothing(run: Run, write: Write, store: Store) -> None:
    path = write("activity.csv", ACTIVITY)
    run("events", path)
    again = run("events", path)
    assert (again.inserted, again.duplicates, again.rejected) == (0, 4, 0)
    assert store.count("events") == 3


def test_same_events_from_parquet_are_duplicates_too(run: Run, write: Write, store: Store,
                                                     tmp_path: Path) -> None:
    run("events", write("activity.csv", ACTIVITY))
    parquet = tmp_path / "activity.parquet"
    duckdb.sql(f"SELECT * FROM read_csv('{write('a.csv', ACTIVITY)}', all_varchar=true)").write_parquet(
        str(parquet))
    assert run("events", parquet).inserted == 0


def test_event_ids_from_the_file(run: Run, write: Write, store: Store) -> None:
    text = "event_id,contact_id,type,occurred_at\nA,1,page_view,2024-01-01\nA,1,page_view,2024-01-02\n"
    result = run("events", write("ids.csv", text))
    assert (result.inserted, result.duplicates) == (1, 1)  # the first row with an id wins
    assert rows(store, "SELECT event_id, occurred_at FROM events") == [("A", datetime(2024, 1, 1))]
    more = run("events", write("more.csv", text.replace("A,1,page_view,2024-01-02", "B,1,email_open,2024-01-03")))
    assert (more.inserted, more.duplicates) == (1, 1)
    assert store.count("events") == 2


def test_contacts_found_by_email_or_given_their_future_id(run: Run, write: Write,
                                                          store: Store) -> None:
    run("contacts", write("c.csv", "contact_id,email\n7,Known@X.com\n"))
    text = "Email,Event Type,Timestamp\nknown@x.com,page_view,2024-01-01\nlater@y.com,page_view,2024-01-01\n"
    result = run("events", write("e.csv", text))
    assert (result.inserted, result.unknown_contacts) == (2, 1)
    later = "c_" + hashlib.sha1(b"later@y.com").hexdigest()[:16]
    assert rows(store, "SELECT contact_id FROM events ORDER BY 1") == sorted([("7",), (later,)])
    assert "email" not in store.column_types("events")
    # when the contact arrives by e-mail it gets that same id, so the event finds it
    run("contacts", write("c2.csv", "email,first_name\nLater@y.com,Lia\n"))
    assert rows(store, "SELECT c.first_name FROM events e JOIN contacts c USING (contact_id) "
                       "WHERE e.contact_id = ?".replace("?", f"'{later}'")) == [("Lia",)]


def test_events_of_unknown_contact_ids_are_kept_and_counted(run: Run, write: Write) -> None:
    result = run("events", write("e.csv", "contact_id,type,occurred_at\n99,page_view,2024-01-01\n"))
    assert (result.inserted, result.unknown_contacts) == (1, 1)


def test_required_values_and_their_reasons(run: Run, write: Write) -> None:
    text = ("contact_id,type,occurred_at\n"
            ",page_view,2024-01-01\n"
            "1,,2024-01-01\n"
            "1,page_view,\n"
            "1,page_view,soon\n"
            "1,page_view,2024-01-01\n")
    result = run("events", write("e.csv", text))
    assert (result.inserted, result.rejected) == (1, 4)
    assert [(r["line"], r["reason"]) for r in read_rejects(result.rejects_file)] == [
        ("2", "no contact_id and no email"), ("3", "type is empty"), ("4", "occurred_at is empty"),
        ("5", "occurred_at: soon is not a date or timestamp")]


def test_missing_required_columns_refuse_the_file(run: Run, write: Write) -> None:
    with pytest.raises(ImportError_, match="`occurred_at` column"):
        run("events", write("e.csv", "contact_id,type\n1,page_view\n"))
    with pytest.raises(ImportError_, match="contact id column or an email column"):
        run("events", write("e2.csv", "type,occurred_at\npage_view,2024-01-01\n"))


def test_constants_and_day_first_dates(run: Run, write: Write, store: Store) -> None:
    mapping = ColumnMapping(columns={"lead": "contact_id", "when": "occurred_at"},
                            constants={"type": "webinar_attended", "source": "zoom"})
    text = "lead;when\n1;25/03/2024 14:30\n2;01/04/2024 09:00\n"
    result = run("events", write("z.csv", text), mapping=mapping)
    assert (result.inserted, result.rejected) == (2, 0)
    assert rows(store, "SELECT contact_id, type, source, occurred_at FROM events ORDER BY 1") == [
        ("1", "webinar_attended", "zoom", datetime(2024, 3, 25, 14, 30)),
        ("2", "webinar_attended", "zoom", datetime(2024, 4, 1, 9, 0))]


def test_jsonl_events(run: Run, write: Write, store: Store) -> None:
    text = ('{"event_id": 1, "contact_id": 5, "type": "page_view", "occurred_at": "2024-01-01T00:00:00Z",'
            ' "props": {"url": "/a"}}\n'
            '{"event_id": 2, "contact_id": 5, "type": "email_open", "occurred_at": 1704067200}\n')
    result = run("events", write("e.jsonl", text))
    assert (result.inserted, result.rejected) == (1, 1)
    assert rows(store, "SELECT event_id, contact_id, props FROM events") == [("1", "5", '{"url":"/a"}')]


def test_parquet_emails_with_spaces_identify_as_the_api_does(run: Run, store: Store, tmp_path: Path) -> None:
    """Parquet text is not trimmed on import; the identity rules trim the e-mail key themselves, so
    ` Ann@X.io ` in a Parquet file lands on the contact and event id the API gives `ann@x.io`."""
    from leadscore.api.values import NewEvent
    from leadscore.storage.identity import email_contact_id

    parquet = tmp_path / "by_email.parquet"
    duckdb.sql("SELECT ' Ann@X.io ' AS email, 'page_view' AS type, "
               "TIMESTAMP '2024-05-01 10:00:00' AS occurred_at").write_parquet(str(parquet))
    assert run("events", parquet).inserted == 1
    api_event = NewEvent(None, None, "ann@x.io", "page_view", datetime(2024, 5, 1, 10))
    assert rows(store, "SELECT event_id, contact_id FROM events") == [
        (api_event.generated_id(), email_contact_id("ann@x.io"))]
