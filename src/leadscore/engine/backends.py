"""Scoring outside the store: what every external engine (Spark, Postgres) provides, and how its runs
join the workspace.

``leadscore.scoring`` runs a model on an external engine through a ``Backend``: the engine runs
the compiled query where the data lives and writes scores, history and crossings there (atomically,
in its own way), then returns a ``RunRecord``. The workspace store then records the run
(``score_runs``, with the engine and the location) and fires the workflows with the same
``WorkflowHook`` DuckDB runs use: the backend ``pull``s the rows some workflow trigger holds for
(usually the tier crossings, a small fraction of the base) with those contacts' rows, and
``record_external_run`` puts them in the store's transaction as the temporary tables ``_run``,
``contacts`` and ``events`` — the names the hook's SQL reads, shadowing the store's own tables for
that moment — so crossings, ``if:`` conditions, cooldowns, templates and the outbox behave exactly
as with DuckDB.

Two systems cannot commit together, so the order is: the engine commits, then the store. A run
committed by the engine but not recorded by the store (a crash in between) is found by
``Backend.unrecorded`` at the next run and recorded then, its workflows fired then.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from leadscore.engine.run import OnWritten, RunContext, RunResult
from leadscore.engine_settings import ENGINES
from leadscore.errors import WorkspaceError
from leadscore.storage.store import ModelVersion, Store
from leadscore.timeutil import utcnow

if TYPE_CHECKING:
    import pyarrow as pa

    from leadscore.model.account_spec import AccountModel
    from leadscore.model.spec import ScoringModel
    from leadscore.workspace import Workspace

#: Columns of a run's rows, as the store's ``_run`` table has them (see ``engine.run.RunContext``).
RUN_COLUMNS = ("contact_id", "score", "tier", "grade", "groups", "prev_score", "prev_tier")


@dataclass
class RunRecord:
    """What an engine committed for one run of one model version."""

    run_id: str
    model: str
    model_version: int
    as_of: datetime
    computed_at: datetime
    contacts: int
    changed: int
    crossings: int
    #: contacts that had a score before this run (0: the model's baseline run, which fires nothing)
    previous: int
    tier_counts: dict[str, int] = field(default_factory=dict)
    #: the workspace store that ran it (``store_identity``): another store never records it
    store_id: str = ""
    seconds: float = 0.0
    #: what the run scored: ``contact``, or ``account`` (companies; keyed by company_id)
    level: str = "contact"


@dataclass(frozen=True)
class Pull:
    """What the workflows need back from a run: the rows for which ``predicate`` holds (SQL over
    the run's columns as ``r``, with DuckDB-style ``$name`` parameters), those contacts' rows, and
    their events when an ``if:`` condition reads events."""

    predicate: str
    params: dict[str, Any]
    events: bool


@dataclass
class Pulled:
    """A run's rows that fire workflows, with the contacts (and events) their conditions read; for
    an account model's run, ``contacts`` holds the companies' rows."""

    fired: pa.Table
    contacts: pa.Table
    events: pa.Table | None = None


class Backend(Protocol):
    """An external engine: where the data is, how a model runs there, what it committed."""

    engine: str  # "spark", "postgres"
    dialect: str  # compile_model's dialect
    location: str  # where results go, as recorded in score_runs

    def columns(self, table: str) -> dict[str, str]: ...

    def event_types(self) -> list[str]: ...

    def run_model(self, version: ModelVersion, model: ScoringModel, *, as_of: datetime, run_id: str,
                  computed_at: datetime, store_id: str) -> RunRecord: ...

    def run_account_model(self, version: ModelVersion, model: AccountModel,
                          contact_models: Mapping[str, ScoringModel], *, match_by_domain: bool, as_of: datetime,
                          run_id: str, computed_at: datetime, store_id: str) -> RunRecord: ...

    def unrecorded(self, recorded: set[str], store_id: str) -> list[RunRecord]: ...

    def pull(self, record: RunRecord, pull: Pull) -> Pulled: ...

    def finish(self, record: RunRecord) -> None: ...

    def read_table(self, name: str, model: str | None = None) -> pa.Table: ...

    def read_source(self, name: str) -> pa.Table | None: ...

    def latest_event(self) -> datetime | None: ...

    def frame(self, model: ScoringModel | AccountModel, as_of: datetime, *, contact_id: str | None = None,
              detail: bool = False, contact_models: Mapping[str, ScoringModel] | None = None,
              match_by_domain: bool = False) -> pa.Table: ...

    def close(self) -> None: ...


def frame_types(names: list[str]) -> pa.Schema:
    """The Arrow schema of a compiled query's columns, known from their names (``compile_model``)."""
    import pyarrow as pa

    def kind(name: str) -> pa.DataType:
        if name in ("contact_id", "company_id", "tier", "grade"):
            return pa.string()
        if name.startswith("rf_"):
            return pa.bool_()
        if name.startswith("rn_"):
            return pa.int64()
        return pa.float64()

    return pa.schema([(name, kind(name)) for name in names])


def named_params(predicate: str, style: str) -> str:
    """``$name`` parameters rewritten for an engine: ``:name`` (Spark) or ``%(name)s`` (psycopg)."""
    if style == "spark":
        return re.sub(r"\$([A-Za-z_]\w*)", r":\1", predicate)
    return re.sub(r"\$([A-Za-z_]\w*)", r"%(\1)s", predicate.replace("%", "%%"))


def store_identity(store: Store) -> str:
    """A random id of this workspace store, made on first use: an engine's output names the store
    whose runs it holds, so a run is only ever recorded (and its workflows fired) by that store."""
    row = store.con.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
    if row:
        return str(row[0])
    ident = uuid.uuid4().hex
    with store.transaction() as con:
        con.execute("INSERT INTO meta VALUES ('store_id', ?) ON CONFLICT DO NOTHING", [ident])
    return store_identity(store)


def recorded_runs(store: Store, engine: str) -> set[str]:
    """The runs of this engine the store has recorded, by run id alone: the location (a server's
    address as the connection reached it, an output's absolute path) changes with a socket, a
    failover or a moved workspace, and a run is the same run wherever it was read from (run ids
    are uuid4)."""
    rows = store.con.execute("SELECT run_id FROM score_runs WHERE engine = ?", [engine]).fetchall()
    return {str(r[0]) for r in rows}


def record_external_run(store: Store, backend: Backend, record: RunRecord, version: ModelVersion,
                        model: ScoringModel | AccountModel, pulled: Pulled | None,
                        on_written: OnWritten | None = None) -> RunResult:
    """Record an engine's run in the store and fire its workflows, in one store transaction."""
    con = store.con
    with store.transaction():
        con.execute(
            "INSERT INTO score_runs (run_id, model, model_version, scope, as_of, started_at, finished_at, "
            "contacts, changed, crossings, engine, location) VALUES (?, ?, ?, 'all', ?, ?, ?, ?, ?, ?, ?, ?)",
            [record.run_id, record.model, record.model_version, record.as_of, record.computed_at, utcnow(),
             record.contacts, record.changed, record.crossings, backend.engine, backend.location])
        if on_written is not None and pulled is not None and record.previous and pulled.fired.num_rows:
            _fire(store, record, version, model, pulled, on_written)
    ordered = {name: record.tier_counts.get(name, 0) for name in model.tiers}
    return RunResult(record.run_id, record.model, record.model_version, record.as_of, "all", record.contacts,
                     record.changed, record.crossings, record.seconds, ordered, {}, level=record.level)


def _fire(store: Store, record: RunRecord, version: ModelVersion, model: ScoringModel | AccountModel,
          pulled: Pulled, on_written: OnWritten) -> None:
    """The hook over the pulled rows, as the temporary ``_run`` / ``contacts`` / ``events`` tables;
    for an account model's run, ``_run`` keyed by ``company_id`` and the ``companies`` pulled."""
    con = store.con
    account = record.level == "account"
    key, rows = ("company_id", "companies") if account else ("contact_id", "contacts")
    temps = ("_run", rows) if account else ("_run", "contacts", "events")
    register(con, "_ls_fired", pulled.fired)
    register(con, "_ls_contacts", pulled.contacts)
    try:
        con.execute("DROP TABLE IF EXISTS _run")
        con.execute(f"CREATE TEMP TABLE _run AS SELECT {key}::VARCHAR AS {key}, score::DOUBLE AS score, "
                    "tier::VARCHAR AS tier, grade::VARCHAR AS grade, groups::DOUBLE[] AS groups, "
                    "prev_score::DOUBLE AS prev_score, prev_tier::VARCHAR AS prev_tier FROM _ls_fired")
        con.execute(f"CREATE TEMP TABLE {rows} AS SELECT * FROM _ls_contacts")
        if account:
            pass  # an account workflow reads the companies only (an `if:` is refused off DuckDB: scoring.py)
        elif pulled.events is not None:
            register(con, "_ls_events", pulled.events)
            con.execute("CREATE TEMP TABLE events AS SELECT * FROM _ls_events")
        else:  # no condition reads events: an empty table with the store's columns keeps its rows out
            con.execute("CREATE TEMP TABLE events AS SELECT * FROM main.events LIMIT 0")
        ids = [str(r[0]) for r in con.execute(f"SELECT {key} FROM _run").fetchall()]
        if account:
            ctx = RunContext(record.run_id, version, model, record.as_of, record.computed_at, ids)
        else:
            ctx = RunContext(record.run_id, version, model, record.as_of, record.computed_at, ids,
                             contact_types=_temp_types(store, "contacts"), event_types=_temp_types(store, "events"))
        on_written(con, ctx)
    finally:
        for name in ("_ls_fired", "_ls_contacts", "_ls_events"):
            try:
                con.unregister(name)
            except Exception:  # noqa: BLE001 - not registered (no events pulled)
                pass
    for table in temps:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def register(con: Any, name: str, table: pa.Table) -> None:
    """``con.register`` after finishing any result a ``fetchone`` left open (DuckDB refuses to
    register while one is pending)."""
    con.execute("SELECT 1").fetchall()
    con.register(name, table)


def _temp_types(store: Store, table: str) -> dict[str, str]:
    rows = store.con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'temp' AND table_name = ? "
        "ORDER BY column_index", [table]).fetchall()
    return {str(name): str(kind) for name, kind in rows}



@contextmanager
def shadow_scores(store: Store, backend: Backend, model: str | None = None, *,
                  table: str = "scores") -> Iterator[None]:
    """For the ``with`` block, ``scores`` (or ``account_scores``) in the store's connection is the
    engine's table of that name (same columns), so readers of stored scores (``export scores``)
    read what the engine wrote."""
    register(store.con, table, backend.read_table(table, model))
    try:
        yield
    finally:
        store.con.unregister(table)


def open_backend(ws: Workspace, engine: str | None = None, *, source: str | None = None,
                 output: str | None = None) -> Backend | None:
    """The engine a command runs on: ``engine`` (``--engine``) or the workspace's ``engine.name``;
    None for DuckDB (the store itself). ``source`` / ``output`` override ``spark.source`` /
    ``spark.output``."""
    name = (engine or ws.settings.engine.name).lower()
    if name not in ENGINES:
        raise WorkspaceError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    if name != "spark" and (source is not None or output is not None):
        raise WorkspaceError("--source and --output say where a lake is: they go with --engine spark")
    if name == "spark":
        from leadscore.engine.spark_backend import SparkBackend

        # paths given here (the command line's --source / --output) are the caller's, relative to the
        # current directory as `export data DIR` is; leadscore.yml's are relative to the workspace
        source, output = (None if p is None else p if "://" in p else str(Path(p).expanduser().resolve())
                          for p in (source, output))

        return SparkBackend(ws.settings.spark, ws.root, source=source, output=output)
    if name == "postgres":
        from leadscore.engine.postgres import PostgresBackend

        return PostgresBackend(ws.settings.postgres)
    return None
