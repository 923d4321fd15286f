"""Paging cursors over real HTTP: every page walk visits each row once, a crafted cursor is a 422.

The three paged endpoints (scores, list members, tasks) share ``api/cursors.py``; these tests hit
each endpoint with cursors of every wrong shape a client could build by hand (valid base64 and
JSON, right filters, wrong position), which used to reach the SQL and come back as 500s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.api.conftest import Api

#: the filters each endpoint's cursors are made for, as the server writes them (see the routes)
ENDPOINTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # path: (query parameters, filters inside the cursor)
    "/v1/scores": ({}, {"model": "small", "tier": None, "min": None}),
    "/v1/lists/vip": ({}, {"list": "vip"}),
    "/v1/tasks": ({}, {"owner": None, "status": None}),
}


def _token(raw: bytes | str) -> str:
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _crafted(filters: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(what is wrong, token): decodable cursors whose content is not a position the API made."""
    for label, after in [
        ("empty position", []),
        ("object in position", [{}]),
        ("list in position", [["c1"]]),
        ("null position item", [None]),
        ("boolean position item", [True]),
        ("number where a string goes", [1]),
        ("position too long", ["c1", "c2", "c3"]),
        ("score and id swapped", ["c1", 1.5]),
        ("boolean score", [True, "c1"]),
        ("huge integer score", [10**400, "c1"]),
        ("infinite score", [float("inf"), "c1"]),
        ("not-a-number score", [float("nan"), "c1"]),
        ("position is a string", "c1"),
        ("position is an object", {"a": 1}),
        ("position missing", None),
    ]:
        payload: dict[str, Any] = {"filters": filters}
        if after is not None:
            payload["after"] = after
        yield label, _token(json.dumps(payload))
    yield "json array", _token("[]")
    yield "json null", _token("null")
    yield "deeply nested", _token("[" * 1490)  # just under the 2,000 characters a cursor may have
    yield "not utf-8", _token(b"\xff\xfe{}")
    yield "not base64", "***"
    yield "non-ascii token", "é"


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_crafted_cursors_are_422_naming_the_cursor(api: Api, path: str) -> None:
    params, filters = ENDPOINTS[path]
    client = api.client("read")
    wrong = {}
    for label, token in _crafted(filters):
        r = client.get(path, params={**params, "cursor": token})
        detail = r.json()["detail"] if r.status_code == 422 else None
        if not (detail and len(detail) == 1 and detail[0]["loc"] == ["query", "cursor"]
                and detail[0]["field"] == "cursor" and "cursor" in detail[0]["msg"]):
            wrong[label] = (r.status_code, r.text[:200])
    assert not wrong


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_a_cursor_for_other_filters_is_refused_everywhere(api: Api, path: str) -> None:
    _, filters = ENDPOINTS[path]
    foreign = {k: "other" for k in filters}
    r = api.client("read").get(path, params={"cursor": _token(json.dumps({"after": ["c1"], "filters": foreign}))})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "cursor"
    assert "other filters" in r.json()["detail"][0]["msg"]


def _walk(api: Api, path: str, key: str, **params: Any) -> list[Any]:
    client = api.client("read")
    rows: list[Any] = []
    cursor = None
    for _ in range(200):
        r = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page[key]) <= params["limit"]
        rows += page[key]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("pagination does not end")


def test_every_paged_endpoint_walks_each_row_exactly_once(api: Api) -> None:
    api.runtime.write(lambda ctx: [ctx.store.con.execute(sql) for sql in (
        "INSERT INTO lists VALUES ('vip', now())",
        "INSERT INTO list_members SELECT 'vip', 'm' || lpad(i::VARCHAR, 2, '0'), now(), 'test' FROM range(11) t(i)",
        # pairs of tasks created at the same minute: ties are broken by task_id
        "INSERT INTO tasks (task_id, contact_id, owner, title, created_at) SELECT 'walk-' || i, 'c1', 'walker', "
        "'Call ' || i, TIMESTAMP '2026-01-01' + INTERVAL (i // 2) MINUTE FROM range(9) t(i)",
    )]).result(timeout=30)
    for limit in (1, 2, 3, 4, 11, 12):
        members = _walk(api, "/v1/lists/vip", "members", limit=limit)
        assert members == [f"m{i:02d}" for i in range(11)], limit
        tasks = [t["task_id"] for t in _walk(api, "/v1/tasks", "tasks", owner="walker", limit=limit)]
        assert sorted(tasks) == sorted(f"walk-{i}" for i in range(9)) and len(set(tasks)) == 9, limit
        scores = [r["contact_id"] for r in _walk(api, "/v1/scores", "items", limit=limit)]
        assert len(scores) == len(set(scores)) == api.count("SELECT count(*) FROM scores WHERE model = 'small'")
