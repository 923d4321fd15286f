"""The account differential test: an account model's compiled SQL, run by a real engine, gives the
account reference scorer's numbers.

Hypothesis draws companies (0-20 contacts each), contacts, events, a contact model and an account
model (``strategies_accounts``); the rows are loaded into an engine, the account model compiled
with ``detail=True`` (its contact model embedded) and run, and every company's row is compared
with ``engine.reference_accounts``: score, each group and each rule's points within 1e-9, tier,
grade, match counts and fired flags equal. The one-company query must return the batch query's row,
and the parameterised real-time text (``$company_ids``) the same rows.

Property histories are part of the data (``strategies_accounts.account_histories``): contacts'
changes (their own properties, and membership's ``company_id`` and ``email``) and companies'
(their properties and ``domain``), recorded as the store records them. The engines read both as of
the instant from ``property_history`` / ``company_property_history``; the reference resolves them
by the rule (``engine/properties_as_of.py``). When nothing changed after the instant, the query
without the histories (the "now" path) must give the same rows.

Engines: the embedded DuckDB store, a local Spark session and a real PostgreSQL server (the one
the conformance suite starts, ``tests/pgserver.py``). Another engine plugs in by subclassing
``AccountDuckDB`` with its own ``load_accounts`` and ``run``: three tables in, one query's rows out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from tests.history_rows import record_history
from tests.strategies_accounts import COMPANY_SCHEMA, AccountScenario, account_scenarios
from tests.test_differential import TOLERANCE, DuckDBEngine, SparkEngine, _near_bound

from leadscore.compiler.accounts import compile_account_model
from leadscore.engine.reference_accounts import AccountReferenceScore, score_accounts_reference
from leadscore.model.account_spec import AccountModel
from leadscore.model.loader import parse_model
from leadscore.model.spec import ScoringModel
from leadscore.storage.history import COMPANIES, needs_history
from leadscore.timeutil import epoch_micros

EXAMPLES = int(os.environ.get("LEADSCORE_DIFF_EXAMPLES", "150")) // 2
SPARK_EXAMPLES = int(os.environ.get("LEADSCORE_SPARK_EXAMPLES", "40")) // 4
COMPANY_FIELDS = ("company_id", *COMPANY_SCHEMA)
Row = dict[str, Any]
#: The tables an account query reads, as the store holds them once the histories are recorded.
TABLES = ("companies", "contacts", "events", "property_history", "company_property_history")


class AccountDuckDB(DuckDBEngine):
    """The embedded store with companies and the contacts' company_id."""

    def load_accounts(self, companies: Sequence[Row], contacts: Sequence[Row], events: Sequence[Row],
                      history: Sequence[Row] = (), company_history: Sequence[Row] = ()) -> None:
        """Replace the rows; the histories are recorded as ``leadscore import history`` would
        (``contacts`` and ``companies`` then hold each property's latest value)."""
        DuckDBEngine.load(self, contacts, events)
        con = self.store.con
        con.execute("DELETE FROM companies")
        con.execute("DELETE FROM company_property_history")
        con.execute("DELETE FROM meta WHERE key = 'company_property_history_latest'")
        for row in companies:
            con.execute(f"INSERT INTO companies ({', '.join(COMPANY_FIELDS)}) VALUES "
                        f"({', '.join('?' for _ in COMPANY_FIELDS)})", [row.get(f) for f in COMPANY_FIELDS])
        for row in contacts:
            con.execute("UPDATE contacts SET company_id = ? WHERE contact_id = ?",
                        [row.get("company_id"), row["contact_id"]])
        record_history(con, self.store.column_types("contacts"), history)
        record_history(con, self.store.column_types("companies"), company_history, COMPANIES)
        self.contact_columns = self.store.columns("contacts")
        self.company_columns = self.store.columns("companies")

    def stored(self, table: str) -> list[Row]:
        return DuckDBEngine.run(self, f"SELECT * FROM {table}")

    def run_params(self, sql: str, as_of: datetime, company_ids: list[str]) -> list[Row]:
        params = {"as_of": as_of, "as_of_us": epoch_micros(as_of), "company_ids": company_ids}
        cursor = self.store.con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


class AccountSpark(SparkEngine, AccountDuckDB):
    """A local Spark session with the same three tables."""

    def load_accounts(self, companies: Sequence[Row], contacts: Sequence[Row], events: Sequence[Row],
                      history: Sequence[Row] = (), company_history: Sequence[Row] = ()) -> None:
        from leadscore.engine.spark import register_rows

        AccountDuckDB.load_accounts(self, companies, contacts, events, history, company_history)
        for table in TABLES:
            register_rows(self.spark, table, self.store.column_types(table), self.stored(table))


class AccountPostgres(AccountDuckDB):
    """A database on the test session's PostgreSQL server (``tests/pgserver.py``) with the same three
    tables, typed as the store types them."""

    dialect = "postgres"
    sqlglot_dialect = "postgres"

    def __init__(self, dsn: str) -> None:
        import psycopg
        from tests.conformance.legs import PG_TYPES

        super().__init__()  # an in-memory store: the column names and types of the tables
        AccountDuckDB.load_accounts(self, [], [], [])
        self.types = {t: self.store.column_types(t) for t in TABLES}
        self.con = psycopg.connect(dsn, autocommit=True)
        self.con.execute("SET TIME ZONE 'UTC'")
        for table, types in self.types.items():
            columns = ", ".join(f'"{c}" {PG_TYPES.get(t, "text")}' for c, t in types.items())
            self.con.execute(f"DROP TABLE IF EXISTS {table}")  # type: ignore[arg-type]
            self.con.execute(f"CREATE TABLE {table} ({columns})")  # type: ignore[arg-type]

    def load_accounts(self, companies: Sequence[Row], contacts: Sequence[Row], events: Sequence[Row],
                      history: Sequence[Row] = (), company_history: Sequence[Row] = ()) -> None:
        AccountDuckDB.load_accounts(self, companies, contacts, events, history, company_history)
        with self.con.transaction():
            for table in TABLES:
                rows = self.stored(table)
                fields = list(self.types[table])
                self.con.execute(f"TRUNCATE {table}")  # type: ignore[arg-type]
                names = ", ".join(f'"{f}"' for f in fields)
                with self.con.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # type: ignore[arg-type]
                    for row in rows:
                        copy.write_row([row.get(f) for f in fields])

    def run(self, sql: str) -> list[Row]:
        cursor = self.con.execute(sql)  # type: ignore[arg-type]
        names = [d.name for d in cursor.description or []]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def close(self) -> None:
        self.con.close()
        super().close()


@pytest.fixture(scope="module")
def postgres_accounts(postgres_dsn: str) -> Any:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS accounts_differential")
        con.execute("CREATE DATABASE accounts_differential")
    engine = AccountPostgres(postgres_dsn.replace("dbname=postgres", "dbname=accounts_differential"))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def duckdb_accounts() -> Any:
    engine = AccountDuckDB()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def spark_accounts() -> Any:
    engine = AccountSpark()
    yield engine
    engine.close()


def account_rows(engine: AccountDuckDB, s: AccountScenario, company_id: str | None = None, *,
                 history: bool = True) -> dict[str, Row]:
    """The engine's rows by company; ``history``: properties (and membership) as of the instant."""
    query = compile_account_model(s.model, as_of=s.as_of, contact_models={"b2b": s.contact_model},
                                  dialect=engine.dialect, detail=True, company_id=company_id,
                                  match_by_domain=s.match_by_domain, contact_columns=engine.contact_columns,
                                  event_columns=engine.event_columns, company_columns=engine.company_columns,
                                  history_table="property_history" if history else None,
                                  company_history_table="company_property_history" if history else None)
    rows = engine.run(query.sql(dialect=engine.sqlglot_dialect))
    by_id = {row["company_id"]: row for row in rows}
    assert len(by_id) == len(rows), "one row per company"
    return by_id


def assert_accounts_agree(model: AccountModel, got: Mapping[str, Row],
                          expected: Mapping[str, AccountReferenceScore]) -> None:
    assert sorted(got) == sorted(expected), "the engine scored other companies than the reference"
    for cid, ref in expected.items():
        row, where = got[cid], f"company {cid!r}"
        assert row["score"] == pytest.approx(ref.total, abs=TOLERANCE), f"{where}: score"
        assert row["tier"] == ref.tier or _near_bound(ref.total, model.tiers), f"{where}: tier"
        for k, (name, points) in enumerate(ref.groups.items()):
            assert row[f"g_{k}"] == pytest.approx(points, abs=TOLERANCE), f"{where}: group {name}"
        if model.matrix is not None and row["grade"] != ref.grade:
            axes = [model.matrix.fit, model.matrix.engagement]
            assert any(_near_bound(ref.groups[a.group], a.bands) for a in axes), f"{where}: grade"
        for rule in ref.rules:
            i, what = rule.index, f"{where}: rule {rule.index} ({rule.group}.{rule.name})"
            assert row[f"rf_{i}"] is rule.fired, f"{what}: fired {row[f'rf_{i}']!r} != {rule.fired}"
            assert row[f"rn_{i}"] == rule.count, f"{what}: count {row[f'rn_{i}']!r} != {rule.count}"
            assert row[f"r_{i}"] == pytest.approx(rule.points, abs=TOLERANCE), f"{what}: points"
            assert row[f"rraw_{i}"] == pytest.approx(rule.raw, abs=TOLERANCE), f"{what}: raw points"


def _describe(s: AccountScenario) -> None:
    for label, model in (("contact model", s.contact_model), ("account model", s.model)):
        dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
        note(f"{label}:\n" + yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True))
    note(f"as_of: {s.as_of.isoformat()}, match_by_domain: {s.match_by_domain}")
    for name, rows in (("companies", s.companies), ("contacts", s.contacts), ("events", s.events),
                       ("contact history", s.history), ("company history", s.company_history)):
        note(f"{name}:\n" + "\n".join(repr(r) for r in rows))


def _by_key(changes: Sequence[Row], key: str) -> dict[Any, list[Row]]:
    out: dict[Any, list[Row]] = {}
    for change in changes:
        out.setdefault(change[key], []).append(change)
    return out


def expected_accounts(s: AccountScenario) -> dict[str, AccountReferenceScore]:
    return score_accounts_reference(s.model, s.companies, s.contacts, s.events, s.as_of, {"b2b": s.contact_model},
                                    match_by_domain=s.match_by_domain, changes=_by_key(s.history, "contact_id"),
                                    company_changes=_by_key(s.company_history, "company_id"))


def check_accounts(engine: AccountDuckDB, s: AccountScenario) -> None:
    engine.load_accounts(s.companies, s.contacts, s.events, s.history, s.company_history)
    try:
        got = account_rows(engine, s)
        assert_accounts_agree(s.model, got, expected_accounts(s))
        con = engine.store.con
        if not needs_history(con, s.as_of) and not needs_history(con, s.as_of, COMPANIES):
            assert account_rows(engine, s, history=False) == got  # the "now" path: the tables alone
    except Exception:
        _describe(s)
        raise


_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture,
            HealthCheck.large_base_example]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=account_scenarios())
def test_duckdb_accounts_agree_with_reference(duckdb_accounts: AccountDuckDB, scenario: AccountScenario) -> None:
    check_accounts(duckdb_accounts, scenario)


@settings(max_examples=max(SPARK_EXAMPLES, 5), deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=account_scenarios())
def test_spark_accounts_agree_with_reference(spark_accounts: AccountSpark, scenario: AccountScenario) -> None:
    check_accounts(spark_accounts, scenario)


@settings(max_examples=max(EXAMPLES // 3, 10), deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=account_scenarios())
def test_postgres_accounts_agree_with_reference(postgres_accounts: AccountPostgres, scenario: AccountScenario) -> None:
    check_accounts(postgres_accounts, scenario)


@settings(max_examples=max(EXAMPLES // 6, 10), deadline=None, suppress_health_check=_SLOW_OK)
@given(scenario=account_scenarios(), data=st.data())
def test_one_company_and_parameterised_queries_are_the_batch_rows(
        duckdb_accounts: AccountDuckDB, scenario: AccountScenario, data: st.DataObject) -> None:
    s = scenario
    duckdb_accounts.load_accounts(s.companies, s.contacts, s.events, s.history, s.company_history)
    batch = account_rows(duckdb_accounts, s)
    ids = [c["company_id"] for c in s.companies] + ["nobody"]
    one = data.draw(st.sampled_from(ids), label="company_id")
    assert account_rows(duckdb_accounts, s, company_id=one) == ({one: batch[one]} if one in batch else {})
    some = data.draw(st.lists(st.sampled_from(ids), unique=True), label="company_ids")
    query = compile_account_model(s.model, as_of=datetime(1970, 1, 1), contact_models={"b2b": s.contact_model},
                                  detail=True, params=True, match_by_domain=s.match_by_domain,
                                  contact_columns=duckdb_accounts.contact_columns,
                                  event_columns=duckdb_accounts.event_columns,
                                  company_columns=duckdb_accounts.company_columns,
                                  history_table="property_history", company_history_table="company_property_history")
    rows = duckdb_accounts.run_params(query.sql(dialect="duckdb"), s.as_of, some)
    assert {r["company_id"]: r for r in rows} == {k: batch[k] for k in some if k in batch}


# --------------------------------------------------------------------------- a worked example

WORKED = """
name: accounts
level: account
tiers: {cold: 0, warm: 20, sales_ready: 40}
roles:
  dm: {property: job_title, in: [CEO, VP Sales]}
groups:
  people:
    rules:
      - {name: best two, points_from: {model: b2b, aggregate: top_k_mean, k: 2, weights: {dm: 2}}, factor: 0.5}
      - {name: buying group, when: {contacts: {role: dm}, at_least: 2}, points: 10}
  engagement:
    decay: {half_life_days: 10}
    rules:
      - name: pricing by 2 people
        when: {event: page_view, where: {url: /pricing}, within_days: 14, at_least: 2, count: contacts}
        points: 20
      - {name: quiet, when: {no_event_within_days: 30}, points: -5}
"""
B2B = """
name: b2b
groups:
  fit: {rules: [{name: title, when: {property: job_title, in: [CEO, VP Sales]}, points: 10}]}
  engagement: {rules: [{name: visits, when: {event: page_view}, points_per_event: 5, max: 20}]}
"""


def test_worked_example(duckdb_accounts: AccountDuckDB) -> None:
    """docs/model-reference.md's worked account example, by hand, on both the SQL and the reference."""
    model = parse_model(WORKED).model
    contact = parse_model(B2B).model
    assert isinstance(model, AccountModel)
    as_of = datetime(2025, 6, 30)
    companies = [{"company_id": "acme", "name": "Acme", "domain": "acme.io", "employees": 200}]
    contacts = [
        {"contact_id": "dana", "email": "dana@acme.io", "job_title": "CEO", "company_id": "acme"},
        {"contact_id": "eli", "email": "eli@acme.io", "job_title": "VP Sales", "company_id": None},
        {"contact_id": "fay", "email": "fay@acme.io", "job_title": "Engineer", "company_id": "acme"},
        {"contact_id": "gus", "email": "gus@gmail.com", "job_title": "CEO", "company_id": None},
    ]
    day = timedelta(days=1)
    events = [{"event_id": f"e{i}", "contact_id": who, "type": "page_view", "occurred_at": as_of - days * day,
               "url": url} for i, (who, days, url) in enumerate([
                   ("dana", 2, "/pricing"), ("fay", 4, "/pricing"), ("fay", 5, "/blog"), ("eli", 40, "/pricing"),
                   ("gus", 1, "/pricing")])]
    engine = duckdb_accounts
    engine.load_accounts(companies, contacts, events)
    for by_domain in (False, True):
        s = AccountScenario(model, contact, companies, contacts, events, as_of, by_domain)
        expected = expected_accounts(s)
        assert_accounts_agree(model, account_rows(engine, s), expected)
        acme = expected["acme"]
        # contact scores: dana 10 + 5 = 15, fay 0 + 10 = 10 (eli 10 + 5 = 15 when matched by domain)
        # best two, weighted (dm × 2): by domain dana 30, eli 30 -> mean 30; else dana 30, fay 10 -> 20
        best = 30.0 if by_domain else 20.0
        assert acme.rules[0].points == pytest.approx(0.5 * best)
        assert acme.rules[1].fired is by_domain  # two decision makers only with eli
        # pricing by 2 distinct contacts within 14 days: dana (2 d) and fay (4 d), newest 2 days old
        assert acme.rules[2].points == pytest.approx(20 * 0.5 ** (2 / 10))
        assert acme.rules[3].fired is False
        assert acme.total == pytest.approx(0.5 * best + (10 if by_domain else 0) + 20 * 0.5 ** 0.2)


# --------------------------------------------------------------------------- examples the test found

DAY = timedelta(days=1)

FOUND_B2B = """
name: b2b
tiers: {tier0: 30.0}
groups:
  fit:
    decay: {half_life_days: 45.5}
    rules:
      - {name: r0, when: {event: [email_open, page_view]}, points_per_event: 20.0, max: 1.0, decay: false}
  behaviour:
    cap: 25.0
    rules:
      - {name: r0, when: {no_event_within_days: 1.0, events: [email_open, demo_request]}, points: -20.0}
      - {name: r1, when: {no_event_within_days: 0.5, events: [page_view]}, points: -20.0}
      - {name: r2, when: {no_event_within_days: 1.0, events: [form_submit, email_open]}, points: 5.0}
  engagement:
    cap: 0.0
    rules:
      - {name: r0, when: {event: email_open}, points_per_event: -1.5, max: 30.0, decay: {percent_per_month: 3.0}}
      - {name: r1, when: {no_event_within_days: 7.0}, points: 15.0, decay: false}
      - name: r2
        when: {event: [form_submit], within_days: 1.0}
        points_per_event: 2.0
        decay: {half_life_days: 0.5}
      - {name: r3, when: {event: demo_request, within_days: 7.0}, points_per_event: 1.0, max: 2.5, decay: false}
cap: 60.0
matrix:
  fit: {group: behaviour, bands: {A: 5.0, B: 0.0}}
  engagement: {group: engagement, bands: {'1': 5.0, '2': -5.0, '3': 10.0}}
"""
FOUND_ACCOUNTS = """
name: accounts
level: account
tiers: {t0: 50.0}
roles:
  dm: {no_event_within_days: 7.0}
  champion: {property: email_domain, in: [ACME.IO, yahoo.com, yahoo.com]}
  user: {no_event_within_days: 1.0, events: [page_view]}
groups:
  engagement:
    decay: {half_life_days: 90.0}
    rules:
      - {name: engagement0, when: {no_event_within_days: 0.5, events: [email_open]}, points: 15.0, decay: false}
  people:
    floor: -20.0
    rules:
      - name: people0
        when: {event: [email_open, page_view]}
        points_per_event: 2.0
        max: 2.5
        decay: {half_life_days: 7.0}
      - name: people1
        when:
          contacts: {role: user, model: b2b, tier: [tier0], when: {no_event_within_days: 7.0}}
          between: [2, 4]
        points: 1.0
      - name: people2
        when: {property: domain, is_empty: true}
        points_from: {model: b2b, aggregate: mean}
        factor: 1.0
      - {name: people3, when: {event: email_open}, points_per_event: -1.5, max: 2.5}
"""


def test_found_contacts_filter_with_role_tier_and_inactivity(duckdb_accounts: AccountDuckDB) -> None:
    """A falsifying example of the account differential test, kept as it was found (no history).

    k0 (created exactly at T) has p0 (an email_open and a demo_request at T, a page_view 0.16 s after
    T: not yet) and p1 (no events). Both hold `user` (no page_view within 1 day) and are in the
    contact model's only tier, but only p1 has no event within 7 days: people1 counts 1 contact,
    outside [2, 4], and does not fire.
    """
    model = parse_model(FOUND_ACCOUNTS).model
    contact = parse_model(FOUND_B2B).model
    assert isinstance(model, AccountModel) and isinstance(contact, ScoringModel)
    as_of = datetime(2025, 6, 1, 12)
    nones = dict.fromkeys(("email", "country", "is_customer", "company_size", "created_at", "job_title",
                           "updated_at"))
    companies = [{"company_id": "k0", "name": "Company k0", "domain": "acme.io", "industry": "SaaS",
                  "employees": None, "created_at": as_of, "owner": "ann"}]
    contacts = [{**nones, "company_size": 0, "company_id": "k0", "contact_id": "p0"},
                {**nones, "country": "US", "company_id": "k0", "contact_id": "p1"},
                {**nones, "updated_at": as_of, "company_id": "k-unknown", "contact_id": "p2"},
                {**nones, "company_id": "k-unknown", "contact_id": "p3"}]
    events = [{"event_id": f"e{i}", "contact_id": who, "type": typ, "occurred_at": at, "campaign": campaign,
               "url": url} for i, (who, typ, at, campaign, url) in enumerate([
                   ("p0", "email_open", as_of, None, None),
                   ("p3", "page_view", as_of, None, None),
                   ("p0", "page_view", as_of + timedelta(microseconds=164692), None, None),
                   ("p0", "demo_request", as_of, "spring", "https://x.io/pricing"),
                   ("ghost", "page_view", datetime(2025, 4, 11, 6, 3, 39, 376236), None, None),
                   ("p3", "bounce", datetime(2025, 2, 24, 12, 41, 20, 428845), "q'4", None),
                   ("ghost", "demo_request", datetime(2025, 5, 2, 12, 0, 0, 1), "q'4", "/a_b"),
                   ("p2", "email_open", datetime(2025, 1, 27, 21, 48, 13, 615149), None, "/blog/100%-growth"),
                   ("p3", "demo_request", datetime(2024, 10, 2, 8, 6, 50, 111999), "q'4", None)])]
    s = AccountScenario(model, contact, companies, contacts, events, as_of, False)
    people1 = expected_accounts(s)["k0"].rules[2]
    assert (people1.name, people1.fired) == ("people1", False)
    duckdb_accounts.load_accounts(companies, contacts, events)
    assert_accounts_agree(model, account_rows(duckdb_accounts, s), expected_accounts(s))


def test_role_pieces_keep_their_precedence_when_inlined(duckdb_accounts: AccountDuckDB) -> None:
    """A role whose condition is an inactivity leaf compiles to ``m IS NULL OR m > D``; where a
    member piece builds on it (under an AND with a contacts filter's `when`, under the AND / NOT of
    the role gates counting a rule's events) it must stay one value.

    kim: a demo_request half a day ago (not `quiet`), a page_view and a form_submit 3 days ago
    (`idle`), country DE.
    lou: no events at all (`quiet` and `idle`), country US.
    """
    model = parse_model("""
name: accounts
level: account
roles:
  quiet: {no_event_within_days: 1, events: [demo_request]}
  idle: {no_event_within_days: 2, events: [form_submit]}
groups:
  people:
    rules:
      - {name: quiet not US, when: {contacts: {role: quiet, when: {property: country, not_equals: US}}}, points: 10}
      - name: gated events
        when: {any: [{event: page_view, role: quiet}, {event: demo_request, role: idle}]}
        points: 5
""").model
    contact = parse_model(B2B).model
    assert isinstance(model, AccountModel) and isinstance(contact, ScoringModel)
    as_of = datetime(2025, 6, 30)
    companies = [{"company_id": "acme", "name": "Acme", "domain": "acme.io"}]
    contacts = [{"contact_id": "kim", "email": "kim@acme.io", "country": "DE", "company_id": "acme"},
                {"contact_id": "lou", "email": "lou@acme.io", "country": "US", "company_id": "acme"}]
    events = [{"event_id": "e1", "contact_id": "kim", "type": "demo_request", "occurred_at": as_of - 0.5 * DAY},
              {"event_id": "e2", "contact_id": "kim", "type": "page_view", "occurred_at": as_of - 3 * DAY},
              {"event_id": "e3", "contact_id": "kim", "type": "form_submit", "occurred_at": as_of - 3 * DAY}]
    s = AccountScenario(model, contact, companies, contacts, events, as_of, False)
    expected = expected_accounts(s)
    # kim is not quiet, lou is from the US: nobody passes the filter; kim's demo_request counts (idle)
    assert [(r.fired, r.count) for r in expected["acme"].rules] == [(False, None), (True, 1)]
    duckdb_accounts.load_accounts(companies, contacts, events)
    assert_accounts_agree(model, account_rows(duckdb_accounts, s), expected)
