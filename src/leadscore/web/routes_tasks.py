"""Tasks: the ones workflows created for the user (overdue, due today, later, done); mark done.

A task's ``owner`` is what its workflow's ``task: {for: owner}`` found in the contact's ``owner``
property, so "my tasks" are those whose owner is the user's owner value. Marketing, admins and
managers may look at anyone's (``?owner=``; ``*`` for everyone). Days are UTC days.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from leadscore.api.writer import WriteContext
from leadscore.errors import NotFoundError
from leadscore.storage.store import Store, used_params
from leadscore.timeutil import utcnow
from leadscore.users import User
from leadscore.web.auth import AnyUser, PostedForm
from leadscore.web.routes_leads import lead_url
from leadscore.web.routing import WebRoute, field, page, redirect, safe_next, web, write
from leadscore.workflows.tasks import complete_task

router = APIRouter(route_class=WebRoute, include_in_schema=False)

VIEWS = {"overdue": "Overdue", "today": "Due today", "later": "Later", "done": "Done"}
PAGE = 100


def _bounds() -> tuple[datetime, datetime]:
    start = datetime.combine(utcnow().date(), time())
    return start, start + timedelta(days=1)


def task_rows(store: Store, *, owner: str | None, view: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The tasks of one view (with their contacts' names) and the count of every view."""
    start, end = _bounds()
    view_sql = {
        "overdue": "t.status = 'open' AND t.due_at < $start",
        "today": "t.status = 'open' AND t.due_at >= $start AND t.due_at < $end",
        "later": "t.status = 'open' AND (t.due_at IS NULL OR t.due_at >= $end)",
        "done": "t.status = 'done'",
    }
    mine = "($owner IS NULL OR t.owner = $owner)"
    params: dict[str, Any] = {"owner": owner, "start": start, "end": end}
    counts_sql = ", ".join(f"count(*) FILTER (WHERE {cond})" for cond in view_sql.values())
    sql = f"SELECT {counts_sql} FROM tasks AS t WHERE {mine}"
    row = store.con.execute(sql, used_params(sql, params)).fetchone()
    counts = dict(zip(view_sql, (int(x) for x in row or ()), strict=False))
    order = "t.due_at NULLS LAST, t.created_at" if view != "done" else "t.created_at DESC"
    # an account model's workflow makes tasks about a company (no contact): shown with the company's name
    sql = f"""SELECT t.task_id, t.contact_id, t.owner, t.title, t.notes, t.due_at, t.status, t.workflow, t.created_at,
                   c.first_name, c.last_name, c.email, c.company, t.company_id, co.name AS company_name
            FROM tasks AS t LEFT JOIN contacts AS c ON c.contact_id = t.contact_id
            LEFT JOIN companies AS co ON co.company_id = t.company_id
            WHERE {mine} AND {view_sql[view]} ORDER BY {order} LIMIT {PAGE}"""
    cur = store.con.execute(sql, used_params(sql, params))
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()], counts


def _owner_for(user: User, asked: str | None) -> str | None:
    """Whose tasks to show: a rep's own; others may ask for anyone's (``*``: everyone)."""
    if not user.sees_every_lead or asked is None:
        return user.owner_value if user.owner_value or not user.sees_every_lead else None
    return None if asked == "*" else asked


@router.get("/tasks")
def tasks(request: Request, session: AnyUser, view: Annotated[str, Query(max_length=20)] = "overdue",
          owner: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    store = web(request).rt.reader()
    user = session.user
    chosen = view if view in VIEWS else "overdue"
    whose = _owner_for(user, owner)
    rows: list[dict[str, Any]] = []
    counts = dict.fromkeys(VIEWS, 0)
    if user.sees_every_lead or user.owner_value:
        rows, counts = task_rows(store, owner=whose, view=chosen)
    owners = [r[0] for r in store.con.execute(
        "SELECT DISTINCT owner FROM tasks WHERE owner IS NOT NULL ORDER BY 1 LIMIT 200").fetchall()] \
        if user.sees_every_lead else []
    return page(request, "tasks.html", section="tasks", rows=rows, counts=counts, view=chosen, views=VIEWS,
                whose=whose, owners=owners, lead_url=lead_url, now=utcnow())


@router.post("/tasks/{task_id}/done")
async def task_done(request: Request, session: AnyUser, form: PostedForm, task_id: str) -> Response:
    """Mark a task done (a rep: only their own tasks or tasks on their leads; a rep without an owner
    value has none, so tasks whose owner and contact owner are both empty are not theirs)."""
    state = web(request)
    user = session.user

    def allowed() -> None:
        row = state.rt.reader().con.execute(
            "SELECT t.owner, c.owner FROM tasks AS t LEFT JOIN contacts AS c USING (contact_id) WHERE task_id = ?",
            [task_id]).fetchone()
        # a rep with no owner value owns nothing: an empty task owner or contact owner is nobody's, not theirs
        mine = user.sees_every_lead or (bool(user.owner_value)
                                        and user.owner_value in {v for v in row or () if v is not None})
        if row is None or not mine:
            raise NotFoundError(f"no task `{task_id}` among your tasks")

    await run_in_threadpool(allowed)

    def job(ctx: WriteContext) -> None:
        complete_task(ctx.store, task_id)

    await write(request, job)
    return redirect(safe_next(field(form, "next"), "/tasks"), flash="Task marked done.")
