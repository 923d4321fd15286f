"""The embedded DuckDB store of a workspace: opening, migrations, transactions, model versions.

DuckDB allows one writing process at a time; every command opens the store, does its work in
explicit transactions and closes it. A crash (even SIGKILL) inside a transaction leaves the store
as it was before: DuckDB's WAL discards uncommitted work on the next open.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from leadscore.errors import NotFoundError, StoreError
from leadscore.faults import fault_point
from leadscore.storage.lock import in_use_message
from leadscore.storage.schema import MIGRATIONS, SCHEMA_VERSION
from leadscore.storage.types import logical_type
from leadscore.timeutil import utcnow

log = logging.getLogger("leadscore.storage")

if TYPE_CHECKING:
    from leadscore.storage.events_by_contact import EventsByContact


def rows_affected(con: duckdb.DuckDBPyConnection) -> int:
    """Rows the last INSERT / UPDATE / DELETE touched (DuckDB returns the count as its result)."""
    row = con.fetchone()
    return int(row[0]) if row else 0


def used_params(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` refers to (DuckDB refuses a named parameter the text does not use).

    One pass over the text: a batch binds ~1,000 keys (``$sk0`` ...), and a search per key
    (each its own regex, beyond ``re``'s cache) held the GIL ~15% of the server's writer time
    under mixed load, delaying the single events beside it (api/writer.py, the side lane)."""
    named = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in named}


_PARAM = re.compile(r"\$(\w+)")


@dataclass(frozen=True)
class ModelVersion:
    model: str
    version: int
    hash: str
    text: str
    file: str | None
    published_at: datetime
    group_names: list[str]


class _Catalog:
    """What a long-running process (the server) may keep of the catalog between transactions,
    shared by a store and its cursors; off (``enabled`` False) everywhere else.

    Why: a real-time write asked for the latest model versions and the contacts' and events'
    column types on every transaction (three catalog queries, ~9 ms of a ~70 ms single-event
    transaction on the demo store at load ~4.6). Column types: the server already fixes them when
    it starts (``api.runtime``: every request is checked against them), and nothing in it adds a
    column (imports, which do, need the store the server holds). Versions: ``publish_model`` marks
    its store, and that store's COMMIT bumps ``generation``; a copy is used only by a reader whose
    transaction began at the generation it was read at, so a transaction never sees versions its
    own snapshot could not (and the publishing one reads its own, uncommitted, from the table).
    """

    def __init__(self) -> None:
        self.enabled = False
        self.lock = threading.Lock()
        self.generation = 0
        self.versions: tuple[int, list[ModelVersion]] | None = None
        self.columns: dict[str, dict[str, str]] = {}


class Store:
    """One open DuckDB database holding a workspace's data."""

    #: Set on a store that mirrors an external engine's data for reading (``engine.mirror``):
    #: ``scored_by(model, as_of, contact_id, detail)`` returns SQL over the rows the engine computed
    #: for that model query, which ``engine.run.compiled_sql`` then returns instead of compiling.
    scored_by: Callable[[Any, datetime, str | None, bool], str] | None = None
    #: The server's copy of the events' scoring columns by contact (``storage.events_by_contact``),
    #: on the writer's two connections (its lanes, ``api/writer.py``) only; None elsewhere.
    events_memory: EventsByContact | None = None

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str):
        self.con = con
        self.path = path
        self._in_tx = False
        self._catalog = _Catalog()
        self._begun_at = 0  #: the catalog generation when this store's transaction began
        self._published = False  #: this store's open transaction published a model version
        self._on_finish: list[Callable[[bool], None]] = []
        #: the workspace's ``accounts.match_by_domain`` (set by ``Workspace.open_store``): contacts
        #: without a company_id belong to the company of their e-mail domain
        self.match_by_domain = False

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False, memory_limit: str | None = None,
             threads: int | None = None) -> Store:
        """Open (creating if needed) and migrate the store at ``path`` (``:memory:`` for tests)."""
        target = str(path)
        config: dict[str, Any] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        try:
            con = duckdb.connect(target, read_only=read_only, config=config)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreError(in_use_message(target, str(exc))) from exc
            raise StoreError(f"cannot open the store {target}: {exc}") from exc
        store = cls(con, target)
        if not read_only:
            store.migrate()
        else:
            store._check_version()
        return store

    def cursor(self) -> Store:
        """Another connection to the same open database, for another thread.

        A DuckDB connection must not be used by two threads at once; a server gives each worker
        thread its own cursor. Transactions on different cursors are isolated from each other
        (DuckDB's optimistic concurrency: two writing the same row, the second fails).
        """
        other = Store(self.con.cursor(), self.path)
        other.match_by_domain = self.match_by_domain
        other._catalog = self._catalog
        return other

    def keep_catalog(self, keep: bool = True) -> None:
        """Keep model versions and column types between transactions (``_Catalog``): for the
        server, which holds the store and fixes its columns at start; shared with its cursors."""
        with self._catalog.lock:
            self._catalog.enabled = keep
            self._catalog.versions = None
            self._catalog.columns = {}

    def close(self) -> None:
        fault_point("store.close")  # closing checkpoints the WAL into the file (crash tests kill here)
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchone()
        if not exists or not exists[0]:
            return 0
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _check_version(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store {self.path} has schema version {version}, newer than this leadscore "
                f"understands ({SCHEMA_VERSION}); upgrade leadscore"
            )

    def migrate(self) -> int:
        """Apply every migration not yet applied, in one transaction. Returns the new version."""
        self._check_version()
        current = self.schema_version()
        if current == SCHEMA_VERSION:
            return current
        with self.transaction():
            for number, statements in enumerate(MIGRATIONS[current:], start=current + 1):
                for index, step in enumerate(statements):
                    fault_point(f"store.migrate.{number}.{index}")
                    if isinstance(step, str):
                        self.con.execute(step)
                    else:
                        step(self.con)
                self.con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(number)]
                )
        return SCHEMA_VERSION

    # ------------------------------------------------------------------ transactions

    @property
    def in_transaction(self) -> bool:
        """Whether a ``transaction()`` block is open on this connection (a new one would join it)."""
        return self._in_tx

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing block; nested use joins the outer transaction."""
        if self._in_tx:
            yield self.con
            return
        self._begun_at = self._catalog.generation
        self.con.execute("BEGIN TRANSACTION")
        self._in_tx = True
        committed = False
        try:
            try:
                yield self.con
            except BaseException:
                self._in_tx = False
                self.con.execute("ROLLBACK")
                raise
            self._in_tx = False
            fault_point("store.commit")
            self.con.execute("COMMIT")
            committed = True
        finally:
            self._in_tx = False
            if self._published:  # committed or not (a failed COMMIT, a rollback): readers read the table again
                self._published = False
                with self._catalog.lock:
                    self._catalog.generation += 1
                    self._catalog.versions = None
            finish, self._on_finish = self._on_finish, []
            for fn in finish:
                try:
                    fn(committed)
                except Exception:  # noqa: BLE001 - the transaction's outcome stands; the callback's owner
                    log.exception("a callback at the end of a transaction failed")  # handles its own state

    def on_finish(self, fn: Callable[[bool], None]) -> None:
        """Call ``fn(committed)`` once the open transaction ends (committed, or rolled back or
        failed): for memory kept beside the store that must follow its commits exactly
        (``storage.events_by_contact``). Outside a transaction it is called at once with True."""
        if not self._in_tx:
            fn(True)
            return
        self._on_finish.append(fn)

    # ------------------------------------------------------------------ columns

    def columns(self, table: str) -> dict[str, str]:
        """Column name → logical type (string / number / boolean / timestamp), in table order."""
        return {name: logical_type(dtype) for name, dtype in self.column_types(table).items()}

    def check_keys(self) -> dict[str, int]:
        """Repeated keys per table (``{"contacts": 0, "deals": 0}`` when all is well).

        contacts and deals have no PRIMARY KEY since migration 5 (an index cost more than the rest
        of a bulk import; see storage/migrations_bulk.py): their writers keep keys unique, and
        this is how the tests confirm it after every writer (companies likewise, migration 8).
        """
        found: dict[str, int] = {}
        for table, key in (("contacts", "contact_id"), ("deals", "deal_id"), ("companies", "company_id")):
            row = self.con.execute(
                f"SELECT count(*) - count(DISTINCT {key}) FROM {table}").fetchone()
            found[table] = int(row[0]) if row else 0
        return found

    def column_types(self, table: str) -> dict[str, str]:
        """Column name → DuckDB type, in table order."""
        # duckdb_columns() rather than information_schema: a tenth of the cost, and the real-time
        # path asks on every request.
        kept = self._catalog.columns.get(table) if self._catalog.enabled else None
        if kept is not None:
            return dict(kept)
        rows = self.con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? "
            "ORDER BY column_index", [table]
        ).fetchall()
        if self._catalog.enabled and rows:
            self._catalog.columns[table] = dict(rows)
        return dict(rows)

    def scoring_columns(self) -> tuple[dict[str, str], dict[str, str]]:
        """Logical column types of contacts and events together, in one catalog query."""
        rows = self.con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'main' "
            "AND table_name IN ('contacts', 'events') ORDER BY table_name, column_index"
        ).fetchall()
        found: dict[str, dict[str, str]] = {"contacts": {}, "events": {}}
        for table, name, dtype in rows:
            found[table][name] = logical_type(dtype)
        return found["contacts"], found["events"]

    def event_types(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT DISTINCT type FROM events ORDER BY 1").fetchall()]

    def count(self, table: str) -> int:
        if table not in {"contacts", "events", "deals", "scores", "score_history", "tier_crossings",
                         "model_versions", "score_runs", "companies", "account_scores",
                         "account_score_history", "account_tier_crossings"}:
            raise ValueError(table)
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ model versions

    def publish_model(self, model: str, text: str, hash_: str, file: str | None,
                      group_names: list[str], published_by: str | None = None) -> ModelVersion:
        """Record a new version of a model; publishing identical text again returns the latest."""
        with self.transaction():
            latest = self.latest_version(model)
            if latest is not None and latest.hash == hash_:
                return latest
            version = (latest.version + 1) if latest else 1
            now = utcnow()
            self._published = True
            self.con.execute(
                "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [model, version, hash_, text, file, now, published_by, group_names],
            )
        return ModelVersion(model, version, hash_, text, file, now, list(group_names))

    def latest_version(self, model: str) -> ModelVersion | None:
        row = self.con.execute(
            "SELECT model, version, hash, text, file, published_at, group_names FROM model_versions "
            "WHERE model = ? ORDER BY version DESC LIMIT 1", [model]
        ).fetchone()
        return ModelVersion(*row) if row else None

    def get_version(self, model: str, version: int | None = None) -> ModelVersion:
        if version is None:
            found = self.latest_version(model)
        else:
            row = self.con.execute(
                "SELECT model, version, hash, text, file, published_at, group_names FROM model_versions "
                "WHERE model = ? AND version = ?", [model, version]
            ).fetchone()
            found = ModelVersion(*row) if row else None
        if found is None:
            known = ", ".join(self.published_models()) or "none yet"
            raise NotFoundError(
                f"no published model `{model}`" + (f" version {version}" if version else "")
                + f" (published: {known}); run `leadscore publish models/{model}.yml`"
            )
        return found

    def latest_versions(self, models: list[str] | None = None) -> list[ModelVersion]:
        """The latest version of every published model (or of the named ones), in one query.

        The real-time path asks on every request; one round trip instead of one per model.
        A named model that was never published is a NotFoundError, as in ``get_version``.
        """
        latest = {v.model: v for v in self._latest_versions()}
        if models is None:
            return list(latest.values())
        for name in models:
            if name not in latest:
                self.get_version(name)  # raises the NotFoundError naming what is published
        return [latest[name] for name in models]

    def _latest_versions(self) -> list[ModelVersion]:
        catalog = self._catalog
        generation = catalog.generation
        usable = catalog.enabled and not self._published and (not self._in_tx or self._begun_at == generation)
        kept = catalog.versions
        if usable and kept is not None and kept[0] == generation:
            return kept[1]
        rows = self.con.execute(
            "SELECT model, version, hash, text, file, published_at, group_names FROM model_versions "
            "QUALIFY row_number() OVER (PARTITION BY model ORDER BY version DESC) = 1 ORDER BY model"
        ).fetchall()
        versions = [ModelVersion(*row) for row in rows]
        if usable:
            with catalog.lock:
                if catalog.generation == generation:
                    catalog.versions = (generation, versions)
        return versions

    def all_versions(self) -> list[ModelVersion]:
        """Every published version of every model, by model and version."""
        rows = self.con.execute(
            "SELECT model, version, hash, text, file, published_at, group_names FROM model_versions "
            "ORDER BY model, version").fetchall()
        return [ModelVersion(*row) for row in rows]

    def published_models(self) -> list[str]:
        return [r[0] for r in self.con.execute(
            "SELECT DISTINCT model FROM model_versions ORDER BY 1").fetchall()]
