"""The accounts list's pager (``web/pager.py``, shared with the leads list): Next follows the rows
that remain after the cursor, not the page count (this module's site copy is changed by its tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.web.conftest import Site

from leadscore.api.writer import WriteContext
from leadscore.scoring import score_companies
from leadscore.web.accounts_query import AccountFilter, AccountPage, accounts_list
from leadscore.web.pager import PAGE_SIZE


def _page(site: Site, flt: AccountFilter) -> AccountPage:
    return accounts_list(site.store, flt, owner=None)


def _after(page: AccountPage) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(page.next_url() or "").query)["after"][0]


def _walk(site: Site, flt: AccountFilter) -> list[AccountPage]:
    pages = [_page(site, flt)]
    while pages[-1].next_url() is not None:
        prev = pages[-1]
        pages.append(_page(site, replace(flt, page=prev.filter.page + 1, after=_after(prev))))
    return pages


def test_next_stays_while_companies_remain_after_earlier_ones_left_the_list(site: Site) -> None:
    """Sixty new companies are imported and scored (four pages); then companies of the first page
    leave the list (their scores are dropped elsewhere): the total shrinks, and by the count the
    third page is the last, but the fourth page's companies follow it and Next must lead there."""
    as_of = _page(site, AccountFilter()).as_of
    assert as_of is not None
    new = [f"co_new_{i:03d}" for i in range(60)]

    def add(ctx: WriteContext) -> None:
        ctx.store.con.executemany("INSERT INTO companies (company_id, name, created_at) VALUES (?, ?, ?)",
                                  [[c, f"New Co {c[-3:]}", as_of - timedelta(days=1)] for c in new])
        score_companies(ctx.store, new, as_of=as_of)

    site.runtime.write(add).result()
    pages = _walk(site, AccountFilter())
    assert len(pages) >= 3 and all(len(p.rows) == PAGE_SIZE for p in pages[:-1])
    assert pages[-1].next_url() is None
    gone = [r.company_id for r in pages[0].rows[:len(pages[-1].rows)]]  # as many as the last page holds

    def leave(ctx: WriteContext) -> None:
        ctx.store.con.execute("DELETE FROM account_scores WHERE company_id IN (SELECT unnest($ids))", {"ids": gone})

    site.runtime.write(leave).result()
    before_last = _page(site, replace(AccountFilter(), page=len(pages) - 1, after=_after(pages[-3])))
    assert [r.company_id for r in before_last.rows] == [r.company_id for r in pages[-2].rows]
    assert before_last.pages < len(pages)  # by the count, this is the last page...
    assert before_last.next_url() is not None  # ...but companies follow it
    last = _page(site, replace(AccountFilter(), page=len(pages), after=_after(before_last)))
    assert [r.company_id for r in last.rows] == [r.company_id for r in pages[-1].rows]
    assert last.next_url() is None


def test_previous_links_walk_back_over_the_same_pages(site: Site) -> None:
    pages = _walk(site, AccountFilter())
    from urllib.parse import parse_qs, urlsplit

    back = pages[-1]
    for expected in reversed(pages[:-1]):
        query = parse_qs(urlsplit(back.previous_url() or "").query)
        flt = AccountFilter(page=int(query.get("page", ["1"])[0]), before=query.get("before", [None])[0])
        back = _page(site, flt)
        assert [r.company_id for r in back.rows] == [r.company_id for r in expected.rows]
        assert back.next_url() is not None
