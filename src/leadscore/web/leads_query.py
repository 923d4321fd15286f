"""The leads list: one page of a model's scored contacts, best first, with filters and search.

Order: tier (best first), then predicted priority (very high first, none last), then score, then
contact id, so the order is total and pages never overlap. Filters and the page live in the URL.

Built for a million contacts: the page query reads the display table ``lead_rows`` (score, tier,
as-of, the score a week before, owner, search text, predicted priority: ``storage.lead_rows``, kept
by every score run, contact write and prediction run in their transactions), joins another table
only for a segment, and keeps the top ``PAGE_SIZE`` rows; the names, main reason and last activity are then
read for those rows alone. ``bench/dashboard.py`` measures it at 1M contacts / 20M events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from leadscore.engine.account_sql import contact_model_names
from leadscore.engine.run import model_of
from leadscore.model.loader import contact_model
from leadscore.storage.lead_rows import ID_COLUMN, LATEST_PREDICTIVE, SEP
from leadscore.storage.lead_rows import TABLE as LEAD_ROWS
from leadscore.storage.store import ModelVersion, Store, used_params
from leadscore.web.pager import Order, Paged, keyset_rows
from leadscore.web.reasons import SHOWN, page_details
from leadscore.workflows.lists import members_sql
from leadscore.workspace import Workspace

PRIORITIES = ["very high", "high", "medium", "low"]
#: a change smaller than this is float noise or decay, not a move (scores show one decimal)
MOVE_EPSILON = 0.05


@dataclass(frozen=True)
class LeadFilter:
    """What the list shows; every field is a URL parameter, so a view can be bookmarked."""

    model: str | None = None
    tier: str | None = None
    priority: str | None = None
    segment: str | None = None
    moved_up: bool = False
    q: str = ""
    page: int = 1
    #: keyset cursors (``cursors.encode_cursor``): the page after one row, or before one
    after: str | None = None
    before: str | None = None

    def url(self, **changes: Any) -> str:
        """``/leads?...`` for this filter with ``changes`` applied (page 1, no cursor, unless given)."""
        changed = replace(self, **{"page": 1, "after": None, "before": None, **changes})
        params = {"model": changed.model, "tier": changed.tier, "priority": changed.priority,
                  "segment": changed.segment, "moved_up": "1" if changed.moved_up else None,
                  "q": changed.q or None, "page": changed.page if changed.page > 1 else None,
                  "after": changed.after, "before": changed.before}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return "/leads" + (f"?{query}" if query else "")

    def filters(self) -> dict[str, Any]:
        """What a cursor is bound to: the same rows in the same order."""
        return {"model": self.model, "tier": self.tier, "priority": self.priority, "segment": self.segment,
                "moved_up": self.moved_up, "q": self.q}


@dataclass
class LeadRow:
    contact_id: str
    score: float
    tier: str
    as_of: datetime
    priority: str | None
    probability: float | None
    tier_rank: int
    priority_rank: int
    name: str = ""
    email: str | None = None
    company: str | None = None
    job_title: str | None = None
    owner: str | None = None
    change_7d: float | None = None
    reason: str | None = None
    last_activity: datetime | None = None
    #: another id of the lead (``lead_number 660737``), shown when it has no title or company
    other_id: str | None = None


@dataclass
class LeadPage(Paged):
    filter: LeadFilter
    model: str | None
    models: list[str]
    tiers: dict[str, float]
    rows: list[LeadRow] = field(default_factory=list)
    total: int = 0
    segments: list[str] = field(default_factory=list)
    as_of: datetime | None = None
    predictive: str | None = None
    #: whether a row follows the last one shown (read with the page, not guessed from ``total``)
    has_next: bool = False

    def position(self, row: LeadRow) -> list[float | str]:
        return position(row)


#: a row's place in the list: tier rank, priority rank, minus the score, contact id (all ascending)
ORDER = Order(("tier_rank", "priority_rank", "-score", "contact_id"), (float, float, float, str))


def position(row: LeadRow) -> list[float | str]:
    return [row.tier_rank, row.priority_rank, -row.score, row.contact_id]


def display_name(first: str | None, last: str | None, email: str | None, contact_id: str) -> str:
    name = " ".join(p for p in (first, last) if p)
    return name or email or contact_id


def predictive_model(store: Store) -> str | None:
    """The predictive model whose predictions were written last (None before `leadscore predict`)."""
    row = store.con.execute(LATEST_PREDICTIVE.strip("()")).fetchone()
    return row[0] if row else None


def id_columns(store: Store) -> list[str]:
    return [c for c in store.columns("contacts") if c != "contact_id" and ID_COLUMN.search(c)]


def _search(store: Store, q: str, params: dict[str, Any]) -> str:
    """Contacts matching ``q``: exactly an id (contact_id or any id column), or a part of the e-mail,
    company, first or last name (the full name when ``q`` holds a space)."""
    params["w_q"] = q
    params["w_like"] = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    fields = ["c.email", "c.company"]
    fields += ["concat_ws(' ', c.first_name, c.last_name)"] if " " in q.strip() else ["c.first_name", "c.last_name"]
    like = [f"{f} ILIKE $w_like ESCAPE '\\'" for f in fields]
    exact = ["c.contact_id = $w_q", *(f'CAST(c."{col}" AS VARCHAR) = $w_q' for col in id_columns(store))]
    return f"SELECT c.contact_id FROM contacts AS c WHERE {' OR '.join(exact + like)}"


def _scope(store: Store, ws: Workspace, flt: LeadFilter, model: str, owner: str | None,
           predictive: str | None, best_first: list[str]) -> tuple[str, dict[str, Any], bool]:
    """A query of the filtered leads with their sort keys, its parameters (all prefixed ``w_``), and
    whether its filters cost enough (a search's scan of the text, a segment's query) to compute
    it only once.

    Reads the display table (``storage.lead_rows``): owner, search text, the week-ago score and the
    predicted priority are columns there, so no filter but a segment joins another table of a
    million rows."""
    params: dict[str, Any] = {"w_model": model, "w_tiers": best_first}
    where = ["s.model = $w_model"]
    if owner is not None:
        where.append("s.owner = $w_owner")
        params["w_owner"] = owner
    if flt.q:  # exactly an id (contact_id or any id column), or a part of name, e-mail or company
        # lowered by DuckDB as the stored text is (Python's lower() differs: "İ" → "i̇", DuckDB's "i")
        params.update(w_q=SEP + flt.q + SEP, w_text=flt.q)
        where.append("(contains(s.ids, $w_q) OR contains(s.search, lower($w_text)))")
    if predictive is not None:  # the latest predictions, kept in the display table
        params["w_priorities"] = PRIORITIES
        prediction = ("s.priority AS priority, s.probability AS probability, "
                      "coalesce(list_position($w_priorities, s.priority), 9) AS priority_rank")
    else:
        prediction = "NULL::VARCHAR AS priority, NULL::DOUBLE AS probability, 0 AS priority_rank"
    if flt.tier:
        where.append("s.tier = $w_tier")
        params["w_tier"] = flt.tier
    if flt.priority:
        if predictive is not None:
            where.append("s.priority = $w_priority")
            params["w_priority"] = flt.priority
        else:  # no predictive model: no lead has a priority
            where.append("FALSE")
    if flt.segment:
        sql, segment_params = members_sql(store, ws, flt.segment)
        where.append(f"s.contact_id IN ({sql})")
        params.update(segment_params)
    if flt.moved_up:  # each contact against its own score a week before its own as-of
        where.append(f"s.score - s.week_score > {MOVE_EPSILON}")
    sql = f"""SELECT s.contact_id, s.score, s.tier, s.as_of, {prediction},
                     coalesce(list_position($w_tiers, s.tier), 99) AS tier_rank, s.week_score
              FROM {LEAD_ROWS} AS s WHERE {' AND '.join(where)}"""
    return sql, params, bool(flt.q or flt.segment)


SCOPE = "_ls_leads"


def leads_page(store: Store, ws: Workspace, flt: LeadFilter, *, owner: str | None) -> LeadPage:
    """One page of leads under ``flt``; ``owner`` restricts it to one rep's contacts (None: everyone).

    Pages are cut by keyset (``after`` / ``before`` a row's position), so page 500 costs what page 1
    does; a page number without a cursor (a typed URL) is an offset (``offset_pages``).
    """
    models = contact_model_names(store)
    model = flt.model if flt.model in models else (models[0] if models else None)
    flt = replace(flt, model=model, page=max(1, flt.page))
    if model is None:
        return LeadPage(flt, None, [], {})
    version = store.get_version(model)
    tiers = {k: float(v) for k, v in contact_model(model_of(version)).tiers.items()}
    predictive = predictive_model(store)
    out = LeadPage(flt, model, models, tiers, segments=sorted(ws.settings.segments), predictive=predictive)
    row = store.con.execute(f"SELECT max(as_of) FROM {LEAD_ROWS} WHERE model = ?", [model]).fetchone()
    out.as_of = row[0] if row else None
    if out.as_of is None:
        return out
    best_first = [t for t, _ in sorted(tiers.items(), key=lambda kv: -kv[1])]
    sql, params, costly = _scope(store, ws, flt, model, owner, predictive, best_first)
    con = store.con
    if costly:  # the filters once into a temporary table of this cursor, then count and page from it
        con.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE} AS {sql}", used_params(sql, params))
        source, bound = SCOPE, {}
    else:
        source, bound = f"({sql})", params
    try:
        counted = con.execute(f"SELECT count(*) FROM {source}", bound).fetchone()
        out.total = int(counted[0]) if counted else 0
        out.rows, out.has_next = _page_rows(store, source, bound, flt)
    finally:
        if costly:
            con.execute(f"DROP TABLE IF EXISTS {SCOPE}")
    if out.rows:
        _fill(store, version, out.rows)
    return out


def _page_rows(store: Store, source: str, params: dict[str, Any], flt: LeadFilter) -> tuple[list[LeadRow], bool]:
    """The page's rows and whether a row follows them (``pager.keyset_rows``)."""
    columns = "contact_id, score, tier, as_of, priority, probability, tier_rank, priority_rank, week_score"
    rows, has_next = keyset_rows(store, source, params, columns, ORDER, flt,
                                 lambda r: [r[6], r[7], -r[1], r[0]])
    return [_row(*r) for r in rows], has_next


def _row(*values: Any) -> LeadRow:
    row = LeadRow(*values[:-1])
    week_score = values[-1]
    row.change_7d = row.score - week_score if week_score is not None else None
    return row


def _fill(store: Store, version: ModelVersion, rows: list[LeadRow]) -> None:
    """Names, the main reason and the last activity of one page's rows, each as of the row's own
    stored score (a contact scored later than the others is explained as of its own instant, as its
    lead page does)."""
    extra = [c for c in id_columns(store) if c != "company_id"][:1]  # the lead's own other id, not its company's
    details = page_details(store, version, {r.contact_id: r.as_of for r in rows}, shown=(*SHOWN, *extra))
    for r in rows:
        person = details.people.get(r.contact_id, {})
        if extra and person.get(extra[0]) is not None:
            r.other_id = f"{extra[0]} {person[extra[0]]}"
        r.name = display_name(person.get("first_name"), person.get("last_name"), person.get("email"), r.contact_id)
        r.email, r.company, r.job_title, r.owner = (person.get(k) for k in ("email", "company", "job_title", "owner"))
        r.reason, r.last_activity = details.reasons.get(r.contact_id), details.last_activity.get(r.contact_id)


def search_contacts(store: Store, q: str, *, owner: str | None, limit: int = 10) -> list[dict[str, str]]:
    """Up to ``limit`` contacts matching ``q`` (id, name, e-mail, company), for pickers."""
    params: dict[str, Any] = {"w_limit": limit}
    where = [f"c.contact_id IN ({_search(store, q, params)})"]
    if owner is not None:
        where.append("c.owner = $w_owner")
        params["w_owner"] = owner
    rows = store.con.execute(
        f"""SELECT c.contact_id, c.first_name, c.last_name, c.email, c.company FROM contacts AS c
            WHERE {' AND '.join(where)} ORDER BY c.contact_id LIMIT $w_limit""", params).fetchall()
    out = []
    for cid, first, last, email, company in rows:
        label = display_name(first, last, email, cid) + (f" · {company}" if company else "")
        out.append({"contact_id": cid, "label": f"{label} ({cid})"})
    return out
