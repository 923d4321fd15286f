"""Who is asking, and may they: the session cookie, roles, and the CSRF check on every POST.

The cookie (``ls_session``) is HttpOnly, SameSite=Lax, and Secure when the request came over
https (directly, or through a proxy on this host that says so with ``X-Forwarded-Proto``, which
uvicorn honours from 127.0.0.1). Every POST must carry the session's CSRF token, as the form
field ``csrf_token`` or the header ``X-CSRF-Token`` (the page's script sends the header); the log-in
form, which has no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from leadscore.web.routing import CsrfFailed, Forbidden, LoginRequired, field, form_data, web
from leadscore.web.sessions import SESSION_DAYS, Session

SESSION_COOKIE = "ls_session"
LOGIN_COOKIE = "ls_login"


def _session(request: Request) -> Session:
    token = request.cookies.get(SESSION_COOKIE)
    state = web(request)
    found = state.sessions.find(state.rt.reader(), token) if token else None
    if found is None:
        raise LoginRequired()
    request.state.session = found
    return found


def any_user(request: Request) -> Session:
    """Any logged-in user (rep, marketing or admin)."""
    return _session(request)


def marketing_user(request: Request) -> Session:
    session = _session(request)
    if not session.user.edits_models:
        raise Forbidden("Only marketing and admin users work on models, reports, feedback review and operations. "
                        f"You are logged in as {session.user.username} ({session.user.role}).")
    return session


def admin_user(request: Request) -> Session:
    session = _session(request)
    if not session.user.is_admin:
        raise Forbidden(f"Only admins manage API keys and users. You are logged in as {session.user.username} "
                        f"({session.user.role}).")
    return session


async def posted_form(request: Request) -> dict[str, list[str]]:
    """The form of a POST by a logged-in user, after its CSRF token was checked."""
    form = await form_data(request)
    session = _session(request)
    sent = request.headers.get("x-csrf-token") or field(form, "csrf_token")
    if not sent or not hmac.compare_digest(sent, session.csrf_token):
        raise CsrfFailed()
    return form


AnyUser = Annotated[Session, Depends(any_user)]
MarketingUser = Annotated[Session, Depends(marketing_user)]
AdminUser = Annotated[Session, Depends(admin_user)]
PostedForm = Annotated[dict[str, list[str]], Depends(posted_form)]


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_DAYS * 86400, path="/", httponly=True,
                        samesite="lax", secure=secure(request))


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure(request))
