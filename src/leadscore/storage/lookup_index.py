"""Finding one contact's rows among millions: the server's lookup indexes and the key filter.

Why: the real-time path rescores a contact from its own rows. ``events`` and ``contacts`` have no
index on ``contact_id`` (imports are faster without: an ART index maintained by a bulk insert of
5M events in time order into an empty table took ~2.7x its CPU, measured; 2M more into 2M cost the
same with and without, measured too; migration 5 dropped the contacts' primary key for the same
reason), and events arrive in time order, so a contact's events are spread over the whole
table and DuckDB's min/max zone maps skip nothing: finding them scans the column, ~0.3 s at 20M
events on an idle machine, however few contacts are asked for.

So the index belongs to the process that answers in real time, ``leadscore serve``: it creates
``ART`` indexes on ``events`` and ``contacts`` by ``contact_id`` when it starts (~30 s for 20M
events on a loaded 2-core machine, once), and DuckDB then answers ``contact_id IN ($k0, $k1)`` by
index lookups (~1 ms for one contact's rows). Rows the server writes update them as they go (a
few rows per request: cheap; nothing deletes events or contacts). Imports drop them first, in the
import's own transaction (``drop_lookup_indexes``), so a bulk import never pays for them; the
next ``serve`` builds them again. A crash leaves either the index or not, both consistent (DuckDB
creates and drops indexes transactionally, and an index is only ever a faster way to the same
rows).

``score_history`` has one too (the dashboard reads a page's contacts' history; rows are only ever
appended). ``scores`` has none: its rows are replaced wholesale by every whole-base run, and DuckDB's ART
made that slow (1M scores replaced in parts of 20k: 102 s instead of 7 s) and, deleting rows
indexed in the transaction that created the index, failed with a fatal error that invalidates
the database (DuckDB 2.0.1). The real-time path reads a contact's previous scores with its key
bound (``key_filter``), which DuckDB prunes by row group once ``scores`` is stored in contact
order, as the server's staged runs leave it. Tried again in session 8 (branch i17c), built only
at the server's start and dropped by whole-base runs: single-event transactions fell from ~52 to
~32 ms of CPU at 1M, but the staged full rescoring writing through it left a commit that waited
57 s (DuckDB cleaning up or checkpointing a million index entries), and a rebuild after a staged
run's deletes invalidated the database again ("Failed to delete all rows from index"). A
real-time run reads every model's rows of its contacts in one scan (``engine.stored_scores``).

``key_filter`` is the one spelling of "these contacts" for lookups: bound one by one
(``IN ($k0, $k1)``), which DuckDB pushes into the scan and answers from an index, up to
``BOUND_KEYS``; beyond that a list joined once (one scan beats thousands of index lookups). A
batch request's slice (up to 1,000 events, so as many contacts) stays under it: with 500 contacts
at 20M time-ordered events, the index lookups cost about half the CPU of the joined list's scan
(0.59 s against 1.11 s for the whole transaction, measured in process; the joined list scans all
20M ``contact_id`` values).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import duckdb

from leadscore.storage.store import Store

#: index name → (table, column); names are the store's, so a user's own indexes are left alone.
LOOKUP_INDEXES = {
    "ls_lookup_events_contact": ("events", "contact_id"),
    "ls_lookup_contacts_contact": ("contacts", "contact_id"),
    # the dashboard's 7-day change and score chart read a page's contacts' history: 32 contacts
    # 224 → 32 ms at 1.6M history rows (load 18); history is only ever appended to (no delete), and
    # a 1M-row run's insert cost 3.5 s with it against 3.2 s without (web/leads_query.py)
    "ls_lookup_history_contact": ("score_history", "contact_id"),
}

#: Keys bound one by one (``IN ($k0, $k1)``) up to this many: DuckDB pushes those into the scan
#: and answers them from an index; more keys are joined as a list (one scan). Covers a batch
#: request's slice (``api.writer.HEAVY_BUDGET`` events).
BOUND_KEYS = 1024


#: ... and with ``rows`` (the table's), only while they are at most one in this many of its rows:
#: past that one scan joined with the keys costs less than their lookups (in process, CPU of a copy
#: of the contacts' rows: 1M contacts, 500 keys 53 ms by index and 75 scanned, 1,000 keys 109 and
#: 80; 20k contacts (the demo), 1,000 keys 93 and 3.5 ms).
ROWS_PER_BOUND_KEY = 1500


def key_filter(column: str, keys: Sequence[str], prefix: str = "k",
               rows: int | None = None) -> tuple[str, dict[str, Any]]:
    """``column IN (...)`` over ``keys`` as named parameters (see the module docstring); with the
    table's ``rows``, joined once the keys are a large part of it (``ROWS_PER_BOUND_KEY``)."""
    if len(keys) <= BOUND_KEYS and (rows is None or len(keys) * ROWS_PER_BOUND_KEY <= rows):
        names = [f"{prefix}{i}" for i in range(len(keys))]
        return (f"{column} IN ({', '.join('$' + n for n in names)})",
                dict(zip(names, keys, strict=True)))
    return f"{column} IN (SELECT UNNEST(${prefix}s))", {f"{prefix}s": list(keys)}


def ensure_lookup_indexes(store: Store) -> float:
    """Create the lookup indexes that are missing (the server, at start); returns the seconds it took."""
    started = time.perf_counter()
    present = existing_lookup_indexes(store.con)
    missing = [name for name in LOOKUP_INDEXES if name not in present]
    for name in missing:
        table, column = LOOKUP_INDEXES[name]
        with store.transaction() as con:
            con.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")
    return time.perf_counter() - started


def drop_lookup_indexes(con: duckdb.DuckDBPyConnection, tables: Sequence[str] = ("events", "contacts")) -> None:
    """Drop the lookup indexes of ``tables`` (an import, in its transaction, before writing)."""
    present = existing_lookup_indexes(con)
    for name, (table, _) in LOOKUP_INDEXES.items():
        if table in tables and name in present:
            con.execute(f"DROP INDEX IF EXISTS {name}")


def existing_lookup_indexes(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT index_name FROM duckdb_indexes() WHERE database_name = current_database() "
                       "AND schema_name = 'main'").fetchall()
    return {str(r[0]) for r in rows} & set(LOOKUP_INDEXES)
