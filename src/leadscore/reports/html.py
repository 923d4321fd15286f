"""The report as one self-contained HTML file, and as JSON.

The page is rendered from ``templates/report.html.j2`` with Jinja (autoescaped: rule names and
contact ids from the store cannot inject markup), the charts from ``report.charts``, and the
plotly.js of the installed plotly package inlined once — the file opens offline and makes no
request anywhere. Files are written atomically (a temporary file renamed into place), so a
crash never leaves half a report where the last good one was.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from leadscore.reports.charts import all_charts, plotly_js

if TYPE_CHECKING:
    from leadscore.reports.build import Report


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("leadscore", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.globals.update(pct=pct, num=num, money=money)
    return env


def render_html(report: Report) -> str:
    """The whole page as one string (about 5 MB, nearly all of it plotly.js)."""
    from leadscore import __version__
    from leadscore.predictive.calibrate import ECE_HONEST

    charts = {name: Markup(html) for name, html in all_charts(report).items()}  # noqa: S704 - our own plotly output
    template = _environment().get_template("report.html.j2")
    return template.render(r=report, charts=charts, plotly_js=Markup(plotly_js()),  # noqa: S704
                           version=__version__, ece_honest=ECE_HONEST)


def jsonable(value: Any) -> Any:
    """Report data → plain JSON types: datetimes as ISO text, NaN/inf as null, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value


def to_json(data: Any) -> str:
    return json.dumps(jsonable(data), indent=2, allow_nan=False)


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same directory."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def write_html(report: Report, path: str | Path) -> Path:
    return write_atomic(path, render_html(report))
