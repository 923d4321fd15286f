"""Immediate actions (task, set, lists), read back through tasks.py and lists.py; segments."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tests.workflows.helpers import MakeWs, add_event, rescore, set_props

from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.workflows import list_members, list_names, list_tasks
from leadscore.workflows.lists import export_list
from leadscore.workflows.tasks import complete_task

ACTIONS = """workflows:
  - name: to sales
    on: {enters_tier: warm}
    do:
      - task: {title: "Call {{ contact.first_name }} ({{ tier }}, {{ contact.nope }})", due_in_days: 1}
      - task: {for: dana, title: "{{ contact.first_name | upper }}{% if score > 21 %} hot{% endif %}",
               notes: "fit {{ groups.fit }} from {{ prev_tier }}"}
      - set: {lifecycle_stage: salesqualifiedlead, company_size: 1000}
      - add_to_list: {list: warm-leads}
      - remove_from_list: nurture
  - name: nurture
    on: {leaves_tier: warm}
    do:
      - add_to_list: nurture
"""


def test_tasks_with_sql_and_jinja_titles_and_owners(make_ws: MakeWs) -> None:
    ws = make_ws(ACTIONS)
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        set_props(store, "k3", company_size=500, job_title="CEO")
        rescore(store, ws, "k1", "k3")
        tasks = list_tasks(store, limit=10)
        simple = {t["contact_id"]: t for t in tasks if t["owner"] != "dana"}
        assert simple["k1"]["title"] == "Call Ann (warm, )" and simple["k1"]["owner"] == "alice"
        assert simple["k3"]["title"] == "Call Cy (warm, )" and simple["k3"]["owner"] is None
        assert simple["k1"]["due_at"] is not None
        dana = sorted((t["title"], t["notes"]) for t in list_tasks(store, owner="dana"))
        assert dana == [("ANN", "fit 20.0 from cold"), ("CY hot", "fit 25.0 from cold")]
        # keyset pagination: two pages of two cover the four tasks once
        first = list_tasks(store, limit=2)
        second = list_tasks(store, limit=2, after=first[-1]["task_id"])
        assert len({t["task_id"] for t in first + second}) == 4
        complete_task(store, first[0]["task_id"])
        assert [t["task_id"] for t in list_tasks(store, status="done")] == [first[0]["task_id"]]
        with pytest.raises(LeadscoreError, match="unknown task status"):
            list_tasks(store, status="closed")


def test_set_changes_properties_and_logs_them(make_ws: MakeWs) -> None:
    ws = make_ws(ACTIONS)
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        rescore(store, ws, "k1")
        row = store.con.execute("SELECT lifecycle_stage, company_size FROM contacts WHERE contact_id = 'k1'")
        assert row.fetchone() == ("salesqualifiedlead", 1000)
        changes = store.con.execute(
            "SELECT property, old_value, new_value, source FROM property_changes ORDER BY property").fetchall()
        assert changes == [("company_size", "500", "1000", "workflow:t/to sales"),
                           ("lifecycle_stage", None, "salesqualifiedlead", "workflow:t/to sales")]
        # untouched contacts keep their values
        assert store.con.execute("SELECT lifecycle_stage FROM contacts WHERE contact_id = 'k2'").fetchone() == (None,)


def test_static_lists_add_and_remove(make_ws: MakeWs) -> None:
    ws = make_ws(ACTIONS)
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        rescore(store, ws, "k1")
        add_event(store, "k1")  # warm -> hot: leaves warm, joins nurture
        rescore(store, ws, "k1")
        assert list_members(store, ws, "nurture") == ["k1"]
        store.con.execute("DELETE FROM events")
        set_props(store, "k1", company_size=10)
        rescore(store, ws, "k1")  # cold
        set_props(store, "k1", company_size=500)
        rescore(store, ws, "k1")  # warm again: removed from nurture, still once in warm-leads
        assert list_members(store, ws, "nurture") == []
        assert list_members(store, ws, "warm-leads") == ["k1"]
        assert list_names(store, ws) == ["nurture", "warm-leads"]
        with pytest.raises(NotFoundError, match="no list `vip`"):
            list_members(store, ws, "vip")


SEGMENTS = """segments:
  saas-warm:
    model: t
    tier: [warm, hot]
    when: {property: industry, equals: SaaS}
  demo-requesters:
    when: {event: demo_request}
  high:
    model: t
    min_score: 40
"""


def test_segments_are_evaluated_on_demand_and_exported(make_ws: MakeWs, tmp_path: Path) -> None:
    ws = make_ws("", SEGMENTS)
    with ws.open_store() as store:
        for cid in ("k1", "k2", "k3"):
            set_props(store, cid, company_size=500)
        add_event(store, "k3")
        rescore(store, ws, "k1", "k2", "k3")
        assert list_names(store, ws) == ["demo-requesters", "high", "saas-warm"]
        assert list_members(store, ws, "saas-warm") == ["k1", "k3"]  # k2 is Retail
        assert list_members(store, ws, "demo-requesters") == ["k3"]
        assert list_members(store, ws, "high") == ["k3"]
        assert list_members(store, ws, "saas-warm", limit=1, after="k1") == ["k3"]
        n = export_list(store, ws, "saas-warm", tmp_path / "out.csv")
        rows = list(csv.DictReader((tmp_path / "out.csv").open()))
        assert n == 2 and [r["contact_id"] for r in rows] == ["k1", "k3"] and rows[0]["email"] == "ann@acme.com"


def test_a_segment_on_an_unknown_property_is_a_clear_error(make_ws: MakeWs) -> None:
    ws = make_ws("", "segments:\n  odd: {when: {property: shoe_size, gt: 40}}\n")
    with ws.open_store() as store, pytest.raises(LeadscoreError, match="segment `odd`.*shoe_size"):
        list_members(store, ws, "odd")


def test_bad_segment_settings_are_refused_on_load(make_ws: MakeWs) -> None:
    with pytest.raises(LeadscoreError, match="tier.*need `model`"):
        make_ws("", "segments:\n  odd: {tier: [hot], when: {property: industry, equals: x}}\n")


def test_hostile_text_in_a_model_reaches_sql_only_as_values(make_ws: MakeWs) -> None:
    title = "O'Brien said \\\"{{ contact.first_name }}\\\"'); DROP TABLE contacts; --"
    ws = make_ws(f"""workflows:
  - name: "it's; --"
    on: {{enters_tier: warm}}
    do:
      - task: {{for: "x'); DELETE FROM tasks; --", title: "{title}"}}
      - add_to_list: "l'); DROP TABLE lists; --"
      - set: {{lifecycle_stage: "'); DROP TABLE contacts; --"}}
""")
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        rescore(store, ws, "k1")
        [task] = list_tasks(store)
        assert task["title"] == "O'Brien said \"Ann\"'); DROP TABLE contacts; --"
        assert task["owner"] == "x'); DELETE FROM tasks; --" and task["workflow"] == "it's; --"
        assert list_members(store, ws, "l'); DROP TABLE lists; --") == ["k1"]
        stage = store.con.execute("SELECT lifecycle_stage FROM contacts WHERE contact_id = 'k1'").fetchone()
        assert stage == ("'); DROP TABLE contacts; --",)


def test_task_templates_see_the_model_version(make_ws: MakeWs) -> None:
    """``model_version`` is one of the documented template names, in titles rendered in Python too."""
    ws = make_ws("""workflows:
  - name: to sales
    on: {enters_tier: warm}
    do:
      - task: {title: "{{ model }} v{{ model_version }} / {{ workflow }}"}
""")
    with ws.open_store() as store:
        set_props(store, "k1", company_size=500)
        rescore(store, ws, "k1")
        [task] = list_tasks(store, limit=10)
        assert task["title"] == "t v1 / to sales"
