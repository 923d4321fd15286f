"""Why a company has its score: every rule, down to the contacts and events behind it.

As for contacts (``engine.explain``), the numbers come from the compiled account query run with
``detail=True`` for one company, so they add up to what a score run stores; the contacts and
events behind each rule come from the account reference scorer (``engine.reference_accounts``),
which the account differential test keeps in agreement with the SQL. ``company_part`` is the
small piece a contact's explanation shows: its company and that company's account scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from leadscore.engine.account_sql import (
    account_detail_sql,
    account_model_names,
    company_of,
    contact_models_for,
    members_of_company,
)
from leadscore.engine.accounts_read import account_predictions_of
from leadscore.engine.explain import MAX_EVENTS_PER_RULE, Explanation, GroupExplanation, explain_contact
from leadscore.engine.reference_accounts import score_account_reference
from leadscore.engine.run import model_of
from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.model.account_spec import AccountModel
from leadscore.storage.history import COMPANIES, rows_as_of
from leadscore.storage.store import Store, used_params
from leadscore.timeutil import epoch_micros, utcnow

#: Contacts listed per rule (the rest are counted).
MAX_CONTACTS_PER_RULE = 20


@dataclass
class CompanyPart:
    """A contact's company and its stored account scores (one per account model)."""

    company_id: str
    name: str | None
    scores: list[dict[str, Any]] = field(default_factory=list)


def _rows(store: Store, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = store.con.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def company_part(store: Store, contact_id: str) -> CompanyPart | None:
    """The company of ``contact_id`` with its account scores, or None when it has no company."""
    company_id = company_of(store, contact_id)
    if company_id is None:
        return None
    row = store.con.execute("SELECT name FROM companies WHERE company_id = ? LIMIT 1", [company_id]).fetchone()
    scores = _rows(store, "SELECT model, model_version, score, tier, grade, as_of FROM account_scores "
                          "WHERE company_id = ? ORDER BY model", [company_id])
    return CompanyPart(company_id, row[0] if row else None, scores)


@dataclass
class AccountRuleExplanation:
    group: str
    name: str
    fired: bool
    points: float
    raw: float
    count: int | None
    #: the contacts behind the rule: ``contact_id``, ``name`` and, for a roll-up, its ``value``
    contacts: list[dict[str, Any]] = field(default_factory=list)
    matched_events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def decayed_by(self) -> float:
        return self.raw - self.points if self.fired else 0.0


@dataclass
class AccountExplanation:
    company_id: str
    name: str | None
    model: str
    model_version: int | None
    as_of: datetime
    total: float
    tier: str
    grade: str | None
    groups: list[GroupExplanation]
    rules: list[AccountRuleExplanation]
    groups_sum: float
    #: the company's contacts at the as-of: ``contact_id``, ``name``, ``title`` and, per contact
    #: model the account model reads, ``scores: {model: {score, tier}}``
    contacts: list[dict[str, Any]] = field(default_factory=list)
    stored_score: float | None = None
    stored_as_of: datetime | None = None
    #: its predictions under the models of companies (``accounts_read.account_predictions_of``):
    #: probability, priority and the reasons up and down, beside the rule score
    predictions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for g, raw in zip(data["groups"], self.groups, strict=True):
            g["clamped"] = raw.clamped
        return data

    def reasons(self, n: int = 3) -> list[str]:
        """The rules that moved the score most, as short phrases for a sales rep."""
        fired = sorted((r for r in self.rules if r.fired and r.points), key=lambda r: -abs(r.points))
        out = []
        for r in fired[:n]:
            sign = "+" if r.points > 0 else "−"
            who = f" ({len(r.contacts)} contacts)" if len(r.contacts) > 1 else ""
            out.append(f"{r.name}{who} {sign}{abs(r.points):.0f}")
        return out


def _contact_rows(store: Store, ids: list[str], as_of: datetime) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    """The contacts' rows (their properties as of ``as_of``) and their events up to ``as_of``."""
    contacts = rows_as_of(store.con, _rows(
        store, "SELECT * FROM contacts WHERE contact_id IN (SELECT UNNEST(?)) ORDER BY contact_id", [ids]), as_of)
    events: dict[str, list[Any]] = {}
    for row in _rows(store, "SELECT * FROM events WHERE contact_id IN (SELECT UNNEST(?)) AND occurred_at <= ? "
                            "ORDER BY occurred_at DESC", [ids, as_of]):
        events.setdefault(row["contact_id"], []).append(row)
    return contacts, events


def _who(contact: dict[str, Any]) -> str:
    name = " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
    return name or contact.get("email") or contact["contact_id"]


def explain_account_with_model(store: Store, model: AccountModel, company_id: str, *,
                               as_of: datetime | None = None, version: int | None = None) -> AccountExplanation:
    """Explain one company under an account model (published or draft) at ``as_of`` (default now)."""
    when = as_of or utcnow()
    companies = _rows(store, "SELECT * FROM companies WHERE company_id = ? LIMIT 1", [company_id])
    if not companies:
        raise NotFoundError(f"no company with id `{company_id}`")
    companies = rows_as_of(store.con, companies, when, COMPANIES)  # its properties of then
    sql = account_detail_sql(store, model, when)  # compiled once per model and histories read, not per company
    cur = store.con.execute(sql, used_params(sql, {"as_of": when, "as_of_us": epoch_micros(when),
                                                   "company_ids": [company_id]}))
    row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"company `{company_id}` is not scored at {when:%Y-%m-%d %H:%M}: it was created later")
    values = dict(zip([d[0] for d in cur.description], row, strict=True))
    ids = members_of_company(store, company_id, as_of=when)
    contacts, events = _contact_rows(store, ids, when)
    by_id = {c["contact_id"]: c for c in contacts}
    contact_models, _ = contact_models_for(store, model)
    reference = score_account_reference(model, companies[0], [(c, events.get(c["contact_id"], [])) for c in contacts],
                                        when, contact_models)
    rules: list[AccountRuleExplanation] = []
    for i, (group, rule) in enumerate(model.rules()):
        ref = reference.rules[i]
        # a roll-up's contacts best first (what it averages or sums), others in their events' order
        order = sorted(ref.contacts, key=lambda cid: -ref.values[cid]) if ref.values else ref.contacts
        behind = [{"contact_id": cid, "name": _who(by_id[cid]),
                   **({"value": ref.values[cid]} if cid in ref.values else {})}
                  for cid in order[:MAX_CONTACTS_PER_RULE]]
        matched = [{k: v for k, v in e.items() if v is not None} for e in ref.matched[:MAX_EVENTS_PER_RULE]]
        rules.append(AccountRuleExplanation(group, rule.name, bool(values[f"rf_{i}"]), float(values[f"r_{i}"] or 0.0),
                                            float(values[f"rraw_{i}"] or 0.0), values[f"rn_{i}"], behind, matched))
    groups = []
    for gi, (name, spec) in enumerate(model.groups.items()):
        rules_sum = sum(r.points for r in rules if r.group == name)
        groups.append(GroupExplanation(name, rules_sum, float(values[f"g_{gi}"]), spec.cap, spec.floor))
    scored = reference.member_scores
    members = [{"contact_id": c["contact_id"], "name": _who(c), "title": c.get("job_title"),
                "scores": {m: {"score": s, "tier": t} for m, (s, t) in scored[c["contact_id"]].items()}}
               for c in contacts]
    members.sort(key=lambda m: -max((s["score"] for s in m["scores"].values()), default=0.0))
    return AccountExplanation(company_id, companies[0].get("name"), model.name, version, when,
                              float(values["score"]), values["tier"], values["grade"], groups, rules,
                              sum(g.points for g in groups), members)


def explain_company(store: Store, company_id: str, *, model: str | None = None,
                    as_of: datetime | None = None) -> AccountExplanation:
    """Explain the stored account score of a company: by default at the as-of and version that made it."""
    names = [model] if model else account_model_names(store)
    if not names:
        raise NotFoundError("no published account model yet; publish a model with `level: account`")
    name = names[0]
    stored = store.con.execute(
        "SELECT model_version, score, as_of FROM account_scores WHERE model = ? AND company_id = ?",
        [name, company_id]).fetchone()
    if as_of is None and stored is not None:
        version = store.get_version(name, stored[0])
        when: datetime | None = stored[2]
    else:
        version = store.get_version(name)
        when = as_of
    scoring = model_of(version)
    if not isinstance(scoring, AccountModel):
        raise NotFoundError(f"`{name}` scores contacts, not companies: explain a contact, or name an account model")
    result = explain_account_with_model(store, scoring, company_id, as_of=when, version=version.version)
    if stored is not None:
        result.stored_score, result.stored_as_of = float(stored[1]), stored[2]
    result.predictions = account_predictions_of(store, company_id)
    return result


def explain_any(store: Store, some_id: str, *, model: str | None = None, as_of: datetime | None = None,
                level: str | None = None) -> Explanation | AccountExplanation:
    """``leadscore explain ID``: a contact's explanation, or a company's.

    A company when ``level`` is ``account``, when ``model`` is an account model, or when the id
    names a company and no contact; a contact otherwise.
    """
    if wants_company(store, some_id, model=model, level=level):
        return explain_company(store, some_id, model=model, as_of=as_of)
    return explain_contact(store, some_id, model=model, as_of=as_of)


def wants_company(store: Store, some_id: str, *, model: str | None, level: str | None) -> bool:
    """Whether a command given an id (``explain``, ``history``) is about a company: ``level`` says
    so, or ``model`` is an account model, or the id names a company and no contact."""
    if level not in (None, "contact", "account"):
        raise LeadscoreError(f"unknown level {level!r}: contact or account")
    if level is None and model is not None:
        level = "account" if model in account_model_names(store) else "contact"
    if level is None:
        contact = store.con.execute("SELECT 1 FROM contacts WHERE contact_id = ? LIMIT 1", [some_id]).fetchone()
        company = store.con.execute("SELECT 1 FROM companies WHERE company_id = ? LIMIT 1", [some_id]).fetchone()
        level = "account" if company is not None and contact is None else "contact"
    return level == "account"
