"""The company history migration on a store made before it: companies keep their values, the
history starts empty and consistent (every stored value is assumed since the company's creation,
what an as-of score read before the upgrade), and the first write after it records its change
from the stored value."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from leadscore.storage.history import COMPANIES, latest_change, needs_history, rows_as_of, write_properties
from leadscore.storage.migrations_company_history import COMPANY_HISTORY_MIGRATION
from leadscore.storage.schema import MIGRATIONS, SCHEMA_VERSION
from leadscore.storage.store import Store

BEFORE = MIGRATIONS.index(COMPANY_HISTORY_MIGRATION)  # the schema version of a store made before it


def _store_before(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        for steps in MIGRATIONS[:BEFORE]:
            for step in steps:
                step(con) if callable(step) else con.execute(step)
        con.execute(f"INSERT OR REPLACE INTO meta VALUES ('schema_version', '{BEFORE}')")
        con.execute("INSERT INTO companies (company_id, name, domain, employees, created_at, updated_at) VALUES "
                    "('acme', 'Acme', 'acme.io', 200, TIMESTAMP '2025-01-01', TIMESTAMP '2025-02-01'), "
                    "('globex', 'Globex', 'globex.com', NULL, NULL, NULL)")


def test_an_upgraded_store_gets_an_empty_consistent_company_history(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _store_before(path)
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                           "'company_property_history'").fetchone() == (0,)
    with Store.open(path) as store:
        con = store.con
        assert store.schema_version() == SCHEMA_VERSION
        assert con.execute("SELECT count(*) FROM company_property_history").fetchone() == (0,)
        assert latest_change(con, COMPANIES) is None
        assert not needs_history(con, datetime(2000, 1, 1), COMPANIES)  # every value: as stored, assumed
        rows = [{"company_id": "acme", "employees": 200}]
        assert rows_as_of(con, rows, datetime(2025, 3, 1), COMPANIES) == rows
        with store.transaction():
            write_properties(con, "acme", {"employees": 250}, source="api", now=datetime(2025, 6, 1), level=COMPANIES)
        assert con.execute("SELECT old_value, new_value, changed_at FROM company_property_history").fetchall() == [
            ("200", "250", datetime(2025, 6, 1))]
        assert needs_history(con, datetime(2025, 3, 1), COMPANIES)
        then = rows_as_of(con, [{"company_id": "acme", "employees": 250}], datetime(2025, 3, 1), COMPANIES)
        assert then == [{"company_id": "acme", "employees": 200}]
        assert con.execute("SELECT employees FROM companies WHERE company_id = 'acme'").fetchone() == (250,)
