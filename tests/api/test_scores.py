"""GET /v1/scores pagination, POST /v1/score, lists and tasks over real HTTP."""

from __future__ import annotations

from tests.api.conftest import Api


def _walk(api: Api, **params: object) -> list[dict[str, object]]:
    client = api.client("read")
    items: list[dict[str, object]] = []
    cursor = None
    for _ in range(100):
        page = client.get("/v1/scores", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination does not end")


def test_pages_walk_every_score_once_in_order(api: Api) -> None:
    api.client().post("/v1/events", json={"events": [  # more contacts, and ties on score
        {"contact_id": f"page-{i}", "type": "page_view", "event_id": f"page-{i}"} for i in range(7)]})
    everything = api.client("read").get("/v1/scores", params={"limit": 1000}).json()
    assert everything["next_cursor"] is None and everything["model"] == "small"
    walked = _walk(api, limit=2)
    assert [r["contact_id"] for r in walked] == [r["contact_id"] for r in everything["items"]]
    assert len(walked) == api.count("SELECT count(*) FROM scores WHERE model = 'small'")
    keys = [(-float(r["score"]), r["contact_id"]) for r in walked]  # type: ignore[arg-type]
    assert keys == sorted(keys)


def test_filters_tier_and_min(api: Api) -> None:
    all_rows = _walk(api, limit=3)
    cold = _walk(api, tier="cold", limit=3)
    assert cold and {r["tier"] for r in cold} == {"cold"}
    assert len(cold) == sum(1 for r in all_rows if r["tier"] == "cold")
    high = _walk(api, min=20, limit=1)
    assert [r["contact_id"] for r in high] == [r["contact_id"] for r in all_rows if float(r["score"]) >= 20]  # type: ignore[arg-type]


def test_bad_cursors_and_parameters_are_422_naming_them(api: Api) -> None:
    client = api.client("read")
    page = client.get("/v1/scores", params={"limit": 1}).json()
    r = client.get("/v1/scores", params={"limit": 1, "tier": "sql", "cursor": page["next_cursor"]})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "cursor"
    assert "other filters" in r.json()["detail"][0]["msg"]
    r = client.get("/v1/scores", params={"cursor": "garbage!"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "cursor"
    r = client.get("/v1/scores", params={"limit": 0, "min": "high"})
    assert r.status_code == 422 and {e["field"] for e in r.json()["detail"]} == {"limit", "min"}
    assert client.get("/v1/scores", params={"model": "nope"}).status_code == 404


def test_post_score_rescores_some_or_everyone(api: Api) -> None:
    admin = api.client("admin")
    [run] = admin.post("/v1/score", json={"contact_ids": ["c1", "c2"]}).json()
    assert run["scope"] == "some" and run["contacts"] == 2 and run["model"] == "small"
    [run] = admin.post("/v1/score").json()
    assert run["scope"] == "all" and run["contacts"] == api.count("SELECT count(*) FROM scores")
    r = admin.post("/v1/score", json={"models": ["nope"]})
    assert r.status_code == 404
    r = admin.post("/v1/score", json={"contact_ids": "c1"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "contact_ids"
    # `models` applies to a contact list too (docs/api.md)
    r = admin.post("/v1/score", json={"contact_ids": ["c1"], "models": ["nope"]})
    assert r.status_code == 404
    [run] = admin.post("/v1/score", json={"contact_ids": ["c1"], "models": ["small"]}).json()
    assert run["scope"] == "one" and run["model"] == "small"


def test_lists_and_tasks(api: Api) -> None:
    write = api.runtime.write(lambda ctx: [ctx.store.con.execute(sql) for sql in (
        "INSERT INTO lists VALUES ('vip', now())",
        "INSERT INTO list_members SELECT 'vip', 'c' || i, now(), 'test' FROM range(1, 6) t(i)",
        "INSERT INTO tasks (task_id, contact_id, owner, title, created_at) "
        "SELECT 't' || i, 'c1', 'ann', 'Call ' || i, TIMESTAMP '2026-01-01' + INTERVAL (i) MINUTE FROM range(5) t(i)",
    )])
    write.result(timeout=30)
    client = api.client("read")
    first = client.get("/v1/lists/vip", params={"limit": 3}).json()
    assert first["members"] == ["c1", "c2", "c3"] and first["next_cursor"]
    rest = client.get("/v1/lists/vip", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert rest == {"name": "vip", "members": ["c4", "c5"], "next_cursor": None}
    assert client.get("/v1/lists/unknown").status_code == 404
    page = client.get("/v1/tasks", params={"owner": "ann", "limit": 2}).json()
    assert len(page["tasks"]) == 2 and page["tasks"][0]["title"] == "Call 4"
    titles = [t["title"] for t in page["tasks"]]
    while page["next_cursor"]:
        page = client.get("/v1/tasks", params={"owner": "ann", "limit": 2, "cursor": page["next_cursor"]}).json()
        titles += [t["title"] for t in page["tasks"]]
    assert titles == [f"Call {i}" for i in range(4, -1, -1)]
    assert client.get("/v1/tasks", params={"owner": "bob"}).json() == {"tasks": [], "next_cursor": None}


def test_an_unknown_model_or_tier_is_a_404_not_an_empty_page(api: Api) -> None:
    client = api.client("read")
    r = client.get("/v1/scores", params={"tier": "nosuch"})
    assert r.status_code == 404 and "has no tier `nosuch` (tiers: cold, nurture, sql)" in r.text, r.text
    assert client.get("/v1/scores", params={"model": "nosuch"}).status_code == 404
    assert client.get("/v1/scores", params={"tier": "sql"}).status_code == 200
    r = client.get("/v1/contacts/c1/history", params={"model": "nosuch"})
    assert r.status_code == 404 and "no published model `nosuch`" in r.text


def test_a_future_as_of_needs_allow_future(api: Api) -> None:
    client = api.client("admin")
    assert client.put("/v1/contacts/future-1", json={"job_title": "CEO"}).status_code == 200
    r = client.post("/v1/score", json={"contact_ids": ["future-1"], "as_of": "2150-01-01T00:00:00Z"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "as_of", r.text
    assert "in the future" in r.text
    r = client.post("/v1/score", json={"contact_ids": ["future-1"], "as_of": "2150-01-01T00:00:00Z",
                                       "allow_future": True})
    assert r.status_code == 200, r.text
