"""Reports (marketing and admins): ``leadscore report`` for any published model, in the app, with
as-of, horizon and label pickers, and a download of the same offline HTML file.

The page shows the report's own sections (``templates/report_body.html.j2``), so the app and the
file state the same figures; charts are the same Plotly figures, drawn by the page's script from
JSON (the offline file inlines plotly.js and a script per chart instead, which this site's
Content-Security-Policy would not run). A report scores the base several times (backtests at four
dates): the last two are kept for a few minutes, so showing and then downloading costs one build.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from leadscore.errors import LeadscoreError
from leadscore.predictive.calibrate import ECE_HONEST
from leadscore.reports.build import Report, build_report
from leadscore.reports.charts import all_figures
from leadscore.reports.frame import published_target
from leadscore.reports.html import render_html
from leadscore.storage.store import Store
from leadscore.timeutil import parse_as_of
from leadscore.web.auth import MarketingUser
from leadscore.web.render import to_json
from leadscore.web.routes_models import HORIZONS, label_options
from leadscore.web.routing import SECURITY_HEADERS, WebRoute, page, web

router = APIRouter(route_class=WebRoute, include_in_schema=False)

KEEP_SECONDS = 300.0
_cache: dict[tuple[Any, ...], tuple[float, Report]] = {}
_cache_lock = threading.Lock()

Param = Annotated[str | None, Query(max_length=200)]


def _state_key(store: Store, model: str) -> tuple[Any, ...]:
    """What a report depends on besides its options: the model's version and the latest runs."""
    row = store.con.execute(
        """SELECT (SELECT max(version) FROM model_versions WHERE model = $m),
                  (SELECT max(started_at) FROM score_runs), (SELECT count(*) FROM feedback WHERE model = $m),
                  (SELECT max(computed_at) FROM prediction_runs)""", {"m": model}).fetchone()
    return tuple(row) if row else ()


def report_for(store: Store, model: str, as_of: datetime | None, horizon: str, label: str | None) -> Report:
    key = (store.path, model, as_of, horizon, label, *_state_key(store, model))
    now = time.monotonic()
    with _cache_lock:
        for k in [k for k, (at, _) in _cache.items() if at < now - KEEP_SECONDS]:
            del _cache[k]
        hit = _cache.get(key)
    if hit is not None:
        return hit[1]
    report = build_report(store, model=published_target(store, model), as_of=as_of, horizon=horizon, label=label)
    with _cache_lock:
        if len(_cache) >= 2:
            _cache.pop(min(_cache, key=lambda k: _cache[k][0]))
        _cache[key] = (now, report)
    return report


def _charts(report: Report) -> dict[str, Markup]:
    """Each chart as a box the page's script draws, with its figure as JSON beside it."""
    out = {}
    for name, (div_id, fig) in all_figures(report).items():
        data = to_json(fig.to_plotly_json())
        out[name] = Markup('<div class="chart" data-chart="{0}-data" role="img" aria-label="{1}"></div>'
                           '<script type="application/json" id="{0}-data">{2}</script>').format(
            div_id, f"chart: {name}", data)
    return out


def _options(request: Request, model: str | None, as_of: str | None, horizon: str | None,
             label: str | None) -> dict[str, Any]:
    store = web(request).rt.reader()
    models = store.published_models()
    chosen = model if model in models else (models[0] if models else None)
    return {"models": models, "model": chosen, "as_of": (as_of or "").strip(),
            "horizon": horizon if horizon in HORIZONS else "90d", "label": label or "",
            "labels": label_options(store), "horizons": HORIZONS}


@router.get("/reports")
def reports(request: Request, _user: MarketingUser, model: Param = None, as_of: Param = None,
            horizon: Param = None, label: Param = None, show: Param = None) -> Response:
    """The pickers; with ``show`` the report itself below them."""
    o = _options(request, model, as_of, horizon, label)
    report, error = None, None
    if show and o["model"]:
        try:
            when = parse_as_of(o["as_of"]) if o["as_of"] else None
            report = report_for(web(request).rt.reader(), o["model"], when, o["horizon"], o["label"] or None)
        except LeadscoreError as exc:
            error = str(exc)
    return page(request, "reports.html", section="reports", status=422 if error else 200, error=error, r=report,
                charts=_charts(report) if report else {}, ece_honest=ECE_HONEST, **o)


@router.get("/reports/download")
def download(request: Request, _user: MarketingUser, model: Param = None, as_of: Param = None,
             horizon: Param = None, label: Param = None) -> Response:
    """The offline HTML file `leadscore report --out` writes, for the same choices."""
    o = _options(request, model, as_of, horizon, label)
    if not o["model"]:
        raise LeadscoreError("no published model to report on")
    when = parse_as_of(o["as_of"]) if o["as_of"] else None
    report = report_for(web(request).rt.reader(), o["model"], when, o["horizon"], o["label"] or None)
    name = f"report-{report.model}-{report.as_of:%Y-%m-%d}.html".replace('"', "")
    # saved and opened from disk, the file runs its own inlined plotly.js; served here, it is only downloaded
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return HTMLResponse(render_html(report), headers=headers)
