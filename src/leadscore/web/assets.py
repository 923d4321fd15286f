"""Static files: the dashboard's own CSS and JavaScript, and plotly.js from the installed package.

Nothing comes from a CDN: the pages work offline. plotly.js is the bundle the ``plotly`` PyPI
package ships (``plotly/package_data/plotly.min.js``), served from where pip put it rather than
copied into this repository.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, Response

STATIC = "/static"
CACHE = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}


def plotly_path() -> Path:
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def mount(app: FastAPI) -> None:
    @app.get(f"{STATIC}/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return FileResponse(plotly_path(), media_type="text/javascript", headers=CACHE)

    app.mount(STATIC, StaticFiles(directory=str(resources.files("leadscore.web") / "static")), name="web-static")
