"""The report's charts: Plotly figures rendered to HTML fragments that share one embedded plotly.js.

Why Plotly: interactive (hover shows the exact figure), and the whole library ships inside the
installed ``plotly`` package, so the report embeds it and works offline — no CDN. Each chart is a
``<div>`` plus a small script; ``plotly_js()`` is inlined once per page. Div ids are fixed, so
the same report data gives the same HTML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadscore.reports.build import Report

COLORS = ("#9aa5b1", "#f0a202", "#2a9d8f", "#264653", "#e76f51", "#8e7dbe")
LAYOUT: dict[str, Any] = {
    "margin": {"l": 55, "r": 20, "t": 40, "b": 45}, "height": 330, "template": "plotly_white",
    "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
}


def plotly_js() -> str:
    """The full plotly.js bundled with the installed plotly package (about 4.6 MB)."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def _div(fig: Any, div_id: str) -> str:
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                           config={"displaylogo": False, "displayModeBar": False, "responsive": True}))


def _tier_color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def tiers_figure(report: Report) -> Any:
    """Contacts per tier (bars) and the backtest's conversion rate per tier (line, right axis)."""
    import plotly.graph_objects as go

    tiers = list(report.distribution.tier_counts)
    counts = [report.distribution.tier_counts[t] for t in tiers]
    rates = {t.name: t.rate for t in report.backtest.tiers}
    fig = go.Figure()
    fig.add_bar(x=tiers, y=counts, name="contacts", marker_color=[_tier_color(i) for i in range(len(tiers))])
    measured = [t for t in tiers if rates.get(t) is not None]  # an empty tier has no rate
    fig.add_scatter(x=measured, y=[(rates[t] or 0) * 100 for t in measured], name="conversion %",
                    yaxis="y2", mode="lines+markers+text",
                    text=[f"{(rates[t] or 0) * 100:.1f}%" for t in measured], textposition="top center",
                    line={"color": "#e76f51"})
    fig.update_layout(**LAYOUT, title="Contacts and conversion by tier",
                      yaxis={"title": "contacts"},
                      yaxis2={"title": "conversion %", "overlaying": "y", "side": "right",
                              "range": [0, max([(rates[t] or 0) * 100 for t in measured] + [1]) * 1.2]},
                      legend={"orientation": "h", "y": -0.2})
    return fig


def distribution_figure(report: Report) -> Any:
    """Histogram of scores with the tier bounds drawn as vertical lines."""
    import plotly.graph_objects as go

    d = report.distribution
    edges = d.bin_edges
    centers = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
    widths = [b - a for a, b in zip(edges, edges[1:], strict=False)]
    fig = go.Figure(go.Bar(x=centers, y=d.bin_counts, width=widths, marker_color="#264653", name="contacts"))
    for i, (name, bound) in enumerate(report.tier_bounds.items()):
        if i == 0:
            continue
        fig.add_vline(x=bound, line_dash="dash", line_color="#e76f51",
                      annotation_text=f"{name} ≥ {bound:g}", annotation_position="top")
    fig.update_layout(**LAYOUT, title="Score distribution", xaxis={"title": "score"},
                      yaxis={"title": "contacts"}, bargap=0.02)
    return fig


def gains_figure(report: Report) -> Any:
    """Cumulative gains: share of converters reached by calling the best-scored share of contacts."""
    import plotly.graph_objects as go

    xs = [x * 100 for x, _ in report.gains]
    ys = [y * 100 for _, y in report.gains]
    fig = go.Figure()
    fig.add_scatter(x=xs, y=ys, name="by score", mode="lines", line={"color": "#2a9d8f", "width": 3})
    fig.add_scatter(x=[0, 100], y=[0, 100], name="at random", mode="lines",
                    line={"color": "#9aa5b1", "dash": "dash"})
    fig.update_layout(**LAYOUT, title="Gains: converters reached vs contacts called",
                      xaxis={"title": "% of contacts called, best score first"},
                      yaxis={"title": "% of converters reached"}, legend={"orientation": "h", "y": -0.2})
    return fig


def deciles_figure(report: Report) -> Any:
    """Conversion rate per score decile (D1 = the best-scored 10%)."""
    import plotly.graph_objects as go

    names = [d.name for d in report.deciles]
    rates = [(d.rate or 0) * 100 for d in report.deciles]
    base = (report.backtest.base_rate or 0) * 100
    fig = go.Figure(go.Bar(x=names, y=rates, marker_color="#2a9d8f", name="conversion %"))
    fig.add_hline(y=base, line_dash="dash", line_color="#e76f51", annotation_text=f"average {base:.1f}%")
    fig.update_layout(**LAYOUT, title="Conversion by score decile", yaxis={"title": "conversion %"})
    return fig


def rolling_figure(report: Report) -> Any:
    """AUC and top-20% capture at each rolling as-of date."""
    import plotly.graph_objects as go

    dates = [r.as_of.strftime("%Y-%m-%d") for r in report.rolling]
    fig = go.Figure()
    fig.add_scatter(x=dates, y=[r.auc for r in report.rolling], name="AUC", mode="lines+markers")
    fig.add_scatter(x=dates, y=[r.top20.capture for r in report.rolling], name="top-20% capture",
                    mode="lines+markers")
    fig.update_layout(**LAYOUT, title="Stability over time", yaxis={"range": [0, 1]},
                      legend={"orientation": "h", "y": -0.2})
    return fig


def calibration_figure(report: Report) -> Any:
    """Reliability curve of each predictive model: predicted vs observed, with the diagonal."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], name="perfect", mode="lines", line={"color": "#9aa5b1", "dash": "dash"})
    for i, cal in enumerate(report.calibration):
        if cal.calibration is None:
            continue
        bins = [b for b in cal.calibration.bins if b.contacts]
        fig.add_scatter(x=[b.mean_predicted for b in bins], y=[b.observed_rate for b in bins],
                        name=cal.model, mode="lines+markers", marker={"size": 8},
                        text=[f"{b.contacts} contacts" for b in bins], line={"color": COLORS[(i + 2) % len(COLORS)]})
    fig.update_layout(**LAYOUT, title="Calibration of the predictive score",
                      xaxis={"title": "predicted probability", "range": [0, 1]},
                      yaxis={"title": "observed conversion", "range": [0, 1]})
    return fig


def all_figures(report: Report) -> dict[str, tuple[str, Any]]:
    """Every chart the report has data for: name → (div id, Plotly figure)."""
    builders = [("tiers", tiers_figure), ("gains", gains_figure), ("deciles", deciles_figure)]
    if report.distribution.bin_counts:
        builders.append(("distribution", distribution_figure))
    if len(report.rolling) > 1:
        builders.append(("rolling", rolling_figure))
    if any(c.calibration is not None for c in report.calibration):
        builders.append(("calibration", calibration_figure))
    return {name: (f"chart-{name}", build(report)) for name, build in builders}


def all_charts(report: Report) -> dict[str, str]:
    """Every chart as an HTML fragment (a div and its script), for the offline report file."""
    return {name: _div(fig, div_id) for name, (div_id, fig) in all_figures(report).items()}
