"""API keys over real HTTP: 401 without or with a bad key, 403 below the scope, revocation."""

from __future__ import annotations

import base64

import httpx
from tests.api.conftest import Api


def test_no_key_is_401_with_a_hint(api: Api) -> None:
    r = httpx.get(f"{api.url}/v1/contacts/c1")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in r.json()["detail"]


def test_unknown_or_malformed_key_is_401(api: Api) -> None:
    for header in ("Bearer lsk_not-a-real-key", "Bearer", "Token abc", "Basic !!!", "Bearer " + "x" * 500):
        r = httpx.get(f"{api.url}/v1/contacts/c1", headers={"Authorization": header})
        assert r.status_code == 401, header


def test_scopes_are_ordered_read_write_admin(api: Api) -> None:
    event = {"contact_id": "auth-1", "type": "page_view"}
    read, write, admin = api.client("read"), api.client("write"), api.client("admin")
    assert read.get("/v1/contacts/c1").status_code == 200
    r = read.post("/v1/events", json=event)
    assert r.status_code == 403 and "needs `write`" in r.json()["detail"]
    assert api.count("SELECT count(*) FROM events WHERE contact_id = 'auth-1'") == 0
    assert write.post("/v1/events", json=event).status_code == 200
    assert write.post("/v1/score", json={"contact_ids": ["c1"]}).status_code == 403
    assert admin.post("/v1/score", json={"contact_ids": ["c1"]}).status_code == 200
    assert admin.get("/v1/contacts/c1").status_code == 200  # admin may read too


def test_basic_auth_carries_the_key_as_user_name(api: Api) -> None:
    token = base64.b64encode(f"{api.keys['read']}:".encode()).decode()
    r = httpx.get(f"{api.url}/v1/contacts/c1", headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 200


def test_keys_created_and_revoked_through_the_api(api: Api) -> None:
    admin = api.client("admin")
    assert api.client("write").get("/v1/keys").status_code == 403
    made = admin.post("/v1/keys", json={"scope": "read", "name": "dashboard"})
    assert made.status_code == 201
    key, key_id = made.json()["key"], made.json()["key_id"]
    assert key.startswith(key_id) and key.startswith("lsk_")
    listed = {k["key_id"]: k for k in admin.get("/v1/keys").json()}
    assert listed[key_id]["scope"] == "read" and "key" not in listed[key_id]
    assert api.count("SELECT count(*) FROM api_keys WHERE key_hash = ?", [key]) == 0  # stored hashed
    new = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {key}"})
    assert new.get("/v1/contacts/c1").status_code == 200
    assert admin.delete(f"/v1/keys/{key_id}").json()["revoked_at"] is not None
    assert new.get("/v1/contacts/c1").status_code == 401
    assert admin.delete("/v1/keys/lsk_nothing").status_code == 404
    assert admin.post("/v1/keys", json={"scope": "root"}).status_code == 422
    new.close()


def test_health_and_metrics_need_no_key(api: Api) -> None:
    assert httpx.get(f"{api.url}/healthz").json()["published_models"] == ["small"]
    text = httpx.get(f"{api.url}/metrics").text
    assert 'leadscore_http_requests_total{method="GET",route="/v1/contacts/{contact_id}",status="401"}' in text


def test_docs_work_offline(api: Api) -> None:
    """/docs is Swagger UI from the package's own files: no CDN, so it works on a closed network."""
    page = httpx.get(f"{api.url}/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "cdn" not in page.text.lower() and "http://" not in page.text and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        response = httpx.get(f"{api.url}/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.content) > 10_000, asset
    assert httpx.get(f"{api.url}/openapi.json").json()["info"]["title"] == "leadscore"
    assert httpx.get(f"{api.url}/redoc").status_code == 404  # no offline ReDoc: off, not half-working
