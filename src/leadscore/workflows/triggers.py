"""Which contacts a workflow fires for in a score run: crossings, ``if`` conditions, cooldowns.

Everything is SQL over the run's temporary table ``_run`` (``contact_id, score, tier, grade,
groups, prev_score, prev_tier``; see ``engine.run.RunContext``), so a whole-base run of a million
contacts evaluates a workflow in a few set operations, never a Python loop per contact. The
result is the temporary table ``_wf_fired`` (the ``_run`` columns of the contacts it fires for).

Triggers fire on a crossing, not a level. A contact's first score comes from "no score", which is
below every threshold and in no tier: it can *enter* a tier or go *above* a score, never leave
one, go below one, or change by D. One exception keeps a first publish from flooding receivers:
a whole-base run in which no contact had a previous score (the model's baseline run) fires
nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import duckdb

from leadscore.compiler import compile_model
from leadscore.engine.run import SCORE_EPSILON  # score moves compared with the engine's own slack
from leadscore.model.account_spec import AccountModel
from leadscore.model.conditions import Condition
from leadscore.model.spec import ScoringModel
from leadscore.model.workflow_spec import Trigger, Workflow
from leadscore.storage.store import used_params
from leadscore.timeutil import epoch_micros

FIRED = "_wf_fired"

#: Up to this many fired contacts, an ``if:`` condition is evaluated for them alone (see
#: ``_apply_condition``).
RESTRICT_LIMIT = 5000

#: (condition hash, contact columns, event columns) → the condition's parameterised SQL (see
#: ``condition_sql``); bounded like ``engine.run``'s cache of model SQL.
_CONDITION_SQL: dict[tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]], str] = {}
_CONDITION_SQL_LIMIT = 64


def crossing_sql(trigger: Trigger, key: str = "") -> tuple[str, dict[str, Any]]:
    """The trigger as a boolean over ``_run`` (alias ``r``), with its named parameters.

    ``key`` suffixes the parameter names, so several triggers can share one statement.
    """
    t, s, d = f"t{key}", f"s{key}", f"d{key}"
    if trigger.enters_tier is not None:
        return f"r.tier = ${t} AND r.prev_tier IS DISTINCT FROM ${t}", {t: trigger.enters_tier}
    if trigger.leaves_tier is not None:
        return f"r.prev_tier = ${t} AND r.tier <> ${t}", {t: trigger.leaves_tier}
    if trigger.score_above is not None:
        return f"r.score > ${s} AND (r.prev_score IS NULL OR r.prev_score <= ${s})", {s: trigger.score_above}
    if trigger.score_below is not None:
        return f"r.score < ${s} AND r.prev_score >= ${s}", {s: trigger.score_below}
    if trigger.score_changed_by is not None:
        return f"abs(r.score - r.prev_score) >= ${d}", {d: trigger.score_changed_by - SCORE_EPSILON}
    raise AssertionError("a validated trigger has exactly one key")


def crossed_workflows(con: duckdb.DuckDBPyConnection, model: ScoringModel | AccountModel) -> list[int]:
    """Indexes of the workflows whose trigger holds for at least one contact of the run.

    One aggregate over ``_run`` for all workflows: on the real-time path (one contact, usually
    no crossing) this is the whole cost of having workflows.
    """
    parts, params = [], {}
    triggers: list[Trigger] = [w.on for w in model.workflows]
    for i, trigger in enumerate(triggers):
        test, p = crossing_sql(trigger, str(i))
        parts.append(f"bool_or({test})")
        params.update(p)
    row = con.execute(f"SELECT {', '.join(parts)} FROM _run AS r", params).fetchone()
    return [i for i, hit in enumerate(row or []) if hit]


def is_baseline_run(con: duckdb.DuckDBPyConnection, whole_base: bool) -> bool:
    """A whole-base run where nobody had a score before: the model's first scoring fires nothing."""
    if not whole_base:
        return False
    row = con.execute("SELECT count(*) FILTER (WHERE prev_score IS NOT NULL), count(*) FROM _run").fetchone()
    return bool(row and row[1] and not row[0])


def select_fired(con: duckdb.DuckDBPyConnection, model: ScoringModel, workflow: Workflow, *,
                 now: datetime, as_of: datetime, contact_columns: dict[str, str],
                 event_columns: dict[str, str]) -> int:
    """Fill ``_wf_fired`` with the contacts ``workflow`` fires for; returns how many."""
    test, params = crossing_sql(workflow.on)
    where = [test]
    if workflow.cooldown_hours:
        where.append(
            "NOT EXISTS (SELECT 1 FROM workflow_state s WHERE s.model = $model AND s.workflow = $wf "
            "AND s.contact_id = r.contact_id AND s.last_fired_at > $since)"
        )
        params.update(model=model.name, wf=workflow.name,
                      since=now - timedelta(hours=workflow.cooldown_hours))
    con.execute(f"DROP TABLE IF EXISTS {FIRED}")
    con.execute(f"CREATE TEMP TABLE {FIRED} AS SELECT r.* FROM _run r WHERE {' AND '.join(where)}", params)
    count = _count(con)
    if count and workflow.if_ is not None:
        count = _apply_condition(con, workflow.if_, as_of, contact_columns, event_columns, count)
    return count


def record_fired(con: duckdb.DuckDBPyConnection, model: str, workflow: Workflow, now: datetime) -> None:
    """Remember when the workflow fired for each contact (only cooldowns read it)."""
    if not workflow.cooldown_hours:
        return
    con.execute(
        f"""INSERT INTO workflow_state SELECT $model, $wf, contact_id, $now FROM {FIRED}
        ON CONFLICT (model, workflow, contact_id) DO UPDATE SET last_fired_at = excluded.last_fired_at""",
        {"model": model, "wf": workflow.name, "now": now},
    )


def condition_model(cond: Condition) -> ScoringModel:
    """A one-rule model worth 1 point exactly when ``cond`` holds.

    Reusing the compiler this way gives workflow ``if:`` conditions and segments the full model
    language (properties, events, inactivity, all/any/not) with the scoring semantics, for free.
    """
    return ScoringModel.model_validate({
        "name": "condition", "tiers": {"no": 0, "yes": 0.5},
        "groups": {"condition": {"rules": [{"name": "holds", "when": cond, "points": 1}]}},
    })


def condition_sql(cond: Condition, as_of: datetime, contact_columns: dict[str, str],
                  event_columns: dict[str, str], *, restricted: bool) -> str:
    """SQL listing the ``contact_id`` of contacts for which ``cond`` holds as of ``as_of``.

    With ``restricted`` the query reads only the contacts of the list parameter ``$contact_ids``
    (and binds ``$as_of`` / ``$as_of_us``): the cost follows the fired contacts, not the base.
    That text depends on neither, so it is compiled once per condition and store columns and
    cached: a real-time rescore that fires a workflow pays no compile (~10 ms for a two-leaf
    condition). An import that adds or retypes a column changes the key and compiles anew. The
    unrestricted form has the as-of as a literal and is compiled each time (a whole-base pass
    costs far more anyway).
    """
    if not restricted:
        return _compile_condition(cond, as_of, contact_columns, event_columns, params=False)
    key = (condition_hash(cond), tuple(contact_columns.items()), tuple(event_columns.items()))
    sql = _CONDITION_SQL.get(key)
    if sql is None:
        sql = _compile_condition(cond, as_of, contact_columns, event_columns, params=True)
        if len(_CONDITION_SQL) >= _CONDITION_SQL_LIMIT:
            _CONDITION_SQL.clear()
        _CONDITION_SQL[key] = sql
    return sql


def condition_hash(cond: Condition) -> str:
    """A digest of everything in ``cond`` that reaches its SQL (all of its fields)."""
    return hashlib.sha256(cond.model_dump_json(by_alias=True).encode()).hexdigest()


def _compile_condition(cond: Condition, as_of: datetime, contact_columns: dict[str, str],
                       event_columns: dict[str, str], *, params: bool) -> str:
    query = compile_model(condition_model(cond), as_of=as_of, dialect="duckdb", params=params,
                          contact_columns=contact_columns, event_columns=event_columns)
    return f"SELECT contact_id FROM ({query.sql(dialect='duckdb')}) AS cq WHERE cq.score > 0.5"


def _apply_condition(con: duckdb.DuckDBPyConnection, cond: Condition, as_of: datetime,
                     contact_columns: dict[str, str], event_columns: dict[str, str], fired: int) -> int:
    """Keep in ``_wf_fired`` only the contacts for which ``cond`` holds.

    Few fired contacts (the real-time path, an hourly rerun): the condition reads only them, their
    ids bound as a list. Many (a big rerun): one pass over the base beats binding a huge list.
    """
    restricted = fired <= RESTRICT_LIMIT
    sql = condition_sql(cond, as_of, contact_columns, event_columns, restricted=restricted)
    params: dict[str, Any] = {}
    if restricted:
        ids = [r[0] for r in con.execute(f"SELECT contact_id FROM {FIRED}").fetchall()]
        params = used_params(sql, {"as_of": as_of, "as_of_us": epoch_micros(as_of), "contact_ids": ids})
    con.execute(f"DELETE FROM {FIRED} WHERE contact_id NOT IN ({sql})", params)
    return _count(con, f"SELECT count(*) FROM {FIRED}")


def _count(con: duckdb.DuckDBPyConnection, sql: str | None = None) -> int:
    row = con.execute(sql).fetchone() if sql else con.execute(f"SELECT count(*) FROM {FIRED}").fetchone()
    return int(row[0]) if row else 0
