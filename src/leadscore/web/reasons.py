"""What the leads list shows per row that the stored scores do not hold: who the lead is, the main
reason (the fired rule that moved the score most) and the last activity, for a page at once.

Explaining fifty leads one by one would cost fifty queries. Instead the page's contacts and events
are read once each, by the server's lookup indexes on ``contact_id`` (``storage.lookup_index``;
without them, as in a CLI process, DuckDB scans), into temporary tables of this request's cursor
holding only the columns the model and the page need, and then:

* the model's detail query (every rule's points, ``detail=True``) runs over those small tables,
  with the as-of and the contacts bound as parameters, once per distinct as-of among the rows
  (each row is explained as of its own stored score: usually one or two instants a page); each reason is worded by
  ``engine.explain.reason_phrase``, the words ``leadscore explain`` prints;
* the last activity is the latest of those events.

The compiled text is cached per model version and store columns, as the real-time path does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlglot import exp

from leadscore.compiler import compile_model
from leadscore.compiler.query import CONTACT_ALIAS, EVENT_ALIAS
from leadscore.engine.explain import RuleExplanation, reason_phrase
from leadscore.engine.run import history_table, model_of
from leadscore.model.loader import contact_model
from leadscore.storage.lookup_index import BOUND_KEYS, key_filter
from leadscore.storage.sql_names import quoted
from leadscore.storage.store import ModelVersion, Store, used_params
from leadscore.timeutil import epoch_micros

PAGE_EVENTS = "_ls_page_events"
PAGE_CONTACTS = "_ls_page_contacts"
#: what a row of the list shows about the person
SHOWN = ("contact_id", "first_name", "last_name", "email", "company", "job_title", "owner")


@dataclass
class PageDetails:
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    last_activity: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    contact_columns: list[str]
    event_columns: list[str]


_SQL: dict[tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], str | None], _Compiled] = {}


def _detail_sql(store: Store, version: ModelVersion, history: str | None = None) -> _Compiled:
    """The detail query reading the page's temporary tables (and, as of an instant some property
    changed after, the property history), and the columns those need."""
    contacts, events = store.scoring_columns()
    key = (version.hash, tuple(contacts.items()), tuple(events.items()), history)
    found = _SQL.get(key)
    if found is None:
        query = compile_model(contact_model(model_of(version)), as_of=datetime(1970, 1, 1), dialect="duckdb",
                              params=True, detail=True, contact_columns=contacts, event_columns=events,
                              contacts_table=PAGE_CONTACTS, events_table=PAGE_EVENTS, history_table=history)
        used = {(c.table, c.name) for c in query.find_all(exp.Column)}
        contact_columns = sorted({n for t, n in used if t == CONTACT_ALIAS and n in contacts} | set(SHOWN)
                                 | ({"created_at"} & set(contacts)))
        event_columns = sorted({n for t, n in used if t == EVENT_ALIAS} | {"contact_id", "type", "occurred_at"})
        found = _Compiled(query.sql(dialect="duckdb"), contact_columns, event_columns)
        if len(_SQL) >= 64:
            _SQL.clear()
        _SQL[key] = found
    return found


def rows_by_keys(table: str, columns: list[str], contact_ids: list[str]) -> tuple[str, dict[str, Any]]:
    """``SELECT columns FROM table`` for these contacts, bound in chunks of ``BOUND_KEYS`` keys
    (``lookup_index.key_filter``): the server's lookup index by contact answers each chunk (a few
    ms), where one list of fifty would make DuckDB scan the table (~150 ms at 20M events)."""
    parts, params = [], {}
    for n, start in enumerate(range(0, len(contact_ids), BOUND_KEYS)):
        where, keys = key_filter("contact_id", contact_ids[start:start + BOUND_KEYS], prefix=f"k{n}_")
        parts.append(f"SELECT {', '.join(map(quoted, columns))} FROM {table} WHERE {where}")
        params.update(keys)
    return " UNION ALL ".join(parts), params


def page_details(store: Store, version: ModelVersion, as_of: dict[str, datetime], *,
                 shown: tuple[str, ...] = SHOWN) -> PageDetails:
    """Who each contact of ``as_of`` is (the ``shown`` columns), its main reason and its last
    activity, each as of the contact's own instant (the as-of of its stored score: one contact
    scored later than the others has its reason from its own score); absent ones are left out."""
    out = PageDetails()
    if not as_of:
        return out
    contact_ids = list(as_of)
    con = store.con
    compiled = {when: _detail_sql(store, version, history_table(store, when)) for when in set(as_of.values())}
    columns = sorted(set().union(*(c.contact_columns for c in compiled.values())) | set(shown))
    event_columns = sorted(set().union(*(c.event_columns for c in compiled.values())))
    sql, params = rows_by_keys("contacts", columns, contact_ids)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PAGE_CONTACTS} AS {sql}", params)
    sql, params = rows_by_keys("events", event_columns, contact_ids)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PAGE_EVENTS} AS {sql}", params)
    try:
        cur = con.execute(f"SELECT {', '.join(map(quoted, shown))} FROM {PAGE_CONTACTS}")
        out.people = {row[0]: dict(zip(shown, row, strict=True)) for row in cur.fetchall()}
        rules = list(contact_model(model_of(version)).rules())
        for when, query in compiled.items():
            ids = [cid for cid, t in as_of.items() if t == when]
            values = {"as_of": when, "as_of_us": epoch_micros(when), "contact_ids": ids}
            cur = con.execute(query.sql, used_params(query.sql, values))
            names = [d[0] for d in cur.description or []]
            for row in cur.fetchall():
                got: dict[str, Any] = dict(zip(names, row, strict=True))
                best: RuleExplanation | None = None
                for i, (group, rule) in enumerate(rules):
                    points = float(got[f"r_{i}"] or 0.0)
                    if got[f"rf_{i}"] and points and (best is None or abs(points) > abs(best.points)):
                        best = RuleExplanation(group, rule.name, True, points, float(got[f"rraw_{i}"] or 0.0),
                                               got[f"rn_{i}"])
                if best is not None:
                    out.reasons[got["contact_id"]] = reason_phrase(best)
        out.last_activity = dict(con.execute(
            f"""SELECT e.contact_id, max(e.occurred_at) FROM {PAGE_EVENTS} AS e
                JOIN (SELECT unnest($ids) AS contact_id, unnest($as_of) AS as_of) AS t USING (contact_id)
                WHERE e.occurred_at <= t.as_of GROUP BY e.contact_id""",
            {"ids": contact_ids, "as_of": [as_of[c] for c in contact_ids]}).fetchall())
    finally:
        con.execute(f"DROP TABLE IF EXISTS {PAGE_EVENTS}")
        con.execute(f"DROP TABLE IF EXISTS {PAGE_CONTACTS}")
    return out
