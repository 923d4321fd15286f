"""`leadscore score --engine spark` on a lake (a real local Spark session, Iceberg output): the same
scores, history, crossings and workflows as DuckDB, committed so that a killed driver changes nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from tests.engines_data import EARLY, WORKFLOW, add_deals, set_engine
from tests.smalldata import AS_OF, SMALL_MODEL

import leadscore
from leadscore.engine.iceberg_output import CROSSINGS, HISTORY, SCORES, IcebergOutput
from leadscore.errors import ModelError
from leadscore.workspace import Workspace


@pytest.fixture(scope="module")
def spark_session() -> object:
    """One local session for the module (and the rest of the test run: one per JVM)."""
    from leadscore.engine.spark_lake import spark_session as start

    return start("local[1]")


def _pair(small_ws: Workspace, tmp_path: Path) -> tuple[Workspace, Workspace]:
    """The small workspace (DuckDB) and a copy scoring its exported lake on Spark."""
    (small_ws.models_dir / "small.yml").write_text(SMALL_MODEL + WORKFLOW)
    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    with small_ws.open_store() as store:
        add_deals(store)
    counts = leadscore.export_data(tmp_path / "lake", workspace=small_ws)
    assert counts == {"contacts": 5, "events": 7, "deals": 3, "companies": 0, "property_history": 0,
                      "company_property_history": 0}
    root = tmp_path / "spark-ws"
    shutil.copytree(small_ws.root, root)
    set_engine(root, "spark", spark={"master": "local[1]", "source": str(tmp_path / "lake"), "output": "out"})
    return small_ws, Workspace.load(root)


def _store_rows(ws: Workspace, sql: str) -> list[tuple[object, ...]]:
    with ws.open_store(read_only=True) as store:
        return store.con.execute(sql).fetchall()


def _sorted(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return sorted(rows, key=lambda row: [("" if v is None else str(v)) for v in row])


def _rows(table: pa.Table, columns: list[str]) -> list[tuple[object, ...]]:
    return _sorted([tuple(r[c] for c in columns) for r in table.select(columns).to_pylist()])


def test_spark_scores_history_crossings_and_workflows_match_duckdb(
        small_ws: Workspace, tmp_path: Path, spark_session: object) -> None:
    duck, lake = _pair(small_ws, tmp_path)
    for when in (EARLY, AS_OF):
        d_runs = leadscore.score(workspace=duck, as_of=when)
        s_runs = leadscore.score(workspace=lake, as_of=when)
        assert not s_runs.failures
        assert [(r.contacts, r.changed, r.crossings, r.tier_counts) for r in s_runs] == \
               [(r.contacts, r.changed, r.crossings, r.tier_counts) for r in d_runs]
    out = IcebergOutput(str(lake.root / "out"))
    scores = out.read(SCORES)
    expected = _store_rows(duck, "SELECT contact_id, score, tier, groups FROM scores ORDER BY 1")
    got = _rows(scores, ["contact_id", "score", "tier", "groups"])
    assert [(c, t) for c, _, t, _ in got] == [(c, t) for c, _, t, _ in expected]
    for (_, s1, _, g1), (_, s2, _, g2) in zip(got, expected, strict=True):
        assert s1 == pytest.approx(s2, abs=1e-9) and g1 == pytest.approx(g2, abs=1e-9)
    history = ["contact_id", "tier", "prev_tier", "as_of"]
    assert _rows(out.read(HISTORY), history) == _sorted(
        _store_rows(duck, "SELECT contact_id, tier, prev_tier, as_of FROM score_history"))
    crossings = ["contact_id", "from_tier", "to_tier", "as_of"]
    assert _rows(out.read(CROSSINGS), crossings) == _sorted(
        _store_rows(duck, "SELECT contact_id, from_tier, to_tier, as_of FROM tier_crossings"))
    # history is partitioned by day; the store recorded both runs; the crossings fired the workflows
    assert [f.name for f in out.table(HISTORY).spec().fields] == ["model", "as_of_day"]
    assert _store_rows(lake, "SELECT engine, count(*) FROM score_runs GROUP BY 1") == [("spark", 2)]
    fired = "SELECT contact_id, workflow, kind FROM outbox ORDER BY 1"
    assert _store_rows(lake, fired) == _store_rows(duck, fired) != []
    tasks = "SELECT contact_id, title FROM tasks ORDER BY 1"
    assert _store_rows(lake, tasks) == _store_rows(duck, tasks) != []
    # export scores --engine spark reads them back in the usual columns, and the same rows
    leadscore.export_scores(tmp_path / "spark.csv", workspace=lake)
    leadscore.export_scores(tmp_path / "duck.csv", workspace=duck)
    spark_csv, duck_csv = ((tmp_path / f).read_text().splitlines() for f in ("spark.csv", "duck.csv"))
    assert spark_csv[0] == duck_csv[0] and len(spark_csv) == len(duck_csv)
    # backtest --engine spark: the population scored on Spark, DuckDB's figures
    s_run = leadscore.backtest("small", workspace=lake, as_of=AS_OF, horizon="60d")
    assert s_run.result.converters == 2
    assert s_run.to_dict() == leadscore.backtest("small", workspace=duck, as_of=AS_OF, horizon="60d").to_dict()
    # report --engine spark: the stored distribution read from the lake's scores, the same figures
    d_report = leadscore.report(workspace=duck, model="small", as_of=AS_OF, horizon="60d", rolling=1)
    s_report = leadscore.report(workspace=lake, model="small", as_of=AS_OF, horizon="60d", rolling=1,
                                out=tmp_path / "spark.html")
    assert s_report.distribution.source.startswith("stored scores as of 2025-06-01")
    assert s_report.to_dict()["distribution"] == d_report.to_dict()["distribution"]
    assert s_report.to_dict()["backtest"] == d_report.to_dict()["backtest"]
    assert (tmp_path / "spark.html").stat().st_size > 10_000


def _killed(ws: Workspace, point: str, tmp_path: Path) -> None:
    """`leadscore score --engine spark` in its own process (its own driver), SIGKILLed at ``point``."""
    marker = tmp_path / f"{point}.paused"
    env = os.environ | {"LEADSCORE_FAULT_PAUSE": point, "LEADSCORE_FAULT_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "leadscore", "score", "--as-of", "2025-06-01", "-w", str(ws.root)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 400
        while not marker.exists():
            assert proc.poll() is None, "the run ended before reaching the fault point"
            assert time.monotonic() < deadline, "the run never reached the fault point"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its JVM
    finally:
        proc.wait(timeout=60)


@pytest.mark.slow
def test_a_killed_driver_leaves_the_previous_scores_and_no_half_history(
        small_ws: Workspace, tmp_path: Path, spark_session: object) -> None:
    _, lake = _pair(small_ws, tmp_path)
    leadscore.score(workspace=lake, as_of=EARLY)
    out_dir = str(lake.root / "out")

    def state() -> tuple[object, ...]:
        out = IcebergOutput(out_dir)
        return (_rows(out.read(SCORES), ["contact_id", "score", "tier", "run_id"]),
                _rows(out.read(HISTORY), ["contact_id", "score", "run_id"]),
                _rows(out.read(CROSSINGS), ["contact_id", "to_tier", "run_id"]))

    before = state()
    # killed after writing every file, before the commit: nothing changed, in any table
    _killed(lake, "spark.before_commit", tmp_path)
    assert state() == before
    # killed between the scores commit and the history commit: new scores, and a history without
    # any row of that run (never half of it)
    _killed(lake, "spark.between_commits", tmp_path)
    scores, history, crossings = state()
    assert scores != before[0]
    [killed_run] = {r[3] for r in scores}  # type: ignore[union-attr]
    assert history == before[1] and crossings == before[2]
    assert _store_rows(lake, f"SELECT count(*) FROM score_runs WHERE run_id = '{killed_run}'") == [(0,)]
    # the next command completes that run (history, crossings, the store's record and its
    # workflows) before its own run
    runs = leadscore.score(workspace=lake, as_of=AS_OF)
    assert not runs.failures
    out = IcebergOutput(out_dir)
    killed_history = [r for r in _rows(out.read(HISTORY), ["contact_id", "score", "run_id"]) if r[2] == killed_run]
    assert killed_history
    recorded = _store_rows(lake, f"SELECT changed FROM score_runs WHERE run_id = '{killed_run}'")
    assert recorded == [(len(killed_history),)]  # the whole run's history rows, no more, no fewer
    assert _store_rows(lake, f"SELECT count(*) FROM outbox WHERE run_id = '{killed_run}'")[0][0] > 0
    # the killed run's uncommitted files are gone
    data_dirs = {p.name for p in (lake.root / "out").rglob("run_id=*") if p.is_dir()}
    committed = {r.run_id for r in out.committed_runs()}
    assert {d.removeprefix("run_id=") for d in data_dirs} <= committed


def test_validate_on_spark_reads_the_lake_and_refuses_what_spark_cannot_express(
        small_ws: Workspace, tmp_path: Path) -> None:
    _, lake = _pair(small_ws, tmp_path)
    path = lake.models_dir / "odd.yml"
    path.write_text(SMALL_MODEL.replace("name: small", "name: odd").replace(
        "in: [CEO, VP Sales]", 'matches: "(?i)^ceo$"'))
    with pytest.raises(ModelError, match=r"on spark, flags like `\(\?i\)`"):
        leadscore.validate(path, workspace=lake)
    loaded, _ = leadscore.validate(path, workspace=lake, engine="duckdb")  # fine where RE2 runs it
    assert loaded.model.name == "odd"
    path.write_text(SMALL_MODEL.replace("property: job_title", "property: job_titel"))
    with pytest.raises(ModelError, match="unknown contact property `job_titel`"):
        leadscore.validate(path, workspace=lake)  # the lake's columns, read without a Spark session


def test_catalog_and_iceberg_sources(small_ws: Workspace, tmp_path: Path, spark_session: object) -> None:
    """Events as an Iceberg table (pyiceberg catalog), contacts as a table of the session's catalog."""
    from pyiceberg.catalog.sql import SqlCatalog

    _, lake = _pair(small_ws, tmp_path)
    events = ds.dataset(str(tmp_path / "lake" / "events"), format="parquet").to_table()
    warehouse = tmp_path / "crm"
    warehouse.mkdir()
    catalog = SqlCatalog("crm", uri=f"sqlite:///{warehouse}/catalog.db", warehouse=f"file://{warehouse}")
    catalog.create_namespace("crm")
    catalog.create_table("crm.events", schema=events.schema).append(events)
    spark_session.read.parquet(str(tmp_path / "lake" / "contacts")).createOrReplaceTempView("crm_contacts")  # type: ignore[attr-defined]
    set_engine(lake.root, "spark", spark={
        "master": "local[1]", "contacts": {"table": "crm_contacts"},
        "events": {"iceberg": "crm.events", "catalog": {"name": "crm", "type": "sql", "uri": f"sqlite:///{warehouse}/catalog.db",
                                                        "warehouse": f"file://{warehouse}"}},
        "output": "out2"})
    runs = leadscore.score(workspace=Workspace.load(lake.root), as_of=AS_OF)
    assert not runs.failures and runs[0].contacts == 4
    leadscore.score(workspace=small_ws, as_of=AS_OF)
    got = _rows(IcebergOutput(str(lake.root / "out2")).read(SCORES), ["contact_id", "tier"])
    assert got == _sorted(_store_rows(small_ws, "SELECT contact_id, tier FROM scores"))
