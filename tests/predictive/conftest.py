"""A small synthetic workspace with enough won deals to train on, built once per module.

The demo world's deals are spread over its year and close by its last event (2026-01-01), so
training on it validates on the newest cut-off whose 90-day window is in the data and trains on
earlier ones (time-based); tests that give ``--cutoffs`` on planted deals check the rest.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from leadscore.demo.generator import generate, load_into_store
from leadscore.workspace import Workspace, init_workspace

#: Everything the demo data knows is known by then (its deals close by 2026-01-01).
UNTIL = datetime(2026, 7, 1)
CONTACTS, EVENTS, SEED = 4_000, 80_000, 11


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A generated workspace (never modified: tests copy it with ``fresh_ws``)."""
    ws = init_workspace(tmp_path_factory.mktemp("predict") / "template")
    data = generate(CONTACTS, EVENTS, seed=SEED)
    with ws.open_store() as store:
        load_into_store(store, data)
    return ws


@pytest.fixture
def fresh_ws(demo_template: Workspace, tmp_path: Path) -> Workspace:
    """A private copy of the generated workspace, safe to train, predict and plant data in."""
    return copy_workspace(demo_template, tmp_path / "ws")


def copy_workspace(ws: Workspace, target: Path) -> Workspace:
    shutil.copytree(ws.root, target)
    return Workspace.load(target)
