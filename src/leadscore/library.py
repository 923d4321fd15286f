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

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.errors import LeadscoreError, WorkspaceError
from leadscore.timeutil import parse_as_of, refuse_future

# Everything else is imported inside the functions that use it: `leadscore --help` and
# `leadscore validate` must start in a fraction of a second (docs/architecture.md).
if TYPE_CHECKING:
    from typing import TypeAlias

    from leadscore.engine.accounts_read import AccountRow
    from leadscore.engine.explain import Explanation
    from leadscore.engine.explain_accounts import AccountExplanation
    from leadscore.engine.export import TopRow
    from leadscore.engine.preview import ContactPreview, DistributionPreview
    from leadscore.errors import ModelIssue
    from leadscore.ingest import ColumnMapping, ImportResult
    from leadscore.ingest.columns import ColumnProfile
    from leadscore.ingest.history import HistoryImportResult
    from leadscore.model.loader import LoadedModel
    from leadscore.predictive.predict import PredictResult
    from leadscore.predictive.train import TrainResult
    from leadscore.reports.backtest import BacktestRun
    from leadscore.reports.build import Report
    from leadscore.reports.suggest import Suggestion
    from leadscore.scoring import ScoreRuns
    from leadscore.storage.store import ModelVersion, Store
    from leadscore.workflows.outbox import Delivery
    from leadscore.workspace import Workspace

    WorkspaceLike: TypeAlias = Workspace | str | Path | None
else:
    WorkspaceLike = Any


def _workspace(workspace: WorkspaceLike) -> Workspace:
    from leadscore.workspace import Workspace

    return workspace if isinstance(workspace, Workspace) else Workspace.load(workspace)


def _instant(as_of: datetime | str | None) -> datetime | None:
    """An as-of given by a caller, parsed once here (None keeps its meaning: a default chosen below)."""
    return None if as_of is None else parse_as_of(as_of)


@contextmanager
def open_store(workspace: WorkspaceLike = None, *, read_only: bool = False) -> Iterator[Store]:
    """Open a workspace's store for the duration of a ``with`` block."""
    store = _workspace(workspace).open_store(read_only=read_only)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def reading_store(workspace: WorkspaceLike = None, engine: str | None = None) -> Iterator[Store]:
    """The store to read a workspace's data from: the store itself, or, on an external engine,
    an in-memory mirror whose model queries run on that engine (``engine.mirror``)."""
    from leadscore.engine.backends import open_backend
    from leadscore.engine.mirror import engine_store

    ws = _workspace(workspace)
    backend = open_backend(ws, engine)
    with open_store(ws, read_only=True) as store:
        if backend is None:
            yield store
            return
        try:
            with engine_store(store, backend) as mirror:
                yield mirror
        finally:
            backend.close()


def init(directory: str | Path = ".") -> Workspace:
    """Create a workspace (settings, example model, store) in ``directory``."""
    from leadscore.workspace import init_workspace

    return init_workspace(directory)


def import_file(kind: str, path: str | Path, *, workspace: WorkspaceLike = None,
                mapping: ColumnMapping | None = None, strict: bool = False,
                progress: Callable[[int, int], None] | None = None,
                file_format: str | None = None, allow_new_ids: bool = False) -> ImportResult:
    """Import contacts, events, deals or companies from CSV, Parquet or JSON lines (one transaction).

    Bad rows go to a rejects file in the workspace's ``rejects/`` with their line numbers and
    reasons; good rows still import (unless ``strict``). A contacts file that would store people
    already there under new ids is refused unless ``allow_new_ids``. The workspace's
    ``null_values`` are read as empty, as the mapping's are.
    """
    from leadscore.ingest import ColumnMapping
    from leadscore.ingest import import_file as _import

    ws = _workspace(workspace)
    if ws.settings.null_values:
        mapping = (mapping or ColumnMapping()).with_null_values(ws.settings.null_values)
    with open_store(ws) as store:
        return _import(store, kind, path, mapping=mapping, strict=strict,  # type: ignore[arg-type]
                       rejects_dir=ws.rejects_dir, progress=progress, file_format=file_format,
                       allow_new_ids=allow_new_ids)


def columns(table: str | None = None, *, workspace: WorkspaceLike = None) -> list[ColumnProfile]:
    """Every column of contacts and events (or of ``table``): type, fill rate, most frequent values."""
    from leadscore.ingest.columns import TABLES, column_profiles

    if table is not None and table not in TABLES:
        raise LeadscoreError(f"unknown table `{table}`: use contacts or events")
    with open_store(workspace, read_only=True) as store:
        return column_profiles(store, (table,) if table else TABLES)


def import_history(path: str | Path, *, workspace: WorkspaceLike = None, mapping: ColumnMapping | None = None,
                   strict: bool = False, file_format: str | None = None) -> HistoryImportResult:
    """Import a file of contact property changes into the property history (one transaction).

    Long format ``contact_id, property, value, changed_at`` or interval format ``contact_id,
    property, value, valid_from, valid_to``; importing the same file twice changes nothing. A file
    keyed by ``company_id`` instead holds company property changes (the companies' history).
    """
    from leadscore.ingest.history import import_history as _import

    ws = _workspace(workspace)
    with open_store(ws) as store:
        return _import(store, path, mapping=mapping, rejects_dir=ws.rejects_dir, strict=strict,
                       file_format=file_format)


def history(contact_id: str, *, workspace: WorkspaceLike = None, prop: str | None = None,
            model: str | None = None, limit: int = 100, level: str | None = None) -> dict[str, Any]:
    """A contact's property changes (with when each became true) and score changes, newest first.

    ``contact_id`` may be the id, the e-mail or a value of another id column (``engine.lookup``);
    an unknown model or property is an error naming the known ones. A company's (its account score
    changes, ``company_id`` in place of ``contact_id``) with ``level="account"``, an account
    ``model``, or an id that names a company and no contact, as ``explain`` decides.
    """
    from leadscore.engine.accounts_read import company_history
    from leadscore.engine.explain_accounts import wants_company
    from leadscore.engine.lookup import checked_model, find_contact
    from leadscore.storage.history import contact_history

    with open_store(workspace, read_only=True) as store:
        if wants_company(store, contact_id, model=model, level=level):
            return company_history(store, contact_id, model=model, prop=prop, limit=limit)
        if model is not None:
            checked_model(store, model)
        return contact_history(store.con, find_contact(store, contact_id), model=model, prop=prop, limit=limit)


def validate(model_path: str | Path, *, workspace: WorkspaceLike = None,
             engine: str | None = None) -> tuple[LoadedModel, list[ModelIssue]]:
    """Validate a model file, against the workspace's store when there is one.

    On an external engine (``engine``, default: the workspace's), the model is checked against
    that engine's tables and against what it can compute (docs/engines.md). Returns the model and
    its warnings; raises ModelError listing every error.
    """
    from leadscore.engine.limits import check_runnable, is_large
    from leadscore.model.loader import load_model
    from leadscore.model.validate import validate_model
    from leadscore.storage.store import Store

    loaded = load_model(model_path)
    try:
        ws = _workspace(workspace)
    except WorkspaceError:  # no workspace: check against the built-in columns only
        warnings = validate_model(loaded, engine=engine)
        if is_large(loaded):
            with Store.open(":memory:") as empty:
                check_runnable(empty, loaded)
        return loaded, warnings
    return loaded, _validate_loaded(loaded, ws, engine)


def _validate_loaded(loaded: LoadedModel, ws: Workspace, engine: str | None = None, *,
                     always: bool = False) -> list[ModelIssue]:
    """A model checked where it will run: the store's columns (and what DuckDB cannot plan:
    large models, or any with ``always``, as publishing asks), or an external engine's tables (for
    an account model, with the contact models published in the store)."""
    from leadscore.engine.limits import check_runnable
    from leadscore.engine.publish_checks import check_publishable
    from leadscore.model.account_spec import AccountModel
    from leadscore.model.validate import validate_against_store
    from leadscore.model.validate_accounts import published_contact_models

    external = (engine or ws.settings.engine.name).lower() != "duckdb"  # `validate` on DuckDB stays light
    if external:
        from leadscore.engine.backends import open_backend

        backend = open_backend(ws, engine)
        if backend is not None:
            try:
                contact_models = None
                if isinstance(loaded.model, AccountModel):
                    with open_store(ws, read_only=True) as store:
                        contact_models = published_contact_models(store)
                return validate_against_store(loaded, backend, engine=backend.engine, contact_models=contact_models)
            finally:
                backend.close()
    with open_store(ws, read_only=True) as store:
        warnings = validate_against_store(loaded, store)
        check_runnable(store, loaded, always=always)  # what DuckDB cannot plan is refused now, not at the first run
        check_publishable(store, loaded)  # a level change, an account model it would break: publish refuses them
        return warnings


def publish(model_path: str | Path, *, workspace: WorkspaceLike = None) -> ModelVersion:
    """Validate a model (where the workspace scores) and record it as a new version (no-op if unchanged)."""
    from leadscore.engine.run import publish as publish_version
    from leadscore.model.loader import load_model

    ws = _workspace(workspace)
    loaded = load_model(model_path)
    _validate_loaded(loaded, ws, always=True)
    with open_store(ws) as store:
        try:
            file = str(Path(model_path).resolve().relative_to(ws.root))
        except ValueError:
            file = str(model_path)
        return publish_version(store, loaded, file)


def score(*, workspace: WorkspaceLike = None, models: list[str] | None = None,
          as_of: datetime | str | None = None, predict: bool = True, allow_future: bool = False,
          engine: str | None = None, source: str | None = None, output: str | None = None) -> ScoreRuns:
    """Score every contact with every published model (or the named ones) as of ``as_of``.

    Goes through ``leadscore.scoring.score_all``, the one home of a score run: crossings queue
    their actions in the run's transaction, exactly as the server's real-time path does, and a
    model that fails is reported in ``.failures`` while the others score. Once a predictive model
    has been trained, its predictions are refreshed at the same as-of too (``.predicted``;
    ``predict=False`` skips that). ``.waiting`` counts deliveries the worker has yet to send. An
    ``as_of`` in the future is refused unless ``allow_future`` (``timeutil.refuse_future``).

    ``engine`` (default: the workspace's ``engine.name``) runs the models on Spark or inside
    Postgres instead (docs/engines.md); ``source`` / ``output`` name a lake and where results go
    (engine spark). Runs are recorded and workflows fire in the store as with DuckDB.
    """
    from leadscore.engine.backends import open_backend
    from leadscore.scoring import score_all
    from leadscore.workflows.outbox import undelivered_count

    refuse_future(as_of, allow=allow_future)
    when = parse_as_of(as_of)
    ws = _workspace(workspace)
    backend = open_backend(ws, engine, source=source, output=output)
    with open_store(ws) as store:
        try:
            runs = score_all(store, as_of=when, models=models, backend=backend)
        finally:
            if backend is not None:
                backend.close()
        runs.waiting = undelivered_count(store, ("pending",))
        if predict and backend is None:  # predictions read the store's data
            runs.predicted = _refresh_predictions(store, when)
    return runs


def refresh_predictions(*, workspace: WorkspaceLike = None,
                        as_of: datetime | str | None = None) -> PredictResult | None:
    """Predict again with the latest predictive model, if one was trained (None otherwise)."""
    with open_store(workspace) as store:  # one open: the check and the run share it
        return _refresh_predictions(store, parse_as_of(as_of))


def _refresh_predictions(store: Store, as_of: datetime) -> PredictResult | None:
    from leadscore.predictive.artefact import predictive_names
    from leadscore.predictive.predict import predict_contacts

    return predict_contacts(store, as_of=as_of) if predictive_names(store) else None


def score_one(contact_id: str, *, workspace: WorkspaceLike = None, models: list[str] | None = None,
              as_of: datetime | str | None = None, allow_future: bool = False) -> ScoreRuns:
    """Rescore one contact with every published model (same numbers as a batch run), firing workflows."""
    from leadscore.scoring import score_contacts
    from leadscore.workflows.outbox import undelivered_count

    refuse_future(as_of, allow=allow_future)
    when = parse_as_of(as_of)
    with open_store(workspace) as store:
        runs = score_contacts(store, [contact_id], as_of=when, models=models)
        runs.waiting = undelivered_count(store, ("pending",))
        return runs


def explain(contact_id: str, *, workspace: WorkspaceLike = None, model: str | None = None,
            as_of: datetime | str | None = None, level: str | None = None) -> Explanation | AccountExplanation:
    """Every rule behind a contact's score; by default at the as-of of its stored score.

    A company id (``level="account"``, an account ``model``, or an id that names a company and no
    contact) explains the company's account score, down to the contacts and events behind each rule.
    """
    from leadscore.engine.explain_accounts import explain_any

    with open_store(workspace, read_only=True) as store:
        return explain_any(store, contact_id, model=model, as_of=_instant(as_of), level=level)


def score_company(company_id: str, *, workspace: WorkspaceLike = None, models: list[str] | None = None,
                  as_of: datetime | str | None = None, allow_future: bool = False) -> ScoreRuns:
    """Rescore one company with every published account model (same numbers as a batch run).

    An unknown company is a ``NotFoundError`` naming close ids; a named model that is not an account
    model a ``LeadscoreError`` (``--contact`` rescores contact models)."""
    from leadscore.engine.account_sql import account_model_names
    from leadscore.engine.lookup import find_company
    from leadscore.scoring import score_companies
    from leadscore.workflows.outbox import undelivered_count

    refuse_future(as_of, allow=allow_future)
    when = parse_as_of(as_of)
    with open_store(workspace) as store:
        find_company(store, company_id)
        accounts = account_model_names(store)
        for name in models or []:
            store.get_version(name)  # an unknown name: NotFoundError naming the published ones
            if name not in accounts:
                raise LeadscoreError(f"`{name}` is a contact model: a company is scored by account models "
                                     f"({', '.join(accounts) or 'none published'}); rescore a contact with --contact")
        if not accounts:
            raise LeadscoreError("no published account model: a company is scored by a model with `level: account` "
                                 "(docs/model-reference.md#account-models)")
        runs = score_companies(store, [company_id], as_of=when, models=models)
        runs.waiting = undelivered_count(store, ("pending",))
        return runs


def preview(draft_path: str | Path, contact_ids: list[str], *, workspace: WorkspaceLike = None,
            as_of: datetime | str | None = None) -> list[ContactPreview]:
    """Score one or two leads with a draft model beside the published one, rule by rule."""
    from leadscore.engine.preview import preview_contacts
    from leadscore.model.loader import load_model
    from leadscore.model.validate import validate_against_store

    draft = load_model(draft_path)
    with open_store(workspace, read_only=True) as store:
        validate_against_store(draft, store)
        return preview_contacts(store, draft, contact_ids, as_of=_instant(as_of))


def preview_tiers(draft_path: str | Path, *, workspace: WorkspaceLike = None,
                  as_of: datetime | str | None = None) -> DistributionPreview:
    """How many contacts land in each tier under a draft versus the published model."""
    from leadscore.engine.preview import preview_distribution
    from leadscore.model.loader import load_model
    from leadscore.model.validate import validate_against_store

    draft = load_model(draft_path)
    with open_store(workspace, read_only=True) as store:
        validate_against_store(draft, store)
        return preview_distribution(store, draft, as_of=_instant(as_of))


def export_scores(out: str | Path, *, workspace: WorkspaceLike = None, file_format: str | None = None,
                  model: str | None = None, engine: str | None = None, level: str = "contact") -> int:
    """Write stored scores to a CSV or Parquet file; returns the number of rows.

    ``engine`` (default: the workspace's) reads the scores a Spark or Postgres run wrote there,
    in the same columns. ``level="account"`` writes the companies' account scores instead (one row
    per company and account model), from the engine's ``account_scores`` on Spark or Postgres.
    """
    from leadscore.engine.accounts_read import export_account_scores
    from leadscore.engine.backends import open_backend, shadow_scores
    from leadscore.engine.export import export_scores as _export_scores

    ws = _workspace(workspace)
    account = _level(level) == "account"
    table = "account_scores" if account else "scores"

    def export(store: Store) -> int:
        if account:
            return export_account_scores(store, out, file_format=file_format, model=model)
        return _export_scores(store, out, file_format=file_format, model=model)

    backend = open_backend(ws, engine)
    with open_store(ws, read_only=True) as store:
        if backend is None:
            return export(store)
        try:
            with shadow_scores(store, backend, model, table=table):
                return export(store)
        finally:
            backend.close()


def export_data(out: str | Path, *, workspace: WorkspaceLike = None, replace: bool = False) -> dict[str, int]:
    """Write the workspace's contacts, events and deals as Parquet under ``out`` (a lake for engine
    spark: ``out/contacts/``, ``out/events/``, ``out/deals/``); returns rows per table."""
    from leadscore.engine.lake_export import export_data as _export_data

    with open_store(workspace, read_only=True) as store:
        return _export_data(store, out, replace=replace)


def export_predictions(out: str | Path, *, workspace: WorkspaceLike = None, file_format: str | None = None,
                       model: str | None = None, level: str = "contact") -> int:
    """Write stored predictions (probability, priority, reasons) to CSV or Parquet; no rule model needed.
    ``level="account"``: the companies' predictions (``predict --level account``)."""
    from leadscore.engine.export import export_predictions as _export

    if _level(level) == "account":
        from leadscore.engine.accounts_read import export_account_predictions

        with open_store(workspace, read_only=True) as store:
            return export_account_predictions(store, out, file_format=file_format, model=model)
    with open_store(workspace, read_only=True) as store:
        return _export(store, out, file_format=file_format, model=model)


def top(*, workspace: WorkspaceLike = None, model: str | None = None, tier: str | None = None,
        n: int = 20) -> list[TopRow]:
    """The best-scored contacts."""
    from leadscore.engine.export import top_scores

    with open_store(workspace, read_only=True) as store:
        return top_scores(store, model=model, tier=tier, n=n)


def top_accounts(*, workspace: WorkspaceLike = None, model: str | None = None, tier: str | None = None,
                 owner: str | None = None, n: int = 20) -> list[AccountRow]:
    """The best-scored companies of an account model (``leadscore top --level account``)."""
    from leadscore.engine.accounts_read import top_accounts as _top

    with open_store(workspace, read_only=True) as store:
        return _top(store, model=model, tier=tier, owner=owner, n=n)


def accounts_for_owner(owner: str, *, workspace: WorkspaceLike = None, model: str | None = None,
                       n: int = 100) -> list[AccountRow]:
    """The companies a rep owns, best first (the dashboard's accounts list)."""
    from leadscore.engine.accounts_read import accounts_for_owner as _for

    with open_store(workspace, read_only=True) as store:
        return _for(store, owner, model=model, n=n)


def account_detail(company_id: str, *, workspace: WorkspaceLike = None) -> dict[str, Any]:
    """A company's page: properties, account scores, contacts with their scores (the dashboard's
    account page; the rules behind a score are ``explain(company_id, level="account")``)."""
    from leadscore.engine.accounts_read import account_detail as _detail

    with open_store(workspace, read_only=True) as store:
        return _detail(store, company_id)


def _level(level: str) -> str:

    if level not in ("contact", "account"):
        raise LeadscoreError(f"unknown level {level!r}: contact or account")
    return level


# ---------------------------------------------------------------------------- workflows (issue 4)


def deliveries(*, workspace: WorkspaceLike = None, status: str | None = None, limit: int = 100,
               after: str | None = None) -> list[Delivery]:
    """Webhook and e-mail actions in the outbox, newest first (``status``: pending, failed, dead...)."""
    from leadscore.workflows.outbox import list_deliveries

    with open_store(workspace, read_only=True) as store:
        return list_deliveries(store, status=status, limit=limit, after=after)


def delivery_counts(*, workspace: WorkspaceLike = None) -> dict[str, int]:
    """How many outbox actions are in each status (pending, sending, delivered, dead)."""
    with open_store(workspace, read_only=True) as store:
        return dict(store.con.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())


def delivery_attempts(action_id: str, *, workspace: WorkspaceLike = None) -> list[dict[str, Any]]:
    """Every attempt to deliver one action, with its status code or error."""
    from leadscore.workflows.outbox import attempts_of

    with open_store(workspace, read_only=True) as store:
        return attempts_of(store, action_id)


def retry_deliveries(action_ids: list[str] | None = None, *, workspace: WorkspaceLike = None,
                     all_dead: bool = False) -> int:
    """Replay dead (or waiting) deliveries now, with a fresh retry window; returns how many."""
    from leadscore.timeutil import utcnow
    from leadscore.workflows.outbox import retry

    with open_store(workspace) as store:
        return retry(store, action_ids=action_ids, all_dead=all_dead, now=utcnow())


def purge_deliveries(*, workspace: WorkspaceLike = None, older_than_days: float = 30) -> int:
    """Delete delivered actions older than ``older_than_days`` (dead and pending ones stay)."""
    from datetime import timedelta

    from leadscore.timeutil import utcnow
    from leadscore.workflows.outbox import purge_delivered

    with open_store(workspace) as store:
        return purge_delivered(store, before=utcnow() - timedelta(days=older_than_days))


def run_worker(*, workspace: WorkspaceLike = None, stop: threading.Event | None = None,
               poll_seconds: float = 1.0, until_idle: bool = False,
               on_round: Callable[[int], None] | None = None,
               on_busy: Callable[[str], None] | None = None) -> int:
    """Deliver webhooks and e-mails until ``stop`` is set (or, ``until_idle``, nothing is due)."""
    from leadscore.workflows.worker import run_standalone

    return run_standalone(_workspace(workspace), stop or threading.Event(), poll_seconds=poll_seconds,
                          until_idle=until_idle, on_round=on_round, on_busy=on_busy)


def lists(*, workspace: WorkspaceLike = None) -> list[dict[str, Any]]:
    """Every list, static (filled by workflows) and dynamic (segments), with its size."""
    from leadscore.workflows.lists import count_members, list_names

    ws = _workspace(workspace)
    with open_store(ws, read_only=True) as store:
        return [{"name": name, "kind": "segment" if name in ws.settings.segments else "static",
                 "members": count_members(store, ws, name)} for name in list_names(store, ws)]


def list_members(name: str, *, workspace: WorkspaceLike = None, limit: int = 100,
                 after: str | None = None) -> list[str]:
    """Contact ids of a list or segment, in id order (``after``: the last id of the previous page)."""
    from leadscore.workflows.lists import list_members as _members

    ws = _workspace(workspace)
    with open_store(ws, read_only=True) as store:
        return _members(store, ws, name, limit=limit, after=after)


def export_list(name: str, out: str | Path, *, workspace: WorkspaceLike = None) -> int:
    """Write a list's or segment's contacts to CSV or Parquet; returns the row count."""
    from leadscore.workflows.lists import export_list as _export

    ws = _workspace(workspace)
    with open_store(ws, read_only=True) as store:
        return _export(store, ws, name, out)


def tasks(*, workspace: WorkspaceLike = None, owner: str | None = None, status: str | None = None,
          limit: int = 100, after: str | None = None) -> list[dict[str, Any]]:
    """Tasks that workflows created for reps, newest first."""
    from leadscore.workflows.tasks import list_tasks

    with open_store(workspace, read_only=True) as store:
        return list_tasks(store, owner=owner, status=status, limit=limit, after=after)


def complete_task(task_id: str, *, workspace: WorkspaceLike = None) -> None:
    """Mark a task done."""
    from leadscore.workflows.tasks import complete_task as _complete

    with open_store(workspace) as store:
        _complete(store, task_id)


# ---------------------------------------------------------------- reports, audits, backtests (issue 5)


def backtest(model: str | Path | None = None, *, workspace: WorkspaceLike = None,
             as_of: datetime | str | None = None, horizon: str | int = "90d", vs: str | Path | None = None,
             label: str | None = None, rolling: int = 0, step: str | int = "30d",
             engine: str | None = None) -> BacktestRun:
    """Score the past as of ``as_of`` (nothing is written) and measure it against what happened next.

    ``model`` is a published model name or a draft file; ``vs`` another one to compare with;
    ``label`` a contact property to use as the outcome instead of won deals; ``rolling`` the number
    of as-of dates, ``step`` apart, ending at ``as_of``. ``engine`` (default: the workspace's) runs
    the model on Spark or inside Postgres, over that engine's data.
    """
    from leadscore.reports.backtest import run_backtest

    with reading_store(workspace, engine) as store:
        return run_backtest(store, model, as_of=_instant(as_of), horizon=horizon, label=label, vs=vs,
                            rolling_count=rolling, step=step)


def report(*, workspace: WorkspaceLike = None, model: str | Path | None = None, as_of: datetime | str | None = None,
           horizon: str | int = "90d", label: str | None = None, out: str | Path | None = None,
           rolling: int = 4, step: str | int = "30d", stuck_days: int = 30,
           precision: float | None = None, capacity: int | None = None, engine: str | None = None) -> Report:
    """Backtest, rule impact, thresholds, stuck leads, calibration and findings of one model.

    With ``out`` the report is also written as one self-contained HTML file (works offline).
    ``engine`` (default: the workspace's) runs the model on Spark or inside Postgres, over that
    engine's data, and reads the scores and history it wrote.
    """
    from leadscore.reports.build import build_report
    from leadscore.reports.html import write_html

    with reading_store(workspace, engine) as store:
        result = build_report(store, model=model, as_of=_instant(as_of), horizon=horizon, label=label,
                              rolling_dates_count=rolling, step=step, stuck_days=stuck_days,
                              precision=precision, capacity=capacity)
    if out is not None:
        write_html(result, out)
    return result


def suggest(model: str | Path | None = None, *, workspace: WorkspaceLike = None, as_of: datetime | str | None = None,
            horizon: str | int = "90d", label: str | None = None, fit_as_of: datetime | str | None = None,
            write: str | Path | None = None, force: bool = False) -> Suggestion:
    """Suggested points from a sparse logistic fit, backtested beside the current model.

    With ``write`` the suggestion is saved as a draft model file; it is never published.
    """
    from leadscore.reports.suggest import run_suggest, write_suggestion

    with open_store(workspace, read_only=True) as store:
        result = run_suggest(store, model, as_of=_instant(as_of), horizon=horizon, label=label,
                             fit_as_of=_instant(fit_as_of))
    if write is not None:
        write_suggestion(result, write, force=force)
    return result


# ---------------------------------------------------------------- predictive scoring (issue 3)

def train(*, workspace: WorkspaceLike = None, name: str | None = None, label: str = "won",
          horizon: str | int = "90d", cutoffs: list[datetime | str] | None = None,
          until: datetime | str | None = None, seed: int = 42, min_positives: int | None = None,
          exclude: list[str] | None = None, accept_leaky: bool = False, level: str = "contact") -> TrainResult:
    """Train, validate and calibrate a predictive model on the workspace's history; store it as a
    new version. Raises ``TrainingRefused`` when too few contacts converted to learn from, and
    ``LeakageSuspected`` when a column looks written after the outcome (``accept_leaky`` keeps it,
    with the warning recorded on the model). ``exclude`` names columns as the imported file did.
    ``level="account"`` learns companies: a deal of the company won within the horizon
    (``predictive/accounts.py``); ``exclude`` and ``label`` then name company columns."""
    from leadscore.predictive.artefact import DEFAULT_ACCOUNT_NAME, DEFAULT_NAME
    from leadscore.predictive.train import MIN_POSITIVES, train_model

    if _level(level) == "account":
        from leadscore.predictive.accounts import train_account_model

        with open_store(workspace) as store:
            return train_account_model(
                store, name=name or DEFAULT_ACCOUNT_NAME, label=label, horizon_days=parse_days(horizon),
                cutoffs=[parse_as_of(c) for c in cutoffs] if cutoffs else None, until=_instant(until), seed=seed,
                min_positives=MIN_POSITIVES if min_positives is None else min_positives,
                exclude=set(exclude or ()), accept_leaky=accept_leaky)
    with open_store(workspace) as store:
        return train_model(store, name=name or DEFAULT_NAME, label=label, horizon_days=parse_days(horizon),
                           cutoffs=[parse_as_of(c) for c in cutoffs] if cutoffs else None, until=_instant(until),
                           seed=seed, min_positives=MIN_POSITIVES if min_positives is None else min_positives,
                           exclude=set(exclude or ()), accept_leaky=accept_leaky)


def predict(*, workspace: WorkspaceLike = None, name: str | None = None,
            as_of: datetime | str | None = None, top: int = 0, level: str = "contact") -> PredictResult:
    """Write probability, priority and top factors for every contact with the latest predictive model
    (``top``: also return that many leads with the highest probability, in ``.top``); with
    ``level="account"``, for every company with the latest model of companies."""
    from leadscore.predictive.predict import predict_contacts, top_predictions

    if _level(level) == "account":
        from leadscore.predictive.accounts import predict_accounts, top_account_predictions

        with open_store(workspace) as store:
            result = predict_accounts(store, name=name, as_of=parse_as_of(as_of))
            if top > 0:
                result.top = top_account_predictions(store, result.model, top)
            return result
    with open_store(workspace) as store:
        result = predict_contacts(store, name=name, as_of=parse_as_of(as_of))
        if top > 0:
            result.top = top_predictions(store, result.model, top)
        return result


def parse_days(value: str | int) -> int:
    """``90d``, ``12w`` or ``90`` → whole days (``timeutil.parse_duration``)."""
    from leadscore.timeutil import parse_duration

    period = parse_duration(value)
    if period.seconds or period.microseconds:
        raise LeadscoreError(f"cannot read the duration {value!r}: give whole days like 90d, weeks like 12w, or 90")
    return period.days
