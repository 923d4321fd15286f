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
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import numpy as np

from leadscore.reports.frame import ScoredFrame

EVERYONE = 0.95
NO_ONE = 0.005
MIN_SIDE = 20
Z_CLEAR = 2.0
DUPLICATE_JACCARD = 0.9


class FlagKind(StrEnum):
    """What a flag says about a rule; the value is the ``kind`` of ``flag_details`` in ``--json``."""

    NEVER_FIRES = "never_fires"
    ALMOST_NO_ONE = "almost_no_one"
    ALMOST_EVERYONE = "almost_everyone"
    CONTRADICTS_SIGN = "contradicts_sign"
    NEAR_DUPLICATE = "near_duplicate"


@dataclass(frozen=True)
class RuleFlag:
    """One flag of a rule as data, so findings read fields instead of parsing sentences.

    ``text`` is the only place a flag becomes words (the HTML report, ``leadscore audit`` and the
    ``flags`` of ``--json`` all show it)::

        RuleFlag(FlagKind.NEAR_DUPLICATE, partner="referral", partner_index=5).text
        # 'near-duplicate of `referral`'
    """

    kind: FlagKind
    converts: Literal["worse", "better"] | None = None  # CONTRADICTS_SIGN: how its contacts convert
    partner: str | None = None  # NEAR_DUPLICATE: the other rule's name …
    partner_index: int | None = None  # … and its index (names repeat across groups)

    def __post_init__(self) -> None:
        if (self.kind is FlagKind.CONTRADICTS_SIGN) != (self.converts is not None):
            raise ValueError("`converts` is set exactly on a contradicts-its-sign flag")
        if (self.kind is FlagKind.NEAR_DUPLICATE) != (self.partner is not None and self.partner_index is not None):
            raise ValueError("`partner` and `partner_index` are set exactly on a near-duplicate flag")

    @property
    def text(self) -> str:
        if self.kind is FlagKind.CONTRADICTS_SIGN:
            return f"contradicts its sign: converts {self.converts} when it fires"
        if self.kind is FlagKind.NEAR_DUPLICATE:
            return f"near-duplicate of `{self.partner}`"
        return _PLAIN_TEXT[self.kind]

    def __str__(self) -> str:
        return self.text


_PLAIN_TEXT = {
    FlagKind.NEVER_FIRES: "never fires",
    FlagKind.ALMOST_NO_ONE: "fires on almost no one",
    FlagKind.ALMOST_EVERYONE: "fires on almost everyone",
}


@dataclass
class RuleImpact:
    """One rule's row of the rule impact table.

    ``flag_details`` is what was found; ``flags`` is the same in words, derived once here so the
    two cannot disagree (``flags`` keeps its place and shape in ``--json`` for existing readers).
    """

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
    flags: list[str] = field(init=False)
    flag_details: tuple[RuleFlag, ...] = ()
    points_value: float = 0.0  # ``points`` as a number: the award, or the award per event

    def __post_init__(self) -> None:
        self.flags = [flag.text for flag in self.flag_details]


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
    names = {info.index: info.name for info in frame.rules}
    twins = _near_duplicates(frame)
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
        fire_rate = n1 / n if n else None
        flags = (*_flags(info.sign, fire_rate, z, n1, n0),
                 *(RuleFlag(FlagKind.NEAR_DUPLICATE, partner=names[j], partner_index=j)
                   for j in twins.get(info.index, [])))
        out.append(RuleImpact(info.index, info.group, info.name, info.describe_points(), info.sign, n1,
                              fire_rate, r1, r0, r1 / base if r1 is not None and base else None, z, flags,
                              points_value=info.nominal_points()))
    return out


def _flags(sign: int, fire_rate: float | None, z: float | None, n1: int, n0: int) -> Iterator[RuleFlag]:
    if fire_rate is None:
        return
    if n1 == 0:
        yield RuleFlag(FlagKind.NEVER_FIRES)
    elif fire_rate < NO_ONE:
        yield RuleFlag(FlagKind.ALMOST_NO_ONE)
    elif fire_rate >= EVERYONE:
        yield RuleFlag(FlagKind.ALMOST_EVERYONE)
    clear = z is not None and abs(z) >= Z_CLEAR and n1 >= MIN_SIDE and n0 >= MIN_SIDE
    if clear and z is not None and sign * z < 0:
        yield RuleFlag(FlagKind.CONTRADICTS_SIGN, converts="worse" if sign > 0 else "better")


def _near_duplicates(frame: ScoredFrame) -> dict[int, list[int]]:
    """Rule index → indexes of the rules firing on nearly the same contacts, in increasing order."""
    fired = frame.fired
    twins: dict[int, list[int]] = {}
    if fired.shape[0] == 0:
        return twins
    counts = fired.sum(axis=0)
    both = fired.T.astype(np.int64) @ fired.astype(np.int64)
    for i in range(fired.shape[1]):
        for j in range(i + 1, fired.shape[1]):
            union = counts[i] + counts[j] - both[i, j]
            if min(counts[i], counts[j]) < MIN_SIDE or union == 0:
                continue
            if both[i, j] / union >= DUPLICATE_JACCARD:
                twins.setdefault(i, []).append(j)
                twins.setdefault(j, []).append(i)
    return twins
