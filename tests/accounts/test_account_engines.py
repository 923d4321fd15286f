"""Account models on a workspace whose engine is Postgres but whose database has no companies table:
the account model is reported as not scored, with the reason naming the setting, while the contact
models score (tests/engine/test_engines_accounts.py scores account models on Spark and Postgres)."""

from __future__ import annotations

from pathlib import Path

from tests.engine.test_postgres import _pair

import leadscore
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
    leadscore.publish(pg.models_dir / "accounts.yml", workspace=pg)
    runs = leadscore.score(workspace=pg)
    assert [r.model for r in runs] == ["small"]
    [failure] = runs.failures
    assert failure.model == "accounts" and "no table or view companies (postgres.companies" in failure.error
