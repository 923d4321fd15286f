"""Small helpers shared by the importer tests."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from leadscore.storage.store import Store


def read_rejects(path: Path | None) -> list[dict[str, str]]:
    assert path is not None, "expected a rejects file"
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.con.execute(sql).fetchall()]
