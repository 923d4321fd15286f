"""Helpers shared by the compiler tests: load rows into a store, compile a model and run it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadscore.compiler import render_sql
from leadscore.model.loader import parse_model
from leadscore.storage.store import Store

AS_OF = datetime(2025, 1, 1)


def add_contacts(store: Store, *rows: dict[str, Any]) -> None:
    """Insert contacts given as dicts (missing columns are NULL)."""
    for row in rows:
        cols = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        store.con.execute(f"INSERT INTO contacts ({cols}) VALUES ({marks})", list(row.values()))


def add_events(store: Store, *rows: tuple[Any, ...] | dict[str, Any]) -> None:
    """Insert events: ``(contact_id, type, occurred_at)`` tuples or dicts of columns."""
    for i, row in enumerate(rows):
        data = row if isinstance(row, dict) else dict(zip(("contact_id", "type", "occurred_at"), row,
                                                          strict=True))
        data = {"event_id": f"e{store.count('events')}_{i}", **data}
        cols = ", ".join(f'"{k}"' for k in data)
        marks = ", ".join("?" for _ in data)
        store.con.execute(f"INSERT INTO events ({cols}) VALUES ({marks})", list(data.values()))


def score(store: Store, model_text: str, *, as_of: datetime = AS_OF, detail: bool = True,
          **options: Any) -> dict[str, dict[str, Any]]:
    """Compile ``model_text`` for DuckDB, run it on ``store``; rows by contact_id, as dicts."""
    model = parse_model(model_text).model
    sql = render_sql(model, as_of=as_of, detail=detail, contact_columns=store.columns("contacts"),
                     event_columns=store.columns("events"), **options)
    cursor = store.con.execute(sql)
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def fill_synthetic(store: Store, contacts: int, events: int) -> None:
    """Deterministic synthetic data touching every column the golden models read.

    Built on the benchmark's generator, plus NULLs, hostile text and the event types and columns
    of the golden models, so that most of their rules fire for some contacts and not for others.
    """
    from tests.compiler.bench_vs_handwritten import generate

    con = store.con
    generate(con, contacts, events)
    con.execute("""UPDATE contacts SET
      phone = CASE hash(contact_id) % 4 WHEN 0 THEN '+1' || (5550000000 + hash(contact_id) % 9999999)
                                        WHEN 1 THEN '12345' END,
      website = CASE WHEN hash(contact_id) % 3 = 0 THEN 'https://x.io' ELSE 'http://y' END,
      owner = CASE WHEN hash(contact_id) % 2 = 0 THEN 'ann' END,
      updated_at = created_at + INTERVAL (hash(contact_id) % 100) DAY,
      lead_source = ['ads', 'paid_social', 'seo'][1 + (hash(contact_id) % 3)::BIGINT],
      last_name = CASE WHEN hash(contact_id) % 50 = 0 THEN 'O''Brien''; DROP TABLE contacts; --'
                       ELSE 'Smith' END,
      city = CASE WHEN hash(contact_id) % 7 = 0 THEN 'Paris\\' ELSE 'Rome' END,
      company = CASE WHEN hash(contact_id) % 5 = 0 THEN 'C:\\temp\\' ELSE 'Acme' END,
      email = CASE WHEN hash(contact_id) % 13 = 0 THEN 'Bob@Uni.AC.uk' ELSE email END,
      job_title = CASE WHEN hash(contact_id) % 17 = 0 THEN 'CEO 50%_off' ELSE job_title END
    """)
    con.execute("""UPDATE events SET referrer = CASE WHEN hash(event_id) % 2 = 0 THEN 'g' END,
      campaign = ['spring', 'summer', 'fall'][1 + (hash(event_id) % 3)::BIGINT],
      source = CASE hash(event_id) % 5 WHEN 0 THEN 'bot' WHEN 1 THEN NULL ELSE 'web' END""")
    con.execute(f"""INSERT INTO events (event_id, contact_id, type, occurred_at, url)
      SELECT 'z' || i, 'c' || i, 'it''s; DELETE FROM events', TIMESTAMP '2024-12-20', '/''x'
      FROM range({max(contacts // 60, 1)}) t(i)""")
    con.execute(f"""INSERT INTO events (event_id, contact_id, type, occurred_at)
      SELECT 'p' || i, 'c' || (i % {contacts}), 'product_login',
             TIMESTAMP '2024-12-31' - INTERVAL (i % 90) DAY
      FROM range({max(events // 12, 1)}) t(i)""")
