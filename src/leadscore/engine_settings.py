"""Where a workspace scores: the ``engine`` and the ``spark:`` / ``postgres:`` sections of leadscore.yml.

leadscore scores on embedded DuckDB by default. A team whose data lives in a lake or in its own
Postgres names that engine instead, and says where the data is and where results go::

    engine: spark                  # or duckdb (the default), or postgres
    spark:
      master: local[*]             # or spark://host:7077, yarn, k8s://...
      source: lake                 # contacts/ events/ deals/ as Parquet (``leadscore export data``)
      events: {table: crm.events}  # one table from elsewhere: the session's catalog, or Iceberg
      output: lake/leadscore       # Iceberg tables: scores, score_history, tier_crossings
    postgres:
      dsn: ${LEADSCORE_PG_DSN}     # read from the environment when a run connects
      contacts: crm.contacts       # the user's tables or views
      events: crm.events
      schema: leadscore            # where leadscore_scores and leadscore_score_history go

``engine`` also takes the old mapping form (``engine: {memory_limit: 2GB, threads: 4}``, DuckDB's
settings) with an optional ``name``. Paths are relative to the workspace. Everything is checked
when leadscore.yml is read, like a model file: unknown keys are errors.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from leadscore.errors import WorkspaceError

EngineName = Literal["duckdb", "spark", "postgres"]
ENGINES: tuple[str, ...] = ("duckdb", "spark", "postgres")
#: The tables a source provides, in the layout ``leadscore export data`` writes.
SOURCE_TABLES: tuple[str, ...] = ("contacts", "events", "deals")

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class EngineSettings(BaseModel):
    """``engine:``: which engine scores (``name``) and DuckDB's own limits."""

    model_config = ConfigDict(extra="forbid")
    name: EngineName = Field(default="duckdb", description="duckdb, spark or postgres")
    memory_limit: str | None = Field(default=None, description="DuckDB memory limit, e.g. 2GB")
    threads: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``engine: spark`` is ``engine: {name: spark}``."""
        return {"name": data} if isinstance(data, str) else data


class TableRef(BaseModel):
    """One source table: a Parquet directory, a table of the Spark session's catalog, or an
    Iceberg table (read through ``pyiceberg`` with the given catalog properties)."""

    model_config = ConfigDict(extra="forbid")
    parquet: str | None = Field(default=None, description="a directory (or file) of Parquet files")
    table: str | None = Field(default=None, description="a table in the Spark session's catalog, e.g. crm.events")
    iceberg: str | None = Field(default=None, description="an Iceberg table name, e.g. crm.events")
    catalog: dict[str, str] | None = Field(
        default=None, description="pyiceberg catalog properties for `iceberg` (its `name` too: a SQL catalog "
                                  "keeps tables per catalog name)")

    @model_validator(mode="before")
    @classmethod
    def _path(cls, data: Any) -> Any:
        """A bare string is a Parquet directory."""
        return {"parquet": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one(self) -> TableRef:
        given = [k for k in ("parquet", "table", "iceberg") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of `parquet`, `table` or `iceberg`")
        if self.catalog is not None and self.iceberg is None:
            raise ValueError("`catalog` goes with `iceberg`")
        return self


def _spark_text(value: Any) -> Any:
    """A Spark setting as Spark takes it: YAML's ``4``, ``0.6`` and ``true`` are ``"4"``, ``"0.6"``, ``"true"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


SparkValue = Annotated[str, BeforeValidator(_spark_text)]


class SparkSettings(BaseModel):
    """``spark:``: the session, where the data is, and the Iceberg output."""

    model_config = ConfigDict(extra="forbid")
    master: str = Field(default="local[*]", description="Spark master URL")
    source: str | None = Field(default=None, description="a directory with contacts/, events/, deals/ (Parquet)")
    contacts: TableRef | None = None
    events: TableRef | None = None
    deals: TableRef | None = None
    companies: TableRef | None = None
    property_history: TableRef | None = Field(
        default=None, description="contact property changes (contact_id, property, old_value, new_value, "
                                  "changed_at); default: source/property_history/ when it exists")
    company_property_history: TableRef | None = Field(
        default=None, description="company property changes (company_id, property, old_value, new_value, "
                                  "changed_at); default: source/company_property_history/ when it exists")
    output: str | None = Field(default=None, description="Iceberg warehouse directory for the results")
    output_catalog: dict[str, str] | None = Field(
        default=None, description="pyiceberg catalog properties for the output (default: a SQL catalog in output/)")
    namespace: str = Field(default="leadscore", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    conf: dict[str, SparkValue] = Field(default_factory=dict, description="extra Spark settings")

    def table(self, name: str, root: Path) -> TableRef:
        """Where source table ``name`` is: its own entry, else ``source/name`` (Parquet)."""
        ref: TableRef | None = getattr(self, name)
        if ref is not None:
            return ref.model_copy(update={"parquet": resolve(root, ref.parquet)}) if ref.parquet else ref
        if self.source is None:
            raise WorkspaceError(
                f"engine spark: where are the {name}? set `spark.source` in leadscore.yml "
                f"(a directory written by `leadscore export data`) or pass --source DIR")
        return TableRef(parquet=resolve(root, self.source).rstrip("/") + "/" + name)

    def history_table(self, root: Path, name: str = "property_history") -> TableRef | None:
        """Where the property history is: ``property_history`` when set, else the source's
        ``property_history/`` directory when it exists (``export data`` writes it), else None: no
        change is recorded, so every property's value is assumed since the contact's creation.
        ``name="company_property_history"``: the companies' one, by the same rule."""
        if getattr(self, name) is not None:
            return self.table(name, root)
        if self.source is None:
            return None
        where = resolve(root, self.source).rstrip("/") + "/" + name
        return TableRef(parquet=where) if "://" in where or Path(where).is_dir() else None

    def output_dir(self, root: Path) -> str:
        if self.output is None:
            raise WorkspaceError("engine spark: where do results go? set `spark.output` in leadscore.yml "
                                 "or pass --output DIR")
        return resolve(root, self.output)


class PostgresSettings(BaseModel):
    """``postgres:``: the database (DSN from the environment), the user's tables, the output schema."""

    model_config = ConfigDict(extra="forbid")
    dsn: str = Field(default="${LEADSCORE_PG_DSN}", description="libpq DSN; ${VAR} is read from the environment")
    contacts: str = "contacts"
    events: str = "events"
    deals: str = "deals"
    companies: str = Field(default="companies", description="the companies account models score")
    property_history: str | None = Field(
        default=None, description="a table or view of contact property changes (contact_id, property, old_value, "
                                  "new_value, changed_at); none: every value is assumed since creation")
    company_property_history: str | None = Field(
        default=None, description="a table or view of company property changes (company_id, property, old_value, "
                                  "new_value, changed_at); none: every value is assumed since creation")
    schema_: str = Field(default="leadscore", alias="schema", description="where leadscore writes its tables")

    def resolved_dsn(self) -> str:
        """The DSN with ``${VAR}`` filled from the environment at connect time (never stored)."""
        def fill(m: re.Match[str]) -> str:
            value = os.environ.get(m.group(1))
            if value is None:
                raise WorkspaceError(f"engine postgres: the environment variable {m.group(1)} (postgres.dsn) "
                                     "is not set; e.g. export LEADSCORE_PG_DSN='host=db dbname=crm user=leadscore'")
            return value
        return _ENV.sub(fill, self.dsn)


def resolve(root: Path, path: str) -> str:
    """A path from leadscore.yml relative to the workspace; URIs (``s3://``...) stay as they are."""
    if "://" in path:
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (root / p))
