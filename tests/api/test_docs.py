"""docs/api.md documents every endpoint (with a curl example) and every `server:` setting.

Fails when a route or setting is added without a line in the docs (datasette's habit).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from leadscore.api import create_app
from leadscore.workspace import ServerSettings, Workspace

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")


def _routes(small_ws: Workspace) -> list[tuple[str, str]]:
    paths = create_app(small_ws, worker=False, scheduler=False).openapi()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


def test_every_endpoint_is_documented_with_curl(small_ws: Workspace) -> None:
    routes = _routes(small_ws)
    assert len(routes) >= 14
    for method, path in routes:
        if not path.startswith("/v1"):
            assert f"`{path}`" in DOC, path
            continue
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^ \"?]+", re.escape(path))
        curls = [line for line in DOC.splitlines() if "curl" in line or line.startswith("  -d")]
        assert any(re.search(pattern + r"(\?|\"|\s|$)", line) for line in curls), f"no curl for {method} {path}"
        heading = f"`{path}`" if path.startswith("/v1/keys") else f"{method} {path}`"
        assert heading in DOC or path.startswith("/v1/keys"), f"no section for {method} {path}"


@pytest.mark.parametrize("key", list(ServerSettings.model_fields))
def test_every_server_setting_is_documented(key: str) -> None:
    assert f"  {key}:" in DOC, key


def test_openapi_declares_bearer_auth_on_the_v1_endpoints(small_ws: Workspace) -> None:
    spec = create_app(small_ws, worker=False, scheduler=False).openapi()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert bool(op.get("security")) == path.startswith("/v1"), path
