"""``model.validate``: every check names the file, line, key path and a hint; all issues at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.errors import ModelError
from leadscore.model.loader import LoadedModel, load_model, parse_model
from leadscore.model.validate import validate_against_store, validate_model
from leadscore.storage.store import Store

from .helpers import WHEN, WHEN_LINE, issues_of, one_rule, only

DATA = Path(__file__).resolve().parents[2] / "src" / "leadscore" / "data"


@pytest.fixture
def store() -> Store:
    s = Store.open(":memory:")
    yield s
    s.close()


@pytest.mark.parametrize("name", ["example_model.yml", "starter_model.yml"])
def test_shipped_models_validate_cleanly(name: str, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALES_HOOK_URL", "https://hooks.example.com/sales")
    loaded = load_model(DATA / name)
    assert validate_model(loaded) == []
    assert validate_against_store(loaded, store) == []


# (when, severity, path under `when`, words in the message, words in the hint)
CASES = [
    ("{property: job_titel, equals: CEO}", "error", "property", "unknown contact property",
     "did you mean `job_title`?"),
    ("{property: Job_Title, equals: CEO}", "error", "property", "`Job_Title`", "`job_title`"),
    ("{event: page_view, where: {urll: {contains: /pricing}}}", "error", "where.urll",
     "unknown event property `urll`", "did you mean `url`?"),
    ("{event: page_view, where: {occurred_at: {within_days: 3}}}", "error", "where.occurred_at",
     "describes the event itself", "within_days"),
    ("{event: page_veiw}", "warning", "event", "unknown event type `page_veiw`",
     "did you mean `page_view`? known types: "),
    ("{event: [page_view, webinar_atended]}", "warning", "event.1", "`webinar_atended`",
     "did you mean `webinar_attended`?"),
    ("{no_event_within_days: 30, events: [emial_open]}", "warning", "events.0", "`emial_open`",
     "email_open"),
    ("{property: company_size, contains: '5'}", "error", "contains", "needs a text property",
     "gt/gte/lt/lte"),
    ("{property: created_at, starts_with: '2025'}", "error", "starts_with", "is a date",
     "within_days"),
    ("{property: job_title, gt: 5}", "error", "gt", "compares numbers or dates", "starts_with"),
    ("{property: is_free_email, lte: 1}", "error", "lte", "`is_free_email` is true/false",
     "equals: true"),
    ("{property: company_size, gt: big}", "error", "gt", "is a number; got the text 'big'",
     "unquoted"),
    ("{property: created_at, gt: yesterday}", "error", "gt", "`yesterday` is not a date",
     "2025-01-01"),
    ("{property: created_at, lt: 20250101}", "error", "lt", "`created_at` is a date; got 20250101",
     "within_days"),
    ("{property: created_at, gte: now}", "error", "gte", "`now` is not allowed", "within_days"),
    ("{property: created_at, between: [2025-01-01, nope]}", "error", "between.1", "not a date", None),
    ("{property: company_size, within_days: 3}", "error", "within_days",
     "measures the age of a date", "gt/gte/lt/lte"),
    ("{property: job_title, older_than_days: 3}", "error", "older_than_days", "is text", None),
    ("{property: created_at, within_days: 4000}", "warning", "within_days", "more than ten years",
     "typo"),
    ("{event: page_view, within_days: 5000}", "warning", "within_days", "5000 days", None),
    ("{no_event_within_days: 3651}", "warning", "no_event_within_days", "ten years", None),
    ("{property: company_size, equals: fifty}", "error", "equals", "`company_size` is a number",
     "unquoted"),
    ("{property: job_title, equals: 12345}", "error", "equals", "is text; got the number 12345",
     "quote it: '12345'"),
    ("{property: job_title, equals: true}", "error", "equals", "not true/false", "quote it: 'true'"),
    ("{property: is_free_email, equals: 'yes'}", "error", "equals", "is true/false; got 'yes'",
     "write true or false"),
    ("{property: is_free_email, equals: 1}", "error", "equals", "is true/false; got 1", None),
    ("{property: company_size, in: [10, twenty, 30]}", "error", "in.1", "got the text 'twenty'", None),
    ("{property: job_title, not_in: [CEO, 7]}", "error", "not_in.1", "got the number 7", None),
    ("{property: email_domain, equals: bob@acme.com}", "warning", "equals", "contains `@`",
     "write `acme.com`"),
    ("{property: email_domain, in: [acme.com, Gmail.com]}", "warning", "in.1", "has capitals",
     "write `gmail.com`"),
    ("{property: email_domain, matches: '^[A-Z]+\\.com$'}", "warning", "matches", "capitals",
     "lower case"),
    ("{property: job_title, matches: '^(?!intern)'}", "error", "matches", "look-around", "RE2"),
    ("{property: job_title, matches: '(a)\\1'}", "error", "matches", "back-reference", None),
    ("{event: page_view, at_least: 0}", "warning", "at_least", "always holds", None),
    ("{all: [{any: [{not: {property: nope, is_set: true}}]}]}", "error", "all.0.any.0.not.property",
     "unknown contact property `nope`", None),
]


@pytest.mark.parametrize(("when", "severity", "path", "message", "hint"), CASES,
                         ids=[c[2] + ":" + c[3][:30] for c in CASES])
def test_each_check(when: str, severity: str, path: str, message: str, hint: str | None) -> None:
    issues = issues_of(one_rule(when))
    issue = only(issues, f"{WHEN}.{path}")
    assert issue.severity == severity
    assert message in issue.message
    assert issue.line == WHEN_LINE and issue.file == "m.yml"
    if hint is not None:
        assert issue.hint is not None and hint in issue.hint


@pytest.mark.parametrize("when", [
    "{property: email_domain, in: [acme.com, gmail.com]}",
    "{property: is_free_email, equals: false}",
    "{property: created_at, between: [2025-01-01, '2025-06-01T12:00:00Z']}",
    "{property: created_at, gte: '2025-01-01T10:00:00+05:00'}",
    "{property: company_size, between: [50, 1000.5]}",
    "{property: job_title, matches: '^(VP|Head) of'}",
    "{event: form_submit, where: {form: demo}}",
    "{event: form_submit, where: {form: [demo, trial]}}",
    "{event: page_view, at_most: 0}",
    "{not: {property: country, equals: DE}}",
])
def test_good_conditions_give_no_issue(when: str) -> None:
    assert issues_of(one_rule(when)) == []


def test_where_shorthand_points_at_the_property() -> None:
    issues = issues_of(one_rule("{event: form_submit, where: {form: 3}}"))
    assert only(issues, f"{WHEN}.where.form").message == "`form` is text; got the number 3"


def test_custom_typed_event_column() -> None:
    cols = {"event_id": "string", "contact_id": "string", "type": "string",
            "occurred_at": "timestamp", "amount": "number"}
    issues = issues_of(one_rule("{event: purchase, where: {amount: {gte: lots}}}"),
                       event_columns=cols, event_types=["purchase"])
    assert [i.path for i in issues] == [f"{WHEN}.where.amount.gte"]


BLOCK = """\
name: t
tiers: {cold: 0, warm: 5, hot: 500}
floor: 2
groups:
  fit:
    cap: 8
    floor: 1
    rules:
      - name: title
        when: {property: job_title, equals: CEO}
        points: 10
      - name: nothing
        when: {property: country, equals: DE}
        points: 0
      - name: old
        when: {property: created_at, older_than_days: 30}
        points: 1
        decay: {half_life_days: 30}
  engagement:
    floor: -5
    decay: {half_life_days: 30}
    rules:
      - name: title
        when: {no_event_within_days: 30}
        points: -10
"""


def test_rule_and_group_level_warnings_with_lines() -> None:
    issues = validate_model(parse_model(BLOCK, "b.yml"))
    by_path = {i.path: i for i in issues}
    assert all(i.severity == "warning" for i in issues)
    assert by_path["floor"].line == 3 and "at least 2" in by_path["floor"].message
    assert by_path["groups.fit.floor"].line == 7
    assert "capped at 8 (line 6)" in by_path["groups.fit.rules.0.points"].message
    assert by_path["groups.fit.rules.0.points"].line == 11
    assert by_path["groups.fit.rules.1.points"].line == 14
    assert "worth 0" in by_path["groups.fit.rules.1.points"].message
    assert by_path["groups.fit.rules.2.decay"].line == 18
    assert "no effect" in by_path["groups.engagement.decay"].message
    dup = by_path["groups.engagement.rules.0.name"]
    assert dup.line == 23 and "also used in group `fit` (line 9)" in dup.message
    assert "floor -5" in by_path["groups.engagement.rules.0.points"].message
    assert "no total can exceed" in by_path["tiers.hot"].message and by_path["tiers.hot"].line == 2
    assert "tiers.warm" not in by_path


def test_matrix_band_out_of_reach() -> None:
    text = one_rule("{property: job_title, equals: CEO}") + (
        "matrix:\n  fit: {group: g, bands: {A: 50, B: 0}}\n  engagement: {group: g, bands: {'1': 0}}\n")
    issue = only(issues_of(text), "matrix.fit.bands.A")
    assert issue.severity == "warning" and issue.line == 10 and "cannot exceed 5" in issue.message


def test_default_tiers_out_of_reach_say_so() -> None:
    text = one_rule("{property: job_title, equals: CEO}").replace("tiers: {cold: 0}\n", "")
    issue = only(issues_of(text), "tiers.sql")
    assert issue.message.startswith("default tier") and issue.line == 1


WORKFLOW = """\
name: t
tiers: {cold: 0, sql: 5}
groups:
  g:
    rules:
      - {name: r, when: {property: job_title, equals: CEO}, points: 5}
workflows:
  - name: w
    on: {enters_tier: sql}
    if: {property: ownr, is_set: true}
    do:
      - set: {lifecycle_stage: sql, email_domain: x.com, contact_id: a, company_size: big, lifecyle: x}
"""


def test_workflow_conditions_and_set() -> None:
    issues = issues_of(WORKFLOW)
    assert "did you mean `owner`?" in (only(issues, "workflows.0.if.property").hint or "")
    assert "computed from `email`" in only(issues, "workflows.0.do.0.set.email_domain").message
    assert "cannot be set" in only(issues, "workflows.0.do.0.set.contact_id").message
    assert "is a number" in only(issues, "workflows.0.do.0.set.company_size").message
    assert "`lifecycle_stage`" in (only(issues, "workflows.0.do.0.set.lifecyle").hint or "")
    assert {i.line for i in issues} == {10, 12}


def test_every_issue_is_collected_before_raising() -> None:
    text = BLOCK.replace("job_title", "job_titel").replace("country", "cuontry")
    with pytest.raises(ModelError) as err:
        validate_model(parse_model(text, "b.yml"))
    issues = err.value.issues
    errors = [i for i in issues if i.severity == "error"]
    assert [i.path for i in errors] == ["groups.fit.rules.0.when.property",
                                        "groups.fit.rules.1.when.property"]
    assert len(issues) > len(errors)  # the warnings come along
    assert all(i.line is not None and i.file == "b.yml" for i in issues)
    assert [i.line for i in issues] == sorted(i.line or 0 for i in issues)
    assert "2 error(s)" in str(err.value)


def test_store_columns_and_event_types(store: Store) -> None:
    text = one_rule("{all: [{property: plan, equals: pro}, {event: signup_v2}]}")
    loaded = parse_model(text)
    with pytest.raises(ModelError, match="unknown contact property `plan`"):
        validate_against_store(loaded, store)
    store.con.execute("ALTER TABLE contacts ADD COLUMN plan VARCHAR")
    assert [i.message.split(":")[0] for i in validate_against_store(loaded, store)] == [
        "unknown event type `signup_v2`"]
    store.con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                      "VALUES ('e1', 'c1', 'signup_v2', TIMESTAMP '2025-01-01')")
    assert validate_against_store(loaded, store) == []


def test_derived_properties_need_email_and_yield_to_stored_columns() -> None:
    text = one_rule("{property: email_domain, equals: Acme.com}")
    no_email = {"contact_id": "string", "job_title": "string"}
    with pytest.raises(ModelError, match="unknown contact property `email_domain`"):
        validate_model(parse_model(text), contact_columns=no_email)
    stored = {"contact_id": "string", "email": "string", "email_domain": "string"}
    assert validate_model(parse_model(text), contact_columns=stored) == []  # as stored: no lower-casing


def test_lines_are_found_without_the_loaders_index() -> None:
    loaded = parse_model(one_rule("{property: nope, equals: 1}"), "x.yml")
    bare = LoadedModel(model=loaded.model, text=loaded.text, file=loaded.file)
    with pytest.raises(ModelError) as err:
        validate_model(bare)
    assert err.value.issues[0].line == WHEN_LINE
