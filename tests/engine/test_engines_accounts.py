"""Account models on Spark and Postgres as a product path: `leadscore score --engine spark|postgres`
scores them where the data is, with the same numbers as DuckDB (docs/engines.md "Account models").

The B2B workspace of tests/accounts/helpers.py (three companies, contacts matched by company_id and
by e-mail domain, an account model rolling up the `b2b` contact model, a workflow on entering
`sales_ready`) is scored on DuckDB and, from a copy, on each engine at two dates; the engine's
account scores, history and crossings, the runs and the fired workflows recorded in the store, the
account backtest and `export scores --level account` must equal DuckDB's — with a contact's title
changed between the dates, read as of each date from the engine's property history.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.accounts.helpers import AS_OF, build
from tests.engines_data import copy_to_postgres, set_engine

import leadscore
from leadscore.engine.backends import open_backend
from leadscore.engine_settings import EngineSettings
from leadscore.errors import ModelError
from leadscore.storage.history import write_properties
from leadscore.workspace import Workspace

EARLY = datetime(2025, 6, 10)
MOVED = datetime(2025, 6, 20)
#: The store's account tables and each engine's name for them.
TABLES = {"duckdb": ("account_scores", "account_score_history", "account_tier_crossings"),
          "postgres": ('"scoring".leadscore_account_scores', '"scoring".leadscore_account_score_history',
                       '"scoring".leadscore_account_tier_crossings')}


def _pair(tmp_path: Path) -> tuple[Workspace, Path]:
    """The B2B workspace (DuckDB) and a copy of its root, both published and not yet scored. dana,
    acme's CEO, was an Advisor from her first day until MOVED (between the two dates): every engine
    must read her title of then from its property history, as DuckDB does."""
    duck = build(tmp_path / "duck")
    with duck.open_store() as store, store.transaction() as con:
        write_properties(con, "dana", {"job_title": "Advisor"}, source="test", now=AS_OF,
                         changed_at=datetime(2025, 2, 1))
        write_properties(con, "dana", {"job_title": "CEO"}, source="test", now=AS_OF, changed_at=MOVED)
    engine_root = tmp_path / "engine-ws"
    shutil.copytree(duck.root, engine_root)
    return duck, engine_root


def _store_rows(ws: Workspace, sql: str) -> list[tuple[Any, ...]]:
    with ws.open_store(read_only=True) as store:
        return store.con.execute(sql).fetchall()


def _score_both(duck: Workspace, engine_ws: Workspace) -> None:
    for when in (EARLY, AS_OF):
        d_runs = leadscore.score(workspace=duck, as_of=when)
        e_runs = leadscore.score(workspace=engine_ws, as_of=when)
        assert not d_runs.failures and not e_runs.failures, e_runs.failures
        assert sorted((r.model, r.level, r.contacts, r.changed, r.crossings, r.tier_counts) for r in e_runs) == \
               sorted((r.model, r.level, r.contacts, r.changed, r.crossings, r.tier_counts) for r in d_runs)


def _same_scores(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> None:
    """(company_id, score, tier, groups) rows: ids and tiers exact, numbers within 1e-9."""
    assert [(r[0], r[2]) for r in got] == [(r[0], r[2]) for r in expected] != []
    for g, e in zip(got, expected, strict=True):
        assert g[1] == pytest.approx(e[1], abs=1e-9) and list(g[3]) == pytest.approx(list(e[3]), abs=1e-9)


def _check_store_side(duck: Workspace, engine_ws: Workspace, engine: str, tmp_path: Path) -> None:
    """What the workspace store holds after the engine's runs, and what reads the engine's results."""
    assert _store_rows(engine_ws, "SELECT engine, count(*) FROM score_runs GROUP BY 1") == [(engine, 4)]
    fired = "SELECT company_id, workflow, kind FROM outbox WHERE company_id IS NOT NULL ORDER BY 1, 2, 3"
    assert _store_rows(engine_ws, fired) == _store_rows(duck, fired) != []
    tasks = "SELECT company_id, owner, title FROM tasks WHERE company_id IS NOT NULL ORDER BY 1"
    assert _store_rows(engine_ws, tasks) == _store_rows(duck, tasks) != []
    payload = str(_store_rows(engine_ws, "SELECT payload FROM outbox WHERE company_id IS NOT NULL")[0][0])
    assert '"level":"account"' in payload and '"name":"Acme"' in payload  # the company's row, from the engine
    # `export scores --level account --engine ...` reads the engine's account scores
    leadscore.export_scores(tmp_path / "engine.csv", workspace=engine_ws, level="account")
    leadscore.export_scores(tmp_path / "duck.csv", workspace=duck, level="account")
    def without_computed_at(path: Path) -> list[str]:  # the last column: when each engine computed the row
        return [line.rsplit(",", 1)[0] for line in path.read_text().splitlines()]

    assert without_computed_at(tmp_path / "engine.csv") == without_computed_at(tmp_path / "duck.csv")
    # an account backtest on the engine runs the account query there, with the same figures
    d_bt = leadscore.backtest("accounts", workspace=duck, as_of=EARLY, horizon="90d").result
    e_bt = leadscore.backtest("accounts", workspace=engine_ws, as_of=EARLY, horizon="90d").result
    assert (e_bt.level, e_bt.contacts, e_bt.converters) == (d_bt.level, d_bt.contacts, d_bt.converters)
    assert e_bt.level == "account" and e_bt.converters > 0
    assert e_bt.auc == pytest.approx(d_bt.auc)


def _frame_scores(ws: Workspace, when: datetime) -> dict[str, float]:
    """The account model's query as of ``when`` on the workspace's engine, nothing written."""
    from leadscore.engine.account_sql import contact_models_for
    from leadscore.engine.run import model_of

    backend = open_backend(ws)
    assert backend is not None
    try:
        with ws.open_store(read_only=True) as store:
            model = model_of(store.get_version("accounts"))
            contact_models = contact_models_for(store, model)[0]  # type: ignore[arg-type]
        table = backend.frame(model, when, contact_models=contact_models, match_by_domain=True)
        return {r["company_id"]: r["score"] for r in table.select(["company_id", "score"]).to_pylist()}
    finally:
        backend.close()


@pytest.fixture(scope="module")
def spark_session() -> object:
    from leadscore.engine.spark_lake import spark_session as start

    return start("local[1]")


def test_spark_scores_account_models_as_duckdb_does(tmp_path: Path, spark_session: object) -> None:
    duck, root = _pair(tmp_path)
    counts = leadscore.export_data(tmp_path / "lake", workspace=duck)
    assert counts["companies"] == 3 and counts["property_history"] == 2
    set_engine(root, "spark", spark={"master": "local[1]", "source": str(tmp_path / "lake"), "output": "out"})
    lake = Workspace.load(root)
    _score_both(duck, lake)
    backend = open_backend(lake)
    assert backend is not None
    try:
        got = sorted((r["company_id"], r["score"], r["tier"], r["groups"])
                     for r in backend.read_table("account_scores").to_pylist())
        history = sorted(((r["company_id"], r["tier"], r["prev_tier"], r["as_of"])
                          for r in backend.read_table("account_score_history").to_pylist()), key=repr)
        crossings = sorted(((r["company_id"], r["from_tier"], r["to_tier"])
                            for r in backend.accounts.read("tier_crossings").to_pylist()),  # type: ignore[attr-defined]
                           key=repr)
        contact_scores = backend.read_table("scores")
    finally:
        backend.close()
    _same_scores(got, _store_rows(duck, "SELECT company_id, score, tier, groups FROM account_scores ORDER BY 1"))
    assert history == sorted(_store_rows(duck, "SELECT company_id, tier, prev_tier, as_of FROM account_score_history"),
                             key=repr)
    assert crossings == sorted(_store_rows(duck, "SELECT company_id, from_tier, to_tier FROM account_tier_crossings"),
                               key=repr) != []
    assert set(contact_scores.column("model").to_pylist()) == {"b2b"}  # the contacts' tables hold contacts only
    _check_store_side(duck, lake, "spark", tmp_path)
    assert _frame_scores(lake, EARLY) == pytest.approx(
        dict(_store_rows(duck, "SELECT company_id, score FROM account_score_history WHERE as_of = "
                               f"'{EARLY.isoformat()}'")), abs=1e-9)


def _on_postgres(tmp_path: Path, dsn: str) -> tuple[Workspace, Workspace]:
    """The B2B workspace (DuckDB) and a copy scoring its data copied into Postgres (companies as
    ``crm.firms``: the name comes from ``postgres.companies``)."""
    duck, root = _pair(tmp_path)
    with duck.open_store(read_only=True) as store:
        copy_to_postgres(store, dsn, "crm", {"companies": "firms", "property_history": "changes"})
    set_engine(root, "postgres", postgres={
        "dsn": "${TEST_PG_DSN}", "contacts": "crm.contacts", "events": "crm.events", "deals": "crm.deals",
        "companies": "crm.firms", "property_history": "crm.changes", "schema": "scoring"})
    os.environ["TEST_PG_DSN"] = dsn
    return duck, Workspace.load(root)


def test_postgres_scores_account_models_as_duckdb_does(tmp_path: Path, pg_database: str) -> None:
    duck, pg = _on_postgres(tmp_path, pg_database)
    _score_both(duck, pg)
    import psycopg

    def pg_rows(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(pg_database) as con:
            return con.execute(sql).fetchall()

    scores, history, crossings = TABLES["postgres"]
    _same_scores(pg_rows(f"SELECT company_id, score, tier, groups FROM {scores} ORDER BY 1"),
                 _store_rows(duck, "SELECT company_id, score, tier, groups FROM account_scores ORDER BY 1"))
    sql = "SELECT company_id, tier, prev_tier, as_of FROM {} ORDER BY as_of, company_id"
    assert pg_rows(sql.format(history)) == _store_rows(duck, sql.format("account_score_history"))
    sql = "SELECT company_id, from_tier, to_tier FROM {} ORDER BY 1, 2"
    assert pg_rows(sql.format(crossings)) == _store_rows(duck, sql.format("account_tier_crossings")) != []
    _check_store_side(duck, pg, "postgres", tmp_path)


def test_an_account_workflow_with_an_if_is_refused_off_duckdb(tmp_path: Path, pg_database: str) -> None:
    """An `if:` of an account workflow is evaluated on the store's tables: the engine run refuses the
    model with the reason (and scores the contact model), rather than firing it unchecked."""
    _, pg = _on_postgres(tmp_path, pg_database)
    text = (pg.models_dir / "accounts.yml").read_text()
    guarded = "on: {enters_tier: sales_ready}\n    if: {role: decision_maker}"
    (pg.models_dir / "accounts.yml").write_text(text.replace("on: {enters_tier: sales_ready}", guarded))
    with pytest.raises(ModelError, match="`if:` is evaluated on the workspace store, not on engine postgres"):
        leadscore.validate(pg.models_dir / "accounts.yml", workspace=pg)
    with pytest.raises(ModelError, match="`if:`"):
        leadscore.publish(pg.models_dir / "accounts.yml", workspace=pg)
    # published while the workspace scored on DuckDB, then run on Postgres: refused, the others score
    on_duckdb = Workspace(pg.root, pg.settings.model_copy(update={"engine": EngineSettings()}))
    leadscore.publish(pg.models_dir / "accounts.yml", workspace=on_duckdb)
    runs = leadscore.score(workspace=pg, as_of=AS_OF)
    assert [r.model for r in runs] == ["b2b"]
    [failure] = runs.failures
    assert failure.model == "accounts" and "`if:`" in failure.error and "postgres" in failure.error
