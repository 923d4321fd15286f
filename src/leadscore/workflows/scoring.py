"""Score runs that fire workflows: the one path from a score change to its actions.

``rescore_contacts`` (the API's real-time path) and ``rescore_all`` (``leadscore score``, the
scheduler) call the engine with ``on_written=WorkflowHook(...)``. The engine calls the hook inside
the run's transaction, after the scores and history are written; the hook evaluates every
workflow of the model over the run's table ``_run`` and writes outbox rows and immediate effects
in that same transaction. So a crossing and its actions commit together or not at all, and an
API write that joins an outer ``store.transaction()`` commits with both.

A ``set`` action changes contact properties that rules (of any model) may read, so the scores it
leaves behind can be stale. After the runs, the contacts a ``set`` really changed are scored
again with every published model (``_settle``), which may fire more workflows; two workflows that
undo each other's change would loop, so after ``SETTLE_ROUNDS`` rounds the contacts still
changing are scored once more without firing anything, and a warning says how many.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import duckdb

from leadscore.engine.run import RunContext, RunResult, score_published, score_some
from leadscore.model.workflow_spec import Action, Workflow
from leadscore.storage.store import Store
from leadscore.storage.types import logical_type
from leadscore.workflows import effects, outbox
from leadscore.workflows.triggers import FIRED, crossed_workflows, is_baseline_run, record_fired, select_fired
from leadscore.workspace import Workspace

log = logging.getLogger("leadscore.workflows")


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


#: Rounds of rescoring the contacts that ``set`` actions changed (see the module docstring). One
#: is enough unless a workflow fired by the rescore sets properties again.
SETTLE_ROUNDS = 3


class WorkflowHook:
    """The ``on_written`` hook of a score run: fire the model's workflows in the run's transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stats = WorkflowStats()
        self._set_runs: list[str] = []  # runs whose `set` actions changed some contact

    def take_changed(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """The contacts whose properties this hook's ``set`` actions changed since the last call."""
        runs, self._set_runs = self._set_runs, []
        if not runs:
            return []
        rows = con.execute("SELECT DISTINCT contact_id FROM property_changes "
                           "WHERE run_id IN (SELECT UNNEST($runs::VARCHAR[])) ORDER BY contact_id",
                           {"runs": runs}).fetchall()
        return [str(row[0]) for row in rows]

    def __call__(self, con: duckdb.DuckDBPyConnection, ctx: RunContext) -> None:
        model = ctx.model
        if not model.workflows or is_baseline_run(con, ctx.contact_ids is None):
            return
        crossed = crossed_workflows(con, model)
        if not crossed:
            return
        column_types = self.store.column_types("contacts")
        contact_columns = {name: logical_type(t) for name, t in column_types.items()}
        event_columns = self.store.columns("events")
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
            changed = effects.set_properties(
                con, action.set, run_id=ctx.run_id, source=source, column_types=column_types, now=now)
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


def rescore_contacts(store: Store, ws: Workspace, contact_ids: list[str], *,
                     as_of: datetime | str | None = None,
                     models: list[str] | None = None) -> list[RunResult]:
    """Rescore some contacts with every published model (or ``models``) and fire the workflows
    they trigger, every model in one transaction.

    Joins the caller's open ``store.transaction()`` if there is one, so an API write, the new
    scores and the queued actions commit together.
    """
    del ws  # settings are not needed to enqueue; kept in the signature for the API's sake
    hook = WorkflowHook(store)
    with store.transaction():
        runs = score_some(store, contact_ids, models=models, as_of=as_of, on_written=hook)
        _settle(store, hook, runs, as_of)
        return runs


def rescore_all(store: Store, ws: Workspace, *, models: list[str] | None = None,
                as_of: datetime | str | None = None) -> list[RunResult]:
    """Rescore every contact (``leadscore score``, the scheduler) and fire the same workflows."""
    del ws
    return rescore_all_with_stats(store, models=models, as_of=as_of)[0]


def rescore_all_with_stats(store: Store, *, models: list[str] | None = None,
                           as_of: datetime | str | None = None) -> tuple[list[RunResult], WorkflowStats]:
    """``rescore_all`` that also tells what the workflows did (the CLI prints it)."""
    hook = WorkflowHook(store)
    runs = score_published(store, models=models, as_of=as_of, on_written=hook)
    with store.transaction():
        _settle(store, hook, runs, as_of)
    return runs, hook.stats


def _settle(store: Store, hook: WorkflowHook, runs: list[RunResult],
            as_of: datetime | str | None) -> None:
    """Score again, with every published model, the contacts whose properties ``set`` changed.

    Every model, not just the ones that ran: a property set by one model's workflow may be read by
    another's rules. The as-of is the runs' own (for a run "now", the latest of their nows), so the
    new scores stand beside the others. The rescore's own crossings fire workflows like any run's.
    """
    when = as_of if as_of is not None or not runs else max(run.as_of for run in runs)
    for _ in range(SETTLE_ROUNDS):
        changed = hook.take_changed(store.con)
        if not changed:
            break
        hook.stats.resettled += len(changed)
        score_some(store, changed, as_of=when, on_written=hook)
    else:
        changed = hook.take_changed(store.con)
        if changed:  # scored once more so scores match the properties, but nothing fires now
            hook.stats.unsettled = len(changed)
            score_some(store, changed, as_of=when)
            log.warning("workflow `set` actions still changed %d contacts after %d rescoring rounds "
                        "(do two workflows undo each other's change?); they were scored once more "
                        "without firing workflows", len(changed), SETTLE_ROUNDS)
    if hook.stats.resettled:  # a whole-base run's tier counts describe the scores as they now stand
        for run in runs:
            if run.scope == "all":
                run.tier_counts = {tier: 0 for tier in run.tier_counts} | {
                    str(tier): int(n) for tier, n in store.con.execute(
                        "SELECT tier, count(*) FROM scores WHERE model = ? GROUP BY tier",
                        [run.model]).fetchall()}
