"""What the compiler refuses: unknown names and mistyped values (as ModelError with key paths),
unknown dialects, and the options of the API (tables, column mappings, as_of with a zone).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlglot
from tests.compiler.compiler_helpers import AS_OF, add_contacts

from leadscore.compiler import UnsupportedError, compile_model, render_sql
from leadscore.errors import ModelError
from leadscore.model.loader import parse_model
from leadscore.model.spec import ScoringModel
from leadscore.storage.store import Store


def model_with(when: str, points: str = "points: 1") -> ScoringModel:
    text = f"name: t\ngroups:\n  fit:\n    rules:\n      - {{name: r, when: {when}, {points}}}\n"
    return parse_model(text).model


def issues(model: ScoringModel, **options: object) -> dict[str, str]:
    with pytest.raises(ModelError) as caught:
        compile_model(model, as_of=AS_OF, **options)  # type: ignore[arg-type]
    return {i.path: i.message for i in caught.value.issues}


@pytest.mark.parametrize(("when", "path", "words"), [
    ("{property: job_titel, equals: CEO}", "groups.fit.rules.0.when.property", "unknown contact property"),
    ("{property: company_size, equals: big}", "groups.fit.rules.0.when.equals", "is a number"),
    ("{property: job_title, equals: 12345}", "groups.fit.rules.0.when.equals", "is text"),
    ("{property: is_free_email, equals: 'yes'}", "groups.fit.rules.0.when.equals", "true/false"),
    ("{property: company_size, contains: '1'}", "groups.fit.rules.0.when.contains", "text property"),
    ("{property: job_title, gt: 3}", "groups.fit.rules.0.when.gt", "numbers or dates"),
    ("{property: company_size, within_days: 3}", "groups.fit.rules.0.when.within_days", "date property"),
    ("{property: created_at, gt: yesterday}", "groups.fit.rules.0.when.gt", "not a date"),
    ("{property: created_at, gt: now}", "groups.fit.rules.0.when.gt", "not a fixed date"),
    ("{property: created_at, between: [1, 2]}", "groups.fit.rules.0.when.between", "not a date"),
    ("{event: page_view, where: {nope: x}}", "groups.fit.rules.0.when.where.nope", "unknown event property"),
    ("{event: page_view, where: {occurred_at: {gt: '2024-01-01'}}}",
     "groups.fit.rules.0.when.where.occurred_at", "describes the event itself"),
    ("{event: page_view, where: {url: {gt: 3}}}", "groups.fit.rules.0.when.where.url.gt", "numbers or dates"),
    ("{all: [{property: country, equals: US}, {not: {property: cuntry, equals: US}}]}",
     "groups.fit.rules.0.when.all.1.not.property", "unknown contact property"),
])
def test_mistakes_name_their_key_path(when: str, path: str, words: str) -> None:
    found = issues(model_with(when))
    assert path in found, found
    assert words in found[path]


def test_every_issue_is_reported_at_once() -> None:
    model = parse_model("""
name: t
groups:
  a: {rules: [{name: r, when: {property: nope, equals: x}, points: 1}]}
  b: {rules: [{name: s, when: {event: page_view, where: {nada: 1}}, points: 1},
              {name: u, when: {property: company_size, gt: "10"}, points: 1}]}
""").model
    assert set(issues(model)) == {
        "groups.a.rules.0.when.property", "groups.b.rules.0.when.where.nada", "groups.b.rules.1.when.gt",
    }


def test_unknown_property_gets_a_did_you_mean_hint() -> None:
    with pytest.raises(ModelError) as caught:
        compile_model(model_with("{property: job_titel, equals: CEO}"), as_of=AS_OF)
    assert caught.value.issues[0].hint == "did you mean `job_title`?"


def test_contact_columns_mapping_decides_what_exists() -> None:
    model = model_with("{property: email_domain, equals: acme.io}")
    assert "groups.fit.rules.0.when.property" in issues(model, contact_columns={"contact_id": "string"})
    compile_model(model, as_of=AS_OF, contact_columns={"contact_id": "string", "email": "string"})
    with pytest.raises(ValueError, match="contact_id"):
        compile_model(model, as_of=AS_OF, contact_columns={"email": "string"})
    with pytest.raises(ValueError, match="expected one of string"):
        compile_model(model, as_of=AS_OF, contact_columns={"contact_id": "string", "email": "text"})


def test_a_stored_email_domain_column_wins_over_the_derived_one(store: Store) -> None:
    store.con.execute("ALTER TABLE contacts ADD COLUMN email_domain VARCHAR")
    add_contacts(store, {"contact_id": "c", "email": "a@other.com", "email_domain": "Acme.io"})
    model = model_with("{property: email_domain, equals: Acme.io}")
    sql = render_sql(model, as_of=AS_OF, contact_columns=store.columns("contacts"))
    assert store.con.execute(sql).fetchall()[0][1] == 1.0  # compared as stored, not lower-cased


def test_unknown_dialect() -> None:
    with pytest.raises(UnsupportedError, match="duckdb, spark, postgres"):
        compile_model(model_with("{property: owner, is_set: true}"), as_of=AS_OF, dialect="oracle")


def test_table_names_are_quoted_and_may_be_qualified() -> None:
    model = model_with("{event: page_view}")
    sql = render_sql(model, as_of=AS_OF, dialect="postgres", contacts_table="crm.Leads",
                     events_table="warehouse.crm.events")
    assert 'FROM "crm"."Leads" AS c' in sql
    assert 'FROM "warehouse"."crm"."events" AS e' in sql
    sqlglot.parse_one(sql, read="postgres")


def test_as_of_with_a_time_zone_is_converted_to_utc() -> None:
    model = model_with("{event: page_view}")
    aware = datetime(2025, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert render_sql(model, as_of=aware) == render_sql(model, as_of=AS_OF)
    assert render_sql(model, as_of=AS_OF.replace(tzinfo=UTC)) == render_sql(model, as_of=AS_OF)


def test_without_created_at_every_contact_is_scored() -> None:
    model = model_with("{property: owner, is_set: true}")
    sql = render_sql(model, as_of=AS_OF, contact_columns={"contact_id": "string", "owner": "string"})
    assert "created_at" not in sql


def test_a_model_without_events_does_not_read_the_events_table() -> None:
    sql = render_sql(model_with("{property: owner, is_set: true}"), as_of=AS_OF)
    assert "events" not in sql


@pytest.mark.parametrize("dialect", ["duckdb", "spark", "postgres"])
def test_epoch_micros_per_dialect(dialect: str) -> None:
    sql = render_sql(model_with("{event: page_view}"), as_of=AS_OF, dialect=dialect, pretty=False)
    expected = {"duckdb": 'EPOCH_US(e."occurred_at")', "spark": "UNIX_MICROS(e.`occurred_at`)",
                "postgres": 'EXTRACT(EPOCH FROM e."occurred_at") * 1000000'}[dialect]
    assert expected in sql
    assert "1735689600000000" in sql  # as_of's epoch micros, computed in Python
