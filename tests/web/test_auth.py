"""Log-in, sessions, CSRF, throttling and roles, over HTTP against the real server."""

from __future__ import annotations

from tests.web.conftest import Site, csrf_of

from leadscore.web.auth import SESSION_COOKIE

#: pages only some roles may open (the rest grows as the dashboard does)
ROLE_PAGES = ("/models", "/models/b2b/edit", "/reports", "/feedback", "/ops/deliveries", "/ops/lists", "/admin/users",
              "/admin/keys")


def test_anonymous_visitors_are_sent_to_log_in_with_next(site: Site) -> None:
    c = site.client()
    for path in ("/", "/leads", "/leads/c0000001", "/tasks"):
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert c.get("/login").status_code == 200


def test_log_in_sets_a_safe_cookie_and_log_out_ends_the_session(site: Site) -> None:
    c = site.client()
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"csrf_token": token, "username": "Dana", "password": "dana-password-1",
                               "next": "https://evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/"  # never off-site
    cookie = r.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http
    session = c.cookies[SESSION_COOKIE]
    page = c.get("/leads")
    assert page.status_code == 200 and "dana" in page.text
    assert c.post("/logout", data={}).status_code == 403  # no CSRF token
    r = c.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    stale = site.client()
    stale.cookies.set(SESSION_COOKIE, session)
    assert stale.get("/leads").status_code == 303  # the old cookie no longer works


def test_cookie_is_secure_behind_https(site: Site) -> None:
    c = site.client()
    headers = {"X-Forwarded-Proto": "https"}  # a proxy on this host terminating TLS
    form = c.get("/login", headers=headers)
    assert "Secure" in form.headers["set-cookie"]
    # httpx keeps Secure cookies off plain http; the browser behind the proxy would send it
    login_cookie = form.headers["set-cookie"].split(";")[0]
    r = c.post("/login", headers={**headers, "Cookie": login_cookie},
               data={"csrf_token": csrf_of(form.text), "username": "mia", "password": "mia-password-12"})
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_wrong_password_keeps_the_name_and_throttles(site: Site) -> None:
    c = site.client()
    for _ in range(5):
        r = c.post("/login", data={"csrf_token": csrf_of(c.get("/login").text), "username": "marcus",
                                   "password": "wrong-password"})
        assert r.status_code == 401 and "Wrong user name or password" in r.text
        assert 'value="marcus"' in r.text and "wrong-password" not in r.text
    r = c.post("/login", data={"csrf_token": csrf_of(c.get("/login").text), "username": "marcus",
                               "password": "marcus-password"})
    assert r.status_code == 429 and "Too many failed log-ins" in r.text  # even the right password waits
    assert site.login("dana").get("/leads").status_code == 200  # other names are not blocked


def test_log_in_form_needs_its_csrf_cookie(site: Site) -> None:
    c = site.client()
    r = c.post("/login", data={"csrf_token": "forged", "username": "dana", "password": "dana-password-1"})
    assert r.status_code == 403 and "Form expired" in r.text


def test_roles(site: Site) -> None:
    dana = site.login("dana")
    for path in ROLE_PAGES:
        r = dana.get(path)
        assert r.status_code == 403 and ("Only marketing and admin" in r.text or "Only admins" in r.text), path
    mia = site.login("mia")
    for path in ROLE_PAGES:
        r = mia.get(path)
        assert r.status_code == (403 if path.startswith("/admin") else 200), path
    admin = site.login("admin")
    for path in ROLE_PAGES:
        assert admin.get(path).status_code == 200, path


def test_unknown_pages_are_pages_and_unknown_api_paths_json(site: Site) -> None:
    c = site.login("dana")
    r = c.get("/no/such/page")
    assert r.status_code == 404 and "There is no page at /no/such/page" in r.text and "<html" in r.text
    r = c.get("/v1/nope")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}


def test_pages_send_security_headers(site: Site) -> None:
    r = site.login("dana").get("/leads")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
