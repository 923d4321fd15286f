"""A page number typed into the URL: cut from a small slice found by counting (``web.offset_pages``),
and always the rows ``ORDER BY ... LIMIT OFFSET`` gives, across ranks, bins, ties and id prefixes."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pytest

from leadscore.storage.store import Store
from leadscore.web import offset_pages
from leadscore.web.pager import PAGE_SIZE, Order, keyset_rows

ORDER = Order(("tier_rank", "priority_rank", "-score", "contact_id"), (float, float, float, str))
COLUMNS = "contact_id, score, tier_rank, priority_rank"
#: the list as the leads list reads it: ranks computed from the stored tier and priority
SOURCE = """(SELECT contact_id, score, coalesce(list_position($w_tiers, tier), 99) AS tier_rank,
                    coalesce(list_position($w_priorities, priority), 9) AS priority_rank FROM rows_)"""
PARAMS = {"w_tiers": ["hot", "warm", "cold"], "w_priorities": ["very high", "high", "medium", "low"]}


@dataclass(frozen=True)
class Typed:
    """A page number typed into the URL (``pager.Filter`` without cursors)."""

    page: int
    after: str | None = None
    before: str | None = None

    def url(self, **changes: Any) -> str:
        return ""

    def filters(self) -> dict[str, Any]:
        return {}


class Recording:
    """The store's connection, keeping the text of every statement run through it."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.sql: list[tuple[str, dict[str, Any]]] = []

    def execute(self, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        self.sql.append((sql, params or {}))
        return self.con.execute(sql, params)


def _store(rows: Sequence[tuple[str, float, str, str | None]]) -> Store:
    con = duckdb.connect()
    con.execute("CREATE TABLE rows_ (contact_id VARCHAR, score DOUBLE, tier VARCHAR, priority VARCHAR)")
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    con.execute("INSERT INTO rows_ SELECT unnest($1::VARCHAR[]), unnest($2::DOUBLE[]), unnest($3::VARCHAR[]), "
                "unnest($4::VARCHAR[])", [list(c) for c in columns])
    return Store(con, ":memory:")


def _rows(n: int, seed: int) -> list[tuple[str, float, str, str | None]]:
    """Leads in three tiers and five priorities, with big ties (a third at exactly 0, many at 5 and
    -15), a few distinct scores and ids of mixed shapes (a shared prefix, numbers, hex)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        score = 0.0 if r < 0.35 else 5.0 if r < 0.5 else -15.0 if r < 0.6 else round(rng.uniform(-40, 80), 6)
        tier = "hot" if score >= 60 else "warm" if score >= 30 else "cold"
        shape = rng.random()
        cid = f"c{i:07d}" if shape < 0.6 else (str(10_000_000 + i) if shape < 0.8 else f"{rng.getrandbits(48):012x}")
        out.append((cid, score, tier, rng.choice([None, "very high", "high", "medium", "low"])))
    return out


def _expected(store: Store, offset: int) -> list[tuple[Any, ...]]:
    keys = ", ".join(ORDER.keys)
    return [tuple(r) for r in store.con.execute(
        f"SELECT {COLUMNS} FROM {SOURCE} ORDER BY {keys} LIMIT {PAGE_SIZE} OFFSET {offset}", PARAMS).fetchall()]


def _typed(store: Store, page: int) -> tuple[list[tuple[Any, ...]], bool]:
    return keyset_rows(store, SOURCE, PARAMS, COLUMNS, ORDER, Typed(page), lambda r: [r[2], r[3], -r[1], r[0]])


TOTAL = 4_000


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    s = _store(_rows(TOTAL, seed=3))
    yield s
    s.con.close()


@pytest.mark.parametrize("slice_rows, bins", [(20_000, 4096), (60, 8), (7, 2)], ids=["default", "small", "tiny"])
def test_every_typed_page_is_the_page_of_the_sorted_list(store: Store, slice_rows: int, bins: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every page, at every narrowing depth (the tiny slice splits every tie by id prefix), holds
    the rows an ORDER BY ... OFFSET of the whole list holds, and says whether a row follows."""
    monkeypatch.setattr(offset_pages, "SLICE_ROWS", slice_rows)
    monkeypatch.setattr(offset_pages, "BINS", bins)
    pages = -(-TOTAL // PAGE_SIZE)
    for page in range(2, pages + 2, 1 if slice_rows > 7 else 3):
        rows, has_next = _typed(store, page)
        assert rows == _expected(store, (page - 1) * PAGE_SIZE), page
        assert has_next == (page < pages), page


def test_a_page_past_the_end_is_empty(store: Store) -> None:
    assert _typed(store, 10_000) == ([], False)


@pytest.mark.parametrize("slice_rows", [20_000, 40])
def test_a_list_of_one_tie_and_one_rank_is_split_by_id(slice_rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every lead at the same score in the same tier: only the ids order them."""
    monkeypatch.setattr(offset_pages, "SLICE_ROWS", slice_rows)
    ties = _store([(f"lead-{i:05d}", 10.0, "warm", None) for i in range(3_000)])
    try:
        for page in (2, 17, 31, 60, 61):
            assert _typed(ties, page)[0] == _expected(ties, (page - 1) * PAGE_SIZE), page
    finally:
        ties.con.close()


def test_a_deep_page_of_a_big_tier_sorts_a_small_slice() -> None:
    """The bench's slow request: a typed page deep inside a tier of most leads. The page query used
    to sort the whole tier (DuckDB drops its top-N heap past 5,000 rows of LIMIT + OFFSET: ~0.4 s
    at 1M contacts); now it sorts at most ``SLICE_ROWS`` rows, even inside a tie of 30k leads."""
    rng = random.Random(5)
    leads = [(f"c{i:07d}", -15.0 if i % 2 else round(rng.uniform(-40, 29), 6), "cold", None) for i in range(60_000)]
    big = _store(leads)
    recording = Recording(big.con)
    big.con = recording  # type: ignore[assignment]
    try:
        for page in (150, 700, 1_190):  # among distinct scores, inside the tie, at its end
            recording.sql.clear()
            rows, _ = _typed(big, page)
            sql, params = next((s, p) for s, p in reversed(recording.sql) if re.search(r"\bOFFSET\b", s))
            assert rows == _expected(big, (page - 1) * PAGE_SIZE), page
            where = re.search(r"FROM .*?\) (WHERE .*?) ORDER BY", sql, re.S)
            assert where, sql  # the whole tier: no slice
            counted = recording.con.execute(f"SELECT count(*) FROM {SOURCE} {where.group(1)}", params).fetchone()
            assert counted and counted[0] <= offset_pages.SLICE_ROWS, (page, counted)
    finally:
        recording.con.close()


def test_scores_a_few_denormals_apart_are_binned_in_order() -> None:
    """Review finding: a range of scores smaller than BINS x 5e-324 (decay of very old events)
    made the bin width 0.0, each row's bin NaN or inf, and typed pages showed the top leads again."""
    tiny = _store([(f"c{i:03d}", 1e-321 if i < 10 else 0.0, "cold", None) for i in range(60)])
    try:
        assert _typed(tiny, 2)[0] == _expected(tiny, PAGE_SIZE)
    finally:
        tiny.con.close()
