"""``/v1/contacts/{id}/feedback``: a verdict on a contact's score, from a CRM or any other tool.

The same feedback a rep gives on the dashboard's lead page ("looks right", "too high", "too low",
an optional reason and outcome), stored with the model version, score and tier of that moment and
the rules that had fired. ``leadscore audit`` and the report read it back as findings.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from leadscore.api.auth import ReadKey, WriteKey, runtime
from leadscore.api.keys import ApiKey
from leadscore.api.routes_contacts import NOT_FOUND, ContactId
from leadscore.api.schemas import Text, Timestamp
from leadscore.api.writer import WriteContext
from leadscore.errors import NotFoundError
from leadscore.feedback import Feedback, feedback_of, record_feedback

router = APIRouter(prefix="/v1/contacts", tags=["feedback"])


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["right", "too_high", "too_low"] = Field(description="is the score right, too high or too low?")
    reason: Text | None = Field(None, max_length=2000, description="why, in the rep's words")
    outcome: Literal["not_a_fit", "already_customer", "converted"] | None = Field(
        None, description="what the rep knows happened, if anything")
    model: Text | None = Field(None, max_length=200, description="default: the first published model that scored "
                               "the contact")
    author: Text | None = Field(None, max_length=200, description="who said so (a CRM user); default: the key's name")


class FeedbackOut(BaseModel):
    feedback_id: str
    contact_id: str
    model: str
    model_version: int
    score: float
    tier: str
    verdict: str
    reason: str | None
    outcome: str | None
    author: str
    source: str
    created_at: Timestamp
    rules_fired: list[dict[str, Any]] = Field(description="the rules that had fired on the contact then, "
                                                          "with their points")


class FeedbackList(BaseModel):
    contact_id: str
    items: list[FeedbackOut]


def _author(key: ApiKey, given: str | None) -> str:
    who = key.name or key.key_id
    return f"{given} (via key {who})" if given else f"key {who}"


@router.post("/{contact_id}/feedback", response_model=FeedbackOut, status_code=201, responses={
    **NOT_FOUND, 400: {"description": "the contact has no score under that model yet"}})
async def post_feedback(request: Request, contact_id: ContactId, body: FeedbackIn,
                        key: ApiKey = WriteKey) -> dict[str, Any]:
    """Record a verdict on the contact's current score; the response has what was stored."""
    rt = runtime(request)
    author = _author(key, body.author)

    def job(ctx: WriteContext) -> Feedback:
        return record_feedback(ctx.store, contact_id, verdict=body.verdict, author=author, source="api",
                               model=body.model, reason=body.reason, outcome=body.outcome)

    item: Feedback = await asyncio.wrap_future(rt.write(job))
    return item.to_dict()


@router.get("/{contact_id}/feedback", response_model=FeedbackList, responses=NOT_FOUND)
def get_feedback(request: Request, contact_id: ContactId,
                 model: Annotated[str | None, Query(max_length=200)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 _key: object = ReadKey) -> dict[str, Any]:
    """The contact's feedback, newest first (from the dashboard and from the API)."""
    store = runtime(request).reader()
    if store.con.execute("SELECT 1 FROM contacts WHERE contact_id = ?", [contact_id]).fetchone() is None:
        raise NotFoundError(f"no contact with id `{contact_id}`")
    return {"contact_id": contact_id,
            "items": [f.to_dict() for f in feedback_of(store, contact_id, model=model, limit=limit)]}
