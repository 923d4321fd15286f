"""What the API reads: a contact with its scores and prediction, its history, pages of scores.

Reads run on a per-thread cursor (never the writer's connection) and see committed data only.
Pages of scores use keyset pagination (``api/cursors.py``): the page cursor holds the last row's
sort key (score, contact_id), so a contact whose score changes mid-walk may show on two pages or
none (it moved), while rows that did not move are never skipped or repeated.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from leadscore.api.cursors import SCORE_POSITION, decode_cursor, next_page
from leadscore.engine.lookup import checked_model, checked_tier
from leadscore.engine.stored_scores import SCORE_COLUMNS, StoredScores
from leadscore.errors import NotFoundError
from leadscore.storage.history import contact_history
from leadscore.storage.store import Store

MAX_PAGE = 1000


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


#: (store path, model, version) → group names; a published version never changes
_GROUP_NAMES: dict[tuple[str, str, int], list[str]] = {}


def _group_names(store: Store, model: str, version: int) -> list[str]:
    key = (store.path, model, version)
    names = _GROUP_NAMES.get(key)
    if names is None:
        row = store.con.execute("SELECT group_names FROM model_versions WHERE model = ? AND version = ?",
                                [model, version]).fetchone()
        names = list(row[0]) if row else []
        if len(_GROUP_NAMES) > 1000:
            _GROUP_NAMES.clear()
        _GROUP_NAMES[key] = names
    return names


def scores_of(store: Store, contact_id: str, stored: StoredScores | None = None) -> list[dict[str, Any]]:
    """The contact's latest score under each model, with group points by name.

    Read on the real-time path after every write, so the group names come from a cache rather
    than a join with ``model_versions`` (whose rows carry each version's YAML text), and the rows
    from ``stored`` when the rescoring kept them (``engine.stored_scores``: no second scan).
    """
    kept = stored.rows_of(contact_id) if stored is not None else None
    if kept is not None:
        rows = [dict(zip(SCORE_COLUMNS, row, strict=True)) for row in kept]
    else:
        rows = _rows(store.con.execute(
            f"SELECT {', '.join(SCORE_COLUMNS)} FROM scores WHERE contact_id = ? ORDER BY model", [contact_id]))
    for r in rows:
        names, points = _group_names(store, r["model"], r["model_version"]), r.pop("groups") or []
        r["groups"] = dict(zip(names, points, strict=False))
    return rows


def prediction_of(store: Store, contact_id: str) -> dict[str, Any] | None:
    """The contact's latest predictive row, if there is one (the table comes with migration 4)."""
    rows = _rows(store.con.execute(
        "SELECT * FROM predictions WHERE contact_id = ? ORDER BY computed_at DESC LIMIT 1", [contact_id]))
    if not rows:
        return None
    row = rows[0]
    factors = row.get("factors")
    if isinstance(factors, str):
        try:
            factors = json.loads(factors)
        except ValueError:
            pass
    return {"model": row.get("model"), "model_version": row.get("model_version"),
            "probability": row.get("probability"), "priority": row.get("priority"), "factors": factors,
            "as_of": row.get("as_of"), "computed_at": row.get("computed_at")}


def contact_view(store: Store, contact_id: str) -> dict[str, Any]:
    """Properties (the non-empty ones), scores per model, and the prediction if any."""
    rows = _rows(store.con.execute("SELECT * FROM contacts WHERE contact_id = ?", [contact_id]))
    if not rows:
        raise NotFoundError(f"no contact with id `{contact_id}`")
    props = {k: v for k, v in rows[0].items() if v is not None and k != "contact_id"}
    return {"contact_id": contact_id, "properties": props, "scores": scores_of(store, contact_id),
            "prediction": prediction_of(store, contact_id)}


def history_of(store: Store, contact_id: str, *, model: str | None, limit: int,
               prop: str | None = None) -> dict[str, Any]:
    """Score and property changes of a contact (``storage.history.contact_history``)."""
    if model is not None:
        checked_model(store, model)
    return contact_history(store.con, contact_id, model=model, prop=prop, limit=limit)


# ---------------------------------------------------------------------- pages of scores

def scores_page(store: Store, *, model: str | None, tier: str | None, min_score: float | None,
                limit: int, cursor: str | None) -> dict[str, Any]:
    """One page of a model's scores, best first (ties by contact_id)."""
    chosen = checked_model(store, model)
    if chosen is None:
        raise NotFoundError("no published model yet; run `leadscore publish models/NAME.yml`")
    model = chosen
    checked_tier(store, model, tier)
    filters = {"model": model, "tier": tier, "min": min_score}
    where = ["model = $model"]
    params: dict[str, Any] = {"model": model, "limit": limit + 1}
    if tier is not None:
        where.append("tier = $tier")
        params["tier"] = tier
    if min_score is not None:
        where.append("score >= $min")
        params["min"] = min_score
    if cursor:
        a_score, a_id = decode_cursor(cursor, filters, SCORE_POSITION)
        where.append("(score < $a_score OR (score = $a_score AND contact_id > $a_id))")
        params.update(a_score=a_score, a_id=a_id)
    rows = _rows(store.con.execute(
        f"""SELECT contact_id, score, tier, grade, model_version, as_of FROM scores
            WHERE {' AND '.join(where)} ORDER BY score DESC, contact_id LIMIT $limit""", params))
    items, next_cursor = next_page(rows, limit, lambda r: (r["score"], r["contact_id"]), filters)
    return {"model": model, "items": items, "next_cursor": next_cursor}
