"""The one quoting rule for names in SQL built as text: any name a user can give round-trips."""

from __future__ import annotations

import duckdb
import pytest

from leadscore.storage.sql_names import quoted

NAMES = ['plain', 'Lead Source', 'a"b', '"', '""', 'x"; DROP TABLE t; --', "it's", 'É "quoted" ü', 'select']


@pytest.mark.parametrize("name", NAMES)
def test_a_name_is_one_identifier_whatever_it_holds(name: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id INTEGER)")
    con.execute(f"ALTER TABLE t ADD COLUMN {quoted(name)} VARCHAR")
    con.execute(f"INSERT INTO t (id, {quoted(name)}) VALUES (1, 'v')")
    assert con.execute(f"SELECT {quoted(name)} FROM t").fetchall() == [("v",)]
    assert [r[0] for r in con.execute("DESCRIBE t").fetchall()] == ["id", name]
    assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)  # the table is still there
