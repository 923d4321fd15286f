"""The FastAPI application: ``create_app(ws)`` wires routes, auth, limits, metrics and errors.

The app opens the workspace's store when it starts (lifespan) and closes it when it stops, so
``uvicorn`` (``leadscore serve``), tests and the bench all run the same object. Errors keep one
shape: ``{"detail": "message"}`` for 401/403/404/413, and for 422 ``{"detail": [{"loc", "msg",
"type", "field"}, ...]}`` with one entry per bad field, whether pydantic or the store's columns
found it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import duckdb
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadscore import __version__
from leadscore.api import (
    routes_companies,
    routes_contacts,
    routes_events,
    routes_feedback,
    routes_keys,
    routes_models,
    routes_reports,
    routes_scores,
)
from leadscore.api.docs_ui import install_offline_docs
from leadscore.api.limits import BodyLimit
from leadscore.api.metrics import MetricsMiddleware
from leadscore.api.routes_models import InvalidModelText
from leadscore.api.runtime import ApiRuntime
from leadscore.api.values import InvalidInput
from leadscore.errors import LeadscoreError, NotFoundError, TimeLimitError
from leadscore.storage.store import Store
from leadscore.workspace import Workspace

log = logging.getLogger("leadscore.api")

#: union members' tags that pydantic puts in an error's location; not part of the field path
_TAGS = {"single_event", "event_batch", "single_call", "call_batch"}


def _field(loc: list[Any]) -> str:
    """``["body", "batch", "events", 3, "type"]`` → ``events[3].type``."""
    parts = [p for i, p in enumerate(loc) if not (i == 0 and p in ("body", "query", "path"))]
    if parts and parts[0] in _TAGS:
        parts = parts[1:]
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "(body)"


def _problems(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        loc = list(e.get("loc", ()))
        if len(loc) > 1 and loc[0] == "body" and loc[1] in _TAGS:
            loc = [loc[0], *loc[2:]]
        out.append({"loc": loc, "msg": str(e.get("msg", "")), "type": str(e.get("type", "value_error")),
                    "field": _field(loc)})
    return out


#: responses every /v1 route can give besides its own (documented so the OpenAPI document matches
#: what the server answers: schemathesis checks it)
_DETAIL = {"application/json": {"schema": {"type": "object", "properties": {"detail": {"type": "string"}},
                                           "required": ["detail"]}}}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "refused as a whole: a URL path that is not UTF-8, or a request leadscore cannot "
                         "act on (the message says why)", "content": _DETAIL},
    401: {"description": "no API key, or an unknown or revoked one", "content": _DETAIL},
    403: {"description": "the key's scope is too low for this route", "content": _DETAIL},
    404: {"description": "no such contact, model, version, tier, list or key", "content": _DETAIL},
    408: {"description": "the request body did not arrive within server.read_timeout_seconds", "content": _DETAIL},
    413: {"description": "the body is over server.max_body_bytes", "content": _DETAIL},
    503: {"description": "too many requests are sending their body at once; retry in a moment", "content": _DETAIL},
}


def api_routers() -> list[APIRouter]:
    """Every router of the API (``/v1/...``), in the order they are mounted; the security sweep
    (tests/reliability/security.py) reads each route's key scope from these."""
    return [m.router for m in (routes_events, routes_contacts, routes_companies, routes_feedback, routes_scores,
                               routes_models, routes_reports, routes_keys)]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # bytes that are not UTF-8 text: as invalid as `{bad`, which is a 422 json_invalid
            return JSONResponse({"detail": [{"loc": ["body"], "msg": "the body is not JSON (not UTF-8 text)",
                                             "type": "json_invalid", "field": "(body)"}]}, status_code=422)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _problems(list(exc.errors()))}, status_code=422)

    @app.exception_handler(InvalidInput)
    async def invalid_value(_: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse({"detail": _problems(exc.errors)}, status_code=422)

    @app.exception_handler(InvalidModelText)
    async def bad_model(_: Request, exc: InvalidModelText) -> JSONResponse:
        # a model's text that does not validate: every problem, where it is and how to fix it
        return JSONResponse({"detail": [
            {"loc": ["body", "text"], "msg": i.message, "type": f"model_{i.severity}", "field": "text",
             "line": i.line, "path": i.path, "hint": i.hint} for i in exc.issues]}, status_code=422)

    @app.exception_handler(TimeLimitError)
    async def too_long(_: Request, exc: TimeLimitError) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": [], "msg": str(exc), "type": "time_limit", "field": "(request)"}]},
                            status_code=422)

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(LeadscoreError)
    async def refused(_: Request, exc: LeadscoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        # not the client's fault: nothing was committed (the writer rolled back); the log has the trace
        log.error("request failed", exc_info=exc)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); nothing was written; "
                                       "see the server log"}, status_code=500)

    @app.exception_handler(duckdb.ConversionException)
    async def conversion(_: Request, exc: duckdb.ConversionException) -> JSONResponse:
        # a value that passed our checks but not DuckDB's (a DECIMAL's precision, say)
        return JSONResponse({"detail": [{"loc": ["body"], "msg": str(exc), "type": "conversion_error",
                                         "field": "(body)"}]}, status_code=422)


def create_app(ws: Workspace, *, worker: bool = True, scheduler: bool = True,
               store: Store | None = None, dashboard: bool = True) -> FastAPI:
    """The API (and the dashboard at ``/``) over one workspace. ``worker``/``scheduler`` off suit
    tests and the bench.

    Pass ``store`` to serve an already open store (it is then not closed on shutdown).
    """
    rt = ApiRuntime(ws, worker=worker, scheduler=scheduler, store=store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt.start()
        try:
            yield
        finally:
            rt.stop()

    app = FastAPI(
        title="leadscore", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
        description="Events in, scores out: every accepted event or property change rescores its "
                    "contact in the same transaction. Authenticate with `Authorization: Bearer KEY` "
                    "(`leadscore keys create --scope read|write|admin`). See docs/api.md.",
    )
    app.state.runtime = rt
    install_offline_docs(app)
    _install_error_handlers(app)
    for router in api_routers():
        app.include_router(router, responses=COMMON_RESPONSES)
    if dashboard:
        from leadscore.web import install_dashboard

        install_dashboard(app, rt)

    @app.get("/healthz", tags=["server"])
    def healthz(request: Request) -> dict[str, Any]:
        """Liveness and readiness: the store answers a query. No key needed."""
        reader = rt.reader()
        row = reader.con.execute("SELECT count(*) FROM model_versions").fetchone()
        return {"status": "ok", "version": __version__,  # no paths: this answers without a key
                "published_models": reader.published_models(), "model_versions": row[0] if row else 0,
                "last_scheduled_rescore": rt.last_scheduled}

    @app.get("/metrics", tags=["server"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics (text format). No key needed: bind to loopback or firewall it."""
        return Response(rt.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    server = ws.settings.server
    app.add_middleware(BodyLimit, max_bytes=server.max_body_bytes, read_timeout=server.read_timeout_seconds,
                       max_reading=server.max_reading_connections)
    app.add_middleware(MetricsMiddleware, metrics=rt.metrics)
    return app
