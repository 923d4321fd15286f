"""My accounts and the account page.

A rep sees only the companies whose ``owner`` property equals their owner value (unless they are
a manager); marketing and admins see every company. Another rep's account is a 404 for a rep,
so the page says nothing about whether it exists. On the account page, a contact links to its
lead page only for those who may open that lead.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from leadscore.web.account_page import account_scope, account_url, account_view
from leadscore.web.accounts_query import AccountFilter, accounts_list
from leadscore.web.auth import AnyUser
from leadscore.web.lead_page import bar_share
from leadscore.web.render import reference_time, tier_palette
from leadscore.web.routes_leads import lead_url
from leadscore.web.routing import WebRoute, page, web

router = APIRouter(route_class=WebRoute, include_in_schema=False)

Text = Annotated[str | None, Query(max_length=200)]


@router.get("/accounts")
def accounts(request: Request, session: AnyUser, model: Text = None, tier: Text = None, q: Text = None,
             page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
             after: Annotated[str | None, Query(max_length=2000)] = None,
             before: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    store = web(request).rt.reader()
    flt = AccountFilter(model or None, tier or None, (q or "").strip(), page_number, after or None, before or None)
    data = accounts_list(store, flt, owner=account_scope(session.user))
    companies = store.count("companies")
    owners: list[tuple[str, int]] = []
    if not data.total and not session.user.sees_every_lead:
        owners = [(r[0], int(r[1])) for r in store.con.execute(
            """SELECT owner, count(DISTINCT company_id) FROM companies WHERE owner IS NOT NULL
               GROUP BY owner ORDER BY 2 DESC, owner LIMIT 8""").fetchall()]
    return page(request, "accounts.html", section="accounts", data=data, palette=tier_palette(data.tiers),
                contact_palette=tier_palette(data.contact_tiers), companies=companies, owners=owners,
                account_url=account_url, lead_url=lead_url, ref=reference_time(data.as_of))


@router.get("/accounts/{company_id:path}")
def account(request: Request, session: AnyUser, company_id: str) -> Response:
    view = account_view(web(request).rt.reader(), company_id, session.user)
    ref = reference_time(max((p.explanation.stored_as_of or p.explanation.as_of for p in view.parts), default=None))
    return page(request, "account.html", section="accounts", account=view, lead_url=lead_url,
                account_url=account_url, ref=ref, bar_share=bar_share)
