"""``/v1/contacts/{id}``: upsert properties (rescored at once), read a contact, explain, history."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import AfterValidator

from leadscore.api.auth import ReadKey, WriteKey, runtime
from leadscore.api.company_writes import companies_left, companies_moved_out, with_company_key
from leadscore.api.reads import contact_view, history_of
from leadscore.api.schemas import (
    EMAIL_MAX,
    EMAIL_PATTERN,
    ContactOut,
    HistoryOut,
    Text,
    Value,
    clean_text,
    with_offsets,
)
from leadscore.api.values import InvalidInput, check_properties, checked_as_of, event_time, problem
from leadscore.api.writer import WriteContext
from leadscore.api.writes import upsert_contact
from leadscore.engine.explain import explain_contact
from leadscore.engine.limits import Deadline
from leadscore.engine.lookup import find_contact
from leadscore.timeutil import utcnow

router = APIRouter(prefix="/v1/contacts", tags=["contacts"])

ContactId = Annotated[str, Path(min_length=1, max_length=200, description="the contact's id"),
                      AfterValidator(clean_text)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such contact"}}


@router.put("/{contact_id}", response_model=ContactOut, responses={
    **NOT_FOUND, 422: {"description": "unknown property or a value of the wrong type, each named"}})
async def put_contact(request: Request, contact_id: ContactId,
                      properties: Annotated[dict[Text, Value], Body(openapi_examples={"properties": {
                          "value": {"job_title": "VP Sales", "company_size": 250}}})],
                      timestamp: Annotated[datetime | None, Query(
                          description="when these values became true (ISO 8601; naive = UTC); default: "
                                      "now. Recorded in the contact's property history")] = None,
                      _key: object = WriteKey) -> dict[str, Any]:
    """Create the contact or update the given properties; it is rescored in the same transaction.

    `company_id` says which company the contact belongs to: the company it leaves and the one it
    joins get their account scores recomputed in the same transaction too.

    Property names must be columns of the store (`leadscore import` adds custom ones): an unknown
    name is a 422 naming it. `null` clears a property. Values equal to the stored ones change
    nothing, so repeating a PUT is harmless. Each change is recorded in the property history as
    true from `timestamp` (default now; at most a few minutes ahead of the server's clock), so
    scores as of an earlier date do not see it.
    """
    rt = runtime(request)
    if "contact_id" in properties and properties["contact_id"] != contact_id:
        raise InvalidInput([problem(("body", "contact_id"), "differs from the id in the path; ids never change")])
    props = {k: v for k, v in properties.items() if k != "contact_id"}
    email = props.get("email")
    if email is not None and not (isinstance(email, str) and 3 <= len(email) <= EMAIL_MAX
                                  and re.fullmatch(EMAIL_PATTERN, email)):
        # checked as on events: the address is how events and imports find this contact again
        raise InvalidInput([problem(("body", "email"), "must be an e-mail address such as ann@acme.com "
                                    f"(one @, no spaces, at most {EMAIL_MAX} characters)")])
    values, errors = check_properties(props, rt.contact_columns, ("body",), what="contact")
    values = with_company_key(values)  # " k1 " is k1, "" no company: as the importer stores them
    now = utcnow()
    when, late = event_time(timestamp, now, ("query", "timestamp"))
    if late is not None:
        errors.append(late)
    if errors:
        raise InvalidInput(errors)

    def job(ctx: WriteContext) -> bool:
        before = companies_left(ctx.store, contact_id, values)  # `company_id` may move it to another one
        created, changed = upsert_contact(ctx.store, contact_id, values, now=now, known=rt.known_contacts,
                                          changed_at=when if timestamp is not None else None)
        if changed:
            ctx.rescore_later([contact_id])  # its scores, and its (new) company's account scores
            left = companies_moved_out(ctx.store, contact_id, before)
            if left:
                rt.rescore_companies(ctx.store, left)
        return created

    def finish(ctx: WriteContext, created: bool) -> dict[str, Any]:
        return {**contact_view(ctx.store, contact_id), "created": created}

    result: dict[str, Any] = await asyncio.wrap_future(rt.write(job, finish=finish))
    return result


@router.get("/{contact_id}", response_model=ContactOut, responses=NOT_FOUND)
def get_contact(request: Request, contact_id: ContactId, _key: object = ReadKey) -> dict[str, Any]:
    """The contact's properties, its score and tier under each model, and its predictive priority if any.

    The path may hold the contact's id, its e-mail, or a value of another id column (a CRM's record
    id imported as a custom column): `GET /v1/contacts/ann@acme.com`."""
    store = runtime(request).reader()
    return contact_view(store, find_contact(store, contact_id))


@router.get("/{contact_id}/explain", responses={**NOT_FOUND, 422: {
    "description": "a bad parameter, or (`type: time_limit`) the work ran past `server.time_limit_seconds`"}})
def explain(request: Request, contact_id: ContactId,
            model: Annotated[str | None, Query(max_length=200, description="default: the first published")] = None,
            as_of: Annotated[datetime | None, Query(description="default: the as-of of the stored score")] = None,
            _key: object = ReadKey) -> dict[str, Any]:
    """Every rule behind the score: fired or not, raw and decayed points, matched events, caps, tier."""
    rt = runtime(request)
    store = rt.reader()
    with Deadline(store, rt.settings.time_limit_seconds, "the explanation") as deadline:
        e = explain_contact(store, contact_id, model=model, as_of=checked_as_of(as_of, "query"), deadline=deadline)
    return with_offsets({**e.to_dict(), "reasons": e.reasons()})


@router.get("/{contact_id}/history", response_model=HistoryOut, responses=NOT_FOUND)
def history(request: Request, contact_id: ContactId,
            model: Annotated[str | None, Query(max_length=200)] = None,
            property: Annotated[str | None, Query(max_length=200, description="only this property's changes")] = None,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100,
            _key: object = ReadKey) -> dict[str, Any]:
    """Each change of the contact's score or tier, and each change of its properties (imports, the
    API, Segment, workflows, history files) with the moment it became true; newest first."""
    store = runtime(request).reader()
    return history_of(store, find_contact(store, contact_id), model=model, prop=property, limit=limit)
