"""The leads list's display table: one row per contact model and scored contact, holding what the
list sorts, filters and shows without reading anything else.

Why: "My leads" at 1M contacts / 20M events spent its time outside ``scores`` — "moved up this
week" compared every contact with its own score a week before its own as-of (a 1M x history join,
~2.5 s), a search ran ILIKE over three columns of 1M contacts, a rep's list semi-joined
``contacts.owner``. ``lead_rows`` keeps, per (model, contact): the stored score, tier and as-of,
``week_score`` (the latest history score at or before as-of minus 7 days: NULL when not scored
then), the contact's ``owner``, ``search`` (the lowered "first last", e-mail and company, separated
by ``\\x1f``), ``ids`` (``\\x1f``-delimited contact id and id columns, matched exactly), and the
predicted ``priority`` and ``probability`` of the predictive model whose predictions were written
last (``LATEST_PREDICTIVE``, what the list shows; NULL before ``leadscore predict``), so the list
sorts and filters by priority without joining a million predictions per request.

Kept right in the transactions that change its sources, so it never disagrees with them:

* scores: ``write_rows`` runs as a score run's ``on_written`` hook (``leadscore.scoring``), for
  whole-base runs, staged parts and partial (real-time) runs, from the run's ``_run`` table; a row's
  ``week_score`` is read from history then (the run's own history rows are later than the week);
  ``drop_unscored`` removes the rows of contacts a staged run dropped.
* predictions: ``write_priorities`` rewrites every row's priority in the transaction that writes a
  contact prediction run (``predictive.predict.write_predictions``); a score run keeps a contact's
  priority (read back from the row it replaces, or from ``predictions`` for a contact new to the
  table).
* contacts: ``refresh_people`` rewrites owner / search / ids for contacts whose properties were
  written without a score run for them (imports, property history, workflow ``set``, the API).

``rebuild`` recomputes it from ``scores``, ``score_history``, ``contacts`` and ``predictions`` (a
repair; the tests' oracle: the table must always equal ``expected_sql``'s rows). Migration 11
created it without the two prediction columns; ``add_priorities`` (migration 13) adds and fills them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

import duckdb

from leadscore.storage.lookup_index import BOUND_KEYS, key_filter
from leadscore.storage.sql_names import quoted

TABLE = "lead_rows"
#: "the change over 7 days" compares a score with the one stored this long before its own as-of
WEEK = timedelta(days=7)
#: contact columns a search matches exactly, besides contact_id: prospect_id, lead_number, hubspot_id...
ID_COLUMN = re.compile(r"(^|_)(id|number|no|key)$")
#: separates the fields of ``search`` and ``ids`` (no one types it in a search box)
SEP = "\x1f"

#: the table as migration 11 created it (``add_priorities`` adds ``priority`` and ``probability``)
CREATE = f"""CREATE TABLE {TABLE} (
    model VARCHAR NOT NULL, contact_id VARCHAR NOT NULL, score DOUBLE NOT NULL, tier VARCHAR NOT NULL,
    as_of TIMESTAMP NOT NULL, week_score DOUBLE, owner VARCHAR, search VARCHAR, ids VARCHAR
)"""
#: the table's columns today, in order
COLUMNS = "model, contact_id, score, tier, as_of, week_score, owner, search, ids, priority, probability"
#: the predictive model the list shows: the one whose contact predictions were written last
LATEST_PREDICTIVE = "(SELECT model FROM prediction_runs ORDER BY computed_at DESC, model LIMIT 1)"
#: the latest predictive model's predictions (``contact_id``, ``priority``, ``probability``)
PREDICTED = f"SELECT contact_id, priority, probability FROM predictions WHERE model = {LATEST_PREDICTIVE}"


#: set by ``lead_rows_later.deferring`` (the server's writer): a partial run's contacts are marked
#: through it, in the run's transaction, and their rows rewritten moments later in bulk
LATER: ContextVar[Callable[[duckdb.DuckDBPyConnection, list[str]], None] | None] = ContextVar(
    "lead_rows_later", default=None)


def contact_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                       "AND schema_name = 'main' AND table_name = 'contacts' ORDER BY column_index").fetchall()
    return [str(r[0]) for r in rows]


def id_columns(columns: list[str]) -> list[str]:
    """The contact columns a search matches exactly besides ``contact_id``."""
    return [c for c in columns if c != "contact_id" and ID_COLUMN.search(c)]


#: the contact columns a row holds (besides id columns)
PEOPLE_COLUMNS = frozenset({"owner", "first_name", "last_name", "email", "company"})


def shown(columns: Iterable[str]) -> bool:
    """Whether writing these contact columns changes what a row holds (``refresh_people``)."""
    return any(c in PEOPLE_COLUMNS or ID_COLUMN.search(c) for c in columns)


def _people(con: duckdb.DuckDBPyConnection, alias: str = "c") -> tuple[str, list[str]]:
    """owner, search and ids of the contact ``alias`` (columns the store lacks are NULL), and the
    contact columns that reads."""
    columns = set(contact_columns(con))
    used = ["contact_id", *(c for c in sorted(PEOPLE_COLUMNS) if c in columns), *id_columns(sorted(columns))]

    def col(name: str) -> str:
        return f"{alias}.{quoted(name)}" if name in columns else "NULL::VARCHAR"

    name = f"concat_ws(' ', {col('first_name')}, {col('last_name')})"
    ids = ", ".join([f"{alias}.contact_id",
                     *(f"CAST({alias}.{quoted(c)} AS VARCHAR)" for c in id_columns(sorted(columns)))])
    return (f"{col('owner')} AS owner, "
            f"lower(concat_ws(chr(31), {name}, {col('email')}, {col('company')})) AS search, "
            f"chr(31) || concat_ws(chr(31), {ids}) || chr(31) AS ids"), used


def expected_sql(con: duckdb.DuckDBPyConnection, *, priorities: bool = True, scope: str | None = None) -> str:
    """Every row the table should hold, recomputed from its sources (``rebuild``, the tests);
    without ``priorities``, the columns of migration 11; with ``scope`` (a table with a
    ``contact_id`` column), the rows of those contacts only (``lead_rows_later.refresh``)."""
    keys = None if scope is None else f"contact_id IN (SELECT contact_id FROM {scope})"

    def only(table: str) -> str:
        return table if keys is None else f"(SELECT * FROM {table} WHERE {keys})"

    predicted = ", p.priority, p.probability" if priorities else ""
    mine = "" if keys is None else f" AND {keys}"
    joined = f"LEFT JOIN ({PREDICTED}{mine}) AS p ON p.contact_id = s.contact_id" if priorities else ""
    return f"""SELECT s.model, s.contact_id, s.score, s.tier, s.as_of, w.week_score, {_people(con)[0]}{predicted}
        FROM {only("scores")} AS s
        LEFT JOIN (SELECT s2.model, s2.contact_id,
                          arg_max(h.score, (h.as_of, h.computed_at)) AS week_score
                   FROM {only("scores")} AS s2 JOIN {only("score_history")} AS h
                     ON h.model = s2.model AND h.contact_id = s2.contact_id AND h.as_of <= s2.as_of - INTERVAL 7 DAY
                   GROUP BY s2.model, s2.contact_id) AS w USING (model, contact_id)
        LEFT JOIN {only("contacts")} AS c ON c.contact_id = s.contact_id
        {joined}"""


def rebuild(con: duckdb.DuckDBPyConnection) -> None:
    """Fill the table from scratch (a repair), in the caller's transaction."""
    con.execute(f"DELETE FROM {TABLE}")
    con.execute(f"INSERT INTO {TABLE} ({COLUMNS}) {expected_sql(con)} ORDER BY model, contact_id")


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Migration 11: create and fill the table (as it was then: no prediction columns)."""
    con.execute(CREATE)
    con.execute(f"INSERT INTO {TABLE} {expected_sql(con, priorities=False)} ORDER BY model, contact_id")


def add_priorities(con: duckdb.DuckDBPyConnection) -> None:
    """Migration 13: the predicted priority and probability, filled from the latest predictions."""
    con.execute(f"ALTER TABLE {TABLE} ADD COLUMN priority VARCHAR")
    con.execute(f"ALTER TABLE {TABLE} ADD COLUMN probability DOUBLE")
    write_priorities(con)


def write_priorities(con: duckdb.DuckDBPyConnection) -> None:
    """Set every row's priority and probability to the latest predictive model's (NULL for a
    contact it did not predict), in the caller's transaction: the one that wrote the predictions
    (~0.6 s for 1M rows)."""
    con.execute(f"""UPDATE {TABLE} AS d SET priority = p.priority, probability = p.probability
        FROM ({PREDICTED}) AS p
        WHERE d.contact_id = p.contact_id
          AND (d.priority IS DISTINCT FROM p.priority OR d.probability IS DISTINCT FROM p.probability)""")
    con.execute(f"""UPDATE {TABLE} SET priority = NULL, probability = NULL
        WHERE (priority IS NOT NULL OR probability IS NOT NULL)
          AND contact_id NOT IN (SELECT contact_id FROM ({PREDICTED}))""")


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def write_rows(con: duckdb.DuckDBPyConnection, model: str, as_of: datetime, ids: list[str] | None) -> None:
    """Replace the rows of the contacts a run of ``model`` just wrote (``_run``, see
    ``engine.run.RunContext``): ``ids`` for a partial run, None for a whole-base run or a part of a
    staged one.

    Up to ``BOUND_KEYS`` contacts are read by key, each table alone (the server's lookup indexes
    answer ``contact_id IN ($k0, ...)`` only when nothing else filters or joins the table: with the
    model and as-of in the same query DuckDB scanned 1.6M history rows, ~27 ms, instead of ~1.5 ms):
    a real-time write adds a delete, a read of its contacts' history and an insert. More are joined.
    Under ``lead_rows_later.deferring`` a partial run only marks its contacts (``LATER``)."""
    later = LATER.get()
    if later is not None and ids:
        later(con, ids)
        return
    people, used = _people(con)
    whole = False
    if ids is None:
        n = _count(con, "SELECT count(*) FROM _run")
        # _run holds every stored score of the model: a whole-base run (or a one-part staged run)
        whole = n == _count(con, "SELECT count(*) FROM scores WHERE model = $m", {"m": model})
        if n <= BOUND_KEYS and not whole:
            ids = [str(r[0]) for r in con.execute("SELECT contact_id FROM _run").fetchall()]
    if ids is not None and len(ids) <= BOUND_KEYS:
        _write_by_key(con, model, as_of, ids, people, used)
        return
    params: dict[str, Any] = {"m": model, "as_of": as_of, "week": as_of - WEEK}
    if whole:
        con.execute(f"DELETE FROM {TABLE} WHERE model = $m", {"m": model})
    elif ids is not None:
        # every requested contact, as the run deleted their scores (engine.run._previous_rows): one
        # the model no longer scores (created after the as-of) is in no ``_run`` row
        con.execute(f"DELETE FROM {TABLE} WHERE model = $m AND contact_id IN (SELECT unnest($ids::VARCHAR[]))",
                    {"m": model, "ids": ids})
    else:
        con.execute(f"DELETE FROM {TABLE} WHERE model = $m AND contact_id IN (SELECT contact_id FROM _run)",
                    {"m": model})
    scope = "" if whole else " AND contact_id IN (SELECT contact_id FROM _run)"
    sql = f"""INSERT INTO {TABLE} ({COLUMNS})
        SELECT $m, r.contact_id, r.score, r.tier, $as_of, w.week_score, {people}, p.priority, p.probability
        FROM _run AS r
        LEFT JOIN (SELECT contact_id, arg_max(score, (as_of, computed_at)) AS week_score
                   FROM score_history WHERE model = $m AND as_of <= $week{scope}
                   GROUP BY contact_id) AS w ON w.contact_id = r.contact_id
        LEFT JOIN (SELECT {", ".join(map(quoted, used))} FROM contacts{scope.replace(" AND", " WHERE")}) AS c
          ON c.contact_id = r.contact_id
        LEFT JOIN ({PREDICTED}{scope}) AS p ON p.contact_id = r.contact_id
        ORDER BY r.contact_id"""  # kept in contact order: a real-time delete prunes row groups
    con.execute(sql, params)


def _write_by_key(con: duckdb.DuckDBPyConnection, model: str, as_of: datetime, ids: list[str], people: str,
                  used: list[str]) -> None:
    keys, bound = key_filter("contact_id", ids, prefix="lr")
    # the rows' predictions carry over (``write_priorities`` keeps them current); a contact new to
    # the table reads its own, if it has one
    predicted = {r[0]: (r[1], r[2]) for r in con.execute(
        f"DELETE FROM {TABLE} WHERE model = $m AND {keys} RETURNING contact_id, priority, probability",
        {"m": model, **bound}).fetchall()}
    new = [i for i in ids if i not in predicted]
    if new:
        fresh, more = key_filter("contact_id", new, prefix="lp")
        predicted.update({r[0]: (r[1], r[2]) for r in con.execute(f"{PREDICTED} AND {fresh}", more).fetchall()})
    week = as_of - WEEK
    latest: dict[str, tuple[tuple[datetime, datetime], float]] = {}
    for cid, m, score, at, computed in con.execute(
            f"SELECT contact_id, model, score, as_of, computed_at FROM score_history WHERE {keys}", bound).fetchall():
        if m == model and at <= week and (cid not in latest or (at, computed) > latest[cid][0]):
            latest[cid] = ((at, computed), float(score))
    con.execute(f"""INSERT INTO {TABLE} ({COLUMNS})
        SELECT $m, r.contact_id, r.score, r.tier, $as_of, w.week_score, {people}, p.priority, p.probability
        FROM _run AS r
        LEFT JOIN (SELECT unnest($w_ids::VARCHAR[]) AS contact_id, unnest($w_scores::DOUBLE[]) AS week_score) AS w
          ON w.contact_id = r.contact_id
        LEFT JOIN (SELECT {", ".join(map(quoted, used))} FROM contacts WHERE {keys}) AS c
          ON c.contact_id = r.contact_id
        LEFT JOIN (SELECT unnest($p_ids::VARCHAR[]) AS contact_id, unnest($p_priority::VARCHAR[]) AS priority,
                          unnest($p_probability::DOUBLE[]) AS probability) AS p ON p.contact_id = r.contact_id""",
                {"m": model, "as_of": as_of, "w_ids": list(latest), "w_scores": [v for _, v in latest.values()],
                 "p_ids": list(predicted), "p_priority": [v[0] for v in predicted.values()],
                 "p_probability": [v[1] for v in predicted.values()], **bound})


def drop_unscored(con: duckdb.DuckDBPyConnection, model: str) -> None:
    """Remove the rows of contacts that no longer have a stored score of ``model`` (a staged run
    drops the scores of contacts it did not score)."""
    con.execute(f"""DELETE FROM {TABLE} WHERE model = $m AND contact_id NOT IN
                    (SELECT contact_id FROM scores WHERE model = $m)""", {"m": model})


def refresh_people(con: duckdb.DuckDBPyConnection, ids: list[str] | None = None, *,
                   ids_sql: str | None = None) -> None:
    """Rewrite owner / search / ids of these contacts' rows from ``contacts`` (all rows when neither
    ``ids`` nor ``ids_sql``, a query of contact ids, is given), in the caller's transaction: a
    property write that no score run follows must still move a lead to its new owner's list.
    A few ``ids`` (one contact's API write) are read by key alone, so the lookup index answers."""
    people, _ = _people(con)
    changed = """d.owner IS DISTINCT FROM p.owner OR d.search IS DISTINCT FROM p.search
                 OR d.ids IS DISTINCT FROM p.ids"""
    if ids is not None and len(ids) <= BOUND_KEYS:
        if not ids:
            return
        where, keys = key_filter("contact_id", ids, prefix="rp")
        rows = con.execute(f"SELECT c.contact_id, {people} FROM contacts AS c WHERE {where}", keys).fetchall()
        if not rows:
            return
        values = {name: [r[i] for r in rows] for i, name in enumerate(("p_ids", "p_owner", "p_search", "p_key"))}
        con.execute(f"""UPDATE {TABLE} AS d SET owner = p.owner, search = p.search, ids = p.ids
            FROM (SELECT unnest($p_ids::VARCHAR[]) AS contact_id, unnest($p_owner::VARCHAR[]) AS owner,
                         unnest($p_search::VARCHAR[]) AS search, unnest($p_key::VARCHAR[]) AS ids) AS p
            WHERE d.{where} AND d.contact_id = p.contact_id AND ({changed})""", {**keys, **values})
        return
    if ids is not None:
        source = "(SELECT * FROM contacts WHERE contact_id IN (SELECT unnest($p_all::VARCHAR[])))"
    elif ids_sql is not None:
        source = f"(SELECT * FROM contacts WHERE contact_id IN ({ids_sql}))"
    else:
        source = "contacts"
    con.execute(f"""UPDATE {TABLE} AS d SET owner = p.owner, search = p.search, ids = p.ids
        FROM (SELECT c.contact_id, {people} FROM {source} AS c) AS p
        WHERE d.contact_id = p.contact_id AND ({changed})""", {"p_all": ids} if ids is not None else {})
