"""Where the Spark engine's results go: three Iceberg tables, committed so a killed run changes nothing.

Tables (namespace ``leadscore`` by default), with the columns of the store's tables of the same name::

    scores          latest score per model and contact        partitioned by model
    score_history   every change of score or tier             partitioned by model, day(as_of)
    tier_crossings  history rows whose tier changed           partitioned by model, day(as_of)

and, for account models, ``account_scores``, ``account_score_history`` and ``account_tier_crossings``
with ``company_id`` in place of ``contact_id`` (an ``IcebergOutput`` of ``level="account"``: the
store's account tables, committed by the same protocol).

Spark's executors write each run's Parquet files straight into the tables' data directories
(``data/run_id=<run>/``); nothing is visible until the driver commits them with ``pyiceberg``
(``add_files``: a metadata-only commit, the data never passes through the driver). The commit
protocol, for a run R:

1. **scores** — one transaction: drop the model's previous files, add R's, and record R's figures
   in the snapshot's summary (``leadscore.run-id``, counts, as-of...). This is the commit point.
2. **score_history**, then **tier_crossings** — append R's files, tagged with R.

A run killed before step 1 leaves the previous scores readable and no trace in any table (its
unreferenced files are removed by the next run). A run killed between 1 and 2 has new scores and
a history that lacks R entirely — never half of it — and ``complete`` rolls R forward: the next
``leadscore`` command that opens the output adds R's history and crossings from the files already
written, then records the run in the workspace store (``committed_runs`` tells which runs that
store has not seen). Each Iceberg commit is atomic (a catalog pointer swap); the default catalog is
a SQL catalog (SQLite) in the output directory, readable by Spark's and Trino's JDBC catalogs.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from leadscore.engine.backends import RunRecord
from leadscore.errors import BackendError
from leadscore.faults import fault_point

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

SCORES, HISTORY, CROSSINGS = "scores", "score_history", "tier_crossings"
TABLES = (SCORES, HISTORY, CROSSINGS)
#: The snapshot-summary key naming the run a commit belongs to.
RUN_KEY = "leadscore.run-id"
_RUN_DIR = re.compile(r"/run_id=([^/]+)/")
_PREFIX = "leadscore."


def run_summary(run: RunRecord) -> dict[str, str]:
    """A run's figures as the snapshot-summary properties of its scores commit."""
    return {RUN_KEY: run.run_id, _PREFIX + "model": run.model, _PREFIX + "model-version": str(run.model_version),
            _PREFIX + "as-of": run.as_of.isoformat(), _PREFIX + "computed-at": run.computed_at.isoformat(),
            _PREFIX + "contacts": str(run.contacts), _PREFIX + "changed": str(run.changed),
            _PREFIX + "crossings": str(run.crossings), _PREFIX + "previous": str(run.previous),
            _PREFIX + "tiers": json.dumps(run.tier_counts), _PREFIX + "store": run.store_id}


def run_from_summary(props: dict[str, str]) -> RunRecord:
    def get(key: str) -> str:
        return props[_PREFIX + key]
    return RunRecord(props[RUN_KEY], get("model"), int(get("model-version")), datetime.fromisoformat(get("as-of")),
                     datetime.fromisoformat(get("computed-at")), int(get("contacts")), int(get("changed")),
                     int(get("crossings")), int(get("previous")), json.loads(get("tiers")),
                     store_id=props.get(_PREFIX + "store", ""))


def _schemas(key: str = "contact_id") -> dict[str, Any]:
    from pyiceberg.schema import Schema
    from pyiceberg.types import DoubleType, IntegerType, ListType, NestedField, StringType, TimestampType

    def f(i: int, name: str, kind: Any) -> NestedField:
        return NestedField(i, name, kind, required=False)

    groups = ListType(100, DoubleType(), element_required=False)
    score_cols = [f(1, "model", StringType()), f(2, key, StringType()),
                  f(3, "model_version", IntegerType()), f(4, "score", DoubleType()), f(5, "tier", StringType()),
                  f(6, "grade", StringType()), f(7, "groups", groups)]
    tail = [f(8, "as_of", TimestampType()), f(9, "computed_at", TimestampType()), f(10, "run_id", StringType())]
    prev = [f(11, "prev_score", DoubleType()), f(12, "prev_tier", StringType())]
    crossing = [f(10, "run_id", StringType()), f(1, "model", StringType()), f(3, "model_version", IntegerType()),
                f(2, key, StringType()), f(13, "from_tier", StringType()), f(5, "to_tier", StringType()),
                f(11, "from_score", DoubleType()), f(4, "to_score", DoubleType()),
                f(8, "as_of", TimestampType()), f(9, "computed_at", TimestampType())]
    return {SCORES: Schema(*score_cols, *tail), HISTORY: Schema(*score_cols, *prev, *tail),
            CROSSINGS: Schema(*crossing)}


def _spec(table: str) -> Any:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import DayTransform, IdentityTransform

    fields = [PartitionField(1, 1000, IdentityTransform(), "model")]
    if table != SCORES:
        fields.append(PartitionField(8, 1001, DayTransform(), "as_of_day"))
    return PartitionSpec(*fields)


class IcebergOutput:
    """The output tables of one location (created on first use)."""

    def __init__(self, location: str, *, namespace: str = "leadscore",
                 catalog_properties: dict[str, str] | None = None, level: str = "contact") -> None:
        self.location = location.rstrip("/")
        self.namespace = namespace
        #: contacts' tables (``scores``...) or companies' (``account_scores``... keyed by company_id)
        self.level = level
        self.prefix, self.key = ("account_", "company_id") if level == "account" else ("", "contact_id")
        self.catalog = _catalog(self.location, catalog_properties)
        self._tables: dict[str, Table] = {}

    def table(self, name: str) -> Table:
        """The table ``name`` (``scores``, ``score_history``, ``tier_crossings``: of this output's level),
        created (with the namespace) on first use, as currently committed."""
        ident = f"{self.namespace}.{self.prefix}{name}"
        try:
            self.catalog.create_namespace_if_not_exists(self.namespace)
            tbl = self.catalog.create_table_if_not_exists(ident, schema=_schemas(self.key)[name],
                                                          partition_spec=_spec(name))
        except Exception as exc:  # noqa: BLE001 - pyiceberg and the filesystem raise many kinds
            raise BackendError(f"engine spark: cannot open the output table {ident} at {self.location}: {exc}") from exc
        self._tables[name] = tbl
        return tbl

    def exists(self) -> bool:
        """Whether this output's scores table was ever created (an output with no account run has none)."""
        try:
            return bool(self.catalog.table_exists(f"{self.namespace}.{self.prefix}{SCORES}"))
        except Exception as exc:  # noqa: BLE001 - pyiceberg and the filesystem raise many kinds
            raise BackendError(f"engine spark: cannot read the catalog at {self.location}: {exc}") from exc

    def data_dir(self, name: str, run_id: str) -> str:
        """Where Spark writes run ``run_id``'s files of table ``name`` (inside the table's location)."""
        return f"{self.table(name).location().rstrip('/')}/data/run_id={run_id}"

    def staging_dir(self, run_id: str) -> str:
        return f"{self.location}/_staging/run_id={run_id}"

    # ------------------------------------------------------------------ reading

    def model_files(self, name: str, model: str) -> list[str]:
        """The data files of ``name`` holding model ``model`` in the current snapshot."""
        return self._files(self.table(name), _eq("model", model))

    def _files(self, tbl: Table, row_filter: Any = None) -> list[str]:
        from pyiceberg.expressions import AlwaysTrue

        tasks = list(tbl.scan(row_filter=row_filter if row_filter is not None else AlwaysTrue()).plan_files())
        if any(task.delete_files for task in tasks):
            raise BackendError(f"{tbl.name()} has row-level deletes, which leadscore never writes: "
                               "was it changed by another tool?")
        return [task.file.file_path for task in tasks]

    def read(self, name: str, model: str | None = None, run_id: str | None = None) -> pa.Table:
        """Rows of table ``name`` (of one model, one run) as Arrow, through pyiceberg."""
        from pyiceberg.expressions import AlwaysTrue, And

        if self.level == "account" and not self.exists():  # no account run yet: read, never create
            from pyiceberg.io.pyarrow import schema_to_pyarrow

            return schema_to_pyarrow(_schemas(self.key)[name]).empty_table()
        cond: Any = AlwaysTrue()
        if model is not None:
            cond = And(cond, _eq("model", model))
        if run_id is not None:
            cond = And(cond, _eq("run_id", run_id))
        return self.table(name).scan(row_filter=cond).to_arrow()

    # ------------------------------------------------------------------ committing

    def commit(self, run: RunRecord, files: dict[str, list[str]]) -> None:
        """Commit a run written to the data directories (see the module docstring)."""
        scores = self.table(SCORES)
        try:
            with scores.transaction() as tx, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "did not match any records": a model's first run
                tx.delete(_eq("model", run.model))
                _add(tx, scores, files[SCORES], run_summary(run))
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"engine spark: committing the scores of run {run.run_id} failed: {exc}") from exc
        fault_point("spark.between_commits")
        self.complete(run.run_id, files)

    def complete(self, run_id: str, files: dict[str, list[str]] | None = None) -> None:
        """Add run ``run_id``'s history and crossings unless already there (idempotent roll-forward)."""
        for name in (HISTORY, CROSSINGS):
            tbl = self.table(name)
            if run_id in _runs_of(tbl):
                continue
            found = files[name] if files is not None else self.written_files(name, run_id)
            try:
                with tbl.transaction() as tx:
                    _add(tx, tbl, found, {RUN_KEY: run_id})
            except Exception as exc:  # noqa: BLE001
                raise BackendError(f"engine spark: committing the {name} of run {run_id} failed: {exc}") from exc

    def committed_runs(self) -> list[RunRecord]:
        """Every run committed to ``scores``, oldest first (the snapshots' summaries)."""
        out = []
        for snap in self.table(SCORES).snapshots():
            props = _props(snap)
            if RUN_KEY in props and _PREFIX + "model" in props:
                run = run_from_summary(props)
                run.level = self.level
                out.append(run)
        return out

    def written_files(self, name: str, run_id: str) -> list[str]:
        """The non-empty Parquet files Spark wrote for a run (empty ones cannot be added: no stats)."""
        import pyarrow.parquet as pq
        from pyarrow import fs

        directory = self.data_dir(name, run_id)
        filesystem, path = fs.FileSystem.from_uri(directory)
        infos = filesystem.get_file_info(fs.FileSelector(path, allow_not_found=True))
        found = []
        for info in sorted(infos, key=lambda i: i.path):
            if info.is_file and info.path.endswith(".parquet"):
                with filesystem.open_input_file(info.path) as handle:
                    if pq.ParquetFile(handle).metadata.num_rows:
                        found.append(directory + "/" + info.base_name)
        return found

    def remove_uncommitted(self, keep: Iterable[str] = ()) -> int:
        """Delete run directories nothing refers to (left by a run killed before its commit).

        A directory stays when its run is in any table's snapshot log or any current data file
        lies in it (so expiring old snapshots never makes a run's live files look orphaned).
        """
        from pyarrow import fs

        committed = {r.run_id for r in self.committed_runs()} | set(keep)
        for name in TABLES:
            tbl = self.table(name)
            committed |= _runs_of(tbl)
            committed |= {m.group(1) for path in self._files(tbl) if (m := _RUN_DIR.search(path))}
        removed = 0
        for name in TABLES:
            base = f"{self.table(name).location().rstrip('/')}/data"
            removed += _remove_dirs(fs, base, committed)
        removed += _remove_dirs(fs, f"{self.location}/_staging", set(keep))
        return removed

    def remove_staging(self, run_id: str) -> None:
        from pyarrow import fs

        filesystem, path = fs.FileSystem.from_uri(self.staging_dir(run_id))
        if filesystem.get_file_info(path).type != fs.FileType.NotFound:
            filesystem.delete_dir(path)


def _remove_dirs(fs: Any, base: str, keep: set[str]) -> int:
    filesystem, path = fs.FileSystem.from_uri(base)
    removed = 0
    for info in filesystem.get_file_info(fs.FileSelector(path, allow_not_found=True)):
        if info.type == fs.FileType.Directory and info.base_name.startswith("run_id="):
            if info.base_name.removeprefix("run_id=") not in keep:
                filesystem.delete_dir(info.path)
                removed += 1
    return removed


def _eq(column: str, value: str) -> Any:
    """``column = value`` as a pyiceberg expression (a bound value: never parsed from text)."""
    from pyiceberg import expressions

    equal: Any = expressions.EqualTo
    return equal(column, value)


def _add(tx: Any, tbl: Table, files: list[str], summary: dict[str, str]) -> None:
    """Add ``files`` in one snapshot carrying ``summary``; with no files, an empty append (so the
    run still leaves its mark in the table's snapshot log)."""
    if files:
        tx.add_files(files, snapshot_properties=summary)
        return
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    tx.append(schema_to_pyarrow(tbl.schema()).empty_table(), snapshot_properties=summary)


def _props(snapshot: Any) -> dict[str, str]:
    summary = snapshot.summary
    return dict(summary.additional_properties) if summary is not None else {}


def _runs_of(tbl: Table) -> set[str]:
    return {p[RUN_KEY] for p in map(_props, tbl.snapshots()) if RUN_KEY in p}


def _catalog(location: str, properties: dict[str, str] | None) -> Catalog:
    """The output's catalog: the user's (pyiceberg properties), or a SQLite catalog in the location."""
    try:
        if properties:
            from pyiceberg.catalog import load_catalog

            props = dict(properties)
            return load_catalog(props.pop("name", "leadscore"), **props)
        from pyiceberg.catalog.sql import SqlCatalog

        if "://" in location and not location.startswith("file://"):
            raise BackendError(f"engine spark: output {location} is not a local directory; give "
                               "`spark.output_catalog` (pyiceberg catalog properties) for a remote warehouse")
        path = location.removeprefix("file://")
        from pathlib import Path

        Path(path).mkdir(parents=True, exist_ok=True)
        return SqlCatalog("leadscore", uri=f"sqlite:///{path}/catalog.db", warehouse=f"file://{path}")
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise BackendError("engine spark writes Iceberg tables with pyiceberg: pip install 'leadscore[spark]'") from exc
