"""``/docs`` served from the package's own Swagger UI files, so it works without the internet.

FastAPI's default ``/docs`` page loads Swagger UI from a CDN; a self-hosted scoring engine often
runs where that CDN is unreachable (or forbidden). The ``swagger-ui-bundle`` package ships the
same files; they are mounted under ``/docs/assets`` and the page points there. ReDoc, which has no
offline bundle on PyPI, is switched off rather than left half-working.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def install_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI) and its assets locally; ``/openapi.json`` stays where it is."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="swagger-ui-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
