"""Rendering pages: one Jinja environment (autoescaped), the filters pages share, tier colours.

Autoescape is on for every template, so a contact named ``<script>alert(1)</script>`` is shown as
text; nothing in the dashboard marks store text safe. The report's sections come from the
report's own template (``leadscore/templates/report_body.html.j2``), so the page in the app and
the offline file show the same figures.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from leadscore.reports.charts import COLORS
from leadscore.reports.html import jsonable, money, num, pct
from leadscore.timeutil import utcnow

PRIORITIES = ("very high", "high", "medium", "low")


def points(value: float | None, digits: int = 1) -> str:
    """``+15``, ``−9.6``, ``0``: points with their sign (a real minus sign)."""
    if value is None:
        return "—"
    if abs(value) < 0.05:
        return "0"
    text = f"{abs(value):.{digits}f}".rstrip("0").rstrip(".")
    return ("+" if value > 0 else "−") + text


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """``3 days ago``, ``in 2 hours``, ``just now`` (the exact date goes in a title attribute)."""
    if value is None:
        return "—"
    seconds = ((now or utcnow()) - value).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400), ("day", 86400),
                       ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            words = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {words}" if future else f"{words} ago"
    return "just now"


def reference_time(as_of: datetime | None) -> datetime:
    """What "3 days ago" counts from: now, unless the scores shown are as of a moment more than a day
    back (a workspace scored from history, like the demo), whose own "now" is then their as-of."""
    now = utcnow()
    return as_of if as_of is not None and now - as_of > timedelta(days=1) else now


def when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M")


def tier_palette(tiers: dict[str, float]) -> dict[str, str]:
    """Tier → colour, lowest tier first, in the report's colours (cold grey, nurture amber, sql teal)."""
    ordered = sorted(tiers.items(), key=lambda kv: kv[1])
    return {name: COLORS[i % len(COLORS)] for i, (name, _) in enumerate(ordered)}


def _ink(hex_colour: str) -> str:
    """Dark or white text, whichever reads better on the colour (WCAG relative luminance)."""
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    return "#10181f" if (lum + 0.05) / 0.059 >= (1.05 / (lum + 0.05)) else "#ffffff"


def badge(tier: str | None, palette: dict[str, str]) -> Markup:
    """A tier badge: the colour and the tier's name (colour is never the only signal)."""
    if tier is None:
        return Markup('<span class="badge badge-none">not scored</span>')
    colour = palette.get(tier, "#5f6b7a")
    return Markup('<span class="badge" style="background:{};color:{}">{}</span>').format(colour, _ink(colour), tier)


def to_json(data: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>`` and ``&`` escaped, so a
    value holding ``</script>`` cannot end the block."""
    text = json.dumps(jsonable(data), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([PackageLoader("leadscore.web", "templates"), PackageLoader("leadscore", "templates")]),
        undefined=StrictUndefined, autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True, lstrip_blocks=True)
    env.globals.update(pct=pct, num=num, money=money, points=points, ago=ago, when=when, badge=badge,
                       to_json=to_json, PRIORITIES=PRIORITIES)
    return env
