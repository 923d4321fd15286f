"""A workspace is a directory: ``leadscore.yml`` (settings), ``models/*.yml`` and the DuckDB store.

Every command finds its workspace the same way: ``--workspace DIR`` or the current directory,
walking up to the first directory holding ``leadscore.yml`` (like git does with ``.git``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from leadscore.engine_settings import EngineSettings, PostgresSettings, SparkSettings
from leadscore.errors import WorkspaceError
from leadscore.model.conditions import Condition
from leadscore.model.loader import LoadedModel, load_model
from leadscore.storage.store import Store

SETTINGS_FILE = "leadscore.yml"


class DeliverySettings(BaseModel):
    """How the worker retries webhooks and e-mails (docs/workflows.md, "Retries").

    The n-th retry waits ``first_retry_seconds × backoff_factor^(n-1)`` (at most
    ``max_retry_seconds``), spread by ± ``jitter`` of itself so that a receiver coming back
    after an outage is not hit by every retry at the same second; an action still undelivered
    ``give_up_after_hours`` after it was queued goes to the dead letters.
    """

    model_config = ConfigDict(extra="forbid")
    first_retry_seconds: float = Field(default=10, gt=0)
    backoff_factor: float = Field(default=2, ge=1)
    max_retry_seconds: float = Field(default=3600, gt=0)
    jitter: float = Field(default=0.2, ge=0, le=1)
    give_up_after_hours: float = Field(default=24, gt=0)
    timeout_seconds: float = Field(default=10, gt=0, description="e-mail (SMTP) timeout; webhooks have their own")
    concurrency: int = Field(default=8, ge=1, le=64, description="sends in flight at once")
    keep_delivered_days: float = Field(default=30, ge=0, le=36500, description="the worker forgets delivered "
                                       "actions older than this (hourly); 0 keeps them all")


class SmtpSettings(BaseModel):
    """Where ``email`` actions go. The password never sits in the file: ``password_env`` names
    the environment variable holding it."""

    model_config = ConfigDict(extra="forbid")
    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    from_address: str = "leadscore@localhost"
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password_env: str | None = None


class SegmentSettings(BaseModel):
    """A dynamic list: contacts matching a condition of the model language, evaluated on demand,
    optionally restricted to a model's tiers or score range."""

    model_config = ConfigDict(extra="forbid")
    description: str | None = None
    when: Condition | None = None
    model: str | None = None
    tier: list[str] | None = None
    min_score: float | None = None
    max_score: float | None = None

    @model_validator(mode="after")
    def _needs_something(self) -> SegmentSettings:
        if self.when is None and self.model is None:
            raise ValueError("a segment needs `when` (a condition) or `model` (with tier/min_score)")
        if self.model is None and (self.tier or self.min_score is not None or self.max_score is not None):
            raise ValueError("`tier`, `min_score` and `max_score` need `model`")
        return self


class ServerSettings(BaseModel):
    """``leadscore serve``: the rescoring schedule and request limits (docs/api.md).

    Decay and inactivity change scores without any event, so the server rescores the whole base
    when it starts and every ``rescore_every_minutes`` (0 turns the schedule off, e.g. when cron runs
    ``leadscore score``). ``segment_event_types`` maps Segment ``track`` event names to event
    types (unmapped names become snake_case: "Demo Requested" → ``demo_requested``).
    """

    model_config = ConfigDict(extra="forbid")
    rescore_every_minutes: float = Field(default=60, ge=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_event_bytes: int = Field(default=32_768, ge=256)
    max_batch_events: int = Field(default=1000, ge=1, le=100_000)
    read_timeout_seconds: float = Field(default=30, gt=0, le=3600, description="a request body must arrive "
                                        "within this (else 408 and the connection is closed)")
    max_reading_connections: int = Field(default=64, ge=1, le=10_000, description="requests sending their body "
                                         "at once; one more is a 503")
    max_connections: int = Field(default=1000, ge=1, le=100_000, description="open connections; one more is a 503")
    time_limit_seconds: float = Field(default=20, gt=0, le=3600, description="a preview or explain request "
                                      "still running after this is stopped and answered 422 `time_limit`")
    segment_event_types: dict[str, str] = Field(default_factory=dict)
    events_in_memory: bool = Field(default=True, description="keep the columns the published models read "
                                   "from `events` in memory, by contact, for fast batch rescoring (~410 MB "
                                   "and ~13 s at start for 20M events; docs/api.md)")
    list_refresh_seconds: float = Field(default=2.0, ge=0, le=60, description="the leads list's rows of "
                                        "contacts an API write rescored are rewritten in bulk after the "
                                        "write, at the latest this long after it while writes keep coming "
                                        "(0: in the write's transaction; docs/dashboard.md)")


class AccountSettings(BaseModel):
    """How contacts belong to companies (docs/model-reference.md, "Account models").

    A contact belongs to the company its ``company_id`` names; with ``match_by_domain`` a contact
    without one belongs to the company whose ``domain`` is its e-mail domain (free-mail domains
    never match).
    """

    model_config = ConfigDict(extra="forbid")
    match_by_domain: bool = False


class Settings(BaseModel):
    """The contents of leadscore.yml. Unknown keys are errors, like in model files."""

    model_config = ConfigDict(extra="forbid")
    name: str = "leadscore"
    store: str = "leadscore.duckdb"
    models_dir: str = "models"
    rejects_dir: str = "rejects"
    null_values: list[str] = Field(default_factory=list, description="values every import reads as empty "
                                   "(case-insensitive), e.g. a web form's placeholder `Select`")
    engine: EngineSettings = Field(default_factory=EngineSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    segments: dict[str, SegmentSettings] = Field(default_factory=dict)
    server: ServerSettings = Field(default_factory=ServerSettings)
    accounts: AccountSettings = Field(default_factory=AccountSettings)


DEFAULT_SETTINGS_TEXT = """\
# leadscore workspace settings. Paths are relative to this file.
name: {name}
store: leadscore.duckdb      # the embedded DuckDB store
models_dir: models           # one scoring model per *.yml file
rejects_dir: rejects         # rows an import could not take, with line numbers and reasons
null_values: []              # values every import reads as empty, e.g. [Select, "N/A"] (case-insensitive)
engine:
  name: duckdb               # where `leadscore score` runs: duckdb, spark or postgres (docs/engines.md)
  memory_limit: null         # e.g. 2GB; null lets DuckDB choose
  threads: null              # null = all cores
# spark:                     # engine spark: a lake in Parquet (or Iceberg / catalog tables)
#   master: local[*]
#   source: lake             # contacts/ events/ deals/ as written by `leadscore export data lake`
#   output: lake/leadscore   # Iceberg tables: scores, score_history, tier_crossings
# postgres:                  # engine postgres: score inside your database
#   dsn: ${{LEADSCORE_PG_DSN}}
#   contacts: public.contacts
#   events: public.events
#   schema: leadscore        # leadscore_scores, leadscore_score_history go here
delivery:                    # webhooks and e-mails from workflows (docs/workflows.md)
  first_retry_seconds: 10    # the first retry; each next one waits backoff_factor times longer
  backoff_factor: 2
  max_retry_seconds: 3600    # no wait between two attempts is longer than this
  jitter: 0.2                # each wait is spread by ±20%
  give_up_after_hours: 24    # then the action is a dead letter (`leadscore deliveries --status dead`)
  timeout_seconds: 10        # SMTP timeout (a webhook sets its own timeout_seconds in the model)
  concurrency: 8             # sends in flight at once
  keep_delivered_days: 30    # the worker forgets delivered actions older than this; 0 = keep all
smtp:                        # for `email` actions
  host: null                 # e.g. smtp.example.com; null = e-mail actions fail until set
  port: 587
  from_address: leadscore@localhost
  starttls: true
  ssl: false                 # true for implicit TLS (port 465)
  username: null
  password_env: null         # the NAME of the environment variable holding the password
segments: {{}}               # dynamic lists, e.g.:
#  saas-nurture:
#    model: b2b
#    tier: [nurture]
#    when: {{property: industry, equals: SaaS}}
server:                      # `leadscore serve` (docs/api.md)
  rescore_every_minutes: 60  # rescore everyone at start and on this schedule (decay, inactivity); 0 = off
  max_body_bytes: 1048576    # larger request bodies get 413
  max_event_bytes: 32768     # a larger single event gets 422
  max_batch_events: 1000     # events per POST /v1/events batch
  read_timeout_seconds: 30   # a request body must arrive within this (else 408, connection closed)
  max_reading_connections: 64  # requests sending their body at once; one more is a 503
  max_connections: 1000      # open connections; one more is a 503
  time_limit_seconds: 20     # a preview or explain still running after this is stopped (422)
  segment_event_types: {{}}  # Segment track names -> event types, e.g. {{"Demo Requested": demo_request}}
  list_refresh_seconds: 2    # the leads list's rows of API writes are rewritten at most this late (0 = at once)
accounts:                    # companies and account models (docs/model-reference.md)
  match_by_domain: false     # true: a contact without company_id joins the company of its e-mail domain
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
        store = Store.open(self.store_path, read_only=read_only,
                           memory_limit=self.settings.engine.memory_limit,
                           threads=self.settings.engine.threads)
        store.match_by_domain = self.settings.accounts.match_by_domain
        return store

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
