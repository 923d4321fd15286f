"""A company domain is normalised the same way by the importer's SQL and the API's Python."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.storage.companies import normalize_domain, normalize_domain_sql

PARTS = st.sampled_from(["", " ", "http://", "HTTPS://", "ftp+x://", "www.", "WWW.", "Acme", "acme", ".io",
                         ".COM", "/about", "?q=1", "#top", ":8080", "@", "ann@", "Σ", "ß", ".", "..", "\t", "x"])


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.lists(PARTS, max_size=7).map("".join), st.text(max_size=20)))
def test_sql_and_python_agree(con: duckdb.DuckDBPyConnection, value: str) -> None:
    sql = con.execute(f"SELECT {normalize_domain_sql('$v')}", {"v": value}).fetchone()
    assert sql is not None and sql[0] == normalize_domain(value), repr(value)


@pytest.mark.parametrize(("raw", "stored"), [
    ("https://www.Acme.com/about", "acme.com"), ("acme.com", "acme.com"), ("@acme.com", "acme.com"),
    ("acme.com:443", "acme.com"), ("www.", None), ("  ", None), ("Sub.Acme.co.uk.", "sub.acme.co.uk")])
def test_examples(raw: str, stored: str | None) -> None:
    assert normalize_domain(raw) == stored
