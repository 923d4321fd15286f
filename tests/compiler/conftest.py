"""Fixtures for compiler tests: an in-memory store, a scoring helper, and ``--update-golden``.

Golden SQL files live in ``tests/golden/<case>/expected.<dialect>.sql``. After a deliberate change
to the compiler, refresh them and review the diff::

    .venv/bin/pytest tests/compiler --update-golden   # or LEADSCORE_UPDATE_GOLDEN=1
    git diff tests/golden
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from leadscore.storage.store import Store


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    try:
        flag = bool(request.config.getoption("--update-golden"))
    except ValueError:  # option not registered: this conftest was not an initial one
        flag = False
    return flag or os.environ.get("LEADSCORE_UPDATE_GOLDEN") == "1"


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.open(":memory:")
    yield s
    s.close()
