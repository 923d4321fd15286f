"""Migration 5 on a store made by an older release: data, custom columns and types survive; the
keys of contacts and deals lose their index but stay unique; event_id is stored with ZSTD."""

from __future__ import annotations

from pathlib import Path

import duckdb

from leadscore.storage.schema import MIGRATIONS, SCHEMA_VERSION
from leadscore.storage.store import Store


def _store_at_version_4(path: Path) -> None:
    """Apply migrations 1-4 by hand, as release 4 did, and fill the tables."""
    with duckdb.connect(str(path)) as con:
        for statements in MIGRATIONS[:4]:
            for sql in statements:
                assert isinstance(sql, str)
                con.execute(sql)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', '4')")
        con.execute("ALTER TABLE contacts ADD COLUMN plan_tier VARCHAR")
        con.execute("ALTER TABLE contacts ADD COLUMN seats BIGINT")
        con.execute("ALTER TABLE events ADD COLUMN duration_s DOUBLE")
        con.execute("INSERT INTO contacts (contact_id, email, company_size, plan_tier, seats, "
                    "created_at) VALUES ('c1', 'a@x.io', 50, 'pro', 7, TIMESTAMP '2025-01-02'), "
                    "('c2', NULL, NULL, NULL, NULL, NULL)")
        con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, duration_s) "
                    "SELECT 'e' || i, 'c1', 'page_view', TIMESTAMP '2025-01-01' + to_days(i % 30), "
                    "i / 2 FROM range(130000) t(i)")
        con.execute("INSERT INTO deals VALUES ('d1', 'c1', 'won', 10.5, TIMESTAMP '2025-01-01', "
                    "TIMESTAMP '2025-02-01', 'Deal', 'sales')")


def test_version_4_store_is_rebuilt_without_losing_anything(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    _store_at_version_4(path)
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION >= 5
        con = store.con
        assert store.column_types("contacts")["seats"] == "BIGINT"
        # custom columns keep their place; migration 8 appends company_id after them
        assert list(store.column_types("contacts"))[-3:] == ["plan_tier", "seats", "company_id"]
        assert store.column_types("events")["duration_s"] == "DOUBLE"
        assert con.execute("SELECT contact_id, email, company_size, plan_tier, seats, created_at "
                           "FROM contacts ORDER BY 1").fetchall()[0][:5] == ("c1", "a@x.io", 50,
                                                                             "pro", 7)
        assert con.execute("SELECT count(*), sum(duration_s) FROM events").fetchone() == (
            130000, sum(i / 2 for i in range(130000)))
        assert con.execute("SELECT status, amount FROM deals").fetchall() == [("won", 10.5)]
        # no index any more: constraints left are NOT NULL and the deals' status CHECK
        kinds = {(r[0], r[1]) for r in con.execute(
            "SELECT table_name, constraint_type FROM duckdb_constraints() "
            "WHERE table_name IN ('contacts', 'events', 'deals')").fetchall()}
        assert ("contacts", "PRIMARY KEY") not in kinds and ("deals", "PRIMARY KEY") not in kinds
        assert ("deals", "CHECK") in kinds and ("contacts", "NOT NULL") in kinds
        sql = dict(con.execute("SELECT table_name, upper(sql) FROM duckdb_tables() "
                               "WHERE table_name IN ('events', 'contacts')").fetchall())
        assert "EVENT_ID VARCHAR USING COMPRESSION ZSTD" in sql["events"]
        assert "CONTACT_ID VARCHAR USING COMPRESSION ZSTD" in sql["contacts"]
        assert "EMAIL VARCHAR USING COMPRESSION ZSTD" in sql["contacts"]
        con.execute("CHECKPOINT")
        methods = {r[0] for r in con.execute(
            "SELECT compression FROM pragma_storage_info('events') "
            "WHERE column_name = 'event_id' AND segment_type = 'VARCHAR'").fetchall()}
        assert methods == {"ZSTD"}
        assert store.check_keys() == {"contacts": 0, "deals": 0, "companies": 0}


def test_check_keys_reports_repeats(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        store.con.execute("INSERT INTO contacts (contact_id) VALUES ('a'), ('a'), ('b')")
        assert store.check_keys() == {"contacts": 1, "deals": 0, "companies": 0}
