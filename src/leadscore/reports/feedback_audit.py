"""Feedback from the field as a reweighting input: which rules fire on the leads reps dispute.

Reps say a score "looks right", is "too high" or "too low" (``leadscore/feedback.py``). For each
rule this compares how often it fires on the leads whose latest feedback says *too high* with how
often it fires on every other scored lead, and the same for *too low*. A rule firing far more
often on over-scored leads is likely worth too much (or too broad); one firing far more often on
under-scored leads is a penalty that bites too hard, or a signal worth more than it gets.

"Fires" is measured now: the model is run once, with ``detail=True``, over the whole base at the
as-of of its latest score run (nothing is written), so a rule already changed in a draft is judged
by what it does now. "Far more often": at least ``MIN_FIRED`` disputed leads, a rate at least
``MIN_RATIO`` times the rest's, and a two-proportion z of at least 2 (about 95% one-sided).
Nothing here is shown when there is no feedback on the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from leadscore.engine.run import compiled_sql, last_as_of
from leadscore.model.spec import ScoringModel
from leadscore.reports.audit_rules import two_proportion_z
from leadscore.reports.frame import rule_infos
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

MIN_FIRED = 3
MIN_RATIO = 2.0
MIN_Z = 2.0
DIRECTIONS = ("too_high", "too_low")


@dataclass
class FeedbackRule:
    """One rule against one direction of dispute."""

    group: str
    rule: str
    points: str
    sign: int
    direction: str  # too_high | too_low
    disputed: int  # leads whose latest verdict is `direction`
    fired_disputed: int
    rest: int  # every other scored lead
    fired_rest: int
    z: float | None

    @property
    def rate_disputed(self) -> float | None:
        return self.fired_disputed / self.disputed if self.disputed else None

    @property
    def rate_rest(self) -> float | None:
        return self.fired_rest / self.rest if self.rest else None

    @property
    def ratio(self) -> float | None:
        a, b = self.rate_disputed, self.rate_rest
        if a is None or b is None:
            return None
        return float("inf") if b == 0 and a > 0 else (a / b if b else None)

    @property
    def flagged(self) -> bool:
        ratio = self.ratio
        return (self.fired_disputed >= MIN_FIRED and ratio is not None and ratio >= MIN_RATIO
                and self.z is not None and self.z >= MIN_Z)


@dataclass
class FeedbackAudit:
    model: str
    as_of: datetime
    contacts: int  # scored leads in the population
    by_verdict: dict[str, int]  # leads per verdict of their latest feedback
    by_tier: dict[str, dict[str, int]]  # tier (when the feedback was given) -> verdict -> leads
    rules: list[FeedbackRule] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_verdict.values())

    @property
    def flagged(self) -> list[FeedbackRule]:
        return [r for r in self.rules if r.flagged]


def has_feedback(store: Store, model: str) -> bool:
    return store.con.execute("SELECT 1 FROM feedback WHERE model = ? LIMIT 1", [model]).fetchone() is not None


def feedback_audit(store: Store, model: ScoringModel, *, as_of: datetime | None = None) -> FeedbackAudit | None:
    """The audit of ``model`` against its feedback; None when no one gave feedback on it."""
    if not has_feedback(store, model.name):
        return None
    when = as_of or last_as_of(store, model.name) or utcnow()
    infos = rule_infos(model)
    fired = ", ".join(f"count(*) FILTER (WHERE s.rf_{i.index})" for i in infos) or "NULL"
    latest = """SELECT contact_id, arg_max(verdict, created_at) AS verdict, arg_max(tier, created_at) AS tier
                FROM feedback WHERE model = $model GROUP BY contact_id"""
    rows = store.con.execute(
        f"""SELECT f.verdict, count(*), {fired} FROM ({compiled_sql(store, model, when, detail=True)}) AS s
            LEFT JOIN ({latest}) AS f USING (contact_id) GROUP BY f.verdict""", {"model": model.name}).fetchall()
    groups = {r[0]: (int(r[1]), [int(x or 0) for x in r[2:]]) for r in rows}
    contacts = sum(n for n, _ in groups.values())
    tiers = store.con.execute(f"SELECT tier, verdict, count(*) FROM ({latest}) GROUP BY ALL",
                              {"model": model.name}).fetchall()
    by_tier: dict[str, dict[str, int]] = {t: {} for t, _ in sorted(model.tiers.items(), key=lambda kv: -kv[1])}
    for tier, verdict, n in tiers:
        by_tier.setdefault(tier, {})[verdict] = int(n)
    by_verdict = {v: sum(t.get(v, 0) for t in by_tier.values()) for v in ("right", *DIRECTIONS)}
    out = FeedbackAudit(model.name, when, contacts, by_verdict, by_tier)
    for direction in DIRECTIONS:
        n1, fired1 = groups.get(direction, (0, [0] * len(infos)))
        if not n1:
            continue
        n0 = contacts - n1
        for info in infos:
            k1 = fired1[info.index]
            k0 = sum(f[info.index] for v, (_, f) in groups.items() if v != direction)
            out.rules.append(FeedbackRule(info.group, info.name, info.describe_points(), info.sign, direction,
                                          n1, k1, n0, k0, two_proportion_z(k1, n1, k0, n0)))
    return out
