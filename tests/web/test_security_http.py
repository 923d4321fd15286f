"""Every state-changing request of the dashboard, walked from the app's own routes: each refuses a
missing or foreign CSRF token and a role that may not make it; reps cannot write on other reps'
leads; model text (rule, group and tier names, descriptions) is shown as text on every page that
shows it; a model the engine cannot score is not published from the editor; log-in throttling per
client address.

Over HTTP against the real server (``conftest.open_site``): a new module gets its own server, so
the per-address throttle test, which blocks 127.0.0.1's log-ins, runs last here and blocks nothing
else.
"""

from __future__ import annotations

import html
import re

import pytest
from fastapi.routing import APIRoute
from tests.web.conftest import Site, csrf_of

from leadscore.web import dashboard_routers
from leadscore.web.routing import API_PATHS

#: where a path's POSTs belong: (prefix, the words of the 403 page a user without the role gets)
MARKETING_PREFIXES = ("/models", "/reports", "/feedback", "/ops")
ADMIN_PREFIXES = ("/admin",)


def dashboard_posts() -> list[str]:
    """Every POST path of the dashboard (not the API's, not the log-in form), with its parameters
    filled in with "1" (the checks run before the handler, so no such row needs to exist)."""
    paths = sorted({re.sub(r"\{[^}]+\}", "1", r.path) for router in dashboard_routers() for r in router.routes
                    if isinstance(r, APIRoute) and "POST" in r.methods
                    and not r.path.startswith(API_PATHS) and r.path != "/login"})
    assert len(paths) >= 15, paths  # the walk found the dashboard's forms (it grows with them)
    return paths


def rows(site: Site) -> tuple[int, ...]:
    """Rows of the tables the dashboard's forms write."""
    counts = site.store.con.execute(
        """SELECT (SELECT count(*) FROM model_versions), (SELECT count(*) FROM model_drafts),
                  (SELECT count(*) FROM feedback), (SELECT count(*) FROM users),
                  (SELECT count(*) FROM api_keys), (SELECT count(*) FROM tasks WHERE status = 'done')""").fetchone()
    return tuple(counts)


def test_every_post_refuses_a_missing_wrong_or_foreign_csrf_token(site: Site) -> None:
    admin, mia = site.login("admin"), site.login("mia")
    foreign = csrf_of(mia.get("/leads").text)  # a real token, of another session
    own = csrf_of(admin.get("/leads").text)
    before = rows(site)
    for path in dashboard_posts():
        attempts = {
            "no token": admin.post(path, data={"text": "x"}),
            "a forged token": admin.post(path, data={"csrf_token": own[:-4] + "AAAA"}),
            "another session's token": admin.post(path, data={"csrf_token": foreign}),
            "a wrong header (the page's script)": admin.post(
                path, data={}, headers={"X-CSRF-Token": foreign, "X-Requested-With": "fetch"}),
        }
        for how, r in attempts.items():
            assert r.status_code == 403, f"POST {path} with {how}: {r.status_code}"
            assert "Form expired" in r.text or "was not sent from a page of this dashboard" in r.text, (path, how)
    assert rows(site) == before
    r = admin.post("/logout", data={"csrf_token": own})  # the right token still works
    assert r.status_code == 303


def test_every_post_of_a_role_refuses_the_roles_below_it(site: Site) -> None:
    dana, mia = site.login("dana"), site.login("mia")
    dana_token, mia_token = csrf_of(dana.get("/leads").text), csrf_of(mia.get("/leads").text)
    paths = dashboard_posts()
    marketing = [p for p in paths if p.startswith(MARKETING_PREFIXES)]
    admin = [p for p in paths if p.startswith(ADMIN_PREFIXES)]
    assert len(marketing) >= 8 and len(admin) >= 3
    for path in marketing + admin:  # a rep, with a valid token
        r = dana.post(path, data={"csrf_token": dana_token, "text": "x"})
        assert r.status_code == 403 and ("Only marketing and admin" in r.text or "Only admins" in r.text), path
    for path in admin:  # marketing, with a valid token
        r = mia.post(path, data={"csrf_token": mia_token, "username": "intruder", "role": "admin",
                                 "name": "intruder", "scope": "admin"})
        assert r.status_code == 403 and "Only admins" in r.text, path
    assert site.store.con.execute("SELECT count(*) FROM users WHERE username = 'intruder'").fetchone()[0] == 0


def test_a_rep_cannot_write_on_another_reps_lead_or_task(site: Site) -> None:
    dana = site.login("dana")
    token = csrf_of(dana.get("/leads").text)
    other = site.store.con.execute("SELECT contact_id FROM contacts WHERE owner = 'Marcus Webb' "
                                   "ORDER BY contact_id LIMIT 1").fetchone()[0]
    r = dana.post(f"/leads/{other}/feedback", data={"csrf_token": token, "verdict": "too_high"})
    assert r.status_code == 404
    assert site.store.con.execute("SELECT count(*) FROM feedback WHERE contact_id = ?", [other]).fetchone()[0] == 0
    task = site.store.con.execute(
        """SELECT task_id FROM tasks AS t JOIN contacts AS c USING (contact_id)
           WHERE t.owner <> 'Dana Reyes' AND c.owner <> 'Dana Reyes' AND t.status = 'open' LIMIT 1""").fetchone()
    if task is not None:  # the demo's workflows gave other owners tasks too
        r = dana.post(f"/tasks/{task[0]}/done", data={"csrf_token": token})
        assert r.status_code == 404
        assert site.store.con.execute("SELECT status FROM tasks WHERE task_id = ?", [task[0]]).fetchone()[0] == "open"


MARKUP_MODEL = """version: 1
name: marked
description: "<script>alert('model')</script>"
tiers: {"<i>cool</i>": 0, "<b onclick=alert(4)>hot</b>": 5}
groups:
  "<u>fit</u>":
    rules:
      - name: "<img src=x onerror=alert(7)>"
        description: "<script>alert('rule')</script>"
        when: {property: job_title, equals: CEO}
        points: 10
      - {name: "\\" onmouseover=\\"alert(8)", when: {event: page_view}, points: 1}
"""


def test_model_text_is_shown_as_text_on_every_page(site: Site) -> None:
    r = site.api().post("/v1/models", json={"text": MARKUP_MODEL})
    assert r.status_code == 200, r.text
    mia = site.login("mia")
    ceo = site.store.con.execute("""SELECT contact_id FROM scores WHERE model = 'marked' AND score >= 10
                                    ORDER BY contact_id LIMIT 1""").fetchone()[0]
    token = csrf_of(mia.get("/models").text)
    pages = {
        "models": mia.get("/models"),
        "editor": mia.get("/models/marked/edit"),
        "version": mia.get("/models/marked/versions/1"),
        "leads": mia.get("/leads?model=marked"),
        "lead": mia.get(f"/leads/{ceo}"),
        "try": mia.post("/models/marked/try", data={"csrf_token": token, "text": MARKUP_MODEL, "lead": [ceo]}),
        "distribution": mia.post("/models/marked/distribution", data={"csrf_token": token, "text": MARKUP_MODEL}),
        "confirm": mia.post("/models/marked/publish", data={"csrf_token": token, "text": MARKUP_MODEL}),
    }
    raw = ("<script>alert(", "<img src=x", "<b onclick", "<i>cool", "<u>fit", 'onmouseover="alert(8)')
    for name, page in pages.items():
        assert page.status_code == 200, (name, page.status_code, page.text[:300])
        for bad in raw:
            assert bad not in page.text, (name, bad)
    # and the names are there, as text
    assert "&lt;img src=x onerror=alert(7)&gt;" in pages["lead"].text
    assert html.escape("<b onclick=alert(4)>hot</b>", quote=False) in pages["lead"].text
    assert "&lt;img src=x onerror=alert(7)&gt;" in pages["try"].text
    assert "&lt;u&gt;fit&lt;/u&gt;" in pages["lead"].text


def test_a_model_the_engine_cannot_score_is_not_published_from_the_editor(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation is the first line (it refuses this pattern); past it, the engine's refusal rolls
    the publish back: no version, no scores, and the page says why."""
    from leadscore.api import routes_models

    monkeypatch.setattr(routes_models, "validate_against_store", lambda loaded, store: [])  # let it through
    text = ("version: 1\nname: broken\ngroups:\n  fit:\n    rules:\n"
            "      - {name: look-ahead, when: {property: job_title, matches: '(?=C)CEO'}, points: 5}\n")
    mia = site.login("mia")
    token = csrf_of(mia.get("/models").text)
    digest = __import__("hashlib").sha256(text.encode()).hexdigest()
    versions = site.store.count("model_versions")
    r = mia.post("/models/broken/publish/confirmed", data={"csrf_token": token, "text": text, "hash": digest})
    assert r.status_code == 400 and "Nothing was published" in r.text and "could not score this model" in r.text
    assert site.store.count("model_versions") == versions
    assert site.store.con.execute("SELECT count(*) FROM scores WHERE model = 'broken'").fetchone()[0] == 0


def test_log_ins_are_throttled_per_client_address(site: Site) -> None:
    """Last in this module: it blocks 127.0.0.1's log-ins for this module's server."""
    c = site.client()
    for name in ("ghost1", "ghost2", "ghost3", "ghost4"):  # 4 names × 5 = 20 failures from one address
        for _ in range(5):
            r = c.post("/login", data={"csrf_token": csrf_of(c.get("/login").text), "username": name,
                                       "password": "wrong-password"})
            assert r.status_code == 401
    r = c.post("/login", data={"csrf_token": csrf_of(c.get("/login").text), "username": "dana",
                               "password": "dana-password-1"})
    assert r.status_code == 429 and "Too many failed log-ins" in r.text  # a fresh name, the right password
