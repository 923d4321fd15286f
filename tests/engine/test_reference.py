"""The reference scorer against hand-computed numbers, one semantic rule at a time (no SQL here)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from typing import Any

import pytest
from tests.smalldata import SMALL_MODEL

from leadscore.engine.reference import (
    ReferenceScore,
    email_domain,
    score_many_reference,
    score_reference,
)
from leadscore.model.spec import ScoringModel

T = datetime(2025, 6, 1, 12, 0, 0)


def ago(days: float = 0, micros: int = 0) -> datetime:
    return T - timedelta(days=days, microseconds=micros)


def make_model(*rules: dict[str, Any], group: dict[str, Any] | None = None,
               **top: Any) -> ScoringModel:
    """One group ``g`` holding ``rules`` (named r0, r1... unless named)."""
    named = [{"name": f"r{i}", **r} for i, r in enumerate(rules)]
    return ScoringModel.model_validate({"name": "t", "groups": {"g": {"rules": named, **(group or {})}},
                                        **top})


def ev(kind: str, age: float, micros: int = 0, **cols: Any) -> dict[str, Any]:
    return {"contact_id": "c", "type": kind, "occurred_at": ago(age, micros), **cols}


def score(model: ScoringModel, contact: dict[str, Any] | None = None,
          events: list[dict[str, Any]] | None = None) -> ReferenceScore:
    return score_reference(model, {"contact_id": "c", **(contact or {})}, events or [], T)


def holds(when: dict[str, Any], contact: dict[str, Any] | None = None,
          events: list[dict[str, Any]] | None = None) -> bool:
    return score(make_model({"when": when, "points": 1}), contact, events).rules[0].fired


# --------------------------------------------------------------------------- property leaves


@pytest.mark.parametrize(("test", "value", "expected"), [
    ({"equals": "CEO"}, "CEO", True),
    ({"equals": "CEO"}, "ceo", False),
    ({"not_equals": "CEO"}, "CTO", True),
    ({"in": ["CEO", "CMO"]}, "CMO", True),
    ({"not_in": ["CEO", "CMO"]}, "CTO", True),
    ({"not_in": ["CEO", "CMO"]}, "CEO", False),
    ({"contains": "Sales"}, "VP Sales EMEA", True),
    ({"contains": "sales"}, "VP Sales", False),
    ({"contains": "%"}, "100% owner", True),
    ({"contains": "_"}, "a-b", False),
    ({"starts_with": "VP"}, "VP Sales", True),
    ({"starts_with": "vp"}, "VP Sales", False),
    ({"ends_with": "Sales"}, "VP Sales", True),
    ({"matches": "^V. Sales$"}, "VP Sales", True),
    ({"matches": "Sales"}, "VP Sales EMEA", True),  # search, not a full match
    ({"matches": "^Sales"}, "VP Sales", False),
    ({"is_set": True}, "", True),
    ({"is_empty": True}, "", False),
])
def test_string_operators(test: dict[str, Any], value: str, expected: bool) -> None:
    assert holds({"property": "job_title", **test}, {"job_title": value}) is expected


@pytest.mark.parametrize(("test", "expected"), [
    ({"equals": 50}, True), ({"equals": 50.0}, True), ({"not_equals": 51}, True),
    ({"in": [1, 50.0]}, True), ({"gt": 50}, False), ({"gte": 50}, True), ({"lt": 50.5}, True),
    ({"lte": 49.9}, False), ({"between": [50, 1000]}, True), ({"between": [10, 50]}, True),
    ({"between": [50.5, 60]}, False),
])
def test_number_operators_compare_numerically(test: dict[str, Any], expected: bool) -> None:
    assert holds({"property": "company_size", **test}, {"company_size": 50}) is expected


@pytest.mark.parametrize(("test", "created", "expected"), [
    ({"gt": "2025-05-01"}, datetime(2025, 5, 1, 0, 0, 1), True),
    ({"gt": "2025-05-01"}, datetime(2025, 5, 1), False),
    ({"gte": "2025-05-01"}, datetime(2025, 5, 1), True),
    ({"lt": "2025-05-01T12:00:00Z"}, datetime(2025, 5, 1, 11, 59), True),
    ({"lte": "2025-05-01T14:00:00+02:00"}, datetime(2025, 5, 1, 12, 0), True),
    ({"lte": "2025-05-01T14:00:00+02:00"}, datetime(2025, 5, 1, 12, 0, 0, 1), False),
    ({"between": ["2025-05-01", "2025-05-02"]}, datetime(2025, 5, 2), True),
    ({"within_days": 30}, ago(30), True),
    ({"within_days": 30}, ago(30, micros=1), False),
    ({"within_days": 0}, T, True),
    ({"within_days": 30}, T + timedelta(days=1), False),  # a date in the future is not "within"
    ({"older_than_days": 30}, ago(30), False),
    ({"older_than_days": 30}, ago(30, micros=1), True),
    ({"older_than_days": 0}, T + timedelta(days=1), False),
])
def test_timestamp_operators(test: dict[str, Any], created: datetime, expected: bool) -> None:
    assert holds({"property": "created_at", **test}, {"created_at": created}) is expected


@pytest.mark.parametrize("test", [
    {"equals": "x"}, {"not_equals": "x"}, {"in": ["x"]}, {"not_in": ["x"]}, {"contains": ""},
    {"starts_with": ""}, {"ends_with": ""}, {"matches": ".*"}, {"gt": 0}, {"lte": 0},
    {"between": [0, 1]}, {"is_set": True}, {"within_days": 10}, {"older_than_days": 0},
])
def test_null_matches_nothing_but_is_empty_and_not_of_it_holds(test: dict[str, Any]) -> None:
    prop = "created_at" if {"within_days", "older_than_days"} & set(test) else "job_title"
    assert holds({"property": prop, **test}, {prop: None}) is False
    assert holds({"not": {"property": prop, **test}}, {prop: None}) is True
    assert holds({"property": prop, "is_empty": True}, {}) is True  # a missing key is null


def test_boolean_logic() -> None:
    ceo = {"property": "job_title", "equals": "CEO"}
    big = {"property": "company_size", "gte": 100}
    contact = {"job_title": "CEO", "company_size": 10}
    assert holds({"all": [ceo, {"not": big}]}, contact) is True
    assert holds({"all": [ceo, big]}, contact) is False
    assert holds({"any": [big, {"not": {"not": ceo}}]}, contact) is True


# --------------------------------------------------------------------------- derived properties


@pytest.mark.parametrize(("email", "domain"), [
    ("Ann@GMail.COM", "gmail.com"), ("two@at@Example.org", "example.org"), ("noat.example.com", None),
    ("trailing@", None), ("@", None), (None, None),
])
def test_email_domain(email: str | None, domain: str | None) -> None:
    assert email_domain(email) == domain


def test_email_domain_lower_cases_the_users_value_too() -> None:
    assert holds({"property": "email_domain", "equals": "GMAIL.com"}, {"email": "a@Gmail.com"})
    assert holds({"property": "email_domain", "in": ["Acme.IO"]}, {"email": "a@acme.io"})
    assert holds({"property": "email_domain", "ends_with": ".COM"}, {"email": "a@x.com"})
    assert not holds({"property": "job_title", "equals": "ceo"}, {"job_title": "CEO"})


@pytest.mark.parametrize(("email", "is_free", "empty"), [
    ("a@GMAIL.com", True, False), ("a@acme.io", False, False), ("no-at", None, True), (None, None, True),
])
def test_is_free_email(email: str | None, is_free: bool | None, empty: bool) -> None:
    contact = {"email": email}
    assert holds({"property": "is_free_email", "equals": True}, contact) is (is_free is True)
    assert holds({"property": "is_free_email", "equals": False}, contact) is (is_free is False)
    assert holds({"property": "is_free_email", "is_empty": True}, contact) is empty


# --------------------------------------------------------------------------- event leaves


def test_event_leaf_types_where_and_window() -> None:
    events = [
        ev("page_view", 1, url="/pricing"), ev("page_view", 2, url="/blog"),
        ev("page_view", 7, url="/pricing?x"), ev("page_view", 7, micros=1, url="/pricing"),
        ev("page_view", -1, url="/pricing"),  # after as_of: does not exist
        ev("email_open", 0), ev("bounce", 0),
    ]
    rule = {"event": "page_view", "where": {"url": {"starts_with": "/pricing"}}, "within_days": 7}
    result = score(make_model({"when": rule, "points": 1}), events=events).rules[0]
    assert result.count == 2  # ages 1 and exactly 7; 7 days + 1µs is outside the window
    assert [e["occurred_at"] for e in result.matched] == [ago(1), ago(7)]
    types = {"event": ["email_open", "page_view", "email_open"], "within_days": 1}
    assert score(make_model({"when": types, "points": 1}), events=events).rules[0].count == 2


def test_where_shorthands_and_nulls() -> None:
    events = [ev("form_submit", 1, campaign="spring"), ev("form_submit", 1, campaign=None),
              ev("form_submit", 1)]
    def count(where: dict[str, Any]) -> int | None:
        model = make_model({"when": {"event": "form_submit", "where": where}, "points": 1})
        return score(model, events=events).rules[0].count
    assert count({"campaign": "spring"}) == 1
    assert count({"campaign": ["spring", "fall"]}) == 1
    assert count({"campaign": {"not_equals": "fall"}}) == 1  # NULL campaigns match nothing
    assert count({"campaign": {"is_empty": True}}) == 2


@pytest.mark.parametrize(("band", "n", "expected"), [
    ({}, 0, False), ({}, 1, True), ({"at_least": 3}, 2, False), ({"at_least": 3}, 3, True),
    ({"at_least": 0}, 0, True), ({"at_most": 0}, 0, True), ({"at_most": 1}, 2, False),
    ({"exactly": 2}, 2, True), ({"exactly": 2}, 3, False), ({"between": [0, 1]}, 0, True),
    ({"between": [2, 3]}, 3, True), ({"between": [2, 3]}, 4, False),
])
def test_count_bands(band: dict[str, Any], n: int, expected: bool) -> None:
    events = [ev("page_view", i) for i in range(n)]
    assert holds({"event": "page_view", **band}, events=events) is expected


def test_inactivity() -> None:
    quiet = {"no_event_within_days": 30}
    assert holds(quiet) is True
    assert holds(quiet, events=[ev("bounce", 30)]) is False  # exactly 30 days: not quiet
    assert holds(quiet, events=[ev("bounce", 30, micros=1)]) is True
    assert holds(quiet, events=[ev("page_view", -1)]) is True  # the future does not exist
    only_views = {"no_event_within_days": 30, "events": ["page_view"]}
    assert holds(only_views, events=[ev("email_open", 1)]) is True
    assert holds(only_views, events=[ev("page_view", 1)]) is False


# --------------------------------------------------------------------------- points and decay


def test_points_decay_with_the_most_recent_match() -> None:
    model = make_model({"when": {"event": "demo_request"}, "points": 20},
                       group={"decay": {"half_life_days": 90}})
    result = score(model, events=[ev("demo_request", 180), ev("demo_request", 90)]).rules[0]
    assert (result.points, result.raw, result.fired, result.count) == (10.0, 20.0, True, 2)


def test_linear_decay() -> None:
    model = make_model({"when": {"event": "demo_request"}, "points": 20},
                       group={"decay": {"percent_per_month": 50}})
    assert score(model, events=[ev("demo_request", 30)]).total == 10.0
    assert score(model, events=[ev("demo_request", 15)]).total == 15.0
    assert score(model, events=[ev("demo_request", 90)]).total == 0.0  # never below zero


def test_decay_ignores_negated_leaves_and_properties() -> None:
    decay = {"half_life_days": 10}
    rule = {"all": [{"event": "page_view"}, {"not": {"event": "unsubscribe", "within_days": 5}}]}
    events = [ev("page_view", 10), ev("unsubscribe", 6)]
    assert score(make_model({"when": rule, "points": 8}, group={"decay": decay}), events=events).total == 4.0
    # two positive leaves: the newest match of either sets the decay
    either = {"any": [{"event": "page_view"}, {"event": "email_open", "at_least": 5}]}
    events = [ev("page_view", 20), ev("email_open", 10)]
    assert score(make_model({"when": either, "points": 8}, group={"decay": decay}),
                 events=events).total == 4.0
    # property-only and inactivity rules never decay
    rules = ({"when": {"property": "job_title", "is_set": True}, "points": 3},
             {"when": {"no_event_within_days": 1}, "points": 2})
    result = score(make_model(*rules, group={"decay": decay}), {"job_title": "CEO"}, [ev("x", 9)])
    assert result.total == 5.0
    assert [r.count for r in result.rules] == [None, None]


def test_rule_decay_overrides_group_decay() -> None:
    model = make_model({"when": {"event": "demo_request"}, "points": 8, "decay": False},
                       {"when": {"event": "demo_request"}, "points": 8, "decay": {"half_life_days": 5}},
                       group={"decay": {"half_life_days": 10}})
    result = score(model, events=[ev("demo_request", 10)])
    assert [r.points for r in result.rules] == [8.0, 2.0]


def test_points_per_event() -> None:
    rule = {"when": {"event": "email_open"}, "points_per_event": 2, "decay": {"half_life_days": 10}}
    events = [ev("email_open", 0), ev("email_open", 10), ev("email_open", 20)]
    result = score(make_model(rule), events=events).rules[0]
    assert (result.points, result.raw, result.fired, result.count) == (3.5, 6.0, True, 3)
    capped = score(make_model({**rule, "max": 3}), events=events).rules[0]
    assert (capped.points, capped.raw) == (3.0, 3.0)
    negative = score(make_model({**rule, "points_per_event": -2, "max": 3}), events=events).rules[0]
    assert (negative.points, negative.raw) == (-3.0, -3.0)
    none = score(make_model(rule), events=[ev("email_open", -1)]).rules[0]
    assert (none.points, none.raw, none.fired, none.count) == (0.0, 0.0, False, 0)


def test_rule_that_does_not_fire_contributes_nothing() -> None:
    model = make_model({"when": {"event": "page_view", "at_least": 3}, "points": 5})
    result = score(model, events=[ev("page_view", 1), ev("page_view", 2)]).rules[0]
    assert (result.points, result.raw, result.fired, result.count) == (0.0, 0.0, False, 2)


# --------------------------------------------------------------------------- groups, total, tier, grade


def test_group_and_total_clamps_tier_and_grade() -> None:
    model = ScoringModel.model_validate({
        "name": "t", "tiers": {"cold": 0, "warm": 10, "hot": 20}, "cap": 22, "floor": -1,
        "groups": {
            "fit": {"cap": 15, "rules": [
                {"name": "a", "when": {"property": "job_title", "is_set": True}, "points": 10},
                {"name": "b", "when": {"property": "country", "equals": "US"}, "points": 10}]},
            "engagement": {"floor": -3, "rules": [
                {"name": "c", "when": {"no_event_within_days": 7}, "points": -5},
                {"name": "d", "when": {"event": "demo_request"}, "points": 10}]},
        },
        "matrix": {"fit": {"group": "fit", "bands": {"A": 10, "B": 0}},
                   "engagement": {"group": "engagement", "bands": {"1": 5, "2": 0}}},
    })
    both = score(model, {"job_title": "CEO", "country": "US"}, [ev("demo_request", 1)])
    assert both.groups == {"fit": 15.0, "engagement": 10.0}
    assert (both.total, both.tier, both.grade) == (22.0, "hot", "A1")  # 25 capped at 22
    fit_only = score(model, {"job_title": "CEO"})
    assert fit_only.groups == {"fit": 10.0, "engagement": -3.0}  # -5 floored at -3
    assert (fit_only.total, fit_only.tier, fit_only.grade) == (7.0, "cold", "A2")
    nothing = score(model)
    assert (nothing.total, nothing.tier, nothing.grade) == (-1.0, "cold", "B2")  # below every bound


def test_tier_on_exact_bound() -> None:
    model = make_model({"when": {"property": "job_title", "is_empty": True}, "points": 30})
    assert (score(model).tier, score(model, {"job_title": "x"}).tier) == ("nurture", "cold")


# --------------------------------------------------------------------------- many contacts


def test_score_many_groups_events_and_skips_future_contacts() -> None:
    model = make_model({"when": {"event": "page_view"}, "points_per_event": 1})
    contacts: list[dict[str, Any]] = [{"contact_id": "a", "created_at": T}, {"contact_id": "b", "created_at": None},
                {"contact_id": "late", "created_at": T + timedelta(microseconds=1)}]
    events = [{**ev("page_view", 1), "contact_id": cid} for cid in ("a", "a", "b", "late", "ghost")]
    scores = score_many_reference(model, contacts, events, T)
    assert {cid: s.total for cid, s in scores.items()} == {"a": 2.0, "b": 1.0}
    assert scores["a"].contact_id == "a"


def test_aware_timestamps_are_utc() -> None:
    from datetime import timezone
    model = make_model({"when": {"event": "page_view", "within_days": 1}, "points": 1})
    berlin = timezone(timedelta(hours=2))
    at = datetime(2025, 6, 1, 13, 0, tzinfo=berlin)  # 11:00 UTC: one hour before as_of
    assert score(model, events=[{"type": "page_view", "occurred_at": at}]).total == 1.0
    later = datetime(2025, 6, 1, 15, 0, tzinfo=berlin)  # 13:00 UTC: after as_of
    assert score(model, events=[{"type": "page_view", "occurred_at": later}]).total == 0.0


def test_count_and_matched_events_come_from_positive_leaves_only() -> None:
    rule = {"all": [{"event": ["page_view", "email_open"], "within_days": 7},
                    {"event": "page_view", "where": {"url": "/pricing"}},
                    {"not": {"event": "unsubscribe"}}]}
    events = [ev("page_view", 1, url="/pricing"), ev("email_open", 2), ev("page_view", 9, url="/pricing"),
              ev("page_view", 8), ev("unsubscribe", 40)]
    result = score(make_model({"when": rule, "points": 1}), events=events).rules[0]
    # both positive leaves' matches, each event once, newest first; the negated leaf adds nothing
    assert [(e["type"], e["occurred_at"]) for e in result.matched] == [
        ("page_view", ago(1)), ("email_open", ago(2)), ("page_view", ago(9))]
    assert (result.count, result.fired) == (3, False)  # fired needs no unsubscribe at all
    only_negated = score(make_model({"when": {"not": {"event": "unsubscribe"}}, "points": 1}),
                         events=events).rules[0]
    assert (only_negated.count, only_negated.matched, only_negated.fired) == (None, [], False)


def test_matches_pattern_is_never_lower_cased() -> None:
    # email_domain is lower-case, so an upper-case pattern cannot match it (lower-casing a
    # pattern could change its meaning: \D is not \d)
    assert holds({"property": "email_domain", "matches": "^gmail"}, {"email": "a@GMAIL.com"})
    assert not holds({"property": "email_domain", "matches": "^GMAIL"}, {"email": "a@GMAIL.com"})


def test_same_model_object_is_compiled_once_and_models_do_not_mix() -> None:
    first = make_model({"when": {"property": "job_title", "equals": "CEO"}, "points": 1})
    second = make_model({"when": {"property": "job_title", "equals": "CEO"}, "points": 2})
    contact = {"job_title": "CEO"}
    assert [score(m, contact).total for m in (first, second, first)] == [1.0, 2.0, 1.0]


def test_matches_runs_on_re2_not_a_backtracking_engine() -> None:
    """``^(.+)+Z`` on 40 characters would take Python's `re` days; RE2 answers at once. In a child
    process, so that a backtracking engine fails the test (timeout) instead of hanging it."""
    model = SMALL_MODEL.replace("{property: job_title, in: [CEO, VP Sales]}", '{property: email, matches: "^(.+)+Z"}')
    code = ("from datetime import datetime\n"
            "from leadscore.engine.reference import score_reference\n"
            "from leadscore.model.loader import parse_model\n"
            f"m = parse_model({model!r}, 'm.yml').model\n"
            "c = {'contact_id': 'x', 'email': 'a' * 40 + '@example.com'}\n"
            "print(score_reference(m, c, [], datetime(2025, 6, 1)).rules[0].fired)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
