"""POST /v1/segment: Segment spec track / identify / page calls, single and batched."""

from __future__ import annotations

from tests.api.conftest import Api

from leadscore.api.segment import snake_case
from leadscore.storage.identity import email_contact_id


def test_snake_case_of_segment_names() -> None:
    assert snake_case("Demo Requested") == "demo_requested"
    assert snake_case("firstName") == "first_name"
    assert snake_case("  Order--Completed! ") == "order_completed"


def test_track_page_identify_in_one_batch(api: Api) -> None:
    client = api.client()
    batch = {"batch": [
        {"type": "identify", "userId": "seg-1", "messageId": "m-0",
         "traits": {"email": "Seg@Example.com", "firstName": "Sam", "title": "CEO",
                    "company": {"name": "Acme", "employee_count": 250}, "shoe_size": 44}},
        {"type": "track", "userId": "seg-1", "event": "Demo Request", "messageId": "m-1",
         "timestamp": "2026-11-01T10:00:00Z", "properties": {"campaign": "fall", "revenue": 9.5}},
        {"type": "page", "userId": "seg-1", "messageId": "m-2", "name": "Pricing",
         "context": {"page": {"url": "/pricing", "referrer": "https://google.com"}}},
        {"type": "track", "anonymousId": "anon-7", "event": "Email Opened", "messageId": "m-3",
         "context": {"traits": {"email": "seg2@example.com"}}},
    ]}
    r = client.post("/v1/segment", json=batch)
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "accepted": 3, "duplicates": 0, "identified": 1, "ignored": 0}
    contact = client.get("/v1/contacts/seg-1").json()
    props = contact["properties"]
    assert (props["email"], props["first_name"], props["job_title"], props["company"], props["company_size"]) == (
        "Seg@Example.com", "Sam", "CEO", "Acme", 250)
    events = api.store.con.execute(
        "SELECT event_id, type, campaign, url, referrer FROM events WHERE contact_id = 'seg-1' ORDER BY event_id"
    ).fetchall()
    assert events == [("m-1", "demo_request", "fall", None, None),
                      ("m-2", "page_view", None, "/pricing", "https://google.com")]
    assert contact["scores"][0]["groups"]["fit"] == 30  # identify and track scored together
    # an e-mail in context.traits wins over anonymousId
    who = api.store.con.execute("SELECT contact_id FROM events WHERE event_id = 'm-3'").fetchone()
    assert who == (email_contact_id("seg2@example.com"),)
    again = client.post("/v1/segment", json=batch).json()
    assert again["accepted"] == 0 and again["duplicates"] == 3


def test_single_call_and_bad_calls(api: Api) -> None:
    client = api.client()
    r = client.post("/v1/segment", json={"type": "track", "userId": "seg-3", "event": "Webinar Attended"})
    assert r.json()["accepted"] == 1
    r = client.post("/v1/segment", json={"type": "track", "userId": "seg-3"})
    assert r.status_code == 422 and "event" in r.json()["detail"][0]["msg"]
    r = client.post("/v1/segment", json={"batch": [{"type": "alias", "userId": "seg-3", "previousId": "a-1"},
                                                   {"type": "screen", "userId": "seg-3", "name": "Home"}]})
    assert (r.json()["accepted"], r.json()["ignored"]) == (1, 1)
    assert api.count("SELECT count(*) FROM events WHERE contact_id = 'seg-3' AND type = 'screen_view'") == 1
    r = client.post("/v1/segment", json={"type": "merge", "userId": "seg-3"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "type"
    r = client.post("/v1/segment", json={"batch": [{"type": "page"}]})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "batch[0]"
    assert api.client("read").post("/v1/segment", json={"type": "page", "userId": "x"}).status_code == 403
