"""``engine.realtime``: a run for some contacts reads only their rows and gives the batch run's scores.

On generated B2B data (the bench's 25-rule model and the shipped example model), every contact
scored alone (the reference path), in groups (the compiled query over their copied rows), with and
without the server's lookup indexes, holds the score a whole-base run gives at the same instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadscore.bench.score_model import BENCH_MODEL_YAML
from leadscore.demo.generator import generate, load_into_store
from leadscore.engine import realtime
from leadscore.engine.realtime import reference_reads_as_sql
from leadscore.engine.run import ROWID_KEYS, ModelRunError, compiled_sql, model_of, publish
from leadscore.model.loader import parse_model
from leadscore.scoring import score_contacts
from leadscore.storage.events_by_contact import EventsByContact
from leadscore.storage.lookup_index import (
    LOOKUP_INDEXES,
    drop_lookup_indexes,
    ensure_lookup_indexes,
    existing_lookup_indexes,
)
from leadscore.storage.store import Store

AS_OF = datetime(2026, 1, 1)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store.open(tmp_path_factory.mktemp("rt") / "rt.duckdb")
    data = generate(400, 12_000, seed=11, end=AS_OF)
    load_into_store(store, data)
    publish(store, parse_model(BENCH_MODEL_YAML, "bench.yml"))
    yield store
    store.close()


def _batch(store: Store, model_name: str, as_of: datetime) -> dict[str, tuple[float, str]]:
    model = model_of(store.get_version(model_name))
    return {r[0]: (r[1], r[2]) for r in store.con.execute(compiled_sql(store, model, as_of)).fetchall()}


def _stored(store: Store, model_name: str, ids: list[str]) -> dict[str, tuple[float, str]]:
    return {r[0]: (r[1], r[2]) for r in store.con.execute(
        "SELECT contact_id, score, tier FROM scores WHERE model = ? AND contact_id IN (SELECT UNNEST(?))",
        [model_name, ids]).fetchall()}


def _assert_equal(got: dict[str, tuple[float, str]], want: dict[str, tuple[float, str]]) -> None:
    assert sorted(got) == sorted(want)
    for cid, (score, tier) in want.items():
        assert got[cid][0] == pytest.approx(score, abs=1e-9) and got[cid][1] == tier, cid


class _Spy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = realtime.score_many_reference

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(realtime, "score_many_reference", spy)


@pytest.fixture(params=[True, False], ids=["indexed", "scanned"])
def indexed(request: pytest.FixtureRequest, store: Store) -> Iterator[bool]:
    """The store with the server's lookup indexes, and without (as the CLI finds it after an import)."""
    if request.param:
        ensure_lookup_indexes(store)
        assert existing_lookup_indexes(store.con) == set(LOOKUP_INDEXES)
    yield request.param
    drop_lookup_indexes(store.con)


def test_each_contact_alone_gets_the_batch_score_by_the_reference_scorer(
        store: Store, monkeypatch: pytest.MonkeyPatch, indexed: bool) -> None:
    as_of = AS_OF + timedelta(days=3, hours=5)
    want = _batch(store, "bench", as_of)
    ids = sorted(want)[::7] + ["c0000399", "nobody"]
    spy = _Spy(monkeypatch)
    for cid in ids:
        with store.transaction() as con:  # the request's own event, uncommitted, counts
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) "
                        "VALUES (?, ?, 'page_view', ?)", [f"rt-{indexed}-{cid}", cid, as_of - timedelta(hours=1)])
            score_contacts(store, [cid], as_of=as_of)
    assert spy.calls == len(ids)
    want = _batch(store, "bench", as_of)
    _assert_equal(_stored(store, "bench", ids), {c: want[c] for c in ids if c in want})


def test_a_group_of_contacts_gets_the_batch_scores_from_the_compiled_query(
        store: Store, monkeypatch: pytest.MonkeyPatch, indexed: bool) -> None:
    as_of = AS_OF + timedelta(days=9)
    want = _batch(store, "bench", as_of)
    ids = sorted(want)[1::3]
    assert len(ids) > realtime.REFERENCE_CONTACTS
    spy = _Spy(monkeypatch)
    score_contacts(store, ids, as_of=as_of)
    assert spy.calls == 0
    _assert_equal(_stored(store, "bench", ids), {c: want[c] for c in ids})


def test_a_contact_with_many_events_takes_the_compiled_query(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    busiest = store.con.execute(
        "SELECT contact_id FROM events GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]  # type: ignore[index]
    monkeypatch.setattr(realtime, "REFERENCE_EVENTS", 5)
    spy = _Spy(monkeypatch)
    as_of = AS_OF + timedelta(hours=1)
    score_contacts(store, [busiest], as_of=as_of)
    assert spy.calls == 0
    _assert_equal(_stored(store, "bench", [busiest]), {busiest: _batch(store, "bench", as_of)[busiest]})


def test_when_the_reference_cannot_score_a_contact_the_compiled_query_does(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("a value the reference cannot compare")

    monkeypatch.setattr(realtime, "score_many_reference", refuse)
    as_of = AS_OF + timedelta(days=1)
    cid = "c0000010"
    score_contacts(store, [cid], as_of=as_of)
    _assert_equal(_stored(store, "bench", [cid]), {cid: _batch(store, "bench", as_of)[cid]})


@pytest.mark.parametrize(("rule", "reads_as_sql"), [
    ("{property: job_title, matches: '^VP'}", True),
    ("{property: job_title, matches: '(?i)^vp'}", False),  # case folding differs on a few letters
    ("{property: score_hint, gt: 1.5}", False),  # DECIMAL: not a type the reference reads as SQL
    ("{event: page_view, where: {url: {matches: '^/pricing$'}}}", True),
])
def test_models_the_reference_may_read_otherwise_take_the_compiled_query(
        tmp_path: Path, rule: str, reads_as_sql: bool) -> None:
    text = f"version: 1\nname: m\ngroups:\n  g:\n    rules:\n      - {{name: r, when: {rule}, points: 5}}\n"
    model = parse_model(text, "m.yml").model
    with Store.open(tmp_path / "s.duckdb") as store:
        store.con.execute("ALTER TABLE contacts ADD COLUMN score_hint DECIMAL(6, 2)")
        assert reference_reads_as_sql(model, store.column_types("contacts"),
                                      store.column_types("events")) is reads_as_sql


def test_a_model_the_compiler_refuses_for_this_store_fails_alone_on_every_path(tmp_path: Path) -> None:
    """The reference would score a missing column as empty; the batch run fails, so this run does."""
    text = ("version: 1\nname: m\ngroups:\n  g:\n    rules:\n"
            "      - {name: r, when: {property: company_size, gt: 5}, points: 5}\n")
    with Store.open(tmp_path / "s.duckdb") as store:
        store.con.execute("INSERT INTO contacts (contact_id) VALUES ('c1')")
        publish(store, parse_model(text, "m.yml"))
        store.con.execute("ALTER TABLE contacts DROP COLUMN company_size")
        with pytest.raises(ModelRunError, match="company_size"), store.transaction():
            score_contacts(store, ["c1"], as_of=AS_OF)


@pytest.mark.parametrize(("points", "deferred"), [
    ((0.1, 0.2, 0.7), True),  # fit ≈ 0.3, a band bound, and total ≈ 1, a tier bound: inexact sums
    ((0.25, 0.5, 0.25), False),  # total exactly 1: exact in any order, the reference's label is SQL's
    ((0.1, 0.4, 2), False),  # nowhere near a bound
])
def test_a_total_or_group_near_a_bound_is_labelled_by_the_compiled_query(
        tmp_path: Path, points: tuple[float, float, float], deferred: bool) -> None:
    """The reference adds points in another order than SQL; next to a tier or band bound its last
    bits could pick the other label, so there the compiled query (the batch run's) decides."""
    a, b, c = points
    text = ("version: 1\nname: m\ntiers: {cold: 0, hot: 1}\n"
            "matrix:\n  fit: {group: fit, bands: {B: 0, A: 0.3}}\n"
            "  engagement: {group: other, bands: {'2': 0, '1': 5}}\n"
            "groups:\n  fit:\n    rules:\n"
            f"      - {{name: ceo, when: {{property: job_title, equals: CEO}}, points: {a}}}\n"
            f"      - {{name: us, when: {{property: country, equals: US}}, points: {b}}}\n"
            f"  other:\n    rules:\n      - {{name: big, when: {{property: company_size, gt: 5}}, points: {c}}}\n")
    loaded = parse_model(text, "m.yml")
    with Store.open(tmp_path / "s.duckdb") as store:
        store.con.execute("INSERT INTO contacts (contact_id, job_title, country, company_size) "
                          "VALUES ('c1', 'CEO', 'US', 10)")
        publish(store, loaded)
        scored = realtime.scored_by_reference(store, loaded.model, ["c1"], AS_OF)
        assert (scored is None) is deferred
        if scored is not None:
            scored.drop(store.con)
        score_contacts(store, ["c1"], as_of=AS_OF)
        _assert_equal(_stored(store, "m", ["c1"]), _batch(store, "m", AS_OF))
        grade = store.con.execute("SELECT grade FROM scores").fetchone()
        want = store.con.execute(compiled_sql(store, loaded.model, AS_OF)).fetchone()
        assert grade is not None and want is not None and grade[0] == want[3]


def test_a_batch_rescored_from_the_servers_copy_of_the_events_gets_the_batch_scores(store: Store) -> None:
    """The server's path for a batch: the request's events written through ``api.writes`` (which
    tells the copy by contact, ``storage.events_by_contact``), its contacts rescored from that copy
    in the same transaction, twice (the second run replaces the first's rows by their row ids)."""
    from leadscore.api.values import NewEvent
    from leadscore.api.writes import write_events

    as_of = AS_OF + timedelta(days=11)
    ensure_lookup_indexes(store)
    memory = EventsByContact.build(store, realtime.events_read(store))
    assert memory is not None and "url" in memory.columns
    store.events_memory = memory
    try:
        ids = sorted(_batch(store, "bench", as_of))[::4] + ["new-contact"]
        assert len(ids) > ROWID_KEYS
        with store.transaction():
            events = [NewEvent(f"mem-{i}", cid, None, "page_view", as_of - timedelta(hours=i % 50),
                               {"url": "/pricing" if i % 2 else "/docs"}) for i, cid in enumerate(ids * 2)]
            written = write_events(store, events, store.column_types("events"), now=as_of)
            for _ in range(2):
                score_contacts(store, written.rescore, as_of=as_of)
        assert memory.usable(store) and memory.rows_held == store.count("events")
        want = _batch(store, "bench", as_of)
        _assert_equal(_stored(store, "bench", ids), {c: want[c] for c in ids if c in want})
        assert store.con.execute("SELECT count(*) - count(DISTINCT contact_id) FROM scores WHERE model = 'bench'"
                                 ).fetchall() == [(0,)]
    finally:
        store.events_memory = None
        drop_lookup_indexes(store.con)


def test_the_sql_path_copies_only_the_contact_columns_its_query_names(store: Store) -> None:
    """500 contacts' 6 of 18 columns by key cost 53 ms instead of 78 at 1M contacts; a query taking
    ``*`` from the copy itself gets every column."""
    from leadscore.engine.run import _parameterized_sql
    from leadscore.storage.types import logical_type

    version = store.get_version("bench")
    model = model_of(version)
    types = {t: {k: logical_type(v) for k, v in store.column_types(t).items()} for t in ("contacts", "events")}
    sql = _parameterized_sql(version, model, types["contacts"], types["events"], (realtime.RT_CONTACTS,
                                                                                  realtime.RT_EVENTS))
    ids = [r[0] for r in store.con.execute("SELECT contact_id FROM contacts ORDER BY contact_id LIMIT 20").fetchall()]

    def copied(query: str | None) -> list[str]:
        with store.transaction() as con:
            realtime.copy_rows(store, model, ids, query)
            names = [d[0] for d in con.execute(f"SELECT * FROM {realtime.RT_CONTACTS}").description]
            assert con.execute(f"SELECT count(*) FROM {realtime.RT_CONTACTS}").fetchone() == (20,)
            con.execute(f"DROP TABLE {realtime.RT_CONTACTS}")
            con.execute(f"DROP TABLE {realtime.RT_EVENTS}")
        return names

    read = {"contact_id", "created_at", "email", "job_title", "company_size", "industry"}  # the bench model's
    assert set(copied(sql)) == read and len(store.column_types("contacts")) > len(read) + 5
    assert copied(None) == list(store.column_types("contacts"))
    everything = f'SELECT c.* FROM "{realtime.RT_CONTACTS}" AS c'
    assert realtime.names_read(everything) is None and copied(everything) == list(store.column_types("contacts"))
    assert realtime.names_read(f"SELECT * FROM {realtime.RT_CONTACTS}") is None
    # a star over a subquery of the copy reads only what the subquery names
    assert realtime.names_read(f"SELECT * FROM (SELECT c.email FROM {realtime.RT_CONTACTS} AS c)") is not None


def test_a_query_the_column_reader_cannot_parse_copies_every_column(store: Store) -> None:
    """``names_read`` is an optimisation of the copy: a text sqlglot refuses (or nests past Python's
    recursion limit) must copy every column, not fail the write that asked."""

    assert realtime.names_read("SELECT (((( FROM") is None
    deep = "SELECT " + "(" * 5000 + "1" + ")" * 5000 + f" FROM {realtime.RT_CONTACTS}"
    assert realtime.names_read(deep) is None
    model = model_of(store.get_version("bench"))
    ids = [r[0] for r in store.con.execute("SELECT contact_id FROM contacts ORDER BY contact_id LIMIT 3").fetchall()]
    with store.transaction() as con:
        realtime.copy_rows(store, model, ids, "SELECT (((( FROM")
        names = [d[0] for d in con.execute(f"SELECT * FROM {realtime.RT_CONTACTS}").description]
        con.execute(f"DROP TABLE {realtime.RT_CONTACTS}")
        con.execute(f"DROP TABLE {realtime.RT_EVENTS}")
    assert names == list(store.column_types("contacts"))
