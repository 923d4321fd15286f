"""``textfold.sql_lower`` is DuckDB's ``lower`` for every code point (the API's e-mail keys rely on it)."""

from __future__ import annotations

import duckdb

from leadscore.storage.identity import email_key
from leadscore.textfold import sql_lower


def test_sql_lower_is_duckdb_lower_for_every_code_point() -> None:
    chars = [chr(c) for c in range(0x20, 0x30000) if not 0xD800 <= c <= 0xDFFF]
    rows = duckdb.connect().execute("SELECT c, lower(c) FROM unnest($c) t(c)", {"c": chars}).fetchall()
    differ = [(hex(ord(c)), lowered, sql_lower(c)) for c, lowered in rows if lowered != sql_lower(c)]
    assert differ == []


def test_words_and_email_keys_fold_like_duckdb() -> None:
    con = duckdb.connect()
    for text in ("ΟΔΟΣ", " ΣΟΦΙΑΣ@Example.io ", "İnan@x.io", "Ann@ACME.com", "\tx@y.io "):
        row = con.execute("SELECT lower(trim(?))", [text]).fetchone()
        assert row is not None and email_key(text) == row[0], text
