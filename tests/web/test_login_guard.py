"""Guessing passwords through the log-in form, against the real server over real sockets
(``web/login_guard.py``): parallel guesses are counted before they are checked, nobody can lock a
user out of the browser they logged in from, the client address is the trusted proxy's
``X-Forwarded-For`` and only its, and few argon2 checks run at once.

Each test guesses from its own made-up addresses (sent as ``X-Forwarded-For`` by 127.0.0.1, the
trusted proxy), so no test's failures throttle another's."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from tests.web.conftest import USERS, Site, csrf_of

from leadscore.web import routes_login
from leadscore.web.login_guard import CHECKS_AT_ONCE, DEVICE_COOKIE

if TYPE_CHECKING:
    from playwright.sync_api import Browser


def _try(c: httpx.Client, username: str, password: str, address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    token = csrf_of(c.get("/login", headers=headers).text)
    return c.post("/login", headers=headers, data={"csrf_token": token, "username": username, "password": password})


def test_parallel_guesses_are_counted_before_they_are_checked(site: Site) -> None:
    c = site.client()
    token = csrf_of(c.get("/login").text)

    def guess(i: int) -> int:
        return c.post("/login", headers={"X-Forwarded-For": "10.1.0.1"},
                      data={"csrf_token": token, "username": "marcus", "password": f"wrong-guess-{i:04d}"}).status_code

    with ThreadPoolExecutor(20) as pool:
        codes = Counter(pool.map(guess, range(20)))
    assert codes == {401: 5, 429: 15}, codes  # 5 checked, the rest refused unchecked
    assert _try(site.client(), "marcus", USERS["marcus"][3], "10.1.0.2").status_code == 429  # a new browser waits


def test_others_guessing_a_name_do_not_lock_its_user_out_of_their_browser(site: Site) -> None:
    own = _try(site.client(), "dana", USERS["dana"][3], "10.2.0.1")  # Dana's browser, earlier
    assert own.status_code == 303
    device = own.cookies[DEVICE_COOKIE]
    attacker = site.client()
    for i in range(5):  # from five addresses: the name's allowance for unknown browsers
        assert _try(attacker, "dana", "wrong-password", f"10.2.1.{i}").status_code == 401
    assert _try(attacker, "dana", USERS["dana"][3], "10.2.1.9").status_code == 429  # a new browser: refused
    browser = site.client()
    browser.cookies.set(DEVICE_COOKIE, device)
    assert _try(browser, "dana", USERS["dana"][3], "10.2.0.1").status_code == 303  # Dana's own: in
    forged = site.client()
    forged.cookies.set(DEVICE_COOKIE, device[:-4] + "0000")
    assert _try(forged, "dana", USERS["dana"][3], "10.2.0.3").status_code == 429  # a forged proof is none
    other_name = site.client()  # the proof is for Dana only
    other_name.cookies.set(DEVICE_COOKIE, device)
    for i in range(5):
        assert _try(site.client(), "boss", "wrong-password", f"10.2.2.{i}").status_code == 401
    assert _try(other_name, "boss", USERS["boss"][3], "10.2.0.4").status_code == 429
    # a browser guessing with its own proof runs out of its own allowance, and only it
    guessing = site.client()
    guessing.cookies.set(DEVICE_COOKIE, _try(site.client(), "mia", USERS["mia"][3], "10.2.3.1").cookies[DEVICE_COOKIE])
    for _ in range(5):
        assert _try(guessing, "mia", "wrong-password", "10.2.3.1").status_code == 401
    assert _try(guessing, "mia", USERS["mia"][3], "10.2.3.1").status_code == 429


def test_the_client_address_is_x_forwarded_for_only_from_the_trusted_proxy(site: Site) -> None:
    from urllib.parse import urlsplit

    port = urlsplit(site.url).port
    direct = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          transport=httpx.HTTPTransport(local_address="127.0.0.2"))  # not the trusted proxy
    site.clients.append(direct)
    for i in range(20):  # its X-Forwarded-For is not believed: all 20 from 127.0.0.2
        assert _try(direct, f"ghost{i}", "wrong-password", f"10.3.0.{i}").status_code == 401
    assert _try(direct, "ghost-next", "wrong-password", "10.3.1.1").status_code == 429
    proxied = site.client()  # from 127.0.0.1, the proxy: 20 failures from 20 addresses
    for i in range(20):
        assert _try(proxied, f"spirit{i}", "wrong-password", f"10.4.0.{i}").status_code == 401
    assert _try(proxied, "spirit-next", "wrong-password", "10.4.0.99").status_code == 401


def test_few_password_checks_run_at_once(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    running, most, lock = 0, 0, threading.Lock()
    real = routes_login.check_login

    def counted(*args: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.2)
            return real(*args)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(routes_login, "check_login", counted)
    c = site.client()
    token = csrf_of(c.get("/login").text)

    def guess(i: int) -> int:
        return c.post("/login", headers={"X-Forwarded-For": f"10.5.0.{i}"},
                      data={"csrf_token": token, "username": f"nobody{i}", "password": "wrong-password"}).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(guess, range(16)))
    assert codes == [401] * 16  # every one checked, in turn
    assert 2 <= most <= CHECKS_AT_ONCE, most


def test_a_log_in_form_opened_before_another_tab_still_logs_in(site: Site, browser: Browser) -> None:
    """Two tabs of one browser open the log-in page; the first one's form still works."""
    context = browser.new_context(base_url=site.url)
    try:
        first, second = context.new_page(), context.new_page()
        first.goto("/login")
        second.goto("/login")
        first.get_by_label("User name").fill("newbie")  # a name no other test here guesses at
        first.get_by_label("Password").fill(USERS["newbie"][3])
        first.get_by_role("button", name="Log in").click()
        first.wait_for_url("**/leads")  # without a kept token: "Form expired", the second tab took the cookie
        second.reload()  # the second tab is logged in too now (the same browser's session)
        assert "/login" not in second.url
    finally:
        context.close()
