"""Migration: companies and account scores (issue 15).

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

Why these shapes:

* ``companies`` is keyed by ``company_id`` without a PRIMARY KEY, like ``contacts`` (the writers
  upsert; ``Store.check_keys`` checks it). ``domain`` is stored normalised
  (``storage/companies.py``) so that contacts can be matched on their e-mail domain.
* ``contacts.company_id`` and ``deals.company_id`` (VARCHAR): a contact belongs to at most one
  company; a deal may name its company. A store whose import already added a ``company_id``
  column keeps its values, as text.
* ``account_scores`` / ``account_score_history`` / ``account_tier_crossings`` mirror ``scores``,
  ``score_history`` and ``tier_crossings`` with ``company_id`` for ``contact_id``: the same run
  code writes both (``engine.run``), and no reader of contact scores ever sees a company's row.
  ``score_runs`` is shared: model names are unique across levels.
* ``outbox`` and ``tasks`` get a ``company_id`` and lose NOT NULL on ``contact_id``: an account
  workflow's webhook or task is about a company. ``workflow_state`` keeps the scored id (a
  company's for an account model) in ``contact_id``.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb


def _company_id_column(table: str) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """Add ``company_id VARCHAR`` to ``table``, or turn an imported one into text."""
    def step(con: duckdb.DuckDBPyConnection) -> None:
        row = con.execute("SELECT data_type FROM duckdb_columns() WHERE database_name = current_database() "
                          "AND schema_name = 'main' AND table_name = ? AND column_name = 'company_id'",
                          [table]).fetchone()
        if row is None:
            con.execute(f"ALTER TABLE {table} ADD COLUMN company_id VARCHAR")
        elif row[0] != "VARCHAR":
            con.execute(f"ALTER TABLE {table} ALTER COLUMN company_id TYPE VARCHAR")
    return step


ACCOUNTS_MIGRATION: list[str | Callable[[duckdb.DuckDBPyConnection], None]] = [
    """CREATE TABLE companies (
        company_id VARCHAR NOT NULL, name VARCHAR, domain VARCHAR, industry VARCHAR,
        employees BIGINT, annual_revenue DOUBLE, country VARCHAR, city VARCHAR, owner VARCHAR,
        created_at TIMESTAMP, updated_at TIMESTAMP
    )""",
    _company_id_column("contacts"),
    _company_id_column("deals"),
    """CREATE TABLE account_scores (
        model VARCHAR NOT NULL, company_id VARCHAR NOT NULL, model_version INTEGER NOT NULL,
        score DOUBLE NOT NULL, tier VARCHAR NOT NULL, grade VARCHAR, groups DOUBLE[],
        as_of TIMESTAMP NOT NULL, computed_at TIMESTAMP NOT NULL, run_id VARCHAR NOT NULL
    )""",
    """CREATE TABLE account_score_history (
        model VARCHAR NOT NULL, company_id VARCHAR NOT NULL, model_version INTEGER NOT NULL,
        score DOUBLE NOT NULL, tier VARCHAR NOT NULL, grade VARCHAR, groups DOUBLE[],
        prev_score DOUBLE, prev_tier VARCHAR, as_of TIMESTAMP NOT NULL,
        computed_at TIMESTAMP NOT NULL, run_id VARCHAR NOT NULL
    )""",
    """CREATE VIEW account_tier_crossings AS
        SELECT run_id, model, model_version, company_id, prev_tier AS from_tier, tier AS to_tier,
               prev_score AS from_score, score AS to_score, as_of, computed_at
        FROM account_score_history WHERE tier IS DISTINCT FROM prev_tier""",
    "ALTER TABLE outbox ADD COLUMN company_id VARCHAR",
    "ALTER TABLE outbox ALTER COLUMN contact_id DROP NOT NULL",
    "ALTER TABLE tasks ADD COLUMN company_id VARCHAR",
    "ALTER TABLE tasks ALTER COLUMN contact_id DROP NOT NULL",
]
