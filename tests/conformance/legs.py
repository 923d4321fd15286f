"""The engine legs of the conformance suite: one class per engine, the same three methods each.

A leg holds the generated rows in the engine's own tables, with the column types the importer
creates (``TYPES``), and the property history as the store records it (``property_history``,
``tests/history_rows.py``), and runs compiled SQL there in each shape production runs, every
property read as of the instant from that history:

* ``batch``  — the whole-base query without per-rule detail (``leadscore score``);
* ``detail`` — the query with per-rule columns for one contact (``explain``; backtests use it too);
* ``listed`` — the parameterised query, as-of and contacts bound at execution (the real-time path).

To check another engine, write a leg with ``load`` and ``run`` (and ``bind`` for the parameterised
text) and add it to ``LEGS`` in ``conftest.py``; every test of ``suite.py`` then runs on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlglot import exp
from tests.history_rows import HISTORY_COLUMNS, record_history

from leadscore.compiler import compile_model
from leadscore.model.spec import ScoringModel
from leadscore.storage.store import Store, used_params
from leadscore.storage.types import logical_type
from leadscore.timeutil import epoch_micros

Row = dict[str, Any]

#: Every column the generated data has, with a DuckDB type the importer creates (VARCHAR, BIGINT,
#: DOUBLE, BOOLEAN, TIMESTAMP) on contacts and on events.
CONTACT_TYPES: dict[str, str] = {
    "contact_id": "VARCHAR", "email": "VARCHAR", "job_title": "VARCHAR", "company_size": "BIGINT",
    "country": "VARCHAR", "created_at": "TIMESTAMP", "updated_at": "TIMESTAMP", "is_customer": "BOOLEAN",
    "region": "VARCHAR", "seats": "BIGINT", "ratio": "DOUBLE", "trial_ends": "TIMESTAMP",
}
EVENT_TYPES: dict[str, str] = {
    "event_id": "VARCHAR", "contact_id": "VARCHAR", "type": "VARCHAR", "occurred_at": "TIMESTAMP",
    "url": "VARCHAR", "campaign": "VARCHAR", "amount": "DOUBLE", "quantity": "BIGINT", "paid": "BOOLEAN",
    "sent_at": "TIMESTAMP",
}
HISTORY_TYPES: dict[str, str] = {"contact_id": "VARCHAR", "property": "VARCHAR", "old_value": "VARCHAR",
                                 "new_value": "VARCHAR", "changed_at": "TIMESTAMP"}
CONTACT_COLUMNS = {name: logical_type(t) for name, t in CONTACT_TYPES.items()}
EVENT_COLUMNS = {name: logical_type(t) for name, t in EVENT_TYPES.items()}
#: The table every compiled query reads properties as of the instant from.
HISTORY = "property_history"

_RECORDER: list[Store] = []


def recorded(contacts: Sequence[Row], history: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """The contacts and ``property_history`` rows a store holds once ``history`` is recorded
    (contacts at each property's latest value, old values chained): what every leg loads."""
    if not _RECORDER:
        store = Store.open(":memory:")
        store.con.execute("DROP TABLE contacts")
        store.con.execute(f"CREATE TABLE contacts ({', '.join(f'{c} {t}' for c, t in CONTACT_TYPES.items())})")
        _RECORDER.append(store)
    con = _RECORDER[0].con
    con.execute("DELETE FROM contacts")
    con.execute("DELETE FROM property_history")
    _insert(con, "contacts", CONTACT_TYPES, contacts)
    record_history(con, CONTACT_TYPES, history)
    rows = []
    for table, columns in (("contacts", list(CONTACT_TYPES)), (HISTORY, list(HISTORY_COLUMNS))):
        cursor = con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL")
        rows.append([dict(zip(columns, r, strict=True)) for r in cursor.fetchall()])
    return rows[0], rows[1]


def _insert(con: Any, table: str, types: Mapping[str, str], rows: Sequence[Row]) -> None:
    if rows:
        fields = list(types)
        one = "(" + ", ".join("?" for _ in fields) + ")"
        casts = ", ".join(f"CAST(c{i} AS {types[f]})" for i, f in enumerate(fields))
        names = ", ".join(f"c{i}" for i in range(len(fields)))
        values = ", ".join(one for _ in rows)
        con.execute(f"INSERT INTO {table} SELECT {casts} FROM (VALUES {values}) v({names})",
                    [r.get(f) for r in rows for f in fields])


class DuckDBLeg:
    """An in-memory DuckDB store with the typed columns."""

    name = "duckdb"
    sqlglot = "duckdb"

    def __init__(self) -> None:
        self.store = Store.open(":memory:")
        con = self.store.con
        con.execute("DROP VIEW IF EXISTS property_changes")  # a view of the history, rebuilt below
        for table, types in (("contacts", CONTACT_TYPES), ("events", EVENT_TYPES), (HISTORY, HISTORY_TYPES)):
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in types.items())})")

    def load(self, contacts: Sequence[Row], events: Sequence[Row], history: Sequence[Row] = ()) -> None:
        """The rows, with ``history`` recorded (``recorded``)."""
        con = self.store.con
        stored, changes = recorded(contacts, history)
        for table, types, rows in (("contacts", CONTACT_TYPES, stored), ("events", EVENT_TYPES, events),
                                   (HISTORY, HISTORY_TYPES, changes)):
            con.execute(f"DELETE FROM {table}")
            _insert(con, table, types, rows)

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        cursor = self.store.con.execute(sql, dict(params or {}))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def listed(self, model: ScoringModel, as_of: datetime, ids: list[str]) -> list[Row]:
        sql = compile_model(model, as_of=datetime(1970, 1, 1), dialect=self.name, params=True,
                            contact_columns=CONTACT_COLUMNS, event_columns=EVENT_COLUMNS,
                            history_table=HISTORY).sql(dialect=self.sqlglot)
        return self.run(sql, used_params(sql, {"as_of": as_of, "as_of_us": epoch_micros(as_of), "contact_ids": ids}))

    def close(self) -> None:
        self.store.close()


class SparkLeg(DuckDBLeg):
    """A local Spark session (shared by the whole test session: one per JVM)."""

    name = "spark"
    sqlglot = "spark"

    def __init__(self) -> None:
        from leadscore.engine.spark import local_session

        self.spark = local_session("leadscore-conformance", cores=1)

    def load(self, contacts: Sequence[Row], events: Sequence[Row], history: Sequence[Row] = ()) -> None:
        from leadscore.engine.spark import register_rows

        stored, changes = recorded(contacts, history)
        register_rows(self.spark, "contacts", CONTACT_TYPES, stored)
        register_rows(self.spark, "events", EVENT_TYPES, events)
        register_rows(self.spark, HISTORY, HISTORY_TYPES, changes)

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        if params:
            return [row.asDict() for row in self.spark.sql(sql, args=dict(params)).collect()]
        from leadscore.engine.spark import run_sql

        return run_sql(self.spark, sql)

    def listed(self, model: ScoringModel, as_of: datetime, ids: list[str]) -> list[Row]:
        sql = compile_model(model, as_of=datetime(1970, 1, 1), dialect=self.name, params=True,
                            contact_columns=CONTACT_COLUMNS, event_columns=EVENT_COLUMNS,
                            history_table=HISTORY).sql(dialect=self.sqlglot)
        # the instant as text: PySpark would read a naive datetime in the process's local zone
        binds = {"as_of": as_of.isoformat(sep=" "), "as_of_us": epoch_micros(as_of), "contact_ids": ids}
        return self.run(sql, {k: v for k, v in binds.items() if f":{k}" in sql})

    def close(self) -> None:
        """The session stays for the rest of the run."""


#: DuckDB type → Postgres column type of the leg's tables.
PG_TYPES = {"VARCHAR": "text", "BIGINT": "bigint", "DOUBLE": "double precision", "BOOLEAN": "boolean",
            "TIMESTAMP": "timestamp"}
_PG_PARAM_TYPES = {"as_of": "timestamp", "as_of_us": "bigint", "contact_ids": "text[]"}


class PostgresLeg(DuckDBLeg):
    """A database on the test session's PostgreSQL server (``tests/pgserver.py``)."""

    name = "postgres"
    sqlglot = "postgres"

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.con = psycopg.connect(dsn, autocommit=True)
        self.con.execute("SET TIME ZONE 'UTC'")
        for table, types in (("contacts", CONTACT_TYPES), ("events", EVENT_TYPES), (HISTORY, HISTORY_TYPES)):
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
            self.con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {PG_TYPES[t]}' for c, t in types.items())})")
        self._prepared = 0

    def load(self, contacts: Sequence[Row], events: Sequence[Row], history: Sequence[Row] = ()) -> None:
        stored, changes = recorded(contacts, history)
        with self.con.transaction():
            for table, types, rows in (("contacts", CONTACT_TYPES, stored), ("events", EVENT_TYPES, events),
                                       (HISTORY, HISTORY_TYPES, changes)):
                self.con.execute(f"TRUNCATE {table}")
                with self.con.cursor().copy(f"COPY {table} ({', '.join(types)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([row.get(c) for c in types])

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        cursor = self.con.execute(sql, params) if params is not None else self.con.execute(sql)  # type: ignore[arg-type]
        names = [d.name for d in cursor.description or []]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def listed(self, model: ScoringModel, as_of: datetime, ids: list[str]) -> list[Row]:
        """The parameterised text as a server-side prepared statement: its placeholders become
        ``$1..$n`` in the AST (a ``%`` in a literal is then just text), the values are bound by
        ``EXECUTE``."""
        query = compile_model(model, as_of=datetime(1970, 1, 1), dialect=self.name, params=True,
                              contact_columns=CONTACT_COLUMNS, event_columns=EVENT_COLUMNS, history_table=HISTORY)
        order: list[str] = []

        def positional(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Placeholder):
                if node.name not in order:
                    order.append(node.name)
                return exp.var(f"${order.index(node.name) + 1}")
            return node

        text = query.transform(positional).sql(dialect=self.sqlglot)
        self._prepared += 1
        name = f"ls_listed_{self._prepared}"
        types = ", ".join(_PG_PARAM_TYPES[p] for p in order)
        self.con.execute(f"PREPARE {name}{f'({types})' if order else ''} AS {text}")  # type: ignore[arg-type]
        values = {"as_of": as_of, "as_of_us": epoch_micros(as_of), "contact_ids": ids}
        try:  # EXECUTE takes no protocol-level parameters: its arguments go as escaped literals
            import psycopg

            args = ", ".join(f"%s::{_PG_PARAM_TYPES[p]}" for p in order)
            cursor = psycopg.ClientCursor(self.con)
            cursor.execute(f"EXECUTE {name}" + (f"({args})" if order else ""),  # type: ignore[arg-type]
                           [values[p] for p in order])
            names = [d.name for d in cursor.description or []]
            return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        finally:
            self.con.execute(f"DEALLOCATE {name}")  # type: ignore[arg-type]

    def close(self) -> None:
        self.con.close()
