"""Backtests: score the past, compare with what happened next, and compare two models.

``backtest`` scores every contact of the population as of a past date (only what was known then:
the compiled query hides later events and later contacts) and measures the score against the
outcome in the horizon after it. ``compare`` puts two models side by side on the same population
and counts tier moves: a move is "the right way" when a contact moved up and converted, or moved
down and did not. ``rolling`` repeats a backtest over several as-of dates to show stability.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from leadscore.engine.run import last_as_of
from leadscore.errors import LeadscoreError
from leadscore.model.account_spec import AccountModel
from leadscore.model.loader import AnyModel
from leadscore.reports.frame import ScoredFrame, Target, score_frame
from leadscore.reports.metrics import BandStats, TopShare, by_tier, roc_auc, top_share
from leadscore.reports.outcomes import Outcome, checked_outcome, horizon_observed
from leadscore.storage.store import Store
from leadscore.timeutil import parse_duration, utcnow


@dataclass
class BacktestResult:
    """A model's backtest at one as-of date."""

    model: str
    source: str  # "b2b v3" or the draft file
    as_of: datetime
    outcome: str  # what counted as converting, in words
    horizon_days: float | None
    horizon_observed: bool
    contacts: int
    converters: int
    base_rate: float | None
    auc: float | None
    top10: TopShare
    top20: TopShare
    tiers: list[BandStats]
    missed: int  # converters in the lowest tier
    tiers_ordered: bool  # conversion rate rises with the tier (over non-empty tiers)
    level: str = "contact"  #: "account": the rows (``contacts``) are companies

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_as_of(store: Store, model: AnyModel, outcome: Outcome) -> datetime:
    """Where a backtest looks from when no date is given.

    The as-of of the model's latest whole-base score run (the scores users see); else the latest
    event; else now. In deal mode that date's horizon may not have passed yet: the result says so.
    """
    when = last_as_of(store, model.name)
    if when is not None:
        return when
    row = store.con.execute("SELECT max(occurred_at) FROM events").fetchone()
    return row[0] if row and row[0] is not None else utcnow()


def tiers_ordered(tiers: list[BandStats]) -> bool:
    """Does the conversion rate rise (weakly) from each non-empty tier to the next one up?"""
    rates = [t.rate for t in tiers if t.contacts and t.rate is not None]
    return all(a <= b for a, b in zip(rates, rates[1:], strict=False))


def summarise(frame: ScoredFrame, source: str) -> BacktestResult:
    """Every backtest figure of a scored frame."""
    y, s = frame.converted, frame.score
    tiers = by_tier(frame.tiers, frame.tier, y, s, frame.days_to_close, frame.deal_value)
    lowest = frame.tiers[0]
    outcome = frame.outcome
    return BacktestResult(
        model=frame.model.name, source=source, as_of=frame.as_of, outcome=outcome.describe(),
        horizon_days=None if outcome.label else outcome.horizon.total_seconds() / 86_400,
        horizon_observed=True, contacts=frame.n, converters=frame.positives,
        base_rate=float(y.mean()) if frame.n else None, auc=roc_auc(y, s),
        top10=top_share(y, s, 0.10), top20=top_share(y, s, 0.20), tiers=tiers,
        missed=int(y[frame.tier == lowest].sum()), tiers_ordered=tiers_ordered(tiers), level=frame.level,
    )


def backtest_frame(store: Store, model: AnyModel, source: str, as_of: datetime,
                   outcome: Outcome) -> tuple[BacktestResult, ScoredFrame]:
    frame = score_frame(store, model, as_of, outcome)
    result = summarise(frame, source)
    result.horizon_observed = horizon_observed(store, as_of, outcome)
    return result, frame


@dataclass
class TierMoves:
    """How contacts move between the tiers of model A and model B, and whether that helps."""

    changed: int
    up: int
    up_converters: int
    down: int
    down_converters: int
    right_way: int  # moved up and converted + moved down and did not
    matrix: list[dict[str, Any]] = field(default_factory=list)  # from, to, contacts, converters

    @property
    def right_share(self) -> float | None:
        return self.right_way / self.changed if self.changed else None

    @property
    def up_rate(self) -> float | None:
        """Conversion rate of the contacts moved up: it should beat ``down_rate``."""
        return self.up_converters / self.up if self.up else None

    @property
    def down_rate(self) -> float | None:
        return self.down_converters / self.down if self.down else None


def tier_moves(a: ScoredFrame, b: ScoredFrame) -> TierMoves:
    """Tier moves from ``a`` to ``b`` over the contacts both scored (the same population)."""
    common, ia, ib = np.intersect1d(a.contact_id.astype(str), b.contact_id.astype(str),
                                    return_indices=True)
    ra = a.tier_rank()[ia]
    rb = b.tier_rank()[ib]
    y = a.converted[ia]
    # Tiers of two models may differ in names and number: compare positions scaled to 0..1.
    pa = ra / max(1, len(a.tiers) - 1)
    pb = rb / max(1, len(b.tiers) - 1)
    ta, tb = a.tier[ia], b.tier[ib]
    moved = ta != tb
    up = moved & (pb > pa)
    down = moved & (pb < pa)
    matrix = []
    pairs: dict[tuple[str, str], list[int]] = {}
    for f, t, c in zip(ta[moved], tb[moved], y[moved], strict=True):
        entry = pairs.setdefault((str(f), str(t)), [0, 0])
        entry[0] += 1
        entry[1] += int(c)
    for (f, t), (n, c) in sorted(pairs.items()):
        matrix.append({"from": f, "to": t, "contacts": n, "converters": c})
    right = int((up & y).sum() + (down & ~y).sum())
    return TierMoves(int(moved.sum()), int(up.sum()), int((up & y).sum()), int(down.sum()),
                     int((down & y).sum()), right, matrix)


@dataclass
class Comparison:
    a: BacktestResult
    b: BacktestResult
    moves: TierMoves

    def to_dict(self) -> dict[str, Any]:
        d = {"a": self.a.to_dict(), "b": self.b.to_dict(), "moves": asdict(self.moves)}
        d["moves"].update(right_share=self.moves.right_share, up_rate=self.moves.up_rate,
                          down_rate=self.moves.down_rate)
        return d


def compare(store: Store, a: Target, b: Target, as_of: datetime, outcome: Outcome,
            mask: Callable[[ScoredFrame], np.ndarray] | None = None) -> Comparison:
    """Two models backtested on the same population, side by side, with the tier moves.

    ``mask`` restricts both to some contacts (a held-out sample, say) before summarising.
    """
    if isinstance(a.model, AccountModel) != isinstance(b.model, AccountModel):
        raise LeadscoreError(f"cannot compare {a.source} with {b.source}: one scores companies, the other "
                             "contacts (compare two account models, or two contact models)")
    fa = score_frame(store, a.model, as_of, outcome)
    fb = score_frame(store, b.model, as_of, outcome)
    if mask is not None:
        fa, fb = fa.subset(mask(fa)), fb.subset(mask(fb))
    ra, rb = summarise(fa, a.source), summarise(fb, b.source)
    ra.horizon_observed = rb.horizon_observed = horizon_observed(store, as_of, outcome)
    return Comparison(ra, rb, tier_moves(fa, fb))


def rolling_dates(end: datetime, count: int, step: timedelta) -> list[datetime]:
    """``count`` as-of dates ending at ``end``, ``step`` apart, oldest first."""
    if count < 1:
        raise LeadscoreError("--rolling needs at least one date")
    return [end - step * i for i in range(count - 1, -1, -1)]


def rolling(store: Store, model: AnyModel, source: str, dates: list[datetime],
            outcome: Outcome) -> list[BacktestResult]:
    """The same backtest at each date: is the model's ranking stable over time?"""
    return [backtest_frame(store, model, source, when, outcome)[0] for when in dates]


@dataclass
class BacktestRun:
    """What ``leadscore backtest`` shows: one result, or a comparison, plus an optional rolling series."""

    result: BacktestResult
    comparison: Comparison | None = None
    rolling: list[BacktestResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"result": self.result.to_dict(),
                "comparison": self.comparison.to_dict() if self.comparison else None,
                "rolling": [r.to_dict() for r in self.rolling]}


def run_backtest(store: Store, model: str | Path | Target | None, *, as_of: datetime | None = None,
                 horizon: str | int | timedelta = "90d", label: str | None = None,
                 vs: str | Path | Target | None = None, rolling_count: int = 0,
                 step: str | int | timedelta = "30d") -> BacktestRun:
    """The library's backtest: a model name or draft file, optionally against another (``vs``)."""
    from leadscore.reports.frame import load_target
    from leadscore.reports.outcomes import parse_horizon

    target = load_target(store, model)
    outcome = checked_outcome(store, Outcome(parse_horizon(horizon), label))
    when = as_of if as_of is not None else default_as_of(store, target.model, outcome)
    if vs is not None:
        other = load_target(store, vs)
        comparison = compare(store, other, target, when, outcome)  # moves: from the baseline to the model
        run = BacktestRun(comparison.b, comparison)
    else:
        run = BacktestRun(backtest_frame(store, target.model, target.source, when, outcome)[0])
    if rolling_count > 1:
        dates = rolling_dates(when, rolling_count, parse_duration(step, "step"))
        # the last date is `when`, scored above: reuse that result rather than scoring it again
        run.rolling = [*rolling(store, target.model, target.source, dates[:-1], outcome), run.result]
    return run
