"""Score runs: one compiled query per model, then scores, history and crossings in one transaction.

A run materialises the compiled query joined with the previous scores into a temporary table, so
the diff (what changed, which tier was crossed) is computed once and then written twice:

* ``score_history`` gets a row only where the score or the tier changed (or on a first score);
  the ``tier_crossings`` view shows those of its rows whose tier changed (``from_tier`` NULL on a
  first score), for workflows to consume;
* ``scores`` is replaced for the run's scope (the whole model, or one contact).

Everything happens inside one DuckDB transaction: a crash leaves the previous scores intact.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import duckdb

from leadscore.compiler import compile_model
from leadscore.engine.realtime import (
    RT_CONTACTS,
    RT_EVENTS,
    Scored,
    copy_rows,
    reference_reads_as_sql,
    scored_by_reference,
)
from leadscore.engine.stored_scores import RETURNED, StoredScores
from leadscore.errors import LeadscoreError, ModelError
from leadscore.faults import fault_point
from leadscore.model.account_spec import AccountModel
from leadscore.model.loader import AnyModel, LoadedModel, parse_model
from leadscore.model.spec import ScoringModel
from leadscore.storage.history import needs_history
from leadscore.storage.lookup_index import key_filter
from leadscore.storage.store import ModelVersion, Store, rows_affected, used_params
from leadscore.storage.types import logical_type
from leadscore.timeutil import epoch_micros, utcnow

#: Scores closer than this are "unchanged" (floating sums in another order differ by ~1e-15).
SCORE_EPSILON = 1e-9


@dataclass(frozen=True)
class Level:
    """What a model scores: contacts, or companies (``level: account``), and where those scores go.

    Both levels are run, diffed and written by the same code below; only the names differ.
    """

    name: str
    key: str  #: the scored id's column: contact_id / company_id
    scores: str
    history: str
    ids: str  #: the list parameter of a partial run: $contact_ids / $company_ids


CONTACTS = Level("contact", "contact_id", "scores", "score_history", "contact_ids")
ACCOUNTS = Level("account", "company_id", "account_scores", "account_score_history", "company_ids")


def level_of(model: AnyModel) -> Level:
    return ACCOUNTS if isinstance(model, AccountModel) else CONTACTS


@dataclass
class RunResult:
    """What a score run did; printed by the CLI, returned by the library.

    ``contacts`` counts the scored ids: companies for an account model (``level == "account"``).
    """

    run_id: str
    model: str
    model_version: int
    as_of: datetime
    scope: str
    contacts: int
    changed: int
    crossings: int
    seconds: float
    tier_counts: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    level: str = "contact"


@dataclass(frozen=True)
class RunContext:
    """What an ``on_written`` hook is told about the run whose rows it may read.

    While the hook runs, the temporary table ``_run`` holds one row per scored contact with
    ``contact_id, score, tier, grade, groups, prev_score, prev_tier`` (prev_* NULL on a first
    score), and ``score_history`` already holds this run's rows under ``run_id``; for an account
    model (``model`` is an ``AccountModel``) the key is ``company_id``, the history
    ``account_score_history`` and ``contact_ids`` the companies of a partial run. The hook runs
    inside the run's transaction, so what it writes (an outbox row, say) commits or rolls back
    with the scores.
    """

    run_id: str
    version: ModelVersion
    model: ScoringModel | AccountModel
    as_of: datetime
    computed_at: datetime
    #: the contacts a partial run was asked to score; None for a whole-base run
    contact_ids: list[str] | None
    #: DuckDB column types of the ``contacts`` / ``events`` the hook reads, when they are not the
    #: store's own: an external engine's run puts its rows in temporary tables of those names
    #: (``engine.backends``); None means the store's tables
    contact_types: dict[str, str] | None = None
    event_types: dict[str, str] | None = None
    #: False when the run must fire no workflow (it finishes a baseline run that was cut short);
    #: the hook still runs, for what must follow every score write (the leads list's rows)
    fire: bool = True


#: Called inside a run's transaction after scores and history are written (see RunContext).
OnWritten = Callable[[duckdb.DuckDBPyConnection, RunContext], None]


def model_of(version: ModelVersion) -> AnyModel:
    """The validated model of a published version (its text is re-parsed: the store keeps YAML).

    Cached on the text: the real-time path asks on every request and a parse costs milliseconds.
    The returned model is shared, so callers must not change it.
    """
    return _parsed(version.text, version.file or f"{version.model} v{version.version}")


@lru_cache(maxsize=64)
def _parsed(text: str, file: str) -> AnyModel:
    return parse_model(text, file).model


#: The store's table of property changes (``storage/migrations_history.py``).
HISTORY_TABLE = "property_history"


def history_table(store: Store, as_of: datetime) -> str | None:
    """The history table when a score as of ``as_of`` must read it (a property changed after
    ``as_of``), else None: scoring now reads the current values alone, as fast as ever."""
    return HISTORY_TABLE if needs_history(store.con, as_of) else None


#: (model hash, contact columns, event columns, tables, history) → parameterised SQL; see _parameterized_sql.
_PARAM_SQL: dict[tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], tuple[str, str], str | None],
                 str] = {}


def _parameterized_sql(version: ModelVersion, model: ScoringModel, contacts: dict[str, str],
                       events: dict[str, str], tables: tuple[str, str] = ("contacts", "events"),
                       history: str | None = None) -> str:
    """A model's SQL for a list of contacts with as-of and contacts bound at execution.

    Keyed on the version's hash, the store's (logical) columns, the tables read and whether
    properties are read as of the instant from the history, so an import that adds a column
    compiles anew. Compiling takes tens of milliseconds; binding costs nothing.
    """
    contact_columns, event_columns = tuple(contacts.items()), tuple(events.items())
    key = (version.hash, contact_columns, event_columns, tables, history)
    sql = _PARAM_SQL.get(key)
    if sql is None:
        query = compile_model(model, as_of=datetime(1970, 1, 1), dialect="duckdb", params=True,
                              contact_columns=dict(contact_columns), event_columns=dict(event_columns),
                              contacts_table=tables[0], events_table=tables[1], history_table=history)
        sql = query.sql(dialect="duckdb")
        if len(_PARAM_SQL) >= 64:
            _PARAM_SQL.clear()
        _PARAM_SQL[key] = sql
    return sql


def _scored_some(store: Store, version: ModelVersion, model: ScoringModel, ids: list[str], as_of: datetime) -> Scored:
    """Where a run for some contacts reads their scores from (``engine.realtime``): the reference
    scorer over their rows when it reads the model's columns as SQL does, else the compiled query
    over a copy of their rows. The query is compiled (once per version and columns) either way, so
    a model the compiler refuses for this store fails on both paths alike. As of an instant some
    property changed after, the compiled query reads the properties of then from the history (the
    reference path reads the stored, current values, so it is left out)."""
    contact_types, event_types = store.column_types("contacts"), store.column_types("events")
    contacts = {name: logical_type(t) for name, t in contact_types.items()}
    events = {name: logical_type(t) for name, t in event_types.items()}
    history = history_table(store, as_of)
    sql = _parameterized_sql(version, model, contacts, events, (RT_CONTACTS, RT_EVENTS), history)
    if history is None and reference_reads_as_sql(model, contact_types, event_types):
        scored = scored_by_reference(store, model, ids, as_of)
        if scored is not None:
            scored.params["contact_ids"] = ids
            return scored
    copy_rows(store, model, ids, sql)
    # only the placeholders the text uses: a model of properties alone has no `$as_of_us`
    params = used_params(sql, {"as_of": as_of, "as_of_us": epoch_micros(as_of)}) | {"contact_ids": ids}
    return Scored(sql, params, (RT_CONTACTS, RT_EVENTS), "sql")


def compiled_sql(store: Store, model: ScoringModel, as_of: datetime, *, contact_id: str | None = None,
                 detail: bool = False) -> str:
    """The DuckDB SQL of a model for this store's actual columns, properties as of ``as_of`` (on a
    store mirroring an external engine, SQL over the rows that engine computed for the same query:
    ``engine.mirror``)."""
    if store.scored_by is not None:
        return store.scored_by(model, as_of, contact_id, detail)
    contact_columns, event_columns = store.scoring_columns()
    query = compile_model(
        model, as_of=as_of, dialect="duckdb", contact_id=contact_id, detail=detail,
        contact_columns=contact_columns, event_columns=event_columns,
        history_table=history_table(store, as_of),
    )
    return query.sql(dialect="duckdb")


def _groups_list_sql(model: AnyModel) -> str:
    """``[g_0, g_1, ...]``: group points in the order of ``model_versions.group_names``."""
    return "[" + ", ".join(f"g_{i}" for i in range(len(model.groups))) + "]::DOUBLE[]"


#: DuckDB errors that say nothing about the model: a conflicting commit, Ctrl-C, memory or disk
#: running out, a broken connection or an engine bug. They fail the run as they are, rather than
#: putting a sound model in quarantine.
_NOT_THE_MODEL = (duckdb.TransactionException, duckdb.InterruptException, duckdb.OutOfMemoryException,
                  duckdb.IOException, duckdb.InternalException, duckdb.FatalException,
                  duckdb.PermissionException, duckdb.ConnectionException)


class ModelRunError(LeadscoreError):
    """A published model whose query the engine could not run (the model, not the store, failed).

    Raised in place of DuckDB's own error so the caller can tell "this model is broken" (score the
    others, report this one) from a failure of the store or the transaction (give up).
    """

    def __init__(self, version: ModelVersion, cause: BaseException):
        self.model = version.model
        self.version = version.version
        self.hash = version.hash
        self.cause = cause
        lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
        if isinstance(cause, ModelError) and cause.issues:  # the issues, not the "N error(s)" heading
            lines = [f"{i.path}: {i.message}" for i in cause.issues]
        detail = "; ".join(lines[:3]) or type(cause).__name__
        super().__init__(f"model `{version.model}` v{version.version} could not be scored: {detail}")


def run_model(store: Store, version: ModelVersion, *, as_of: datetime,
              contact_ids: Sequence[str] | None = None, model: AnyModel | None = None,
              on_written: OnWritten | None = None, stored: StoredScores | None = None) -> RunResult:
    """Score every contact (``contact_ids=None``) or a list of them with one model version, and
    record the results: the engine's one way to run a model.

    An account model (``level: account``) scores companies: ``contact_ids`` then lists the
    companies to score, and the scores go to ``account_scores`` / ``account_score_history``.

    ``on_written`` lets a higher layer (workflows) act on the run's changes in the same
    transaction; the engine itself knows nothing of workflows. ``leadscore.scoring`` is the
    caller that picks the models, the instant and the hook.

    A whole-base run compiles with literals (DuckDB folds them; the run is long anyway). A run
    for some contacts reads only their rows (``engine.realtime``: by key, from the server's
    lookup indexes when they exist) and scores them with the reference scorer, or, for many contacts,
    with the cached parameterised text over a copy of their rows. A failure of the model's own
    query is a ``ModelRunError``. ``stored`` (a contact model's run for some contacts, inside the
    caller's transaction) gives their previous rows without a scan and learns what the run wrote
    (``engine.stored_scores``).
    """
    started = time.perf_counter()
    phases: dict[str, float] = {}
    try:
        scoring_model = model or model_of(version)
    except Exception as exc:  # noqa: BLE001 - a stored text this build cannot read is that model's failure
        raise ModelRunError(version, exc) from exc
    ids = None if contact_ids is None else list(dict.fromkeys(contact_ids))
    binds: dict[str, object] = {"model": version.model}
    level = level_of(scoring_model)
    if level is not CONTACTS or ids is None:
        stored = None
    scored: Scored | None = None
    con = store.con
    try:
        if isinstance(scoring_model, AccountModel):
            from leadscore.engine.account_sql import (
                account_param_sql,
                account_sql,
                company_history_table,
                workflow_conditions,
            )

            histories = {"history": history_table(store, as_of), "company_history": company_history_table(store, as_of)}
            sql = (account_sql(store, scoring_model, as_of) if ids is None
                   else account_param_sql(store, version, scoring_model, **histories))
            # an `if:` that fails is this model's failure
            workflow_conditions(store, version, scoring_model, **histories)
        elif ids is None:
            sql = compiled_sql(store, scoring_model, as_of)
        else:
            scored = _scored_some(store, version, scoring_model, ids, as_of)
            sql = scored.sql
            binds.update(scored.params)
        if ids is not None and scored is None:  # an account model's companies
            # only the placeholders the text uses: a model of properties alone has no `$as_of_us`
            binds.update(used_params(sql, {"as_of": as_of, "as_of_us": epoch_micros(as_of), level.ids: ids}))
    except LeadscoreError as exc:  # the compiler refused what validation let through
        raise ModelRunError(version, exc) from exc
    phases["compile"] = time.perf_counter() - started
    try:
        return _write_run(store, version, scoring_model, sql, as_of, ids, binds, phases, started, on_written,
                          stored)
    finally:
        if scored is not None:
            try:
                scored.drop(con)
            except duckdb.TransactionException:  # a failed transaction: the caller rolls back
                pass


@contextmanager
def unordered_writes(store: Store) -> Iterator[None]:
    """Let DuckDB write a whole-base run's rows with every core (they have no order).

    The setting is global to the database, so it is set and reset outside any transaction: a
    RESET inside a transaction that failed would itself fail and leave it set for every cursor.
    Inside a caller's transaction it is left alone.
    """
    if store.in_transaction:
        yield
        return
    store.con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        store.con.execute("RESET preserve_insertion_order")


def _write_run(store: Store, version: ModelVersion, scoring_model: AnyModel, sql: str, when: datetime,
               ids: list[str] | None, binds: dict[str, object], phases: dict[str, float],
               started: float, on_written: OnWritten | None = None,
               stored: StoredScores | None = None) -> RunResult:
    """The transactional part of a run: diff against the previous scores, history, scores."""
    level = level_of(scoring_model)
    contact_filter = ""
    with store.transaction():
        if ids is not None:
            contact_filter, keys = _previous_rows(store, level, version.model, ids, stored)
            binds = binds | keys
        t = time.perf_counter()
        make_run_table(store, version, scoring_model, sql, binds, contact_filter)
        phases["query"] = time.perf_counter() - t
        return write_from_run(store, version, scoring_model, when, ids, binds, contact_filter, phases, started,
                              on_written, stored=stored)


#: ``meta`` key marking a model's first (baseline) staged run as under way (``engine.staged``): set
#: with its first part, dropped with its finish or any whole-base run. A baseline run cut short (a
#: crash, a stop) leaves it, so the next run is a baseline too and fires no workflow for the
#: contacts the cut-short run had not reached yet.
BASELINE_KEY = "staged_baseline:"


def baseline_unfinished(con: duckdb.DuckDBPyConnection, model: str) -> bool:
    """Whether a baseline staged run of ``model`` was started and not finished."""
    return con.execute("SELECT count(*) FROM meta WHERE key = ?", [BASELINE_KEY + model]).fetchone() != (0,)


def mark_baseline(con: duckdb.DuckDBPyConnection, model: str, under_way: bool) -> None:
    """Set (``under_way``) or drop the mark, in the caller's transaction."""
    con.execute("DELETE FROM meta WHERE key = ?", [BASELINE_KEY + model])
    if under_way:
        con.execute("INSERT INTO meta VALUES (?, 'under way')", [BASELINE_KEY + model])


#: A run for at most this many ids binds their stored scores' row ids one by one (more: one list; ``_previous_rows``).
ROWID_KEYS = 32


def _previous_rows(store: Store, level: Level, model: str, ids: list[str],
                   stored: StoredScores | None = None) -> tuple[str, dict[str, object]]:
    """The filter that finds these ids' stored scores of ``model``, for reading and replacing them.

    ``scores`` has no index (see ``storage.lookup_index``): finding a contact's row scans a row
    group (~120k rows, pruned by contact order) or the table. A run for a few contacts does that
    once here, for their row ids, and then reads and deletes those rows by ``rowid`` (a direct
    fetch): one scan instead of two; a batch's hundreds of contacts too (their row ids bound as one
    list). Row ids are stable within the transaction (DuckDB moves rows
    only at a checkpoint, which never runs inside one). ``stored`` knows those row ids already when
    the caller read every model's rows of these contacts at once (``engine.stored_scores``).
    """
    where, keys = key_filter(level.key, ids, prefix="sk")
    known = stored.rowids(model, ids) if stored is not None and len(ids) <= ROWID_KEYS else None
    found = known if known is not None else [int(r[0]) for r in store.con.execute(
        f"SELECT rowid FROM {level.scores} WHERE model = $model AND {where}", {"model": model, **keys}).fetchall()]
    if not found:
        return " AND false", {}
    if len(found) > ROWID_KEYS:
        # a batch's contacts: their row ids as one list, which DuckDB joins without another scan
        # of the keys (500 contacts' rows at 1M scores, deleted: 36 -> 5 ms of CPU, measured)
        return " AND rowid IN (SELECT unnest($sr::BIGINT[]))", {"sr": found}
    names = [f"sr{i}" for i in range(len(found))]
    return f" AND rowid IN ({', '.join('$' + n for n in names)})", dict(zip(names, found, strict=True))


def make_run_table(store: Store, version: ModelVersion, scoring_model: AnyModel, sql: str,
                   binds: dict[str, object], prev_filter: str, where: str = "") -> None:
    """``_run``: the scores ``sql`` gives joined with the previous ones (the level's ``scores``
    rows of the model that pass ``prev_filter``), keeping the rows that pass ``where``. A failure
    of ``sql`` is the model's (``ModelRunError``)."""
    level = level_of(scoring_model)
    key = level.key
    con = store.con
    con.execute("DROP TABLE IF EXISTS _run")
    text = f"""CREATE TEMP TABLE _run AS
        SELECT q.{key}, q.score, q.tier, q.grade, {_groups_list_sql(scoring_model)} AS groups,
               p.score AS prev_score, p.tier AS prev_tier
        FROM ({sql}) AS q
        LEFT JOIN (SELECT {key}, score, tier, run_id, as_of, computed_at FROM {level.scores}
                   WHERE model = $model{prev_filter}) AS p
          USING ({key}) {where}"""
    try:
        con.execute(text, used_params(text, binds))
    except _NOT_THE_MODEL:
        raise  # the transaction, the machine or the user: not something to quarantine
    except duckdb.Error as exc:
        raise ModelRunError(version, exc) from exc


def write_from_run(store: Store, version: ModelVersion, scoring_model: AnyModel, when: datetime,
                   ids: list[str] | None, binds: dict[str, object], delete_filter: str,
                   phases: dict[str, float], started: float, on_written: OnWritten | None = None, *,
                   scope: str | None = None, whole: bool = False, fire: bool = True,
                   stored: StoredScores | None = None) -> RunResult:
    """Write what ``_run`` holds: history rows where something changed, the scores of the scope
    (the model's rows passing ``delete_filter`` are replaced), the run record, then the hook.

    ``scope`` names the run in ``score_runs`` (default: all / one / some); ``whole`` tells the hook
    a part of a whole-base run is written (``engine.staged``: its baseline rule applies); ``fire``
    False tells it to fire no workflow (a baseline part); ``stored`` (a run for some contacts) is
    told the rows written.
    """
    run_id = uuid.uuid4().hex
    now = utcnow()
    scope = scope or ("all" if ids is None else ("one" if len(ids) == 1 else "some"))
    con = store.con
    level = level_of(scoring_model)
    key = level.key
    with store.transaction():
        t = time.perf_counter()
        common = [version.model, version.version]
        con.execute(
            f"""INSERT INTO {level.history}
            SELECT ?, {key}, ?, score, tier, grade, groups, prev_score, prev_tier, ?, ?, ?
            FROM _run
            WHERE prev_score IS NULL OR abs(score - prev_score) > {SCORE_EPSILON}
               OR tier IS DISTINCT FROM prev_tier""",
            [*common, when, now, run_id],
        )
        changed = rows_affected(con)
        delete = f"DELETE FROM {level.scores} WHERE model = $model{delete_filter}"
        con.execute(delete, used_params(delete, binds))
        # some contacts' rows go in contact order: a table written so keeps its row groups'
        # min/max narrow, and reading one contact's score skips the others (engine.staged)
        con.execute(
            f"INSERT INTO {level.scores} SELECT ?, {key}, ?, score, tier, grade, groups, ?, ?, ? FROM _run"
            + ("" if ids is None else f" ORDER BY {key}") + ("" if stored is None else f" RETURNING {RETURNED}"),
            [*common, when, now, run_id],
        )
        if stored is not None and ids is not None:  # the rows as stored, for the response (no read-back)
            stored.replaced(version.model, ids, con.fetchall())
        tier_counts: dict[str, int] = {}
        crossings = 0
        for tier, n, crossed in con.execute(
            "SELECT tier, count(*), count(*) FILTER (WHERE tier IS DISTINCT FROM prev_tier) "
            "FROM _run GROUP BY tier"
        ).fetchall():
            tier_counts[tier] = int(n)
            crossings += int(crossed)
        contacts = sum(tier_counts.values())
        con.execute(
            "INSERT INTO score_runs (run_id, model, model_version, scope, as_of, started_at, finished_at, "
            "contacts, changed, crossings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, version.model, version.version, scope, when, now, utcnow(), contacts, changed,
             crossings],
        )
        if ids is None and level is CONTACTS and baseline_unfinished(con, version.model):
            # a whole-base run finishing a baseline staged run that was cut short fires nothing either
            mark_baseline(con, version.model, False)
            fire = False
        if on_written is not None:
            on_written(con, RunContext(run_id, version, scoring_model, when, now, None if whole else ids, fire=fire))
        con.execute("DROP TABLE _run")
        fault_point("score.before_commit")
        phases["write"] = time.perf_counter() - t
    ordered = {name: tier_counts.get(name, 0) for name in scoring_model.tiers}
    return RunResult(run_id, version.model, version.version, when, scope, contacts, changed, crossings,
                     time.perf_counter() - started, ordered, phases, level.name)


def last_as_of(store: Store, model: str) -> datetime | None:
    """The as-of of the model's latest whole-base run in the store: what "the current scores" are as of.

    Runs of an external engine (Spark, Postgres) wrote their scores elsewhere, so they do not count.
    """
    row = store.con.execute(
        "SELECT as_of FROM score_runs WHERE model = ? AND scope = 'all' AND engine = 'duckdb' "
        "ORDER BY started_at DESC LIMIT 1",
        [model],
    ).fetchone()
    return row[0] if row else None


def publish(store: Store, loaded: LoadedModel, file: str | None = None, *,
            published_by: str | None = None) -> ModelVersion:
    """Record a model's text as a new version (returns the latest one if the text is unchanged);
    ``published_by`` names who did (a dashboard user). A version that changes the name's level, or
    that would break an account model reading it, is a ``ModelError`` (``engine.publish_checks``)."""
    from leadscore.engine.publish_checks import check_publishable

    latest = store.latest_version(loaded.model.name)
    if latest is None or latest.hash != loaded.hash:
        check_publishable(store, loaded)
    return store.publish_model(loaded.model.name, loaded.text, loaded.hash, file or loaded.file,
                               list(loaded.model.groups), published_by)
