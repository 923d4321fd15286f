"""POST /v1/events over real HTTP: scoring at once, idempotency, contacts by e-mail, limits."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
from tests.api.conftest import Api

from leadscore.storage.identity import email_contact_id


def test_an_event_that_pushes_a_contact_into_sql_updates_score_tier_and_history_at_once(api: Api) -> None:
    client = api.client()
    before = client.get("/v1/contacts/c3").json()["scores"][0]
    assert before["tier"] != "sql"
    r = client.post("/v1/events", json={"contact_id": "c3", "type": "demo_request", "event_id": "c3-demo"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 1 and body["rescored"] == ["c3"]
    [after] = body["scores"]
    assert after["tier"] == "sql" and after["score"] > before["score"] + 24  # demo: +25, barely decayed
    # committed before the response: a read on another connection sees it
    assert client.get("/v1/contacts/c3").json()["scores"][0]["score"] == after["score"]
    [latest, *_] = client.get("/v1/contacts/c3/history").json()["scores"]
    assert (latest["prev_tier"], latest["tier"]) == (before["tier"], "sql")
    assert api.count("SELECT count(*) FROM tier_crossings WHERE contact_id = 'c3' AND to_tier = 'sql'") == 1


def test_the_same_event_twice_changes_nothing(api: Api) -> None:
    client = api.client()
    event = {"contact_id": "idem-1", "type": "email_open", "occurred_at": "2026-01-02T03:04:05Z"}
    first = client.post("/v1/events", json=event).json()
    tables = ("events", "score_history", "scores", "contacts")
    counts = {t: api.count(f"SELECT count(*) FROM {t}") for t in tables}
    again = client.post("/v1/events", json=event).json()
    assert first["events"][0]["status"] == "created" and again["events"][0]["status"] == "duplicate"
    assert again["events"][0]["event_id"] == first["events"][0]["event_id"]  # generated, deterministic
    assert again["accepted"] == 0 and again["duplicates"] == 1 and again["rescored"] == []
    assert {t: api.count(f"SELECT count(*) FROM {t}") for t in tables} == counts
    # with an explicit id, even a different payload is the same event
    client.post("/v1/events", json={"event_id": "idem-x", "contact_id": "idem-1", "type": "email_open"})
    r = client.post("/v1/events", json={"event_id": "idem-x", "contact_id": "idem-1", "type": "form_submit"})
    assert r.json()["duplicates"] == 1
    assert api.count("SELECT count(*) FROM events WHERE event_id = 'idem-x'") == 1


def test_email_identifies_or_creates_the_contact(api: Api) -> None:
    client = api.client()
    r = client.post("/v1/events", json={"email": "New.Person@Example.org", "type": "page_view",
                                        "properties": {"url": "/pricing"}})
    new_id = email_contact_id("new.person@example.org")
    assert r.json()["events"][0]["contact_id"] == new_id
    contact = client.get(f"/v1/contacts/{new_id}").json()
    assert contact["properties"]["email"] == "New.Person@Example.org"  # stored as given, matched lower-cased
    assert contact["scores"][0]["model"] == "small"
    r = client.post("/v1/events", json={"email": "NEW.PERSON@example.org", "type": "email_open"})
    assert r.json()["events"][0]["contact_id"] == new_id
    assert api.count("SELECT count(*) FROM contacts WHERE lower(email) = 'new.person@example.org'") == 1
    # an address already stored finds its contact, whatever its id
    r = client.post("/v1/events", json={"email": "ann@acme.com", "type": "email_open"})
    assert r.json()["events"][0]["contact_id"] == "c1"


def test_a_batch_is_written_and_rescored_together(api: Api) -> None:
    events = [{"event_id": f"b-{i}", "contact_id": f"batch-{i % 3}", "type": "page_view",
               "properties": {"url": f"/p{i}", "campaign": "spring"}} for i in range(30)]
    r = api.client().post("/v1/events", json={"events": events})
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 30 and body["scores"] is None
    assert sorted(body["rescored"]) == ["batch-0", "batch-1", "batch-2"]
    assert api.count("SELECT count(*) FROM scores WHERE contact_id LIKE 'batch-%'") == 3
    assert api.count("SELECT count(*) FROM events WHERE campaign = 'spring'") == 30


def test_bad_input_names_every_bad_field_and_writes_nothing(api: Api) -> None:
    client = api.client()
    before = api.count("SELECT count(*) FROM events")
    events = [
        {"contact_id": "bad-0", "type": "page_view"},                      # fine
        {"contact_id": "bad-1"},                                           # no type
        {"type": "page_view"},                                             # nobody
        {"contact_id": "bad-3", "type": "page_view", "colour": "red"},     # not a field
        {"contact_id": "bad-4", "type": "page_view", "occurred_at": "yesterday"},
    ]
    r = client.post("/v1/events", json={"events": events})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["detail"]}
    assert {"events[1].type", "events[2]", "events[3].colour", "events[4].occurred_at"} <= fields
    # store-level checks: unknown property, wrong type for a column
    r = client.post("/v1/events", json={"events": [
        {"contact_id": "bad-5", "type": "page_view", "properties": {"url": "/a", "colour": "red"}},
        {"contact_id": "bad-6", "type": "page_view", "properties": {"url": "/b"}},
        {"contact_id": "bad-7", "type": "page_view", "properties": {"contact_id": "x"}}]})
    assert r.status_code == 422
    detail = {e["field"]: e["msg"] for e in r.json()["detail"]}
    assert set(detail) == {"events[0].properties.colour", "events[2].properties.contact_id"}
    assert "unknown event property `colour`" in detail["events[0].properties.colour"]
    assert "top level" in detail["events[2].properties.contact_id"]
    r = client.post("/v1/events", json={"contact_id": "bad-8", "type": "page_view", "properties": {"url": ["/a"]}})
    assert r.status_code == 422 and {e["field"] for e in r.json()["detail"]} == {"properties.url"}
    assert api.count("SELECT count(*) FROM events") == before
    assert api.count("SELECT count(*) FROM contacts WHERE contact_id LIKE 'bad-%'") == 0
    assert client.post("/v1/events", content=b"{not json", headers={"content-type": "application/json"}
                       ).status_code == 422


def test_limits_batch_size_event_size_and_body_size(api: Api) -> None:
    client = api.client()
    many = {"events": [{"contact_id": "lim", "type": "email_open", "event_id": f"l{i}"} for i in range(1001)]}
    r = client.post("/v1/events", json=many)
    assert r.status_code == 422 and "the limit is 1000" in r.json()["detail"][0]["msg"]
    big = {"contact_id": "lim", "type": "page_view", "properties": {"url": "/" + "x" * 40_000}}
    r = client.post("/v1/events", json={"events": [{"contact_id": "lim", "type": "page_view"}, big]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "events[1]" and "limit is 32,768" in r.json()["detail"][0]["msg"]
    huge = json.dumps({"events": [big] * 30}).encode()
    assert len(huge) > 1_048_576
    r = client.post("/v1/events", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "1,048,576" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed size is what counts
        for i in range(0, len(huge), 65_536):
            yield huge[i:i + 65_536]

    r = client.post("/v1/events", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert api.count("SELECT count(*) FROM events WHERE contact_id = 'lim'") == 0
    assert client.get("/v1/contacts/c1").status_code == 200  # the server is fine afterwards


def test_event_counts_reach_the_metrics(api: Api) -> None:
    api.client().post("/v1/events", json={"contact_id": "met-1", "type": "email_open", "event_id": "met-1"})
    text = httpx.get(f"{api.url}/metrics").text
    accepted = next(line for line in text.splitlines() if line.startswith("leadscore_events_accepted_total"))
    assert float(accepted.split()[-1]) >= 1
    assert "leadscore_rescore_seconds_count" in text and "leadscore_outbox_depth" in text


def test_occurred_at_numbers_are_seconds_or_milliseconds_and_nothing_between(api: Api) -> None:
    client = api.client()
    for value, stored in ((1748736000, "2025-06-01 00:00:00"), (1748736000123, "2025-06-01 00:00:00.123")):
        r = client.post("/v1/events", json={"contact_id": "unix-1", "type": "page_view", "occurred_at": value,
                                            "event_id": f"unix-{value}"})
        assert r.status_code == 200, r.text
        got = api.store.con.execute("SELECT CAST(occurred_at AS VARCHAR) FROM events WHERE event_id = ?",
                                    [f"unix-{value}"]).fetchone()
        assert got is not None and got[0] == stored
    for value in (253402300800, 20_000_000_000, 10**14, -(10**11)):  # 253402300800: the year 10000 in seconds
        r = client.post("/v1/events", json={"contact_id": "unix-1", "type": "page_view", "occurred_at": value})
        assert r.status_code == 422 and "neither Unix seconds" in r.text, (value, r.text)
