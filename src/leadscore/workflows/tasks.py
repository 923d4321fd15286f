"""Tasks that workflows create for sales reps: read by ``GET /v1/tasks`` and ``leadscore tasks``.

A task is written by a ``task`` action inside the score run that fired it (see ``effects``); this
module only reads and closes them.
"""

from __future__ import annotations

from typing import Any

from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.storage.store import Store

TASK_STATUSES = ("open", "done")


def list_tasks(store: Store, *, owner: str | None = None, status: str | None = None, limit: int = 100,
               after: str | None = None) -> list[dict[str, Any]]:
    """Tasks, newest first, optionally for one owner or status.

    ``after`` is the ``task_id`` of the last task of the previous page (keyset pagination: pages
    stay stable while new tasks arrive).
    """
    if status is not None and status not in TASK_STATUSES:
        raise LeadscoreError(f"unknown task status {status!r}: use one of {', '.join(TASK_STATUSES)}")
    if limit < 1:
        raise LeadscoreError(f"limit must be at least 1, got {limit}")
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    if owner is not None:
        where.append("owner = $owner")
        params["owner"] = owner
    if status is not None:
        where.append("status = $status")
        params["status"] = status
    if after is not None:
        anchor = store.con.execute("SELECT created_at FROM tasks WHERE task_id = ?", [after]).fetchone()
        if anchor is None:
            raise NotFoundError(f"no task `{after}` to continue after (cursor from another listing?)")
        where.append("(created_at, task_id) < ($after_at, $after)")
        params.update(after=after, after_at=anchor[0])
    cur = store.con.execute(
        f"""SELECT task_id, contact_id, company_id, owner, title, notes, due_at, status, model, workflow, created_at
        FROM tasks WHERE {' AND '.join(where)} ORDER BY created_at DESC, task_id DESC LIMIT $limit""",
        params,
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def complete_task(store: Store, task_id: str) -> None:
    """Mark a task done (NotFoundError for an unknown id)."""
    with store.transaction() as con:
        if not con.execute("SELECT 1 FROM tasks WHERE task_id = ?", [task_id]).fetchone():
            raise NotFoundError(f"no task `{task_id}`; list them with `leadscore tasks`")
        con.execute("UPDATE tasks SET status = 'done' WHERE task_id = ?", [task_id])
