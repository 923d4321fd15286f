"""Operators, NULLs, derived properties, safety and one-contact runs, on a real DuckDB store.

Rules are worth distinct powers of two, so a contact's score says exactly which rules fired.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.compiler.compiler_helpers import AS_OF, add_contacts, add_events, score

from leadscore.compiler import compile_model
from leadscore.model.loader import load_model, parse_model
from leadscore.storage.store import Store

DATA = Path(__file__).resolve().parents[2] / "src" / "leadscore" / "data"


def fired(rows: dict[str, dict], cid: str) -> set[int]:
    """Which rules fired for ``cid`` (from the ``rf_i`` detail columns)."""
    row = rows[cid]
    return {int(k[3:]) for k, v in row.items() if k.startswith("rf_") and v}


def test_null_matches_nothing_but_is_empty_and_not_flips_it(store: Store) -> None:
    model = """
name: t
groups:
  g:
    rules:
      - {name: equals, when: {property: country, equals: US}, points: 1}
      - {name: not_equals, when: {property: country, not_equals: US}, points: 2}
      - {name: not equals via not, when: {not: {property: country, equals: US}}, points: 4}
      - {name: is_empty, when: {property: country, is_empty: true}, points: 8}
      - {name: not_in, when: {property: country, not_in: [US]}, points: 16}
      - {name: is_set, when: {property: country, is_set: true}, points: 32}
"""
    add_contacts(store, {"contact_id": "null"}, {"contact_id": "us", "country": "US"},
                 {"contact_id": "de", "country": "DE"})
    rows = score(store, model)
    assert fired(rows, "null") == {2, 3}
    assert fired(rows, "us") == {0, 5}
    assert fired(rows, "de") == {1, 2, 4, 5}
    assert rows["null"]["score"] == 12.0


def test_string_operators_are_literal_and_case_sensitive(store: Store) -> None:
    model = """
name: t
groups:
  g:
    rules:
      - {name: contains, when: {property: job_title, contains: "50%_off"}, points: 1}
      - {name: starts, when: {property: job_title, starts_with: "_a"}, points: 2}
      - {name: ends, when: {property: job_title, ends_with: "%"}, points: 4}
      - {name: equals, when: {property: job_title, equals: CEO}, points: 8}
      - {name: regex is a search, when: {property: phone, matches: "[0-9]{3}-"}, points: 16}
      - {name: anchored regex, when: {property: phone, matches: "^555"}, points: 32}
"""
    add_contacts(
        store,
        {"contact_id": "lit", "job_title": "Save 50%_off now %", "phone": "tel 555-1234"},
        {"contact_id": "like", "job_title": "Save 50%Xoff, xa", "phone": "555"},
        {"contact_id": "case", "job_title": "ceo", "phone": "5551234"},
        {"contact_id": "under", "job_title": "_abc", "phone": None},
    )
    rows = score(store, model)
    assert fired(rows, "lit") == {0, 2, 4}
    assert fired(rows, "like") == {5}  # LIKE would have matched 50%_off and _a here
    assert fired(rows, "case") == {5}
    assert fired(rows, "under") == {1}


def test_number_and_date_comparisons(store: Store) -> None:
    model = """
name: t
groups:
  g:
    rules:
      - {name: between, when: {property: company_size, between: [50, 1000]}, points: 1}
      - {name: gt, when: {property: company_size, gt: 100}, points: 2}
      - {name: gte, when: {property: company_size, gte: 100}, points: 4}
      - {name: in, when: {property: company_size, in: [10, 50]}, points: 8}
      - {name: after, when: {property: updated_at, gt: "2024-12-01"}, points: 16}
      - {name: recent, when: {property: updated_at, within_days: 10}, points: 32}
      - {name: old, when: {property: updated_at, older_than_days: 10}, points: 64}
      - name: window
        when: {property: updated_at, between: ["2024-06-01T00:00:00Z", "2024-06-30"]}
        points: 128
"""
    add_contacts(
        store,
        {"contact_id": "s50", "company_size": 50, "updated_at": AS_OF - timedelta(days=10)},
        {"contact_id": "s100", "company_size": 100, "updated_at": AS_OF - timedelta(days=5)},
        {"contact_id": "s1001", "company_size": 1001, "updated_at": AS_OF - timedelta(days=10, seconds=1)},
        {"contact_id": "june", "company_size": None, "updated_at": "2024-06-30 00:00:00"},
        {"contact_id": "future", "updated_at": AS_OF + timedelta(days=1)},
    )
    rows = score(store, model)
    assert fired(rows, "s50") == {0, 3, 4, 5}  # exactly 10 days: within 10, not older than 10
    assert fired(rows, "s100") == {0, 2, 4, 5}  # gt is strict, gte is not
    assert fired(rows, "s1001") == {1, 2, 4, 6}
    assert fired(rows, "june") == {6, 7}  # between includes both ends
    assert fired(rows, "future") == {4}  # a negative age is not "within" any days


def test_email_domain_and_is_free_email(store: Store) -> None:
    model = """
name: t
groups:
  g:
    rules:
      - {name: gmail, when: {property: email_domain, equals: Gmail.COM}, points: 1}
      - {name: free, when: {property: is_free_email, equals: true}, points: 2}
      - {name: not free, when: {property: is_free_email, equals: false}, points: 4}
      - {name: no domain, when: {property: email_domain, is_empty: true}, points: 8}
      - {name: org, when: {property: email_domain, ends_with: .ORG}, points: 16}
"""
    add_contacts(
        store,
        {"contact_id": "gmail", "email": "Bob@GMail.COM"},
        {"contact_id": "two_ats", "email": "a@b@Example.org"},
        {"contact_id": "no_at", "email": "noat.example.com"},
        {"contact_id": "trailing", "email": "trailing@"},
        {"contact_id": "null"},
        {"contact_id": "work", "email": "x@acme.io"},
    )
    rows = score(store, model)
    assert {cid: fired(rows, cid) for cid in rows} == {
        "gmail": {0, 1}, "two_ats": {2, 4}, "no_at": {3}, "trailing": {3}, "null": {3}, "work": {2},
    }


def test_boolean_custom_column(store: Store) -> None:
    store.con.execute("ALTER TABLE contacts ADD COLUMN is_customer BOOLEAN")
    model = """
name: t
groups:
  g:
    rules:
      - {name: customer, when: {property: is_customer, equals: true}, points: 1}
      - {name: not customer, when: {property: is_customer, equals: false}, points: 2}
      - {name: in, when: {property: is_customer, in: [false]}, points: 4}
"""
    add_contacts(store, {"contact_id": "yes", "is_customer": True},
                 {"contact_id": "no", "is_customer": False}, {"contact_id": "null"})
    rows = score(store, model)
    assert {cid: fired(rows, cid) for cid in rows} == {"yes": {0}, "no": {1, 2}, "null": set()}


def test_event_where_tests(store: Store) -> None:
    model = """
name: t
groups:
  g:
    rules:
      - {name: pricing, when: {event: page_view, where: {url: {contains: /pricing}}}, points: 1}
      - {name: shorthand, when: {event: form_submit, where: {form: demo, campaign: [a, "b'c"]}}, points: 2}
      - {name: no referrer, when: {event: page_view, where: {referrer: {is_empty: true}}}, points: 4}
      - {name: other than, when: {event: page_view, where: {source: {not_equals: ads}}}, points: 8}
"""
    add_contacts(store, {"contact_id": "c1"}, {"contact_id": "c2"})
    add_events(
        store,
        {"contact_id": "c1", "type": "page_view", "occurred_at": AS_OF, "url": "/pricing", "referrer": "x"},
        {"contact_id": "c1", "type": "form_submit", "occurred_at": AS_OF, "form": "demo", "campaign": "b'c"},
        {"contact_id": "c2", "type": "page_view", "occurred_at": AS_OF, "url": "/Pricing"},
        {"contact_id": "c2", "type": "form_submit", "occurred_at": AS_OF, "form": "demo", "campaign": "c"},
    )
    rows = score(store, model)
    assert fired(rows, "c1") == {0, 1}
    # c2's view: /Pricing is another case; NULL referrer is empty; NULL source fails not_equals.
    assert fired(rows, "c2") == {2}


def test_combinators_count_and_decay_from_positive_leaves(store: Store) -> None:
    model = """
name: t
groups:
  g:
    decay: {half_life_days: 10}
    rules:
      - name: demo or trial, never unsubscribed
        when:
          all:
            - any: [{event: demo_request}, {event: trial_signup}]
            - not: {event: unsubscribe, within_days: 5}
        points: 8
"""
    add_contacts(store, {"contact_id": "c1"}, {"contact_id": "c2"})
    add_events(store, ("c1", "demo_request", AS_OF - timedelta(days=20)),
               ("c1", "trial_signup", AS_OF - timedelta(days=10)),
               ("c1", "unsubscribe", AS_OF - timedelta(days=6)),  # too old to count, and under not
               ("c2", "demo_request", AS_OF), ("c2", "unsubscribe", AS_OF - timedelta(days=1)))
    rows = score(store, model)
    assert rows["c1"]["rn_0"] == 2  # events of the positive leaves only
    assert rows["c1"]["r_0"] == pytest.approx(4.0, abs=1e-12)  # newest positive match: 10 days
    assert (rows["c2"]["rf_0"], rows["c2"]["r_0"], rows["c2"]["rn_0"]) == (False, 0.0, 1)


def test_hostile_values_are_matched_literally_and_harmless(store: Store) -> None:
    evil = "O'Brien'; DROP TABLE contacts; --"
    model = f"""
name: t
groups:
  g:
    rules:
      - {{name: evil, when: {{property: last_name, equals: "{evil}"}}, points: 1}}
      - name: evil event
        when: {{event: "x'); DELETE FROM events; --", where: {{url: "{evil}"}}}}
        points: 2
"""
    add_contacts(store, {"contact_id": "evil", "last_name": evil},
                 {"contact_id": "plain", "last_name": "O'Brien"})
    add_events(store, {"contact_id": "evil", "type": "x'); DELETE FROM events; --", "occurred_at": AS_OF,
                       "url": evil})
    rows = score(store, model)
    assert rows["evil"]["score"] == 3.0
    assert rows["plain"]["score"] == 0.0
    assert store.count("contacts") == 2 and store.count("events") == 1


@pytest.fixture
def example_store(store: Store) -> Store:
    add_contacts(
        store,
        {"contact_id": "dana", "email": "dana@acme.io", "job_title": "VP Sales", "company_size": 200},
        {"contact_id": "free", "email": "x@Gmail.com", "job_title": "CEO", "company_size": 5000},
        {"contact_id": "o'neil", "email": None, "job_title": None, "company_size": 50},
    )
    for cid in ("dana", "free", "o'neil"):
        add_events(
            store,
            *[{"contact_id": cid, "type": "page_view", "occurred_at": AS_OF - timedelta(days=d), "url": url}
              for d, url in ((3, "/pricing"), (5, "/blog"), (6, "/docs"))],
            *[(cid, "email_open", AS_OF - timedelta(days=d)) for d in (10, 40, 100)],
            (cid, "demo_request", AS_OF + timedelta(days=1)),
        )
    add_events(store, *[("free", "email_open", AS_OF - timedelta(days=1))] * 6,
               ("o'neil", "unsubscribe", AS_OF - timedelta(days=45)))
    return store


@pytest.fixture(autouse=True)
def _hook_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALES_HOOK_URL", "https://hooks.example.invalid")


def test_the_worked_example_of_the_model_reference(example_store: Store) -> None:
    text = (DATA / "example_model.yml").read_text()
    rows = score(example_store, text)
    assert rows["dana"]["score"] == pytest.approx(38.79055799782239, abs=1e-9)
    assert rows["dana"]["tier"] == "nurture"
    assert rows["dana"]["r_3"] == pytest.approx(15 * 0.5 ** (3 / 90), abs=1e-12)


def test_detail_columns_add_up_to_groups_and_score(example_store: Store) -> None:
    model = load_model(DATA / "example_model.yml").model
    rows = score(example_store, load_model(DATA / "example_model.yml").text)
    groups = list(model.groups)
    for row in rows.values():
        total = 0.0
        for k, name in enumerate(groups):
            group = model.groups[name]
            points = sum(row[f"r_{i}"] for i, (g, _) in enumerate(model.rules()) if g == name)
            if group.cap is not None:
                points = min(points, group.cap)
            if group.floor is not None:
                points = max(points, group.floor)
            assert row[f"g_{k}"] == pytest.approx(points, abs=1e-12)
            total += row[f"g_{k}"]
        assert row["score"] == pytest.approx(total, abs=1e-12)
        assert row["tier"] == model.tier_for(row["score"])
    assert rows["free"]["r_4"] == 10.0  # 6 × 2 + decayed older opens, bounded by max: 10


def test_one_contact_gives_the_batch_numbers(example_store: Store) -> None:
    text = (DATA / "example_model.yml").read_text()
    batch = score(example_store, text)
    for cid, row in batch.items():
        one = score(example_store, text, contact_id=cid)
        assert one == {cid: row}
    assert score(example_store, text, contact_id="nobody") == {}


def test_one_contact_restricts_the_events_scan_too() -> None:
    text = "name: t\ngroups: {g: {rules: [{name: r, when: {event: page_view}, points: 1}]}}"
    model = parse_model(text).model
    query = compile_model(model, as_of=AS_OF, contact_id="c'1")
    ctes = {cte.alias: cte.this for cte in query.args["with_"].expressions}
    for name in ("ls_events", "ls_contacts"):
        where = ctes[name].args["where"].sql()
        assert "\"contact_id\" = 'c''1'" in where, where


def test_output_types(store: Store) -> None:
    model = parse_model(
        "name: t\nmatrix: {fit: {group: g, bands: {A: 0}}, engagement: {group: g, bands: {'1': 0}}}\n"
        "groups: {g: {rules: [{name: r, when: {event: page_view}, points: 1},"
        " {name: p, when: {property: owner, is_set: true}, points: 2}]}}"
    ).model
    sql = compile_model(model, as_of=AS_OF, detail=True).sql("duckdb")
    types = dict(store.con.execute(f"DESCRIBE {sql}").fetchall()[i][:2] for i in range(4 + 1 + 8))
    assert types == {
        "contact_id": "VARCHAR", "score": "DOUBLE", "tier": "VARCHAR", "grade": "VARCHAR", "g_0": "DOUBLE",
        "r_0": "DOUBLE", "rraw_0": "DOUBLE", "rn_0": "BIGINT", "rf_0": "BOOLEAN",
        "r_1": "DOUBLE", "rraw_1": "DOUBLE", "rn_1": "BIGINT", "rf_1": "BOOLEAN",
    }


def test_date_columns_and_timestamp_event_properties(store: Store) -> None:
    store.con.execute("ALTER TABLE contacts ADD COLUMN signed_up_on DATE")
    store.con.execute("ALTER TABLE events ADD COLUMN renewal_at TIMESTAMP")
    model = """
name: t
groups:
  g:
    rules:
      - {name: new, when: {property: signed_up_on, within_days: 10}, points: 1}
      - {name: since, when: {property: signed_up_on, gte: "2024-12-22"}, points: 2}
      - {name: lapsed, when: {event: page_view, where: {renewal_at: {older_than_days: 30}}}, points: 4}
"""
    add_contacts(store, {"contact_id": "c1", "signed_up_on": "2024-12-22"},
                 {"contact_id": "c2", "signed_up_on": "2024-12-21"})
    add_events(store, {"contact_id": "c1", "type": "page_view", "occurred_at": AS_OF,
                       "renewal_at": "2024-11-01"},
               {"contact_id": "c2", "type": "page_view", "occurred_at": AS_OF, "renewal_at": "2024-12-15"})
    rows = score(store, model)
    assert (rows["c1"]["score"], rows["c2"]["score"]) == (7.0, 0.0)


def test_as_of_may_be_a_date_but_never_missing() -> None:
    model = parse_model("name: t\ngroups: {g: {rules: [{name: r, when: {event: x}, points: 1}]}}").model
    assert compile_model(model, as_of=AS_OF.date()) == compile_model(model, as_of=AS_OF)
    with pytest.raises(TypeError):
        compile_model(model, as_of=None)  # type: ignore[arg-type]


def test_email_domains_fold_like_duckdb_and_a_stored_column_is_as_written(store: Store) -> None:
    """The reference scorer agrees with the SQL on non-ASCII domains and on a stored column."""
    from leadscore.engine.reference import score_many_reference

    model_text = """
name: t
groups:
  g:
    rules:
      - {name: ibm, when: {property: email_domain, equals: İBM.com}, points: 1}
      - {name: ibm lower, when: {property: email_domain, equals: ibm.com}, points: 2}
"""
    contacts = [{"contact_id": "tr", "email": "a@İBM.com"}, {"contact_id": "ascii", "email": "b@IBM.COM"}]
    add_contacts(store, *contacts)
    rows = score(store, model_text)
    model = parse_model(model_text).model
    expected = score_many_reference(model, contacts, [], AS_OF)
    for cid in ("tr", "ascii"):
        assert rows[cid]["score"] == expected[cid].total == 3.0, cid  # both rules, both engines
    # a stored `email_domain` column wins over the derived one and is compared as written
    store.con.execute('ALTER TABLE contacts ADD COLUMN "email_domain" VARCHAR')
    store.con.execute("UPDATE contacts SET email_domain = 'IBM.com'")
    stored = [dict(c, email_domain="IBM.com") for c in contacts]
    rows = score(store, model_text)
    expected = score_many_reference(model, stored, [], AS_OF)
    assert rows["tr"]["score"] == expected["tr"].total == 0.0
