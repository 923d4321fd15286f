"""Every main page in Chromium at 1280 px and 390 px: no script error, nothing wider than the screen,
keyboard use with a visible focus; the pictures are kept (`make screenshots` writes them to
docs/dashboard/, where docs/dashboard.md shows them).

With ``LEADSCORE_SCREENSHOTS=DIR`` the pages are those of a demo-sized workspace (20,000 contacts,
scored weekly for 8 weeks, a predictive model) and the PNGs go to DIR; otherwise the tests' small
site is used and the PNGs go to a temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.web.conftest import USERS, Site, open_site, open_tab

from leadscore.demo.build import build_demo
from leadscore.users import create_user

pytestmark = pytest.mark.browser

OUT = os.environ.get("LEADSCORE_SCREENSHOTS")
WIDTHS = {1280: 900, 390: 844}


def _demo_site(root: Path) -> tuple[Path, dict[str, str]]:
    import leadscore
    from leadscore.api.keys import create_key
    from leadscore.workspace import Workspace

    result = build_demo(root, history_weeks=8)
    leadscore.train(workspace=root)
    leadscore.predict(workspace=root, as_of=result.run.as_of)
    with Workspace.load(root).open_store() as store:
        for name, (role, owner, manager, password) in USERS.items():
            create_user(store, name, role, owner_value=owner, manager=manager, password=password)
        secret = create_key(store, "admin", "screenshots")[1]
    return root, {"admin_key": secret}


@pytest.fixture(scope="module")
def shots_site(site_template: tuple[Path, dict[str, str]],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    template = _demo_site(tmp_path_factory.mktemp("demo") / "ws") if OUT else site_template
    yield from open_site(template, tmp_path_factory.mktemp("shots") / "ws")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = Path(OUT) if OUT else tmp_path_factory.mktemp("screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def _settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    for box in page.locator("[data-chart]").all():
        expect(box).to_have_attribute("data-drawn", "1", timeout=20_000)


def _check_and_shoot(page: Page, out: Path, name: str, width: int) -> None:
    _settle(page)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} at {width} px is {overflow} px wider than the screen"
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name || e.id)""")
    assert unlabeled == [], f"{name}: fields without a label: {unlabeled}"
    page.screenshot(path=str(out / (f"{name}.png" if width == 1280 else f"{name}-{width}.png")))


def _best_lead(site: Site, owner: str) -> str:
    row = site.store.con.execute("""SELECT s.contact_id FROM scores s JOIN contacts c USING (contact_id)
                                    WHERE c.owner = ? ORDER BY s.score DESC LIMIT 1""", [owner]).fetchone()
    assert row
    return str(row[0])


def _best_account(site: Site, owner: str) -> str:
    row = site.store.con.execute("""SELECT s.company_id FROM account_scores s JOIN companies c USING (company_id)
                                    WHERE c.owner = ? ORDER BY s.score DESC LIMIT 1""", [owner]).fetchone()
    assert row
    return str(row[0])


@pytest.mark.parametrize("width", list(WIDTHS))
def test_rep_pages(browser: Browser, shots_site: Site, out_dir: Path, width: int) -> None:
    tab = open_tab(browser, shots_site, "dana", width=width)
    page = tab.page
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    _check_and_shoot(page, out_dir, "leads", width)
    page.goto(f"/leads/{_best_lead(shots_site, 'Dana Reyes')}")
    _check_and_shoot(page, out_dir, "lead", width)
    page.goto("/tasks?view=later")
    _check_and_shoot(page, out_dir, "tasks", width)
    page.goto("/accounts")
    _check_and_shoot(page, out_dir, "accounts", width)
    page.goto(f"/accounts/{_best_account(shots_site, 'Dana Reyes')}")
    _check_and_shoot(page, out_dir, "account", width)
    tab.clean()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_marketing_pages(browser: Browser, shots_site: Site, out_dir: Path, width: int) -> None:
    site = shots_site
    ids = [r[0] for r in site.store.con.execute("SELECT contact_id FROM scores ORDER BY score DESC LIMIT 2").fetchall()]
    if width == 1280:  # reps dispute some leads: pricing-page visitors called too high, free-mail leads too low
        api = site.api()
        pricing = site.store.con.execute(
            """SELECT DISTINCT e.contact_id FROM events e JOIN scores s USING (contact_id)
               WHERE e.type = 'page_view' AND e.url LIKE '%/pricing%' AND e.occurred_at > s.as_of - INTERVAL 20 DAY
               ORDER BY 1 LIMIT 8""").fetchall()
        free = site.store.con.execute(
            """SELECT contact_id FROM contacts WHERE split_part(email, '@', 2) IN ('gmail.com', 'hotmail.com')
               ORDER BY contact_id LIMIT 6""").fetchall()
        for rows, verdict, reason in ((pricing, "too_high", "student, just browsing"),
                                      (free, "too_low", "personal address, but a real buyer")):
            for (cid,) in rows:
                api.post(f"/v1/contacts/{cid}/feedback", json={"verdict": verdict, "reason": reason})
    tab = open_tab(browser, site, "mia", width=width)
    page = tab.page
    page.goto("/models/b2b/edit")
    editor = page.get_by_label("The model's YAML")
    editor.fill(editor.input_value().replace("demo_request}, points: 20}", "demo_request}, points: 30}"))
    expect(page.locator("#validation [data-valid='1']")).to_be_visible()
    for i, cid in enumerate(ids, 1):
        page.get_by_label(re.compile(f"^Lead {i}")).fill(cid)
    page.get_by_role("button", name="Try", exact=True).click()
    expect(page.locator("#result-try section.tryout")).to_have_count(2)
    _check_and_shoot(page, out_dir, "editor", width)
    page.get_by_role("tab", name="Distribution").click()
    page.get_by_role("button", name="Show the distribution").click()
    expect(page.get_by_test_id("changed-tier")).to_be_visible()
    _check_and_shoot(page, out_dir, "distribution", width)
    page.goto("/reports?show=1&horizon=90d&as_of=2025-10-01")
    _check_and_shoot(page, out_dir, "report", width)
    page.goto("/feedback?audit=1")
    _check_and_shoot(page, out_dir, "feedback", width)
    page.goto("/ops/deliveries")
    _check_and_shoot(page, out_dir, "deliveries", width)
    tab.clean()
    admin = open_tab(browser, site, "admin", width=width)
    admin.page.goto("/admin/users")
    _check_and_shoot(admin.page, out_dir, "users", width)
    admin.clean()


def test_keyboard_only(browser: Browser, shots_site: Site) -> None:
    """The skip link comes first, every focus is visible, tabs move with the arrow keys."""
    tab = open_tab(browser, shots_site, "mia")
    page = tab.page
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.textContent, getComputedStyle(document.activeElement)"
                            ".outlineStyle]")
    assert focused[0] == "Skip to content" and focused[1] != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    for _ in range(4):  # into the filters: every stop shows where it is
        page.keyboard.press("Tab")
        assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.goto("/models/b2b/edit")
    page.get_by_role("tab", name="Try on leads").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Distribution")).to_be_focused()
    expect(page.get_by_role("tab", name="Distribution")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-distribution")).to_be_visible()
    expect(page.locator("#panel-try")).to_be_hidden()
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)""")
    assert unlabeled == []
    tab.clean()


def test_out_dir_holds_the_pictures(out_dir: Path) -> None:
    """Runs last in this module: the pictures exist and are not blank (a few kB at least)."""
    shots = sorted(out_dir.glob("*.png"))
    names = {p.name for p in shots}
    for name in ("leads", "lead", "tasks", "accounts", "account", "editor", "distribution", "report", "feedback",
                 "deliveries", "users"):
        assert {f"{name}.png", f"{name}-390.png"} <= names, name
    assert all(p.stat().st_size > 5_000 for p in shots)
    if not OUT:
        shutil.rmtree(out_dir, ignore_errors=True)
