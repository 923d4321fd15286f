"""Everything the account page shows about one company, read in one place.

Per published account model the company is scored by: the explanation
(``engine.explain_accounts.explain_company``, the numbers of ``leadscore explain COMPANY``: the
stored score's as-of and model version), the groups against their caps, every rule that fired
with its raw and decayed points and the contacts and events behind it, and the score history as
a chart (tier bands shaded, crossings marked, each point's hover naming the events of the
company's contacts since the previous point; the lead page's ``history_chart``). Then the
company's contacts with their scores, and the tasks and workflow actions about the company.

Who may open it is decided here too (``check_account_access``): a rep only the companies whose
``owner`` is their owner value; and on the page, a contact links to its lead page only for those
who may open that lead (the leads' own owner scoping).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from leadscore.engine.account_sql import account_model_names, members_of_company
from leadscore.engine.accounts_read import COMPANIES, account_detail
from leadscore.engine.explain_accounts import company_part, explain_company
from leadscore.errors import NotFoundError
from leadscore.storage.store import Store
from leadscore.users import User
from leadscore.web.accounts_query import model_tiers
from leadscore.web.lead_page import ModelPart, change_over_week, dict_rows, history_chart, rule_lines
from leadscore.web.render import tier_palette

HIDDEN_PROPERTIES = {"company_id", "name"}


def account_url(company_id: str) -> str:
    return "/accounts/" + quote(company_id, safe="")


def account_scope(user: User) -> str | None:
    """The owner value a user's accounts are restricted to; None for those who see every account."""
    return None if user.sees_every_lead else (user.owner_value or "\x00no owner value")


def company_row(store: Store, company_id: str) -> dict[str, Any]:
    cur = store.con.execute(f"SELECT * FROM {COMPANIES} WHERE company_id = ?", [company_id])
    row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"no company with id `{company_id}`")
    return dict(zip([d[0] for d in cur.description or []], row, strict=True))


def check_account_access(store: Store, user: User, company_id: str) -> dict[str, Any]:
    """The company's row, or NotFoundError when it does not exist or is not among the user's accounts
    (the message does not say which)."""
    owner = account_scope(user)
    try:
        company = company_row(store, company_id)
    except NotFoundError:
        company = None
    if company is None or (owner is not None and company.get("owner") != owner):
        raise NotFoundError(f"no account `{company_id}` among your accounts (owner {user.owner_value or 'not set'})")
    return company


@dataclass
class AccountView:
    company_id: str
    name: str
    properties: dict[str, Any]
    parts: list[ModelPart]
    #: every contact of the company, best first: contact_id, name, job_title, owner, scores, ``link``
    contacts: list[dict[str, Any]]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    palettes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def owner(self) -> str | None:
        return self.properties.get("owner")


def _part(store: Store, company_id: str, model: str, history: list[dict[str, Any]],
          events: list[tuple[datetime, str]]) -> ModelPart | None:
    if store.con.execute("SELECT 1 FROM account_scores WHERE model = ? AND company_id = ?",
                         [model, company_id]).fetchone() is None:
        return None
    e = explain_company(store, company_id, model=model)
    version = store.get_version(model, e.model_version)
    tiers = model_tiers(version)
    palette = tier_palette(tiers)
    fired, idle = rule_lines(e)
    return ModelPart(e, palette, tiers, fired, idle, history_chart(history, events, tiers, palette),
                       change_over_week(history, e))


def account_view(store: Store, company_id: str, user: User) -> AccountView:
    """The account page's data for ``user`` (NotFoundError for an unknown or not-owned company)."""
    company = check_account_access(store, user, company_id)
    history = dict_rows(store, """SELECT model, as_of, score, tier, prev_tier, model_version FROM account_score_history
                              WHERE company_id = ? ORDER BY as_of, computed_at""", [company_id])
    members = members_of_company(store, company_id)
    kinds = [(r[0], r[1]) for r in store.con.execute(
        "SELECT occurred_at, type FROM events WHERE contact_id IN (SELECT unnest(?)) ORDER BY occurred_at",
        [members]).fetchall()] if members else []
    parts = [p for p in (_part(store, company_id, m, [h for h in history if h["model"] == m], kinds)
                         for m in account_model_names(store)) if p is not None]
    detail = account_detail(store, company_id)
    owner = None if user.sees_every_lead else user.owner_value
    contacts = detail["contacts"]
    for c in contacts:
        c["name"] = " ".join(p for p in (c.get("first_name"), c.get("last_name")) if p) or c.get("email") \
            or c["contact_id"]
        c["link"] = user.sees_every_lead or (owner is not None and c.get("owner") == owner)
    palettes = {}
    for c in contacts:
        for s in c["scores"]:
            if s["model"] not in palettes:
                palettes[s["model"]] = tier_palette(model_tiers(store.get_version(s["model"])))
    properties = {k: v for k, v in company.items() if v is not None and k not in HIDDEN_PROPERTIES}
    view = AccountView(company_id, company.get("name") or company_id, properties, parts, contacts, palettes=palettes)
    view.tasks = dict_rows(store, """SELECT task_id, owner, title, notes, due_at, status, workflow, created_at
                                     FROM tasks
                                 WHERE company_id = ? ORDER BY status DESC, due_at NULLS LAST, created_at DESC""",
                       [company_id])
    view.actions = dict_rows(store, """SELECT action_id, kind, workflow, target, status, attempts, created_at,
                                          delivered_at, next_attempt_at, last_error
                                   FROM outbox WHERE company_id = ? ORDER BY created_at DESC LIMIT 50""",
                         [company_id])
    return view


@dataclass
class LeadCompany:
    """The company box of a lead page: the contact's company, its account scores, and whether the
    user may open the account page."""

    company_id: str
    name: str
    scores: list[dict[str, Any]]
    palettes: dict[str, dict[str, str]]
    url: str | None


def lead_company(store: Store, contact_id: str, user: User) -> LeadCompany | None:
    """The lead's company with its account scores (None when the contact has no company)."""
    part = company_part(store, contact_id)
    if part is None:
        return None
    palettes = {s["model"]: tier_palette(model_tiers(store.get_version(s["model"], s["model_version"])))
                for s in part.scores}
    try:
        check_account_access(store, user, part.company_id)
        url: str | None = account_url(part.company_id)
    except NotFoundError:
        url = None
    return LeadCompany(part.company_id, part.name or part.company_id, part.scores, palettes, url)
