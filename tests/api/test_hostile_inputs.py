"""What a reviewer threw at a live server: non-ASCII e-mails, client clock skew, broken Unicode,
dates out of range, made-up methods and forged cursors. Each gets its right answer, never a 500."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import duckdb
from tests.api.conftest import Api

from leadscore.api.cursors import encode_cursor
from leadscore.api.segment import event_type_of, snake_case
from leadscore.storage.identity import email_contact_id
from leadscore.timeutil import utcnow


def test_non_ascii_emails_find_their_contact_and_get_the_import_id(api: Api) -> None:
    client = api.client()
    for cid, email in (("uni-1", "ΣΟΦΙΑΣ@t19.io"), ("uni-2", "İnan@t11.io")):
        assert client.put(f"/v1/contacts/{cid}", json={"email": email}).status_code == 200
        r = client.post("/v1/events", json={"email": email, "type": "page_view"})
        assert r.json()["events"][0]["contact_id"] == cid, email
    r = client.post("/v1/segment", json={"type": "identify", "traits": {"email": "ΣΟΦΙΑΣ@t19.io", "title": "CEO"}})
    assert r.status_code == 200, r.text
    assert client.get("/v1/contacts/uni-1").json()["properties"]["job_title"] == "CEO"
    # a new contact's id is the one `leadscore import` gives the same address (DuckDB folds it)
    row = duckdb.connect().execute("SELECT 'c_' || left(sha1(lower('ΟΔΟΣ@x.io')), 16)").fetchone()
    assert row is not None and email_contact_id("ΟΔΟΣ@x.io") == row[0]
    r = client.post("/v1/events", json={"email": "ΟΔΟΣ@x.io", "type": "page_view"})
    assert r.json()["events"][0]["contact_id"] == row[0]


def test_a_clock_a_little_ahead_counts_now_and_far_ahead_is_refused(api: Api) -> None:
    client = api.client()
    soon = (utcnow() + timedelta(seconds=30)).isoformat()
    r = client.post("/v1/events", json={"contact_id": "skew-1", "type": "demo_request", "occurred_at": soon})
    assert r.status_code == 200
    assert r.json()["scores"][0]["groups"]["engagement"] > 0  # the demo request is in the returned score
    later = (utcnow() + timedelta(hours=1)).isoformat()
    r = client.post("/v1/events", json={"contact_id": "skew-2", "type": "demo_request", "occurred_at": later})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "occurred_at"
    for bad in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        r = client.post("/v1/events", json={"contact_id": "skew-3", "type": "page_view", "occurred_at": bad})
        assert r.status_code == 422, bad
        r = client.post("/v1/segment", json={"type": "track", "userId": "skew-3", "event": "X", "timestamp": bad})
        assert r.status_code == 422, bad
    r = client.put("/v1/contacts/skew-4", json={"created_at": "0001-01-01T00:00:00+01:00"})
    assert r.status_code == 422


def test_broken_unicode_from_a_browser_is_dropped_or_refused_never_a_500(api: Api) -> None:
    client = api.client()
    headers = {"content-type": "application/json"}
    bodies = [
        '{"type": "identify", "userId": "surr-1", "traits": {"firstName": "a\\ud800", "title": "CEO"}}',
        '{"type": "track", "userId": "surr-1", "event": "Visited", "properties": {"url": "/a\\ud800"}}',
        '{"type": "identify", "userId": "surr-2", "traits": {"email": "x\\ud800@y.io"}}',
    ]
    for body in bodies:
        r = client.post("/v1/segment", content=body.encode("ascii"), headers=headers)
        assert r.status_code == 200, (body, r.text)
    props = client.get("/v1/contacts/surr-1").json()["properties"]
    assert props["job_title"] == "CEO" and props.get("first_name") is None  # the broken trait was dropped
    assert client.put("/v1/contacts/a%00b", json={}).status_code == 422


def test_track_names_in_any_script_become_event_types(api: Api) -> None:
    assert snake_case("Anmeldung bestätigt") == "anmeldung_bestatigt"
    assert event_type_of("注文完了").startswith("event_") and event_type_of("注文完了") == event_type_of("注文完了")
    r = api.client().post("/v1/segment", json={"batch": [
        {"type": "track", "userId": "jp-1", "event": "注文完了", "messageId": "jp-m1"},
        {"type": "track", "userId": "jp-1", "event": "Ok", "messageId": "jp-m2"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
    types = {t for (t,) in api.store.con.execute("SELECT type FROM events WHERE contact_id = 'jp-1'").fetchall()}
    assert types == {event_type_of("注文完了"), "ok"}


def test_made_up_methods_forged_cursors_and_bad_filters(api: Api) -> None:
    client = api.client()
    for i in range(3):
        client.request(f"FOOBAR{i}", "/healthz")
    metrics = client.get("/metrics").text
    assert "FOOBAR" not in metrics and 'method="OTHER"' in metrics
    forged = {"after": [1.5, "\ud800"], "filters": {"min": None, "model": "small", "tier": None}}
    raw = json.dumps(forged).encode("ascii")
    token = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    assert client.get("/v1/scores", params={"cursor": token}).status_code == 422
    forged["filters"] = {"model": "\ud800"}
    token = base64.urlsafe_b64encode(json.dumps(forged).encode("ascii")).decode("ascii").rstrip("=")
    assert client.get("/v1/scores", params={"cursor": token}).status_code == 422
    assert client.get("/v1/tasks", params={"status": "bogus"}).status_code == 422
    gone = encode_cursor(["no-such-task"], {"owner": None, "status": None})  # well formed, names nothing
    r = client.get("/v1/tasks", params={"cursor": gone})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert "store" not in client.get("/healthz").json()
