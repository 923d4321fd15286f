"""Fixtures for importer tests: a fresh on-disk store and helpers to write inputs and read rejects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadscore.ingest import ImportResult, import_file
from leadscore.storage.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """The store; after the test, contacts and deals must hold each key once (they have no
    primary key: the importer's upsert is what keeps them unique, see storage/migrations_bulk)."""
    with Store.open(tmp_path / "leadscore.duckdb") as opened:
        yield opened
        assert opened.check_keys() == {"contacts": 0, "deals": 0, "companies": 0}


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write("name.csv", text_or_bytes, encoding="utf-8") -> path under tmp_path/in."""

    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content if isinstance(content, bytes) else content.encode(encoding)
        path.write_bytes(data)
        return path

    return _write


@pytest.fixture
def run(store: Store, tmp_path: Path) -> Callable[..., ImportResult]:
    """run(kind, path, **options): import into the fixture store, rejects under tmp_path/rejects."""

    def _run(kind: str, path: Path, **options: Any) -> ImportResult:
        options.setdefault("rejects_dir", tmp_path / "rejects")
        return import_file(store, kind, path, **options)  # type: ignore[arg-type]

    return _run
