"""How an engine's rows are held against the reference scorer's, in every query shape.

Scores, group points and rule points within 1e-9; counts and fired flags equal. Labels (tier,
grade) are the strict part: a label may differ from the reference's only where the engine's value
and the reference's differ in their last bits next to a bound. A value *equal* to the reference's
must get the reference's label, and every label must be the one the engine's own value earns
(highest bound ≤ value, the lowest label below every bound): a total exactly on a bound is in the
tier that starts there, on every engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from leadscore.engine.reference import ReferenceScore
from leadscore.model.spec import ScoringModel

TOLERANCE = 1e-9
Row = dict[str, Any]


def band(value: float, bounds: Mapping[str, float]) -> str:
    """The label a value earns: the highest lower bound ≤ value (the lowest label below all)."""
    ordered = sorted(bounds.items(), key=lambda kv: kv[1])
    label = ordered[0][0]
    for name, bound in ordered:
        if value >= bound:
            label = name
    return label


def _label_ok(got: str, want: str, got_value: float, want_value: float, bounds: Mapping[str, float]) -> bool:
    if got != band(got_value, bounds):
        return False  # not even the engine's own value's label
    if got == want:
        return True
    return got_value != want_value and any(abs(want_value - b) <= TOLERANCE for b in bounds.values())


def assert_agrees(model: ScoringModel, rows: list[Row], expected: Mapping[str, ReferenceScore], *,
                  detail: bool, where: str) -> None:
    """``rows`` (one per contact) give the reference's scores; with ``detail``, rule by rule too."""
    got = {str(r["contact_id"]): r for r in rows}
    assert len(got) == len(rows), f"{where}: one row per contact"
    assert sorted(got) == sorted(expected), f"{where}: the engine scored other contacts than the reference"
    groups = list(model.groups)
    for cid, ref in expected.items():
        row, at = got[cid], f"{where}, contact {cid!r}"
        assert row["score"] == pytest.approx(ref.total, abs=TOLERANCE), f"{at}: score"
        assert _label_ok(row["tier"], ref.tier, row["score"], ref.total, model.tiers), \
            f"{at}: tier {row['tier']!r} != {ref.tier!r} (total {row['score']!r} vs {ref.total!r})"
        for k, name in enumerate(groups):
            assert row[f"g_{k}"] == pytest.approx(ref.groups[name], abs=TOLERANCE), f"{at}: group {name}"
        if model.matrix is None:
            assert row["grade"] is None, f"{at}: grade without a matrix"
        else:
            parts = []
            for axis in (model.matrix.fit, model.matrix.engagement):
                k = groups.index(axis.group)
                value = row[f"g_{k}"]
                parts.append(band(value, axis.bands))
                assert _label_ok(band(value, axis.bands), band(ref.groups[axis.group], axis.bands), value,
                                 ref.groups[axis.group], axis.bands), f"{at}: grade band of {axis.group}"
            assert row["grade"] == "".join(parts), f"{at}: grade {row['grade']!r} != {''.join(parts)!r}"
        if not detail:
            continue
        for rule in ref.rules:
            i, what = rule.index, f"{at}: rule {rule.index} ({rule.group}.{rule.name})"
            assert bool(row[f"rf_{i}"]) is rule.fired, f"{what}: fired {row[f'rf_{i}']!r} != {rule.fired}"
            assert row[f"rn_{i}"] == rule.count, f"{what}: count {row[f'rn_{i}']!r} != {rule.count}"
            assert row[f"r_{i}"] == pytest.approx(rule.points, abs=TOLERANCE), f"{what}: points"
            assert row[f"rraw_{i}"] == pytest.approx(rule.raw, abs=TOLERANCE), f"{what}: raw points"
