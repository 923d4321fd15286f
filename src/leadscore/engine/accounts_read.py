"""Reading account scores back out: the leaderboard of companies, an account's page, exports.

What the CLI (``top --level account``, ``export scores --level account``), the API
(``GET /v1/companies/{id}``, ``GET /v1/accounts/scores``) and the dashboard (the accounts a rep
owns, an account's page) show, from stored ``account_scores``: one place for these queries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp

from leadscore.engine.account_sql import account_model_names, membership_sql
from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.storage.csv_cells import spreadsheet_safe
from leadscore.storage.store import Store

FORMATS = ("csv", "parquet")


def _lit(value: str) -> str:
    return exp.Literal.string(value).sql(dialect="duckdb")


def _rows(store: Store, sql: str, params: list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
    cur = store.con.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


#: One row per company (the table has no key; a repeated id must not repeat rows).
COMPANIES = "(SELECT * FROM companies QUALIFY row_number() OVER (PARTITION BY company_id ORDER BY name) = 1)"
#: The predictions of the model of companies predicted last (``leadscore predict --level account``):
#: ``company_id, probability, priority``, beside the rule score in the leaderboard and the API.
PREDICTED = ("(SELECT company_id, probability, priority FROM account_predictions WHERE model = "
             "(SELECT model FROM account_prediction_runs ORDER BY computed_at DESC, model LIMIT 1))")


def _model(store: Store, model: str | None) -> str | None:
    """The account model to read: the named one (which must be an account model) or the first."""
    names = account_model_names(store)
    if model is None:
        return names[0] if names else None
    if model not in names:
        raise NotFoundError(f"no published account model `{model}` (account models: {', '.join(names) or 'none'})")
    return model


@dataclass
class AccountRow:
    """One company on the leaderboard."""

    company_id: str
    name: str | None
    domain: str | None
    owner: str | None
    model: str
    score: float
    tier: str
    grade: str | None
    contacts: int
    #: the predicted likelihood of a won deal and its priority bucket (None before `predict --level account`)
    probability: float | None = None
    priority: str | None = None


def top_accounts(store: Store, *, model: str | None = None, tier: str | None = None, owner: str | None = None,
                 n: int = 20) -> list[AccountRow]:
    """The best-scored companies of an account model (the first published one by default),
    optionally in one tier or owned by one rep; with the number of their contacts."""
    name = _model(store, model)
    if name is None:
        return []
    sql = f"""SELECT s.company_id, c.name, c.domain, c.owner, s.model, s.score, s.tier, s.grade,
                     coalesce(m.n, 0), p.probability, p.priority
              FROM account_scores s LEFT JOIN {COMPANIES} c USING (company_id)
              LEFT JOIN {PREDICTED} p USING (company_id)
              LEFT JOIN (SELECT company_id, count(*) AS n FROM ({membership_sql(store)}) GROUP BY company_id) m
                USING (company_id)
              WHERE s.model = $model AND ($tier IS NULL OR s.tier = $tier) AND ($owner IS NULL OR c.owner = $owner)
              ORDER BY s.score DESC, s.company_id LIMIT $n"""
    rows = store.con.execute(sql, {"model": name, "tier": tier, "owner": owner, "n": n}).fetchall()
    return [AccountRow(*r) for r in rows]


def accounts_for_owner(store: Store, owner: str, *, model: str | None = None, n: int = 100) -> list[AccountRow]:
    """The companies a rep owns, best first: the dashboard's accounts list for a rep."""
    return top_accounts(store, model=model, owner=owner, n=n)


def account_scores_of(store: Store, company_id: str) -> list[dict[str, Any]]:
    """The company's latest score under each account model, with group points by name."""
    rows = _rows(store, """SELECT s.model, s.model_version, s.score, s.tier, s.grade, s.groups, mv.group_names,
                                  s.as_of, s.computed_at
                           FROM account_scores s JOIN model_versions mv
                             ON mv.model = s.model AND mv.version = s.model_version
                           WHERE s.company_id = ? ORDER BY s.model""", [company_id])
    for r in rows:
        names, points = r.pop("group_names") or [], r.pop("groups") or []
        r["groups"] = dict(zip(names, points, strict=False))
    return rows


def account_detail(store: Store, company_id: str) -> dict[str, Any]:
    """A company's page: properties, its account scores, and its contacts with their scores.

    What ``GET /v1/companies/{id}`` answers and the dashboard's account page shows; the rules
    behind a score are ``engine.explain_accounts.explain_company``'s.
    """
    found = _rows(store, f"SELECT * FROM {COMPANIES} WHERE company_id = ?", [company_id])
    if not found:
        raise NotFoundError(f"no company with id `{company_id}`")
    properties = {k: v for k, v in found[0].items() if v is not None and k != "company_id"}
    contacts = _rows(store, f"""
        SELECT c.contact_id, c.email, c.first_name, c.last_name, c.job_title, c.owner
        FROM ({membership_sql(store)}) m JOIN contacts c USING (contact_id)
        WHERE m.company_id = ? ORDER BY c.contact_id""", [company_id])
    scores: dict[str, list[dict[str, Any]]] = {}
    if contacts:
        for row in _rows(store, "SELECT contact_id, model, score, tier, grade FROM scores "
                                "WHERE contact_id IN (SELECT UNNEST(?)) ORDER BY model",
                         [[c["contact_id"] for c in contacts]]):
            scores.setdefault(row.pop("contact_id"), []).append(row)
    for c in contacts:
        c["scores"] = scores.get(c["contact_id"], [])
    contacts.sort(key=lambda c: -max((s["score"] for s in c["scores"]), default=float("-inf")))
    return {"company_id": company_id, "properties": properties, "scores": account_scores_of(store, company_id),
            "predictions": account_predictions_of(store, company_id), "contacts": contacts}


def account_predictions_of(store: Store, company_id: str) -> list[dict[str, Any]]:
    """The company's latest prediction under each model of companies (``predict --level account``):
    probability, priority, and the reasons up (``positive``) and down (``negative``) in words."""
    rows = _rows(store, "SELECT model, model_version, probability, priority, factors, as_of, computed_at "
                        "FROM account_predictions WHERE company_id = ? ORDER BY model", [company_id])
    for r in rows:
        factors = json.loads(r.pop("factors") or "{}")
        r["positive"] = [f["factor"] for f in factors.get("positive", [])]
        r["negative"] = [f["factor"] for f in factors.get("negative", [])]
    return rows


def account_history(store: Store, company_id: str, *, model: str | None = None, limit: int = 100
                    ) -> list[dict[str, Any]]:
    """Each change of the company's score or tier, newest first (``account_score_history``)."""
    return _rows(store, """SELECT model, model_version, score, tier, prev_score, prev_tier, as_of, computed_at, run_id
                           FROM account_score_history WHERE company_id = ? AND (? IS NULL OR model = ?)
                           ORDER BY computed_at DESC, as_of DESC LIMIT ?""", [company_id, model, model, limit])


def company_history(store: Store, company_id: str, *, model: str | None = None, prop: str | None = None,
                    limit: int = 100) -> dict[str, Any]:
    """A company's account score changes and property changes, newest first (``leadscore history
    COMPANY``, the API). Raises ``NotFoundError`` for an unknown company or property."""
    from leadscore.engine.lookup import find_company
    from leadscore.storage.history import COMPANIES, changes_of, checked_property

    company_id = find_company(store, company_id)
    prop = checked_property(store.con, prop, COMPANIES)
    return {"company_id": company_id,
            "scores": [] if prop is not None else account_history(store, company_id, model=model, limit=limit),
            "property_changes": changes_of(store.con, company_id, prop=prop, limit=limit, level=COMPANIES)}


def _group_names(store: Store, model: str | None) -> list[str]:
    sql = """SELECT group_names FROM model_versions
             WHERE (model, version) IN (SELECT DISTINCT model, model_version FROM account_scores) {}
             ORDER BY model, version""".format("AND model = ?" if model else "")
    rows = store.con.execute(sql, [model] if model else []).fetchall()
    return list(dict.fromkeys(name for (group_names,) in rows for name in group_names))


def export_account_scores(store: Store, out: str | Path, *, file_format: str | None = None,
                          model: str | None = None) -> int:
    """Write stored account scores to CSV or Parquet: ``company_id, name, domain, owner, model,
    model_version, score, tier, grade, group_<name>..., as_of, computed_at``; returns the rows."""
    target, fmt = _format(out, file_format)
    if model is not None:
        _model(store, model)
    columns = ["s.company_id", "c.name", "c.domain", "c.owner", "s.model", "s.model_version", "s.score", "s.tier",
               "s.grade"]
    for name in _group_names(store, model):
        alias = exp.to_identifier("group_" + name, quoted=True).sql(dialect="duckdb")
        columns.append(f"s.groups[list_position(mv.group_names, {_lit(name)})] AS {alias}")
    columns += ["s.as_of", "s.computed_at"]
    sql = (f"SELECT {', '.join(columns)} FROM account_scores s JOIN model_versions mv "
           f"ON mv.model = s.model AND mv.version = s.model_version LEFT JOIN {COMPANIES} c USING (company_id) "
           f"{'WHERE s.model = ?' if model else ''} ORDER BY s.model, s.score DESC, s.company_id")
    return _copy(store, sql, [model] if model else [], target, fmt)


def _copy(store: Store, sql: str, params: list[Any], target: Path, fmt: str) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
    if fmt == "csv":  # text opened as text by a spreadsheet, not run as a formula
        sql = spreadsheet_safe(store.con, sql, params)
    row = store.con.execute(f"COPY ({sql}) TO {_lit(str(target))} ({options})", params).fetchone()
    return int(row[0]) if row else 0


def _format(out: str | Path, file_format: str | None) -> tuple[Path, str]:
    target = Path(out)
    fmt = (file_format or target.suffix.lstrip(".") or "csv").lower()
    if fmt not in FORMATS:
        raise LeadscoreError(f"cannot export as {fmt!r}: choose one of {', '.join(FORMATS)}")
    return target, fmt


def export_account_predictions(store: Store, out: str | Path, *, file_format: str | None = None,
                               model: str | None = None) -> int:
    """Write stored account predictions (``predict --level account``) to CSV or Parquet:
    ``company_id, name, domain, owner, model, model_version, probability, priority, reasons`` (the
    top factors, as JSON), ``as_of, computed_at``; of one model, or of the one predicted last."""
    target, fmt = _format(out, file_format)
    names = [r[0] for r in store.con.execute("SELECT DISTINCT model FROM account_predictions ORDER BY 1").fetchall()]
    if not names:
        raise LeadscoreError("no account predictions yet: run `leadscore train --level account` then "
                             "`leadscore predict --level account`")
    if model and model not in names:
        raise LeadscoreError(f"no account predictions of a model `{model}` (predicted: {', '.join(names)})")
    which = "?" if model else "(SELECT model FROM account_prediction_runs ORDER BY computed_at DESC, model LIMIT 1)"
    sql = (f"SELECT p.company_id, c.name, c.domain, c.owner, p.model, p.model_version, p.probability, p.priority, "
           f"p.factors AS reasons, p.as_of, p.computed_at FROM account_predictions p "
           f"LEFT JOIN {COMPANIES} c USING (company_id) WHERE p.model = {which} "
           "ORDER BY p.probability DESC, p.company_id")
    return _copy(store, sql, [model] if model else [], target, fmt)


def accounts_page(store: Store, *, model: str | None, tier: str | None, min_score: float | None, owner: str | None,
                  limit: int, after: tuple[float, str] | None) -> tuple[str | None, list[dict[str, Any]]]:
    """One page (``limit`` + 1 rows, so the caller knows if there is more) of an account model's
    scores, best first, after the keyset position ``after`` = (score, company_id)."""
    name = _model(store, model)
    if name is None:
        raise NotFoundError("no published account model yet; publish a model with `level: account`")
    params: dict[str, Any] = {"model": name, "tier": tier, "min": min_score, "owner": owner, "limit": limit + 1}
    where = ["s.model = $model", "($tier IS NULL OR s.tier = $tier)", "($min IS NULL OR s.score >= $min)",
             "($owner IS NULL OR c.owner = $owner)"]
    if after is not None:
        where.append("(s.score < $a_score OR (s.score = $a_score AND s.company_id > $a_id))")
        params.update(a_score=after[0], a_id=after[1])
    rows = _rows(store, f"""SELECT s.company_id, c.name, c.domain, c.owner, s.score, s.tier, s.grade,
                                   s.model_version, s.as_of, p.probability, p.priority
                            FROM account_scores s LEFT JOIN {COMPANIES} c USING (company_id)
                            LEFT JOIN {PREDICTED} p USING (company_id)
                            WHERE {' AND '.join(where)} ORDER BY s.score DESC, s.company_id LIMIT $limit""", params)
    return name, rows
