"""Reading an external engine's data with the store's readers: ``backtest`` and ``report --engine``.

A backtest or a report asks three things of a workspace: the model's query as of a past date
with per-rule columns (the expensive part: every event of the period), the outcomes (contacts'
creation dates, won deals), and what was stored (scores, history, the runs' as-ofs). On
``--engine spark`` or ``postgres`` these live where the engine keeps them, so ``engine_store``
builds an in-memory DuckDB ``Store`` that mirrors them for the length of one command:

* the model's queries are **run on the engine** — ``Store.scored_by`` makes
  ``engine.run.compiled_sql`` return SQL over the rows the engine computed for that query
  (``Backend.frame``), so every reader of compiled SQL (backtest frames, audits, suggestions)
  uses the engine's numbers;
* ``contacts``, ``deals`` and ``companies`` are the engine's tables, ``scores``, ``score_history``
  and the ``account_`` ones its output tables (an account model's queries run on the engine too,
  with the published contact models it rolls up); ``model_versions`` and the engine's
  ``score_runs`` come from the workspace store;
* ``events`` holds one row, the latest event's time: readers of the store ask events only for
  that ("what is the latest moment the data knows?"); scoring never reads the mirror's events.

Nothing is written anywhere: the mirror disappears when the command ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from leadscore.engine.account_sql import contact_models_for
from leadscore.engine.backends import Backend, register
from leadscore.model.account_spec import AccountModel
from leadscore.storage.store import Store

if TYPE_CHECKING:
    import pyarrow as pa


@contextmanager
def engine_store(store: Store, backend: Backend) -> Iterator[Store]:
    """An in-memory store mirroring ``backend``'s data and results (see the module docstring)."""
    mirror = Store.open(":memory:")
    try:
        _copy(store, mirror, "model_versions", "SELECT * FROM model_versions")
        _copy(store, mirror, "score_runs",
              "SELECT * REPLACE ('duckdb' AS engine) FROM score_runs WHERE engine = ? AND location = ?",
              [backend.engine, backend.location])
        for table in ("contacts", "deals", "companies"):
            _replace(mirror, table, backend.read_source(table))
        for table in ("scores", "score_history", "account_scores", "account_score_history"):
            _replace(mirror, table, backend.read_table(table))
        mirror.match_by_domain = store.match_by_domain
        latest = backend.latest_event()
        if latest is not None:
            mirror.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                               "VALUES ('latest', 'latest', 'latest', ?)", [latest])
        mirror.scored_by = _scorer(mirror, backend)
        yield mirror
    finally:
        mirror.close()


def _scorer(mirror: Store, backend: Backend) -> Any:
    def scored(model: Any, as_of: datetime, contact_id: str | None, detail: bool) -> str:
        name = f"_ls_frame_{uuid.uuid4().hex[:12]}"
        contact_models = contact_models_for(mirror, model)[0] if isinstance(model, AccountModel) else None
        register(mirror.con, name, backend.frame(model, as_of, contact_id=contact_id, detail=detail,
                                                 contact_models=contact_models,
                                                 match_by_domain=mirror.match_by_domain))
        return f"SELECT * FROM {name}"
    return scored


def _copy(source: Store, mirror: Store, table: str, sql: str, params: list[Any] | None = None) -> None:
    source.con.execute("SELECT 1").fetchall()  # finish a result a fetchone left open
    rows = source.con.sql(sql, params=params or None).to_arrow_table()
    register(mirror.con, "_ls_copy", rows)
    mirror.con.execute(f"INSERT INTO {table} SELECT * FROM _ls_copy")
    mirror.con.unregister("_ls_copy")


def _replace(mirror: Store, table: str, rows: pa.Table | None) -> None:
    """The mirror's ``table`` becomes ``rows`` (the engine's columns; none: left empty)."""
    if rows is None:
        return
    register(mirror.con, "_ls_rows", rows)
    mirror.con.execute(f"DROP TABLE IF EXISTS {table}")  # tier_crossings is bound again on use
    mirror.con.execute(f"CREATE TABLE {table} AS SELECT * FROM _ls_rows")
    mirror.con.unregister("_ls_rows")
