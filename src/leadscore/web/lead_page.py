"""Everything the lead page shows about one contact, read in one place.

Per published model: the explanation (``engine.explain.explain_contact``, the numbers of
``leadscore explain``: the stored score's as-of and version), the groups against their caps, the
fired rules with raw and decayed points, and the score history as a chart (tier bands shaded,
crossings marked, each point's hover naming the events and model versions that moved it). Then
the event timeline (events that scored points highlighted), the prediction, tasks, workflow
actions with their delivery state, and feedback.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from leadscore.engine.account_sql import contact_model_names
from leadscore.engine.explain import (
    Explanation,
    GroupExplanation,
    PredictionPart,
    RuleExplanation,
    explain_contact,
    stored_prediction,
)
from leadscore.engine.explain_accounts import AccountExplanation, AccountRuleExplanation
from leadscore.engine.run import model_of
from leadscore.errors import NotFoundError
from leadscore.feedback import Feedback, feedback_of
from leadscore.storage.store import Store
from leadscore.timeutil import age_days
from leadscore.web.leads_query import display_name
from leadscore.web.render import tier_palette

#: most events shown at once on the timeline ("show older" raises it)
MAX_EVENTS = 1000
HIDDEN_PROPERTIES = {"contact_id", "first_name", "last_name"}


@dataclass
class RuleLine:
    """A rule of the explanation, with how old its newest matched event is (for "+15 → +9.6, 40 days ago")."""

    rule: RuleExplanation | AccountRuleExplanation  # a contact model's rule, or an account model's (account page)
    age_days: float | None  # from the explanation's as-of

    @property
    def decayed(self) -> bool:
        return self.rule.fired and abs(self.rule.raw - self.rule.points) >= 0.05  # visible at one decimal


def bar_share(group: GroupExplanation) -> float:
    """How full a group's bar is: its points against its cap (or against the larger of its points)."""
    top = group.cap if group.cap else max(abs(group.rules_sum), abs(group.points), 1.0)
    return max(0.0, min(1.0, group.points / top)) if top > 0 else 0.0


@dataclass
class ModelPart:
    """One model's part of the lead page (or, with an account model's explanation, the account page)."""

    explanation: Explanation | AccountExplanation
    palette: dict[str, str]
    tiers: dict[str, float]
    fired: list[RuleLine]
    idle: list[RuleLine]
    chart: dict[str, Any]
    change_7d: float | None = None

    @property
    def model(self) -> str:
        return self.explanation.model


@dataclass
class LeadView:
    contact_id: str
    name: str
    properties: dict[str, Any]
    parts: list[ModelPart]
    prediction: PredictionPart | None
    events: list[dict[str, Any]]
    events_limit: int
    more_events: bool
    scoring_events: set[str]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)

    @property
    def owner(self) -> str | None:
        return self.properties.get("owner")


def dict_rows(store: Store, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """The rows of ``sql`` as dicts by column name."""
    cur = store.con.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def contact_row(store: Store, contact_id: str) -> dict[str, Any]:
    rows = dict_rows(store, "SELECT * FROM contacts WHERE contact_id = ?", [contact_id])
    if not rows:
        raise NotFoundError(f"no contact with id `{contact_id}`")
    return rows[0]


def rule_lines(e: Explanation | AccountExplanation) -> tuple[list[RuleLine], list[RuleLine]]:
    """The fired rules (most points first) and the idle ones, each with its newest event's age."""
    lines = []
    for r in e.rules:
        newest = max((m["occurred_at"] for m in r.matched_events if isinstance(m.get("occurred_at"), datetime)),
                     default=None)
        lines.append(RuleLine(r, age_days(e.as_of, newest) if newest else None))
    fired = sorted((x for x in lines if x.rule.fired), key=lambda x: -abs(x.rule.points))
    return fired, [x for x in lines if not x.rule.fired]


def _moved_by(history: list[dict[str, Any]], events: list[tuple[datetime, str]]) -> list[list[str]]:
    """For each history point, the events since the previous point, by type (most first)."""
    times = [at for at, _ in events]
    out, previous = [], None
    for h in history:
        lo = bisect_right(times, previous) if previous is not None else 0
        hi = bisect_right(times, h["as_of"])
        counts = Counter(kind for _, kind in events[lo:hi])
        out.append([f"{kind} ×{n}" for kind, n in counts.most_common(6)])
        previous = h["as_of"]
    return out


def history_chart(history: list[dict[str, Any]], events: list[tuple[datetime, str]], tiers: dict[str, float],
                  palette: dict[str, str]) -> dict[str, Any]:
    """A Plotly figure (data + layout) of the score over time with tier bands and crossings; each point's
    hover names the events since the previous point, a model version change, or says that decay or
    inactivity moved it. ``history`` is the model's rows oldest first, ``events`` (time, type) sorted."""
    hover: list[str] = []
    last_version = None
    for h, moved in zip(history, _moved_by(history, events), strict=True):
        parts = [f"score {h['score']:.1f} · {h['tier']}"]
        if h["prev_tier"] and h["prev_tier"] != h["tier"]:
            parts.append(f"crossed {h['prev_tier']} → {h['tier']}")
        if last_version is not None and h["model_version"] != last_version:
            parts.append(f"model v{last_version} → v{h['model_version']}")
        last_version = h["model_version"]
        # events are placed by their date (occurred_at): the store keeps no arrival time, so an event
        # sent late with an earlier date counts at its date, and a jump may have no event dated in it
        if moved:
            parts.append("events dated since the previous point: " + ", ".join(moved))
        else:
            parts.append("no events dated since the previous point (decay or inactivity, a property change, "
                         "or events that arrived late with an earlier date moved it)" if hover else "first score")
        hover.append("<br>".join(parts))
    xs = [h["as_of"] for h in history]
    ys = [h["score"] for h in history]
    crossings = [h for h in history if h["prev_tier"] and h["prev_tier"] != h["tier"]]
    top = max([*ys, *tiers.values(), 0.0]) * 1.15 + 1
    bottom = min([*ys, 0.0]) - 1
    ordered = sorted(tiers.items(), key=lambda kv: kv[1])
    shapes, labels = [], []
    for i, (name, bound) in enumerate(ordered):
        upper = ordered[i + 1][1] if i + 1 < len(ordered) else top
        lower = bound if i else bottom
        shapes.append({"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "y0": lower, "y1": upper,
                       "fillcolor": palette[name], "opacity": 0.16, "line": {"width": 0}, "layer": "below"})
        labels.append({"xref": "paper", "x": 1, "xanchor": "right", "y": (max(lower, bottom) + upper) / 2,
                       "text": name, "showarrow": False, "font": {"color": "#3c4650", "size": 11}})
    data = [{"type": "scatter", "mode": "lines+markers", "x": xs, "y": ys, "name": "score",
             "line": {"shape": "hv", "color": "#264653", "width": 2}, "marker": {"size": 6},
             "text": hover, "hovertemplate": "%{x|%Y-%m-%d %H:%M}<br>%{text}<extra></extra>"}]
    if crossings:
        data.append({"type": "scatter", "mode": "markers", "name": "tier crossing",
                     "x": [c["as_of"] for c in crossings], "y": [c["score"] for c in crossings],
                     "marker": {"symbol": "diamond", "size": 13, "color": [palette.get(c["tier"], "#e76f51")
                                                                           for c in crossings],
                                "line": {"color": "#10181f", "width": 1.5}},
                     "hovertemplate": "%{x|%Y-%m-%d}: crossed into %{text}<extra></extra>",
                     "text": [c["tier"] for c in crossings]})
    layout = {"height": 260, "margin": {"l": 45, "r": 10, "t": 10, "b": 35}, "showlegend": False,
              "yaxis": {"title": {"text": "score"}, "range": [bottom, top], "zeroline": False},
              "xaxis": {"type": "date"}, "shapes": shapes, "annotations": labels, "hovermode": "closest",
              "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
              "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
    return {"data": data, "layout": layout, "points": len(history)}


def change_over_week(history: list[dict[str, Any]], e: Explanation | AccountExplanation) -> float | None:
    """The stored score minus the score a week before its as-of (None: not scored then)."""
    if e.stored_score is None or e.stored_as_of is None:
        return None
    cutoff = e.stored_as_of - timedelta(days=7)
    before = [h for h in history if h["as_of"] <= cutoff]
    return e.stored_score - float(before[-1]["score"]) if before else None


def _model_part(store: Store, contact_id: str, model: str, history: list[dict[str, Any]],
                events: list[tuple[datetime, str]]) -> ModelPart | None:
    if not history and store.con.execute("SELECT 1 FROM scores WHERE model = ? AND contact_id = ?",
                                          [model, contact_id]).fetchone() is None:
        return None
    e = explain_contact(store, contact_id, model=model)
    version = store.get_version(model, e.model_version)
    tiers = {k: float(v) for k, v in model_of(version).tiers.items()}
    palette = tier_palette(tiers)
    fired, idle = rule_lines(e)
    return ModelPart(e, palette, tiers, fired, idle, history_chart(history, events, tiers, palette),
                     change_over_week(history, e))


def lead_view(store: Store, contact_id: str, *, events_limit: int = 50) -> LeadView:
    """The lead page's data (NotFoundError for an unknown contact)."""
    contact = contact_row(store, contact_id)
    rows = dict_rows(store, """SELECT model, as_of, score, tier, prev_tier, model_version FROM score_history
                           WHERE contact_id = ? ORDER BY as_of, computed_at""", [contact_id])
    kinds = [(r[0], r[1]) for r in store.con.execute(
        "SELECT occurred_at, type FROM events WHERE contact_id = ? ORDER BY occurred_at", [contact_id]).fetchall()]
    parts = [p for p in (_model_part(store, contact_id, m, [r for r in rows if r["model"] == m], kinds)
                         for m in contact_model_names(store)) if p is not None]
    prediction = next((e.prediction for p in parts if isinstance(e := p.explanation, Explanation) and e.prediction),
                      None) or stored_prediction(store, contact_id)
    limit = max(1, min(events_limit, MAX_EVENTS))
    events = dict_rows(store, "SELECT * FROM events WHERE contact_id = ? ORDER BY occurred_at DESC, event_id LIMIT ?",
                   [contact_id, limit + 1])
    scoring = {str(m["event_id"]) for p in parts for r in p.fired for m in r.rule.matched_events if m.get("event_id")}
    name = display_name(contact.get("first_name"), contact.get("last_name"), contact.get("email"), contact_id)
    view = LeadView(contact_id, name, {k: v for k, v in contact.items() if v is not None and k not in
                                       HIDDEN_PROPERTIES},
                    parts, prediction, events[:limit], limit, len(events) > limit, scoring)
    view.tasks = dict_rows(store, """SELECT task_id, owner, title, notes, due_at, status, workflow, created_at
                                     FROM tasks
                                 WHERE contact_id = ? ORDER BY status DESC, due_at NULLS LAST, created_at DESC""",
                       [contact_id])
    view.actions = dict_rows(store, """SELECT action_id, kind, workflow, target, status, attempts, created_at,
                                          delivered_at, next_attempt_at, last_error
                                   FROM outbox WHERE contact_id = ? ORDER BY created_at DESC LIMIT 50""",
                         [contact_id])
    view.changes = dict_rows(store, """SELECT property, old_value, new_value, changed_at, source FROM property_changes
                                   WHERE contact_id = ? ORDER BY changed_at DESC LIMIT 50""", [contact_id])
    view.lists = [r[0] for r in store.con.execute(
        "SELECT list FROM list_members WHERE contact_id = ? ORDER BY list", [contact_id]).fetchall()]
    view.feedback = feedback_of(store, contact_id, limit=20)
    return view
