"""Actions that take effect inside the score run's transaction: task, set, add/remove list.

They change only the store, so there is nothing to deliver and no reason to defer them: the
task, the new lifecycle stage or the list membership commits (or rolls back) with the score that
caused it. Each is one or two set-based statements over ``_wf_fired`` (the contacts the workflow
fires for); nothing from the model reaches SQL text except as a quoted identifier, and values
travel as parameters.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import duckdb

from leadscore.model.nodes import Scalar
from leadscore.model.workflow_spec import ListAction, TaskAction
from leadscore.storage import lead_rows
from leadscore.storage.history import UNVERSIONED, record_changes, stage_table
from leadscore.storage.sql_names import quoted
from leadscore.storage.store import rows_affected, used_params
from leadscore.workflows.templates import render, simple_template_sql, template_context
from leadscore.workflows.triggers import FIRED

#: The columns a task row is written with (the table has more since migration 8: company_id).
TASK_COLUMNS = "task_id, contact_id, owner, title, notes, due_at, status, model, workflow, run_id, created_at"


def create_tasks(con: duckdb.DuckDBPyConnection, task: TaskAction, *, run_id: str, model: str,
                 workflow: str, workflow_index: int, step: int, contact_columns: set[str],
                 now: datetime, group_names: list[str] | None = None, model_version: int | None = None) -> int:
    """One open task per fired contact, for its owner (``for: owner``) or the named user."""
    owner_sql = 'c."owner"' if task.for_ == "owner" and "owner" in contact_columns else "$for"
    due = now + timedelta(days=task.due_in_days) if task.due_in_days is not None else None
    params: dict[str, Any] = {"run": run_id, "wi": workflow_index, "step": step, "due": due,
                              "model": model, "wf": workflow, "now": now, "for": task.for_,
                              "version": model_version}
    title_sql = simple_template_sql(task.title, contact_columns)
    notes_sql = simple_template_sql(task.notes, contact_columns) if task.notes is not None else "NULL"
    if title_sql is None or notes_sql is None:
        return _create_tasks_rendered(con, task, params, owner_sql, group_names or [])
    sql = f"""INSERT INTO tasks ({TASK_COLUMNS})
        SELECT md5(concat_ws('|', $run, $wi::VARCHAR, $step::VARCHAR, f.contact_id)), f.contact_id,
               {owner_sql}, {title_sql}, {notes_sql}, $due, 'open', $model, $wf, $run, $now
        FROM {FIRED} AS f LEFT JOIN contacts AS c ON c.contact_id = f.contact_id"""
    con.execute(sql, used_params(sql, params))
    return rows_affected(con)


def _create_tasks_rendered(con: duckdb.DuckDBPyConnection, task: TaskAction, params: dict[str, Any],
                           owner_sql: str, group_names: list[str]) -> int:
    """Templates with filters or logic: rendered in Python, over the fired contacts only."""
    sql = f"""SELECT f.contact_id, {owner_sql}, f.score, f.tier, f.grade, f.groups, f.prev_score, f.prev_tier,
                   to_json(c)::VARCHAR
        FROM {FIRED} AS f LEFT JOIN contacts AS c ON c.contact_id = f.contact_id"""
    cur = con.execute(sql, used_params(sql, {"for": params["for"]}))
    rows = []
    for contact_id, owner, score, tier, grade, groups, prev_score, prev_tier, contact in cur.fetchall():
        context = template_context({
            "contact": json.loads(contact) if contact else {}, "model": params["model"],
            "model_version": params["version"], "workflow": params["wf"],
            "score": {"total": score, "tier": tier, "grade": grade,
                      "groups": dict(zip(group_names, groups or [], strict=False))},
            "crossing": {"from_score": prev_score, "from_tier": prev_tier},
        })
        what = f"task of workflow `{params['wf']}`"
        title = render(task.title, context, what=what)
        notes = render(task.notes, context, what=what) if task.notes is not None else None
        rows.append([contact_id, owner, title, notes])
    if rows:  # one statement for every row (executemany costs ~150 µs a row)
        cids, owners, titles, notes_ = (list(column) for column in zip(*rows, strict=True))
        con.execute(
            f"""INSERT INTO tasks ({TASK_COLUMNS})
            SELECT md5(concat_ws('|', $run, $wi::VARCHAR, $step::VARCHAR, r.cid)), r.cid, r.owner, r.title,
                   r.notes, $due, 'open', $model, $wf, $run, $now
            FROM (SELECT UNNEST($cids::VARCHAR[]) AS cid, UNNEST($owners::VARCHAR[]) AS owner,
                         UNNEST($titles::VARCHAR[]) AS title, UNNEST($notes::VARCHAR[]) AS notes) AS r""",
            {"run": params["run"], "wi": params["wi"], "step": params["step"], "due": params["due"],
             "model": params["model"], "wf": params["wf"], "now": params["now"],
             "cids": cids, "owners": owners, "titles": titles, "notes": notes_},
        )
    return len(rows)


def set_properties(con: duckdb.DuckDBPyConnection, values: dict[str, Scalar | None], *, run_id: str,
                   source: str, column_types: dict[str, str], now: datetime,
                   changed_at: datetime | None = None) -> int:
    """Change contact properties of the fired contacts; each real change goes into the property
    history (``storage/history.py``), true from ``changed_at`` (the run's as-of; default ``now``)."""
    changed = 0
    stage = stage_table(con)
    for name, value in values.items():
        column = quoted(name)
        typed = f"CAST($value AS {column_types[name]})"  # a type name read from the store itself
        if name not in UNVERSIONED:
            con.execute(
                f"""INSERT INTO {stage}
                SELECT c.contact_id, $prop, CAST({typed} AS VARCHAR), $at, CAST(c.{column} AS VARCHAR), false, 0
                FROM contacts AS c JOIN {FIRED} AS f ON f.contact_id = c.contact_id
                WHERE c.{column} IS DISTINCT FROM {typed}""",
                {"value": value, "prop": name, "at": min(changed_at or now, now)},
            )
        con.execute(
            f"""UPDATE contacts SET {column} = {typed}
            WHERE contact_id IN (SELECT contact_id FROM {FIRED}) AND {column} IS DISTINCT FROM {typed}""",
            {"value": value},
        )
        changed += rows_affected(con)
    if changed and lead_rows.shown(values):  # the leads list's rows, for models the settling skips
        lead_rows.refresh_people(con, ids_sql=f"SELECT contact_id FROM {FIRED}")
    record_changes(con, source=source, run_id=run_id, now=now)
    return changed


def list_name(action: ListAction | str) -> str:
    return action if isinstance(action, str) else action.list


def add_to_list(con: duckdb.DuckDBPyConnection, name: str, *, source: str, now: datetime) -> int:
    """Add the fired contacts to a static list (created on first use); members stay once."""
    con.execute("INSERT INTO lists VALUES (?, ?) ON CONFLICT DO NOTHING", [name, now])
    con.execute(
        f"""INSERT INTO list_members SELECT $list, contact_id, $now, $source FROM {FIRED}
        ON CONFLICT DO NOTHING""",
        {"list": name, "now": now, "source": source},
    )
    return rows_affected(con)


def remove_from_list(con: duckdb.DuckDBPyConnection, name: str) -> int:
    con.execute(f"DELETE FROM list_members WHERE list = ? AND contact_id IN (SELECT contact_id FROM {FIRED})",
                [name])
    return rows_affected(con)
