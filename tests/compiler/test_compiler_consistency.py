"""The three shapes of one compiled model agree: with ``detail``, without it, and per contact.

Without ``detail`` the compiler drops the match counts a ``points`` rule does not need and reads
"at least one match" from the newest match's age instead; one-contact queries filter both tables.
Every golden model is run all three ways on the same synthetic store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.compiler.compiler_helpers import AS_OF, fill_synthetic

from leadscore.compiler import render_sql
from leadscore.model.loader import load_model
from leadscore.storage.store import Store

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "model.yml").is_file())
SUMMARY = ("contact_id", "score", "tier", "grade")


@pytest.fixture(scope="module")
def synthetic() -> Iterator[Store]:
    store = Store.open(":memory:")
    fill_synthetic(store, 600, 12_000)
    yield store
    store.close()


def _rows(store: Store, sql: str) -> dict[str, dict]:
    cursor = store.con.execute(sql)
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


@pytest.mark.parametrize("case", CASES)
def test_detail_plain_and_one_contact_agree(case: str, synthetic: Store,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALES_HOOK_URL", "https://hooks.example.invalid")
    model = load_model(GOLDEN / case / "model.yml").model
    detailed = _rows(synthetic, render_sql(model, as_of=AS_OF, detail=True))
    plain = _rows(synthetic, render_sql(model, as_of=AS_OF))
    assert sorted(plain) == sorted(detailed) and len(plain) > 500
    groups = [f"g_{k}" for k in range(len(model.groups))]
    for cid, row in plain.items():
        assert list(row) == [*SUMMARY, *groups]
        assert row == {k: detailed[cid][k] for k in row}, cid
    fired = {i for row in detailed.values() for i in range(len(model.rules())) if row[f"rf_{i}"]}
    assert len(fired) >= len(model.rules()) / 2, "the synthetic data should make most rules fire"
    for cid in sorted(detailed)[::97]:
        one = _rows(synthetic, render_sql(model, as_of=AS_OF, detail=True, contact_id=cid))
        assert one == {cid: detailed[cid]}
