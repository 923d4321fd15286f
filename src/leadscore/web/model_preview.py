"""What a draft would do to the whole base: tier counts now vs draft, a histogram, who moves.

The draft and the published version are scored once each, at the as-of of the model's latest run
(so "now" is the scores users see), into a temporary table of this request's cursor; the counts,
the histogram and the biggest movers are read from it. Nothing is written to the store. The
counts are a ``engine.preview.DistributionPreview``, the shape ``leadscore preview --distribution``
prints, so the editor and the CLI state the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadscore.engine.preview import DistributionPreview
from leadscore.engine.run import compiled_sql, last_as_of, model_of
from leadscore.model.loader import LoadedModel, contact_model
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow
from leadscore.web.leads_query import display_name
from leadscore.web.render import tier_palette

TABLE = "_ls_draft_preview"
MOVERS = 20


@dataclass
class Distribution:
    preview: DistributionPreview
    chart: dict[str, Any]
    movers: list[dict[str, Any]] = field(default_factory=list)
    palette: dict[str, str] = field(default_factory=dict)


def when_for(store: Store, model: str, as_of: datetime | None) -> datetime:
    return as_of or last_as_of(store, model) or utcnow()


def distribution(store: Store, draft: LoadedModel, *, as_of: datetime | None = None) -> Distribution:
    """The draft beside the published version of the same model over every contact."""
    name = draft.model.name
    when = when_for(store, name, as_of)
    published = store.latest_version(name)
    pub_sql = compiled_sql(store, contact_model(model_of(published)), when) if published else None
    joined = (f"LEFT JOIN ({pub_sql}) AS p USING (contact_id)" if pub_sql else
              "LEFT JOIN (SELECT NULL::VARCHAR AS contact_id, NULL::DOUBLE AS score, NULL::VARCHAR AS tier) AS p "
              "USING (contact_id)")
    con = store.con
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {TABLE} AS
                    SELECT d.contact_id, d.score AS ds, d.tier AS dt, p.score AS ps, p.tier AS pt
                    FROM ({compiled_sql(store, draft.contact_model, when)}) AS d {joined}""")
    try:
        moves = {(a, b): int(n) for a, b, n in con.execute(
            f"SELECT pt, dt, count(*) FROM {TABLE} GROUP BY ALL").fetchall()}
        pub_tiers = {k: float(v) for k, v in model_of(published).tiers.items()} if published else {}
        draft_tiers = {k: float(v) for k, v in draft.model.tiers.items()}
        draft_counts = dict.fromkeys(draft_tiers, 0)
        pub_counts = dict.fromkeys(pub_tiers, 0)
        for (a, b), n in moves.items():
            draft_counts[b] = draft_counts.get(b, 0) + n
            if a is not None:
                pub_counts[a] = pub_counts.get(a, 0) + n
        preview = DistributionPreview(name, when, published.version if published else None, draft_counts,
                                      pub_counts, moves)
        palette = tier_palette({**pub_tiers, **draft_tiers})
        chart = _histogram(store, draft_tiers, pub_tiers, palette)
        movers = _movers(store)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {TABLE}")
    return Distribution(preview, chart, movers, palette)


def _histogram(store: Store, draft_tiers: dict[str, float], pub_tiers: dict[str, float],
               palette: dict[str, str]) -> dict[str, Any]:
    low, high = store.con.execute(f"SELECT least(min(ds), min(ps)), greatest(max(ds), max(ps)) FROM {TABLE}"
                                  ).fetchone() or (None, None)
    if low is None:
        return {"data": [], "layout": {}}
    width = max(1.0, math.ceil((float(high) - float(low)) / 30))
    data = []
    for column, name in (("ds", "draft"), ("ps", "published")):
        rows = store.con.execute(f"SELECT floor({column} / $w) * $w AS b, count(*) FROM {TABLE} "
                                 f"WHERE {column} IS NOT NULL GROUP BY b ORDER BY b", {"w": width}).fetchall()
        if not rows:
            continue
        xs, ys = [float(b) + width / 2 for b, _ in rows], [int(n) for _, n in rows]
        hover = f"{name}: %{{y}} contacts scoring %{{x}}±{width / 2:g}<extra></extra>"
        if name == "draft":  # bars for the draft, an outline for what is published now
            data.append({"type": "bar", "name": name, "x": xs, "y": ys, "width": width * 0.95, "opacity": 0.75,
                         "marker": {"color": "#2a9d8f"}, "hovertemplate": hover})
        else:
            data.append({"type": "scatter", "mode": "lines", "name": name, "x": xs, "y": ys,
                         "line": {"shape": "hvh", "color": "#3c4650", "width": 2}, "hovertemplate": hover})
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": v, "x1": v, "y0": 0, "y1": 1,
               "line": {"color": palette.get(t, "#264653"), "width": 2}} for t, v in draft_tiers.items() if v > low]
    shapes += [{"type": "line", "xref": "x", "yref": "paper", "x0": v, "x1": v, "y0": 0, "y1": 1,
                "line": {"color": "#5f6b7a", "width": 1, "dash": "dot"}}
               for t, v in pub_tiers.items() if v > low and draft_tiers.get(t) != v]
    labels = [{"xref": "x", "yref": "paper", "x": v, "y": 1.02, "text": t, "showarrow": False,
               "xanchor": "left", "font": {"size": 11}} for t, v in draft_tiers.items() if v > low]
    layout = {"barmode": "overlay", "height": 280, "margin": {"l": 50, "r": 10, "t": 24, "b": 40},
              "xaxis": {"title": {"text": "score"}}, "yaxis": {"title": {"text": "contacts"}},
              "shapes": shapes, "annotations": labels, "legend": {"orientation": "h", "y": -0.25},
              "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
              "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
    return {"data": data, "layout": layout}


def _movers(store: Store) -> list[dict[str, Any]]:
    """The contacts whose tier changes, biggest score change first."""
    rows = store.con.execute(
        f"""SELECT m.contact_id, m.pt, m.dt, m.ps, m.ds, c.first_name, c.last_name, c.email, c.company
            FROM (SELECT * FROM {TABLE} WHERE pt IS NOT NULL AND pt <> dt
                  ORDER BY abs(ds - ps) DESC, contact_id LIMIT {MOVERS}) AS m
            LEFT JOIN contacts AS c USING (contact_id) ORDER BY abs(m.ds - m.ps) DESC, m.contact_id""").fetchall()
    return [{"contact_id": r[0], "from": r[1], "to": r[2], "published": r[3], "draft": r[4],
             "name": display_name(r[5], r[6], r[7], r[0]), "company": r[8]} for r in rows]
