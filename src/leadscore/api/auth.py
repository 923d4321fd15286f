"""API key authentication: ``Authorization: Bearer KEY``; no or unknown key → 401, low scope → 403.

Segment's webhook destinations send the key as HTTP Basic user name (empty password), so Basic
is accepted too. Lookups are cached for a few seconds (``api/runtime.py``): a request pays a
SHA-256 and a dictionary lookup, not a query.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBearer

from leadscore.api.keys import ApiKey, scope_allows
from leadscore.api.runtime import ApiRuntime

#: declares the scheme in OpenAPI (the "Authorize" button of /docs); checking is done below
bearer = HTTPBearer(auto_error=False, description="An API key from `leadscore keys create`.")


def runtime(request: Request) -> ApiRuntime:
    rt: ApiRuntime = request.app.state.runtime
    return rt


def _secret(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            user, _, _ = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return user or None
    return None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def require(scope: str) -> Callable[..., ApiKey]:
    """A dependency admitting keys of ``scope`` or higher (read < write < admin)."""

    def check(request: Request, _: object = Depends(bearer)) -> ApiKey:
        header = request.headers.get("authorization")
        if not header:
            raise _unauthorized("missing API key: send `Authorization: Bearer KEY` "
                                "(create one with `leadscore keys create --scope read`)")
        secret = _secret(header)
        key = runtime(request).authenticate(secret) if secret else None
        if key is None:
            raise _unauthorized("unknown or revoked API key")
        if not scope_allows(key.scope, scope):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"this key has scope `{key.scope}`; this endpoint needs `{scope}` or higher")
        return key

    return check


ReadKey = Depends(require("read"))
WriteKey = Depends(require("write"))
AdminKey = Depends(require("admin"))
