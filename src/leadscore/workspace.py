"""A workspace is a directory: ``leadscore.yml`` (settings), ``models/*.yml`` and the DuckDB store.

Every command finds its workspace the same way: ``--workspace DIR`` or the current directory,
walking up to the first directory holding ``leadscore.yml`` (like git does with ``.git``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from leadscore.errors import WorkspaceError
from leadscore.model.loader import LoadedModel, load_model
from leadscore.storage.store import Store

SETTINGS_FILE = "leadscore.yml"


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    memory_limit: str | None = Field(default=None, description="DuckDB memory limit, e.g. 2GB")
    threads: int | None = Field(default=None, ge=1)


class Settings(BaseModel):
    """The contents of leadscore.yml. Unknown keys are errors, like in model files."""

    model_config = ConfigDict(extra="forbid")
    name: str = "leadscore"
    store: str = "leadscore.duckdb"
    models_dir: str = "models"
    rejects_dir: str = "rejects"
    engine: EngineSettings = Field(default_factory=EngineSettings)


DEFAULT_SETTINGS_TEXT = """\
# leadscore workspace settings. Paths are relative to this file.
name: {name}
store: leadscore.duckdb      # the embedded DuckDB store
models_dir: models           # one scoring model per *.yml file
rejects_dir: rejects         # rows an import could not take, with line numbers and reasons
engine:
  memory_limit: null         # e.g. 2GB; null lets DuckDB choose
  threads: null              # null = all cores
"""


class Workspace:
    """Paths and settings of one workspace; opens its store on demand."""

    def __init__(self, root: Path, settings: Settings):
        self.root = root
        self.settings = settings

    @classmethod
    def load(cls, directory: str | Path | None = None) -> Workspace:
        start = Path(directory or ".").resolve()
        candidates = [start] if directory else [start, *start.parents]
        for candidate in candidates:
            settings_path = candidate / SETTINGS_FILE
            if settings_path.is_file():
                return cls(candidate, _read_settings(settings_path))
        raise WorkspaceError(
            f"no leadscore workspace at {start} (no {SETTINGS_FILE} found); "
            "create one with `leadscore init DIR` or pass --workspace DIR"
        )

    @property
    def store_path(self) -> Path:
        return self.root / self.settings.store

    @property
    def models_dir(self) -> Path:
        return self.root / self.settings.models_dir

    @property
    def rejects_dir(self) -> Path:
        return self.root / self.settings.rejects_dir

    def open_store(self, *, read_only: bool = False) -> Store:
        return Store.open(self.store_path, read_only=read_only,
                          memory_limit=self.settings.engine.memory_limit,
                          threads=self.settings.engine.threads)

    def model_files(self) -> list[Path]:
        return sorted(self.models_dir.glob("*.yml")) + sorted(self.models_dir.glob("*.yaml"))

    def load_models(self) -> list[LoadedModel]:
        return [load_model(p) for p in self.model_files()]


def _read_settings(path: Path) -> Settings:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise WorkspaceError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}" for e in exc.errors()
        )
        raise WorkspaceError(f"{path}: {problems}") from exc


def example_model_text() -> str:
    """The commented example model that ``init`` writes to models/b2b.yml."""
    return resources.files("leadscore.data").joinpath("starter_model.yml").read_text("utf-8")


def init_workspace(directory: str | Path, *, name: str | None = None) -> Workspace:
    """Create a workspace: settings, models/ with a commented example, rejects/, and the store.

    Safe on an existing workspace: files already there are kept.
    """
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    settings_path = root / SETTINGS_FILE
    if not settings_path.exists():
        settings_path.write_text(DEFAULT_SETTINGS_TEXT.format(name=name or root.name), encoding="utf-8")
    ws = Workspace(root, _read_settings(settings_path))
    ws.models_dir.mkdir(exist_ok=True)
    ws.rejects_dir.mkdir(exist_ok=True)
    example = ws.models_dir / "b2b.yml"
    if not any(ws.models_dir.iterdir()):
        example.write_text(example_model_text(), encoding="utf-8")
    with ws.open_store():
        pass
    return ws
