"""The accounts list: one page of an account model's scored companies, best first, with filters and search.

Order: tier (best first), then score, then company id, so the order is total and pages never
overlap; pages are cut by keyset (``web/pager.py``, shared with the leads list). A rep sees the
companies whose ``owner`` property equals their owner value (the account owner, the column
account workflows give tasks to); managers, marketing and admins see every company.

The page query reads ``account_scores`` (and ``companies`` only for the owner or a search) and
keeps the top ``PAGE_SIZE`` rows; what a row shows beyond the stored score (name, the 7-day
change, the number of contacts, the best contact, the main reason) is then read for those
companies alone. The main reason comes from the account model's detail query (every rule's
points, ``detail=True``) run once for the page's companies (``account_reason`` words it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from leadscore.engine.account_sql import account_detail_sql, account_model_names, contact_model_names, membership_sql
from leadscore.engine.accounts_read import COMPANIES
from leadscore.engine.run import model_of
from leadscore.model.account_conditions import AccountEventCondition
from leadscore.model.account_spec import AccountModel, AccountRule
from leadscore.storage.store import ModelVersion, Store, used_params
from leadscore.timeutil import epoch_micros
from leadscore.web.leads_query import display_name
from leadscore.web.pager import Order, Paged, keyset_rows

#: the page's companies, as a semi-join
ONLY_COMPANIES = "SEMI JOIN (SELECT unnest($ids) AS company_id) AS page_ids USING (company_id)"


@dataclass(frozen=True)
class AccountFilter:
    """What the list shows; every field is a URL parameter, so a view can be bookmarked."""

    model: str | None = None
    tier: str | None = None
    q: str = ""
    page: int = 1
    after: str | None = None
    before: str | None = None

    def url(self, **changes: Any) -> str:
        """``/accounts?...`` for this filter with ``changes`` applied (page 1, no cursor, unless given)."""
        changed = replace(self, **{"page": 1, "after": None, "before": None, **changes})
        params = {"model": changed.model, "tier": changed.tier, "q": changed.q or None,
                  "page": changed.page if changed.page > 1 else None, "after": changed.after,
                  "before": changed.before}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return "/accounts" + (f"?{query}" if query else "")

    def filters(self) -> dict[str, Any]:
        """What a cursor is bound to: the same rows in the same order."""
        return {"model": self.model, "tier": self.tier, "q": self.q}


@dataclass
class AccountRow:
    company_id: str
    score: float
    tier: str
    as_of: datetime
    tier_rank: int
    name: str = ""
    domain: str | None = None
    owner: str | None = None
    change_7d: float | None = None
    contacts: int = 0
    #: the company's best-scored contact under ``AccountPage.contact_model``: id, name, score, tier
    best: dict[str, Any] | None = None
    reason: str | None = None


@dataclass
class AccountPage(Paged):
    filter: AccountFilter
    model: str | None
    models: list[str]
    tiers: dict[str, float]
    rows: list[AccountRow] = field(default_factory=list)
    total: int = 0
    as_of: datetime | None = None
    #: the contact model the best contact is ranked by, and its tiers (for the badge's colour)
    contact_model: str | None = None
    contact_tiers: dict[str, float] = field(default_factory=dict)

    #: whether a row follows the last one shown (read with the page, not guessed from ``total``)
    has_next: bool = False

    def position(self, row: AccountRow) -> list[float | str]:
        return position(row)


#: a row's place in the list: tier rank, minus the score, company id (all ascending)
ORDER = Order(("tier_rank", "-score", "company_id"), (float, float, str))


def position(row: AccountRow) -> list[float | str]:
    return [row.tier_rank, -row.score, row.company_id]


def model_tiers(version: ModelVersion) -> dict[str, float]:
    """A published version's tiers (an account or a contact model), lowest bound first as written."""
    scoring = model_of(version)
    return {k: float(v) for k, v in scoring.tiers.items()}


def _scope(flt: AccountFilter, model: str, owner: str | None, best_first: list[str]) -> tuple[str, dict[str, Any]]:
    """The filtered companies with their sort keys, and the query's parameters."""
    params: dict[str, Any] = {"model": model, "tiers": best_first}
    where = ["s.model = $model"]
    if owner is not None:
        where.append("s.company_id IN (SELECT company_id FROM companies WHERE owner = $owner)")
        params["owner"] = owner
    if flt.tier:
        where.append("s.tier = $tier")
        params["tier"] = flt.tier
    if flt.q:  # a part of the name or domain (% and _ literal), or exactly the id
        params["q"] = flt.q
        params["like"] = "%" + flt.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("s.company_id IN (SELECT company_id FROM companies WHERE company_id = $q "
                     "OR name ILIKE $like ESCAPE '\\' OR domain ILIKE $like ESCAPE '\\')")
    sql = f"""SELECT s.company_id, s.score, s.tier, s.as_of, coalesce(list_position($tiers, s.tier), 99) AS tier_rank
              FROM account_scores AS s WHERE {' AND '.join(where)}"""
    return sql, params


def accounts_list(store: Store, flt: AccountFilter, *, owner: str | None) -> AccountPage:
    """One page of accounts under ``flt``; ``owner`` restricts it to one rep's companies (None: all)."""
    models = account_model_names(store)
    model = flt.model if flt.model in models else (models[0] if models else None)
    flt = replace(flt, model=model, page=max(1, flt.page))
    if model is None:
        return AccountPage(flt, None, [], {})
    version = store.get_version(model)
    tiers = model_tiers(version)
    out = AccountPage(flt, model, models, tiers)
    row = store.con.execute("SELECT max(as_of) FROM account_scores WHERE model = ?", [model]).fetchone()
    out.as_of = row[0] if row else None
    if out.as_of is None:
        return out
    best_first = [t for t, _ in sorted(tiers.items(), key=lambda kv: -kv[1])]
    sql, params = _scope(flt, model, owner, best_first)
    counted = store.con.execute(f"SELECT count(*) FROM ({sql})", used_params(sql, params)).fetchone()
    out.total = int(counted[0]) if counted else 0
    out.rows, out.has_next = _page_rows(store, sql, params, flt)
    if out.rows:
        _fill(store, version, out, out.as_of - timedelta(days=7))
    return out


def _page_rows(store: Store, scope: str, params: dict[str, Any], flt: AccountFilter) -> tuple[list[AccountRow], bool]:
    """The page's rows and whether a row follows them (``pager.keyset_rows``)."""
    rows, has_next = keyset_rows(store, f"({scope})", params, "company_id, score, tier, as_of, tier_rank", ORDER, flt,
                                 lambda r: [r[4], -r[1], r[0]])
    return [AccountRow(*r) for r in rows], has_next


def best_contact_model(store: Store, scoring: AccountModel) -> str | None:
    """The contact model a company's contacts are ranked by: the first one the account model rolls
    up, else the first published contact model."""
    read = [m for m in scoring.contact_models() if m in contact_model_names(store)]
    names = read or contact_model_names(store)
    return names[0] if names else None


def _fill(store: Store, version: ModelVersion, out: AccountPage, week_ago: datetime) -> None:
    """Names, 7-day change, contacts, the best contact and the main reason of one page's rows."""
    con, ids = store.con, [r.company_id for r in out.rows]
    by_id = {r.company_id: r for r in out.rows}
    for cid, name, domain, owner in con.execute(
            f"SELECT company_id, name, domain, owner FROM {COMPANIES} {ONLY_COMPANIES}", {"ids": ids}).fetchall():
        by_id[cid].name, by_id[cid].domain, by_id[cid].owner = name or cid, domain, owner
    for cid, score in con.execute(
            f"""SELECT company_id, arg_max(score, as_of) FROM account_score_history {ONLY_COMPANIES}
                WHERE model = $model AND as_of <= $week_ago GROUP BY company_id""",
            {"ids": ids, "model": version.model, "week_ago": week_ago}).fetchall():
        by_id[cid].change_7d = by_id[cid].score - float(score)
    scoring = model_of(version)
    assert isinstance(scoring, AccountModel)
    contact_model = best_contact_model(store, scoring)
    if contact_model is not None:
        out.contact_model = contact_model
        out.contact_tiers = model_tiers(store.get_version(contact_model))
    members = f"SELECT contact_id, company_id FROM ({membership_sql(store)}) {ONLY_COMPANIES}"
    for cid, n, best_id, first, last, email, score, tier in con.execute(
            f"""SELECT m.company_id, count(*), arg_max(m.contact_id, (s.score IS NOT NULL, s.score)),
                       arg_max(c.first_name, (s.score IS NOT NULL, s.score)),
                       arg_max(c.last_name, (s.score IS NOT NULL, s.score)),
                       arg_max(c.email, (s.score IS NOT NULL, s.score)), max(s.score),
                       arg_max(s.tier, s.score)
                FROM ({members}) AS m JOIN contacts AS c USING (contact_id)
                LEFT JOIN scores AS s ON s.contact_id = m.contact_id AND s.model = $cmodel
                GROUP BY m.company_id""", {"ids": ids, "cmodel": contact_model}).fetchall():
        row = by_id[cid]
        row.contacts = int(n)
        if score is not None:
            row.best = {"contact_id": best_id, "name": display_name(first, last, email, best_id),
                        "score": float(score), "tier": tier}
    for cid, reason in page_reasons(store, scoring, ids, out.as_of or week_ago).items():
        by_id[cid].reason = reason


def account_reason(rule: AccountRule, points: float, count: int | None) -> str:
    """``best three contacts (13 contacts) +28``, ``pricing seen (4×) +10``: a fired account rule as a
    rep reads it, in ``leadscore explain COMPANY``'s words (which count the contacts behind a rule;
    a rule counting events says how many events)."""
    sign = "+" if points > 0 else "−"
    by_events = isinstance(rule.when, AccountEventCondition) and rule.when.count == "events"
    detail = "" if not count or count < 2 else (f" ({count}×)" if by_events else f" ({count} contacts)")
    return f"{rule.name}{detail} {sign}{abs(points):.0f}"


def page_reasons(store: Store, scoring: AccountModel, company_ids: list[str], as_of: datetime) -> dict[str, str]:
    """Each company's main reason: the fired rule that moved its score most."""
    sql = account_detail_sql(store, scoring, as_of)  # the properties and membership of that instant
    values = {"as_of": as_of, "as_of_us": epoch_micros(as_of), "company_ids": list(company_ids)}
    cur = store.con.execute(sql, used_params(sql, values))
    names = [d[0] for d in cur.description or []]
    rules = [rule for _, rule in scoring.rules()]
    out = {}
    for row in cur.fetchall():
        got = dict(zip(names, row, strict=True))
        best: tuple[float, int] | None = None
        for i in range(len(rules)):
            points = float(got[f"r_{i}"] or 0.0)
            if got[f"rf_{i}"] and points and (best is None or abs(points) > abs(best[0])):
                best = (points, i)
        if best is not None:
            out[str(got["company_id"])] = account_reason(rules[best[1]], best[0], got[f"rn_{best[1]}"])
    return out
