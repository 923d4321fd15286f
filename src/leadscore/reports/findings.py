"""Findings: what the report's numbers mean, in sentences a RevOps lead can act on.

Each finding is derived from figures already in the report (nothing is recomputed here), states
the number it rests on, and, where there is one, says what to do about it. Order: does the score
work at all, where it fails, which rules to change, where to draw the line, what is stuck.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore.predictive.calibrate import ECE_HONEST
from leadscore.reports.audit_rules import FlagKind, RuleImpact
from leadscore.reports.calibration import PredictiveCalibration
from leadscore.reports.feedback_audit import FeedbackAudit

if TYPE_CHECKING:
    from leadscore.reports.build import Report


#: Fewer converters than this make an AUC too noisy to compare between dates.
MIN_CONVERTERS = 20


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def auc_words(auc: float) -> str:
    if auc >= 0.8:
        return "strong"
    if auc >= 0.7:
        return "useful"
    if auc >= 0.6:
        return "weak"
    return "barely better than chance"


def findings_for(report: Report) -> list[str]:
    """Plain-language findings, most important first; feedback from reps whatever the backtest found."""
    return _backtest_findings(report) + feedback_findings(report.feedback)


def _backtest_findings(report: Report) -> list[str]:
    bt = report.backtest
    out: list[str] = []
    if bt.contacts == 0:
        return [f"No contacts existed (and had not yet converted) on {bt.as_of:%Y-%m-%d}: nothing to measure."]
    if not bt.horizon_observed:
        out.append(f"The data ends before {bt.as_of:%Y-%m-%d} + {bt.horizon_days:g} days: late converters "
                   "are not in the store yet, so conversion rates are a lower bound.")
    if bt.converters == 0:
        out.append(f"None of the {bt.contacts:,} contacts converted ({report.outcome}): "
                   "pick an earlier --as-of or a longer --horizon.")
        return out
    rates = ", ".join(f"{t.name} {pct(t.rate)}" for t in bt.tiers if t.contacts)
    if bt.tiers_ordered:
        out.append(f"Conversion rises with the tier ({rates}): the tiers rank leads in the right order.")
    else:
        out.append(f"The tiers are out of order ({rates}): a higher tier does not mean a likelier buyer; "
                   "see the rule impact table for the rules that push the wrong people up.")
    if bt.auc is not None:
        out.append(f"AUC {bt.auc:.2f} ({auc_words(bt.auc)}): a random converter outscores a random "
                   f"non-converter {bt.auc:.0%} of the time.")
    t10 = bt.top10
    if t10.lift is not None:
        out.append(f"Calling the top 10% by score ({t10.contacts:,.0f} contacts) would have reached "
                   f"{pct(t10.capture, 0)} of converters, {t10.lift:.1f}× better than calling at random.")
    lowest = bt.tiers[0]
    if bt.missed:
        out.append(f"{bt.missed:,} converters ({pct(bt.missed / bt.converters, 0)} of all) sat in the lowest "
                   f"tier ({lowest.name}) — missed leads; look at what they share before lowering the bar.")
    out += _rule_findings(report.rules)
    out += _threshold_findings(report)
    if report.stuck.stuck:
        tiers = ", ".join(f"{n:,} in {t}" for t, n in report.stuck.by_tier.items() if n)
        out.append(f"{report.stuck.stuck:,} leads have been stuck in a middle tier for more than "
                   f"{report.stuck.days} days ({tiers}): nurture them or let them go.")
    measured = [r for r in report.rolling if r.auc is not None and r.converters >= MIN_CONVERTERS]
    if len(measured) > 1:
        aucs = [r.auc for r in measured if r.auc is not None]
        spread = max(aucs) - min(aucs)
        words = "stable" if spread < 0.05 else "unstable: check what changed between those dates"
        skipped = len(report.rolling) - len(measured)
        note = f"; {skipped} date(s) with fewer than {MIN_CONVERTERS} converters left out" if skipped else ""
        out.append(f"Over {len(measured)} as-of dates the AUC ranged {min(aucs):.2f}–{max(aucs):.2f} "
                   f"({words}{note}).")
    out += _predictive_findings(report.calibration)
    return out


def _predictive_findings(calibrations: list[PredictiveCalibration]) -> list[str]:
    """One sentence per predictive model, measured on its held-out rows (``reports/calibration``)."""
    out: list[str] = []
    for cal in calibrations:
        if cal.calibration is None or cal.calibration.ece is None or not cal.calibration.contacts:
            out.append(f"Predictive model `{cal.model}` v{cal.version} has no held-out rows kept from its "
                       "training, so its calibration cannot be measured honestly: retrain it (`leadscore train`).")
            continue
        c = cal.calibration
        ece = c.ece or 0.0
        mean_p = sum(b.mean_predicted * b.contacts for b in c.bins if b.mean_predicted is not None) / c.contacts
        observed = c.converters / c.contacts
        verdict = (f"honest (calibration error below {ECE_HONEST})" if cal.honest
                   else "too optimistic" if mean_p > observed else "too pessimistic")
        auc = f", AUC {c.auc:.3f}" if c.auc is not None else ""
        out.append(f"Predictive model `{cal.model}` v{cal.version}: calibration error {ece:.3f}{auc} on "
                   f"{c.contacts:,} {cal.held_out} (predicted {pct(mean_p)} on average, observed "
                   f"{pct(observed)}): probabilities look {verdict}.")
    return out


def _rule_findings(rules: list[RuleImpact]) -> list[str]:
    out = []
    for r in rules:
        for flag in r.flag_details:
            if flag.kind is FlagKind.CONTRADICTS_SIGN:
                if flag.converts == "worse":
                    out.append(f"The '{r.rule}' rule ({r.points}) fires on {pct(r.fire_rate, 0)} of contacts, "
                               f"who convert at {pct(r.rate_fired)} against {pct(r.rate_not_fired)} for the "
                               "rest: consider lowering it or making it negative.")
                else:
                    out.append(f"The '{r.rule}' rule ({r.points}) marks contacts who convert better "
                               f"({pct(r.rate_fired)} against {pct(r.rate_not_fired)}): "
                               "consider dropping the penalty.")
            elif flag.kind is FlagKind.ALMOST_EVERYONE:
                out.append(f"The '{r.rule}' rule fires on {pct(r.fire_rate, 0)} of contacts: its points lift "
                           "almost everyone alike; make it narrower or drop it.")
            elif flag.kind in (FlagKind.NEVER_FIRES, FlagKind.ALMOST_NO_ONE):
                out.append(f"The '{r.rule}' rule fires on {r.fired:,} contacts ({pct(r.fire_rate, 2)}): "
                           "check its condition (a misspelt value or event type?).")
            elif (flag.kind is FlagKind.NEAR_DUPLICATE and flag.partner_index is not None
                  and r.index < flag.partner_index):  # one sentence per pair, from its first rule
                out.append(f"The '{r.rule}' rule is a {flag.text}: they fire on nearly the same contacts, so "
                           "that signal counts twice; merge them or lower one.")
    positive = [r for r in rules if r.sign > 0 and r.lift is not None and r.z is not None and r.z >= 2]
    if len(positive) >= 3:
        best = max(positive, key=lambda r: r.lift or 0.0)
        points = sorted(r.points_value for r in positive)
        median = (points[(len(points) - 1) // 2] + points[len(points) // 2]) / 2
        if best.points_value < median:
            out.append(f"The strongest signal is '{best.rule}' (converts {best.lift:.1f}× the average when it "
                       f"fires) but it is worth only {best.points} points: consider raising it "
                       "(`leadscore suggest` proposes weights).")
    return out


def feedback_findings(audit: FeedbackAudit | None) -> list[str]:
    """Sentences for the report: each flagged rule, then the share of feedback by tier."""
    if audit is None or not audit.total:
        return []
    out = []
    for r in audit.flagged:
        called = "over-scored" if r.direction == "too_high" else "under-scored"
        if r.direction == "too_high":
            advice = ("it may be worth too much or fire too broadly: consider lowering it or narrowing its "
                      "condition" if r.sign >= 0 else "its penalty is not enough to offset the rest")
        else:
            advice = ("its penalty may bite too hard: consider softening it" if r.sign < 0
                      else "it marks leads reps value more than the model does: consider raising it")
        out.append(f"The '{r.rule}' rule ({r.points}) fires on {pct(r.rate_disputed, 0)} of the {r.disputed:,} "
                   f"leads reps called {called}, against {pct(r.rate_rest, 0)} of the other leads: {advice}.")
    parts = []
    for tier, verdicts in audit.by_tier.items():
        n = sum(verdicts.values())
        if n:
            detail = ", ".join(f"{verdicts[v]:,} {v.replace('_', ' ')}" for v in ("too_high", "too_low", "right")
                               if verdicts.get(v))
            parts.append(f"{tier} {n / audit.total:.0%} ({detail})")
    out.append(f"Feedback from reps on {audit.total:,} leads, by tier at the time: " + "; ".join(parts) + ".")
    return out


def _threshold_findings(report: Report) -> list[str]:
    if not report.thresholds:
        return []
    current, *others = report.thresholds
    out = []
    for t in others:
        if t.reason.startswith("precision") and abs(t.score - current.score) > 1e-9:
            more = t.contacts - current.contacts
            out.append(f"A top-tier bound of {t.score:.1f} instead of {current.score:g} would keep "
                       f"{t.reason} ({pct(t.precision)}) and reach {pct(t.recall, 0)} of converters "
                       f"({more:+,} leads).")
        elif not t.reason.startswith("precision"):
            out.append(f"At {t.reason}, sales reach the leads scoring {t.score:.1f} or more "
                       f"({t.contacts:,} leads, {pct(t.precision)} of whom converted, {pct(t.recall, 0)} "
                       "of all converters).")
    return out
