"""The server's two ways of rescoring: some contacts at once (real time) and the whole base (schedule).

Both go through the workflows layer, so a tier crossing queues its actions in the same transaction
as the scores. Callers hold the store's writer: these functions write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from leadscore.engine.run import RunResult
from leadscore.model.loader import LoadedModel
from leadscore.storage.store import ModelVersion, Store
from leadscore.workflows import scoring
from leadscore.workspace import Workspace


def rescore_contacts(store: Store, ws: Workspace, contact_ids: Sequence[str], *,
                     models: list[str] | None = None, as_of: datetime | None = None) -> list[RunResult]:
    """Rescore these contacts with every published model (or ``models``), firing workflows on crossings."""
    ids = list(dict.fromkeys(contact_ids))
    if not ids:
        return []
    return scoring.rescore_contacts(store, ws, ids, models=models, as_of=as_of)


def rescore_all(store: Store, ws: Workspace, *, models: list[str] | None = None,
                as_of: datetime | None = None) -> list[RunResult]:
    """Rescore every contact (decay and inactivity move scores without events)."""
    if not store.published_models():
        return []
    return scoring.rescore_all(store, ws, models=models, as_of=as_of)


def publish_and_rescore(store: Store, ws: Workspace, loaded: LoadedModel, file: str, *, rescore: bool = True,
                        published_by: str | None = None,
                        as_of: datetime | None = None) -> tuple[ModelVersion, bool, list[RunResult]]:
    """Record a validated model as its next version and rescore everyone with it (as of ``as_of``,
    default now), in the caller's transaction (the writer's). Returns the version, whether it is
    new (the latest text again records nothing and rescores nothing), and the runs. Used by
    ``POST /v1/models`` and the dashboard's publish button."""
    before = store.latest_version(loaded.model.name)
    version = store.publish_model(loaded.model.name, loaded.text, loaded.hash, file,
                                  list(loaded.model.groups), published_by)
    new = before is None or before.version != version.version
    runs = rescore_all(store, ws, models=[version.model], as_of=as_of) if new and rescore else []
    return version, new, runs


def outbox_depth(store: Store) -> int:
    """Actions queued but not yet delivered."""
    row: Any = store.con.execute(
        "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')").fetchone()
    return int(row[0]) if row else 0
