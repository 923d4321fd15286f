"""The Spark engine: a model's compiled Spark SQL run on the cluster, results in Iceberg tables.

One run of one model version (``SparkBackend.run_model``)::

    sources (ls_src_contacts, ls_src_events)    previous scores of the model (Iceberg files)
                  \\                                   /
       compiled query  LEFT JOIN  previous  -->  _staging/run_id=R/   (one pass over the events)
                                                   |
              scores files  /  history files (changed rows)  /  crossings files (tier changed)
                                                   |
                          IcebergOutput.commit: scores (the commit point), history, crossings

The query is the one DuckDB runs (``compile_model(dialect="spark")``): one scan of the events,
one aggregation by contact (the query's only shuffle besides the join with the contacts and the
previous scores), so the work spreads over the cluster by contact. The run's rows are staged once
as Parquet and the three outputs are derived from them, so the query runs once.

An account model (``run_account_model``) runs the same way over ``companies``, ``contacts`` and
``events``, its compiled account query in place of the contact query, into the account tables
(``IcebergOutput(level="account")``: ``account_scores``... keyed by ``company_id``).

Timestamps cross into Spark as epoch microseconds (``timestamp_micros``) and out as
``TIMESTAMP_NTZ`` (naive UTC, the store's convention); the session time zone is UTC.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.compiler import compile_model
from leadscore.compiler.accounts import compile_account_model
from leadscore.engine.backends import Pull, Pulled, RunRecord, frame_types, named_params
from leadscore.engine.iceberg_output import CROSSINGS, HISTORY, SCORES, IcebergOutput
from leadscore.engine.run import SCORE_EPSILON
from leadscore.engine.spark_lake import (
    SourceTable,
    parquet_columns,
    parquet_event_types,
    register_source,
    spark_session,
)
from leadscore.engine_settings import SparkSettings
from leadscore.errors import BackendError, first_line
from leadscore.faults import fault_point
from leadscore.model.account_spec import AccountModel
from leadscore.storage.store import ModelVersion
from leadscore.timeutil import epoch_micros

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from leadscore.model.spec import ScoringModel

_META = ("CAST(:model AS STRING) AS model", "contact_id", "CAST(:version AS INT) AS model_version")
_TAIL = ("CAST(timestamp_micros(:as_of_us) AS TIMESTAMP_NTZ) AS as_of",
         "CAST(timestamp_micros(:computed_us) AS TIMESTAMP_NTZ) AS computed_at", "CAST(:run AS STRING) AS run_id")
_CHANGED = (f"prev_score IS NULL OR abs(score - prev_score) > {SCORE_EPSILON} "
            "OR tier IS DISTINCT FROM prev_tier")


class SparkBackend:
    """Score a lake on Spark; results in an Iceberg warehouse (see the module docstring)."""

    engine = "spark"
    dialect = "spark"

    def __init__(self, settings: SparkSettings, root: Path, *, source: str | None = None,
                 output: str | None = None, session: SparkSession | None = None) -> None:
        if source is not None:  # --source DIR: the three tables in the layout of `export data`
            settings = settings.model_copy(update={"source": source, "contacts": None, "events": None,
                                                   "deals": None})
        if output is not None:
            settings = settings.model_copy(update={"output": output})
        self.settings, self.root = settings, root
        self.location = settings.output_dir(root)
        self.output = IcebergOutput(self.location, namespace=settings.namespace,
                                    catalog_properties=settings.output_catalog)
        self._session = session
        self._sources: dict[str, SourceTable] = {}

    @property
    def spark(self) -> SparkSession:
        """The session, started on first use (reading results back needs none)."""
        if self._session is None:
            self._session = spark_session(self.settings.master, self.settings.conf)
        return self._session

    # ------------------------------------------------------------------ sources

    def source(self, name: str) -> SourceTable:
        """Source table ``name`` registered as a view (once per backend)."""
        if name not in self._sources:
            self._sources[name] = register_source(self.spark, name, self.settings.table(name, self.root))
        return self._sources[name]

    def columns(self, table: str) -> dict[str, str]:
        ref = self.settings.table(table, self.root)
        if table not in self._sources and ref.parquet is not None and "://" not in ref.parquet:
            return parquet_columns(ref.parquet)  # validation needs no session
        return dict(self.source(table).logical)

    def event_types(self) -> list[str]:
        ref = self.settings.table("events", self.root)
        if "events" not in self._sources and ref.parquet is not None and "://" not in ref.parquet:
            return parquet_event_types(ref.parquet)
        view = self.source("events").view
        return [str(r[0]) for r in self.sql(f"SELECT DISTINCT type FROM {view} WHERE type IS NOT NULL ORDER BY 1")
                .collect()]

    def history(self, as_of: datetime, name: str = "property_history") -> str | None:
        """The property history's view when a score as of ``as_of`` must read it (some change came
        after it), else None: properties are read from the contacts as they are (docs/engines.md).
        ``name="company_property_history"``: the companies' history, by the same rule."""
        ref = self.settings.history_table(self.root, name)
        if ref is None:
            return None
        if name not in self._sources:
            self._sources[name] = register_source(self.spark, name, ref)
        view = self._sources[name].view
        later = self.sql(f"SELECT coalesce(max(changed_at) > timestamp_micros(:as_of_us), false) AS later "
                         f"FROM {view}", {"as_of_us": epoch_micros(as_of)}).collect()
        return view if later and later[0]["later"] else None

    def sql(self, text: str, args: dict[str, Any] | None = None) -> DataFrame:
        try:
            return self.spark.sql(text, args=args) if args else self.spark.sql(text)
        except Exception as exc:  # analysis errors: the first line says what
            raise BackendError(f"Spark refused the query: {first_line(exc, 500)}") from exc

    # ------------------------------------------------------------------ a run

    def run_model(self, version: ModelVersion, model: ScoringModel, *, as_of: datetime, run_id: str,
                  computed_at: datetime, store_id: str) -> RunRecord:
        """Run one model version for every contact and commit scores, history and crossings."""
        started = time.perf_counter()
        self.output.remove_uncommitted()  # files of a run killed before its commit
        contacts, events = self.source("contacts"), self.source("events")
        query = compile_model(model, as_of=as_of, dialect="spark", contacts_table=contacts.view,
                              events_table=events.view, contact_columns=contacts.logical,
                              event_columns=events.logical, history_table=self.history(as_of)).sql(dialect="spark")
        return self._run(self.output, version, query, len(model.groups), as_of=as_of, run_id=run_id,
                         computed_at=computed_at, store_id=store_id, started=started)

    def run_account_model(self, version: ModelVersion, model: AccountModel, contact_models: Mapping[str, ScoringModel],
                          *, match_by_domain: bool, as_of: datetime, run_id: str, computed_at: datetime,
                          store_id: str) -> RunRecord:
        """Run one account model version for every company (its contact models compiled into the same
        query, as on DuckDB) and commit ``account_scores``, ``account_score_history`` and
        ``account_tier_crossings`` by the same protocol as a contact model's run."""
        started = time.perf_counter()
        self.accounts.remove_uncommitted()
        query = self._account_query(model, contact_models, as_of, match_by_domain=match_by_domain)
        return self._run(self.accounts, version, query, len(model.groups), as_of=as_of, run_id=run_id,
                         computed_at=computed_at, store_id=store_id, started=started)

    def _account_query(self, model: AccountModel, contact_models: Mapping[str, ScoringModel], as_of: datetime, *,
                       match_by_domain: bool, company_id: str | None = None, detail: bool = False) -> str:
        companies, contacts, events = self.source("companies"), self.source("contacts"), self.source("events")
        return compile_account_model(
            model, as_of=as_of, contact_models=contact_models, dialect="spark", company_id=company_id,
            detail=detail, match_by_domain=match_by_domain, companies_table=companies.view,
            contacts_table=contacts.view, events_table=events.view, company_columns=companies.logical,
            contact_columns=contacts.logical, event_columns=events.logical,
            history_table=self.history(as_of),
            company_history_table=self.history(as_of, "company_property_history")).sql(dialect="spark")

    @cached_property
    def accounts(self) -> IcebergOutput:
        """The account models' output tables (``account_scores``...), beside the contacts' ones."""
        return IcebergOutput(self.location, namespace=self.settings.namespace,
                             catalog_properties=self.settings.output_catalog, level="account")

    def _output(self, record: RunRecord) -> IcebergOutput:
        return self.accounts if record.level == "account" else self.output

    def _run(self, output: IcebergOutput, version: ModelVersion, query: str, groups_n: int, *, as_of: datetime,
             run_id: str, computed_at: datetime, store_id: str, started: float) -> RunRecord:
        """Stage a compiled query's rows once, derive scores, history and crossings, commit them."""
        key = output.key
        self._previous(output, version.model)
        groups = ", ".join(f"CAST(q.g_{k} AS DOUBLE)" for k in range(groups_n))
        meta = ", ".join(m.replace("contact_id", key) for m in _META)
        staged = output.staging_dir(run_id)
        try:
            self.sql(f"""SELECT q.{key}, q.score, q.tier, q.grade, array({groups}) AS groups,
                            p.score AS prev_score, p.tier AS prev_tier
                     FROM ({query}) AS q LEFT JOIN ls_prev AS p ON p.{key} = q.{key}"""
                     ).write.mode("overwrite").parquet(staged)
            self.spark.read.parquet(staged).createOrReplaceTempView("ls_run")
            args = {"model": version.model, "version": version.version, "as_of_us": epoch_micros(as_of),
                    "computed_us": epoch_micros(computed_at), "run": run_id}
            self._write(output, SCORES, f"SELECT {meta}, score, tier, grade, groups, {', '.join(_TAIL)} "
                                        "FROM ls_run", args, run_id)
            self._write(output, HISTORY, f"SELECT {meta}, score, tier, grade, groups, prev_score, prev_tier, "
                                         f"{', '.join(_TAIL)} FROM ls_run WHERE {_CHANGED}", args, run_id)
            self._write(output, CROSSINGS, f"""SELECT CAST(:run AS STRING) AS run_id, CAST(:model AS STRING) AS model,
                    CAST(:version AS INT) AS model_version, {key}, prev_tier AS from_tier, tier AS to_tier,
                    prev_score AS from_score, score AS to_score, {', '.join(_TAIL[:2])}
                    FROM ls_run WHERE tier IS DISTINCT FROM prev_tier""", args, run_id)
            record = self._record(version, as_of, computed_at, run_id, store_id)
        except BackendError:
            raise
        except Exception as exc:  # a failed Spark job: its first line, not a JVM trace
            raise BackendError(f"Spark could not run model `{version.model}`: {first_line(exc, 500)}") \
                from exc
        record.level = output.level
        fault_point("spark.before_commit")
        output.commit(record, {name: output.written_files(name, run_id) for name in (SCORES, HISTORY, CROSSINGS)})
        record.seconds = time.perf_counter() - started
        return record

    def _previous(self, output: IcebergOutput, model: str) -> None:
        """``ls_prev``: the model's current scores in the output (none on a first run)."""
        files = output.model_files(SCORES, model)
        if files:
            self.spark.read.parquet(*files).select(output.key, "score", "tier").createOrReplaceTempView("ls_prev")
        else:
            self.sql(f"SELECT CAST(NULL AS STRING) AS {output.key}, CAST(NULL AS DOUBLE) AS score, "
                     "CAST(NULL AS STRING) AS tier WHERE false").createOrReplaceTempView("ls_prev")

    def _write(self, output: IcebergOutput, table: str, select: str, args: dict[str, Any], run_id: str) -> None:
        self.sql(select, args).write.mode("overwrite").parquet(output.data_dir(table, run_id))

    def _record(self, version: ModelVersion, as_of: datetime, computed_at: datetime, run_id: str,
                store_id: str) -> RunRecord:
        rows = self.sql(f"""SELECT tier, count(*) AS n, count_if(tier IS DISTINCT FROM prev_tier) AS crossed,
                                   count_if({_CHANGED}) AS changed, count(prev_score) AS previous
                            FROM ls_run GROUP BY tier""").collect()
        tiers = {str(r["tier"]): int(r["n"]) for r in rows}
        return RunRecord(run_id, version.model, version.version, as_of, computed_at, sum(tiers.values()),
                         sum(int(r["changed"]) for r in rows), sum(int(r["crossed"]) for r in rows),
                         sum(int(r["previous"]) for r in rows), tiers, store_id=store_id)

    # ------------------------------------------------------------------ after the commit

    def unrecorded(self, recorded: set[str], store_id: str) -> list[RunRecord]:
        """Runs of this store committed to the output but not recorded in the store (a run killed
        after its commit); their history and crossings are completed first."""
        out = []
        outputs = [self.output, *([self.accounts] if self.accounts.exists() else [])]
        for output in outputs:
            for run in output.committed_runs():
                if run.run_id in recorded or run.store_id != store_id:
                    continue
                output.complete(run.run_id)
                out.append(run)
        return sorted(out, key=lambda r: r.computed_at)

    def pull(self, record: RunRecord, pull: Pull) -> Pulled:
        """The run's rows some workflow trigger holds for, their contacts (and events), as Arrow; for an
        account model's run, the companies' rows in place of the contacts' (and no events)."""
        output = self._output(record)
        key = output.key
        files = output.written_files(HISTORY, record.run_id)
        if not files:  # nothing changed: nothing can fire
            empty = self.sql(f"SELECT CAST(NULL AS STRING) AS {key} WHERE false")
            return Pulled(empty.toArrow(), empty.toArrow())
        self.spark.read.parquet(*files).createOrReplaceTempView("ls_pull")
        fired = self.sql(f"SELECT {key}, score, tier, grade, groups, prev_score, prev_tier FROM ls_pull AS r "
                         f"WHERE {named_params(pull.predicate, 'spark')}", pull.params)
        fired.createOrReplaceTempView("ls_fired")
        rows_of = self.source("companies" if record.level == "account" else "contacts").view
        contacts = self._naive(self.sql(f"SELECT c.* FROM {rows_of} AS c "
                                        f"LEFT SEMI JOIN ls_fired AS f ON c.{key} = f.{key}"))
        events = None
        if pull.events and record.level != "account":
            events = self._naive(self.sql(f"SELECT e.* FROM {self.source('events').view} AS e "
                                          "LEFT SEMI JOIN ls_fired AS f ON e.contact_id = f.contact_id")).toArrow()
        return Pulled(fired.toArrow(), contacts.toArrow(), events)

    @staticmethod
    def _naive(frame: DataFrame) -> DataFrame:
        """Timestamps as naive UTC (the store's convention) for the trip to DuckDB."""
        cols = []
        for f in frame.schema.fields:
            quoted = "`" + f.name.replace("`", "``") + "`"
            cols.append(f"CAST({quoted} AS TIMESTAMP_NTZ) AS {quoted}" if f.dataType.typeName() == "timestamp"
                        else quoted)
        return frame.selectExpr(*cols)

    def finish(self, record: RunRecord) -> None:
        self._output(record).remove_staging(record.run_id)

    def read_table(self, name: str, model: str | None = None) -> pa.Table:
        """An output table (``scores``, ``score_history``, or the ``account_`` ones) as Arrow."""
        if name.startswith("account_"):
            return self.accounts.read(name.removeprefix("account_"), model)
        return self.output.read(name, model)

    def read_source(self, name: str) -> pa.Table | None:
        """A source table's rows (timestamps naive UTC); None when the lake has no such table."""
        try:
            view = self.source(name).view
        except BackendError:
            if name in ("deals", "companies"):  # a lake without deals: backtests then need --label
                return None
            raise
        return self._naive(self.sql(f"SELECT * FROM {view}")).toArrow()

    def latest_event(self) -> datetime | None:
        row = self.sql(f"SELECT CAST(max(occurred_at) AS TIMESTAMP_NTZ) AS latest FROM {self.source('events').view}"
                       ).collect()
        return row[0]["latest"] if row else None

    def frame(self, model: ScoringModel | AccountModel, as_of: datetime, *, contact_id: str | None = None,
              detail: bool = False, contact_models: Mapping[str, ScoringModel] | None = None,
              match_by_domain: bool = False) -> pa.Table:
        """The model's query as of ``as_of`` run on Spark (nothing written), as Arrow. An account
        model (``contact_id`` then names a company) reads ``contact_models`` as its roll-ups'."""
        if isinstance(model, AccountModel):
            query = self._account_query(model, contact_models or {}, as_of, match_by_domain=match_by_domain,
                                        company_id=contact_id, detail=detail)
            table = self.sql(f"SELECT * FROM ({query}) AS q").toArrow()
            return table.cast(frame_types(table.column_names))
        contacts, events = self.source("contacts"), self.source("events")
        query = compile_model(model, as_of=as_of, dialect="spark", contacts_table=contacts.view,
                              events_table=events.view, contact_columns=contacts.logical,
                              event_columns=events.logical, contact_id=contact_id, detail=detail,
                              history_table=self.history(as_of)).sql(dialect="spark")
        table = self.sql(f"SELECT * FROM ({query}) AS q").toArrow()
        return table.cast(frame_types(table.column_names))

    def close(self) -> None:
        """The session stays up (one per JVM, reused by the next backend of this process)."""
