"""The lead page's history chart: tier bands, crossings marked, and what moved each point."""

from __future__ import annotations

from datetime import datetime

from leadscore.web.lead_page import history_chart
from leadscore.web.render import tier_palette

TIERS = {"cold": 0.0, "nurture": 30.0, "sql": 60.0}


def _point(day: int, score: float, tier: str, prev: str | None, version: int = 1) -> dict[str, object]:
    return {"as_of": datetime(2025, 1, day), "score": score, "tier": tier, "prev_tier": prev, "model_version": version}


def test_bands_crossings_and_hover() -> None:
    history = [_point(1, 10, "cold", None), _point(8, 35, "nurture", "cold"), _point(15, 33, "nurture", "nurture"),
               _point(22, 64, "sql", "nurture", version=2)]
    events = [(datetime(2025, 1, 5), "page_view"), (datetime(2025, 1, 6), "page_view"),
              (datetime(2025, 1, 7), "email_open"), (datetime(2025, 1, 20), "demo_request")]
    fig = history_chart(history, events, TIERS, tier_palette(TIERS))
    line, marks = fig["data"]
    assert line["y"] == [10, 35, 33, 64] and fig["points"] == 4
    assert marks["text"] == ["nurture", "sql"]  # the two crossings, marked
    hover = line["text"]
    assert hover[0].endswith("first score")
    assert "crossed cold → nurture" in hover[1] and "page_view ×2, email_open ×1" in hover[1]
    assert "decay or inactivity" in hover[2]
    assert "model v1 → v2" in hover[3] and "demo_request ×1" in hover[3]
    bands = fig["layout"]["shapes"]
    assert [(b["y0"], b["y1"]) for b in bands][1:] == [(30.0, 60.0), (60.0, fig["layout"]["yaxis"]["range"][1])]


def test_a_jump_without_an_event_dated_in_it_does_not_claim_decay_alone() -> None:
    """A back-dated event (sent late, dated before the previous point) is placed at its date: the
    jump it caused has no event dated in its interval, and the hover says what else it can be."""
    history = [_point(1, 10, "cold", None), _point(8, 10, "cold", "cold"), _point(15, 40, "nurture", "cold")]
    events = [(datetime(2025, 1, 3), "demo_request")]  # arrived after day 8, dated day 3
    hover = history_chart(history, events, TIERS, tier_palette(TIERS))["data"][0]["text"]
    assert "events dated since the previous point: demo_request ×1" in hover[1]
    assert "no new events" not in hover[2]
    assert "no events dated since the previous point" in hover[2] and "arrived late with an earlier date" in hover[2]
