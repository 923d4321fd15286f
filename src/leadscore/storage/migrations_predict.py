"""Migration: the predictive tables: trained model artefacts (LightGBM text + JSON, no pickle) and the
latest prediction per contact.

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

Why these shapes:

* ``predictive_models`` holds every trained version, like ``model_versions`` does for rule models:
  who trained it and when, the data window (``data_until`` and the cut-offs), the label and
  horizon, the metrics (JSON) and the artefact itself as text: ``spec`` is a JSON document (feature
  plan, categorical levels, calibration, logistic coefficients, training score distribution) and
  ``booster`` the LightGBM model in LightGBM's own text format (NULL for a logistic model).
  ``leadscore_version`` and ``format`` let a later release refuse an artefact it cannot read.
* ``predictions`` keeps the latest row per (model, contact_id); a run replaces the model's rows in
  one transaction. No primary key, on purpose: an index on a million rows costs more than the
  delete-and-insert that keeps rows unique. ``factors`` is JSON:
  ``{"positive": [{"factor": "job title = vp sales", "impact": 0.41}, ...], "negative": [...]}``
  (at most three of each; ``impact`` in log-odds).
* ``prediction_runs`` records each run with its drift figures, for reports and the dashboard.
"""

from __future__ import annotations

PREDICT_MIGRATION: list[str] = [
    """CREATE TABLE predictive_models (
        name VARCHAR NOT NULL, version INTEGER NOT NULL,
        trained_at TIMESTAMP NOT NULL, trained_by VARCHAR,
        leadscore_version VARCHAR NOT NULL, format INTEGER NOT NULL,
        label VARCHAR NOT NULL, horizon_days INTEGER,
        data_until TIMESTAMP NOT NULL, cutoffs TIMESTAMP[] NOT NULL,
        learner VARCHAR NOT NULL, calibration VARCHAR NOT NULL,
        metrics VARCHAR NOT NULL, spec VARCHAR NOT NULL, booster VARCHAR,
        PRIMARY KEY (name, version)
    )""",
    """CREATE TABLE predictions (
        model VARCHAR NOT NULL, model_version INTEGER NOT NULL, contact_id VARCHAR NOT NULL,
        probability DOUBLE NOT NULL,
        priority VARCHAR NOT NULL CHECK (priority IN ('very high', 'high', 'medium', 'low')),
        factors VARCHAR, as_of TIMESTAMP NOT NULL, computed_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE prediction_runs (
        run_id VARCHAR PRIMARY KEY, model VARCHAR NOT NULL, model_version INTEGER NOT NULL,
        as_of TIMESTAMP NOT NULL, computed_at TIMESTAMP NOT NULL, contacts BIGINT NOT NULL,
        mean_probability DOUBLE, psi DOUBLE, warnings VARCHAR[]
    )""",
]
