"""Fixtures of the report tests: the hand-computed ``tiny`` world in a real workspace on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.reports.handdata import fill_tiny

from leadscore.workspace import Workspace, init_workspace


@pytest.fixture
def tiny_ws(tmp_path: Path) -> Workspace:
    """A workspace holding the ten contacts of tests/reports/handdata.py (model file, not published)."""
    ws = init_workspace(tmp_path / "tiny")
    for extra in ws.models_dir.glob("*.yml"):
        extra.unlink()  # the starter model would make "the only published model" ambiguous later
    fill_tiny(ws)
    return ws


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The demo workspace (20,000 contacts, 500,000 events, scored as of its end), built once."""
    from leadscore.demo.build import build_demo

    result = build_demo(tmp_path_factory.mktemp("demo") / "ws")
    return Workspace.load(result.directory)
