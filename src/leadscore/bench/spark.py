"""``leadscore bench spark`` (``make bench-spark``): ``leadscore score --engine spark`` on local Spark,
beside DuckDB on the same Parquet files.

For each size (1M contacts / 20M events, then 10M / 200M when the disk has room):

1. the generated data (``demo.generator``) is written as a lake (``contacts/``, ``events/``,
   ``deals/`` Parquet, the layout of ``leadscore export data``), streamed so memory stays flat;
2. **DuckDB** runs the bench model's compiled query over those same files (``read_parquet``
   views), materialised into a table as ``engine.run`` does: the single-machine engine's cost
   for the same work;
3. **Spark** runs ``leadscore score --engine spark --source LAKE --output OUT`` in its own
   process (the driver, its JVM and the local executors), twice: a first run (every contact's
   first score: all rows go to the history) and a run one day later (the diff against the
   previous scores, the usual nightly run). Reported: the process's wall time (JVM start
   included) and the run's own seconds (``RunResult.seconds``: query, writes, Iceberg commits);
4. the Spark scores (read back from Iceberg) are compared with DuckDB's: a fast wrong answer
   must not pass.

The machine's two cores are shared; figures are wall-clock seconds of one run each.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from leadscore import library
from leadscore.bench.measure import per_second
from leadscore.bench.score_model import BENCH_GROUPS, BENCH_MODEL_YAML
from leadscore.compiler import compile_model
from leadscore.demo.events import EVENTS_SCHEMA
from leadscore.demo.generator import generate
from leadscore.engine.spark_lake import parquet_columns
from leadscore.model.loader import parse_model
from leadscore.workspace import init_workspace

#: Bytes of disk one generated event needs at the large size (its lake ~15, Spark's shuffle spill and outputs),
#: with margin; measured at 1M / 20M (see docs/scale.md).
BYTES_PER_EVENT = 60
ROWS_PER_FILE = 2_000_000


@dataclass
class SparkBenchSize:
    contacts: int
    events: int
    lake_s: float = 0.0
    lake_mb: float = 0.0
    duckdb_s: float = float("nan")
    spark_wall_s: list[float] = field(default_factory=list)
    spark_run_s: list[float] = field(default_factory=list)
    output_mb: float = 0.0
    max_abs_diff: float = float("nan")
    tier_mismatches: int = -1
    missing_rows: int = -1
    skipped: str | None = None

    @property
    def agrees(self) -> bool:
        return self.missing_rows == 0 and self.tier_mismatches == 0 and self.max_abs_diff <= 1e-9


def _du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def write_lake(directory: Path, n_contacts: int, n_events: int, seed: int) -> datetime:
    """The generated data as a Parquet lake (events streamed in files of ``ROWS_PER_FILE`` rows)."""
    data = generate(n_contacts, n_events, seed=seed)
    for table in ("contacts", "events", "deals"):
        (directory / table).mkdir(parents=True, exist_ok=True)
    pq.write_table(data.contacts, directory / "contacts" / "part-0.parquet")
    pq.write_table(data.deals, directory / "deals" / "part-0.parquet")
    part, rows, writer = 0, 0, None
    for batch in data.event_batches():
        if writer is None or rows >= ROWS_PER_FILE:
            if writer is not None:
                writer.close()
            writer = pq.ParquetWriter(directory / "events" / f"part-{part}.parquet", EVENTS_SCHEMA, compression="zstd")
            part, rows = part + 1, 0
        writer.write_batch(batch)
        rows += batch.num_rows
    if writer is not None:
        writer.close()
    return data.as_of


def duckdb_on_the_lake(lake: Path, as_of: datetime, threads: int) -> tuple[float, pa.Table]:
    """The bench model's compiled DuckDB query over the lake's files, materialised (as a run does)."""
    model = parse_model(BENCH_MODEL_YAML, "bench.yml").contact_model
    con = duckdb.connect(config={"threads": threads})
    for table in ("contacts", "events"):
        path = str(lake / table / "*.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
    sql = compile_model(model, as_of=as_of, dialect="duckdb", contact_columns=parquet_columns(str(lake / "contacts")),
                        event_columns=parquet_columns(str(lake / "events"))).sql(dialect="duckdb")
    con.execute("SET preserve_insertion_order = false")
    started = time.perf_counter()
    con.execute(f"CREATE TEMP TABLE scored AS {sql}")
    seconds = time.perf_counter() - started
    groups = ", ".join(f"g_{i}" for i in range(len(BENCH_GROUPS)))
    result = con.sql(f"SELECT contact_id, score, tier, [{groups}] AS groups FROM scored").to_arrow_table()
    con.close()
    return seconds, result


def spark_score(ws_root: Path, as_of: datetime) -> tuple[float, float]:
    """``leadscore score --engine spark`` in its own process: (process wall s, the run's own s)."""
    command = [sys.executable, "-m", "leadscore", "score", "--json", "--as-of", as_of.isoformat(), "-w", str(ws_root)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"leadscore score --engine spark failed ({done.returncode}):\n{done.stderr[-3000:]}")
    runs = json.loads(done.stdout[done.stdout.index("["):])
    return wall, float(runs[0]["seconds"])


def compare(spark_scores: pa.Table, duck: pa.Table) -> tuple[float, int, int]:
    con = duckdb.connect()
    con.register("s", spark_scores)
    con.register("d", duck)
    row = con.execute("""
        SELECT max(greatest(abs(s.score - d.score), list_max(list_transform(list_zip(s.groups, d.groups),
                                                                            lambda p: abs(p[1] - p[2]))))),
               count(*) FILTER (WHERE s.contact_id IS NOT NULL AND d.contact_id IS NOT NULL AND s.tier <> d.tier),
               count(*) FILTER (WHERE s.contact_id IS NULL OR d.contact_id IS NULL)
        FROM s FULL JOIN d ON s.contact_id = d.contact_id""").fetchone()
    con.close()
    assert row is not None
    return (float("nan") if row[0] is None else float(row[0])), int(row[1]), int(row[2])


def bench_size(directory: Path, n_contacts: int, n_events: int, *, seed: int, master: str, driver_memory: str,
               threads: int, with_duckdb: bool = True) -> SparkBenchSize:
    """One size: lake, DuckDB on it, two Spark runs, agreement."""
    out = SparkBenchSize(n_contacts, n_events)
    work = directory / f"{n_contacts}-{n_events}"
    shutil.rmtree(work, ignore_errors=True)
    lake = work / "lake"
    started = time.perf_counter()
    as_of = write_lake(lake, n_contacts, n_events, seed)
    out.lake_s, out.lake_mb = time.perf_counter() - started, _du_mb(lake)
    duck = None
    if with_duckdb:
        out.duckdb_s, duck = duckdb_on_the_lake(lake, as_of, threads)
    ws = init_workspace(work / "ws", name="bench-spark")
    for old in ws.models_dir.glob("*.yml"):
        old.unlink()
    (ws.models_dir / "bench.yml").write_text(BENCH_MODEL_YAML, encoding="utf-8")
    settings = (ws.root / "leadscore.yml").read_text()
    settings = settings.replace("  name: duckdb ", "  name: spark  ")
    settings += (f"spark:\n  master: {master}\n  source: {lake}\n  output: {work / 'out'}\n"
                 f"  conf: {{spark.driver.memory: {driver_memory}}}\n")
    (ws.root / "leadscore.yml").write_text(settings)
    library.publish(ws.models_dir / "bench.yml", workspace=ws)
    for day, when in enumerate((as_of, as_of + timedelta(days=1))):
        wall, run = spark_score(ws.root, when)
        out.spark_wall_s.append(wall)
        out.spark_run_s.append(run)
        if day == 0 and duck is not None:  # the first run is as of DuckDB's instant: compare them
            from leadscore.engine.iceberg_output import SCORES, IcebergOutput

            scores = IcebergOutput(str(work / "out")).read(SCORES).select(["contact_id", "score", "tier", "groups"])
            out.max_abs_diff, out.tier_mismatches, out.missing_rows = compare(scores, duck)
            del scores
    out.output_mb = _du_mb(work / "out")
    return out


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def run_bench(directory: str | Path, n_contacts: int, n_events: int, *, large_contacts: int = 0,
              large_events: int = 0, seed: int = 7, master: str = "local[*]", driver_memory: str = "6g",
              threads: int = 2) -> list[SparkBenchSize]:
    """The given size, then the large one (Spark only) when the disk has room for it."""
    work = Path(directory)
    work.mkdir(parents=True, exist_ok=True)
    sizes = [bench_size(work, n_contacts, n_events, seed=seed, master=master, driver_memory=driver_memory,
                        threads=threads)]
    if large_contacts and large_events:
        need = large_events * BYTES_PER_EVENT
        if free_bytes(work) < need:
            sizes.append(SparkBenchSize(large_contacts, large_events, skipped=(
                f"needs ~{need / 1e9:.0f} GB free in {work}, {free_bytes(work) / 1e9:.0f} GB there")))
        else:
            sizes.append(bench_size(work, large_contacts, large_events, seed=seed, master=master,
                                    driver_memory=driver_memory, threads=threads, with_duckdb=False))
            shutil.rmtree(work / f"{large_contacts}-{large_events}", ignore_errors=True)
    return sizes


def format_bench(sizes: list[SparkBenchSize]) -> str:
    lines = []
    for s in sizes:
        head = f"leadscore bench spark: {s.contacts:,} contacts, {s.events:,} events"
        if s.skipped:
            lines += [head, f"  skipped: {s.skipped}"]
            continue
        lines += [head,
                  f"  lake (generate + write)    {s.lake_s:8.1f} s  {s.lake_mb:8.0f} MB of Parquet"]
        if s.duckdb_s == s.duckdb_s:  # not NaN
            lines.append(f"  DuckDB on the same files   {s.duckdb_s:8.1f} s  "
                         f"{per_second(s.events, s.duckdb_s):>12,.0f} events/s  (the compiled query, materialised)")
        for label, wall, run in zip(("first run", "next day"), s.spark_wall_s, s.spark_run_s, strict=False):
            lines.append(f"  Spark {label:<10}           {run:8.1f} s  {per_second(s.events, run):>12,.0f} events/s"
                         f"  (process {wall:.1f} s with the JVM start)")
        lines.append(f"  Iceberg output             {s.output_mb:8.0f} MB (scores, history, crossings)")
        if s.tier_mismatches >= 0:
            ok = "ok" if s.agrees else "MISMATCH"
            lines.append(f"  agreement with DuckDB      {ok}: max |diff| {s.max_abs_diff:.3g}, tier mismatches "
                         f"{s.tier_mismatches}, missing rows {s.missing_rows}")
    return "\n".join(lines)


def to_dicts(sizes: list[SparkBenchSize]) -> list[dict[str, Any]]:
    return [asdict(s) | {"agrees": s.agrees} for s in sizes]
