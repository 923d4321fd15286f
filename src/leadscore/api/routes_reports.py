"""``/v1/report`` and ``/v1/backtest``: does the model predict who buys? Over the server's store.

The same ``build_report`` and ``run_backtest`` as ``leadscore report`` and ``leadscore backtest``,
for when the server holds the store (and for a dashboard). A model is named by its published name
only: the request builds a ``reports.frame.Target`` itself, so a name is never looked up as a file
on the server. A draft is sent as its text (``POST /v1/backtest``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from leadscore.api.auth import ReadKey, runtime
from leadscore.api.routes_models import MODEL_ERRORS, checked_text
from leadscore.api.schemas import Id, Text, with_offsets
from leadscore.api.values import checked_as_of
from leadscore.reports.backtest import run_backtest
from leadscore.reports.build import build_report
from leadscore.reports.frame import Target, published_target
from leadscore.reports.html import jsonable, render_html
from leadscore.storage.store import Store

router = APIRouter(prefix="/v1", tags=["reports"])

Duration = Annotated[str, Query(pattern=r"^\d{1,4}[dw]?$", description="e.g. 90d, 12w, 30")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such published model"}}


def _target(store: Store, name: str | None) -> Target | None:
    """A published model (None: the only one, as the CLI does)."""
    return published_target(store, name) if name is not None else None




@router.get("/report", response_model=None,
            responses={**NOT_FOUND, 200: {"content": {"application/json": {}, "text/html": {}}}})
def get_report(request: Request,
               model: Annotated[str | None, Query(max_length=200, description="default: the only published")] = None,
               as_of: Annotated[datetime | None, Query(description="default: the as-of of the model's latest "
                                                                    "score run (its horizon may not have passed: "
                                                                    "the report says so)")] = None,
               horizon: Duration = "90d",
               label: Annotated[str | None, Query(max_length=200, description="a yes/no contact property as "
                                                  "the outcome instead of won deals")] = None,
               rolling: Annotated[int, Query(ge=0, le=24)] = 4,
               step: Duration = "30d",
               stuck_days: Annotated[int, Query(ge=1, le=3650)] = 30,
               format: Annotated[Literal["json", "html"], Query(description="html: the offline page "
                                                                "`leadscore report` writes")] = "json",
               _key: object = ReadKey) -> Response | dict[str, Any]:
    """Backtest, rule impact, thresholds, stuck leads, calibration and findings of one model."""
    store = runtime(request).reader()
    report = build_report(store, model=_target(store, model), as_of=checked_as_of(as_of, "query"), horizon=horizon,
                          label=label, rolling_dates_count=rolling, step=step, stuck_days=stuck_days)
    if format == "html":
        return HTMLResponse(render_html(report))
    data: dict[str, Any] = jsonable(with_offsets(report.to_dict()))
    return data


class BacktestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: Id | None = Field(None, description="a published model (default: the only one)")
    text: Text | None = Field(None, min_length=1, max_length=200_000,
                              description="a draft model's YAML instead of a published name")
    vs: Id | None = Field(None, description="a published model to compare with")
    as_of: datetime | None = None
    horizon: str = Field("90d", pattern=r"^\d{1,4}[dw]?$")
    label: Id | None = None
    rolling: int = Field(0, ge=0, le=24, description="as-of dates, `step` apart, ending at `as_of`")
    step: str = Field("30d", pattern=r"^\d{1,4}[dw]?$")

    @model_validator(mode="after")
    def _one(self) -> BacktestRequest:
        if self.model is not None and self.text is not None:
            raise ValueError("give `model` (a published name) or `text` (a draft), not both")
        return self


@router.post("/backtest", responses={**NOT_FOUND, **MODEL_ERRORS})
def post_backtest(request: Request, body: BacktestRequest, _key: object = ReadKey) -> dict[str, Any]:
    """Score the past as of `as_of` (nothing is written) and measure it against what happened next:
    AUC, lift, conversion by tier; with `vs`, the two models side by side."""
    store = runtime(request).reader()
    warnings: list[dict[str, Any]] = []
    if body.text is not None:
        draft, issues = checked_text(store, body.text, None)
        warnings = [{"path": i.path, "line": i.line, "message": i.message, "hint": i.hint} for i in issues]
        target: Target | None = Target(draft.contact_model, "draft", draft.text)
    else:
        target = _target(store, body.model)
    run = run_backtest(store, target, as_of=checked_as_of(body.as_of, "body"), horizon=body.horizon, label=body.label,
                       vs=_target(store, body.vs), rolling_count=body.rolling, step=body.step)
    data: dict[str, Any] = {**jsonable(with_offsets(run.to_dict())), "warnings": warnings}
    return data
