"""Moving a test store's data to where the external engines read it: Postgres tables, a settings file.

The engine tests score the same rows on DuckDB and on Spark or Postgres and compare; these helpers
copy a store's contacts / events / deals into a Postgres schema with the matching column types,
and point a workspace's leadscore.yml at an engine.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from leadscore.storage.store import Store

#: A workflow for the small model (tests/smalldata.py): contact c1 enters `sql` between EARLY and AS_OF.
WORKFLOW = """
workflows:
  - name: hot lead
    on: {enters_tier: sql}
    do:
      - webhook: {url: "http://127.0.0.1:9/hook"}
      - task: {for: owner, title: "Call {{ contact.first_name }}"}
"""
EARLY = datetime(2025, 5, 10)

#: DuckDB column type → the Postgres type a user's table would have.
PG_TYPES = {"VARCHAR": "text", "BIGINT": "bigint", "INTEGER": "integer", "DOUBLE": "double precision",
            "BOOLEAN": "boolean", "TIMESTAMP": "timestamp", "DATE": "date"}


def pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_to_postgres(store: Store, dsn: str, schema: str, tables: dict[str, str] | None = None) -> None:
    """Create ``schema`` and copy the store's contacts, events and deals into it (``tables`` renames
    them: ``{"contacts": "People"}``), with COPY."""
    import psycopg

    names = {"contacts": "contacts", "events": "events", "deals": "deals"} | (tables or {})
    with psycopg.connect(dsn) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {pg_ident(schema)}")
        for table, target in names.items():
            types = store.column_types(table)
            qualified = f"{pg_ident(schema)}.{pg_ident(target)}"
            columns = ", ".join(f"{pg_ident(c)} {PG_TYPES[t]}" for c, t in types.items())
            con.execute(f"DROP TABLE IF EXISTS {qualified}")
            con.execute(f"CREATE TABLE {qualified} ({columns})")
            rows = store.con.execute(f"SELECT * FROM {table}").fetchall()
            with con.cursor().copy(f"COPY {qualified} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def set_engine(root: Path, engine: str, **sections: dict[str, Any]) -> None:
    """Make ``engine`` the workspace's engine and set whole sections (``postgres={...}``)."""
    path = root / "leadscore.yml"
    data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("engine", {})["name"] = engine
    data.update(sections)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


#: Won and lost deals of the small data set (tests/smalldata.py), so backtests have outcomes.
DEALS = [
    ("d1", "c1", "won", 5000.0, datetime(2025, 6, 2), datetime(2025, 6, 20)),
    ("d2", "c3", "won", 1200.0, datetime(2025, 6, 5), datetime(2025, 7, 15)),
    ("d3", "c2", "lost", 300.0, datetime(2025, 6, 3), datetime(2025, 6, 30)),
]


def add_deals(store: Store) -> None:
    with store.transaction() as con:
        for deal in DEALS:
            con.execute("INSERT INTO deals (deal_id, contact_id, status, amount, created_at, closed_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", list(deal))
