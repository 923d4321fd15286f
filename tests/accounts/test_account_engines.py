"""Account models on a workspace whose engine is Postgres but whose database has no companies table:
publishing one says so, naming the setting; one published before is reported as not scored, with
that reason, while the contact models score (tests/engine/test_engines_accounts.py scores account
models on Spark and Postgres)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.engine.test_postgres import _pair

import leadscore
from leadscore.engine_settings import EngineSettings
from leadscore.errors import BackendError
from leadscore.workspace import Workspace

ACCOUNTS = """\
name: accounts
level: account
groups:
  people:
    rules:
      - {name: best, points_from: {model: small, aggregate: max}}
"""


def test_score_on_postgres_without_companies_reports_the_account_model_and_scores_the_others(
        small_ws: Workspace, tmp_path: Path, pg_database: str) -> None:
    _, pg = _pair(small_ws, tmp_path, pg_database)
    (pg.models_dir / "accounts.yml").write_text(ACCOUNTS)
    with pytest.raises(BackendError, match="no table or view companies"):
        leadscore.publish(pg.models_dir / "accounts.yml", workspace=pg)
    on_duckdb = Workspace(pg.root, pg.settings.model_copy(update={"engine": EngineSettings()}))
    leadscore.publish(pg.models_dir / "accounts.yml", workspace=on_duckdb)
    runs = leadscore.score(workspace=pg)
    assert [r.model for r in runs] == ["small"]
    [failure] = runs.failures
    assert failure.model == "accounts" and "no table or view companies (postgres.companies" in failure.error
