"""Lists of contacts: static lists that workflows fill (``add_to_list`` / ``remove_from_list``) and
dynamic lists (segments) defined in ``leadscore.yml`` and evaluated on demand.

A segment is a condition in the model language, optionally on a model's stored tier or score::

    segments:
      saas-nurture:
        model: b2b
        tier: [nurture]
        when: {property: industry, equals: SaaS}

Its condition is compiled by the scoring compiler (as a one-rule model, ``triggers.condition_model``),
so it means exactly what the same condition means in a rule, evaluated as of now. Both kinds are
read with the same calls: ``list_names``, ``list_members``, ``export_list``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlglot import exp

from leadscore.errors import LeadscoreError, ModelError, NotFoundError
from leadscore.storage.csv_cells import spreadsheet_safe
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow
from leadscore.workflows.triggers import condition_sql
from leadscore.workspace import SegmentSettings, Workspace


def list_names(store: Store, ws: Workspace) -> list[str]:
    """Every list name: static lists in the store and segments in the settings, sorted."""
    static = {r[0] for r in store.con.execute("SELECT name FROM lists").fetchall()}
    return sorted(static | set(ws.settings.segments))


def members_sql(store: Store, ws: Workspace, name: str) -> tuple[str, dict[str, Any]]:
    """A query of the list's ``contact_id`` values and its parameters (NotFoundError if unknown).

    A segment takes precedence over a static list of the same name.
    """
    segment = ws.settings.segments.get(name)
    if segment is not None:
        return _segment_sql(store, name, segment)
    if store.con.execute("SELECT 1 FROM lists WHERE name = ?", [name]).fetchone() is None:
        known = ", ".join(list_names(store, ws)) or "none yet"
        raise NotFoundError(f"no list `{name}` (lists: {known}); static lists appear when a workflow "
                            "adds to them, segments are defined under `segments:` in leadscore.yml")
    return "SELECT contact_id FROM list_members WHERE list = $list", {"list": name}


def _segment_sql(store: Store, name: str, segment: SegmentSettings) -> tuple[str, dict[str, Any]]:
    parts: list[str] = []
    params: dict[str, Any] = {}
    if segment.model is not None:
        if segment.model not in store.published_models():
            raise LeadscoreError(f"segment `{name}`: model `{segment.model}` is not published "
                                 f"(published: {', '.join(store.published_models()) or 'none'})")
        where = ["s.model = $model"]
        params["model"] = segment.model
        if segment.tier:
            where.append("s.tier IN (SELECT UNNEST($tiers))")
            params["tiers"] = segment.tier
        if segment.min_score is not None:
            where.append("s.score >= $min_score")
            params["min_score"] = segment.min_score
        if segment.max_score is not None:
            where.append("s.score <= $max_score")
            params["max_score"] = segment.max_score
        parts.append(f"SELECT s.contact_id FROM scores AS s WHERE {' AND '.join(where)}")
    if segment.when is not None:
        try:
            parts.append(condition_sql(segment.when, utcnow(), store.columns("contacts"),
                                       store.columns("events"), restricted=False))
        except ModelError as exc:
            problems = "; ".join(i.message for i in exc.issues)
            raise LeadscoreError(f"segment `{name}` in leadscore.yml: {problems}") from exc
    return " INTERSECT ".join(f"({p})" for p in parts), params


def list_members(store: Store, ws: Workspace, name: str, *, limit: int = 100,
                 after: str | None = None) -> list[str]:
    """Contact ids of a list in id order; ``after`` continues from the last id of a page."""
    if limit < 1:
        raise LeadscoreError(f"limit must be at least 1, got {limit}")
    sql, params = members_sql(store, ws, name)
    where = "WHERE m.contact_id > $after" if after is not None else ""
    rows = store.con.execute(
        f"SELECT m.contact_id FROM ({sql}) AS m {where} ORDER BY m.contact_id LIMIT $limit",
        {**params, "limit": limit, **({"after": after} if after is not None else {})},
    ).fetchall()
    return [r[0] for r in rows]


def count_members(store: Store, ws: Workspace, name: str) -> int:
    sql, params = members_sql(store, ws, name)
    row = store.con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()
    return int(row[0]) if row else 0


def export_list(store: Store, ws: Workspace, name: str, out: str | Path) -> int:
    """Write the list's contacts (every contact column) to CSV or Parquet; returns the row count.
    In CSV a text cell that starts like a formula gets a leading ``'`` (``storage.csv_cells``)."""
    path = Path(out)
    fmt = {".csv": "csv", ".parquet": "parquet"}.get(path.suffix.lower())
    if fmt is None:
        raise LeadscoreError(f"cannot tell the format of {path}: name it .csv or .parquet")
    sql, params = members_sql(store, ws, name)
    target = exp.Literal.string(str(path)).sql("duckdb")
    rows = f"SELECT c.* FROM contacts AS c WHERE c.contact_id IN ({sql}) ORDER BY c.contact_id"
    if fmt == "csv":  # text opened as text by a spreadsheet, not run as a formula
        rows = spreadsheet_safe(store.con, rows, params)
    written = store.con.execute(f"COPY ({rows}) TO {target} (FORMAT {fmt})", params).fetchone()
    return int(written[0]) if written else 0  # COPY counts the rows it wrote: no second query
