"""My leads, the lead page and feedback on a score.

A rep sees only the contacts whose ``owner`` property equals their owner value (unless they are a
manager); marketing and admins see everyone. Another rep's lead is a 404 for a rep, so the page
says nothing about whether it exists.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from leadscore.api.writer import WriteContext
from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.feedback import OUTCOMES, VERDICTS, Feedback, check_feedback, record_feedback
from leadscore.storage.store import Store
from leadscore.users import User
from leadscore.web.account_page import lead_company
from leadscore.web.auth import AnyUser, PostedForm
from leadscore.web.lead_page import bar_share, contact_row, lead_view
from leadscore.web.leads_query import PRIORITIES, LeadFilter, leads_page, search_contacts
from leadscore.web.render import reference_time, tier_palette
from leadscore.web.routing import WebRoute, field, page, redirect, wants_fragment, web, write

router = APIRouter(route_class=WebRoute, include_in_schema=False)

Text = Annotated[str | None, Query(max_length=200)]


def owner_scope(user: User) -> str | None:
    """The owner value a user's leads are restricted to; None for those who see every lead."""
    return None if user.sees_every_lead else (user.owner_value or "\x00no owner value")


def lead_url(contact_id: str) -> str:
    return "/leads/" + quote(contact_id, safe="")


def check_lead_access(store: Store, user: User, contact_id: str) -> None:
    owner = owner_scope(user)
    if owner is not None and contact_row(store, contact_id).get("owner") != owner:
        raise NotFoundError(f"no lead `{contact_id}` among your leads (owner {user.owner_value or 'not set'})")


def _owners(store: Store) -> list[tuple[str, int]]:
    rows = store.con.execute("""SELECT owner, count(*) FROM contacts WHERE owner IS NOT NULL
                                GROUP BY owner ORDER BY count(*) DESC, owner LIMIT 8""").fetchall()
    return [(r[0], int(r[1])) for r in rows]


@router.get("/")
def home(_session: AnyUser) -> Response:
    return redirect("/leads")


@router.get("/leads")
def leads(request: Request, session: AnyUser, model: Text = None, tier: Text = None, priority: Text = None,
          segment: Text = None, moved_up: Text = None, q: Text = None,
          page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
          after: Annotated[str | None, Query(max_length=2000)] = None,
          before: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    store = web(request).rt.reader()
    user = session.user
    flt = LeadFilter(model or None, tier or None, priority if priority in PRIORITIES else None, segment or None,
                     moved_up == "1", (q or "").strip(), page_number, after or None, before or None)
    data = leads_page(store, web(request).rt.ws, flt, owner=owner_scope(user))
    contacts = store.count("contacts")
    owners = _owners(store) if not data.total and not user.sees_every_lead else []
    return page(request, "leads.html", section="leads", data=data, palette=tier_palette(data.tiers),
                contacts=contacts, owners=owners, priorities=PRIORITIES, lead_url=lead_url,
                ref=reference_time(data.as_of))


@router.get("/contacts/search")
def contact_search(request: Request, session: AnyUser, q: Text = None) -> Response:
    """Contacts matching ``q`` as JSON, for the pickers (try on leads)."""
    text = (q or "").strip()
    found = search_contacts(web(request).rt.reader(), text, owner=owner_scope(session.user)) if text else []
    return JSONResponse(found, headers={"Cache-Control": "no-store"})


def _lead_page(request: Request, user: User, contact_id: str, *, events: int = 50, status: int = 200,
               feedback_form: dict[str, Any] | None = None, feedback_error: str | None = None) -> Response:
    store = web(request).rt.reader()
    check_lead_access(store, user, contact_id)
    view = lead_view(store, contact_id, events_limit=events)
    ref = reference_time(max((p.explanation.stored_as_of or p.explanation.as_of for p in view.parts), default=None))
    template = "partials/feedback.html" if wants_fragment(request) and feedback_form is not None else "lead.html"
    return page(request, template, status=status, section="leads", lead=view, lead_url=lead_url,
                verdicts=VERDICTS, outcomes=OUTCOMES, bar_share=bar_share, form=feedback_form or {}, ref=ref,
                feedback_error=feedback_error, company=lead_company(store, contact_id, user))


@router.get("/leads/{contact_id:path}")
def lead(request: Request, session: AnyUser, contact_id: str,
         events: Annotated[int, Query(ge=1, le=1000)] = 25) -> Response:
    return _lead_page(request, session.user, contact_id, events=events)


@router.post("/leads/{contact_id:path}/feedback")
async def give_feedback(request: Request, session: AnyUser, form: PostedForm, contact_id: str) -> Response:
    """Store a verdict on the lead's score; errors re-show the form with what was typed."""
    user = session.user
    values = {k: field(form, k) for k in ("verdict", "reason", "outcome", "model")}
    state = web(request)

    def again(message: str) -> Response:
        return _lead_page(request, user, contact_id, status=422, feedback_form=values, feedback_error=message)

    try:
        check_feedback(values["verdict"], values["outcome"] or None, values["reason"])
    except LeadscoreError as exc:
        return await run_in_threadpool(again, str(exc))
    # the cursor is taken on the worker thread: each thread reads through its own
    await run_in_threadpool(lambda: check_lead_access(state.rt.reader(), user, contact_id))

    def job(ctx: WriteContext) -> Feedback:
        return record_feedback(ctx.store, contact_id, verdict=values["verdict"], author=user.username,
                               source="dashboard", model=values["model"] or None, reason=values["reason"],
                               outcome=values["outcome"] or None)

    try:
        item = await write(request, job)
    except NotFoundError:
        raise
    except LeadscoreError as exc:
        return await run_in_threadpool(again, str(exc))
    if wants_fragment(request):
        return await run_in_threadpool(lambda: _lead_page(request, user, contact_id, feedback_form={}))
    return redirect(lead_url(contact_id) + "#feedback",
                    flash=f"Thanks: feedback “{item.verdict_words}” saved on {item.model} v{item.model_version} "
                          f"(score {item.score:.1f}, {item.tier}).")
