"""The Postgres engine: a model's compiled query run inside the user's database, results written there.

``engine: postgres`` points leadscore at the user's own tables (or views) of contacts and events;
a run happens entirely inside the database, in one transaction::

    SET LOCAL TIME ZONE 'UTC'; advisory lock on the output schema (one run at a time)
    ls_q    the compiled query (compile_model(dialect="postgres")) over the user's tables
    ls_run  ls_q LEFT JOIN the model's previous scores
    -> leadscore_score_history (changed rows), leadscore_scores (replaced for the model),
       leadscore_runs (the run's figures); leadscore_tier_crossings is a view over the history
    COMMIT

so a failure or a kill at any point leaves the previous scores and history as they were. The
workspace store then records the run and fires its workflows (``engine.backends``).

Nothing is pasted into SQL: the user's table names and the output schema are quoted identifiers
(``psycopg.sql.Identifier``, and the compiler quotes every name it reads), every value from a
model is an escaped literal of the compiled query, and every value of leadscore's own statements
(model name, run id, as-of...) is a bound parameter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from leadscore.compiler import compile_model
from leadscore.compiler.accounts import compile_account_model
from leadscore.engine.backends import Pull, Pulled, RunRecord, frame_types, named_params
from leadscore.engine.run import SCORE_EPSILON
from leadscore.engine_settings import PostgresSettings
from leadscore.errors import BackendError, first_line
from leadscore.faults import fault_point
from leadscore.model.account_spec import AccountModel
from leadscore.storage.store import ModelVersion

if TYPE_CHECKING:
    import psycopg
    import pyarrow as pa
    from psycopg import sql as pgsql

    from leadscore.model.spec import ScoringModel

SCORES, HISTORY, RUNS, CROSSINGS = ("leadscore_scores", "leadscore_score_history", "leadscore_runs",
                                    "leadscore_tier_crossings")
#: An account model's tables: the same columns with ``company_id`` for ``contact_id`` (the store's names).
ACCOUNT = "leadscore_account_"


def _tables(level: str) -> tuple[str, str, str, str]:
    """Scores, history, crossings view and key column of a level (``contact`` / ``account``)."""
    if level == "account":
        return (f"{ACCOUNT}scores", f"{ACCOUNT}score_history", f"{ACCOUNT}tier_crossings", "company_id")
    return SCORES, HISTORY, CROSSINGS, "contact_id"


def _score_columns(key: str) -> str:
    return f"""model text NOT NULL, {key} text NOT NULL, model_version integer NOT NULL,
    score double precision NOT NULL, tier text NOT NULL, grade text, groups double precision[]"""
_TAIL_COLUMNS = "as_of timestamp NOT NULL, computed_at timestamp NOT NULL, run_id text NOT NULL"
_CHANGED = (f"prev_score IS NULL OR abs(score - prev_score) > {SCORE_EPSILON} "
            "OR tier IS DISTINCT FROM prev_tier")

#: Postgres type (``format_type``, without its modifier) → leadscore's logical type. Columns of
#: other types (json, arrays, intervals...) are left out: no operator of the model language reads them.
PG_LOGICAL = {
    "text": "string", "character varying": "string", "character": "string", "citext": "string",
    "uuid": "string", "name": "string", "smallint": "number", "integer": "number", "bigint": "number",
    "numeric": "number", "real": "number", "double precision": "number", "boolean": "boolean",
    "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamp", "date": "timestamp",
}


def quoted_name(name: str) -> str:
    """A possibly ``schema.``-qualified table name with every part double-quoted (as the compiler does)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


class PostgresBackend:
    """Score inside a Postgres database (see the module docstring)."""

    engine = "postgres"
    dialect = "postgres"

    def __init__(self, settings: PostgresSettings, *, connection: psycopg.Connection[Any] | None = None) -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise BackendError("engine postgres needs psycopg: pip install 'leadscore[postgres]'") from exc
        self.settings = settings
        if connection is None:
            dsn = settings.resolved_dsn()
            try:
                connection = psycopg.connect(dsn)
            except psycopg.ProgrammingError:  # libpq echoes the unreadable part, password included
                raise BackendError("engine postgres: `postgres.dsn` is not a valid libpq connection string "
                                   "(a `%` or `@` in a URI password must be percent-encoded: %25, %40)") from None
            except psycopg.Error as exc:
                raise BackendError(f"engine postgres: cannot connect: {_without_secrets(first_line(exc), dsn)}"
                                   ) from None
        self.con = connection
        info = self.con.info
        where = f"{info.host}:{info.port}" if info.host and not info.host.startswith("/") else "local"
        self.schema = settings.schema_
        self.location = f"postgresql://{where}/{info.dbname}#{self.schema}"
        self._ready = False

    # ------------------------------------------------------------------ the user's tables

    def _ident(self, table: str) -> pgsql.Composed:
        from psycopg import sql

        return sql.SQL(".").join([sql.Identifier(self.schema), sql.Identifier(table)])

    def columns(self, table: str) -> dict[str, str]:
        """Logical types of a source table's columns (``contacts``, ``events``, ``deals``)."""
        return {name: PG_LOGICAL[kind] for name, kind in self.pg_types(table).items()}

    def pg_types(self, table: str) -> dict[str, str]:
        """Postgres types of a source table's readable columns, in table order."""
        name = getattr(self.settings, table)
        rows = self._fetch("""SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a
                              WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
                              ORDER BY a.attnum""", [quoted_name(name)])
        if not rows:
            raise BackendError(f"engine postgres: no table or view {name} (postgres.{table} in leadscore.yml)")
        return {str(n): str(t) for n, t in rows if t in PG_LOGICAL}

    def history(self, as_of: datetime, setting: str = "property_history") -> str | None:
        """``postgres.property_history`` when a score as of ``as_of`` must read it (some change came
        after it), else None: properties are read from the contacts as they are (docs/engines.md).
        ``setting="company_property_history"``: the companies' history, by the same rule."""
        name: str | None = getattr(self.settings, setting)
        if name is None:
            return None
        import psycopg

        try:
            with self.con.transaction():
                self.con.execute("SET LOCAL TIME ZONE 'UTC'")
                row = self.con.execute(f"SELECT coalesce(max(changed_at) > %s::timestamp, false) "  # type: ignore[arg-type]
                                       f"FROM {quoted_name(name)}", [as_of]).fetchone()
        except psycopg.Error as exc:
            raise BackendError(f"engine postgres: cannot read the property history {name} "
                               f"(postgres.{setting}): {first_line(exc)}") from exc
        return name if row and row[0] else None

    def event_types(self) -> list[str]:
        return [str(r[0]) for r in self._fetch(
            f"SELECT DISTINCT type FROM {quoted_name(self.settings.events)} WHERE type IS NOT NULL ORDER BY 1")]

    def _fetch(self, query: Any, params: Any = None) -> list[Any]:
        import psycopg

        try:
            with self.con.transaction():
                return self.con.execute(query, params).fetchall()
        except psycopg.Error as exc:
            raise BackendError(f"Postgres refused the query: {first_line(exc)}") from exc

    # ------------------------------------------------------------------ output tables

    def ensure_tables(self) -> None:
        """The output schema and tables, created when missing (their own transaction)."""
        if self._ready:
            return
        from psycopg import sql

        statements = []
        for level in ("contact", "account"):
            scores, history, crossings, key = _tables(level)
            statements += [
                sql.SQL(f"CREATE TABLE IF NOT EXISTS {{}} ({_score_columns(key)}, {_TAIL_COLUMNS}, "
                        f"PRIMARY KEY (model, {key}))").format(self._ident(scores)),
                sql.SQL(f"CREATE TABLE IF NOT EXISTS {{}} ({_score_columns(key)}, prev_score double precision, "
                        f"prev_tier text, {_TAIL_COLUMNS})").format(self._ident(history)),
                sql.SQL(f"CREATE INDEX IF NOT EXISTS {{}} ON {{}} (model, {key}, as_of)").format(
                    sql.Identifier(history + "_" + key.split("_")[0]), self._ident(history)),
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (run_id)").format(
                    sql.Identifier(history + "_run"), self._ident(history)),
                sql.SQL(f"""CREATE OR REPLACE VIEW {{}} AS SELECT run_id, model, model_version, {key},
                    prev_tier AS from_tier, tier AS to_tier, prev_score AS from_score, score AS to_score, as_of,
                    computed_at FROM {{}} WHERE tier IS DISTINCT FROM prev_tier""").format(
                    self._ident(crossings), self._ident(history)),
            ]
        statements.append(sql.SQL("""CREATE TABLE IF NOT EXISTS {} (run_id text PRIMARY KEY, model text NOT NULL,
                model_version integer NOT NULL, as_of timestamp NOT NULL, computed_at timestamp NOT NULL,
                finished_at timestamp NOT NULL, contacts bigint, changed bigint, crossings bigint,
                previous bigint, tier_counts jsonb, store_id text)""").format(self._ident(RUNS)))
        import psycopg

        try:
            with self.con.transaction():
                self._lock()
                # CREATE SCHEMA needs CREATE on the database even when the schema exists: only when missing,
                # so a role that owns its schema and nothing more can score
                missing = self.con.execute("SELECT to_regnamespace(%s) IS NULL",
                                           [sql.Identifier(self.schema).as_string(self.con)]).fetchone()
                if missing and missing[0]:
                    self.con.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
                for statement in statements:
                    self.con.execute(statement)
        except psycopg.Error as exc:
            raise BackendError(f"engine postgres: cannot create the tables in schema {self.schema}: "
                               f"{first_line(exc)}") from exc
        self._ready = True

    def _lock(self) -> None:
        """One leadscore writer per output schema at a time (released at the transaction's end)."""
        self.con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"leadscore:{self.schema}"])

    # ------------------------------------------------------------------ a run

    def run_model(self, version: ModelVersion, model: ScoringModel, *, as_of: datetime, run_id: str,
                  computed_at: datetime, store_id: str) -> RunRecord:
        """Run one model version for every contact; scores, history and the run in one transaction."""
        started = time.perf_counter()
        self.ensure_tables()
        query = compile_model(model, as_of=as_of, dialect="postgres", contacts_table=self.settings.contacts,
                              events_table=self.settings.events, contact_columns=self.columns("contacts"),
                              event_columns=self.columns("events"),
                              history_table=self.history(as_of)).sql(dialect="postgres")
        return self._run("contact", version, query, len(model.groups), as_of=as_of, run_id=run_id,
                         computed_at=computed_at, store_id=store_id, started=started)

    def run_account_model(self, version: ModelVersion, model: AccountModel, contact_models: Mapping[str, ScoringModel],
                          *, match_by_domain: bool, as_of: datetime, run_id: str, computed_at: datetime,
                          store_id: str) -> RunRecord:
        """Run one account model version for every company of ``postgres.companies`` (its contact
        models compiled into the query, as on DuckDB); ``leadscore_account_scores``,
        ``leadscore_account_score_history`` and the run in one transaction."""
        started = time.perf_counter()
        self.ensure_tables()
        query = self._account_query(model, contact_models, as_of, match_by_domain=match_by_domain)
        return self._run("account", version, query, len(model.groups), as_of=as_of, run_id=run_id,
                         computed_at=computed_at, store_id=store_id, started=started)

    def _account_query(self, model: AccountModel, contact_models: Mapping[str, ScoringModel], as_of: datetime, *,
                       match_by_domain: bool, company_id: str | None = None, detail: bool = False) -> str:
        return compile_account_model(
            model, as_of=as_of, contact_models=contact_models, dialect="postgres", company_id=company_id,
            detail=detail, match_by_domain=match_by_domain, companies_table=self.settings.companies,
            contacts_table=self.settings.contacts, events_table=self.settings.events,
            company_columns=self.columns("companies"), contact_columns=self.columns("contacts"),
            event_columns=self.columns("events"), history_table=self.history(as_of),
            company_history_table=self.history(as_of, "company_property_history")).sql(dialect="postgres")

    def _run(self, level: str, version: ModelVersion, query: str, groups_n: int, *, as_of: datetime, run_id: str,
             computed_at: datetime, store_id: str, started: float) -> RunRecord:
        """A compiled query's rows diffed against the previous scores; history, scores, the run."""
        import psycopg
        from psycopg import sql

        scores_name, history_name, _, key = _tables(level)
        groups = ", ".join(f"q.g_{k}" for k in range(groups_n))
        params = {"model": version.model, "version": version.version, "as_of": as_of, "computed": computed_at,
                  "run": run_id}
        scores, history = self._ident(scores_name), self._ident(history_name)
        try:
            with self.con.transaction():
                self.con.execute("SET LOCAL TIME ZONE 'UTC'")
                self._lock()
                # the run's own tables live in pg_temp and are always named with it: an unqualified
                # name would resolve through the search_path to a user's table of the same name
                self.con.execute(f"CREATE TEMP TABLE ls_q ON COMMIT DROP AS {query}")  # type: ignore[arg-type]
                self.con.execute(sql.SQL(
                    f"CREATE TEMP TABLE ls_run ON COMMIT DROP AS SELECT q.{key}::text AS {key}, q.score, "
                    f"q.tier, q.grade, ARRAY[{groups}]::double precision[] AS groups, p.score AS prev_score, "
                    "p.tier AS prev_tier FROM pg_temp.ls_q AS q LEFT JOIN {} AS p "
                    f"ON p.model = %(model)s AND p.{key} = q.{key}::text").format(scores), params)
                self.con.execute(sql.SQL(
                    f"INSERT INTO {{}} SELECT %(model)s, {key}, %(version)s, score, tier, grade, groups, "
                    f"prev_score, prev_tier, %(as_of)s, %(computed)s, %(run)s FROM pg_temp.ls_run WHERE {_CHANGED}"
                ).format(history), params)
                self.con.execute(sql.SQL("DELETE FROM {} WHERE model = %(model)s").format(scores), params)
                self.con.execute(sql.SQL(
                    f"INSERT INTO {{}} SELECT %(model)s, {key}, %(version)s, score, tier, grade, groups, "
                    "%(as_of)s, %(computed)s, %(run)s FROM pg_temp.ls_run").format(scores), params)
                record = self._record(version, as_of, computed_at, run_id, store_id)
                record.level = level
                self.con.execute(sql.SQL(
                    "INSERT INTO {} VALUES (%(run)s, %(model)s, %(version)s, %(as_of)s, %(computed)s, "
                    "now() AT TIME ZONE 'UTC', %(contacts)s, %(changed)s, %(crossings)s, %(previous)s, "
                    "%(tiers)s, %(store)s)").format(self._ident(RUNS)),
                    params | {"contacts": record.contacts, "changed": record.changed, "crossings": record.crossings,
                              "previous": record.previous, "tiers": json.dumps(record.tier_counts),
                              "store": store_id})
                fault_point("postgres.before_commit")
        except psycopg.Error as exc:
            raise BackendError(f"Postgres could not run model `{version.model}`: "
                               f"{first_line(exc)}") from exc
        record.seconds = time.perf_counter() - started
        return record

    def _record(self, version: ModelVersion, as_of: datetime, computed_at: datetime, run_id: str,
                store_id: str) -> RunRecord:
        rows = self.con.execute(
            f"""SELECT tier, count(*), count(*) FILTER (WHERE tier IS DISTINCT FROM prev_tier),
                       count(*) FILTER (WHERE {_CHANGED}), count(prev_score)
                FROM pg_temp.ls_run GROUP BY tier""").fetchall()
        tiers = {str(r[0]): int(r[1]) for r in rows}
        return RunRecord(run_id, version.model, version.version, as_of, computed_at, sum(tiers.values()),
                         sum(int(r[3]) for r in rows), sum(int(r[2]) for r in rows), sum(int(r[4]) for r in rows),
                         tiers, store_id=store_id)

    # ------------------------------------------------------------------ after the commit

    def unrecorded(self, recorded: set[str], store_id: str) -> list[RunRecord]:
        """Runs of this store committed in the database but not recorded in the store."""
        from psycopg import sql

        self.ensure_tables()
        rows = self._fetch(sql.SQL(
            "SELECT run_id, model, model_version, as_of, computed_at, contacts, changed, crossings, previous, "
            "tier_counts FROM {} WHERE store_id = %s ORDER BY computed_at").format(self._ident(RUNS)), [store_id])
        return [RunRecord(r[0], r[1], int(r[2]), r[3], r[4], int(r[5]), int(r[6]), int(r[7]), int(r[8]),
                          dict(r[9] or {}), store_id=store_id) for r in rows if r[0] not in recorded]

    def pull(self, record: RunRecord, pull: Pull) -> Pulled:
        """The run's rows some workflow trigger holds for (from its history rows), their contacts
        and, when asked, their events; for an account model's run, the companies' rows (no events)."""
        from psycopg import sql

        _, history, _, key = _tables(record.level)
        fired_sql = sql.SQL(f"SELECT {key}, score, tier, grade, groups, prev_score, prev_tier FROM {{}} AS r "
                            "WHERE r.run_id = %(run_id__)s AND r.model = %(model__)s AND ("
                            f"{named_params(pull.predicate, 'psycopg')})").format(self._ident(history))
        params = pull.params | {"run_id__": record.run_id, "model__": record.model}
        fired = self._arrow(fired_sql, params, _RUN_TYPES | {"company_id": "string"})
        ids = fired.column(key).to_pylist()
        if record.level == "account":
            return Pulled(fired, self._rows_of(self.settings.companies, "companies", ids, key=key))
        contacts = self._rows_of(self.settings.contacts, "contacts", ids)
        events = self._rows_of(self.settings.events, "events", ids) if pull.events else None
        return Pulled(fired, contacts, events)

    def _rows_of(self, table: str, kind: str, ids: list[str] | None, *, key: str = "contact_id") -> pa.Table:
        """A source table's rows (of some contacts or companies, or all), with its readable columns."""
        from psycopg import sql

        columns = self.pg_types(kind)
        where = (sql.SQL(" WHERE t.{}::text = ANY(%(ids)s)").format(sql.Identifier(key)) if ids is not None
                 else sql.SQL(""))
        query = sql.SQL("SELECT {} FROM {} AS t").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.SQL(quoted_name(table))) + where
        types = {c: _INTEGER if pg in ("smallint", "integer", "bigint") else PG_LOGICAL[pg]
                 for c, pg in columns.items()}
        return self._arrow(query, {"ids": ids}, types)

    def _arrow(self, query: Any, params: dict[str, Any], types: dict[str, str]) -> pa.Table:
        """Rows as an Arrow table with the given column kinds (timestamps as naive UTC)."""
        import psycopg
        import pyarrow as pa

        try:
            with self.con.transaction():
                self.con.execute("SET LOCAL TIME ZONE 'UTC'")
                cur = self.con.execute(query, params)
                names = [d.name for d in cur.description or []]
                rows = cur.fetchall()
        except psycopg.Error as exc:
            raise BackendError(f"Postgres refused the query: {first_line(exc)}") from exc
        arrays = []
        for i, name in enumerate(names):
            kind = types.get(name, "string")
            values = [_naive(row[i]) if kind == "timestamp" else row[i] for row in rows]
            if kind == "number":
                values = [None if v is None else float(v) if not isinstance(v, int) else v for v in values]
            elif kind == "string":  # uuid, inet, ... arrive as Python objects: their text, as `frame` does
                values = [v if v is None or isinstance(v, str) else str(v) for v in values]
            arrays.append(pa.array(values, type=_arrow_type(kind)))
        return pa.Table.from_arrays(arrays, names=names)

    def finish(self, record: RunRecord) -> None:
        """Nothing is staged outside the database."""

    def read_table(self, name: str, model: str | None = None) -> pa.Table:
        """``scores`` (or ``score_history``, ``account_scores``, ``account_score_history``) of the output
        schema as Arrow, in the store's columns."""
        from psycopg import sql

        self.ensure_tables()
        table = {"scores": SCORES, "score_history": HISTORY, "account_scores": _tables("account")[0],
                 "account_score_history": _tables("account")[1]}[name]
        where = sql.SQL(" WHERE model = %(model)s") if model else sql.SQL("")
        query = sql.SQL("SELECT * FROM {}").format(self._ident(table)) + where
        return self._arrow(query, {"model": model} if model else {}, _OUTPUT_TYPES | {"company_id": "string"})

    def read_source(self, name: str) -> pa.Table | None:
        """A source table's rows; None for deals or companies when the database has no such table."""
        try:
            return self._rows_of(getattr(self.settings, name), name, None)
        except BackendError:
            if name in ("deals", "companies"):
                return None
            raise

    def latest_event(self) -> datetime | None:
        rows = self._fetch(f"SELECT max(occurred_at) FROM {quoted_name(self.settings.events)}")
        return _naive(rows[0][0]) if rows else None

    def frame(self, model: ScoringModel | AccountModel, as_of: datetime, *, contact_id: str | None = None,
              detail: bool = False, contact_models: Mapping[str, ScoringModel] | None = None,
              match_by_domain: bool = False) -> pa.Table:
        """The model's query as of ``as_of`` run inside the database (nothing written), as Arrow. An
        account model (``contact_id`` then names a company) reads ``contact_models`` as its roll-ups'."""
        import pyarrow as pa

        if isinstance(model, AccountModel):
            query = self._account_query(model, contact_models or {}, as_of, match_by_domain=match_by_domain,
                                        company_id=contact_id, detail=detail)
        else:
            query = compile_model(model, as_of=as_of, dialect="postgres", contacts_table=self.settings.contacts,
                                  events_table=self.settings.events, contact_columns=self.columns("contacts"),
                                  event_columns=self.columns("events"), contact_id=contact_id,
                                  detail=detail, history_table=self.history(as_of)).sql(dialect="postgres")
        import psycopg

        try:
            with self.con.transaction():
                self.con.execute("SET LOCAL TIME ZONE 'UTC'")
                cur = self.con.execute(query)  # type: ignore[arg-type]
                names = [d.name for d in cur.description or []]
                rows = cur.fetchall()
        except psycopg.Error as exc:
            raise BackendError(f"Postgres refused the query: {first_line(exc)}") from exc
        schema = frame_types(names)
        columns = [[row[i] for row in rows] for i in range(len(names))]
        return pa.Table.from_arrays([pa.array([None if v is None else (str(v) if t == pa.string() else v)
                                               for v in col], type=t)
                                     for col, t in zip(columns, schema.types, strict=True)], schema=schema)

    def close(self) -> None:
        self.con.close()


def _without_secrets(message: str, dsn: str) -> str:
    """``message`` with the DSN's password (and the DSN itself) blanked: libpq quotes parts of it."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(dsn).get("password")
    except Exception:  # noqa: BLE001 - an unreadable DSN: hide all of it
        password = None
    for secret in (dsn, password):
        if secret:
            message = message.replace(str(secret), "***")
    return message


def _naive(value: Any) -> Any:
    """A timestamp as naive UTC (a ``timestamptz`` arrives aware; a ``date`` is its midnight)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if value is not None and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


_INTEGER = "integer"
#: the Arrow kind of each column leadscore reads back: the run's, and the output tables'
_RUN_TYPES = {"contact_id": "string", "score": "number", "tier": "string", "grade": "string",
              "groups": "doubles", "prev_score": "number", "prev_tier": "string"}
_OUTPUT_TYPES = _RUN_TYPES | {"model": "string", "model_version": _INTEGER, "as_of": "timestamp",
                              "computed_at": "timestamp", "run_id": "string"}


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {"string": pa.string(), "number": pa.float64(), "boolean": pa.bool_(), "timestamp": pa.timestamp("us"),
            _INTEGER: pa.int64(), "doubles": pa.list_(pa.float64())}[kind]
