"""Score runs on a real DuckDB file: numbers, history, crossings, as-of, one contact, transactions."""

from __future__ import annotations

import pytest
from tests.smalldata import AS_OF

import leadscore
from leadscore.workspace import Workspace


def d(age_days: float, half_life: float = 30) -> float:
    return 0.5 ** (age_days / half_life)


EXPECTED = {
    # fit capped at 30; pricing 30 days ago; two opens 12 and 11 days ago; demo 1 day ago
    "c1": 30 + 10 * d(30) + 2 * d(12) + 2 * d(11) + 25 * d(1),
    "c2": -10 - 5,          # free mail; quiet for 142 days
    "c3": 20 + 2 * d(31),   # the demo request after as_of is invisible
    "c4": -5,               # nothing known: only "quiet" fires
}


def scores(ws: Workspace) -> dict[str, tuple[float, str, dict[str, float]]]:
    with leadscore.open_store(ws) as store:
        rows = store.con.execute("SELECT contact_id, score, tier, groups FROM scores").fetchall()
    names = ["fit", "engagement"]
    return {cid: (score, tier, dict(zip(names, groups, strict=True))) for cid, score, tier, groups in rows}


def test_batch_scores_match_hand_computation(small_ws: Workspace) -> None:
    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    [run] = leadscore.score(workspace=small_ws, as_of=AS_OF)
    got = scores(small_ws)
    assert set(got) == set(EXPECTED)  # c5 was created after as_of
    for cid, expected in EXPECTED.items():
        assert got[cid][0] == pytest.approx(expected, abs=1e-9), cid
    assert {cid: t for cid, (_, t, _) in got.items()} == {"c1": "sql", "c2": "cold", "c3": "nurture",
                                                          "c4": "cold"}
    assert got["c1"][2]["fit"] == 30  # capped
    assert run.tier_counts == {"cold": 2, "nurture": 1, "sql": 1}
    assert run.contacts == 4 and run.changed == 4 and run.crossings == 4


def test_history_and_crossings_only_on_change(small_ws: Workspace) -> None:
    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    leadscore.score(workspace=small_ws, as_of=AS_OF)
    [again] = leadscore.score(workspace=small_ws, as_of=AS_OF)
    assert again.changed == 0 and again.crossings == 0
    with leadscore.open_store(small_ws) as store:
        store.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                          "VALUES ('e9', 'c3', 'demo_request', '2025-05-30')")
    [third] = leadscore.score(workspace=small_ws, as_of=AS_OF)
    assert third.changed == 1 and third.crossings == 1
    with leadscore.open_store(small_ws) as store:
        hist = store.con.execute("SELECT count(*) FROM score_history").fetchone()
        crossing = store.con.execute(
            "SELECT from_tier, to_tier FROM tier_crossings WHERE contact_id = 'c3' ORDER BY computed_at DESC, "
            "from_tier NULLS LAST LIMIT 1").fetchone()
    assert hist == (5,)
    assert crossing == ("nurture", "sql")


def test_as_of_hides_later_events_and_contacts(small_ws: Workspace) -> None:
    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    leadscore.score(workspace=small_ws, as_of="2025-07-02")
    got = scores(small_ws)
    assert "c5" in got  # created 2025-07-01
    # c3's demo request (2025-07-01) now counts, one day old
    assert got["c3"][0] == pytest.approx(20 + 2 * d(62) + 25 * d(1), abs=1e-9)


def test_score_one_equals_batch(small_ws: Workspace) -> None:
    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    leadscore.score(workspace=small_ws, as_of=AS_OF)
    batch = scores(small_ws)
    with leadscore.open_store(small_ws) as store:
        store.con.execute("DELETE FROM scores WHERE contact_id = 'c1'")
    [run] = leadscore.score_one("c1", workspace=small_ws, as_of=AS_OF)
    assert run.scope == "one" and run.contacts == 1
    assert scores(small_ws)["c1"][0] == pytest.approx(batch["c1"][0], abs=1e-12)
    assert len(scores(small_ws)) == 4


def test_score_some_equals_batch_at_other_instants(small_ws: Workspace) -> None:
    """The cached parameterised query binds as-of and contacts: same numbers as literal SQL."""
    from leadscore.scoring import score_contacts
    from leadscore.timeutil import parse_as_of

    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    for as_of in (AS_OF, "2024-12-01", "2025-03-01T12:00:00"):
        leadscore.score(workspace=small_ws, as_of=as_of)
        batch = scores(small_ws)
        with leadscore.open_store(small_ws) as store:
            store.con.execute("DELETE FROM scores WHERE contact_id IN ('c1', 'c3')")
            [run] = score_contacts(store, ["c3", "c1", "c3", "nobody"], as_of=parse_as_of(as_of))
            assert run.scope == "some" and run.contacts == len({"c1", "c3"} & set(batch))
            assert score_contacts(store, [], as_of=parse_as_of(as_of)) == []
        again = scores(small_ws)
        assert set(again) == set(batch)
        for cid in batch:
            assert again[cid][0] == pytest.approx(batch[cid][0], abs=1e-12), (as_of, cid)
            assert again[cid][1] == batch[cid][1]


def test_run_hook_sees_the_run_in_its_transaction(small_ws: Workspace) -> None:
    """``on_written`` reads ``_run`` inside the transaction; an error there rolls the run back."""
    from leadscore.engine.run import RunContext, run_model

    leadscore.publish(small_ws.models_dir / "small.yml", workspace=small_ws)
    seen: list[tuple[RunContext, list[tuple[str, str, str | None]]]] = []

    def hook(con, ctx: RunContext) -> None:  # type: ignore[no-untyped-def]
        seen.append((ctx, con.execute("SELECT contact_id, tier, prev_tier FROM _run ORDER BY 1").fetchall()))

    with leadscore.open_store(small_ws) as store:
        version = store.get_version("small")
        run_model(store, version, contact_ids=["c1", "c2"], as_of=AS_OF, on_written=hook)
        [(ctx, rows)] = seen
        assert ctx.contact_ids == ["c1", "c2"] and ctx.model.name == "small"
        assert [(cid, prev) for cid, _, prev in rows] == [("c1", None), ("c2", None)]

        def failing(con, ctx: RunContext) -> None:  # type: ignore[no-untyped-def]
            raise RuntimeError("workflow failed")

        before = store.con.execute("SELECT count(*) FROM score_history").fetchone()
        with pytest.raises(RuntimeError):
            run_model(store, version, contact_ids=["c3"], as_of=AS_OF, on_written=failing)
        assert store.con.execute("SELECT count(*) FROM score_history").fetchone() == before
        assert store.con.execute("SELECT count(*) FROM scores WHERE contact_id = 'c3'").fetchone() == (0,)


def test_scores_name_the_version_that_made_them(small_ws: Workspace) -> None:
    path = small_ws.models_dir / "small.yml"
    v1 = leadscore.publish(path, workspace=small_ws)
    assert leadscore.publish(path, workspace=small_ws).version == v1.version  # unchanged text
    path.write_text(path.read_text().replace("points: 25", "points: 30"))
    v2 = leadscore.publish(path, workspace=small_ws)
    assert v2.version == v1.version + 1
    leadscore.score(workspace=small_ws, as_of=AS_OF)
    with leadscore.open_store(small_ws) as store:
        assert store.con.execute("SELECT DISTINCT model_version FROM scores").fetchall() == [(2,)]


def test_a_model_of_properties_alone_rescores_one_contact(small_ws: Workspace) -> None:
    """Its parameterised SQL has no `$as_of_us` (no event ages): only the used values are bound."""
    path = small_ws.models_dir / "fit_only.yml"
    path.write_text("version: 1\nname: fit_only\ngroups:\n  fit:\n    rules:\n"
                    "      - {name: exec, when: {property: job_title, equals: CEO}, points: 10}\n")
    leadscore.publish(path, workspace=small_ws)
    batch = {r.model: r for r in leadscore.score(workspace=small_ws, models=["fit_only"], as_of=AS_OF)}
    [one] = leadscore.score_one("c1", workspace=small_ws, models=["fit_only"], as_of=AS_OF)
    assert one.scope == "one" and one.contacts == 1 and batch["fit_only"].contacts >= 1
    with small_ws.open_store() as store:
        row = store.con.execute("SELECT score FROM scores WHERE model = 'fit_only' AND contact_id = 'c1'").fetchone()
    assert row == (10.0,)
