"""Operations (marketing and admins): deliveries of webhooks and e-mails (pending, failing, dead;
retry), and lists and segments with their sizes, members and a CSV download.

The same functions as ``leadscore deliveries`` and ``leadscore lists`` over the server's store; a
retry is a write, so it goes through the writer. Delivery happens in the server's worker.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from leadscore.errors import LeadscoreError
from leadscore.timeutil import utcnow
from leadscore.web.auth import MarketingUser, PostedForm
from leadscore.web.leads_query import display_name
from leadscore.web.routes_leads import lead_url
from leadscore.web.routing import SECURITY_HEADERS, WebRoute, field, page, redirect, web, write
from leadscore.workflows.lists import count_members, export_list, list_members, list_names
from leadscore.workflows.outbox import LISTABLE_STATUSES, attempts_of, get_delivery, list_deliveries, retry

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE = 50
Param = Annotated[str | None, Query(max_length=200)]


@router.get("/ops/deliveries")
def deliveries(request: Request, _user: MarketingUser, status: Param = None, after: Param = None) -> Response:
    store = web(request).rt.reader()
    chosen = status if status in LISTABLE_STATUSES else None
    rows = list_deliveries(store, status=chosen, limit=PAGE + 1, after=after or None)
    counts = dict(store.con.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    row = store.con.execute("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts > 0").fetchone()
    counts["failed"] = int(row[0]) if row else 0
    return page(request, "deliveries.html", section="ops", rows=rows[:PAGE], more=len(rows) > PAGE, chosen=chosen,
                counts=counts, statuses=LISTABLE_STATUSES, lead_url=lead_url, now=utcnow())


@router.get("/ops/deliveries/{action_id}")
def delivery(request: Request, _user: MarketingUser, action_id: str) -> Response:
    store = web(request).rt.reader()
    found = get_delivery(store, action_id)
    payload = store.con.execute("SELECT payload FROM outbox WHERE action_id = ?", [action_id]).fetchone()
    return page(request, "delivery.html", section="ops", d=found, attempts=attempts_of(store, action_id),
                payload=payload[0] if payload else "", lead_url=lead_url)


@router.post("/ops/deliveries/retry")
async def retry_deliveries(request: Request, _user: MarketingUser, form: PostedForm) -> Response:
    """Queue dead or failing deliveries again now, with a fresh retry window (same Idempotency-Key)."""
    ids = [i for i in form.get("action_id", []) if i]
    all_dead = field(form, "all_dead") == "1"
    if not ids and not all_dead:
        raise LeadscoreError("choose a delivery to retry")
    now = utcnow()
    count = await write(request, lambda ctx: retry(ctx.store, action_ids=ids or None, all_dead=all_dead, now=now))
    back = field(form, "next") or "/ops/deliveries"
    return redirect(back, flash=f"{count:,} deliver{'y' if count == 1 else 'ies'} queued again; the worker "
                                "sends them with the same Idempotency-Key.")


@router.get("/ops/lists")
def lists(request: Request, _user: MarketingUser) -> Response:
    state = web(request)
    store, ws = state.rt.reader(), state.rt.ws
    rows: list[dict[str, Any]] = []
    for name in list_names(store, ws):
        segment = ws.settings.segments.get(name)
        try:
            size: int | None = count_members(store, ws, name)
            problem = None
        except LeadscoreError as exc:  # a segment naming an unpublished model, say: shown, not fatal
            size, problem = None, str(exc)
        rows.append({"name": name, "kind": "segment" if segment else "static", "size": size, "problem": problem,
                     "description": segment.description if segment else None})
    return page(request, "lists.html", section="ops", rows=rows)


@router.get("/ops/lists/{name}")
def list_page(request: Request, _user: MarketingUser, name: str, after: Param = None) -> Response:
    state = web(request)
    store, ws = state.rt.reader(), state.rt.ws
    ids = list_members(store, ws, name, limit=PAGE + 1, after=after or None)
    people = {r[0]: r[1:] for r in store.con.execute(
        """SELECT c.contact_id, c.first_name, c.last_name, c.email, c.company, s.score, s.tier FROM contacts c
           LEFT JOIN (SELECT * FROM scores QUALIFY row_number() OVER (PARTITION BY contact_id ORDER BY model) = 1) s
           USING (contact_id) WHERE c.contact_id IN (SELECT unnest($i))""", {"i": ids[:PAGE]}).fetchall()}
    members = [{"contact_id": cid, "name": display_name(p[0], p[1], p[2], cid) if p else cid,
                "company": p[3] if p else None, "score": p[4] if p else None, "tier": p[5] if p else None}
               for cid in ids[:PAGE] for p in [people.get(cid)]]
    return page(request, "list.html", section="ops", name=name, members=members, size=count_members(store, ws, name),
                next_after=ids[PAGE - 1] if len(ids) > PAGE else None, lead_url=lead_url)


@router.get("/ops/lists/{name}/export.csv")
def list_csv(request: Request, _user: MarketingUser, name: str) -> Response:
    """Every contact of the list (all columns) as CSV, as `leadscore lists export` writes it."""
    state = web(request)
    handle, path = tempfile.mkstemp(prefix="leadscore-list-", suffix=".csv")
    os.close(handle)
    try:
        export_list(state.rt.reader(), state.rt.ws, name, path)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "list"
    return FileResponse(path, media_type="text/csv", filename=f"{safe}.csv",
                        background=BackgroundTask(Path(path).unlink, missing_ok=True),
                        headers={k: v for k, v in SECURITY_HEADERS.items() if k != "Content-Security-Policy"})
