"""Properties as of a date on Spark and Postgres: a score as of T reads each property's value of T
from the engine's property history, as DuckDB does (docs/engines.md "Properties as of a date").

Bob (c2) was an Engineer at a 20-person company; on 2025-05-20 he became CEO, on 2025-05-25 his
company had 300 people. As of 2025-05-10 (EARLY) no engine may give him the points of `exec` or
`big company`; as of 2025-06-01 every engine does. Without a history table an engine has no dated
change, so every value is the first known one, assumed since the contact's creation (the same rule
DuckDB applies to a store where nothing was recorded) — documented, and shown here.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from tests.engines_data import EARLY, copy_to_postgres, set_engine
from tests.smalldata import AS_OF

import leadscore
from leadscore.engine.backends import open_backend
from leadscore.engine.run import model_of
from leadscore.storage.history import write_properties
from leadscore.workspace import Workspace

BECAME_CEO = datetime(2025, 5, 20)
GREW = datetime(2025, 5, 25)


def _with_history(small_ws: Workspace) -> Workspace:
    """The small workspace, its model published, Bob's two dated changes recorded."""
    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    with small_ws.open_store() as store, store.transaction() as con:
        now = datetime(2025, 6, 15)
        write_properties(con, "c2", {"job_title": "CEO"}, source="test", now=now, changed_at=BECAME_CEO)
        write_properties(con, "c2", {"company_size": 300}, source="test", now=now, changed_at=GREW)
    return small_ws


def _duck_scores(ws: Workspace, when: datetime) -> dict[str, float]:
    leadscore.score(workspace=ws, as_of=when)
    with ws.open_store(read_only=True) as store:
        return dict(store.con.execute("SELECT contact_id, score FROM scores ORDER BY 1").fetchall())


def _frame_scores(ws: Workspace, when: datetime) -> dict[str, float]:
    """The model's query as of ``when`` on the workspace's engine (what backtests read)."""
    backend = open_backend(ws)
    assert backend is not None
    try:
        with ws.open_store(read_only=True) as store:
            model = model_of(store.get_version("small"))
        table = backend.frame(model, when)
        return {r["contact_id"]: r["score"] for r in table.select(["contact_id", "score"]).to_pylist()}
    finally:
        backend.close()


def _check(duck: Workspace, engine_ws: Workspace, engine_scores: dict[datetime, dict[str, float]]) -> None:
    for when in (EARLY, AS_OF):
        expected = _duck_scores(duck, when)
        got = engine_scores[when]
        assert got.keys() == expected.keys()
        for cid, score in expected.items():
            assert got[cid] == pytest.approx(score, abs=1e-9), (when, cid)
    # Bob as of EARLY: an Engineer at a small company on free mail (-10), one old blog visit
    assert engine_scores[EARLY]["c2"] < engine_scores[AS_OF]["c2"]


@pytest.fixture(scope="module")
def spark_session() -> object:
    from leadscore.engine.spark_lake import spark_session as start

    return start("local[1]")


def test_spark_reads_the_lakes_property_history(small_ws: Workspace, tmp_path: Path, spark_session: object) -> None:
    duck = _with_history(small_ws)
    counts = leadscore.export_data(tmp_path / "lake", workspace=duck)
    assert counts["property_history"] == 2
    root = tmp_path / "spark-ws"
    shutil.copytree(duck.root, root)
    set_engine(root, "spark", spark={"master": "local[1]", "source": str(tmp_path / "lake"), "output": "out"})
    lake = Workspace.load(root)
    runs = leadscore.score(workspace=lake, as_of=EARLY)  # the production path: a run on Spark
    assert not runs.failures
    _check(duck, lake, {when: _frame_scores(lake, when) for when in (EARLY, AS_OF)})
    # without the history, nothing is dated: Bob's values are assumed since his creation
    shutil.rmtree(tmp_path / "lake" / "property_history")
    assert _frame_scores(lake, EARLY)["c2"] > _duck_scores(duck, EARLY)["c2"]


def test_postgres_reads_the_named_property_history(small_ws: Workspace, tmp_path: Path, pg_database: str) -> None:
    duck = _with_history(small_ws)
    with duck.open_store(read_only=True) as store:
        copy_to_postgres(store, pg_database, "crm", {"property_history": "changes"})
    root = tmp_path / "pg-ws"
    shutil.copytree(duck.root, root)
    settings = {"dsn": "${TEST_PG_DSN}", "contacts": "crm.contacts", "events": "crm.events", "deals": "crm.deals",
                "property_history": "crm.changes", "schema": "scoring"}
    set_engine(root, "postgres", postgres=settings)
    os.environ["TEST_PG_DSN"] = pg_database
    pg = Workspace.load(root)
    runs = leadscore.score(workspace=pg, as_of=EARLY)
    assert not runs.failures
    _check(duck, pg, {when: _frame_scores(pg, when) for when in (EARLY, AS_OF)})
    # without `property_history`, nothing is dated: Bob's values are assumed since his creation
    set_engine(root, "postgres", postgres={k: v for k, v in settings.items() if k != "property_history"})
    plain = Workspace.load(root)
    assert _frame_scores(plain, EARLY)["c2"] > _duck_scores(duck, EARLY)["c2"]
