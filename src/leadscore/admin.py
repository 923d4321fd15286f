"""The library's calls for looking after a workspace: models and their SQL, API keys, the server,
the demo. Like ``leadscore.library`` (scoring, workflows, reports), each is the one call behind a
CLI command, and each is exported as ``leadscore.<name>``::

    import leadscore
    print(leadscore.compile("models/b2b.yml", dialect="spark", workspace="acme").sql)
    key, secret = leadscore.create_key("write", "website", workspace="acme")

Imports are inside the functions: ``leadscore --help`` and ``leadscore validate`` must not pay for
FastAPI, sqlglot or the predictive stack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.library import WorkspaceLike, _workspace, open_store
from leadscore.timeutil import parse_as_of

if TYPE_CHECKING:
    from leadscore.api.keys import ApiKey
    from leadscore.demo.build import DemoResult
    from leadscore.errors import ModelIssue
    from leadscore.model.loader import LoadedModel
    from leadscore.users import User


@dataclass(frozen=True)
class CompiledModel:
    """The SQL of one model for one dialect and instant (``leadscore compile``)."""

    model: str
    hash: str
    dialect: str
    as_of: datetime
    sql: str


def compile(model_path: str | Path, *, workspace: WorkspaceLike = None, dialect: str = "duckdb",  # noqa: A001
            as_of: datetime | str | None = None, contact_id: str | None = None,
            detail: bool = False, company_id: str | None = None,
            history_table: str | None = None, company_history_table: str | None = None) -> CompiledModel:
    """The one SQL query computing a model's scores, to read or run in your own warehouse.

    With a workspace, custom columns its imports added are known to the compiler; without one,
    only the built-in columns are. An account model (``level: account``) needs the workspace: the
    contact models it rolls up are the published ones; ``company_id`` restricts it to one company.
    With ``history_table`` (a table of property changes shaped like the store's
    ``property_history``) a contact model's properties (an account model's contacts' properties)
    are read as of ``as_of``; with ``company_history_table`` (shaped like
    ``company_property_history``) an account model's company properties too.
    """
    from leadscore.compiler import render_sql
    from leadscore.errors import LeadscoreError, ModelError, WorkspaceError
    from leadscore.model.account_spec import AccountModel
    from leadscore.model.loader import load_model

    loaded = load_model(model_path)
    when = parse_as_of(as_of)
    if isinstance(loaded.model, AccountModel):
        return _compile_account(loaded, workspace=workspace, dialect=dialect, as_of=when, company_id=company_id,
                                detail=detail, history_table=history_table,
                                company_history_table=company_history_table)
    if company_id is not None or company_history_table is not None:
        raise LeadscoreError(f"{loaded.file}: `--company` and `--company-history-table` are for an account "
                             "model; this model scores contacts (use `--contact`, `--history-table`)")
    contact_columns: dict[str, str] | None = None
    event_columns: dict[str, str] | None = None
    try:
        with open_store(workspace, read_only=True) as store:
            contact_columns, event_columns = store.scoring_columns()
    except WorkspaceError:
        pass
    try:
        sql = render_sql(loaded.model, as_of=when, dialect=dialect, contact_id=contact_id, detail=detail,
                         contact_columns=contact_columns, event_columns=event_columns, history_table=history_table)
    except ModelError as exc:  # the compiler's own check: point at the file and line, as validate does
        raise ModelError([dataclasses.replace(i, file=loaded.file, line=i.line or loaded.line_for(i.path))
                          for i in exc.issues]) from None
    return CompiledModel(loaded.model.name, loaded.hash, dialect, when, sql)


def _compile_account(loaded: LoadedModel, *, workspace: WorkspaceLike, dialect: str, as_of: datetime,
                     company_id: str | None, detail: bool, history_table: str | None,
                     company_history_table: str | None = None) -> CompiledModel:
    """An account model's query: the contact models it rolls up are the workspace's published ones,
    so an account model compiles only in a workspace."""
    from leadscore.compiler.accounts import render_account_sql
    from leadscore.engine.account_sql import contact_models_for
    from leadscore.errors import ModelError
    from leadscore.model.account_spec import AccountModel

    assert isinstance(loaded.model, AccountModel)
    with open_store(workspace, read_only=True) as store:
        contact_models, _ = contact_models_for(store, loaded.model)
        contacts, events = store.scoring_columns()
        companies = store.columns("companies")
        match_by_domain = store.match_by_domain
    try:
        sql = render_account_sql(loaded.model, as_of=as_of, contact_models=contact_models, dialect=dialect,
                                 company_id=company_id, detail=detail, match_by_domain=match_by_domain,
                                 company_columns=companies, contact_columns=contacts, event_columns=events,
                                 history_table=history_table, company_history_table=company_history_table)
    except ModelError as exc:
        raise ModelError([dataclasses.replace(i, file=loaded.file, line=i.line or loaded.line_for(i.path))
                          for i in exc.issues]) from None
    return CompiledModel(loaded.model.name, loaded.hash, dialect, as_of, sql)


def validate_models(model_paths: Sequence[str | Path] | None = None, *, workspace: WorkspaceLike = None,
                    engine: str | None = None) -> list[tuple[Path, LoadedModel, list[ModelIssue]]]:
    """Validate model files (default: the workspace's ``models/*.yml``): each file with its model
    and warnings, for ``engine`` (default: the workspace's). Raises ``ModelError`` listing every
    error of the first file that has any."""
    from leadscore.errors import WorkspaceError
    from leadscore.library import validate

    if model_paths:
        paths = [Path(p) for p in model_paths]
    else:
        paths = _workspace(workspace).model_files()
        if not paths:
            raise WorkspaceError("no model files in models/; pass one explicitly")
    out = []
    for path in paths:
        loaded, warnings = validate(path, workspace=workspace, engine=engine)
        out.append((path, loaded, warnings))
    return out


def schema() -> dict[str, Any]:
    """The JSON Schema of model files, for an editor's YAML plugin."""
    from leadscore.model.schema import model_json_schema

    return model_json_schema()


def models(*, workspace: WorkspaceLike = None) -> list[dict[str, Any]]:
    """Every published version of every rule model (``kind: rules``), then every trained
    predictive model with its metrics (``kind: predictive``)."""
    from leadscore.predictive.artefact import list_models

    with open_store(workspace, read_only=True) as store:
        rules = [{"kind": "rules", "model": v.model, "version": v.version, "hash": v.hash, "file": v.file,
                  "published_at": v.published_at} for v in store.all_versions()]
        predictive = list_models(store)
    return rules + [{"kind": "predictive", "model": p.pop("name"), **p} for p in predictive]


# ------------------------------------------------------------------------------------- API keys


def create_key(scope: str, name: str | None = None, *, workspace: WorkspaceLike = None) -> tuple[ApiKey, str]:
    """A new API key for ``leadscore serve``: its record and the key itself (shown once; the
    store keeps only its SHA-256)."""
    from leadscore.api.keys import create_key as _create

    with open_store(workspace) as store:
        return _create(store, scope, name)


def keys(*, workspace: WorkspaceLike = None) -> list[ApiKey]:
    """Every API key (revoked ones too) with scope, name, creation and last use."""
    from leadscore.api.keys import list_keys

    with open_store(workspace, read_only=True) as store:
        return list_keys(store)


def revoke_key(key_id: str, *, workspace: WorkspaceLike = None) -> ApiKey:
    """Revoke a key by its id (as ``keys`` shows it): requests with it get 401 from then on."""
    from leadscore.api.keys import revoke_key as _revoke

    with open_store(workspace) as store:
        return _revoke(store, key_id)


# ---------------------------------------------------------------------------- dashboard users

def create_user(username: str, role: str, *, workspace: WorkspaceLike = None, owner_value: str | None = None,
                manager: bool = False, password: str | None = None) -> tuple[User, str]:
    """Add a dashboard user; returns it and its password (``password``, or a generated one)."""
    from leadscore.users import create_user as _create

    with open_store(workspace) as store:
        return _create(store, username, role, owner_value=owner_value, manager=manager, password=password)


def list_users(*, workspace: WorkspaceLike = None) -> list[User]:
    """Every dashboard user, disabled ones too, by name."""
    from leadscore.users import list_users as _list

    with open_store(workspace, read_only=True) as store:
        return _list(store)


def disable_user(username: str, *, workspace: WorkspaceLike = None) -> User:
    """Stop a user logging in; their open sessions end."""
    from leadscore.users import disable_user as _disable

    with open_store(workspace) as store:
        return _disable(store, username)


def reset_password(username: str, *, workspace: WorkspaceLike = None, password: str | None = None) -> tuple[User, str]:
    """Give a user a new password (``password``, or a generated one); their open sessions end."""
    from leadscore.users import reset_password as _reset

    with open_store(workspace) as store:
        return _reset(store, username, password)


# ------------------------------------------------------------------------------- server, demo


def serve(*, workspace: WorkspaceLike = None, host: str = "127.0.0.1", port: int = 8000, worker: bool = True,
          scheduler: bool = True, log_level: str = "info",
          on_start: Callable[[Path, str], None] | None = None) -> None:
    """Serve the HTTP API on the workspace until SIGTERM / SIGINT (``on_start`` gets the
    workspace's directory and the URL once the port is bound and the store open: a taken port is
    one error, with nothing printed before it)."""
    from leadscore.api.server import serve as _serve

    ws = _workspace(workspace)
    url = f"http://{host}:{port}"
    _serve(ws, host=host, port=port, worker=worker, scheduler=scheduler, log_level=log_level,
           announce=(lambda _line: on_start(ws.root, url)) if on_start is not None else None)


#: the demo's dashboard users: name, role, owner value (the rep sees one of the demo's owners' leads)
DEMO_USERS = (("admin", "admin", None), ("dana", "rep", "Dana Reyes"))


def build_demo(directory: str | Path = "demo-workspace", *, contacts: int = 20_000, events: int = 500_000,
               seed: int = 42, history_weeks: int = 8, predictive: bool = True) -> DemoResult:
    """Build a synthetic B2B workspace: generate, import, publish the example model, score (weekly
    over ``history_weeks`` first), explain; train a predictive model and predict as of the data's end
    (when there are enough converters to learn from); create the dashboard's demo users, whose
    generated passwords are in ``DemoResult.users``."""
    from leadscore.demo.build import build_demo as _build
    from leadscore.predictive.train import TrainingRefused

    result = _build(Path(directory), contacts=contacts, events=events, seed=seed, history_weeks=history_weeks)
    if predictive:
        from leadscore import library

        try:
            library.train(workspace=result.directory)
            done = library.predict(workspace=result.directory, as_of=result.run.as_of)
            result.predictive = f"predicted priority for {done.contacts:,} contacts"
        except TrainingRefused as exc:  # a small demo has too few converters to learn from
            result.predictive = f"no predictive model: {exc}"
    for username, role, owner in DEMO_USERS:
        user, password = create_user(username, role, workspace=result.directory, owner_value=owner)
        seen = f"a rep: {owner}'s leads" if owner else "an admin: everything"
        result.users.append((user.username, password, seen))
    return result
