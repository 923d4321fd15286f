"""A rep in a real headless Chromium: my leads, a lead's breakdown (= explain), feedback, a task done;
an anonymous visitor sent to log in; an event posted through the API on the page after a reload;
markup in contact data shown as text (no script runs)."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from playwright.sync_api import Browser, expect
from tests.web.conftest import XSS_ID, XSS_NAME, Site, open_tab

from leadscore.engine.explain import explain_contact

pytestmark = pytest.mark.browser


def test_rep_sees_only_their_leads_explains_gives_feedback_and_closes_a_task(browser: Browser, site: Site) -> None:
    tab = open_tab(browser, site, "dana")
    page = tab.page
    expect(page.get_by_role("heading", name="My leads")).to_be_visible()
    hrefs = page.locator("a.who").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    ids = [unquote(h.removeprefix("/leads/")) for h in hrefs]
    owners = {r[0] for r in site.store.con.execute(
        "SELECT owner FROM contacts WHERE contact_id IN (SELECT unnest($i))", {"i": ids}).fetchall()}
    assert ids and owners == {"Dana Reyes"}

    # the first lead: its breakdown is `leadscore explain`'s, rule by rule
    page.locator("a.who").first.click()
    cid = ids[0]
    expect(page).to_have_url(re.compile(f"/leads/{cid}$"))
    explanation = explain_contact(site.store, cid)
    rows = page.locator("section.why ul.rules li[data-points]")
    shown = {rows.nth(i).get_attribute("data-rule"): float(rows.nth(i).get_attribute("data-points") or "nan")
             for i in range(rows.count())}
    assert shown == pytest.approx({r.name: r.points for r in explanation.rules if r.fired}, abs=1e-9)
    expect(page.get_by_test_id("score").first).to_have_text(f"{explanation.total:.1f}")
    expect(page.locator(".chart[data-drawn='1'] svg").first).to_be_attached(timeout=15_000)  # plotly drew it

    # feedback, sent by the page's script without leaving the page
    feedback = page.locator("#feedback")
    feedback.get_by_text("too high", exact=True).click()
    feedback.get_by_label("Why?").fill("Student, no budget")
    feedback.get_by_label("What you know happened").select_option("not_a_fit")
    feedback.get_by_role("button", name="Send feedback").click()
    expect(feedback.locator("#feedback-list li").first).to_contain_text("score too high")
    expect(feedback.locator("#feedback-list li").first).to_contain_text("Student, no budget")
    stored = site.store.con.execute("SELECT verdict, outcome, author FROM feedback WHERE contact_id = ?",
                                    [cid]).fetchall()
    assert stored == [("too_high", "not_a_fit", "dana")]

    # a task: mark it done from the tasks page
    page.get_by_role("link", name="Tasks").click()
    open_tasks = site.store.con.execute(
        "SELECT count(*) FROM tasks WHERE owner = 'Dana Reyes' AND status = 'open'").fetchone()[0]
    view = "today" if page.locator("tr[data-task]").count() == 0 else "overdue"
    if view == "today":
        page.get_by_role("link", name=re.compile("^(Due today|Later) \\([1-9]")).first.click()
    row = page.locator("tr[data-task]").first
    task_id = row.get_attribute("data-task")
    row.get_by_role("button", name=re.compile("Mark done")).click()
    expect(page.get_by_role("status")).to_have_text("Task marked done.")
    assert site.store.con.execute("SELECT status FROM tasks WHERE task_id = ?", [task_id]).fetchone()[0] == "done"
    assert site.store.con.execute("SELECT count(*) FROM tasks WHERE owner = 'Dana Reyes' AND status = 'open'"
                                  ).fetchone()[0] == open_tasks - 1
    tab.clean()


def test_an_event_posted_through_the_api_shows_after_reload(browser: Browser, site: Site) -> None:
    tab = open_tab(browser, site, "dana")
    cid = site.store.con.execute("SELECT contact_id FROM contacts WHERE owner = 'Dana Reyes' ORDER BY contact_id "
                                 "LIMIT 1 OFFSET 3").fetchone()[0]
    tab.page.goto(f"/leads/{cid}")
    expect(tab.page.locator(".timeline")).not_to_contain_text("/pricing/e2e-marker")
    r = site.api().post("/v1/events", json={"contact_id": cid, "type": "page_view",
                                            "properties": {"url": "/pricing/e2e-marker"}})
    assert r.status_code == 200, r.text
    tab.page.reload()
    first = tab.page.locator(".timeline li").first
    expect(first).to_contain_text("/pricing/e2e-marker")
    expect(first).to_contain_text("just now")
    tab.clean()


def test_markup_in_a_contact_is_text_in_the_browser(browser: Browser, site: Site) -> None:
    tab = open_tab(browser, site, "dana")
    tab.page.goto(f"/leads?q={XSS_ID}")
    expect(tab.page.locator("a.who")).to_have_text(XSS_NAME)
    tab.page.locator("a.who").click()
    expect(tab.page.get_by_role("heading", level=1)).to_have_text(XSS_NAME)
    expect(tab.page.locator("script", has_text="alert(1)")).to_have_count(0)
    tab.clean()  # no dialog opened
