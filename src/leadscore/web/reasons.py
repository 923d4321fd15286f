"""The one-line reason of each lead on a page: the fired rule that moved its score most.

A page of the leads list needs the main reason of fifty contacts. Explaining them one by one
costs a query each; here the model's detail query (every rule's points, ``detail=True``) runs
once for the page's contacts, with the as-of and the contacts bound as parameters, and each
reason is worded by ``engine.explain.reason_phrase``, the same words ``leadscore explain`` prints.
The compiled text is cached per model version and store columns, as the real-time path does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadscore.compiler import compile_model
from leadscore.engine.explain import RuleExplanation, reason_phrase
from leadscore.engine.run import model_of
from leadscore.storage.store import ModelVersion, Store, used_params
from leadscore.timeutil import epoch_micros

_SQL: dict[tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]], str] = {}


def _detail_sql(store: Store, version: ModelVersion) -> str:
    contacts, events = store.scoring_columns()
    key = (version.hash, tuple(contacts.items()), tuple(events.items()))
    sql = _SQL.get(key)
    if sql is None:
        sql = compile_model(model_of(version), as_of=datetime(1970, 1, 1), dialect="duckdb", params=True,
                            detail=True, contact_columns=contacts, event_columns=events).sql(dialect="duckdb")
        if len(_SQL) >= 64:
            _SQL.clear()
        _SQL[key] = sql
    return sql


def top_reasons(store: Store, version: ModelVersion, contact_ids: list[str], as_of: datetime) -> dict[str, str]:
    """Contact id → its main reason (contacts where no rule fired with points are left out)."""
    if not contact_ids:
        return {}
    sql = _detail_sql(store, version)
    values = {"as_of": as_of, "as_of_us": epoch_micros(as_of), "contact_ids": list(contact_ids)}
    cur = store.con.execute(sql, used_params(sql, values))
    names = [d[0] for d in cur.description or []]
    rules = list(model_of(version).rules())
    out: dict[str, str] = {}
    for row in cur.fetchall():
        got: dict[str, Any] = dict(zip(names, row, strict=True))
        best: RuleExplanation | None = None
        for i, (group, rule) in enumerate(rules):
            points = float(got[f"r_{i}"] or 0.0)
            if got[f"rf_{i}"] and points and (best is None or abs(points) > abs(best.points)):
                best = RuleExplanation(group, rule.name, True, points, float(got[f"rraw_{i}"] or 0.0), got[f"rn_{i}"])
        if best is not None:
            out[got["contact_id"]] = reason_phrase(best)
    return out
