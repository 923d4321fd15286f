"""Contacts over real HTTP: upsert (rescored at once), read, explain, history, 404/422."""

from __future__ import annotations

from tests.api.conftest import Api


def test_put_creates_then_updates_and_rescores(api: Api) -> None:
    client = api.client()
    r = client.put("/v1/contacts/put-1", json={"job_title": "Engineer", "company_size": 20})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] is True and body["properties"]["job_title"] == "Engineer"
    first = body["scores"][0]["score"]
    r = client.put("/v1/contacts/put-1", json={"job_title": "CEO", "company_size": 500})
    body = r.json()
    assert body["created"] is False
    assert body["scores"][0]["score"] == first + 30  # fit: exec +20, big company +15, capped at 30
    assert body["scores"][0]["groups"]["fit"] == 30
    history = client.get("/v1/contacts/put-1/history").json()["scores"]
    assert [h["score"] for h in history] == [first + 30, first]


def test_put_with_the_same_values_changes_nothing(api: Api) -> None:
    client = api.client()
    client.put("/v1/contacts/put-2", json={"industry": "SaaS"})
    n = api.count("SELECT count(*) FROM score_history WHERE contact_id = 'put-2'")
    updated = api.count("SELECT epoch_us(updated_at) FROM contacts WHERE contact_id = 'put-2'")
    assert client.put("/v1/contacts/put-2", json={"industry": "SaaS"}).status_code == 200
    assert api.count("SELECT count(*) FROM score_history WHERE contact_id = 'put-2'") == n
    assert api.count("SELECT epoch_us(updated_at) FROM contacts WHERE contact_id = 'put-2'") == updated
    r = client.put("/v1/contacts/put-2", json={"industry": None})  # null clears
    assert "industry" not in r.json()["properties"]


def test_put_refuses_unknown_properties_and_wrong_types_naming_each(api: Api) -> None:
    client = api.client()
    r = client.put("/v1/contacts/put-3", json={"job_title": "CEO", "favourite_colour": "red",
                                               "company_size": "huge", "created_at": "not a date"})
    assert r.status_code == 422
    detail = {e["field"]: e["msg"] for e in r.json()["detail"]}
    assert set(detail) == {"favourite_colour", "company_size", "created_at"}
    assert "unknown contact property `favourite_colour`" in detail["favourite_colour"]
    assert "expected an integer" in detail["company_size"]
    assert client.get("/v1/contacts/put-3").status_code == 404  # nothing written
    r = client.put("/v1/contacts/put-3", json={"contact_id": "other"})
    assert r.status_code == 422 and "path" in r.json()["detail"][0]["msg"]
    assert client.put("/v1/contacts/put-3", json=["not", "an", "object"]).status_code == 422
    assert api.client("read").put("/v1/contacts/put-3", json={}).status_code == 403


def test_get_contact_and_404(api: Api) -> None:
    client = api.client("read")
    body = client.get("/v1/contacts/c1").json()
    assert body["properties"]["email"] == "ann@acme.com" and body["prediction"] is None
    [score] = body["scores"]
    assert score["model"] == "small" and score["tier"] in ("cold", "nurture", "sql")
    assert set(score["groups"]) == {"fit", "engagement"}
    r = client.get("/v1/contacts/nobody")
    assert r.status_code == 404 and "nobody" in r.json()["detail"]
    assert client.get("/v1/contacts/nobody/history").status_code == 404


def test_prediction_shows_when_a_row_exists(api: Api) -> None:
    assert api.client("read").get("/v1/contacts/c2").json()["prediction"] is None  # empty table
    write = api.runtime.write(lambda ctx: ctx.store.con.execute(
        "INSERT INTO predictions (model, model_version, contact_id, probability, priority, factors, as_of, "
        "computed_at) VALUES ('won', 1, 'c2', 0.42, 'high', '[{\"feature\": \"pricing\"}]', now(), now())"))
    write.result(timeout=30)
    pred = api.client("read").get("/v1/contacts/c2").json()["prediction"]
    assert pred["probability"] == 0.42 and pred["priority"] == "high"
    assert pred["factors"] == [{"feature": "pricing"}]


def test_explain_adds_up_to_the_stored_score(api: Api) -> None:
    client = api.client("read")
    stored = client.get("/v1/contacts/c1").json()["scores"][0]["score"]
    e = client.get("/v1/contacts/c1/explain").json()
    assert abs(e["total"] - stored) < 1e-9
    assert abs(sum(g["points"] for g in e["groups"]) - e["total"]) < 1e-9
    assert any(r["name"] == "demo" and r["fired"] for r in e["rules"]) and e["reasons"]
    assert client.get("/v1/contacts/c1/explain", params={"model": "nope"}).status_code == 404
    assert client.get("/v1/contacts/c1/explain", params={"as_of": "garbage"}).status_code == 422


def test_a_contact_is_found_by_its_email_in_reads_explain_and_preview(api: Api) -> None:
    client = api.client("read")
    assert client.get("/v1/contacts/ANN@acme.com").json()["contact_id"] == "c1"
    explained = client.get("/v1/contacts/ann@acme.com/explain")
    assert explained.status_code == 200 and explained.json()["contact_id"] == "c1"
    assert client.get("/v1/contacts/ann@acme.com/history").status_code == 200
    model = (api.ws.models_dir / "small.yml").read_text()
    r = client.post("/v1/models/preview", json={"text": model, "contact_ids": ["ann@acme.com"]})
    assert r.status_code == 200 and r.json()["contacts"][0]["contact_id"] == "c1", r.text
    missing = client.get("/v1/contacts/nobody@acme.com/explain")
    assert missing.status_code == 404 and "nor with that e-mail" in missing.text


def test_put_checks_the_email_as_events_do(api: Api) -> None:
    client = api.client()
    for bad in ("not an address", "a@b@", "two@words here.com", 42, "x" * 400 + "@a.io"):
        r = client.put("/v1/contacts/put-email", json={"email": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "email", (bad, r.text)
    assert api.count("SELECT count(*) FROM contacts WHERE contact_id = 'put-email'") == 0
    assert client.put("/v1/contacts/put-email", json={"email": "Ann.B@acme.io"}).status_code == 200
    assert client.put("/v1/contacts/put-email", json={"email": None}).status_code == 200  # clearing it is fine
