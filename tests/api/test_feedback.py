"""``/v1/contacts/{id}/feedback``: stored with the score of the moment, read back, checked."""

from __future__ import annotations

from tests.api.conftest import Api


def test_post_and_get_feedback(api: Api) -> None:
    write, read = api.client("write"), api.client("read")
    r = write.post("/v1/contacts/c1/feedback", json={"verdict": "too_low", "reason": "<b>big deal</b>",
                                                     "outcome": "converted", "author": "crm:ann"})
    assert r.status_code == 201, r.text
    item = r.json()
    score, version, tier = api.store.con.execute(
        "SELECT score, model_version, tier FROM scores WHERE contact_id = 'c1'").fetchone()
    assert (item["model"], item["model_version"], item["score"], item["tier"]) == ("small", version, score, tier)
    assert item["source"] == "api" and item["author"] == "crm:ann (via key test write)"
    assert item["created_at"].endswith("Z")  # an instant with its offset, as every API time
    assert {r["rule"] for r in item["rules_fired"]} >= {"exec", "demo"}
    got = read.get("/v1/contacts/c1/feedback").json()
    assert [x["feedback_id"] for x in got["items"]] == [item["feedback_id"]]
    assert got["items"][0]["reason"] == "<b>big deal</b>"  # stored as given; pages escape it


def test_feedback_errors(api: Api) -> None:
    write = api.client("write")
    assert write.post("/v1/contacts/nobody/feedback", json={"verdict": "right"}).status_code == 404
    r = write.post("/v1/contacts/c1/feedback", json={"verdict": "meh"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "verdict"
    assert write.post("/v1/contacts/c1/feedback", json={"verdict": "right", "model": "nope"}).status_code == 404
    api.runtime.write(lambda ctx: ctx.store.con.execute(
        "INSERT INTO contacts (contact_id) VALUES ('c_unscored')")).result()  # imported, not yet scored
    r = write.post("/v1/contacts/c_unscored/feedback", json={"verdict": "right"})
    assert r.status_code == 400 and "no score" in r.json()["detail"]
    assert api.client("read").post("/v1/contacts/c1/feedback", json={"verdict": "right"}).status_code == 403
    assert api.client(None).get("/v1/contacts/c1/feedback").status_code == 401
