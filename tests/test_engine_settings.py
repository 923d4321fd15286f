"""leadscore.yml's engine sections as users write them (engine_settings.py, engine/backends.open_backend)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.engine.backends import open_backend
from leadscore.engine_settings import SparkSettings
from leadscore.workspace import Workspace


def test_spark_conf_takes_yaml_numbers_and_booleans_as_spark_does() -> None:
    settings = SparkSettings.model_validate({"conf": {"spark.executor.cores": 4, "spark.memory.fraction": 0.6,
                                                      "spark.sql.adaptive.enabled": True}})
    assert settings.conf == {"spark.executor.cores": "4", "spark.memory.fraction": "0.6",
                             "spark.sql.adaptive.enabled": "true"}


def test_command_line_paths_are_the_callers_and_file_paths_the_workspaces(
        small_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`leadscore -w ws export data lake` then `leadscore -w ws score --engine spark --source lake` read
    what was written: both relative to the current directory; leadscore.yml's relative to the workspace."""
    pytest.importorskip("pyiceberg")
    monkeypatch.chdir(tmp_path)
    backend = open_backend(small_ws, "spark", source="lake", output="out")
    assert backend is not None
    assert backend.location == str(tmp_path / "out")
    assert backend.settings.source == str(tmp_path / "lake")
    ws = Workspace(small_ws.root, small_ws.settings.model_copy(update={
        "spark": SparkSettings(source="lake", output="out")}))
    from_file = open_backend(ws, "spark")
    assert from_file is not None and from_file.location == str(small_ws.root / "out")
