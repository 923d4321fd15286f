"""The workflows' ``on_written`` hook: what a score run's crossings do, in the run's transaction.

``leadscore.scoring`` (the one home of a score run) passes a ``WorkflowHook`` to the engine. The
engine calls it inside the run's transaction, after the scores and history are written; the hook
evaluates every workflow of the model over the run's table ``_run`` and writes outbox rows and
immediate effects in that same transaction. So a crossing and its actions commit together or not
at all, and an API write that joins an outer ``store.transaction()`` commits with both.

A ``set`` action changes contact properties that rules (of any model) may read; the hook
remembers which runs changed some contact (``take_changed``) so that ``leadscore.scoring`` can
score those contacts again (it settles, the hook never calls the engine), and, for a ``set`` that
may move contacts to another company, the companies they were in (``take_left``), rescored too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import duckdb

from leadscore.engine.account_sql import companies_of
from leadscore.engine.run import RunContext
from leadscore.model.account_spec import AccountModel
from leadscore.model.workflow_spec import Action, Workflow
from leadscore.storage.store import Store
from leadscore.storage.types import logical_type
from leadscore.workflows import effects, outbox
from leadscore.workflows.account_hook import fire_account_workflows
from leadscore.workflows.triggers import FIRED, crossed_workflows, is_baseline_run, record_fired, select_fired


@dataclass
class WorkflowStats:
    """What the hook did across the runs it saw (for the CLI and tests)."""

    fired: dict[str, int] = field(default_factory=dict)  # "model/workflow" → contacts
    queued: int = 0
    tasks: int = 0
    properties_set: int = 0
    list_changes: int = 0
    #: contacts scored again because a ``set`` changed their properties (each round counts)
    resettled: int = 0
    #: contacts a ``set`` still changed in the last allowed round (a loop?): scored, nothing fired
    unsettled: int = 0


class WorkflowHook:
    """The ``on_written`` hook of a score run: fire the model's workflows in the run's transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stats = WorkflowStats()
        self._set_runs: list[str] = []  # runs whose `set` actions changed some contact
        self._left: list[str] = []  # the companies of contacts before a `set` that may move them

    def take_changed(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """The contacts whose properties this hook's ``set`` actions changed since the last call."""
        runs, self._set_runs = self._set_runs, []
        if not runs:
            return []
        rows = con.execute("SELECT DISTINCT contact_id FROM property_changes "
                           "WHERE run_id IN (SELECT UNNEST($runs::VARCHAR[])) ORDER BY contact_id",
                           {"runs": runs}).fetchall()
        return [str(row[0]) for row in rows]

    def take_left(self) -> list[str]:
        """The companies that contacts belonged to before a ``set`` of ``company_id`` (or, matching by
        domain, ``email``) since the last call: a contact moved away leaves one to rescore too."""
        left, self._left = self._left, []
        return list(dict.fromkeys(left))

    def __call__(self, con: duckdb.DuckDBPyConnection, ctx: RunContext) -> None:
        model = ctx.model
        if isinstance(model, AccountModel):  # a company's crossings: workflows/account_hook.py
            fire_account_workflows(con, ctx, self.store, self.stats)
            return
        if not ctx.fire or not model.workflows or is_baseline_run(con, ctx.contact_ids is None):
            return
        crossed = crossed_workflows(con, model)
        if not crossed:
            return
        column_types = ctx.contact_types if ctx.contact_types is not None else self.store.column_types("contacts")
        contact_columns = {name: logical_type(t) for name, t in column_types.items()}
        event_columns = ({name: logical_type(t) for name, t in ctx.event_types.items()}
                         if ctx.event_types is not None else self.store.columns("events"))
        for index in crossed:
            workflow = model.workflows[index]
            fired = select_fired(con, model, workflow, now=ctx.computed_at, as_of=ctx.as_of,
                                 contact_columns=contact_columns, event_columns=event_columns)
            if fired:
                key = f"{model.name}/{workflow.name}"
                self.stats.fired[key] = self.stats.fired.get(key, 0) + fired
                for step, action in enumerate(workflow.do):
                    self._act(con, ctx, index, workflow, step, action, column_types)
                record_fired(con, model.name, workflow, ctx.computed_at)
        con.execute(f"DROP TABLE IF EXISTS {FIRED}")

    def _act(self, con: duckdb.DuckDBPyConnection, ctx: RunContext, index: int, workflow: Workflow,
             step: int, action: Action, column_types: dict[str, str]) -> None:
        now = ctx.computed_at
        source = f"workflow:{ctx.model.name}/{workflow.name}"
        if action.webhook is not None or action.email is not None:
            kind = "webhook" if action.webhook is not None else "email"
            target = _display_url(action.webhook.url) if action.webhook is not None else None
            self.stats.queued += outbox.enqueue(
                con, kind=kind, run_id=ctx.run_id, model=ctx.version.model,
                model_version=ctx.version.version, group_names=list(ctx.version.group_names),
                workflow=workflow.name, workflow_index=index, step=step,
                trigger=workflow.on.model_dump(exclude_none=True), target=target, as_of=ctx.as_of, now=now)
        elif action.task is not None:
            self.stats.tasks += effects.create_tasks(
                con, action.task, run_id=ctx.run_id, model=ctx.model.name, workflow=workflow.name,
                workflow_index=index, step=step, contact_columns=set(column_types), now=now,
                group_names=list(ctx.version.group_names), model_version=ctx.version.version)
        elif action.set is not None:
            if "company_id" in action.set or (self.store.match_by_domain and "email" in action.set):
                fired = [str(r[0]) for r in con.execute(f"SELECT contact_id FROM {FIRED}").fetchall()]
                self._left += companies_of(self.store, fired)
            changed = effects.set_properties(
                con, action.set, run_id=ctx.run_id, source=source, column_types=column_types, now=now,
                changed_at=ctx.as_of)
            self.stats.properties_set += changed
            if changed and ctx.run_id not in self._set_runs:
                self._set_runs.append(ctx.run_id)
        elif action.add_to_list is not None:
            self.stats.list_changes += effects.add_to_list(
                con, effects.list_name(action.add_to_list), source=source, now=now)
        elif action.remove_from_list is not None:
            self.stats.list_changes += effects.remove_from_list(con, effects.list_name(action.remove_from_list))


def _display_url(url: str) -> str:
    """Scheme, host and path only: a query string or user info may carry a token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a URL at all: the worker will say so; scoring must not fail on it
        return url.split("?", 1)[0].split("@")[-1][:200]
    return f"{parts.scheme}://{host}{port}{parts.path}"
