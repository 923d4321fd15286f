"""The real-time path (``engine.realtime``) as of a past instant reads properties as of then.

Contacts whose job title and company size changed after T are rescored alone (where the reference
path would otherwise answer) and in a group (the compiled query over their copied rows): the scores
must be the whole-base run's as of T, which reads the history, not today's values.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from leadscore.bench.score_model import BENCH_MODEL_YAML
from leadscore.compiler import compile_model
from leadscore.demo.generator import generate, load_into_store
from leadscore.engine.run import compiled_sql, model_of, publish
from leadscore.model.loader import parse_model
from leadscore.scoring import score_contacts
from leadscore.storage.history import write_properties
from leadscore.storage.store import Store

AS_OF = datetime(2026, 1, 1)
T = AS_OF - timedelta(days=60)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store.open(tmp_path_factory.mktemp("rth") / "rth.duckdb")
    load_into_store(store, generate(300, 6_000, seed=5, end=AS_OF))
    publish(store, parse_model(BENCH_MODEL_YAML, "bench.yml"))
    changed = [r[0] for r in store.con.execute(
        "SELECT contact_id FROM contacts WHERE created_at < ? ORDER BY contact_id LIMIT 12", [T]).fetchall()]
    with store.transaction() as con:
        for cid in changed:  # after T they became executives of big companies
            write_properties(con, cid, {"job_title": "CEO", "company_size": 5000}, source="test", now=AS_OF,
                             changed_at=T + timedelta(days=10))
    yield store
    store.close()


def _changed(store: Store) -> list[str]:
    return [r[0] for r in store.con.execute(
        "SELECT DISTINCT contact_id FROM property_history WHERE source = 'test' ORDER BY 1").fetchall()]


def _batch(store: Store, when: datetime, history: bool = True) -> dict[str, float]:
    """The whole-base query's scores as of ``when`` (without ``history``: today's properties)."""
    model = model_of(store.get_version("bench"))
    if history:
        sql = compiled_sql(store, model, when)
    else:
        contacts, events = store.scoring_columns()
        sql = compile_model(model, as_of=when, contact_columns=contacts, event_columns=events).sql(dialect="duckdb")
    return {r[0]: r[1] for r in store.con.execute(sql).fetchall()}


def _stored(store: Store, ids: list[str]) -> dict[str, float]:
    return dict(store.con.execute("SELECT contact_id, score FROM scores WHERE model = 'bench' "
                                  "AND contact_id IN (SELECT UNNEST(?))", [ids]).fetchall())


@pytest.mark.parametrize("size", [1, 12])
def test_a_few_contacts_scored_as_of_T_read_the_properties_of_T(store: Store, size: int) -> None:
    ids = _changed(store)[:size]
    want = _batch(store, T)
    score_contacts(store, ids, as_of=T)
    got = _stored(store, ids)
    assert sorted(got) == sorted(ids)
    for cid in ids:
        assert got[cid] == pytest.approx(want[cid], abs=1e-9), cid
    # the history mattered: as of T their titles were not CEO (today's values score otherwise)
    now_scores = _batch(store, T, history=False)
    assert any(abs(now_scores[c] - want[c]) > 1e-6 for c in ids)
