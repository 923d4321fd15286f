"""Migration: predictive models of companies (account training, issue 15).

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

Why these shapes:

* ``predictive_models.level`` (``contact`` or ``account``): one artefact table for both levels,
  like ``model_versions`` holds contact and account rule models; every reader of contact models
  filters on it, so a contact run never loads a model that learned companies. Names are unique
  across levels (training refuses a name the other level uses).
* ``account_predictions`` / ``account_prediction_runs`` mirror ``predictions`` and
  ``prediction_runs`` with ``company_id`` for ``contact_id``, as ``account_scores`` mirrors
  ``scores``: no reader of contact predictions (explain, exports, the API, the dashboard) ever
  sees a company's row.
* ``predictive_holdout`` keeps the scored id in ``contact_id``: a company's for an account model.
"""

from __future__ import annotations

ACCOUNT_PREDICT_MIGRATION: list[str] = [
    "ALTER TABLE predictive_models ADD COLUMN level VARCHAR DEFAULT 'contact'",
    "UPDATE predictive_models SET level = 'contact' WHERE level IS NULL",
    """CREATE TABLE account_predictions (
        model VARCHAR NOT NULL, model_version INTEGER NOT NULL, company_id VARCHAR NOT NULL,
        probability DOUBLE NOT NULL,
        priority VARCHAR NOT NULL CHECK (priority IN ('very high', 'high', 'medium', 'low')),
        factors VARCHAR, as_of TIMESTAMP NOT NULL, computed_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE account_prediction_runs (
        run_id VARCHAR PRIMARY KEY, model VARCHAR NOT NULL, model_version INTEGER NOT NULL,
        as_of TIMESTAMP NOT NULL, computed_at TIMESTAMP NOT NULL, companies BIGINT NOT NULL,
        mean_probability DOUBLE, psi DOUBLE, warnings VARCHAR[]
    )""",
]
