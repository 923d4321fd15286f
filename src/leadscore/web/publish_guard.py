"""Who may publish a model that reads the server's environment (``${VAR}``) from the dashboard.

Publishing fills ``${VAR}`` from the server's environment in a workflow's webhook and e-mail
fields (``model.loader.ENV_FIELDS``), so whoever publishes such a text decides where the server's
secrets are sent. The API allows it only with an admin key (``POST /v1/models``); the dashboard
only to admins, with one exception so that marketing can still work on a model an admin wired
up: a workflow action that uses ``${VAR}`` and is exactly an action of the published version
(same address, secret and headers) may stay. A new or changed one, or ``${VAR}`` anywhere else,
is an error at its line.
"""

from __future__ import annotations

import json

from leadscore.errors import ModelError, ModelIssue
from leadscore.model.loader import Lines, environment_references, parse_model
from leadscore.model.workflow_spec import Action
from leadscore.storage.store import Store
from leadscore.users import User


def _actions(text: str, file: str) -> tuple[list[tuple[tuple[str, ...], str]], Lines]:
    """Every workflow action of ``text`` (its key path, its value as JSON), and the text's line map;
    ``${VAR}`` left as written."""
    loaded = parse_model(text, file, environment=False)
    found: list[tuple[tuple[str, ...], str]] = []
    for i, workflow in enumerate(loaded.model.workflows):
        actions: list[Action] = workflow.do  # type: ignore[attr-defined]  # both kinds of workflow have `do`
        found += [(("workflows", str(i), "do", str(j)), json.dumps(a.model_dump(mode="json"), sort_keys=True))
                  for j, a in enumerate(actions)]
    return found, loaded.lines


def environment_refusals(store: Store, user: User, text: str, slot: str) -> list[ModelIssue]:
    """Why ``user`` may not publish ``text`` as ``slot``: each line using ``${VAR}`` that an admin did
    not publish already (none for an admin)."""
    lines = environment_references(text)
    if user.is_admin or not lines:
        return []
    file = f"models/{slot}.yml"
    allowed: set[int] = set()
    published = store.latest_version(slot)
    try:
        actions, where = _actions(text, file)
        kept = {value for _path, value in _actions(published.text, file)[0]} if published else set()
    except ModelError:  # the editor lists the text's own errors; nothing of it is allowed here
        actions, where, kept = [], {}, set()
    for path, value in actions:
        if "${" in value and value in kept:
            allowed |= {line for key, line in where.items() if key[:len(path)] == path}
    return [ModelIssue(file, "", "only an admin may publish a model that reads the server's environment "
                       "(`${...}`), except in a workflow action left exactly as the published version has it",
                       line=n, hint="ask an admin to publish it, or write the value itself")
            for n in lines if n not in allowed]
