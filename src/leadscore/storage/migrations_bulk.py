"""Migration 5: contacts, events and deals reshaped for bulk import.

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

Why (measured with ``leadscore bench import``, see docs/architecture.md):

* **contacts and deals lose their PRIMARY KEY.** DuckDB maintains an ART index row by row while
  inserting and writes it out at commit: on a CSV of 1M contacts that was about 1 s of a 2.7 s
  import, and 35 MB of a 55 MB store. Keys stay unique because every writer upserts by key
  (``ingest/writers.upsert`` for files, ``api/writes`` behind the API's single writer thread,
  ``workflows/effects`` only updates), and ``Store.check_keys`` (run by the tests after every
  writer) says so. A lookup by ``contact_id`` becomes a scan of one column with zone maps:
  about 3.4 ms at 1M contacts instead of 1 ms, and 0.3 ms at 100k.
* **Unique text is stored with ZSTD**: events.event_id, contacts.contact_id and contacts.email.
  DuckDB's default string compression (a dictionary, then FSST) analyses every segment for a
  dictionary that never pays on unique values; ZSTD writes 5M event ids about 0.35 s faster (CPU
  about 0.65 s less) and 1M contacts about 0.3 s faster, for the same size on disk. Scans and
  joins read them as fast; a lookup of one contact by id scans a little longer (4.9 ms instead of
  3.2 ms at 1M contacts, about 0.5 ms at 100k).

Each table is rebuilt: a new table with the same columns (custom properties added by imports
included, with their types), a copy, then drop and rename. On a new store the tables are empty and
this costs nothing; an older store with 20M events spends about ten seconds on it, once.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from leadscore.storage.sql_names import quoted

#: The core columns as migration 1 made them, with their new definitions.
_CORE: dict[str, list[tuple[str, str]]] = {
    "contacts": [
        ("contact_id", "VARCHAR NOT NULL USING COMPRESSION zstd"),
        ("email", "VARCHAR USING COMPRESSION zstd"), ("first_name", "VARCHAR"),
        ("last_name", "VARCHAR"), ("job_title", "VARCHAR"), ("company", "VARCHAR"),
        ("company_size", "BIGINT"), ("industry", "VARCHAR"), ("country", "VARCHAR"),
        ("city", "VARCHAR"), ("phone", "VARCHAR"), ("website", "VARCHAR"),
        ("lifecycle_stage", "VARCHAR"), ("lead_source", "VARCHAR"), ("owner", "VARCHAR"),
        ("created_at", "TIMESTAMP"), ("updated_at", "TIMESTAMP"),
    ],
    "events": [
        ("event_id", "VARCHAR NOT NULL USING COMPRESSION zstd"), ("contact_id", "VARCHAR NOT NULL"),
        ("type", "VARCHAR NOT NULL"), ("occurred_at", "TIMESTAMP NOT NULL"), ("url", "VARCHAR"),
        ("referrer", "VARCHAR"), ("campaign", "VARCHAR"), ("form", "VARCHAR"),
        ("email_subject", "VARCHAR"), ("source", "VARCHAR"),
    ],
    "deals": [
        ("deal_id", "VARCHAR NOT NULL"), ("contact_id", "VARCHAR NOT NULL"),
        ("status", "VARCHAR NOT NULL CHECK (status IN ('won', 'lost', 'open'))"),
        ("amount", "DOUBLE"), ("created_at", "TIMESTAMP"), ("closed_at", "TIMESTAMP"),
        ("name", "VARCHAR"), ("pipeline", "VARCHAR"),
    ],
}


def rebuild_for_bulk_import(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild contacts, events and deals with the definitions above (see the module docstring)."""
    for table, core in _CORE.items():
        existing = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
            "current_database() AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
            [table]).fetchall()
        core_names = {name for name, _ in core}
        custom = [(str(name), str(dtype)) for name, dtype in existing if name not in core_names]
        columns = [*core, *custom]
        new = f"__{table}_v5"
        definitions = ", ".join(f"{quoted(name)} {dtype}" for name, dtype in columns)
        names = ", ".join(quoted(name) for name, _ in columns)
        con.execute(f"CREATE TABLE {new} ({definitions})")
        con.execute(f"INSERT INTO {new} ({names}) SELECT {names} FROM {table}")
        con.execute(f"DROP TABLE {table}")
        con.execute(f"ALTER TABLE {new} RENAME TO {table}")


BULK_MIGRATION: list[Callable[[duckdb.DuckDBPyConnection], None]] = [rebuild_for_bulk_import]
