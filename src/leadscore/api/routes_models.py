"""``/v1/models``: the published models and their versions; check, preview and publish a model's text.

While ``leadscore serve`` runs it holds the store, so ``leadscore validate / preview / publish``
cannot; these endpoints are the same engine functions over the server's store (and what a model
editor in a dashboard calls). A model arrives as its YAML text, exactly what ``models/NAME.yml``
holds; errors name the line and key path as the CLI's do. Nothing from the text reaches SQL except
through the compiler, which quotes every name and value.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadscore.api.auth import AdminKey, ReadKey, runtime
from leadscore.api.runtime import ApiRuntime
from leadscore.api.schemas import Id, RunOut, Text, Timestamp, with_offsets
from leadscore.api.values import checked_as_of
from leadscore.api.writer import WriteContext
from leadscore.engine.limits import Deadline, check_runnable
from leadscore.engine.preview import preview_contacts, preview_distribution
from leadscore.engine.publish_checks import publish_issues
from leadscore.engine.run import RunResult, publish
from leadscore.errors import LeadscoreError, ModelError, ModelIssue
from leadscore.model.loader import LoadedModel, parse_model
from leadscore.model.validate import validate_against_store
from leadscore.scoring import ScoreRuns
from leadscore.storage.store import ModelVersion, Store

router = APIRouter(prefix="/v1/models", tags=["models"])

ModelName = Annotated[str, Path(min_length=1, max_length=200, description="the model's `name:`")]
MODEL_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "the model does not validate: one entry per problem, with `line`, `path` and `hint`"}}
PREVIEW_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": MODEL_ERRORS[422]["description"] + "; or (`type: time_limit`) the preview ran past "
                         "`server.time_limit_seconds` and was stopped"}}


class ModelText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text = Field(min_length=1, max_length=200_000, description="the model's YAML, as in models/NAME.yml")
    file: Text | None = Field(None, max_length=500, description="where the text lives (e.g. models/b2b.yml): "
                              "named in errors and recorded with a published version")


class PreviewRequest(ModelText):
    contact_ids: list[Id] | None = Field(None, min_length=1, max_length=2,
                                         description="one or two leads, rule by rule against the published model")
    distribution: bool = Field(False, description="tier counts under the draft and the published model instead")
    as_of: datetime | None = Field(None, description="default: the as-of of the model's latest score run")

    @model_validator(mode="after")
    def _one(self) -> PreviewRequest:
        if (self.contact_ids is None) == (not self.distribution):
            raise ValueError("give either `contact_ids` (one or two) or `distribution: true`")
        return self


class PublishRequest(ModelText):
    rescore: bool = Field(True, description="score every contact with the new version at once (its tier "
                                            "crossings fire workflows, as `leadscore score` would)")


class VersionOut(BaseModel):
    model: str
    version: int
    hash: str
    file: str | None
    published_at: Timestamp
    groups: list[str]


class PublishedOut(VersionOut):
    new: bool = Field(description="false when the text was already the latest version (nothing recorded)")
    runs: list[RunOut]


class IssueOut(BaseModel):
    severity: str
    path: str
    line: int | None
    message: str
    hint: str | None


class ValidationOut(BaseModel):
    valid: bool
    model: str | None = Field(description="the model's `name:` when the text could be read")
    issues: list[IssueOut]


def _version_out(v: ModelVersion) -> dict[str, Any]:
    return {"model": v.model, "version": v.version, "hash": v.hash, "file": v.file,
            "published_at": v.published_at, "groups": list(v.group_names)}


def _issue_out(issue: ModelIssue) -> dict[str, Any]:
    return {"severity": issue.severity, "path": issue.path, "line": issue.line, "message": issue.message,
            "hint": issue.hint}


class InvalidModelText(LeadscoreError):
    """A model's text sent in a request does not validate: a 422 listing every problem.

    Not ModelError itself: a *published* model that no longer fits the store (a column dropped)
    fails inside a write too, and that is the server's state, not a bad request body.
    """

    def __init__(self, issues: list[ModelIssue]) -> None:
        self.issues = issues
        super().__init__(f"{len(issues)} problem(s) in the model text")


def checked_text(store: Store, text: str, file: str | None, *,
                 environment: bool = False) -> tuple[LoadedModel, list[ModelIssue]]:
    """A model's text parsed and validated against the store, with its warnings.

    ``${VAR}`` stays as written unless ``environment`` (publishing, admin only): otherwise a read
    key could send ``name: "${SMTP_PASSWORD}"`` and read the server's secret back.
    """
    try:
        loaded = parse_model(text, file or "(request body)", environment=environment)
        warnings = validate_against_store(loaded, store)
        check_runnable(store, loaded, always=environment)  # publishing: always; a check or preview: big ones
        return loaded, warnings
    except ModelError as exc:
        raise InvalidModelText(exc.issues) from exc


def _checked(store: Store, body: ModelText, *, environment: bool = False) -> tuple[LoadedModel, list[ModelIssue]]:
    return checked_text(store, body.text, body.file, environment=environment)


def publish_and_rescore(rt: ApiRuntime, store: Store, loaded: LoadedModel, file: str, *, rescore: bool = True,
                        published_by: str | None = None,
                        as_of: datetime | None = None) -> tuple[ModelVersion, bool, ScoreRuns]:
    """Record a validated model as its next version and rescore everyone with it (as of ``as_of``,
    default now) through the runtime's ``rescore_all`` (``leadscore.scoring``), inside a writer job.

    Returns the version, whether it is new (the latest text again records nothing and rescores
    nothing), and the runs. A model the engine cannot score raises ``InvalidModelText``, so the
    writer's transaction rolls back and nothing is published. ``POST /v1/models`` and the
    dashboard's publish button both publish this way.
    """
    before = store.latest_version(loaded.model.name)
    try:
        version = publish(store, loaded, file, published_by=published_by)
    except ModelError as exc:  # a level change, or an account model this version would break
        raise InvalidModelText(exc.issues) from exc
    new = before is None or before.version != version.version
    runs = rt.rescore_all(store, models=[version.model], as_of=as_of) if new and rescore else ScoreRuns()
    for failure in runs.failures:  # the engine cannot run it: publish nothing
        raise InvalidModelText([ModelIssue(
            loaded.file, "", f"the engine could not score this model, so it was not published: "
            f"{failure.error}", hint="`leadscore validate` checks what it can; report the model text "
            "if it validates")])
    return version, new, runs


@router.get("", response_model=list[VersionOut])
def list_models(request: Request, _key: object = ReadKey) -> list[dict[str, Any]]:
    """The latest version of every published model."""
    return [_version_out(v) for v in runtime(request).reader().latest_versions()]


@router.get("/{name}", responses={404: {"description": "no such model or version"}})
def get_model(request: Request, name: ModelName,
              version: Annotated[int | None, Query(ge=1, description="default: the latest")] = None,
              _key: object = ReadKey) -> dict[str, Any]:
    """One version of a model with its YAML text, and the list of all its versions."""
    store = runtime(request).reader()
    chosen = store.get_version(name, version)
    rows = store.con.execute("SELECT version, hash, file, published_at FROM model_versions WHERE model = ? "
                             "ORDER BY version DESC", [name]).fetchall()
    return with_offsets({**_version_out(chosen), "text": chosen.text,
                         "versions": [dict(zip(("version", "hash", "file", "published_at"), r, strict=True))
                                      for r in rows]})


@router.post("/validate", response_model=ValidationOut)
def validate(request: Request, body: ModelText, _key: object = ReadKey) -> dict[str, Any]:
    """Check a model against the store's columns and event types, as `leadscore validate` does.

    Always 200: `valid` says whether it could be published, `issues` lists every error and warning.
    """
    name = None
    try:
        store = runtime(request).reader()
        loaded, warnings = _checked(store, body)
        name, issues = loaded.model.name, warnings + publish_issues(store, loaded)
    except InvalidModelText as exc:
        issues = exc.issues
    return {"valid": not any(i.severity == "error" for i in issues), "model": name,
            "issues": [_issue_out(i) for i in issues]}


@router.post("/preview", responses=PREVIEW_ERRORS)
def preview(request: Request, body: PreviewRequest, _key: object = ReadKey) -> dict[str, Any]:
    """Score one or two leads with a draft beside the published model, rule by rule, or compare the
    tier counts of the whole base (`distribution`). Nothing is written."""
    rt = runtime(request)
    store = rt.reader()
    draft, warnings = _checked(store, body)
    as_of = checked_as_of(body.as_of, "body")
    out: dict[str, Any] = {"model": draft.model.name, "warnings": [_issue_out(i) for i in warnings]}
    with Deadline(store, rt.settings.time_limit_seconds, "the preview") as deadline:
        if body.contact_ids is not None:
            out["contacts"] = [p.to_dict() for p in preview_contacts(store, draft, body.contact_ids, as_of=as_of,
                                                                     deadline=deadline)]
        else:
            out["distribution"] = preview_distribution(store, draft, as_of=as_of).to_dict()
    return with_offsets(out)


@router.post("", response_model=PublishedOut, responses=MODEL_ERRORS)
async def publish_model(request: Request, body: PublishRequest, _key: object = AdminKey) -> dict[str, Any]:
    """Record the text as the model's next version (admin), then by default rescore everyone with it,
    in one transaction. Publishing the latest text again records nothing and rescores nothing."""
    rt = runtime(request)
    # a bad model is refused before it queues for the writer; checked off the event loop (it reads
    # the store's event types), with the environment filled in as `leadscore publish` would
    loaded, _ = await run_in_threadpool(lambda: _checked(rt.reader(), body, environment=True))

    def job(ctx: WriteContext) -> tuple[ModelVersion, bool, list[RunResult]]:
        return publish_and_rescore(rt, ctx.store, loaded, body.file or "api", rescore=body.rescore)

    done: tuple[ModelVersion, bool, list[RunResult]] = await asyncio.wrap_future(rt.write(job, groupable=False))
    version, new, runs = done
    return {**_version_out(version), "new": new, "runs": [dataclasses.asdict(r) for r in runs]}
