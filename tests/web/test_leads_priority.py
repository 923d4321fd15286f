"""The leads list with a real predictive model (trained and predicted by ``leadscore train`` /
``predict``): sorted by tier, then predicted priority, then score; filtered by priority; each row
shows its priority and probability — read from the display table, equal to ``predictions``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from tests.predictive.conftest import copy_workspace, demo_template  # noqa: F401 (fixture)
from tests.predictive.test_predict import predicted_template  # noqa: F401 (fixture)

from leadscore.storage.store import Store
from leadscore.web import offset_pages
from leadscore.web.leads_query import PRIORITIES, LeadFilter, LeadPage, leads_page
from leadscore.web.pager import PAGE_SIZE
from leadscore.workspace import Workspace


@pytest.fixture(scope="module")
def ws(predicted_template: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Workspace:  # noqa: F811
    return copy_workspace(predicted_template, tmp_path_factory.mktemp("priority") / "ws")


def _page(store: Store, ws: Workspace, flt: LeadFilter) -> LeadPage:
    return leads_page(store, ws, flt, owner=None)


def _expected(store: Store, tiers: dict[str, float], where: str = "TRUE") -> list[tuple[Any, ...]]:
    """The list from its sources: scores joined with the predictions, in the list's order."""
    best_first = [t for t, _ in sorted(tiers.items(), key=lambda kv: -kv[1])]
    return [tuple(r) for r in store.con.execute(
        f"""SELECT s.contact_id, p.priority, p.probability FROM scores AS s
            LEFT JOIN predictions AS p USING (contact_id)
            WHERE {where}
            ORDER BY list_position($t, s.tier), coalesce(list_position($p, p.priority), 9), s.score DESC,
                     s.contact_id""", {"t": best_first, "p": PRIORITIES}).fetchall()]


def _shown(page: LeadPage) -> list[tuple[Any, ...]]:
    return [(r.contact_id, r.priority, r.probability) for r in page.rows]


@pytest.mark.parametrize("slice_rows", [20_000, 100], ids=["default", "small slices"])
def test_the_list_is_sorted_by_tier_then_priority_then_score(ws: Workspace, slice_rows: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offset_pages, "SLICE_ROWS", slice_rows)
    with ws.open_store(read_only=True) as store:
        first = _page(store, ws, LeadFilter())
        assert first.predictive == "likelihood"
        expected = _expected(store, first.tiers)
        assert len({p for _, p, _ in expected}) >= 3
        assert _shown(first) == expected[:PAGE_SIZE]
        pages = -(-len(expected) // PAGE_SIZE)
        for n in (2, pages // 3, pages // 2, pages - 1, pages):  # typed page numbers, across priority buckets
            page = _page(store, ws, replace(first.filter, page=n))
            assert _shown(page) == expected[(n - 1) * PAGE_SIZE:n * PAGE_SIZE], n


@pytest.mark.parametrize("priority", ["very high", "medium"])
def test_the_priority_filter(ws: Workspace, priority: str) -> None:
    with ws.open_store(read_only=True) as store:
        page = _page(store, ws, LeadFilter(priority=priority))
        expected = _expected(store, page.tiers, f"p.priority = '{priority}'")
        assert page.total == len(expected) > PAGE_SIZE
        assert _shown(page) == expected[:PAGE_SIZE]
        # a tier and a priority together, paged on by the Next link
        tier = page.rows[0].tier
        flt = LeadFilter(priority=priority, tier=tier)
        first = _page(store, ws, flt)
        in_tier = _expected(store, page.tiers, f"p.priority = '{priority}' AND s.tier = '{tier}'")
        assert first.total == len(in_tier) and _shown(first) == in_tier[:PAGE_SIZE]
