"""Users and API keys (admins only), while the server holds the store and the CLI cannot.

A new password or key is shown once, in the answer to the form that made it (never in a redirect,
a cookie or a log). Disabling a user or giving them a new password ends their sessions at once.
An admin cannot disable or demote their own account (so a workspace always keeps one admin who
can undo mistakes).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from leadscore.api.keys import SCOPES, create_key, list_keys, revoke_key
from leadscore.errors import LeadscoreError
from leadscore.users import ROLES, create_user, disable_user, enable_user, list_users, reset_password, update_user
from leadscore.web.auth import AdminUser, PostedForm
from leadscore.web.routing import WebRoute, field, page, redirect, web, write

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _users_page(request: Request, *, status: int = 200, **context: Any) -> Response:
    store = web(request).rt.reader()
    owners = [r[0] for r in store.con.execute(
        "SELECT owner FROM contacts WHERE owner IS NOT NULL GROUP BY owner ORDER BY count(*) DESC LIMIT 50").fetchall()]
    context.setdefault("form", {})
    return page(request, "admin_users.html", status=status, section="admin", users=list_users(store), roles=ROLES,
                owners=owners, **context)


@router.get("/admin/users")
def users(request: Request, _user: AdminUser) -> Response:
    return _users_page(request)


@router.post("/admin/users")
async def add_user(request: Request, _user: AdminUser, form: PostedForm) -> Response:
    values = {k: field(form, k) for k in ("username", "role", "owner_value", "manager", "password")}
    try:
        made = await write(request, lambda ctx: create_user(
            ctx.store, values["username"], values["role"], owner_value=values["owner_value"] or None,
            manager=values["manager"] == "1", password=values["password"] or None))
    except LeadscoreError as exc:
        return _users_page(request, status=422, error=str(exc), form=values)
    user, secret = made
    return _users_page(request, created=user.username,
                       secret=None if values["password"] else secret)


def _not_self(admin: str, target: str, what: str) -> None:
    if admin == target.strip().lower():
        raise LeadscoreError(f"you cannot {what} your own account; ask another admin")


@router.post("/admin/users/{username}")
async def change_user(request: Request, session: AdminUser, form: PostedForm, username: str) -> Response:
    """Save role, owner value and manager flag; or disable, enable, reset the password (``action``)."""
    state = web(request)
    action = field(form, "action") or "save"
    me = session.user.username
    if action == "disable":
        _not_self(me, username, "disable")
        user = await write(request, lambda ctx: disable_user(ctx.store, username))
        state.sessions.forget()
        return redirect("/admin/users", flash=f"{user.username} is disabled; their sessions ended.")
    if action == "enable":
        user = await write(request, lambda ctx: enable_user(ctx.store, username))
        return redirect("/admin/users", flash=f"{user.username} can log in again.")
    if action == "reset":
        made = await write(request, lambda ctx: reset_password(ctx.store, username))
        state.sessions.forget()
        return _users_page(request, reset=made[0].username, secret=made[1])
    role = field(form, "role")
    if role != "admin":
        _not_self(me, username, "demote")
    user = await write(request, lambda ctx: update_user(
        ctx.store, username, role=role or None, owner_value=field(form, "owner_value"),
        manager=field(form, "manager") == "1"))
    state.sessions.forget()
    return redirect("/admin/users", flash=f"{user.username} saved: {user.role}"
                                          f"{', manager' if user.manager else ''}, owner {user.owner_value or 'none'}.")


@router.get("/admin/keys")
def keys(request: Request, _user: AdminUser) -> Response:
    return page(request, "admin_keys.html", section="admin", keys=list_keys(web(request).rt.reader()), scopes=SCOPES)


@router.post("/admin/keys")
async def add_key(request: Request, _user: AdminUser, form: PostedForm) -> Response:
    state = web(request)
    scope, name = field(form, "scope"), field(form, "name").strip()[:200] or None
    try:
        made = await write(request, lambda ctx: create_key(ctx.store, scope, name))
    except LeadscoreError as exc:
        return page(request, "admin_keys.html", status=422, section="admin", keys=list_keys(state.rt.reader()),
                    scopes=SCOPES, error=str(exc))
    key, secret = made
    return page(request, "admin_keys.html", section="admin", keys=list_keys(state.rt.reader()), scopes=SCOPES,
                created=key, secret=secret)


@router.post("/admin/keys/{key_id}/revoke")
async def revoke(request: Request, _user: AdminUser, _form: PostedForm, key_id: str) -> Response:
    state = web(request)
    key = await write(request, lambda ctx: revoke_key(ctx.store, key_id))
    state.rt.forget_keys()
    return redirect("/admin/keys", flash=f"Key {key.key_id} revoked: requests with it get 401 from now on.")
