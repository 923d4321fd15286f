"""The store's tables, as numbered migrations.

Each migration is a list of steps, SQL statements or functions of the connection (for a step whose
SQL depends on the store, such as rebuilding a table with its custom columns);
``meta.schema_version`` records the last one applied, so a workspace made by an older release
opens and is upgraded in place (in one transaction).
Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import duckdb

from leadscore.storage.migrations_account_predict import ACCOUNT_PREDICT_MIGRATION
from leadscore.storage.migrations_accounts import ACCOUNTS_MIGRATION
from leadscore.storage.migrations_api import API_MIGRATION
from leadscore.storage.migrations_bulk import BULK_MIGRATION
from leadscore.storage.migrations_company_history import COMPANY_HISTORY_MIGRATION
from leadscore.storage.migrations_engines import ENGINES_MIGRATION
from leadscore.storage.migrations_history import HISTORY_MIGRATION
from leadscore.storage.migrations_lead_marks import LEAD_MARKS_MIGRATION
from leadscore.storage.migrations_lead_priority import LEAD_PRIORITY_MIGRATION
from leadscore.storage.migrations_lead_rows import LEAD_ROWS_MIGRATION
from leadscore.storage.migrations_predict import PREDICT_MIGRATION
from leadscore.storage.migrations_users import USERS_MIGRATION
from leadscore.storage.migrations_workflows import WORKFLOWS_MIGRATION

CORE_MIGRATION: list[str] = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE contacts (
        contact_id VARCHAR PRIMARY KEY,
        email VARCHAR, first_name VARCHAR, last_name VARCHAR, job_title VARCHAR,
        company VARCHAR, company_size BIGINT, industry VARCHAR, country VARCHAR, city VARCHAR,
        phone VARCHAR, website VARCHAR, lifecycle_stage VARCHAR, lead_source VARCHAR,
        owner VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP
    )""",
    # No primary key on events: a 20M-entry ART index costs more than the anti-join the
    # importer does to stay idempotent on event_id.
    """CREATE TABLE events (
        event_id VARCHAR NOT NULL, contact_id VARCHAR NOT NULL, type VARCHAR NOT NULL,
        occurred_at TIMESTAMP NOT NULL, url VARCHAR, referrer VARCHAR, campaign VARCHAR,
        form VARCHAR, email_subject VARCHAR, source VARCHAR
    )""",
    """CREATE TABLE deals (
        deal_id VARCHAR PRIMARY KEY, contact_id VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('won', 'lost', 'open')),
        amount DOUBLE, created_at TIMESTAMP, closed_at TIMESTAMP, name VARCHAR, pipeline VARCHAR
    )""",
    """CREATE TABLE model_versions (
        model VARCHAR NOT NULL, version INTEGER NOT NULL, hash VARCHAR NOT NULL,
        text VARCHAR NOT NULL, file VARCHAR, published_at TIMESTAMP NOT NULL, published_by VARCHAR,
        group_names VARCHAR[] NOT NULL, PRIMARY KEY (model, version)
    )""",
    # `groups` holds each group's points in the order of model_versions.group_names: a list of
    # doubles writes several times faster than a JSON object per row.
    """CREATE TABLE scores (
        model VARCHAR NOT NULL, contact_id VARCHAR NOT NULL, model_version INTEGER NOT NULL,
        score DOUBLE NOT NULL, tier VARCHAR NOT NULL, grade VARCHAR, groups DOUBLE[],
        as_of TIMESTAMP NOT NULL, computed_at TIMESTAMP NOT NULL, run_id VARCHAR NOT NULL
    )""",
    """CREATE TABLE score_history (
        model VARCHAR NOT NULL, contact_id VARCHAR NOT NULL, model_version INTEGER NOT NULL,
        score DOUBLE NOT NULL, tier VARCHAR NOT NULL, grade VARCHAR, groups DOUBLE[],
        prev_score DOUBLE, prev_tier VARCHAR, as_of TIMESTAMP NOT NULL,
        computed_at TIMESTAMP NOT NULL, run_id VARCHAR NOT NULL
    )""",
    # A tier crossing is a history row whose tier changed, so it is a view, not a second copy:
    # a first scoring of a million contacts writes a million rows once, not twice.
    """CREATE VIEW tier_crossings AS
        SELECT run_id, model, model_version, contact_id, prev_tier AS from_tier, tier AS to_tier,
               prev_score AS from_score, score AS to_score, as_of, computed_at
        FROM score_history WHERE tier IS DISTINCT FROM prev_tier""",
    """CREATE TABLE score_runs (
        run_id VARCHAR PRIMARY KEY, model VARCHAR NOT NULL, model_version INTEGER NOT NULL,
        scope VARCHAR NOT NULL, as_of TIMESTAMP NOT NULL, started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP, contacts BIGINT, changed BIGINT, crossings BIGINT
    )""",
    """CREATE TABLE imports (
        import_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, file VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL, inserted BIGINT, updated BIGINT, duplicates BIGINT,
        rejected BIGINT
    )""",
]

#: One step of a migration: SQL, or a function of the connection.
MigrationStep = str | Callable[[duckdb.DuckDBPyConnection], None]

MIGRATIONS: list[Sequence[MigrationStep]] = [
    CORE_MIGRATION,  # 1: contacts, events, deals, models, scores, history, runs, imports
    WORKFLOWS_MIGRATION,  # 2: outbox, deliveries, tasks, lists (storage/migrations_workflows.py)
    API_MIGRATION,  # 3: API keys (storage/migrations_api.py)
    PREDICT_MIGRATION,  # 4: predictive models and predictions (storage/migrations_predict.py)
    BULK_MIGRATION,  # 5: contacts/deals without PK, events.event_id in ZSTD (migrations_bulk.py)
    ENGINES_MIGRATION,  # 6: score_runs.engine / location for Spark and Postgres runs (migrations_engines.py)
    ACCOUNTS_MIGRATION,  # 7: companies, company_id on contacts/deals, account scores (migrations_accounts.py)
    USERS_MIGRATION,  # 8: dashboard users, sessions, feedback, drafts (migrations_users.py)
    HISTORY_MIGRATION,  # 9: property history, property_changes as its view (migrations_history.py)
    ACCOUNT_PREDICT_MIGRATION,  # 10: predictive models of companies (migrations_account_predict.py)
    LEAD_ROWS_MIGRATION,  # 11: the leads list's display table (migrations_lead_rows.py, lead_rows.py)
    COMPANY_HISTORY_MIGRATION,  # 12: company property history (migrations_company_history.py)
    LEAD_PRIORITY_MIGRATION,  # 13: lead_rows' predicted priority and probability (migrations_lead_priority.py)
    LEAD_MARKS_MIGRATION,  # 14: contacts whose lead_rows the server refreshes later (migrations_lead_marks.py)
]

SCHEMA_VERSION = len(MIGRATIONS)
