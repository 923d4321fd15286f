"""Workflows of account models: what a company's tier or score crossing does, in the run's transaction.

The contact hook (``workflows.hook.WorkflowHook``) hands a run of an account model to
``fire_account_workflows``. It works like the contact path, over the run's ``_run`` table (keyed by
``company_id``): the trigger (``triggers.crossing_sql``, shared), the cooldown (``workflow_state``,
whose ``contact_id`` holds the company's id for an account model: model names are unique across
levels), the ``if:`` condition (an account condition, compiled as a one-rule account model in the
run's compile step, ``engine.account_sql.workflow_conditions``, and run for the fired companies
only), then the actions:

* ``webhook`` / ``email``: an outbox row per company with ``company_id`` set, its body the usual
  one with ``"level": "account"`` and ``"company"`` (the company's row) instead of ``"contact"``;
* ``task``: a task per company with ``company_id`` set, for its ``owner`` (``for: owner``) or the
  named user; ``{{ company.name }}`` and the run's names (``{{ tier }}``...) in its title and notes.

``set`` and lists change contacts and are refused in account models (``model.account_spec``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import duckdb

from leadscore.engine.account_sql import company_history_table, workflow_conditions
from leadscore.engine.run import RunContext, history_table
from leadscore.model.account_spec import AccountModel, AccountWorkflow
from leadscore.model.workflow_spec import Action, TaskAction
from leadscore.storage.store import Store, rows_affected, used_params
from leadscore.timeutil import epoch_micros
from leadscore.workflows.outbox import OUTBOX_COLUMNS, _payload_sql
from leadscore.workflows.templates import render, simple_template_sql, template_context
from leadscore.workflows.triggers import FIRED, crossed_workflows, crossing_sql, is_baseline_run

#: One row per company in ``companies`` (the table has no key; a repeated id must not repeat actions).
_COMPANY = "(SELECT * FROM companies QUALIFY row_number() OVER (PARTITION BY company_id ORDER BY name) = 1)"


def fire_account_workflows(con: duckdb.DuckDBPyConnection, ctx: RunContext, store: Store,
                           stats: Any) -> None:
    """Fire an account model's workflows for the companies of the run that crossed (``stats`` is
    the hook's ``WorkflowStats``)."""
    model = ctx.model
    assert isinstance(model, AccountModel)
    if not model.workflows or is_baseline_run(con, ctx.contact_ids is None):
        return
    crossed = crossed_workflows(con, model)
    if not crossed:
        return
    columns = set(store.column_types("companies"))
    # compiled (and cached) by the run, contacts' and companies' properties as of its instant
    conditions = workflow_conditions(store, ctx.version, model, history=history_table(store, ctx.as_of),
                                     company_history=company_history_table(store, ctx.as_of))
    for index in crossed:
        workflow = model.workflows[index]
        fired = _select_fired(con, model, workflow, conditions.get(index), now=ctx.computed_at, as_of=ctx.as_of)
        if not fired:
            continue
        key = f"{model.name}/{workflow.name}"
        stats.fired[key] = stats.fired.get(key, 0) + fired
        for step, action in enumerate(workflow.do):
            _act(con, ctx, index, workflow, step, action, columns, stats)
        if workflow.cooldown_hours:
            con.execute(f"""INSERT INTO workflow_state SELECT $model, $wf, company_id, $now FROM {FIRED}
                ON CONFLICT (model, workflow, contact_id) DO UPDATE SET last_fired_at = excluded.last_fired_at""",
                        {"model": model.name, "wf": workflow.name, "now": ctx.computed_at})
    con.execute(f"DROP TABLE IF EXISTS {FIRED}")


def _select_fired(con: duckdb.DuckDBPyConnection, model: AccountModel, workflow: AccountWorkflow,
                  condition: str | None, *, now: datetime, as_of: datetime) -> int:
    """Fill ``_wf_fired`` with the companies ``workflow`` fires for (``condition``: the SQL of its
    ``if:``, ``engine.account_sql.workflow_conditions``); returns how many."""
    test, params = crossing_sql(workflow.on)
    where = [test]
    if workflow.cooldown_hours:
        where.append("NOT EXISTS (SELECT 1 FROM workflow_state s WHERE s.model = $model AND s.workflow = $wf "
                     "AND s.contact_id = r.company_id AND s.last_fired_at > $since)")
        params.update(model=model.name, wf=workflow.name, since=now - timedelta(hours=workflow.cooldown_hours))
    con.execute(f"DROP TABLE IF EXISTS {FIRED}")
    con.execute(f"CREATE TEMP TABLE {FIRED} AS SELECT r.* FROM _run r WHERE {' AND '.join(where)}", params)
    if condition is not None and _count(con):
        ids = [r[0] for r in con.execute(f"SELECT company_id FROM {FIRED}").fetchall()]
        binds = used_params(condition, {"as_of": as_of, "as_of_us": epoch_micros(as_of), "company_ids": ids})
        con.execute(f"DELETE FROM {FIRED} WHERE company_id NOT IN ({condition})", binds)
    return _count(con)


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(f"SELECT count(*) FROM {FIRED}").fetchone()
    return int(row[0]) if row else 0


def _act(con: duckdb.DuckDBPyConnection, ctx: RunContext, index: int, workflow: AccountWorkflow, step: int,
         action: Action, columns: set[str], stats: Any) -> None:
    from leadscore.workflows.hook import _display_url  # the contact hook imports this module

    common = {"run": ctx.run_id, "wi": index, "step": step, "model": ctx.version.model, "now": ctx.computed_at,
              "workflow": workflow.name}
    if action.webhook is not None or action.email is not None:
        kind = "webhook" if action.webhook is not None else "email"
        target = _display_url(action.webhook.url) if action.webhook is not None else None
        subject = "'level', 'account', 'company', to_json(co)"
        con.execute(
            f"""INSERT INTO outbox ({OUTBOX_COLUMNS}, company_id)
            SELECT f.action_id, $kind, $model, $version, $workflow, $wi, $step, NULL, $run,
                   $target, {_payload_sql(subject)}, 'pending', 0, $now, $now, $now,
                   NULL, NULL, NULL, NULL, f.company_id
            FROM (SELECT *, md5(concat_ws('|', $run, $wi::VARCHAR, $step::VARCHAR, 'company:' || company_id))
                  AS action_id FROM {FIRED}) AS f
            LEFT JOIN {_COMPANY} AS co ON co.company_id = f.company_id""",
            {**common, "kind": kind, "version": ctx.version.version, "target": target, "as_of": ctx.as_of,
             "groups": list(ctx.version.group_names), "trigger": json.dumps(workflow.on.model_dump(exclude_none=True))})
        stats.queued += rows_affected(con)
    elif action.task is not None:
        stats.tasks += _tasks(con, action.task, common, columns, ctx)


def _tasks(con: duckdb.DuckDBPyConnection, task: TaskAction, common: dict[str, Any], columns: set[str],
           ctx: RunContext) -> int:
    """One open task per fired company, for its owner or the named user."""
    owner = 'co."owner"' if task.for_ == "owner" and "owner" in columns else "$for"
    due = ctx.computed_at + timedelta(days=task.due_in_days) if task.due_in_days is not None else None
    title = simple_template_sql(task.title, columns, contact_alias="co", subject="company")
    notes = simple_template_sql(task.notes, columns, contact_alias="co", subject="company") if task.notes else "NULL"
    task_id = "md5(concat_ws('|', $run, $wi::VARCHAR, $step::VARCHAR, 'company:' || f.company_id))"
    source = f"FROM {FIRED} AS f LEFT JOIN {_COMPANY} AS co ON co.company_id = f.company_id"
    params = {**common, "due": due, "for": task.for_}
    if title is not None and notes is not None:
        sql = (f"INSERT INTO tasks (task_id, company_id, owner, title, notes, due_at, status, model, workflow, "
               f"run_id, created_at) SELECT {task_id}, f.company_id, {owner}, {title}, {notes}, $due, 'open', "
               f"$model, $workflow, $run, $now {source}")
        con.execute(sql, used_params(sql, params))
        return rows_affected(con)
    rendered = []  # templates with filters or logic: rendered in Python over the fired companies
    sql = (f"SELECT f.company_id, {owner}, f.score, f.tier, f.grade, f.prev_score, f.prev_tier, "
           f"to_json(co)::VARCHAR {source}")
    for cid, who, score, tier, grade, prev_score, prev_tier, company in con.execute(
            sql, used_params(sql, params)).fetchall():
        context = template_context({
            "company": json.loads(company) if company else {}, "model": common["model"],
            "workflow": common["workflow"], "score": {"total": score, "tier": tier, "grade": grade},
            "crossing": {"from_score": prev_score, "from_tier": prev_tier}})
        what = f"task of workflow `{common['workflow']}`"
        rendered.append([cid, who, render(task.title, context, what=what),
                         render(task.notes, context, what=what) if task.notes is not None else None])
    for cid, who, text, note in rendered:
        con.execute("INSERT INTO tasks (task_id, company_id, owner, title, notes, due_at, status, model, workflow, "
                    "run_id, created_at) VALUES (md5(concat_ws('|', $run, $wi::VARCHAR, $step::VARCHAR, "
                    "'company:' || $cid)), $cid, $who, $title, $notes, $due, 'open', $model, $workflow, $run, $now)",
                    {**common, "cid": cid, "who": who, "title": text, "notes": note, "due": due})
    return len(rendered)
