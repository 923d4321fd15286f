"""``POST /v1/events`` and ``POST /v1/segment``: what contacts did, written and scored at once.

A request is checked whole before anything is written (every bad field is named in one 422), then
handed to the single writer as one job: events, new contacts, rescoring, history and queued
workflow actions commit together. The response comes after the commit, so a client that got 200
can read the new score straight away.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.concurrency import run_in_threadpool

from leadscore.api.auth import WriteKey, runtime
from leadscore.api.company_writes import companies_left, companies_moved_out, with_company_key
from leadscore.api.reads import scores_of
from leadscore.api.runtime import ApiRuntime
from leadscore.api.schemas import (
    EventBatch,
    EventIn,
    EventsBody,
    EventsResponse,
    SegmentBatch,
    SegmentBody,
    SegmentCall,
    SegmentResponse,
)
from leadscore.api.segment import translate
from leadscore.api.values import NewEvent, check_events
from leadscore.api.writer import HEAVY_BUDGET, LIGHT, Weighted, WriteContext
from leadscore.api.writes import EmailContacts, EventsWritten, resolve_contacts, upsert_contact, write_events
from leadscore.storage.identity import email_key
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

router = APIRouter(prefix="/v1", tags=["events"])

EVENT_EXAMPLES: dict[str, Any] = {
    "one event": {"value": {"email": "ann@acme.com", "type": "page_view",
                            "occurred_at": "2026-03-02T10:15:00Z", "properties": {"url": "/pricing"}}},
    "a batch": {"value": {"events": [
        {"event_id": "m-1", "contact_id": "c_42", "type": "email_open", "occurred_at": "2026-03-02T10:15:00Z"},
        {"event_id": "m-2", "contact_id": "c_42", "type": "demo_request"}]}},
}


def _account(rt: ApiRuntime, written: EventsWritten) -> None:
    created = sum(1 for _, _, c in written.results if c)
    rt.metrics.events.inc(created)
    rt.metrics.duplicates.inc(len(written.results) - created)


def _with_scores(ctx: WriteContext, written: EventsWritten) -> EventsWritten:
    """After the group's rescoring: the contact's new scores, when the request had one contact."""
    contacts = written.contacts
    if len(contacts) == 1:
        written.scores = scores_of(ctx.store, contacts[0], ctx.stored)
    return written


@router.post("/events", response_model=EventsResponse, responses={
    401: {"description": "no or unknown key"}, 403: {"description": "key scope below write"},
    413: {"description": "body over server.max_body_bytes (1 MB)"},
    422: {"description": "bad input: `detail` names each bad field"}})
async def post_events(request: Request, body: Annotated[EventsBody, Body(openapi_examples=EVENT_EXAMPLES)],
                      _key: object = WriteKey) -> dict[str, Any]:
    """Record one event or a batch (default limit 1,000); each contact concerned is rescored at once.

    `event_id` makes an event idempotent: sending it again changes nothing (`status: duplicate`).
    Without it, the id is a hash of the event, the one `leadscore import` would give it.
    `contact_id` or `email` says whose event it is; an unknown contact is created.
    """
    rt = runtime(request)
    batch = isinstance(body, EventBatch)
    items: list[EventIn] = body.events if isinstance(body, EventBatch) else [body]
    now = utcnow()
    s = rt.settings
    check = functools.partial(check_events, items, rt.event_columns, now=now, max_event_bytes=s.max_event_bytes,
                              max_batch=s.max_batch_events, batch=batch)
    # a batch's checks take tens of milliseconds: off the event loop, which single events need
    events = await run_in_threadpool(check) if len(items) > LIGHT else check()
    columns = rt.event_columns

    def job_for(part: list[NewEvent]) -> Callable[[WriteContext], EventsWritten]:
        def job(ctx: WriteContext) -> EventsWritten:
            written = write_events(ctx.store, [_copy(e) for e in part], columns, now=now,
                                   known=rt.stored_ids, known_contacts=rt.known_contacts)
            ctx.rescore_later(written.rescore)
            return written
        return job

    # A batch request of up to HEAVY_BUDGET events (the default `max_batch_events`) is one job: one
    # transaction with its contacts' rescoring, so it is stored whole or not at all, a new contact's
    # created_at is its earliest event in the request, and its crossings do not depend on other
    # traffic (slicing it by the writer's time budget broke all three: review of i17c). The writer
    # sizes heavy *groups* of such jobs by time (api/writer.py, "Heavy groups sized by time").
    # A larger configured limit is written in HEAVY_BUDGET slices; resending after an error is safe.
    slices = [events[i:i + HEAVY_BUDGET] for i in range(0, len(events), HEAVY_BUDGET)] or [events]
    claims = [claim_keys(part) for part in slices]
    if any(e.contact_id is None for e in events):  # e-mails to look up: off the event loop
        claims = await run_in_threadpool(lambda: [claim_keys(part, rt.reader()) for part in slices])
    futures = [rt.write(Weighted(job_for(part), len(part), heavy=len(events) > LIGHT, keys=keys), finish=_with_scores)
               for part, keys in zip(slices, claims, strict=True)]
    parts: list[EventsWritten] = [await asyncio.wrap_future(f) for f in futures]
    written = _merged(parts)
    _account(rt, written)
    created = sum(1 for _, _, c in written.results if c)
    return {
        "accepted": created, "duplicates": len(written.results) - created,
        "events": [{"event_id": e, "contact_id": c, "status": "created" if ok else "duplicate"}
                   for e, c, ok in written.results],
        "rescored": written.rescore, "scores": written.scores,
    }



def _merged(parts: list[EventsWritten]) -> EventsWritten:
    """One request's slices as one answer: results in order, scores from the last slice (the final ones)."""
    if len(parts) == 1:
        return parts[0]
    merged = EventsWritten([r for p in parts for r in p.results],
                           list(dict.fromkeys(c for p in parts for c in p.rescore)),
                           sum(p.created_contacts for p in parts))
    if len(merged.contacts) == 1:
        merged.scores = parts[-1].scores
    return merged


def claim_keys(events: list[NewEvent], store: Store | None = None) -> set[str]:
    """The row keys a job writing these events claims (``api.writer``: a light job runs beside a
    heavy one unless they share one): each contact id, e-mail key and event id, and for an event
    named by e-mail alone the contact that e-mail names now (read on ``store``, a reading cursor),
    so a contact is claimed alike whether a request names it by id or by e-mail. (Should that
    change before the job runs, DuckDB's conflict on the contact's rows stops the second writer,
    which runs again.)"""
    keys: set[str] = set()
    for e in events:
        if e.contact_id is not None:
            keys.add("c:" + e.contact_id)
        if e.email:
            keys.add("e:" + email_key(e.email))
        if e.event_id is not None:
            keys.add("i:" + e.event_id)
    by_email = [replace(e) for e in events if e.contact_id is None and e.email]
    if by_email and store is not None:
        resolve_contacts(store, by_email)  # copies: the job resolves again in its transaction
        keys.update("c:" + e.contact_id for e in by_email if e.contact_id is not None)
    return keys


def _copy(e: NewEvent) -> NewEvent:
    """Jobs may run twice (a failed group is rerun job by job): never let a run change its input."""
    return replace(e, properties=dict(e.properties))


@router.post("/segment", response_model=SegmentResponse, responses={
    401: {"description": "no or unknown key"}, 403: {"description": "key scope below write"},
    413: {"description": "body over server.max_body_bytes"}, 422: {"description": "bad call"}})
async def post_segment(request: Request, body: SegmentBody, _key: object = WriteKey) -> dict[str, Any]:
    """Segment spec `track`, `identify` and `page` calls, one or a `{"batch": [...]}`.

    `messageId` is the idempotency key. See docs/api.md for how calls map to events and properties.
    """
    rt = runtime(request)
    batch = isinstance(body, SegmentBatch)
    calls: list[SegmentCall] = body.batch if isinstance(body, SegmentBatch) else [body]
    now = utcnow()
    s = rt.settings
    writes = translate(calls, event_columns=rt.event_columns, contact_columns=rt.contact_columns,
                       event_types=s.segment_event_types, now=now, batch=batch, max_batch=s.max_batch_events)
    columns = rt.event_columns

    def job(ctx: WriteContext) -> tuple[EventsWritten, int]:
        written = write_events(ctx.store, [_copy(e) for e in writes.events], columns, now=now,
                               known=rt.stored_ids, known_contacts=rt.known_contacts)
        ctx.rescore_later(written.rescore)
        emails = EmailContacts(ctx.store, [email for cid, email, _, _ in writes.identifies if email and not cid])
        for contact_id, email, given, when in writes.identifies:
            cid = emails.contact_for(contact_id, email)
            traits = with_company_key(dict(given))  # a copy: jobs may run twice
            before = companies_left(ctx.store, cid, traits)  # a `company_id` trait may move it
            if upsert_contact(ctx.store, cid, traits, now=now, known=rt.known_contacts, changed_at=when,
                              source="segment")[1]:
                emails.wrote(cid, traits)
                ctx.rescore_later([cid])
                left = companies_moved_out(ctx.store, cid, before)
                if left:
                    rt.rescore_companies(ctx.store, left)
        return written, len(writes.identifies)

    result: tuple[EventsWritten, int] = await asyncio.wrap_future(
        rt.write(Weighted(job, len(writes.events) + len(writes.identifies))))
    written, identified = result
    _account(rt, written)
    created = sum(1 for _, _, c in written.results if c)
    return {"success": True, "accepted": created, "duplicates": len(written.results) - created,
            "identified": identified, "ignored": writes.ignored}
