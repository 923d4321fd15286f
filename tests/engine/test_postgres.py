"""`leadscore score --engine postgres` on a real PostgreSQL server: the same scores, history, crossings
and workflows as DuckDB, written in one transaction in a schema the user names."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from tests.engines_data import EARLY, WORKFLOW, add_deals, copy_to_postgres, set_engine
from tests.smalldata import AS_OF, SMALL_MODEL

import leadscore
from leadscore.engine.backends import open_backend, store_identity
from leadscore.engine_settings import EngineSettings
from leadscore.errors import ModelError
from leadscore.workspace import Workspace


def _pair(small_ws: Workspace, tmp_path: Path, dsn: str, schema: str = "scoring",
          tables: dict[str, str] | None = None) -> tuple[Workspace, Workspace]:
    """The small workspace (DuckDB) and a copy of it pointed at Postgres, both with the model published."""
    (small_ws.models_dir / "small.yml").write_text(SMALL_MODEL + WORKFLOW)
    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    pg_root = tmp_path / "pg-ws"
    shutil.copytree(small_ws.root, pg_root)
    names = {"contacts": "contacts", "events": "events", "deals": "deals"} | (tables or {})
    with small_ws.open_store() as store:
        add_deals(store)
        copy_to_postgres(store, dsn, "crm", tables)
    set_engine(pg_root, "postgres", postgres={
        "dsn": "${TEST_PG_DSN}", "contacts": f"crm.{names['contacts']}", "events": f"crm.{names['events']}",
        "deals": f"crm.{names['deals']}", "schema": schema})
    os.environ["TEST_PG_DSN"] = dsn
    return small_ws, Workspace.load(pg_root)


def _pg_rows(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as con:
        return con.execute(sql).fetchall()


def _store_rows(ws: Workspace, sql: str) -> list[tuple[object, ...]]:
    with ws.open_store(read_only=True) as store:
        return store.con.execute(sql).fetchall()


def test_postgres_scores_history_crossings_and_workflows_match_duckdb(
        small_ws: Workspace, tmp_path: Path, pg_database: str) -> None:
    duck, pg = _pair(small_ws, tmp_path, pg_database)
    for when in (EARLY, AS_OF):
        d_runs = leadscore.score(workspace=duck, as_of=when)
        p_runs = leadscore.score(workspace=pg, as_of=when)
        assert not p_runs.failures
        assert [(r.contacts, r.changed, r.crossings, r.tier_counts) for r in p_runs] == \
               [(r.contacts, r.changed, r.crossings, r.tier_counts) for r in d_runs]
    expected = _store_rows(duck, "SELECT contact_id, score, tier, groups FROM scores ORDER BY 1")
    got = _pg_rows(pg_database, 'SELECT contact_id, score, tier, groups FROM "scoring".leadscore_scores ORDER BY 1')
    assert [(c, t) for c, _, t, _ in got] == [(c, t) for c, _, t, _ in expected]
    for (_, s1, _, g1), (_, s2, _, g2) in zip(got, expected, strict=True):
        assert s1 == pytest.approx(s2, abs=1e-9) and g1 == pytest.approx(g2, abs=1e-9)
    history = "SELECT contact_id, tier, prev_tier, as_of FROM {} ORDER BY as_of, contact_id"
    assert _pg_rows(pg_database, history.format('"scoring".leadscore_score_history')) == \
           _store_rows(duck, history.format("score_history"))
    crossings = "SELECT contact_id, from_tier, to_tier FROM {} WHERE as_of = '2025-06-01' ORDER BY 1"
    assert _pg_rows(pg_database, crossings.format('"scoring".leadscore_tier_crossings')) == \
           _store_rows(duck, crossings.format("tier_crossings")) != []
    # the runs are recorded in the workspace store, and the crossings fired the same workflows there
    assert _store_rows(pg, "SELECT engine, count(*) FROM score_runs GROUP BY 1") == [("postgres", 2)]
    fired = "SELECT contact_id, workflow, kind FROM outbox ORDER BY 1"
    assert _store_rows(pg, fired) == _store_rows(duck, fired) != []
    tasks = "SELECT contact_id, title FROM tasks ORDER BY 1"
    assert _store_rows(pg, tasks) == _store_rows(duck, tasks) != []
    payload = _store_rows(pg, "SELECT payload FROM outbox WHERE contact_id = 'c1'")[0][0]
    assert '"first_name":"C1"' in str(payload)  # the contact's row, read from Postgres
    # `export scores --engine postgres` reads them back in the usual columns
    leadscore.export_scores(tmp_path / "pg.csv", workspace=pg)
    leadscore.export_scores(tmp_path / "duck.csv", workspace=duck)
    head = (tmp_path / "duck.csv").read_text().splitlines()[0]
    assert (tmp_path / "pg.csv").read_text().splitlines()[0] == head


def test_names_are_quoted_never_pasted(small_ws: Workspace, tmp_path: Path, pg_database: str) -> None:
    """A schema and tables whose names hold quotes, spaces and a semicolon are just names."""
    schema = 'out"; DROP TABLE crm.contacts; --'
    _, pg = _pair(small_ws, tmp_path, pg_database, schema=schema,
                  tables={"contacts": 'My "People"', "events": "web events; x"})
    runs = leadscore.score(workspace=pg, as_of=AS_OF)
    assert not runs.failures and runs[0].contacts == 4
    quoted = '"' + schema.replace('"', '""') + '"'
    assert _pg_rows(pg_database, f"SELECT count(*) FROM {quoted}.leadscore_scores") == [(4,)]
    assert _pg_rows(pg_database, 'SELECT count(*) FROM crm."My ""People"""') == [(5,)]


def test_a_killed_run_leaves_the_previous_scores(small_ws: Workspace, tmp_path: Path, pg_database: str) -> None:
    """SIGKILL inside the run's transaction, just before COMMIT: scores, history and runs as they were."""
    _, pg = _pair(small_ws, tmp_path, pg_database)
    leadscore.score(workspace=pg, as_of=EARLY)
    before = [_pg_rows(pg_database, f'SELECT * FROM "scoring".{t} ORDER BY 1, 2')
              for t in ("leadscore_scores", "leadscore_score_history", "leadscore_runs")]
    marker = tmp_path / "paused"
    env = os.environ | {"LEADSCORE_FAULT_PAUSE": "postgres.before_commit", "LEADSCORE_FAULT_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "leadscore", "score", "--as-of", "2025-06-01", "-w", str(pg.root)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the run never reached the commit"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    after = [_pg_rows(pg_database, f'SELECT * FROM "scoring".{t} ORDER BY 1, 2')
             for t in ("leadscore_scores", "leadscore_score_history", "leadscore_runs")]
    assert after == before
    runs = leadscore.score(workspace=pg, as_of=AS_OF)  # and the next run goes through
    assert runs[0].crossings > 0


def test_a_run_committed_but_not_recorded_is_recorded_by_the_next(small_ws: Workspace, tmp_path: Path,
                                                                   pg_database: str) -> None:
    _, pg = _pair(small_ws, tmp_path, pg_database)
    leadscore.score(workspace=pg, as_of=EARLY)
    backend = open_backend(pg)
    assert backend is not None
    with pg.open_store() as store:
        version = store.latest_version("small")
        assert version is not None
        from leadscore.engine.run import model_of

        backend.run_model(version, model_of(version), as_of=AS_OF, run_id="lost", computed_at=datetime(2026, 1, 1),
                          store_id=store_identity(store))  # the process "dies" before the store records it
    backend.close()
    leadscore.score(workspace=pg, as_of=AS_OF)
    assert {r[0] for r in _store_rows(pg, "SELECT run_id FROM score_runs")} >= {"lost"}
    assert _store_rows(pg, "SELECT count(*) FROM outbox WHERE run_id = 'lost'")[0][0] > 0


def test_set_actions_are_refused_on_postgres(small_ws: Workspace, tmp_path: Path, pg_database: str) -> None:
    _, pg = _pair(small_ws, tmp_path, pg_database)
    text = SMALL_MODEL.replace("name: small", "name: setter") + """
workflows:
  - {name: stage, on: {enters_tier: sql}, do: [{set: {lifecycle_stage: sql}}]}
"""
    path = pg.models_dir / "setter.yml"
    path.write_text(text)
    with pytest.raises(ModelError, match="`set` changes contact properties"):
        leadscore.validate(path, workspace=pg)
    with pytest.raises(ModelError, match="`set` changes contact properties"):
        leadscore.publish(path, workspace=pg)
    # published while the workspace scored on DuckDB, then run on Postgres: refused, the others score
    leadscore.publish(path, workspace=Workspace(pg.root, pg.settings.model_copy(update={"engine": EngineSettings()})))
    runs = leadscore.score(workspace=pg, as_of=AS_OF)
    assert [f.model for f in runs.failures] == ["setter"] and [r.model for r in runs] == ["small"]
    assert "`set` changes contact properties" in runs.failures[0].error


def test_backtest_and_report_run_inside_postgres(small_ws: Workspace, tmp_path: Path, pg_database: str) -> None:
    """`backtest` / `report --engine postgres`: the population scored inside the database, the same
    figures as DuckDB's, and the report's stored distribution read from the engine's scores."""
    duck, pg = _pair(small_ws, tmp_path, pg_database)
    for ws in (duck, pg):
        leadscore.score(workspace=ws, as_of=AS_OF)
    d_run = leadscore.backtest("small", workspace=duck, as_of=AS_OF, horizon="60d")
    p_run = leadscore.backtest("small", workspace=pg, as_of=AS_OF, horizon="60d")
    assert p_run.result.converters == 2 and p_run.result.contacts == 4
    assert p_run.to_dict() == d_run.to_dict()
    d_report = leadscore.report(workspace=duck, model="small", as_of=AS_OF, horizon="60d", rolling=1)
    p_report = leadscore.report(workspace=pg, model="small", as_of=AS_OF, horizon="60d", rolling=1,
                                out=tmp_path / "pg.html")
    assert p_report.distribution.source.startswith("stored scores as of 2025-06-01")
    assert p_report.to_dict()["distribution"] == d_report.to_dict()["distribution"]
    assert p_report.to_dict()["backtest"] == d_report.to_dict()["backtest"]
    assert (tmp_path / "pg.html").stat().st_size > 10_000
