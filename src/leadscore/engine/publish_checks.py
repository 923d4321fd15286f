"""What publishing a model version must not break, beyond the model itself being valid.

Two rules, checked by ``engine.run.publish`` (so ``leadscore publish``, ``POST /v1/models`` and the
dashboard's publish button all refuse alike) and by ``leadscore validate`` / ``POST
/v1/models/validate`` (so a model that validates also publishes):

* **A model name keeps its level.** Publishing ``name: b2b, level: account`` over the contact model
  ``b2b`` would leave v1's contact scores in place forever (no run of the name scores contacts any
  more) and make every account model that rolls ``b2b`` up unscorable. Pick another name.
* **A contact model version must not break the account models that read it.** An account model
  compiles the latest published version of each contact model it rolls up, filters by tier or
  names in a workflow ``if:``; a version without a tier or group one of them uses would make that
  account model fail at its next run. The refusal names each account model and what it reads, as
  HubSpot refuses to delete a property a workflow uses. An account model already broken before
  (for another reason) does not block the publish: this version is not what breaks it.
"""

from __future__ import annotations

from leadscore.errors import ModelError, ModelIssue
from leadscore.model.account_spec import AccountModel
from leadscore.model.loader import LoadedModel, parse_model
from leadscore.model.spec import ScoringModel
from leadscore.storage.store import ModelVersion, Store

# `leadscore validate` comes here: nothing at import time pulls in the compiler (sqlglot) or the
# engine's run path (numpy, pyarrow); the compiler is imported only when an account model reads
# the model being checked.


def _level(model: ScoringModel | AccountModel) -> str:
    return "account" if isinstance(model, AccountModel) else "contact"


def _model(version: ModelVersion) -> ScoringModel | AccountModel | None:
    """A published version's model (None: a text this build cannot read; its runs report it)."""
    try:
        return parse_model(version.text, version.file or version.model, environment=False).model
    except ModelError:
        return None


def publish_issues(store: Store, loaded: LoadedModel) -> list[ModelIssue]:
    """The errors that stop ``loaded`` from being published on ``store`` (none: it may be)."""
    name = loaded.model.name
    latest = store.latest_version(name)
    if latest is not None:
        before = _model(latest)
        if before is not None and _level(before) != _level(loaded.model):
            return [ModelIssue(
                loaded.file, "level", f"`{name}` is published as a {_level(before)} model (v{latest.version}); "
                f"a model name keeps its level, so this {_level(loaded.model)} model cannot be its next version",
                line=loaded.line_for("level"),
                hint=f"give this model another `name:` (e.g. {name}_{_level(loaded.model)})")]
    if isinstance(loaded.model, ScoringModel):
        return _broken_dependants(store, loaded, loaded.model)
    return []


def check_publishable(store: Store, loaded: LoadedModel) -> None:
    """Raise ``ModelError`` listing ``publish_issues``, if any."""
    issues = publish_issues(store, loaded)
    if issues:
        raise ModelError(issues)


def _broken_dependants(store: Store, loaded: LoadedModel, new: ScoringModel) -> list[ModelIssue]:
    """An issue per error that each published account model reading ``new`` would get from it."""
    name = new.name
    readers = [(v, m) for v in store.latest_versions()
               if isinstance(m := _model(v), AccountModel) and name in m.contact_models()]
    if not readers:
        return []
    from leadscore.engine.account_sql import compile_issues, contact_models_for  # the compiler

    issues: list[ModelIssue] = []
    for version, account in readers:
        try:
            current, _ = contact_models_for(store, account)
        except ModelError:
            continue  # it cannot score today already (a contact model it reads is not published)
        if compile_issues(store, account, current):
            continue  # broken already, by something else
        for issue in compile_issues(store, account, {**current, name: new}):
            last = issue.path.rsplit(".", 1)[-1]
            key = "tiers" if last.startswith("tier") else "groups" if last.startswith("group") else ""
            issues.append(ModelIssue(
                loaded.file, key, f"account model `{account.name}` (v{version.version}) reads contact model "
                f"`{name}` and would fail with this version: at `{issue.path}`: {issue.message}",
                line=loaded.line_for(key),
                hint=f"keep what `{account.name}` reads, or first publish a version of `{account.name}` that "
                     f"no longer reads it (its file: {version.file or account.name})"))
    return issues


__all__ = ["check_publishable", "publish_issues"]
