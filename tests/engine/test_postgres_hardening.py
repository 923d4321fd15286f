"""Engine postgres in a database that is not a test's blank slate: the user's own tables, types and
roles, a server reached another way, and a DSN with a secret in it (found by review)."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from tests.engine.test_postgres import _pair, _pg_rows, _store_rows
from tests.engines_data import EARLY, set_engine
from tests.smalldata import AS_OF

import leadscore
from leadscore.engine.postgres import PostgresBackend
from leadscore.engine_settings import PostgresSettings
from leadscore.errors import BackendError
from leadscore.workspace import Workspace


def test_user_tables_named_like_the_runs_own_are_left_alone(small_ws: Workspace, tmp_path: Path,
                                                             pg_database: str) -> None:
    with psycopg.connect(pg_database) as con:
        for name in ("ls_q", "ls_run"):
            con.execute(f"CREATE TABLE public.{name} (x int)")
            con.execute(f"INSERT INTO public.{name} VALUES (1)")
    _, pg = _pair(small_ws, tmp_path, pg_database)
    assert leadscore.score(workspace=pg, as_of=AS_OF)[0].contacts > 0
    assert _pg_rows(pg_database, "SELECT (SELECT count(*) FROM public.ls_q), (SELECT count(*) FROM public.ls_run)") \
        == [(1, 1)]


def test_a_uuid_column_reads_as_text_in_workflows_and_exports(small_ws: Workspace, tmp_path: Path,
                                                              pg_database: str) -> None:
    _, pg = _pair(small_ws, tmp_path, pg_database)
    with psycopg.connect(pg_database) as con:
        con.execute("ALTER TABLE crm.contacts ADD COLUMN crm_id uuid DEFAULT gen_random_uuid()")
    for when in (EARLY, AS_OF):
        assert not leadscore.score(workspace=pg, as_of=when).failures
    # every run the database committed is recorded in the store, and its workflows fired
    assert _store_rows(pg, "SELECT count(*) FROM score_runs")[0][0] == \
        _pg_rows(pg_database, 'SELECT count(*) FROM "scoring".leadscore_runs')[0][0] == 2
    assert _store_rows(pg, "SELECT count(*) FROM outbox")[0][0] > 0
    leadscore.export_scores(tmp_path / "scores.csv", workspace=pg)
    assert len((tmp_path / "scores.csv").read_text().splitlines()) > 1


def test_runs_are_known_by_id_wherever_the_server_was_reached(small_ws: Workspace, tmp_path: Path,
                                                              pg_database: str) -> None:
    """A socket today, TCP or another host of a multi-host DSN tomorrow: the store still knows its runs
    (it re-recorded every past run, and failed on its primary key, on every later score)."""
    _, pg = _pair(small_ws, tmp_path, pg_database)
    leadscore.score(workspace=pg, as_of=EARLY)
    with pg.open_store() as store:
        store.con.execute("UPDATE score_runs SET location = 'postgresql://elsewhere:5432/crm#scoring'")
    for _ in range(2):
        assert not leadscore.score(workspace=pg, as_of=AS_OF).failures
    assert _store_rows(pg, "SELECT count(*) FROM score_runs")[0][0] == 3


@pytest.mark.parametrize("dsn", ["postgresql://u:s3cr%t@localhost/db", "postgresql://u:s3cr3t@[localhost/db",
                                 "host=/nonexistent/dir user=u password=s3cr3t dbname=db"])
def test_connection_errors_never_show_the_password(dsn: str) -> None:
    os.environ["TEST_SECRET_DSN"] = dsn
    with pytest.raises(BackendError) as caught:
        PostgresBackend(PostgresSettings(dsn="${TEST_SECRET_DSN}"))
    assert "s3cr" not in str(caught.value) and "engine postgres" in str(caught.value)


def test_a_role_that_owns_its_schema_scores_without_create_on_the_database(
        small_ws: Workspace, tmp_path: Path, pg_database: str) -> None:
    _, pg = _pair(small_ws, tmp_path, pg_database, schema="owned")
    with psycopg.connect(pg_database, autocommit=True) as con:
        con.execute("DROP ROLE IF EXISTS scorer")
        con.execute("CREATE ROLE scorer LOGIN")
        con.execute("CREATE SCHEMA owned AUTHORIZATION scorer")
        con.execute("GRANT USAGE ON SCHEMA crm TO scorer")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA crm TO scorer")
        # the database's CREATE is not granted: PUBLIC has only CONNECT and TEMP
    try:
        os.environ["TEST_PG_DSN"] = pg_database.replace("user=leadscore", "user=scorer")
        set_engine(pg.root, "postgres", postgres={
            "dsn": "${TEST_PG_DSN}", "contacts": "crm.contacts", "events": "crm.events", "deals": "crm.deals",
            "schema": "owned"})
        runs = leadscore.score(workspace=Workspace.load(pg.root), as_of=AS_OF)
        assert not runs.failures and runs[0].contacts > 0
    finally:
        with psycopg.connect(pg_database, autocommit=True) as con:
            con.execute("DROP SCHEMA owned CASCADE")
            con.execute("DROP OWNED BY scorer")
            con.execute("DROP ROLE scorer")
