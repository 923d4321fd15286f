"""The leads list: one page of a model's scored contacts, best first, with filters and search.

Order: tier (best first), then predicted priority (very high first, none last), then score, then
contact id, so the order is total and pages never overlap. Filters and the page live in the URL.

Built for a million contacts: the page query reads ``scores`` (and ``predictions``), joins
``contacts`` only when the owner, a search or a segment needs it, and keeps the top ``PAGE_SIZE``
rows; everything shown per row (names, the 7-day change, the main reason, the last activity) is
then read for those rows alone. ``bench/dashboard.py`` measures it at 1M contacts / 20M events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from leadscore.engine.run import model_of
from leadscore.storage.store import ModelVersion, Store
from leadscore.web.reasons import top_reasons
from leadscore.workflows.lists import members_sql
from leadscore.workspace import Workspace

PAGE_SIZE = 50
PRIORITIES = ["very high", "high", "medium", "low"]
#: contact columns a search matches exactly, besides contact_id: prospect_id, lead_number, hubspot_id...
ID_COLUMN = re.compile(r"(^|_)(id|number|no|key)$")
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

    def url(self, **changes: Any) -> str:
        """``/leads?...`` for this filter with ``changes`` applied (page back to 1 unless given)."""
        changed = replace(self, **{"page": 1, **changes})
        params = {"model": changed.model, "tier": changed.tier, "priority": changed.priority,
                  "segment": changed.segment, "moved_up": "1" if changed.moved_up else None,
                  "q": changed.q or None, "page": changed.page if changed.page > 1 else None}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return "/leads" + (f"?{query}" if query else "")


@dataclass
class LeadRow:
    contact_id: str
    score: float
    tier: str
    as_of: datetime
    priority: str | None
    probability: float | None
    name: str = ""
    email: str | None = None
    company: str | None = None
    job_title: str | None = None
    owner: str | None = None
    change_7d: float | None = None
    reason: str | None = None
    last_activity: datetime | None = None


@dataclass
class LeadPage:
    filter: LeadFilter
    model: str | None
    models: list[str]
    tiers: dict[str, float]
    rows: list[LeadRow] = field(default_factory=list)
    total: int = 0
    segments: list[str] = field(default_factory=list)
    as_of: datetime | None = None
    predictive: str | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @property
    def first(self) -> int:
        return (self.filter.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def display_name(first: str | None, last: str | None, email: str | None, contact_id: str) -> str:
    name = " ".join(p for p in (first, last) if p)
    return name or email or contact_id


def predictive_model(store: Store) -> str | None:
    """The predictive model whose predictions were written last (None before `leadscore predict`)."""
    row = store.con.execute("SELECT model FROM prediction_runs ORDER BY computed_at DESC LIMIT 1").fetchone()
    return row[0] if row else None


def id_columns(store: Store) -> list[str]:
    return [c for c in store.columns("contacts") if c != "contact_id" and ID_COLUMN.search(c)]


def _search(store: Store, q: str, params: dict[str, Any], id_ref: str = "s.contact_id") -> str:
    """Exact id (contact_id or any id column) or a part of the name, e-mail or company."""
    params["w_q"] = q
    params["w_like"] = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    like = [f"c.{col} ILIKE $w_like ESCAPE '\\'" for col in ("email", "company", "first_name", "last_name")]
    like.append("concat_ws(' ', c.first_name, c.last_name) ILIKE $w_like ESCAPE '\\'")
    exact = [f"{id_ref} = $w_q", *(f'CAST(c."{col}" AS VARCHAR) = $w_q' for col in id_columns(store))]
    return "(" + " OR ".join(exact + like) + ")"


def _scope(store: Store, ws: Workspace, flt: LeadFilter, model: str, owner: str | None, week_ago: datetime,
           predictive: str | None) -> tuple[str, dict[str, Any]]:
    """``FROM ... WHERE ...`` of the filtered list, and its parameters (all prefixed ``w_``)."""
    params: dict[str, Any] = {"w_model": model}
    joins, where = [], ["s.model = $w_model"]
    if owner is not None or flt.q:
        joins.append("JOIN contacts AS c ON c.contact_id = s.contact_id")
    if owner is not None:
        where.append("c.owner = $w_owner")
        params["w_owner"] = owner
    if flt.q:
        where.append(_search(store, flt.q, params))
    if predictive is not None:
        joins.append("LEFT JOIN predictions AS p ON p.contact_id = s.contact_id AND p.model = $w_pmodel")
        params["w_pmodel"] = predictive
    if flt.tier:
        where.append("s.tier = $w_tier")
        params["w_tier"] = flt.tier
    if flt.priority:
        where.append("p.priority = $w_priority" if predictive is not None else "FALSE")
        params["w_priority"] = flt.priority
    if flt.segment:
        sql, segment_params = members_sql(store, ws, flt.segment)
        where.append(f"s.contact_id IN ({sql})")
        params.update(segment_params)
    if flt.moved_up:
        joins.append("""JOIN (SELECT contact_id, arg_max(score, as_of) AS score FROM score_history
                              WHERE model = $w_model AND as_of <= $w_week_ago GROUP BY contact_id) AS prev
                        ON prev.contact_id = s.contact_id""")
        where.append(f"s.score - prev.score > {MOVE_EPSILON}")
        params["w_week_ago"] = week_ago
    return f"FROM scores AS s {' '.join(joins)} WHERE {' AND '.join(where)}", params


def leads_page(store: Store, ws: Workspace, flt: LeadFilter, *, owner: str | None) -> LeadPage:
    """One page of leads under ``flt``; ``owner`` restricts it to one rep's contacts (None: everyone)."""
    models = store.published_models()
    model = flt.model if flt.model in models else (models[0] if models else None)
    flt = replace(flt, model=model, page=max(1, flt.page))
    if model is None:
        return LeadPage(flt, None, [], {})
    version = store.get_version(model)
    tiers = {k: float(v) for k, v in model_of(version).tiers.items()}
    predictive = predictive_model(store)
    out = LeadPage(flt, model, models, tiers, segments=sorted(ws.settings.segments), predictive=predictive)
    row = store.con.execute("SELECT max(as_of) FROM scores WHERE model = ?", [model]).fetchone()
    out.as_of = row[0] if row else None
    if out.as_of is None:
        return out
    week_ago = out.as_of - timedelta(days=7)
    scope, params = _scope(store, ws, flt, model, owner, week_ago, predictive)
    counted = store.con.execute(f"SELECT count(*) {scope}", params).fetchone()
    out.total = int(counted[0]) if counted else 0
    best_first = [t for t, _ in sorted(tiers.items(), key=lambda kv: -kv[1])]
    pred = "p.priority, p.probability" if predictive is not None else "NULL, NULL"
    rows = store.con.execute(
        f"""SELECT s.contact_id, s.score, s.tier, s.as_of, {pred} {scope}
            ORDER BY coalesce(list_position($w_tiers, s.tier), 99),
                     {"coalesce(list_position($w_priorities, p.priority), 9)," if predictive else ""}
                     s.score DESC, s.contact_id
            LIMIT $w_limit OFFSET $w_offset""",
        {**params, "w_tiers": best_first, **({"w_priorities": PRIORITIES} if predictive else {}),
         "w_limit": PAGE_SIZE, "w_offset": (flt.page - 1) * PAGE_SIZE}).fetchall()
    out.rows = [LeadRow(*r) for r in rows]
    if out.rows:
        _fill(store, version, out.rows, week_ago)
    return out


def _fill(store: Store, version: ModelVersion, rows: list[LeadRow], week_ago: datetime) -> None:
    """Names, 7-day change, the main reason and the last activity of one page's rows."""
    ids = [r.contact_id for r in rows]
    by_id = {r.contact_id: r for r in rows}
    people = store.con.execute(
        """SELECT contact_id, first_name, last_name, email, company, job_title, owner FROM contacts
           WHERE contact_id IN (SELECT unnest($ids))""", {"ids": ids}).fetchall()
    for cid, first, last, email, company, title, owner in people:
        r = by_id[cid]
        r.name, r.email, r.company, r.job_title, r.owner = display_name(first, last, email, cid), email, company, \
            title, owner
    before = store.con.execute(
        """SELECT contact_id, arg_max(score, as_of) FROM score_history
           WHERE model = $model AND as_of <= $week_ago AND contact_id IN (SELECT unnest($ids))
           GROUP BY contact_id""", {"model": version.model, "week_ago": week_ago, "ids": ids}).fetchall()
    for cid, score in before:
        by_id[cid].change_7d = by_id[cid].score - float(score)
    as_of = max(r.as_of for r in rows)
    for cid, reason in top_reasons(store, version, ids, as_of).items():
        by_id[cid].reason = reason
    last = store.con.execute(
        """SELECT contact_id, max(occurred_at) FROM events
           WHERE contact_id IN (SELECT unnest($ids)) AND occurred_at <= $as_of GROUP BY contact_id""",
        {"ids": ids, "as_of": as_of}).fetchall()
    for cid, at in last:
        by_id[cid].last_activity = at


def search_contacts(store: Store, q: str, *, owner: str | None, limit: int = 10) -> list[dict[str, str]]:
    """Up to ``limit`` contacts matching ``q`` (id, name, e-mail, company), for pickers."""
    params: dict[str, Any] = {"w_limit": limit}
    where = [_search(store, q, params, "c.contact_id")]
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
