"""The library's front door: one function per CLI command, each taking a workspace.

Every ``leadscore`` command is a thin wrapper over one of these, so anything the CLI does a
script can do too::

    import leadscore
    leadscore.init("acme")
    leadscore.import_file("contacts", "hubspot.csv", workspace="acme")
    leadscore.publish("acme/models/b2b.yml", workspace="acme")
    runs = leadscore.score(workspace="acme", as_of="2025-06-30")
    print(leadscore.explain("c_123", workspace="acme").reasons())
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from leadscore.engine.explain import Explanation, explain_contact
from leadscore.engine.export import TopRow, top_scores
from leadscore.engine.export import export_scores as _export_scores
from leadscore.engine.preview import (
    ContactPreview,
    DistributionPreview,
    preview_contacts,
    preview_distribution,
)
from leadscore.engine.run import RunResult, score_published
from leadscore.engine.run import publish as publish_version
from leadscore.engine.run import score_one as _score_one
from leadscore.errors import ModelIssue, WorkspaceError
from leadscore.ingest import ColumnMapping, ImportResult
from leadscore.model.loader import LoadedModel, load_model
from leadscore.model.validate import validate_against_store, validate_model
from leadscore.storage.store import ModelVersion, Store
from leadscore.workspace import Workspace, init_workspace

WorkspaceLike = Workspace | str | Path | None


def _workspace(workspace: WorkspaceLike) -> Workspace:
    return workspace if isinstance(workspace, Workspace) else Workspace.load(workspace)


@contextmanager
def open_store(workspace: WorkspaceLike = None, *, read_only: bool = False) -> Iterator[Store]:
    """Open a workspace's store for the duration of a ``with`` block."""
    store = _workspace(workspace).open_store(read_only=read_only)
    try:
        yield store
    finally:
        store.close()


def init(directory: str | Path = ".") -> Workspace:
    """Create a workspace (settings, example model, store) in ``directory``."""
    return init_workspace(directory)


def import_file(kind: str, path: str | Path, *, workspace: WorkspaceLike = None,
                mapping: ColumnMapping | None = None, strict: bool = False,
                progress: Callable[[int, int], None] | None = None,
                file_format: str | None = None) -> ImportResult:
    """Import contacts, events or deals from CSV, Parquet or JSON lines (one transaction).

    Bad rows go to a rejects file in the workspace's ``rejects/`` with their line numbers and
    reasons; good rows still import (unless ``strict``).
    """
    from leadscore.ingest import import_file as _import

    ws = _workspace(workspace)
    with open_store(ws) as store:
        return _import(store, kind, path, mapping=mapping, strict=strict,  # type: ignore[arg-type]
                       rejects_dir=ws.rejects_dir, progress=progress, file_format=file_format)


def validate(model_path: str | Path, *, workspace: WorkspaceLike = None) -> tuple[LoadedModel, list[ModelIssue]]:
    """Validate a model file, against the workspace's store when there is one.

    Returns the model and its warnings; raises ModelError listing every error.
    """
    loaded = load_model(model_path)
    try:
        ws = _workspace(workspace)
    except WorkspaceError:  # no workspace: check against the built-in columns only
        return loaded, validate_model(loaded)
    with open_store(ws, read_only=True) as store:
        return loaded, validate_against_store(loaded, store)


def publish(model_path: str | Path, *, workspace: WorkspaceLike = None) -> ModelVersion:
    """Validate a model against the store and record it as a new version (no-op if unchanged)."""
    ws = _workspace(workspace)
    loaded = load_model(model_path)
    with open_store(ws) as store:
        validate_against_store(loaded, store)
        try:
            file = str(Path(model_path).resolve().relative_to(ws.root))
        except ValueError:
            file = str(model_path)
        return publish_version(store, loaded, file)


def score(*, workspace: WorkspaceLike = None, models: list[str] | None = None,
          as_of: datetime | str | None = None) -> list[RunResult]:
    """Score every contact with every published model (or the named ones) as of ``as_of``."""
    with open_store(workspace) as store:
        return score_published(store, models=models, as_of=as_of)


def score_one(contact_id: str, *, workspace: WorkspaceLike = None, models: list[str] | None = None,
              as_of: datetime | str | None = None) -> list[RunResult]:
    """Rescore one contact with every published model (same numbers as a batch run)."""
    with open_store(workspace) as store:
        return _score_one(store, contact_id, models=models, as_of=as_of)


def explain(contact_id: str, *, workspace: WorkspaceLike = None, model: str | None = None,
            as_of: datetime | str | None = None) -> Explanation:
    """Every rule behind a contact's score; by default at the as-of of its stored score."""
    with open_store(workspace, read_only=True) as store:
        return explain_contact(store, contact_id, model=model, as_of=as_of)


def preview(draft_path: str | Path, contact_ids: list[str], *, workspace: WorkspaceLike = None,
            as_of: datetime | str | None = None) -> list[ContactPreview]:
    """Score one or two leads with a draft model beside the published one, rule by rule."""
    draft = load_model(draft_path)
    with open_store(workspace, read_only=True) as store:
        validate_against_store(draft, store)
        return preview_contacts(store, draft, contact_ids, as_of=as_of)


def preview_tiers(draft_path: str | Path, *, workspace: WorkspaceLike = None,
                  as_of: datetime | str | None = None) -> DistributionPreview:
    """How many contacts land in each tier under a draft versus the published model."""
    draft = load_model(draft_path)
    with open_store(workspace, read_only=True) as store:
        validate_against_store(draft, store)
        return preview_distribution(store, draft, as_of=as_of)


def export_scores(out: str | Path, *, workspace: WorkspaceLike = None, file_format: str | None = None,
                  model: str | None = None) -> int:
    """Write stored scores to a CSV or Parquet file; returns the number of rows."""
    with open_store(workspace, read_only=True) as store:
        return _export_scores(store, out, file_format=file_format, model=model)


def top(*, workspace: WorkspaceLike = None, model: str | None = None, tier: str | None = None,
        n: int = 20) -> list[TopRow]:
    """The best-scored contacts."""
    with open_store(workspace, read_only=True) as store:
        return top_scores(store, model=model, tier=tier, n=n)
