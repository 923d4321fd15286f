"""What every dashboard route shares: its state, page responses, error pages, form parsing.

The API answers errors in JSON (``api/app.py``); the dashboard's routes use ``WebRoute``, which
turns the same exceptions into pages a person can read: not logged in → the log-in page (with
``next``), a role that may not → 403, an unknown lead → 404, a bad value → 400, a stale form →
403. Every page carries the headers a browser needs to refuse framing, sniffing and foreign
scripts (``Content-Security-Policy``: only this server's scripts run; plotly.js is one of them).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadscore.api.runtime import ApiRuntime
from leadscore.api.writer import WriteContext
from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.web.login_guard import LoginGuard
from leadscore.web.render import environment
from leadscore.web.sessions import Session, SessionCache

log = logging.getLogger("leadscore.web")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
FLASH_COOKIE = "ls_flash"


class LoginRequired(Exception):
    """No valid session: the visitor is sent to the log-in page."""


class Forbidden(Exception):
    """Logged in, but this role may not: a 403 page saying what is needed."""


class CsrfFailed(Exception):
    """A POST without the session's CSRF token (a stale page, or another site's form)."""


class Throttled(Exception):
    """Too many failed log-ins: a 429 page saying when to try again."""


class WebState:
    """The dashboard's part of a running server: templates, sessions, the log-in guard."""

    def __init__(self, rt: ApiRuntime):
        self.rt = rt
        self.env: Environment = environment()
        self.sessions = SessionCache()
        self.login = LoginGuard()


T = TypeVar("T")


async def write(request: Request, job: Callable[[WriteContext], T], *, groupable: bool = True) -> T:
    """Run ``job`` on the server's single writer and wait for its commit (see ``api/writer.py``)."""
    return await asyncio.wrap_future(web(request).rt.write(job, groupable=groupable))


def web(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def session_of(request: Request) -> Session | None:
    found: Session | None = getattr(request.state, "session", None)
    return found


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A whole page (or, for a template under ``partials/``, a fragment) with the shared context."""
    session = session_of(request)
    flash = unquote(request.cookies.get(FLASH_COOKIE, ""))[:500] or None
    html = web(request).env.get_template(template).render(
        request=request, user=session.user if session else None,
        csrf=session.csrf_token if session else context.pop("csrf", ""), flash=flash, **context)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(to: str, *, flash: str | None = None) -> RedirectResponse:
    """303 to a page of this site, optionally with a one-time message shown there."""
    response = RedirectResponse(safe_next(to), status_code=303, headers=SECURITY_HEADERS)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash[:500]), path="/", httponly=True, samesite="lax", max_age=60)
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site (``/leads?x``), never ``//evil.example`` or ``https://…``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def wants_fragment(request: Request) -> bool:
    """The page's script asked for a part of a page (it sends ``X-Requested-With: fetch``)."""
    return request.headers.get("x-requested-with") == "fetch"


async def form_data(request: Request) -> dict[str, list[str]]:
    """A URL-encoded form body as name → values (the dashboard posts no files).

    Read here rather than with python-multipart: every form of the dashboard is URL-encoded, and
    the body limit (``server.max_body_bytes``) has already been applied by the app's middleware.
    """
    body = (await request.body()).decode("utf-8", errors="replace")
    out: dict[str, list[str]] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        out.setdefault(name, []).append(value.replace("\x00", ""))
    return out


def field(form: dict[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    if wants_fragment(request):
        return HTMLResponse(f'<p class="error" role="alert">{_escape(message)}</p>', status_code=status,
                            headers=SECURITY_HEADERS)
    return page(request, "error.html", status=status, title=title, message=message)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


class WebRoute(APIRoute):
    """A route whose errors are pages (or fragments), not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if wants_fragment(request):
                    return HTMLResponse('<p class="error" role="alert">Your session ended: log in again.</p>',
                                        status_code=401, headers=SECURITY_HEADERS)
                return redirect(f"/login?next={quote(target, safe='')}")
            except Forbidden as exc:
                return _error_page(request, 403, "Not allowed", str(exc))
            except CsrfFailed:
                return _error_page(request, 403, "Form expired",
                                   "This form was not sent from a page of this dashboard, or your session "
                                   "changed since it was loaded. Go back, reload the page and try again.")
            except Throttled as exc:
                return _error_page(request, 429, "Too many attempts", str(exc))
            except NotFoundError as exc:
                return _error_page(request, 404, "Not found", str(exc))
            except LeadscoreError as exc:
                return _error_page(request, 400, "Cannot do that", str(exc))
            except RequestValidationError as exc:
                problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
                                     for e in exc.errors())
                return _error_page(request, 400, "Bad address", f"This address has a bad value ({problems}).")
            except Exception:  # noqa: BLE001 - a bug: logged with its trace, a page for the person
                log.exception("dashboard request failed: %s %s", request.method, request.url.path)
                return _error_page(request, 500, "Something went wrong",
                                   "The server hit an error and nothing was changed. The server log has the details.")

        return handle


#: paths that stay the API's, with JSON errors
API_PATHS = ("/v1/", "/docs", "/openapi.json", "/healthz", "/metrics")


def install_not_found(app: FastAPI) -> None:
    """An unknown address outside the API is a page saying so, not ``{"detail": "Not Found"}``.

    Every other HTTP error goes to the handler the API installed before (its JSON errors, such as
    a body that is not UTF-8 answered as a 422 ``json_invalid``), or FastAPI's own.
    """
    previous = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)

    async def not_found(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 404 \
                and not request.url.path.startswith(API_PATHS):
            return page(request, "error.html", status=404, title="Not found",
                        message=f"There is no page at {request.url.path}.")
        answer = previous(request, exc)
        return await answer if inspect.isawaitable(answer) else answer  # type: ignore[no-any-return]

    app.add_exception_handler(StarletteHTTPException, not_found)
