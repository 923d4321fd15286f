"""Account models on a real store: whole-base runs, as-of, history and crossings, the real-time
path rescoring a contact's company, domain matching, failures, workflows, explain."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

import leadscore
from leadscore.engine.explain import Explanation
from leadscore.engine.explain_accounts import AccountExplanation
from leadscore.errors import ModelError
from leadscore.scoring import score_contacts
from leadscore.workspace import Workspace

from .helpers import AS_OF, build


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return build(tmp_path / "ws")


def _account_scores(ws: Workspace) -> dict[str, tuple[float, str]]:
    with leadscore.open_store(ws, read_only=True) as store:
        return {r[0]: (r[1], r[2]) for r in store.con.execute(
            "SELECT company_id, score, tier FROM account_scores WHERE model = 'accounts'").fetchall()}


def test_a_whole_base_run_scores_the_companies_existing_at_the_as_of(ws: Workspace) -> None:
    runs = leadscore.score(workspace=ws, as_of=AS_OF)
    by_model = {r.model: r for r in runs}
    assert by_model["accounts"].level == "account" and by_model["accounts"].contacts == 2  # `late` comes later
    scores = _account_scores(ws)
    assert set(scores) == {"acme", "globex"}
    # acme: dana (CEO, pricing 5 d ago, exec 10 + 10·½^(5/30)), eli (matched by domain: VP Sales, demo 2 d
    # ago), fay (pricing 10 d ago); ivy is created after the as-of and her event does not count
    dana = 10 + 10 * 0.5 ** (5 / 30)
    eli = 10 + 20 * 0.5 ** (2 / 30)
    expected = 10 + 0.5 * (dana + eli) / 2 + 10 + 15 * 0.5 ** (5 / 30)
    assert scores["acme"][0] == pytest.approx(expected) and scores["acme"][1] == "sales_ready"
    assert scores["globex"] == (0.0, "cold")  # 5000 employees, one analyst reading the blog
    later = leadscore.score(workspace=ws, as_of=AS_OF + timedelta(days=20))
    assert {r.model: r.contacts for r in later}["accounts"] == 3  # `late` exists now


def test_history_and_tier_crossings_are_recorded_per_company(ws: Workspace) -> None:
    leadscore.score(workspace=ws, as_of=AS_OF - timedelta(days=10), models=["accounts"])
    leadscore.score(workspace=ws, as_of=AS_OF, models=["accounts"])
    with leadscore.open_store(ws, read_only=True) as store:
        crossings = store.con.execute("SELECT company_id, from_tier, to_tier FROM account_tier_crossings "
                                      "ORDER BY computed_at, company_id").fetchall()
        assert store.count("score_history") == 0  # contact history untouched by account runs
    assert crossings[-1] == ("acme", "warm", "sales_ready")
    assert ("acme", None, "warm") in crossings and ("globex", None, "cold") in crossings


def test_without_domain_matching_eli_is_not_acmes(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", match_by_domain=False)
    leadscore.score(workspace=ws, as_of=AS_OF)
    e = leadscore.explain("acme", workspace=ws, level="account")
    assert isinstance(e, AccountExplanation)
    assert [c["contact_id"] for c in e.contacts] == ["dana", "fay"]
    assert not e.rules[2].fired  # one decision maker only


def test_an_event_through_the_real_time_path_rescores_the_company_in_the_same_transaction(ws: Workspace) -> None:
    leadscore.score(workspace=ws, as_of=AS_OF)
    before = _account_scores(ws)["globex"]
    with leadscore.open_store(ws) as store:
        with store.transaction() as con:
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) VALUES "
                        "('rt1', 'hal', 'demo_request', ?)", [AS_OF])
            runs = score_contacts(store, ["hal"], as_of=AS_OF)
            assert {r.model: r.contacts for r in runs} == {"b2b": 1, "accounts": 1}
    after = _account_scores(ws)["globex"]
    assert after[0] == pytest.approx(before[0] + 0.5 * 20)  # hal's demo lifts the top-k mean


def test_a_workflow_fires_for_the_account_owner_on_a_crossing(ws: Workspace) -> None:
    leadscore.score(workspace=ws, as_of=AS_OF - timedelta(days=10))  # baseline: acme warm
    runs = leadscore.score(workspace=ws, as_of=AS_OF)
    assert runs.workflows.fired == {"accounts/sales-ready account": 1}
    tasks = leadscore.tasks(workspace=ws)
    assert [(t["company_id"], t["owner"], t["title"]) for t in tasks] == [("acme", "ann", "Call Acme: sales_ready")]
    with leadscore.open_store(ws, read_only=True) as store:
        (company_id, contact_id, payload), = store.con.execute(
            "SELECT company_id, contact_id, payload FROM outbox").fetchall()
    body = json.loads(payload)
    assert (company_id, contact_id) == ("acme", None)
    assert body["level"] == "account" and body["company"]["name"] == "Acme"
    assert body["crossing"] == {"from_tier": "warm", "to_tier": "sales_ready", "from_score": pytest.approx(
        body["crossing"]["from_score"]), "to_score": pytest.approx(body["score"]["total"])}


def test_explain_goes_down_to_contacts_and_events_and_adds_up(ws: Workspace) -> None:
    leadscore.score(workspace=ws, as_of=AS_OF)
    e = leadscore.explain("acme", workspace=ws)  # a company id: explained as an account
    assert isinstance(e, AccountExplanation)
    assert e.total == pytest.approx(_account_scores(ws)["acme"][0]) and e.stored_score == pytest.approx(e.total)
    assert sum(r.points for r in e.rules) == pytest.approx(e.total)
    best, group, pricing = e.rules[1], e.rules[2], e.rules[3]
    assert [c["contact_id"] for c in best.contacts] == ["eli", "dana", "fay"] and best.count == 3  # best first
    assert group.fired and pricing.count == 2
    assert [(ev["contact_id"], ev["type"]) for ev in pricing.matched_events] == [("dana", "page_view"),
                                                                                 ("fay", "page_view")]
    contact = leadscore.explain("dana", workspace=ws)
    assert isinstance(contact, Explanation) and contact.company is not None
    assert contact.company.company_id == "acme" and contact.company.scores[0]["tier"] == "sales_ready"


def test_an_account_model_needs_its_contact_model_published(tmp_path: Path) -> None:
    ws = leadscore.init(tmp_path / "ws")
    (ws.models_dir / "accounts.yml").write_text((Path(__file__).parent / "helpers.py").read_text()
                                                .split('ACCOUNT_MODEL = """\\\n')[1].split('"""')[0])
    with pytest.raises(ModelError, match="`b2b` is not a published contact model"):
        leadscore.publish(ws.models_dir / "accounts.yml", workspace=ws)


@pytest.mark.parametrize(("change", "message"), [
    ("in: [CEO, CTO, VP Sales]}", "in: [CEO, CTO, VP Sales]}\n  unused: {property: job_title, equals: x}"),
])
def test_validation_names_unknown_roles_tiers_and_company_properties(ws: Workspace, change: str,
                                                                      message: str) -> None:
    text = (ws.models_dir / "accounts.yml").read_text()
    bad = text.replace("role: decision_maker", "role: decider").replace("employees", "staff").replace(
        "k: 2}", "k: 2, tiers: [hot]}")
    (ws.models_dir / "bad.yml").write_text(bad.replace("name: accounts", "name: bad"))
    with pytest.raises(ModelError) as caught:
        leadscore.publish(ws.models_dir / "bad.yml", workspace=ws)
    text_of = str(caught.value)
    assert "unknown role `decider`" in text_of
    assert "unknown company property `staff`" in text_of
    assert "`hot` is not a tier of contact model `b2b`" in text_of
    (ws.models_dir / "warn.yml").write_text(text.replace(change, message).replace("name: accounts", "name: warn"))
    _, warnings = leadscore.validate(ws.models_dir / "warn.yml", workspace=ws)
    assert any("role `unused` is defined but no rule uses it" in w.message for w in warnings)


def test_a_broken_account_model_is_reported_while_the_others_score(ws: Workspace) -> None:
    with leadscore.open_store(ws) as store:  # the contact model it reads disappears from the store
        store.con.execute("DELETE FROM model_versions WHERE model = 'b2b'")
        store.con.execute("INSERT INTO model_versions SELECT 'other', version, hash, text, file, published_at, "
                          "published_by, group_names FROM model_versions WHERE model = 'accounts'")
    runs = leadscore.score(workspace=ws, as_of=AS_OF)
    assert [f.model for f in runs.failures] == ["accounts", "other"]
    assert "contact model `b2b` is not published" in runs.failures[0].error


def test_the_readme_account_example_publishes_and_scores(ws: Workspace) -> None:
    """README's account model, on this workspace: acme has two decision makers, two pricing visitors."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    [text] = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "level: account" in b]
    (ws.models_dir / "readme.yml").write_text(text.replace("name: accounts", "name: readme"))
    leadscore.publish(ws.models_dir / "readme.yml", workspace=ws)
    leadscore.score(workspace=ws, as_of=AS_OF)
    e = leadscore.explain("acme", workspace=ws, model="readme")
    assert isinstance(e, AccountExplanation)
    assert [r.name for r in e.rules if r.fired] == ["mid-market", "best two contacts", "buying group",
                                                    "pricing seen by 2+ people"]
    assert e.tier == "sales_ready"


def test_the_servers_staged_rescoring_scores_account_models_after_the_contact_models(ws: Workspace) -> None:
    """``score_all_staged`` stages contact models; an account model rolls their scores up, so it
    runs whole after them (one writer job), leaving what ``leadscore score`` leaves."""
    from leadscore.scoring import score_all_staged

    leadscore.score(workspace=ws, as_of=AS_OF)
    want = _account_scores(ws)
    with leadscore.open_store(ws) as store:
        store.con.execute("DELETE FROM account_scores")
        reader = store.cursor()
        try:
            runs = score_all_staged(reader, lambda fn: fn(store), as_of=AS_OF)
        finally:
            reader.close()
    assert not runs.failures
    assert [(r.model, r.level) for r in runs] == [("b2b", "contact"), ("accounts", "account")]
    got = _account_scores(ws)
    assert sorted(got) == sorted(want)
    for company, (score, tier) in want.items():
        assert got[company][0] == pytest.approx(score) and got[company][1] == tier


#: a rule of page views by four different roles: its match count would enumerate 2**4 role combinations
FOUR_ROLES = """\
name: many_roles
level: account
tiers: {cold: 0, warm: 10}
roles:
  r1: {property: job_title, equals: CEO}
  r2: {property: job_title, equals: CTO}
  r3: {property: job_title, equals: VP Sales}
  r4: {property: email, is_set: true}
groups:
  people:
    rules:
      - name: many
        when:
          any: [{event: page_view, role: r1}, {event: page_view, role: r2}, {event: page_view, role: r3},
                {event: page_view, role: r4}]
        points: 10
"""


def test_validate_refuses_too_many_role_gates_in_one_rule_as_publish_does(ws: Workspace) -> None:
    (ws.models_dir / "many.yml").write_text(FOUR_ROLES)
    for check in (leadscore.validate, leadscore.publish):
        with pytest.raises(ModelError) as caught:
            check(ws.models_dir / "many.yml", workspace=ws)
        [issue] = caught.value.issues
        assert (issue.path, issue.line) == ("groups.people.rules.0.when", 13)
        assert "4 event conditions with different roles in one rule (r1, r2, r3, r4); at most 3" in issue.message
        assert issue.hint is not None and "role: [cto, ceo]" in issue.hint
    # three gates, or the four roles as one gate, are fine
    three = FOUR_ROLES.replace(",\n                {event: page_view, role: r4}", "")
    for text in (three, three.replace("role: r1}", "role: [r1, r4]}")):
        assert text != FOUR_ROLES
        (ws.models_dir / "many.yml").write_text(text)
        leadscore.validate(ws.models_dir / "many.yml", workspace=ws)
