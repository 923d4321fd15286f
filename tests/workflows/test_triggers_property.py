"""Hypothesis: over any sequence of score changes, each trigger fires exactly when a plain-Python
reading of "crossing, not level" says it should.

The thresholds sit on scores the steps reach (25 = a demo request alone, or 20 + 5; 20 and 40 the
tier bounds; a change of exactly 20), so `score_above: 25` is checked at 25 itself (not above, so
it does not fire) and `score_below: 25` from 25 (which counts as "at or above" before).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from tests.workflows.helpers import AS_OF, BASE_MODEL, hook

import leadscore
from leadscore.scoring import score_contacts
from leadscore.workspace import init_workspace

TRIGGERS = {"in-warm": "{enters_tier: warm}", "out-warm": "{leaves_tier: warm}", "above": "{score_above: 25}",
            "below": "{score_below: 25}", "moved": "{score_changed_by: 20}"}


def tier(score: float) -> str:
    return "hot" if score >= 40 else "warm" if score >= 20 else "cold"


def expected(prev: float | None, score: float) -> set[str]:
    """The normative table of docs/workflows.md, with a first score coming from "no score"."""
    fired = set()
    if tier(score) == "warm" and (prev is None or tier(prev) != "warm"):
        fired.add("in-warm")
    if prev is not None and tier(prev) == "warm" and tier(score) != "warm":
        fired.add("out-warm")
    if score > 25 and (prev is None or prev <= 25):
        fired.add("above")
    if prev is not None and prev >= 25 and score < 25:
        fired.add("below")
    if prev is not None and abs(score - prev) >= 20:
        fired.add("moved")
    return fired


# a state: (company_size >= 100, job_title = CEO, has a demo request) -> 20 + 5 + 25 points
states = st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=states)
@example(steps=[(False, False, True), (True, True, False), (True, True, True), (False, False, True),
                (True, False, False), (False, False, False)])  # 25, 25, 50, 25, 20, 0: on every threshold
def test_triggers_fire_exactly_on_crossings(tmp_path_factory: object, steps: list[tuple[bool, bool, bool]]) -> None:
    root = Path(tmp_path_factory.mktemp("wf"))  # type: ignore[attr-defined]
    ws = init_workspace(root)
    (ws.models_dir / "b2b.yml").unlink()
    (ws.models_dir / "t.yml").write_text(BASE_MODEL + "workflows:\n"
                                         + "".join(hook(name, trig) for name, trig in TRIGGERS.items()))
    leadscore.publish(ws.models_dir / "t.yml", workspace=ws)
    prev: float | None = None
    with ws.open_store() as store:
        store.con.execute("INSERT INTO contacts (contact_id, created_at) VALUES ('p', '2025-01-01')")
        for n, (big, ceo, demo) in enumerate(steps):
            store.con.execute("UPDATE contacts SET company_size = ?, job_title = ? WHERE contact_id = 'p'",
                              [500 if big else 10, "CEO" if ceo else None])
            store.con.execute("DELETE FROM events")
            if demo:
                store.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                                  "VALUES ('d', 'p', 'demo_request', '2025-05-01')")
            score_contacts(store, ["p"], as_of=AS_OF)
            score = 20.0 * big + 5.0 * ceo + 25.0 * demo
            if score == 25 or (prev is not None and abs(score - prev) == 20) or score in (20, 40):
                event("a score exactly on a threshold")
            got = {r[0] for r in store.con.execute("SELECT workflow FROM outbox").fetchall()}
            assert got == expected(prev, score), (n, prev, score)
            store.con.execute("DELETE FROM outbox")  # the next step sees only its own firings
            prev = score
