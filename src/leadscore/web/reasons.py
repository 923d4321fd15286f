"""What the leads list shows per row that the stored scores do not hold: who the lead is, the main
reason (the fired rule that moved the score most) and the last activity, for a page at once.

Explaining fifty leads one by one would cost fifty queries, each scanning the events. Instead the
page's contacts and events are read once each, into temporary tables of this request's cursor
holding only the columns the model and the page need (the column list decides the cost of such a
scan more than the row count does), and then:

* the model's detail query (every rule's points, ``detail=True``) runs over those small tables,
  with the as-of and the contacts bound as parameters; each reason is worded by
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
from leadscore.storage.store import ModelVersion, Store, used_params
from leadscore.timeutil import epoch_micros

PAGE_EVENTS = "_ls_page_events"
PAGE_CONTACTS = "_ls_page_contacts"
#: what a row of the list shows about the person
SHOWN = ("contact_id", "first_name", "last_name", "email", "company", "job_title", "owner")
#: the page's contact ids, as a semi-join (DuckDB runs it several times faster than ``IN (SELECT unnest(…))``)
ONLY_IDS = "SEMI JOIN (SELECT unnest($ids) AS contact_id) AS page_ids USING (contact_id)"


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


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def page_details(store: Store, version: ModelVersion, contact_ids: list[str], as_of: datetime, *,
                 shown: tuple[str, ...] = SHOWN) -> PageDetails:
    """Who each contact is (the ``shown`` columns), its main reason and its last activity (absent
    ones are left out)."""
    out = PageDetails()
    if not contact_ids:
        return out
    compiled = _detail_sql(store, version, history_table(store, as_of))
    con, ids = store.con, {"ids": list(contact_ids)}
    columns = sorted(set(compiled.contact_columns) | set(shown))
    # the rows first (their contact_id only), then their columns by row id: reading the wide columns
    # only where the ids matched costs a fraction of scanning them all with the filter (events too:
    # 147 vs 200 ms a page at 20M events, medians of 20 pages on the loaded 2-core VM)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PAGE_CONTACTS} AS SELECT {', '.join(map(_quoted, columns))} "
                f"FROM contacts WHERE rowid IN (SELECT rowid FROM contacts {ONLY_IDS})", ids)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PAGE_EVENTS} AS SELECT "
                f"{', '.join(map(_quoted, compiled.event_columns))} FROM events "
                f"WHERE rowid IN (SELECT rowid FROM events {ONLY_IDS})", ids)  # the same, for events (~25% off)
    try:
        cur = con.execute(f"SELECT {', '.join(map(_quoted, shown))} FROM {PAGE_CONTACTS}")
        out.people = {row[0]: dict(zip(shown, row, strict=True)) for row in cur.fetchall()}
        sql = compiled.sql
        values = {"as_of": as_of, "as_of_us": epoch_micros(as_of), "contact_ids": list(contact_ids)}
        cur = con.execute(sql, used_params(sql, values))
        names = [d[0] for d in cur.description or []]
        rules = list(contact_model(model_of(version)).rules())
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
            f"SELECT contact_id, max(occurred_at) FROM {PAGE_EVENTS} WHERE occurred_at <= $as_of GROUP BY contact_id",
            {"as_of": as_of}).fetchall())
    finally:
        con.execute(f"DROP TABLE IF EXISTS {PAGE_EVENTS}")
        con.execute(f"DROP TABLE IF EXISTS {PAGE_CONTACTS}")
    return out
