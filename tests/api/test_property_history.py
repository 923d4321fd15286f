"""Property changes through the API go into the history with the moment they became true: PUT (with
an optional `timestamp`), Segment `identify` (its `timestamp`); GET .../history returns them, and an
explanation as of an earlier date reads the value of that date."""

from __future__ import annotations

from tests.api.conftest import Api


def _changes(api: Api, contact: str) -> list[tuple[str, str | None, str | None, str]]:
    rows = api.client("read").get(f"/v1/contacts/{contact}/history").json()["property_changes"]
    return [(r["property"], r["old_value"], r["new_value"], r["changed_at"]) for r in rows]


def test_a_put_records_each_change_and_a_score_as_of_before_it_does_not_see_it(api: Api) -> None:
    client = api.client()
    # as a CRM sync creates it: last modified 2025-06-01, so its values were known true then
    assert client.put("/v1/contacts/hist-1", json={"job_title": "Engineer", "company_size": 20,
                                                    "created_at": "2025-01-01",
                                                    "updated_at": "2025-06-01"}).status_code == 200
    assert _changes(api, "hist-1") == []  # a new contact's first values are assumed, not changes
    r = client.put("/v1/contacts/hist-1", params={"timestamp": "2026-01-10T09:00:00Z"},
                   json={"job_title": "CEO", "company_size": 20})
    assert r.status_code == 200, r.text
    changes = _changes(api, "hist-1")
    assert changes[0] == ("job_title", "Engineer", "CEO", "2026-01-10T09:00:00Z")
    assert changes[1][0] == "updated_at" and changes[1][2:] == ("2026-01-10 09:00:00", "2026-01-10T09:00:00Z")
    assert len(changes) == 2  # company_size did not change
    read = api.client("read")
    before = read.get("/v1/contacts/hist-1/explain", params={"as_of": "2026-01-09T00:00:00"}).json()
    after = read.get("/v1/contacts/hist-1/explain", params={"as_of": "2026-01-11T00:00:00"}).json()
    fired = {e["name"]: e["fired"] for e in before["rules"]}
    assert fired["exec"] is False and {e["name"]: e["fired"] for e in after["rules"]}["exec"] is True
    assert client.put("/v1/contacts/hist-1", json={"job_title": "CEO"}).status_code == 200
    assert len(_changes(api, "hist-1")) == 2  # the same value again records nothing
    only = read.get("/v1/contacts/hist-1/history", params={"property": "job_title"}).json()
    assert [c["property"] for c in only["property_changes"]] == ["job_title"]


def test_a_put_dated_before_the_values_were_known_goes_into_the_past_only(api: Api) -> None:
    client = api.client()
    assert client.put("/v1/contacts/hist-5", json={"job_title": "VP Sales", "created_at": "2025-01-01",
                                                    "updated_at": "2026-04-30"}).status_code == 200
    r = client.put("/v1/contacts/hist-5", params={"timestamp": "2026-01-10T00:00:00Z"},
                   json={"job_title": "Manager"})
    assert r.status_code == 200, r.text
    assert _changes(api, "hist-5") == [("job_title", "Manager", "VP Sales", "2026-04-30T00:00:00Z"),
                                       ("job_title", "VP Sales", "Manager", "2026-01-10T00:00:00Z")]
    props = api.client("read").get("/v1/contacts/hist-5").json()["properties"]
    assert props["job_title"] == "VP Sales"  # known at 2026-04-30, after the write's date: still current
    assert props["updated_at"].startswith("2026-04-30")  # never moved backwards


def test_a_timestamp_ahead_of_the_clock_is_refused(api: Api) -> None:
    r = api.client().put("/v1/contacts/hist-2", params={"timestamp": "2999-01-01T00:00:00Z"},
                         json={"job_title": "CEO"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "timestamp"]


def test_identify_records_traits_at_its_timestamp(api: Api) -> None:
    client = api.client()
    client.post("/v1/segment", json={"type": "identify", "userId": "hist-3", "messageId": "h3-0",
                                     "traits": {"title": "Intern"}})
    r = client.post("/v1/segment", json={"type": "identify", "userId": "hist-3", "messageId": "h3-1",
                                         "timestamp": "2026-02-01T12:00:00Z",
                                         "traits": {"title": "VP Sales", "lifecycle_stage": "customer"}})
    assert r.status_code == 200, r.text
    changes = {c[0]: c[1:] for c in _changes(api, "hist-3")}
    assert changes["job_title"] == ("Intern", "VP Sales", "2026-02-01T12:00:00Z")
    assert changes["lifecycle_stage"] == (None, "customer", "2026-02-01T12:00:00Z")
    sources = {r["source"] for r in api.client("read").get("/v1/contacts/hist-3/history").json()["property_changes"]}
    assert sources == {"segment"}


def test_a_contact_first_heard_of_with_a_timestamp_exists_from_then(api: Api) -> None:
    """Its traits are recorded at the timestamp; a created_at of the request's time would hide them
    from every score as of between the two (a contact created after T is not scored as of T)."""
    client = api.client()
    r = client.post("/v1/segment", json={"type": "identify", "userId": "hist-new", "messageId": "hn-1",
                                         "timestamp": "2026-02-01T12:00:00Z", "traits": {"title": "CEO"}})
    assert r.status_code == 200, r.text
    assert client.put("/v1/contacts/hist-new2", params={"timestamp": "2026-02-03T00:00:00Z"},
                      json={"job_title": "CTO"}).status_code == 200
    rows = dict(api.store.con.execute("SELECT contact_id, created_at FROM contacts "
                                      "WHERE contact_id IN ('hist-new', 'hist-new2')").fetchall())
    assert {k: v.isoformat() for k, v in rows.items()} == {"hist-new": "2026-02-01T12:00:00",
                                                           "hist-new2": "2026-02-03T00:00:00"}
    changes = {c[0]: c[1:] for c in _changes(api, "hist-new")}
    assert changes["job_title"] == (None, "CEO", "2026-02-01T12:00:00Z")
    explained = api.client("read").get("/v1/contacts/hist-new/explain",
                                       params={"as_of": "2026-02-02T00:00:00"})
    assert explained.status_code == 200, explained.text
    assert {e["name"]: e["fired"] for e in explained.json()["rules"]}["exec"] is True


def test_history_by_e_mail_and_an_unknown_property_is_a_404_naming_the_close_ones(api: Api) -> None:
    client = api.client()
    first = {"email": "dora@example.com", "job_title": "Intern", "updated_at": "2026-01-01"}
    assert client.put("/v1/contacts/hist-4", json=first).status_code == 200
    client.put("/v1/contacts/hist-4", params={"timestamp": "2026-01-10T09:00:00Z"}, json={"job_title": "CMO"})
    read = api.client("read")
    r = read.get("/v1/contacts/dora@example.com/history", params={"property": "Job Title"})
    assert r.status_code == 200, r.text
    assert [(c["old_value"], c["new_value"]) for c in r.json()["property_changes"]] == [("Intern", "CMO")]
    r = read.get("/v1/contacts/hist-4/history", params={"property": "job_titel"})
    assert r.status_code == 404 and "did you mean `job_title`" in r.text
