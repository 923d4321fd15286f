"""The dashboard: server-rendered pages for sales reps and marketing ops, served by ``leadscore serve``.

``install_dashboard(app)`` adds the pages to the API's FastAPI app: same process, same store, same
single writer (every change a page makes is a job for ``api/writer.py``), reads on per-request
cursors. Layout: ``routes_*.py`` one router per area; ``templates/`` Jinja (autoescaped);
``static/`` the dashboard's own CSS and JavaScript; plotly.js is served from the installed
``plotly`` package. See docs/dashboard.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

    from leadscore.api.runtime import ApiRuntime


def dashboard_routers() -> list[APIRouter]:
    """Every router of the dashboard's pages (the tests walk them to check each form's guards)."""
    from leadscore.web import (
        routes_accounts,
        routes_admin,
        routes_feedback_review,
        routes_leads,
        routes_login,
        routes_models,
        routes_ops,
        routes_reports,
        routes_tasks,
    )

    return [module.router for module in (routes_login, routes_leads, routes_accounts, routes_tasks, routes_models,
                                         routes_reports, routes_feedback_review, routes_ops, routes_admin)]


def install_dashboard(app: FastAPI, rt: ApiRuntime) -> None:
    """Mount every dashboard page and its static files on ``app``."""
    from leadscore.web import assets
    from leadscore.web.routing import WebState, install_not_found

    app.state.web = WebState(rt)
    assets.mount(app)
    install_not_found(app)
    for router in dashboard_routers():
        app.include_router(router)
