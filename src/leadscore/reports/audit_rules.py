"""Rule impact: which rules are worth their points.

For each rule, on a backtest population: how often it fires, the conversion rate of contacts
where it fired and where it did not, and its lift (conversion when fired over the base rate).
Flags, each meant to be acted on:

* ``fires on almost everyone`` (≥ 95%) or ``almost no one`` (< 0.5%, or never): the rule barely
  separates anybody, so its points mostly shift every score alike;
* ``contradicts its sign``: positive points on contacts that convert *worse* than the others, or
  negative points on contacts that convert *better* — only when the gap is clear (a two-proportion
  z-test with |z| ≥ 2 and at least 20 contacts on each side), so noise on tiny groups is not flagged;
* ``near-duplicate of …``: two rules firing on nearly the same contacts (Jaccard ≥ 0.9 of the sets
  they fire on) count the same signal twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from leadscore.reports.frame import ScoredFrame

EVERYONE = 0.95
NO_ONE = 0.005
MIN_SIDE = 20
Z_CLEAR = 2.0
DUPLICATE_JACCARD = 0.9


@dataclass
class RuleImpact:
    index: int
    group: str
    rule: str
    points: str  # as written: "+10", "+2 per event, max 10"
    sign: int
    fired: int
    fire_rate: float | None
    rate_fired: float | None
    rate_not_fired: float | None
    lift: float | None
    z: float | None
    flags: list[str] = field(default_factory=list)


def two_proportion_z(k1: int, n1: int, k0: int, n0: int) -> float | None:
    """z of the difference between two conversion rates (pooled standard error)."""
    if n1 == 0 or n0 == 0:
        return None
    pooled = (k1 + k0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if se == 0:
        return None
    return (k1 / n1 - k0 / n0) / se


def rule_impact(frame: ScoredFrame) -> list[RuleImpact]:
    """One row per rule of the frame's model, in file order, with its flags."""
    y = frame.converted
    n = frame.n
    base = float(y.mean()) if n else None
    out: list[RuleImpact] = []
    for info in frame.rules:
        f = frame.fired[:, info.index]
        n1 = int(f.sum())
        n0 = n - n1
        k1 = int(y[f].sum())
        k0 = int(y[~f].sum())
        r1 = k1 / n1 if n1 else None
        r0 = k0 / n0 if n0 else None
        z = two_proportion_z(k1, n1, k0, n0)
        impact = RuleImpact(info.index, info.group, info.name, info.describe_points(), info.sign, n1,
                            n1 / n if n else None, r1, r0,
                            r1 / base if r1 is not None and base else None, z)
        impact.flags = _flags(impact, n1, n0)
        out.append(impact)
    _flag_duplicates(frame, out)
    return out


def _flags(r: RuleImpact, n1: int, n0: int) -> list[str]:
    flags: list[str] = []
    if r.fire_rate is None:
        return flags
    if n1 == 0:
        flags.append("never fires")
    elif r.fire_rate < NO_ONE:
        flags.append("fires on almost no one")
    elif r.fire_rate >= EVERYONE:
        flags.append("fires on almost everyone")
    clear = r.z is not None and abs(r.z) >= Z_CLEAR and n1 >= MIN_SIDE and n0 >= MIN_SIDE
    if clear and r.z is not None and r.sign * r.z < 0:
        flags.append("contradicts its sign: " + ("converts worse when it fires" if r.sign > 0
                                                 else "converts better when it fires"))
    return flags


def _flag_duplicates(frame: ScoredFrame, rows: list[RuleImpact]) -> None:
    """Mark pairs of rules firing on nearly the same contacts."""
    fired = frame.fired
    if fired.shape[0] == 0:
        return
    counts = fired.sum(axis=0)
    both = fired.T.astype(np.int64) @ fired.astype(np.int64)
    for i in range(fired.shape[1]):
        for j in range(i + 1, fired.shape[1]):
            union = counts[i] + counts[j] - both[i, j]
            if min(counts[i], counts[j]) < MIN_SIDE or union == 0:
                continue
            if both[i, j] / union >= DUPLICATE_JACCARD:
                rows[i].flags.append(f"near-duplicate of `{rows[j].rule}`")
                rows[j].flags.append(f"near-duplicate of `{rows[i].rule}`")

