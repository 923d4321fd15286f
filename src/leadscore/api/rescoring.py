"""The server's two ways of rescoring: some contacts at once (real time) and the whole base (schedule).

Both go through the workflows layer when it is installed, so a tier crossing queues its actions in
the same transaction as the scores; without it (a build without ``leadscore.workflows``) the engine
scores alone. Callers hold the store's writer: these functions write.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from datetime import datetime
from types import ModuleType
from typing import Any

import duckdb

from leadscore.engine.run import RunResult, score_published, score_some
from leadscore.storage.store import Store
from leadscore.workspace import Workspace


def _workflows_scoring() -> ModuleType | None:
    """``leadscore.workflows.scoring`` if this build has it (imported once, then cached by Python)."""
    try:
        return importlib.import_module("leadscore.workflows.scoring")
    except ModuleNotFoundError as exc:
        if exc.name not in ("leadscore.workflows", "leadscore.workflows.scoring"):
            raise
        return None


def rescore_contacts(store: Store, ws: Workspace, contact_ids: Sequence[str], *,
                     as_of: datetime | None = None) -> list[RunResult]:
    """Rescore these contacts with every published model, firing workflows on crossings."""
    ids = list(dict.fromkeys(contact_ids))
    if not ids:
        return []
    module = _workflows_scoring()
    if module is not None:
        fn: Callable[..., list[RunResult]] = module.rescore_contacts
        return fn(store, ws, ids, as_of=as_of)
    return score_some(store, ids, as_of=as_of)


def rescore_all(store: Store, ws: Workspace, *, models: list[str] | None = None,
                as_of: datetime | None = None) -> list[RunResult]:
    """Rescore every contact (decay and inactivity move scores without events)."""
    if not store.published_models():
        return []
    module = _workflows_scoring()
    if module is not None:
        fn: Callable[..., list[RunResult]] = module.rescore_all
        return fn(store, ws, models=models, as_of=as_of)
    return score_published(store, models=models, as_of=as_of)


def outbox_depth(store: Store) -> int:
    """Actions queued but not yet delivered (0 when the workflow tables are absent)."""
    try:
        row: Any = store.con.execute(
            "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')").fetchone()
    except duckdb.CatalogException:  # a build without the outbox table has nothing queued
        return 0
    return int(row[0]) if row else 0
