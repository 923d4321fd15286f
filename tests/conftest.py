"""Shared fixtures: a real workspace on disk with a real DuckDB store and a small known data set."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.smalldata import SMALL_MODEL, fill_store

from leadscore.workspace import Workspace, init_workspace


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*/expected.*.sql from the current compiler")


@pytest.fixture
def small_ws(tmp_path: Path) -> Workspace:
    """A workspace with five contacts, seven events and the `small` model file (not yet published)."""
    ws = init_workspace(tmp_path / "ws")
    (ws.models_dir / "small.yml").write_text(SMALL_MODEL)
    fill_store(ws)
    return ws
