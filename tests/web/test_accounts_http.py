"""My accounts and the account page over HTTP: who sees what, order, filters, search, keyset paging,
the account page's numbers (= `leadscore explain COMPANY`), contact links under the leads' owner
scoping, the lead page's company box, 404s and escaping."""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import quote, unquote

import pytest
from tests.web.conftest import XSS_NAME, Site

from leadscore.engine.account_sql import account_model_names, members_of_company
from leadscore.engine.explain_accounts import explain_company
from leadscore.web.accounts_query import model_tiers
from leadscore.web.pager import PAGE_SIZE

ACCOUNT_LINK = re.compile(r'<a class="who" href="/accounts/([^"]+)"')


def tier_rank(site: Site) -> dict[str, int]:
    """The account model's tiers, best first."""
    tiers = model_tiers(site.store.get_version(account_model_names(site.store)[0]))
    return {name: i for i, (name, _) in enumerate(sorted(tiers.items(), key=lambda kv: -kv[1]))}


def account_ids(html: str) -> list[str]:
    return [unquote(x) for x in ACCOUNT_LINK.findall(html)]


def owned(site: Site, owner: str | None) -> set[str]:
    rows = site.store.con.execute(
        """SELECT DISTINCT s.company_id FROM account_scores s JOIN companies c USING (company_id)
           WHERE $o IS NULL OR c.owner = $o""", {"o": owner}).fetchall()
    return {r[0] for r in rows}


def walk(site: Site, user: str, url: str = "/accounts") -> list[str]:
    """Every account of the list, following the Next links."""
    client = site.login(user)
    ids: list[str] = []
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.text
        ids += account_ids(page.text)
        found = re.search(r'<a class="button secondary" href="([^"]+)" rel="next">', page.text)
        url = htmllib.unescape(found.group(1)) if found else ""
    return ids


def test_the_demo_has_accounts_for_the_test_reps(site: Site) -> None:
    assert len(owned(site, "Dana Reyes")) >= 3 and len(owned(site, None)) > PAGE_SIZE


def test_a_rep_sees_only_the_accounts_they_own_tier_then_score(site: Site) -> None:
    page = site.login("dana").get("/accounts")
    assert page.status_code == 200
    assert "My accounts" in page.text
    ids = account_ids(page.text)
    assert set(ids) == owned(site, "Dana Reyes")
    assert f"<b>{len(ids):,}</b> account" in page.text
    rows = {r[0]: (r[1], r[2]) for r in site.store.con.execute(
        "SELECT company_id, tier, score FROM account_scores WHERE company_id IN (SELECT unnest($i))",
        {"i": ids}).fetchall()}
    rank = tier_rank(site)
    keys = [(rank[rows[i][0]], -rows[i][1], i) for i in ids]
    assert keys == sorted(keys)


def test_a_manager_and_marketing_see_every_account_paged_by_keyset(site: Site) -> None:
    everyone = owned(site, None)
    for user in ("boss", "mia"):
        first = site.login(user).get("/accounts").text
        assert f"<b>{len(everyone):,}</b> accounts" in first
        assert "rel=\"next\"" in first and "after=" in first
        ids = walk(site, user)
        assert len(ids) == len(set(ids)) and set(ids) == everyone
    # Previous from page 2 is page 1
    client = site.login("mia")
    nxt = re.search(r'href="([^"]+)" rel="next"', client.get("/accounts").text)
    assert nxt
    second = client.get(htmllib.unescape(nxt.group(1))).text
    prev = re.search(r'href="([^"]+)" rel="prev"', second)
    assert prev and account_ids(client.get(htmllib.unescape(prev.group(1))).text) == walk(site, "mia")[:PAGE_SIZE]


def test_filters_and_search(site: Site) -> None:
    client = site.login("mia")
    tier = site.store.con.execute("SELECT tier FROM account_scores GROUP BY tier ORDER BY count(*) LIMIT 1"
                                  ).fetchone()[0]
    ids = account_ids(client.get("/accounts", params={"tier": tier}).text)
    assert ids and {r[0] for r in site.store.con.execute(
        "SELECT tier FROM account_scores WHERE company_id IN (SELECT unnest($i))", {"i": ids}).fetchall()} == {tier}
    cid, name, domain = site.store.con.execute(
        "SELECT company_id, name, domain FROM companies WHERE company_id IN (SELECT company_id FROM account_scores) "
        "ORDER BY company_id LIMIT 1").fetchone()
    assert cid in account_ids(client.get("/accounts", params={"q": cid}).text)
    assert cid in account_ids(client.get("/accounts", params={"q": name[2:-1].lower()}).text)
    assert cid in account_ids(client.get("/accounts", params={"q": domain}).text)
    assert account_ids(client.get("/accounts", params={"q": "%"}).text) == []  # % is literal
    # a rep's search stays within their accounts
    other = sorted(owned(site, "Marcus Webb"))[0]
    assert account_ids(site.login("dana").get("/accounts", params={"q": other}).text) == []


def test_each_row_shows_contacts_best_contact_change_and_reason(site: Site) -> None:
    html = site.login("mia").get("/accounts").text
    rows = re.findall(r'<tr data-company="([^"]+)">.*?data-label="Contacts">(\d+)</td>\s*'
                      r'<td data-label="Best contact">(.*?)</td>\s*<td data-label="Why">([^<]*)</td>', html, re.S)
    assert len(rows) == PAGE_SIZE
    exact = 0
    for cid, n, best, reason in rows[:8]:
        e = explain_company(site.store, cid)
        assert int(n) == len(members_of_company(site.store, cid))
        fired = sorted((r for r in e.rules if r.fired and r.points), key=lambda r: -abs(r.points))
        # a rule over contacts is in explain's words; one counting events says how many ("(4×)")
        if fired and "×)" not in reason and fired[0].count == len(fired[0].contacts):
            assert reason == e.reasons(1)[0]
            exact += 1
        elif fired:  # the top rule that fired, with its points
            assert reason.startswith(fired[0].name) and reason.endswith(f"{abs(fired[0].points):.0f}")
        else:
            assert reason == "—"
        if e.contacts and any(c["scores"] for c in e.contacts):
            assert htmllib.escape(e.contacts[0]["name"], quote=False) in best
    assert exact

def test_the_account_page_numbers_are_explain_s(site: Site) -> None:
    cid = sorted(owned(site, "Dana Reyes"))[0]
    page = site.login("dana").get(f"/accounts/{quote(cid)}")
    assert page.status_code == 200, page.text
    e = explain_company(site.store, cid)
    shown = {m[0]: float(m[1]) for m in re.findall(
        r'<li data-rule="([^"]+)" data-group="[^"]+" data-points="([^"]+)"', page.text)}
    assert shown == pytest.approx({r.name: r.points for r in e.rules if r.fired}, abs=1e-9)
    groups = {m[0]: float(m[1]) for m in re.findall(r'<div class="group" data-group="([^"]+)" data-points="([^"]+)"',
                                                     page.text)}
    assert groups == pytest.approx({g.name: g.points for g in e.groups}, abs=1e-9)
    assert f'data-testid="score">{e.total:.1f}<' in page.text
    assert f"leadscore explain {cid}" in page.text
    assert 'data-chart="hist-data-1"' in page.text


def test_contacts_link_to_lead_pages_only_for_leads_the_user_may_open(site: Site) -> None:
    row = site.store.con.execute(
        """SELECT m.company_id FROM contacts c JOIN companies co ON co.company_id = c.company_id
           JOIN contacts c2 ON c2.company_id = co.company_id AND c2.owner IS DISTINCT FROM 'Dana Reyes'
           JOIN account_scores s ON s.company_id = co.company_id, (SELECT co.company_id) m
           WHERE co.owner = 'Dana Reyes' LIMIT 1""").fetchone()
    assert row, "a company of Dana's with a contact who is not Dana's"
    cid = row[0]
    members = dict(site.store.con.execute("SELECT contact_id, owner FROM contacts WHERE contact_id IN "
                                          "(SELECT unnest($m))", {"m": members_of_company(site.store, cid)}
                                          ).fetchall())
    dana = site.login("dana").get(f"/accounts/{quote(cid)}").text
    linked = {unquote(x) for x in re.findall(r'<tr data-contact="[^"]+">\s*<td><a href="/leads/([^"]+)"', dana)}
    assert linked == {k for k, v in members.items() if v == "Dana Reyes"}
    listed = set(re.findall(r'<tr data-contact="([^"]+)">', dana))
    assert set(members) <= listed
    boss = site.login("boss").get(f"/accounts/{quote(cid)}").text
    assert {unquote(x) for x in re.findall(r'<tr data-contact="[^"]+">\s*<td><a href="/leads/([^"]+)"', boss)} \
        == listed


def test_unknown_and_not_owned_accounts_are_404_and_a_session_is_required(site: Site) -> None:
    dana = site.login("dana")
    assert dana.get("/accounts/no-such-company").status_code == 404
    other = sorted(owned(site, "Marcus Webb"))[0]
    theirs = dana.get(f"/accounts/{quote(other)}")
    assert theirs.status_code == 404 and "among your accounts" in theirs.text
    assert site.login("boss").get(f"/accounts/{quote(other)}").status_code == 200
    assert site.login("newbie").get(f"/accounts/{quote(other)}").status_code == 404
    anonymous = site.client().get(f"/accounts/{quote(other)}")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    assert site.client().get("/accounts").status_code == 303


def test_a_rep_without_accounts_is_told_why(site: Site) -> None:
    page = site.login("newbie").get("/accounts").text
    assert "not linked to an owner value" in page and "Dana Reyes" in page


def test_the_lead_page_shows_its_company_score_and_links_it(site: Site) -> None:
    contact, company, owner = site.store.con.execute(
        """SELECT c.contact_id, co.company_id, co.owner FROM contacts c JOIN companies co USING (company_id)
           JOIN account_scores s ON s.company_id = co.company_id
           WHERE c.owner = 'Dana Reyes' ORDER BY co.owner <> 'Dana Reyes', c.contact_id LIMIT 1""").fetchone()
    score = site.store.con.execute("SELECT score FROM account_scores WHERE company_id = ?", [company]).fetchone()[0]
    html = site.login("dana").get(f"/leads/{quote(contact)}").text
    assert f'data-company="{company}"' in html
    assert f'data-testid="company-score" title="{score}">{score:.1f}<' in html
    assert (f'href="/accounts/{quote(company)}"' in html) == (owner == "Dana Reyes")
    # a lead of Dana's whose company is someone else's: the score, no link (that account would be a 404)
    row = site.store.con.execute(
        """SELECT c.contact_id, co.company_id FROM contacts c JOIN companies co USING (company_id)
           WHERE c.owner = 'Dana Reyes' AND co.owner <> 'Dana Reyes' LIMIT 1""").fetchone()
    assert row
    html = site.login("dana").get(f"/leads/{quote(row[0])}").text
    assert f'data-company="{row[1]}"' in html and f'href="/accounts/{quote(row[1])}"' not in html


def test_a_company_named_markup_is_shown_as_text(site: Site) -> None:
    r = site.api().put("/v1/companies/k_xss", json={"name": XSS_NAME, "domain": "xss-example.com",
                                                    "industry": "<b>bold</b>", "owner": "Dana Reyes"})
    assert r.status_code in (200, 201), r.text
    assert site.store.con.execute("SELECT count(*) FROM account_scores WHERE company_id = 'k_xss'").fetchone()[0]
    client = site.login("dana")
    listed = client.get("/accounts", params={"q": "xss"}).text
    page = client.get("/accounts/k_xss").text
    for html in (listed, page):
        assert XSS_NAME not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
