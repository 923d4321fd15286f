"""Shared fixtures: a real workspace on disk with a real DuckDB store and a small known data set."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A real PostgreSQL server for the whole test session (``tests/pgserver.py``)."""
    from tests.pgserver import start_server

    server = start_server()
    try:
        yield server.dsn
    finally:
        server.stop()


@pytest.fixture
def pg_database(postgres_dsn: str) -> Iterator[str]:
    """A fresh, empty database on the session's server; its DSN (dropped afterwards)."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_dsn.replace("dbname=postgres", f"dbname={name}")
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
