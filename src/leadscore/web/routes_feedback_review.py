"""Feedback review (marketing and admins): the leads reps disputed, by direction, with the rules that
had fired on them, and the audit of which rules fire far more often on disputed leads.

The list is each contact's latest feedback on the model. The audit (``reports.feedback_audit``)
scores the whole base once, so it is asked for separately: the page's script loads it in the
background (saying it is working); without the script, ``?audit=1`` shows it in the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from leadscore.engine.account_sql import contact_model_names
from leadscore.engine.run import model_of
from leadscore.feedback import VERDICTS, disputed, verdict_counts
from leadscore.model.loader import contact_model
from leadscore.reports.feedback_audit import feedback_audit
from leadscore.reports.findings import feedback_findings
from leadscore.storage.store import Store
from leadscore.web.auth import MarketingUser
from leadscore.web.render import tier_palette
from leadscore.web.routes_leads import lead_url
from leadscore.web.routing import WebRoute, page, wants_fragment, web

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE = 50
Param = Annotated[str | None, Query(max_length=200)]


def _model(store: Store, asked: str | None) -> str | None:
    models = contact_model_names(store)
    return asked if asked in models else (models[0] if models else None)


def _audit(store: Store, model: str) -> dict[str, Any]:
    audit = feedback_audit(store, contact_model(model_of(store.get_version(model))))
    return {"audit": audit, "findings": feedback_findings(audit)}


@router.get("/feedback")
def review(request: Request, _user: MarketingUser, model: Param = None, verdict: Param = None,
           audit: Param = None, page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> Response:
    store = web(request).rt.reader()
    chosen = _model(store, model)
    direction = verdict if verdict in VERDICTS else "too_high"
    context: dict[str, Any] = {"models": contact_model_names(store), "model": chosen, "verdict": direction,
                               "verdicts": VERDICTS, "page_number": page_number, "lead_url": lead_url,
                               "items": [], "total": 0, "counts": dict.fromkeys(VERDICTS, 0), "now": {},
                               "palette": {}, "audit": None, "findings": [], "audited": False}
    if chosen is not None:
        items, total = disputed(store, model=chosen, verdict=direction, limit=PAGE, offset=(page_number - 1) * PAGE)
        ids = [f.contact_id for f in items]
        now = {r[0]: (r[1], r[2], r[3]) for r in store.con.execute(
            """SELECT s.contact_id, s.score, s.tier, concat_ws(' ', c.first_name, c.last_name) FROM scores s
               JOIN contacts c USING (contact_id) WHERE s.model = $m AND s.contact_id IN (SELECT unnest($i))""",
            {"m": chosen, "i": ids}).fetchall()}
        tiers = {k: float(v) for k, v in model_of(store.get_version(chosen)).tiers.items()}
        context.update(items=items, total=total, counts=verdict_counts(store, chosen), now=now,
                       palette=tier_palette(tiers))
        if audit:
            context.update(_audit(store, chosen), audited=True)
    return page(request, "feedback.html", section="feedback", **context)


@router.get("/feedback/audit")
def audit_part(request: Request, _user: MarketingUser, model: Param = None) -> Response:
    """The audit alone: a fragment for the page's script, else the review page with it."""
    store = web(request).rt.reader()
    chosen = _model(store, model)
    if not wants_fragment(request) or chosen is None:
        return review(request, _user, model=chosen, verdict=None, audit="1", page_number=1)
    return page(request, "partials/feedback_audit.html", model=chosen, **_audit(store, chosen))
