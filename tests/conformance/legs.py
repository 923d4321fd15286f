"""The engine legs of the conformance suite: one class per engine, the same three methods each.

A leg holds the generated rows in the engine's own tables, with the column types the importer
creates (``TYPES``), and runs compiled SQL there in each shape production runs:

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
CONTACT_COLUMNS = {name: logical_type(t) for name, t in CONTACT_TYPES.items()}
EVENT_COLUMNS = {name: logical_type(t) for name, t in EVENT_TYPES.items()}


class DuckDBLeg:
    """An in-memory DuckDB store with the typed columns."""

    name = "duckdb"
    sqlglot = "duckdb"

    def __init__(self) -> None:
        self.store = Store.open(":memory:")
        con = self.store.con
        for table, types in (("contacts", CONTACT_TYPES), ("events", EVENT_TYPES)):
            con.execute(f"DROP TABLE {table}")
            con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in types.items())})")

    def load(self, contacts: Sequence[Row], events: Sequence[Row]) -> None:
        con = self.store.con
        for table, types, rows in (("contacts", CONTACT_TYPES, contacts), ("events", EVENT_TYPES, events)):
            con.execute(f"DELETE FROM {table}")
            if rows:
                fields = list(types)
                one = "(" + ", ".join("?" for _ in fields) + ")"
                casts = ", ".join(f"CAST(c{i} AS {types[f]})" for i, f in enumerate(fields))
                names = ", ".join(f"c{i}" for i in range(len(fields)))
                values = ", ".join(one for _ in rows)
                con.execute(f"INSERT INTO {table} SELECT {casts} FROM (VALUES {values}) v({names})",
                            [r.get(f) for r in rows for f in fields])

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        cursor = self.store.con.execute(sql, dict(params or {}))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def listed(self, model: ScoringModel, as_of: datetime, ids: list[str]) -> list[Row]:
        sql = compile_model(model, as_of=datetime(1970, 1, 1), dialect=self.name, params=True,
                            contact_columns=CONTACT_COLUMNS, event_columns=EVENT_COLUMNS).sql(dialect=self.sqlglot)
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

    def load(self, contacts: Sequence[Row], events: Sequence[Row]) -> None:
        from leadscore.engine.spark import register_rows

        register_rows(self.spark, "contacts", CONTACT_TYPES, contacts)
        register_rows(self.spark, "events", EVENT_TYPES, events)

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        if params:
            return [row.asDict() for row in self.spark.sql(sql, args=dict(params)).collect()]
        from leadscore.engine.spark import run_sql

        return run_sql(self.spark, sql)

    def listed(self, model: ScoringModel, as_of: datetime, ids: list[str]) -> list[Row]:
        sql = compile_model(model, as_of=datetime(1970, 1, 1), dialect=self.name, params=True,
                            contact_columns=CONTACT_COLUMNS, event_columns=EVENT_COLUMNS).sql(dialect=self.sqlglot)
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
        for table, types in (("contacts", CONTACT_TYPES), ("events", EVENT_TYPES)):
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
            self.con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {PG_TYPES[t]}' for c, t in types.items())})")
        self._prepared = 0

    def load(self, contacts: Sequence[Row], events: Sequence[Row]) -> None:
        with self.con.transaction():
            for table, types, rows in (("contacts", CONTACT_TYPES, contacts), ("events", EVENT_TYPES, events)):
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
                              contact_columns=CONTACT_COLUMNS, event_columns=EVENT_COLUMNS)
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
