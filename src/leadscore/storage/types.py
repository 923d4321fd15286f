"""What kind of value a DuckDB column holds: the one classification of DuckDB type names.

Three layers ask it: model validation and the compiler (which operators a property takes: its
``logical_type``), the importer (how a file's column becomes a stored one) and the API (what a
request's value must be). They used to carry a classifier each, and the three disagreed at the
edges (``UINTEGER`` was a number for the importer and text for model validation), so a column
could be numeric for one layer and text for another. Every caller now goes through
``type_kind``::

    >>> type_kind("BIGINT"), type_kind("DECIMAL(18,3)"), type_kind("TIMESTAMP WITH TIME ZONE")
    ('integer', 'float', 'timestamp')
    >>> type_kind("VARCHAR[]"), logical_type("UBIGINT"), logical_type("UUID")
    ('other', 'number', 'string')

Type names are as DuckDB reports them (``DESCRIBE``, ``duckdb_columns()``), in any case; the common
aliases DuckDB accepts in DDL (``INT8``, ``FLOAT8``, ``TEXT``, ``TIMESTAMPTZ``, ...) classify like
the names they stand for.
"""

from __future__ import annotations

from typing import Literal

TypeKind = Literal["integer", "float", "boolean", "timestamp", "string", "other"]

INTEGER_TYPES = frozenset({
    "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT",
    "UTINYINT", "UHUGEINT", "INT", "INT1", "INT2", "INT4", "INT8", "LONG", "SHORT", "SIGNED",
})
#: Binary floating point: the types that can hold NaN and infinities (DECIMAL cannot).
FLOATING_POINT_TYPES = frozenset({"DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8"})
BOOLEAN_TYPES = frozenset({"BOOLEAN", "BOOL", "LOGICAL"})
#: Instants with a zone: their values name a moment, whatever the session's time zone.
ZONED_TIMESTAMP_TYPES = frozenset({"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"})
TIMESTAMP_TYPES = frozenset({"TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP_US",
                             "DATETIME", "DATE"}) | ZONED_TIMESTAMP_TYPES
STRING_TYPES = frozenset({"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR"})

_LOGICAL: dict[TypeKind, str] = {
    "integer": "number", "float": "number", "boolean": "boolean", "timestamp": "timestamp",
    "string": "string", "other": "string",
}


def _parameterised(upper: str, names: tuple[str, ...]) -> bool:
    """``DECIMAL(18,3)``, ``VARCHAR(20)``: a base name with a parenthesised width."""
    return any(upper.startswith(name + "(") and upper.endswith(")") for name in names)


def type_kind(duckdb_type: str) -> TypeKind:
    """integer / float / boolean / timestamp / string / other, for a DuckDB type name.

    DECIMAL is ``float`` (its values are numbers with a fraction); lists, structs, maps, BLOB,
    UUID, TIME, INTERVAL, JSON and ENUMs are ``other``: no scoring operator reads them as what
    they are, and the importer and the API handle them as text.
    """
    upper = duckdb_type.strip().upper()
    if upper in INTEGER_TYPES:
        return "integer"
    if upper in FLOATING_POINT_TYPES or upper in ("DECIMAL", "NUMERIC") or _parameterised(
            upper, ("DECIMAL", "NUMERIC")):
        return "float"
    if upper in BOOLEAN_TYPES:
        return "boolean"
    if upper in TIMESTAMP_TYPES:
        return "timestamp"
    if upper in STRING_TYPES or _parameterised(upper, ("VARCHAR", "CHAR")):
        return "string"
    return "other"


def logical_type(duckdb_type: str) -> str:
    """string / number / boolean / timestamp: the type a model's condition sees (docs/model-reference.md).

    Integers and fractions are one ``number``; a column of another kind (``other``) is compared
    as text.
    """
    return _LOGICAL[type_kind(duckdb_type)]


def is_floating_point(duckdb_type: str) -> bool:
    """Whether the type can hold NaN or an infinity (DOUBLE, FLOAT; not DECIMAL)."""
    return duckdb_type.strip().upper() in FLOATING_POINT_TYPES


def is_zoned_timestamp(duckdb_type: str) -> bool:
    """Whether values of the type are instants with a zone (``TIMESTAMP WITH TIME ZONE``)."""
    return duckdb_type.strip().upper() in ZONED_TIMESTAMP_TYPES
