"""Log in and log out.

A failed log-in says only "wrong user name or password" (never which) and keeps the name typed.
Every attempt counts towards the throttle before its password is checked, a browser that logged
in before as that name keeps its own allowance, and at most a few argon2 checks run at once
(``login_guard``). The password check runs off the event loop.

The log-in form's CSRF token is a double-submit cookie made once per browser and reused by every
log-in page it opens (and refreshed with it), so opening a second tab does not expire the first
one's form.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from leadscore.api.writer import WriteContext
from leadscore.users import User, check_login
from leadscore.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    PostedForm,
    clear_session_cookie,
    secure,
    set_session_cookie,
)
from leadscore.web.login_guard import DEVICE_COOKIE, DEVICE_DAYS
from leadscore.web.routing import (
    CsrfFailed,
    Throttled,
    WebRoute,
    field,
    form_data,
    page,
    redirect,
    safe_next,
    web,
    write,
)
from leadscore.web.sessions import close_session, open_session

router = APIRouter(route_class=WebRoute, include_in_schema=False)
#: what ``secrets.token_urlsafe(24)`` makes: a kept log-in cookie must look like one
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(request: Request, *, next_url: str, username: str = "", error: str | None = None,
                status: int = 200) -> Response:
    # one token per browser, kept while its cookie lasts: every tab's log-in form carries the same one
    kept = request.cookies.get(LOGIN_COOKIE, "")
    token = kept if _TOKEN.fullmatch(kept) else secrets.token_urlsafe(24)
    response = page(request, "login.html", status=status, csrf=token, next_url=next_url, username=username,
                    error=error)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="lax",
                        secure=secure(request))
    return response


@router.get("/login")
def login_form(request: Request, next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    state = web(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token and state.sessions.find(state.rt.reader(), token) is not None:
        return redirect(safe_next(next))
    return _login_page(request, next_url=safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await form_data(request)
    sent, expected = field(form, "csrf_token"), request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfFailed()
    state = web(request)
    username, password = field(form, "username").strip()[:200], field(form, "password")[:2000]
    next_url = safe_next(field(form, "next"))
    if not username or not password:
        return _login_page(request, next_url=next_url, username=username, status=422,
                           error="Enter your user name and password.")
    guard = state.login
    device = guard.device_of(state.rt.reader(), request.cookies.get(DEVICE_COOKIE), username)
    attempt, wait = guard.throttle.attempt(username, _client(request), device)
    if attempt is None:
        minutes = max(1, round(wait / 60))
        raise Throttled(f"Too many failed log-ins for this name or from this address. Try again in about "
                        f"{minutes} minute{'s' if minutes != 1 else ''}, or ask an admin to reset the password "
                        "(`leadscore users reset-password NAME`)."
                        + ("" if device else " A browser you logged in from before is not held back by "
                                             "others' attempts: use it if you can."))
    async with guard.checks:  # argon2 takes 64 MiB a check: a few at once, the rest wait their turn
        user: User | None = await run_in_threadpool(lambda: check_login(state.rt.reader(), username, password))
    if user is None:
        return _login_page(request, next_url=next_url, username=username, status=401,
                           error="Wrong user name or password (or the account is disabled).")
    guard.throttle.succeeded(attempt)
    agent = request.headers.get("user-agent", "")[:120]

    def job(ctx: WriteContext) -> tuple[str, str]:
        return (open_session(ctx.store, user, f"{_client(request)} {agent}"),
                guard.new_device_cookie(ctx.store, user.username))

    token, device_cookie = await write(request, job)
    response = redirect(next_url)
    set_session_cookie(request, response, token)
    response.set_cookie(DEVICE_COOKIE, device_cookie, max_age=DEVICE_DAYS * 86400, path="/login", httponly=True,
                        samesite="lax", secure=secure(request))
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, _form: PostedForm) -> Response:
    state = web(request)
    token = request.cookies.get(SESSION_COOKIE, "")

    def job(ctx: WriteContext) -> None:
        close_session(ctx.store, token)

    await write(request, job)
    state.sessions.forget()
    response = redirect("/login", flash="You are logged out.")
    clear_session_cookie(request, response)
    return response
