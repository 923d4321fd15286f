"""The Spark engine's inputs: a session set up as compiled models need, and the source tables as views.

A source table is a Parquet directory (the layout of ``leadscore export data``), a table of the
session's catalog (Hive, Unity, Glue, a Delta table registered there...), or an Iceberg table
read through ``pyiceberg`` (its current data files; tables with row-level deletes are refused
rather than read wrongly). Each becomes a temporary view ``ls_src_<name>`` whose columns have the
types the compiled SQL expects:

* every timestamp is Spark's ``TIMESTAMP`` read in UTC: Parquet written by DuckDB holds naive
  timestamps, which Spark reads as ``TIMESTAMP_NTZ``; they are cast with the session zone set to
  UTC, so the instant is the one the store holds. Dates become midnight UTC, as in DuckDB;
* integers and fractions stay numbers, booleans booleans, strings strings; any other column
  (arrays, maps, binary) is cast to text, as the store treats such columns.

pyspark is imported on first use (``pip install 'leadscore[spark]'``, Java 17+).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from leadscore.engine_settings import TableRef
from leadscore.errors import BackendError, first_line

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Settings every leadscore session has: UTC everywhere, Parquet timestamps other readers read.
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
#: Settings fixed per session after start-up (re-applied to a session that was already running).
RUNTIME_CONF = ("spark.sql.session.timeZone", "spark.sql.parquet.outputTimestampType")


def spark_session(master: str = "local[*]", conf: Mapping[str, str] | None = None,
                  app_name: str = "leadscore") -> SparkSession:
    """A Spark session for compiled models (UTC, Parquet micros), on ``master``.

    Spark allows one session per JVM: a session already running in this process is reused, with
    the runtime settings applied again; start-up settings (master, memory) stay as it started.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise BackendError("engine spark needs pyspark: pip install 'leadscore[spark]' (and Java 17+)") from exc
    settings = dict(SESSION_CONF)
    if master.startswith("local"):  # a few cores: Spark's 200 shuffle partitions are mostly overhead
        settings["spark.sql.shuffle.partitions"] = "8"
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # no Java, a bad master URL: say so in one line
        raise BackendError(f"could not start Spark ({master}): {first_line(exc, 300)}") from exc
    for key in RUNTIME_CONF:
        session.conf.set(key, settings[key])
    session.sparkContext.setLogLevel("ERROR")
    return session


@dataclass(frozen=True)
class SourceTable:
    """A source registered as a view: its name in SQL and its columns' logical types."""

    view: str
    logical: dict[str, str]


def register_source(spark: SparkSession, name: str, ref: TableRef) -> SourceTable:
    """Make source table ``name`` the view ``ls_src_<name>`` with normalised column types."""
    frame = _read(spark, name, ref)
    view = f"ls_src_{name}"
    selects, logical = [], {}
    for field in frame.schema.fields:
        kind = _kind(field.dataType.typeName())
        quoted = "`" + field.name.replace("`", "``") + "`"
        if kind == "timestamp":
            selects.append(f"CAST({quoted} AS TIMESTAMP) AS {quoted}")
        elif kind == "other":
            selects.append(f"CAST({quoted} AS STRING) AS {quoted}")
            kind = "string"
        else:
            selects.append(quoted)
        logical[field.name] = kind
    frame.selectExpr(*selects).createOrReplaceTempView(view)
    return SourceTable(view, logical)


def _read(spark: SparkSession, name: str, ref: TableRef) -> DataFrame:
    try:
        if ref.parquet is not None:
            return spark.read.parquet(ref.parquet)
        if ref.table is not None:
            return spark.table(ref.table)
        assert ref.iceberg is not None
        return _read_iceberg(spark, ref.iceberg, ref.catalog or {})
    except BackendError:
        raise
    except Exception as exc:  # a missing path or table: name the table and the place
        where = ref.parquet or ref.table or ref.iceberg
        raise BackendError(f"engine spark: cannot read the {name} at {where}: "
                           f"{first_line(exc, 300)}") from exc


def _read_iceberg(spark: SparkSession, table: str, properties: Mapping[str, str]) -> DataFrame:
    """An Iceberg table's current snapshot as a DataFrame over its data files (pyiceberg plans)."""
    from pyiceberg.catalog import load_catalog

    props = dict(properties)
    catalog = load_catalog(props.pop("name", "source"), **props)
    tbl = catalog.load_table(table)
    tasks = list(tbl.scan().plan_files())
    if any(task.delete_files for task in tasks):
        raise BackendError(f"engine spark: the Iceberg table {table} has row-level deletes; compact it "
                           "(rewrite_data_files) or register it in the session's catalog and use `table:`")
    if not tasks:
        from pyiceberg.io.pyarrow import schema_to_pyarrow
        from pyspark.sql.pandas.types import from_arrow_schema

        return spark.createDataFrame([], schema=from_arrow_schema(schema_to_pyarrow(tbl.schema())))
    return spark.read.parquet(*[task.file.file_path for task in tasks])


def parquet_columns(path: str) -> dict[str, str]:
    """Logical column types of a Parquet table read from its files' schema (no Spark session: this
    is what ``leadscore validate`` asks, and it must answer in a second). The mapping is the one
    ``register_source`` applies to Spark's types."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        schema = ds.dataset(path, format="parquet").schema
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        raise BackendError(f"engine spark: cannot read the Parquet files at {path}: {exc}") from exc
    out = {}
    for f in schema:
        t = f.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            out[f.name] = "string"
        elif pa.types.is_boolean(t):
            out[f.name] = "boolean"
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            out[f.name] = "number"
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            out[f.name] = "timestamp"
        else:
            out[f.name] = "string"
    return out


def parquet_event_types(path: str) -> list[str]:
    """The distinct event types in a Parquet events table (DuckDB reads the files; no Spark)."""
    import duckdb
    import pyarrow.dataset as ds

    con = duckdb.connect()
    con.register("ls_events", ds.dataset(path, format="parquet").to_table(columns=["type"]))
    return [str(r[0]) for r in con.execute("SELECT DISTINCT type FROM ls_events WHERE type IS NOT NULL ORDER BY 1")
            .fetchall()]


_LOGICAL = {
    "string": "string", "varchar": "string", "char": "string", "boolean": "boolean",
    "byte": "number", "short": "number", "integer": "number", "long": "number", "float": "number",
    "double": "number", "decimal": "number", "timestamp": "timestamp", "timestamp_ntz": "timestamp",
    "date": "timestamp",
}


def _kind(type_name: str) -> str:
    return _LOGICAL.get(type_name, "other")
