"""Log in and log out.

A failed log-in says only "wrong user name or password" (never which), keeps the name typed, and
counts towards the throttle (``routing.LoginThrottle``); a throttled name is refused even with the
right password until its window passes. The password check (argon2) runs off the event loop.
"""

from __future__ import annotations

import hmac
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


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(request: Request, *, next_url: str, username: str = "", error: str | None = None,
                status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
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
    wait = state.throttle.wait_seconds(username, _client(request))
    if wait > 0:
        minutes = max(1, round(wait / 60))
        raise Throttled(f"Too many failed log-ins for this name or from this address. Try again in about "
                        f"{minutes} minute{'s' if minutes != 1 else ''}, or ask an admin to reset the password "
                        "(`leadscore users reset-password NAME`).")
    if not username or not password:
        return _login_page(request, next_url=next_url, username=username, status=422,
                           error="Enter your user name and password.")
    user: User | None = await run_in_threadpool(lambda: check_login(state.rt.reader(), username, password))
    if user is None:
        state.throttle.failed(username, _client(request))
        return _login_page(request, next_url=next_url, username=username, status=401,
                           error="Wrong user name or password (or the account is disabled).")
    state.throttle.succeeded(username)
    agent = request.headers.get("user-agent", "")[:120]
    token = await write(request, lambda ctx: open_session(ctx.store, user, f"{_client(request)} {agent}"))
    response = redirect(next_url)
    set_session_cookie(request, response, token)
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
