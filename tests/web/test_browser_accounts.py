"""Accounts in a real headless Chromium: a rep's accounts (only theirs), an account page whose numbers
are `leadscore explain COMPANY`'s, with its chart drawn and contact links under the leads' owner
scoping; a manager sees every account; a company named markup is shown as text (no script runs);
the lead page's company box leads to the account page."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import pytest
from playwright.sync_api import Browser, expect
from tests.web.conftest import XSS_NAME, Site, open_tab

from leadscore.engine.account_sql import members_of_company
from leadscore.engine.explain_accounts import explain_company

pytestmark = pytest.mark.browser


def _hrefs(page: object, selector: str) -> list[str]:
    return page.locator(selector).evaluate_all("els => els.map(e => e.getAttribute('href'))")  # type: ignore[attr-defined, no-any-return]


def test_a_rep_opens_their_accounts_and_an_account_page_equal_to_explain(browser: Browser, site: Site) -> None:
    tab = open_tab(browser, site, "dana")
    page = tab.page
    page.get_by_role("link", name="My accounts").click()
    expect(page.get_by_role("heading", name="My accounts")).to_be_visible()
    ids = [unquote(h.removeprefix("/accounts/")) for h in _hrefs(page, "a.who")]
    owners = {r[0] for r in site.store.con.execute(
        "SELECT owner FROM companies WHERE company_id IN (SELECT unnest($i))", {"i": ids}).fetchall()}
    assert ids and owners == {"Dana Reyes"}
    mine = site.store.con.execute("""SELECT count(*) FROM account_scores s JOIN companies c USING (company_id)
                                     WHERE c.owner = 'Dana Reyes'""").fetchone()[0]
    assert len(ids) == mine

    # an account with a contact of Dana's (and so a link to a lead page)
    cid = next(i for i in ids if site.store.con.execute(
        "SELECT count(*) FROM contacts WHERE owner = 'Dana Reyes' AND contact_id IN (SELECT unnest($m))",
        {"m": members_of_company(site.store, i)}).fetchone()[0])
    page.locator(f'a.who[href="/accounts/{quote(cid)}"]').click()
    expect(page).to_have_url(re.compile(f"/accounts/{re.escape(quote(cid))}$"))
    e = explain_company(site.store, cid)
    rows = page.locator("section.why ul.rules li[data-points]")
    shown = {rows.nth(i).get_attribute("data-rule"): float(rows.nth(i).get_attribute("data-points") or "nan")
             for i in range(rows.count())}
    assert shown == pytest.approx({r.name: r.points for r in e.rules if r.fired}, abs=1e-9)
    expect(page.get_by_test_id("score").first).to_have_text(f"{e.total:.1f}")
    expect(page.locator(".chart[data-drawn='1'] svg").first).to_be_attached(timeout=15_000)  # plotly drew it

    # the contacts: all listed, links only to Dana's own leads, and a link opens the lead page
    members = dict(site.store.con.execute("SELECT contact_id, owner FROM contacts WHERE contact_id IN "
                                          "(SELECT unnest($m))", {"m": members_of_company(site.store, cid)}
                                          ).fetchall())
    expect(page.locator("#contacts tr[data-contact]")).to_have_count(len(members))
    linked = {unquote(h.removeprefix("/leads/")) for h in _hrefs(page, "#contacts a")}
    assert linked == {k for k, v in members.items() if v == "Dana Reyes"}
    assert linked
    page.locator("#contacts a").first.click()
    expect(page.locator(".company-box")).to_contain_text(e.name or cid)
    expect(page.locator(".company-box [data-testid=company-score]")).to_have_text(f"{e.total:.1f}")
    page.locator(".company-box a").click()  # the lead's company box leads back to the account
    expect(page).to_have_url(re.compile(f"/accounts/{re.escape(quote(cid))}$"))

    tab.clean()
    # someone else's account is a 404 page (the browser logs the 404, nothing else)
    other = site.store.con.execute("SELECT company_id FROM companies WHERE owner = 'Marcus Webb' LIMIT 1").fetchone()[0]
    response = page.goto(f"/accounts/{quote(other)}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert all("404" in e for e in tab.errors) and not tab.dialogs


def test_a_manager_sees_every_account(browser: Browser, site: Site) -> None:
    tab = open_tab(browser, site, "boss")
    tab.page.get_by_role("link", name="Accounts", exact=True).click()
    total = site.store.con.execute("SELECT count(*) FROM account_scores").fetchone()[0]
    expect(tab.page.locator("#count")).to_contain_text(f"{total:,} accounts")
    owners = tab.page.locator("a.who").count()
    assert owners == min(total, 50)
    tab.clean()


def test_a_company_named_markup_is_text_in_the_browser(browser: Browser, site: Site) -> None:
    r = site.api().put("/v1/companies/k_xss_browser", json={"name": XSS_NAME, "domain": "xss-browser.example",
                                                            "owner": "Dana Reyes"})
    assert r.status_code in (200, 201), r.text
    tab = open_tab(browser, site, "dana")
    page = tab.page
    page.goto("/accounts?q=xss-browser")
    expect(page.locator("a.who")).to_have_text(XSS_NAME)
    page.locator("a.who").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(XSS_NAME)
    assert page.evaluate("() => document.querySelectorAll('main script:not([type=\"application/json\"])').length") == 0
    tab.clean()  # no dialog opened, no script error
