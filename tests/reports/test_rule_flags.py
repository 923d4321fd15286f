"""Rule flags are data: findings read their fields, and their words are written in one place."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from tests.reports.handdata import T

from leadscore.model.loader import parse_model
from leadscore.reports.audit_rules import FlagKind, RuleFlag, RuleImpact, rule_impact
from leadscore.reports.findings import _rule_findings
from leadscore.reports.frame import ScoredFrame
from leadscore.reports.html import to_json
from leadscore.reports.outcomes import Outcome


def _impact(index: int, rule: str, *flags: RuleFlag, points: str = "+10", sign: int = 1,
            fired: int = 60, fire_rate: float = 0.3) -> RuleImpact:
    return RuleImpact(index, "g", rule, points, sign, fired, fire_rate, 0.1, 0.4, 0.5, -3.0, flags)


def test_each_flag_reads_as_before() -> None:
    """The words are the report's, `leadscore audit`'s and `--json`'s `flags`: they must not drift."""
    texts = {
        RuleFlag(FlagKind.NEVER_FIRES): "never fires",
        RuleFlag(FlagKind.ALMOST_NO_ONE): "fires on almost no one",
        RuleFlag(FlagKind.ALMOST_EVERYONE): "fires on almost everyone",
        RuleFlag(FlagKind.CONTRADICTS_SIGN, converts="worse"): "contradicts its sign: converts worse when it fires",
        RuleFlag(FlagKind.CONTRADICTS_SIGN, converts="better"): "contradicts its sign: converts better when it fires",
        RuleFlag(FlagKind.NEAR_DUPLICATE, partner="twin b", partner_index=4): "near-duplicate of `twin b`",
    }
    for flag, text in texts.items():
        assert flag.text == text == str(flag)
    impact = _impact(0, "r", *texts)
    assert impact.flags == list(texts.values())  # derived from the details, in their order


def test_incomplete_flags_are_refused() -> None:
    with pytest.raises(ValueError, match="converts"):
        RuleFlag(FlagKind.CONTRADICTS_SIGN)
    with pytest.raises(ValueError, match="partner"):
        RuleFlag(FlagKind.NEAR_DUPLICATE, partner="x")
    with pytest.raises(ValueError, match="converts"):
        RuleFlag(FlagKind.NEVER_FIRES, converts="worse")


def test_findings_come_from_the_fields_not_the_words() -> None:
    rules = [
        _impact(0, "rare", RuleFlag(FlagKind.ALMOST_NO_ONE), fired=3, fire_rate=0.003),
        _impact(1, "ebook", RuleFlag(FlagKind.CONTRADICTS_SIGN, converts="worse")),
        _impact(2, "chat", RuleFlag(FlagKind.CONTRADICTS_SIGN, converts="better"), points="-5", sign=-1),
        # a partner name with a backtick: the old parse of "near-duplicate of `…`" lost the pair
        _impact(3, "a`b", RuleFlag(FlagKind.NEAR_DUPLICATE, partner="form", partner_index=4)),
        _impact(4, "form", RuleFlag(FlagKind.NEAR_DUPLICATE, partner="a`b", partner_index=3)),
    ]
    assert _rule_findings(rules) == [
        "The 'rare' rule fires on 3 contacts (0.30%): check its condition (a misspelt value or event type?).",
        "The 'ebook' rule (+10) fires on 30% of contacts, who convert at 10.0% against 40.0% for the rest: "
        "consider lowering it or making it negative.",
        "The 'chat' rule (-5) marks contacts who convert better (10.0% against 40.0%): consider dropping the penalty.",
        "The 'a`b' rule is a near-duplicate of `form`: they fire on nearly the same contacts, so that signal "
        "counts twice; merge them or lower one.",
    ]


TWINS_MODEL = """\
version: 1
name: twins
groups:
  fit:
    rules:
      - {name: web, when: {property: country, equals: FR}, points: 3}
  source:
    rules:
      - {name: web, when: {property: city, equals: Paris}, points: 3}
"""


def test_same_named_twins_in_two_groups_get_one_finding() -> None:
    """Rule names are unique per group only; the pair is told apart by index, not by name."""
    n = 100
    fired = np.zeros((n, 2), bool)
    fired[:40, :] = True
    y = np.arange(n) % 4 == 0
    frame = ScoredFrame(parse_model(TWINS_MODEL).model, T, Outcome(timedelta(days=30)),
                        np.array([f"c{i:03d}" for i in range(n)], object), np.zeros(n),
                        np.array(["cold"] * n, object), fired, fired * 1.0, y,
                        np.full(n, np.nan), np.full(n, np.nan))
    rows = rule_impact(frame)
    assert [r.flag_details for r in rows] == [
        (RuleFlag(FlagKind.NEAR_DUPLICATE, partner="web", partner_index=1),),
        (RuleFlag(FlagKind.NEAR_DUPLICATE, partner="web", partner_index=0),),
    ]
    assert sum("near-duplicate" in t for t in _rule_findings(rows)) == 1


def test_json_keeps_flags_as_words_and_adds_the_details() -> None:
    impact = _impact(1, "ebook", RuleFlag(FlagKind.CONTRADICTS_SIGN, converts="worse"))
    data = json.loads(to_json(impact))
    assert data["flags"] == ["contradicts its sign: converts worse when it fires"]
    assert data["flag_details"] == [{"kind": "contradicts_sign", "converts": "worse", "partner": None,
                                     "partner_index": None}]


def test_strongest_signal_compares_points_as_numbers() -> None:
    """A per-event rule's points count by their award per event, read from the rule itself."""
    def strong(index: int, rule: str, points: str, value: float, lift: float) -> RuleImpact:
        return RuleImpact(index, "g", rule, points, 1, 100, 0.2, 0.5, 0.1, lift, 4.0,
                          points_value=value)

    rules = [strong(0, "pricing", "+2 per event, max 10", 2.0, 3.0),
             strong(1, "title", "+15", 15.0, 1.5), strong(2, "size", "+10", 10.0, 1.4)]
    [finding] = _rule_findings(rules)
    assert "'pricing'" in finding and "worth only +2 per event, max 10 points" in finding
    rules[0] = strong(0, "pricing", "+20 per event, max 40", 20.0, 3.0)
    assert _rule_findings(rules) == []  # 20 per event is above the median: nothing to say
