"""A real dashboard: the demo generator's data, scored weekly through workflows, users of every role,
served by the real app (uvicorn on a loopback port) over a real store.

The workspace is built once per test session and copied for each module (DuckDB files copy as
files), so modules that publish models or give feedback do not see each other's writes.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from leadscore.api import create_app
from leadscore.api.keys import create_key
from leadscore.api.runtime import ApiRuntime
from leadscore.api.server import ThreadedServer
from leadscore.demo.build import build_demo
from leadscore.scoring import score_all
from leadscore.storage.store import Store
from leadscore.users import create_user
from leadscore.workspace import Workspace

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page

#: user → (role, owner value, manager, password)
USERS = {
    "admin": ("admin", None, False, "admin-password-1"),
    "mia": ("marketing", None, False, "mia-password-12"),
    "dana": ("rep", "Dana Reyes", False, "dana-password-1"),
    "marcus": ("rep", "Marcus Webb", False, "marcus-password"),
    "boss": ("rep", "Lucy Chen", True, "boss-password-1"),
    "newbie": ("rep", None, False, "newbie-password"),
}
XSS_ID = "c_xss"
XSS_NAME = "<script>alert(1)</script>"


def build_site(root: Path) -> dict[str, str]:
    """The demo (300 contacts, scored weekly for 4 weeks through workflows), users, an admin key and a
    contact whose name and company are markup."""
    result = build_demo(root, contacts=300, events=6000, seed=7, history_weeks=4)
    settings = root / "leadscore.yml"  # a segment, for the list's segment filter and the lists page
    settings.write_text(settings.read_text().replace(
        "segments: {}", "segments:\n  ceos:\n    description: chief executives\n"
                        "    when: {property: job_title, equals: CEO}"))
    ws = Workspace.load(root)
    end = result.run.as_of
    with ws.open_store() as store:
        for name, (role, owner, manager, password) in USERS.items():
            create_user(store, name, role, owner_value=owner, manager=manager, password=password)
        with store.transaction() as con:
            con.execute("""INSERT INTO contacts (contact_id, email, first_name, last_name, company, job_title, owner,
                           created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                        [XSS_ID, "xss@example.com", XSS_NAME, "", "<img src=x onerror=alert(2)>",
                         "CEO\" onmouseover=\"alert(3)", "Dana Reyes", end - timedelta(days=30)])
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, url) VALUES (?, ?, ?, ?, ?)",
                        ["e_xss", XSS_ID, "page_view", end - timedelta(days=2), "/pricing?<b>x</b>"])
            # Dana's best lead below sql asks for a demo: it crosses into sql, and the workflow gives Dana a task
            [hot] = con.execute("""SELECT s.contact_id FROM scores s JOIN contacts c USING (contact_id)
                                   WHERE c.owner = 'Dana Reyes' AND s.tier <> 'sql'
                                   ORDER BY s.score DESC LIMIT 1""").fetchone()
            for i, (kind, url) in enumerate([("demo_request", None)] + [("page_view", "/pricing")] * 3):
                con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, url) VALUES (?, ?, ?, ?, ?)",
                            [f"e_hot_{i}", hot, kind, end - timedelta(hours=20 - i), url])
        score_all(store, as_of=end)
        assert store.con.execute("SELECT count(*) FROM tasks WHERE owner = 'Dana Reyes' AND status = 'open'"
                                 ).fetchone()[0] >= 1
        _key, secret = create_key(store, "admin", "tests")
    return {"admin_key": secret}


@pytest.fixture(scope="session")
def site_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("site-template") / "ws"
    return root, build_site(root)


@dataclass
class Site:
    url: str
    ws: Workspace
    runtime: ApiRuntime
    admin_key: str
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.runtime.reader()

    def client(self) -> httpx.Client:
        c = httpx.Client(base_url=self.url, timeout=60, follow_redirects=False)
        self.clients.append(c)
        return c

    def api(self) -> httpx.Client:
        c = httpx.Client(base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {self.admin_key}"})
        self.clients.append(c)
        return c

    def login(self, username: str, password: str | None = None) -> httpx.Client:
        c = self.client()
        page = c.get("/login")
        token = csrf_of(page.text)
        r = c.post("/login", data={"csrf_token": token, "username": username,
                                   "password": password or USERS[username][3], "next": "/leads"})
        assert r.status_code == 303, r.text
        return c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def serve_site(ws: Workspace, admin_key: str) -> Iterator[Site]:
    """``ws`` served by the real app (no worker, no schedule) on a free port until the generator is closed."""
    app = create_app(ws, worker=False, scheduler=False)
    with ThreadedServer(app) as server:
        site = Site(server.url, ws, app.state.runtime, admin_key)
        yield site
        for c in site.clients:
            c.close()


def open_site(template: tuple[Path, dict[str, str]], root: Path) -> Iterator[Site]:
    """A copy of the template workspace, served until the generator is closed."""
    source, secrets = template
    shutil.copytree(source, root)
    yield from serve_site(Workspace.load(root), secrets["admin_key"])


@pytest.fixture(scope="module")
def site(site_template: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from open_site(site_template, tmp_path_factory.mktemp("site") / "ws")


# ---------------------------------------------------------------------------- the browser

CHROMIUM = os.environ.get("LEADSCORE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session (Debian's, installed by `make test`)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make test` (it installs Debian's chromium) or "
                    "`apt-get install chromium`, or set LEADSCORE_CHROMIUM")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Tab:
    """A browser page plus what went wrong in it: script errors, failed requests, dialogs."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def clean(self) -> None:
        assert not self.errors, self.errors
        assert not self.dialogs, f"a dialog opened (script injection?): {self.dialogs}"


def open_tab(browser: Browser, site: Site, username: str | None, *, width: int = 1280) -> Tab:
    """A fresh browser context (no cookies) at ``width`` px, logged in as ``username`` through the form."""
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=site.url)
    page = context.new_page()
    tab = Tab(page)
    page.on("pageerror", lambda exc: tab.errors.append(f"page error: {exc}"))
    page.on("console", lambda m: tab.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)

    def dialog(d: Dialog) -> None:
        tab.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    if username is not None:
        page.goto("/login")
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(USERS[username][3])
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/leads")
    return tab
