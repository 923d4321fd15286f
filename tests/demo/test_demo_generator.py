"""The synthetic data generator: deterministic, shaped like the store, internally consistent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from leadscore.demo import events as events_module
from leadscore.demo.events import EVENTS_SCHEMA
from leadscore.demo.generator import DemoData, generate, load_into_store, write_files
from leadscore.storage.store import Store

N_CONTACTS, N_EVENTS = 2_000, 20_000


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate(N_CONTACTS, N_EVENTS, seed=3)


@pytest.fixture
def store() -> Store:
    return Store.open(":memory:")


def test_same_seed_gives_the_same_data(data: DemoData) -> None:
    again = generate(N_CONTACTS, N_EVENTS, seed=3)
    assert again.contacts.equals(data.contacts)
    assert again.events.equals(data.events)
    assert again.deals.equals(data.deals)
    assert again.as_of == data.as_of == datetime(2026, 1, 1)


def test_another_seed_gives_other_data(data: DemoData) -> None:
    other = generate(N_CONTACTS, N_EVENTS, seed=4)
    assert not other.contacts.equals(data.contacts)
    assert not other.events.equals(data.events)


def test_columns_are_the_store_columns_in_order(data: DemoData, store: Store) -> None:
    for table, rows in (("contacts", data.contacts), ("events", data.events), ("deals", data.deals)):
        assert rows.column_names == list(store.column_types(table)), table
    assert data.contacts.schema.field("company_size").type == pa.int64()
    assert data.contacts.schema.field("created_at").type == pa.timestamp("us")
    assert data.events.schema == EVENTS_SCHEMA


def test_sizes_are_exact(data: DemoData) -> None:
    assert data.contacts.num_rows == N_CONTACTS
    assert data.events.num_rows == data.n_events == N_EVENTS
    assert 0.07 * N_CONTACTS <= data.deals.num_rows <= 0.13 * N_CONTACTS


def test_loaded_data_is_consistent(data: DemoData, store: Store) -> None:
    load_into_store(store, data)
    assert (store.count("contacts"), store.count("events"), store.count("deals")) == (
        N_CONTACTS, N_EVENTS, data.deals.num_rows)
    q = store.con.execute
    as_of = data.as_of
    assert q("SELECT count(DISTINCT event_id) FROM events").fetchone() == (N_EVENTS,)
    assert q("SELECT count(*) FROM events e ANTI JOIN contacts c USING (contact_id)").fetchone() == (0,)
    assert q("SELECT count(*) FROM deals d ANTI JOIN contacts c USING (contact_id)").fetchone() == (0,)
    before_created = q("SELECT count(*) FROM events e JOIN contacts c USING (contact_id) "
                       "WHERE e.occurred_at < c.created_at").fetchone()
    assert before_created == (0,)
    assert q("SELECT max(occurred_at) <= ?, min(occurred_at) >= ? FROM events",
             [as_of, datetime(2025, 1, 1)]).fetchone() == (True, True)
    assert q("SELECT count(*) FROM contacts WHERE created_at > ? OR updated_at < created_at",
             [as_of]).fetchone() == (0,)
    assert q("SELECT count(*) FROM deals WHERE (status = 'open') <> (closed_at IS NULL) "
             "OR closed_at < created_at OR amount <= 0").fetchone() == (0,)
    statuses = {s for (s,) in q("SELECT DISTINCT status FROM deals").fetchall()}
    assert statuses == {"won", "lost", "open"}


def test_events_are_ordered_by_contact_then_time(data: DemoData) -> None:
    ids = data.events.column("contact_id").to_pylist()
    times = data.events.column("occurred_at").to_pylist()
    assert all((a, s) <= (b, t) for a, s, b, t in zip(ids, times, ids[1:], times[1:], strict=False))


def test_chunks_stream_the_same_rows_as_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "CHUNK_EVENTS", 3_000)
    data = generate(500, 10_000, seed=9)
    streamed = list(data.event_batches())
    raw = list(data.event_batches(dictionary=True))
    assert len(streamed) >= 3
    assert pa.Table.from_batches(streamed).equals(data.events)
    assert pa.Table.from_batches([b.cast(EVENTS_SCHEMA) for b in raw]).equals(data.events)
    ids = data.events.column("event_id").to_pylist()
    assert ids == [f"e{i:010d}" for i in range(1, 10_001)]


def test_no_events_is_allowed() -> None:
    data = generate(50, 0, seed=1)
    assert data.events.num_rows == 0
    assert data.contacts.num_rows == 50


def test_rejects_nonsense_sizes() -> None:
    with pytest.raises(ValueError):
        generate(0, 10)


def test_write_files_round_trips(data: DemoData, tmp_path: Path) -> None:
    paths = write_files(data, tmp_path / "out")
    assert {k: p.name for k, p in paths.items()} == {
        "contacts": "contacts.csv", "events": "events.parquet", "deals": "deals.csv", "companies": "companies.csv"}
    assert data.companies is not None
    assert pacsv.read_csv(paths["companies"]).num_rows == data.companies.num_rows
    contacts = pacsv.read_csv(paths["contacts"])
    assert contacts.num_rows == N_CONTACTS
    assert contacts.column_names == data.contacts.column_names
    created = contacts.column("created_at").cast(pa.timestamp("us"))
    assert created.equals(data.contacts.column("created_at"))
    events = pq.read_table(paths["events"])
    assert events.schema == EVENTS_SCHEMA
    assert events.equals(data.events)
    assert pacsv.read_csv(paths["deals"]).num_rows == data.deals.num_rows


def test_nothing_happens_after_the_as_of(data: DemoData, store: Store) -> None:
    """Deals are created and closed by the data's end; those still in progress are open."""
    load_into_store(store, data)
    row = store.con.execute(
        "SELECT max(created_at), max(closed_at), count(*) FILTER (WHERE status = 'open') FROM deals"
    ).fetchone()
    assert row is not None
    assert row[0] <= data.as_of and row[1] <= data.as_of, row
    assert row[2] > 0  # some deals were still in progress at the end
    assert store.con.execute("SELECT max(updated_at) <= ? FROM contacts", [data.as_of]).fetchone() == (True,)


def test_deals_spread_over_the_year_with_a_sales_cycle() -> None:
    data = generate(10_000, 200_000, seed=5)
    store = Store.open(":memory:")
    load_into_store(store, data)
    q = store.con.execute
    quarters = dict(q("SELECT quarter(closed_at), count(*) FROM deals WHERE closed_at >= '2025-01-01' "
                      "GROUP BY 1").fetchall())
    closed = sum(quarters.values())
    assert set(quarters) == {1, 2, 3, 4} and max(quarters.values()) < 0.5 * closed, quarters
    row = q("SELECT median(date_diff('day', created_at, closed_at)) FROM deals WHERE closed_at IS NOT NULL"
            ).fetchone()
    assert row is not None and 25 <= row[0] <= 50, row
    # Won customers keep some activity after their deal closed.
    after = q("SELECT count(DISTINCT contact_id) FROM events e JOIN deals d USING (contact_id) "
              "WHERE d.status = 'won' AND e.occurred_at > d.closed_at").fetchone()
    won = q("SELECT count(DISTINCT contact_id) FROM deals WHERE status = 'won'").fetchone()
    assert after is not None and won is not None and after[0] > 0.3 * won[0], (after, won)


def test_companies_have_several_contacts_and_deals_carry_them(data: DemoData, store: Store) -> None:
    """Contacts work at companies (most with the id, the rest findable by their work e-mail's
    domain), and a deal carries its contact's company."""
    assert data.companies is not None
    load_into_store(store, data)
    per_company, missing, by_domain, deal_mismatch = store.con.execute("""
        SELECT (SELECT max(n) FROM (SELECT count(*) n FROM contacts WHERE company_id IS NOT NULL GROUP BY company_id)),
               (SELECT avg((company_id IS NULL)::INT) FROM contacts),
               (SELECT count(*) FROM contacts c JOIN companies k ON k.domain = split_part(c.email, '@', -1)
                WHERE c.company_id IS NULL),
               (SELECT count(*) FROM deals d JOIN contacts c USING (contact_id)
                WHERE c.company_id IS NOT NULL AND c.company_id <> d.company_id)""").fetchone()
    assert per_company >= 5 and 0.15 < missing < 0.25 and by_domain > 0 and deal_mismatch == 0
