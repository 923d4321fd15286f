"""The SQL and Python forms of the identity rules (``storage/identity.py``) agree on generated input.

The importer runs the SQL forms over files; the API runs the Python forms on requests. One
hypothesis test draws a "file" of events — which of ``contact_id`` / ``email`` it has, property
columns of every type the importer and the API store (VARCHAR, BIGINT, DOUBLE, BOOLEAN,
TIMESTAMP), rows with NULLs, e-mails in mixed case, with spaces and tabs, non-ASCII (final sigma,
dotted capital I, ß, ligatures) — stores it in DuckDB with those types, runs the SQL forms there,
and requires every e-mail key, contact id and generated id to equal the Python form's, exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.storage.identity import (
    DEAL_ID_PREFIX,
    EVENT_ID_PREFIX,
    email_contact_id,
    email_contact_id_sql,
    email_key,
    email_key_sql,
    generated_id,
    generated_id_sql,
    owner,
    owner_sql,
)

#: text the API and the importer can store: any code point but NUL and lone surrogates
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
TRICKY = st.sampled_from(["Σ", "ΣΟΦΙΑΣ", "ς", "İ", "I", "ß", "ẞ", "ﬁ", "Ǆ", "K", "Å", "é", "ÉCOLE",
                          "ǅ", "ɐ", "Ⱥ", " ", "\t", "A", "z", ".", "+", "'"])
PART = st.lists(st.one_of(TRICKY, TEXT), min_size=1, max_size=4).map("".join)
EMAILS = st.builds(lambda pad1, local, domain, pad2: f"{pad1}{local}@{domain}{pad2}",
                   st.sampled_from(["", " ", "  ", "\t"]), PART, PART, st.sampled_from(["", " ", "  ", "\n"]))
TIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31, 23, 59, 59, 999999))

#: property columns by DuckDB type, with the Python values the API stores in them
COLUMN_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "VARCHAR": TEXT,
    "BIGINT": st.integers(-(2**63), 2**63 - 1),
    "DOUBLE": st.floats(allow_nan=False, allow_infinity=False),
    "BOOLEAN": st.booleans(),
    "TIMESTAMP": TIMES,
}
NAMES = st.sampled_from(["url", "campaign", "a", "Z", "value", "zz_last", "Ünïcode", "with space"])


@st.composite
def files(draw: st.DrawFn) -> tuple[str, bool, bool, dict[str, str], list[dict[str, Any]]]:
    """(id prefix, has contact_id, has email, property columns → DuckDB type, rows)."""
    has_contact, has_email = draw(st.sampled_from([(True, True), (True, False), (False, True)]))
    columns = draw(st.dictionaries(NAMES, st.sampled_from(sorted(COLUMN_VALUES)), max_size=5))
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        row: dict[str, Any] = {
            "contact_id": draw(st.none() | TEXT) if has_contact else None,
            "email": draw(st.none() | EMAILS) if has_email else None,
            "type": draw(TEXT.filter(bool)),
            "occurred_at": draw(TIMES),
        }
        for name, duck_type in columns.items():
            row[name] = draw(st.none() | COLUMN_VALUES[duck_type])
        rows.append(row)
    return draw(st.sampled_from([EVENT_ID_PREFIX, DEAL_ID_PREFIX])), has_contact, has_email, columns, rows


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@settings(max_examples=300, deadline=None)
@given(file=files())
def test_sql_and_python_identity_rules_agree(
        con: duckdb.DuckDBPyConnection, file: tuple[str, bool, bool, dict[str, str], list[dict[str, Any]]]) -> None:
    prefix, has_contact, has_email, columns, rows = file
    stored = {"type": "VARCHAR", "occurred_at": "TIMESTAMP", **columns}  # what the id hashes
    schema = {"i": "INTEGER", "contact_id": "VARCHAR", "email": "VARCHAR", **stored}
    con.execute(f"CREATE OR REPLACE TEMP TABLE f ({', '.join(f'{_quoted(n)} {t}' for n, t in schema.items())})")
    con.executemany(f"INSERT INTO f VALUES ({', '.join('?' * len(schema))})",
                    [[i] + [row[name] for name in list(schema)[1:]] for i, row in enumerate(rows)])

    by = owner_sql("contact_id" if has_contact else None, "email" if has_email else None)
    generated = generated_id_sql(prefix, by, {name: _quoted(name) for name in stored})
    sql_rows = con.execute(f"SELECT {email_key_sql('email')}, {email_contact_id_sql('email')}, {generated} "
                           "FROM f ORDER BY i").fetchall()

    for row, (sql_key, sql_contact, sql_id) in zip(rows, sql_rows, strict=True):
        email = row["email"]
        assert (email_key(email) if email is not None else None) == sql_key, repr(email)
        assert (email_contact_id(email) if email is not None else None) == sql_contact, repr(email)
        values = {name: row[name] for name in stored}
        assert generated_id(prefix, owner(row["contact_id"], email), values) == sql_id, row


def test_python_trim_is_duckdb_trim_for_every_code_point() -> None:
    """DuckDB's trim removes the Unicode space separators (U+00A0, U+3000, ...), not only ' '; a
    Python side that stripped only spaces split contacts on a no-break space."""
    import duckdb
    import pyarrow as pa

    from leadscore.storage.identity import SPACE_SEPARATORS

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    con = duckdb.connect()
    con.register("chars", pa.table({"c": chars}))
    trimmed = {row[0] for row in con.execute("SELECT c FROM chars WHERE trim('x' || c || 'x' || c) = 'x' || c || 'x'"
                                             ).fetchall()}
    assert trimmed == set(SPACE_SEPARATORS)
