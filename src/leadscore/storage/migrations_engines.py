"""Migration: score runs of external engines (Spark, Postgres) recorded beside DuckDB's.

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.

A run on Spark or Postgres writes its scores where the data lives, but the workspace store still
records it (model version, as-of, counts) and fires its workflows. ``engine`` says which engine
ran it and ``location`` where the results are (an Iceberg warehouse, a Postgres schema), so that a
run committed by the engine but not yet recorded here can be recognised and recorded later.
"""

from __future__ import annotations

ENGINES_MIGRATION: list[str] = [
    "ALTER TABLE score_runs ADD COLUMN engine VARCHAR DEFAULT 'duckdb'",
    "ALTER TABLE score_runs ADD COLUMN location VARCHAR",
    "UPDATE score_runs SET engine = 'duckdb' WHERE engine IS NULL",
]
