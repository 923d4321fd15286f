"""``/v1/keys`` (admin): create, list and revoke API keys while the server holds the store.

The CLI (``leadscore keys``) cannot open the store while a server runs (DuckDB allows one
process), so the same operations are offered here.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from leadscore.api.auth import AdminKey, runtime
from leadscore.api.keys import ApiKey, create_key, list_keys, revoke_key
from leadscore.api.schemas import KeyCreate, KeyCreated, KeyOut

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("", response_model=list[KeyOut])
def get_keys(request: Request, _key: object = AdminKey) -> list[dict[str, Any]]:
    """Every key (revoked ones too), by id; the keys themselves are never stored."""
    return [dataclasses.asdict(k) for k in list_keys(runtime(request).reader())]


@router.post("", response_model=KeyCreated, status_code=201)
async def post_key(request: Request, body: KeyCreate, _key: object = AdminKey) -> dict[str, Any]:
    """A new key; the response is the only place the key itself ever appears."""
    rt = runtime(request)
    made: tuple[ApiKey, str] = await asyncio.wrap_future(
        rt.write(lambda ctx: create_key(ctx.store, body.scope, body.name)))
    key, secret = made
    return {**dataclasses.asdict(key), "key": secret}


@router.delete("/{key_id}", response_model=KeyOut, responses={404: {"description": "no such key"}})
async def delete_key(request: Request, key_id: Annotated[str, Path(min_length=1, max_length=100)],
                     _key: object = AdminKey) -> dict[str, Any]:
    """Revoke a key: it stops working at once."""
    rt = runtime(request)
    key: ApiKey = await asyncio.wrap_future(rt.write(lambda ctx: revoke_key(ctx.store, key_id)))
    rt.forget_keys()
    return dataclasses.asdict(key)
