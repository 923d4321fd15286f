"""Running a compiled model on Apache Spark: a session, the tables it reads, and the query.

The compiler renders one model as Spark SQL (``leadscore compile --dialect spark``); this module is
what executes that text on a real Spark session, so that the claim "the SQL runs in your
warehouse" is tested rather than asserted. The differential test runs every generated model
on a local session and compares each row with the pure-Python reference scorer.

Two rules make Spark compute exactly what DuckDB does (docs/model-reference.md):

* **Time is UTC, and timestamps cross as numbers.** The session time zone is UTC, and a naive
  timestamp (UTC by leadscore's convention) reaches Spark as epoch microseconds turned into a
  ``TIMESTAMP`` by ``timestamp_micros`` in Spark itself, never through the Python process's local
  time zone (PySpark converts a naive ``datetime`` with ``time.mktime``).
* **Column types follow the store's.** A ``DOUBLE`` column is ``DOUBLE`` on both sides, so a
  comparison like ``company_size BETWEEN 50 AND 1000`` means the same thing.

pyspark is imported on first use: it is an optional dependency (``pip install leadscore[spark]``)
and needs a Java runtime (17 or newer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from leadscore.errors import BackendError, first_line
from leadscore.timeutil import epoch_micros

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: DuckDB column type (as the store reports it) → Spark SQL type.
_SPARK_TYPES = {
    "VARCHAR": "STRING", "DOUBLE": "DOUBLE", "FLOAT": "DOUBLE", "BIGINT": "BIGINT", "INTEGER": "BIGINT",
    "SMALLINT": "BIGINT", "TINYINT": "BIGINT", "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMP", "DATE": "DATE", "JSON": "STRING",
}


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type holding a store column's values."""
    t = duckdb_type.upper()
    if t.startswith("DECIMAL"):
        return t
    try:
        return _SPARK_TYPES[t]
    except KeyError:
        raise BackendError(f"a column of type {duckdb_type} has no Spark counterpart in leadscore") from None


def local_session(app_name: str = "leadscore", *, cores: int | str = "*") -> SparkSession:
    """A local Spark session set up as leadscore's SQL expects (UTC; no UI; few shuffle partitions).

    A session already running in this process is reused (Spark allows one per JVM): its session
    time zone is set to UTC again, but settings fixed at start-up (``cores``, the JVM options)
    stay as that session was started.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise BackendError("Spark needs pyspark: pip install 'leadscore[spark]' (and Java 17+)") from exc
    session = (SparkSession.builder.master(f"local[{cores}]").appName(app_name)
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
               .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
               .getOrCreate())
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.sparkContext.setLogLevel("ERROR")
    return session


def register_rows(spark: SparkSession, name: str, columns: Mapping[str, str],
                  rows: Iterable[Mapping[str, Any]]) -> None:
    """Make ``rows`` (dicts keyed by column) the temporary view ``name`` with the store's types.

    ``columns`` maps each column to its DuckDB type (``Store.column_types``); a row missing a
    column has NULL there. Timestamps travel as epoch microseconds (see the module docstring).
    """
    from pyspark.sql.types import LongType, StructField, StructType, _parse_datatype_string

    kinds = {col: spark_type(duckdb_type) for col, duckdb_type in columns.items()}  # once a column
    fields = []
    select = []
    for col, kind in kinds.items():
        quoted = "`" + col.replace("`", "``") + "`"
        if kind == "TIMESTAMP":
            fields.append(StructField(col, LongType(), True))
            select.append(f"timestamp_micros({quoted}) AS {quoted}")
        else:
            fields.append(StructField(col, _parse_datatype_string(kind), True))
            select.append(quoted)
    data = [tuple(_spark_value(row.get(col), col, columns[col], kind) for col, kind in kinds.items())
            for row in rows]
    try:
        frame = spark.createDataFrame(data, StructType(fields))
        frame.selectExpr(*select).createOrReplaceTempView(name)
    except Exception as exc:  # PySparkTypeError and friends: name the table, not a JVM trace
        raise BackendError(f"Spark refused the rows of `{name}`: {first_line(exc, 300)}") from exc


def _spark_value(value: Any, column: str, duckdb_type: str, kind: str) -> Any:
    """A Python value as Spark takes it for the column's type (``kind``, its Spark type), cast as
    DuckDB would cast it."""
    if value is None:
        return None
    try:
        if kind == "TIMESTAMP":
            if not isinstance(value, datetime):
                raise TypeError("not a timestamp")
            return epoch_micros(value)
        if kind == "DOUBLE":
            return float(value)
        if kind == "BIGINT":
            if isinstance(value, float) and not value.is_integer():
                raise TypeError("not a whole number")
            return int(value)
        if kind == "BOOLEAN" and not isinstance(value, bool):
            raise TypeError("not true/false")
        if kind == "STRING" and not isinstance(value, str):
            return str(value)
    except (TypeError, ValueError) as exc:
        raise BackendError(f"column `{column}` ({duckdb_type}): cannot take {value!r} ({exc})") from exc
    return value


def run_sql(spark: SparkSession, sql: str) -> list[dict[str, Any]]:
    """Run one query and return its rows as dicts (column order kept)."""
    try:
        return [row.asDict() for row in spark.sql(sql).collect()]
    except Exception as exc:  # py4j / Spark analysis errors carry the reason in their text
        raise BackendError(f"Spark refused the query: {first_line(exc, 500)}") from exc
