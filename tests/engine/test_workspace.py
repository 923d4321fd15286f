"""Workspaces: init, discovery from a subdirectory, strict settings, migrations of old stores."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from leadscore.errors import StoreError, WorkspaceError
from leadscore.model.loader import load_model
from leadscore.storage.schema import SCHEMA_VERSION
from leadscore.storage.store import Store
from leadscore.workspace import Workspace, init_workspace


def test_init_creates_settings_models_and_store(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "acme")
    assert (ws.root / "leadscore.yml").is_file() and ws.store_path.is_file()
    [example] = ws.model_files()
    assert load_model(example).model.name == "b2b"
    assert Workspace.load(ws.root).root == ws.root
    init_workspace(ws.root)  # idempotent: keeps what is there
    assert len(ws.model_files()) == 1


def test_workspace_found_from_a_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = init_workspace(tmp_path / "acme")
    monkeypatch.chdir(ws.models_dir)
    assert Workspace.load().root == ws.root


def test_missing_workspace_and_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="leadscore init"):
        Workspace.load(tmp_path)
    (tmp_path / "leadscore.yml").write_text("stroe: x.duckdb\n")
    with pytest.raises(WorkspaceError, match="stroe"):
        Workspace.load(tmp_path)


def test_old_store_is_migrated_and_newer_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:  # a store from before any migration: only meta
        con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute("INSERT INTO meta VALUES ('schema_version', '0')")
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert "contacts" in {r[0] for r in store.con.execute("SHOW TABLES").fetchall()}
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer"):
        Store.open(path)
