"""``storage/types.py`` classifies DuckDB type names for the model, the importer and the API alike.

The names are the ones DuckDB itself reports for real columns (``duckdb_columns()``), so a DuckDB
upgrade that renames a type shows up here, and each alias is checked against the name DuckDB
gives its column.
"""

from __future__ import annotations

import duckdb
import pytest

from leadscore.api.values import coerce
from leadscore.ingest.coerce import inferred_type_of_typed
from leadscore.storage.store import Store
from leadscore.storage.types import is_floating_point, is_zoned_timestamp, logical_type, type_kind

#: DDL type → the kind of value its column holds
DECLARED = {
    "BIGINT": "integer", "INTEGER": "integer", "SMALLINT": "integer", "TINYINT": "integer",
    "HUGEINT": "integer", "UBIGINT": "integer", "UINTEGER": "integer", "USMALLINT": "integer",
    "UTINYINT": "integer", "UHUGEINT": "integer",
    "DOUBLE": "float", "FLOAT": "float", "DECIMAL(18,3)": "float", "DECIMAL(4,1)": "float",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp", "TIMESTAMP_NS": "timestamp", "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp", "TIMESTAMPTZ": "timestamp", "DATE": "timestamp",
    "VARCHAR": "string",
    "BLOB": "other", "UUID": "other", "TIME": "other", "INTERVAL": "other", "INTEGER[]": "other",
    "VARCHAR[]": "other", "STRUCT(a INTEGER)": "other", "MAP(VARCHAR, INTEGER)": "other",
    "ENUM('a', 'b')": "other", "BIT": "other",
}

UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"

ALIASES = ["INT", "INT1", "INT2", "INT4", "INT8", "LONG", "SHORT", "SIGNED", "FLOAT4", "FLOAT8", "REAL",
           "NUMERIC", "NUMERIC(10,2)", "DECIMAL", "BOOL", "LOGICAL", "TEXT", "STRING", "CHAR", "BPCHAR",
           "VARCHAR(10)", "DATETIME", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_US"]


def _reported(declared: list[str]) -> dict[str, str]:
    """The type name DuckDB reports for a column declared with each of ``declared``."""
    con = duckdb.connect()
    columns = ", ".join(f'"c{i}" {t}' for i, t in enumerate(declared))
    con.execute(f"CREATE TABLE t ({columns})")
    rows = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 't'").fetchall()
    con.close()
    return {declared[int(name[1:])]: data_type for name, data_type in rows}


def test_every_type_duckdb_reports_is_classified() -> None:
    reported = _reported(list(DECLARED))
    assert {declared: type_kind(name) for declared, name in reported.items()} == DECLARED


def test_aliases_classify_like_the_type_duckdb_stores() -> None:
    for alias, name in _reported(ALIASES).items():
        assert type_kind(alias) == type_kind(name) != "other", (alias, name)
        assert type_kind(alias.lower()) == type_kind(alias)


def test_logical_types_for_models() -> None:
    numbers = ("UINTEGER", "USMALLINT", "UTINYINT", "DECIMAL(18,3)", "REAL")
    assert {t: logical_type(t) for t in numbers} == dict.fromkeys(numbers, "number")
    assert logical_type("TIMESTAMP_NS") == logical_type("DATE") == "timestamp"
    assert logical_type("BOOLEAN") == "boolean"
    # compared as text: what a model's string operators do with such a column
    assert logical_type("UUID") == logical_type("INTEGER[]") == logical_type("VARCHAR") == "string"


def test_store_columns_use_it() -> None:
    with Store.open(":memory:") as store:
        store.con.execute("ALTER TABLE contacts ADD COLUMN seats USMALLINT")
        store.con.execute("ALTER TABLE contacts ADD COLUMN budget DECIMAL(12,2)")
        columns = store.columns("contacts")
    assert columns["seats"] == columns["budget"] == columns["company_size"] == "number"


@pytest.mark.parametrize(("duck_type", "value", "stored"), [
    ("USMALLINT", 7, 7), ("UBIGINT", 7.0, 7), ("DECIMAL(12,2)", 3, 3.0), ("REAL", 1.5, 1.5),
    ("BOOLEAN", True, True), ("UUID", UUID, UUID), ("VARCHAR", 12, "12"),
])
def test_api_values_follow_the_kind(duck_type: str, value: object, stored: object) -> None:
    assert coerce(value, duck_type) == stored and type(coerce(value, duck_type)) is type(stored)


@pytest.mark.parametrize("duck_type", ["USMALLINT", "DECIMAL(12,2)", "BOOLEAN", "TIMESTAMP_NS"])
def test_api_refuses_text_for_typed_columns(duck_type: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        coerce("many", duck_type)


def test_importer_column_types_from_typed_sources() -> None:
    assert {t: inferred_type_of_typed(t) for t in ("UTINYINT", "DECIMAL(9,2)", "TIMESTAMP_MS", "BOOLEAN",
                                                   "UUID", "VARCHAR")} == {
        "UTINYINT": "BIGINT", "DECIMAL(9,2)": "DOUBLE", "TIMESTAMP_MS": "TIMESTAMP", "BOOLEAN": "BOOLEAN",
        "UUID": "VARCHAR", "VARCHAR": "VARCHAR"}


def test_special_values_and_zones() -> None:
    assert is_floating_point("DOUBLE") and is_floating_point("float") and not is_floating_point("DECIMAL(18,3)")
    assert is_zoned_timestamp("TIMESTAMP WITH TIME ZONE") and is_zoned_timestamp("timestamptz")
    assert not is_zoned_timestamp("TIMESTAMP")
