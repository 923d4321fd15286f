"""``/v1/companies/{id}`` and ``/v1/accounts/scores``: companies, their account scores, their contacts.

A PUT writes a company's properties and rescores its account scores in the same transaction
(``scoring.score_companies`` through the runtime); reads answer from committed data.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import AfterValidator

from leadscore.api.auth import ReadKey, WriteKey, runtime
from leadscore.api.company_writes import company_key, upsert_company
from leadscore.api.cursors import SCORE_POSITION, decode_cursor, next_page
from leadscore.api.reads import MAX_PAGE
from leadscore.api.schemas import AccountsPage, CompanyOut, Text, Value, clean_text
from leadscore.api.values import InvalidInput, check_properties, checked_as_of, event_time, problem
from leadscore.api.writer import WriteContext
from leadscore.engine.accounts_read import account_detail, account_history, accounts_page
from leadscore.engine.explain_accounts import explain_company
from leadscore.storage.companies import normalize_domain
from leadscore.storage.history import COMPANIES, changes_of
from leadscore.timeutil import utcnow

router = APIRouter(prefix="/v1", tags=["accounts"])

def _company_id(value: str) -> str:
    """The id as the importer stores it (trimmed of spaces); one that is only spaces is no id."""
    key = company_key(clean_text(value))
    if not isinstance(key, str):
        raise ValueError("must not be empty or only spaces")
    return key


CompanyId = Annotated[str, Path(min_length=1, max_length=200, description="the company's id (trimmed of spaces)"),
                      AfterValidator(_company_id)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such company"}}


@router.put("/companies/{company_id}", response_model=CompanyOut, responses={
    **NOT_FOUND, 422: {"description": "unknown property or a value of the wrong type, each named"}})
async def put_company(request: Request, company_id: CompanyId,
                      properties: Annotated[dict[Text, Value], Body(openapi_examples={"properties": {
                          "value": {"name": "Acme", "domain": "acme.io", "employees": 250, "owner": "ann"}}})],
                      timestamp: Annotated[datetime | None, Query(
                          description="when these values became true (ISO 8601; naive = UTC); default: "
                                      "now. Recorded in the company's property history")] = None,
                      _key: object = WriteKey) -> dict[str, Any]:
    """Create the company or update the given properties; its account scores are recomputed in
    the same transaction.

    Property names must be columns of `companies` (`leadscore import companies` adds custom ones):
    an unknown name is a 422 naming it. `domain` is stored normalised (`https://www.Acme.com/` is
    `acme.com`). `null` clears a property; values equal to the stored ones change nothing. Each
    change is recorded in the company's property history as true from `timestamp` (default now),
    so account scores as of an earlier date do not see it.
    """
    rt = runtime(request)
    if "company_id" in properties and properties["company_id"] != company_id:
        raise InvalidInput([problem(("body", "company_id"), "differs from the id in the path; ids never change")])
    props = {k: v for k, v in properties.items() if k != "company_id"}
    values, errors = check_properties(props, rt.company_columns, ("body",), what="company")
    if isinstance(values.get("domain"), str):
        domain = normalize_domain(values["domain"])
        if domain is None or "." not in domain or any(ch.isspace() for ch in domain):
            errors.append(problem(("body", "domain"), f"`{values['domain']}` is not a domain name"))
        values["domain"] = domain
    now = utcnow()
    when, late = event_time(timestamp, now, ("query", "timestamp"))
    if late is not None:
        errors.append(late)
    if errors:
        raise InvalidInput(errors)

    def job(ctx: WriteContext) -> bool:
        created, rescore = upsert_company(ctx.store, company_id, values, now=now,
                                          changed_at=when if timestamp is not None else None)
        if rescore:
            rt.rescore_companies(ctx.store, rescore)
        return created

    def finish(ctx: WriteContext, created: bool) -> dict[str, Any]:
        return {**account_detail(ctx.store, company_id), "created": created}

    result: dict[str, Any] = await asyncio.wrap_future(rt.write(job, finish=finish))
    return result


@router.get("/companies/{company_id}", response_model=CompanyOut, responses=NOT_FOUND)
def get_company(request: Request, company_id: CompanyId, _key: object = ReadKey) -> dict[str, Any]:
    """The company's properties, its score, tier and groups under each account model, and its
    contacts with their scores (best first)."""
    return account_detail(runtime(request).reader(), company_id)


@router.get("/companies/{company_id}/explain", responses=NOT_FOUND)
def explain(request: Request, company_id: CompanyId,
            model: Annotated[str | None, Query(max_length=200, description="default: the first account model")] = None,
            as_of: Annotated[datetime | None, Query(description="default: the as-of of the stored score")] = None,
            _key: object = ReadKey) -> dict[str, Any]:
    """Every rule behind the account score, with the contacts and events behind each."""
    e = explain_company(runtime(request).reader(), company_id, model=model, as_of=checked_as_of(as_of, "query"))
    return {**e.to_dict(), "reasons": e.reasons()}


@router.get("/companies/{company_id}/history", responses=NOT_FOUND)
def history(request: Request, company_id: CompanyId, model: Annotated[str | None, Query(max_length=200)] = None,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100, _key: object = ReadKey) -> dict[str, Any]:
    """Each change of the company's account score or tier, and of its properties (with when each
    became true: account scores as of an earlier date read the values of then), newest first."""
    store = runtime(request).reader()
    account_detail(store, company_id)  # a 404 for an unknown company
    return {"company_id": company_id, "scores": account_history(store, company_id, model=model, limit=limit),
            "property_changes": changes_of(store.con, company_id, limit=limit, level=COMPANIES)}


@router.get("/accounts/scores", response_model=AccountsPage)
def get_account_scores(request: Request,
                       model: Annotated[str | None, Query(max_length=200,
                                                          description="default: the first account model")] = None,
                       tier: Annotated[str | None, Query(max_length=200)] = None,
                       min: Annotated[float | None, Query(description="lowest score included",
                                                          allow_inf_nan=False)] = None,
                       owner: Annotated[str | None, Query(max_length=200, description="only this rep's")] = None,
                       limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
                       cursor: Annotated[str | None, Query(max_length=2000)] = None,
                       _key: object = ReadKey) -> dict[str, Any]:
    """Companies by account score, best first, a page at a time (keyset pagination)."""
    filters = {"model": model, "tier": tier, "min": min, "owner": owner}
    after = None
    if cursor:
        a_score, a_id = decode_cursor(cursor, filters, SCORE_POSITION)
        after = (float(a_score), str(a_id))
    name, rows = accounts_page(runtime(request).reader(), model=model, tier=tier, min_score=min, owner=owner,
                               limit=limit, after=after)
    items, next_cursor = next_page(rows, limit, lambda r: (r["score"], r["company_id"]), filters)
    return {"model": name, "items": items, "next_cursor": next_cursor}
