"""``/v1/scores`` (paged), ``POST /v1/score`` (batch rescore), and what workflows made: lists, tasks."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from leadscore.api.auth import AdminKey, ReadKey, runtime
from leadscore.api.cursors import ID_POSITION, decode_cursor, next_page
from leadscore.api.reads import MAX_PAGE, scores_page
from leadscore.api.schemas import ListPage, RunOut, ScoreRequest, ScoresPage, TasksPage
from leadscore.api.values import InvalidInput, checked_as_of, problem
from leadscore.api.writer import WriteContext
from leadscore.errors import NotFoundError
from leadscore.scoring import ScoreRuns
from leadscore.timeutil import FUTURE_SLACK, utcnow
from leadscore.workflows.lists import list_members
from leadscore.workflows.tasks import list_tasks

router = APIRouter(prefix="/v1", tags=["scores"])


@router.get("/scores", response_model=ScoresPage)
def get_scores(request: Request,
               model: Annotated[str | None, Query(max_length=200, description="default: the first published")] = None,
               tier: Annotated[str | None, Query(max_length=200)] = None,
               min: Annotated[float | None, Query(description="lowest score included", allow_inf_nan=False)] = None,
               limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
               cursor: Annotated[str | None, Query(max_length=2000, description="`next_cursor` of the "
                                                   "previous page")] = None,
               _key: object = ReadKey) -> dict[str, Any]:
    """Scores of a model, best first, a page at a time (keyset pagination)."""
    return scores_page(runtime(request).reader(), model=model, tier=tier, min_score=min, limit=limit,
                       cursor=cursor)


@router.post("/score", response_model=list[RunOut], responses={200: {"headers": {
    "Leadscore-Failed-Models": {"description": "models that could not be scored (the others were), as "
                                "`name vN` separated by commas; absent when every model scored",
                                "schema": {"type": "string"}}}}})
async def post_score(request: Request, response: Response, body: ScoreRequest | None = None,
                     _key: object = AdminKey) -> list[dict[str, Any]]:
    """Rescore now: the given contacts, or everyone (admin). Crossings fire workflows as usual.

    A model whose query fails is named in the `Leadscore-Failed-Models` header; the others score.
    Everyone is rescored as the schedule does it: the query runs beside the writes and its results
    are written in short parts, so events posted meanwhile are not held back."""
    rt = runtime(request)
    req = body or ScoreRequest.model_validate({})
    as_of = checked_as_of(req.as_of, "body")
    if as_of is not None and not req.allow_future and as_of > utcnow() + FUTURE_SLACK:
        raise InvalidInput([problem(("body", "as_of"), "is in the future: stored scores would count events as "
                                    "older than they are; send `allow_future: true` to store them anyway")])
    started = time.perf_counter()
    if req.contact_ids is None:
        runs: ScoreRuns = await asyncio.to_thread(rt.rescore_staged, as_of=as_of, models=req.models)
    else:
        ids = req.contact_ids

        def job(ctx: WriteContext) -> ScoreRuns:
            return rt.rescore_contacts(ctx.store, ids, models=req.models, as_of=as_of)

        runs = await asyncio.wrap_future(rt.write(job, groupable=True))
    rt.metrics.rescore.labels("requested").observe(time.perf_counter() - started)
    if runs.failures:
        response.headers["Leadscore-Failed-Models"] = ", ".join(f"{f.model} v{f.version}" for f in runs.failures)
    return [dataclasses.asdict(r) for r in runs]


@router.get("/lists/{name}", response_model=ListPage, responses={404: {"description": "no such list"}})
def get_list(request: Request, name: Annotated[str, Path(min_length=1, max_length=200)],
             limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
             cursor: Annotated[str | None, Query(max_length=2000)] = None,
             _key: object = ReadKey) -> dict[str, Any]:
    """Members of a static list or a segment (dynamic list from leadscore.yml), by contact_id."""
    rt = runtime(request)
    filters = {"list": name}
    [after] = decode_cursor(cursor, filters, ID_POSITION) if cursor else [None]
    members: list[str] = list_members(rt.reader(), rt.ws, name, limit=limit + 1, after=after)
    page, nxt = next_page(members, limit, lambda m: [m], filters)
    return {"name": name, "members": page, "next_cursor": nxt}


@router.get("/tasks", response_model=TasksPage)
def get_tasks(request: Request, owner: Annotated[str | None, Query(max_length=200)] = None,
              status: Annotated[Literal["open", "done"] | None, Query(description="open or done")] = None,
              limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
              cursor: Annotated[str | None, Query(max_length=2000)] = None,
              _key: object = ReadKey) -> dict[str, Any]:
    """Tasks workflows created for reps, newest first."""
    rt = runtime(request)
    filters = {"owner": owner, "status": status}
    [after] = decode_cursor(cursor, filters, ID_POSITION) if cursor else [None]
    try:
        tasks: list[dict[str, Any]] = list_tasks(rt.reader(), owner=owner, status=status, limit=limit + 1,
                                                 after=after)
    except NotFoundError as exc:  # a well-formed cursor naming a task that is gone: the cursor is wrong
        raise InvalidInput([problem(("query", "cursor"), str(exc))]) from None
    page, nxt = next_page(tasks, limit, lambda t: [t["task_id"]], filters)
    return {"tasks": page, "next_cursor": nxt}
