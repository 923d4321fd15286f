"""Segment identifies of a batch resolve their e-mails in one query, landing where they used to.

The reference is the per-identify lookup the API made before (``_one_by_one``): one
``min(contact_id)`` query per identify, each seeing what the identifies before it wrote. The
batch resolver (``writes.EmailContacts``) must give the same contact ids and leave the same
contacts behind for any sequence, including identifies that create a contact or move an e-mail
from one contact to another half-way through the batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.api.conftest import Api

from leadscore.api.writes import EmailContacts, contact_for, upsert_contact
from leadscore.storage.identity import email_contact_id
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

#: stored before each example: a shared address (min id wins), spaces SQL trims, a tab it keeps,
#: a capital İ whose lower case DuckDB and Python spell differently
STORED = [("b2", "Ann@Acme.com"), ("a1", "ann@acme.com "), ("z9", "ANN@ACME.COM"), ("c3", "İnci@x.io"),
          ("d4", "bob@x.io\t"), ("e5", None), ("f6", "moved@x.io")]
EMAILS = ["ann@acme.com", " Ann@Acme.COM", "new@x.io", "NEW@x.io ", "inci@x.io", "İnci@x.io", "i̇nci@x.io",
          "bob@x.io", "moved@x.io", "Moved@X.io"]
USER_IDS = [None, None, None, "a0", "zz", "f6", email_contact_id("new@x.io")]

Identify = tuple[str | None, str | None, dict[str, Any]]


class CountingConnection:
    """A connection that counts the e-mail lookups made through it."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con, self.lookups = con, 0

    def execute(self, sql: str, params: Any = None) -> duckdb.DuckDBPyConnection:
        self.lookups += "lower(trim(email))" in sql
        return self.con.execute(sql, params)


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    with Store.open(":memory:") as s:
        yield s


def _reference_contact_for(store: Store, contact_id: str | None, email: str | None) -> str:
    """The lookup as it was before batching, kept here as the oracle, with both sides folded by
    DuckDB (Python's lower once made `İnci@x.io` miss the contact stored with it)."""
    if contact_id:
        return contact_id
    assert email
    row = store.con.execute("SELECT min(contact_id) FROM contacts WHERE lower(trim(email)) = lower(trim(?))",
                            [email]).fetchone()
    return str(row[0]) if row and row[0] else email_contact_id(email)


def _run(store: Store, identifies: list[Identify], batched: bool) -> tuple[list[str], list[tuple[Any, ...]], int]:
    """(ids the identifies landed on, contacts afterwards, e-mail lookups), rolled back after."""
    counting = CountingConnection(store.con)
    view = Store(cast(duckdb.DuckDBPyConnection, counting), store.path)
    store.con.execute("BEGIN TRANSACTION")
    try:
        store.con.executemany("INSERT INTO contacts (contact_id, email) VALUES (?, ?)", [list(r) for r in STORED])
        emails = EmailContacts(view, [e for cid, e, _ in identifies if e and not cid]) if batched else None
        ids = []
        for contact_id, email, traits in identifies:
            cid = emails.contact_for(contact_id, email) if emails else _reference_contact_for(view, contact_id, email)
            if upsert_contact(view, cid, traits, now=utcnow())[1] and emails:
                emails.wrote(cid, traits)
            ids.append(cid)
        after = store.con.execute("SELECT contact_id, email, job_title FROM contacts ORDER BY 1").fetchall()
    finally:
        store.con.execute("ROLLBACK")
    return ids, after, counting.lookups


@st.composite
def identifies(draw: st.DrawFn) -> list[Identify]:
    out: list[Identify] = []
    for _ in range(draw(st.integers(1, 8))):
        user_id = draw(st.sampled_from(USER_IDS))
        email = draw(st.sampled_from(EMAILS)) if user_id is None else draw(st.sampled_from([None, *EMAILS]))
        traits: dict[str, Any] = draw(st.sampled_from([{}, {"job_title": "CEO"}]))
        if draw(st.booleans()):  # an e-mail trait that differs from the address that found the contact
            traits["email"] = draw(st.sampled_from([None, *EMAILS]))
        elif email:
            traits["email"] = email.strip()  # what segment.translate adds
        out.append((user_id, email, traits))
    return out


@settings(max_examples=150, deadline=None)
@given(batch=identifies())
def test_batch_lands_where_one_by_one_did(store: Store, batch: list[Identify]) -> None:
    ids, after, lookups = _run(store, batch, batched=True)
    assert (ids, after) == _run(store, batch, batched=False)[:2]
    moved_non_ascii = sum(1 for _, _, t in batch if isinstance(t.get("email"), str) and not t["email"].isascii())
    assert lookups <= 1 + moved_non_ascii  # one query, plus a reload when DuckDB must fold an address


def test_a_batch_of_ascii_identifies_is_one_query(store: Store) -> None:
    batch: list[Identify] = [(None, e, {"email": e.strip(), "job_title": "CEO"}) for e in EMAILS if e.isascii()]
    batch += [("zz", None, {"email": "late@x.io"}), (None, "LATE@x.io", {}), (None, "new@x.io", {})]
    ids, after, lookups = _run(store, batch, batched=True)
    assert lookups == 1
    assert (ids, after) == _run(store, batch, batched=False)[:2]
    assert ids[:2] == ["a1", "a1"] and ids[-2] == "zz"  # min id; an address the batch itself just set


def test_one_identify_is_unchanged(store: Store) -> None:
    store.con.execute("BEGIN TRANSACTION")
    try:
        store.con.executemany("INSERT INTO contacts (contact_id, email) VALUES (?, ?)", [list(r) for r in STORED])
        for user_id in USER_IDS:
            for email in EMAILS:
                assert contact_for(store, user_id, email) == _reference_contact_for(store, user_id, email)
    finally:
        store.con.execute("ROLLBACK")


def test_segment_batch_of_known_and_new_emails(api: Api) -> None:
    fresh, other, bob = (email_contact_id(e) for e in ("fresh@new.io", "other@new.io", "bob@gmail.com"))
    batch = {"batch": [
        {"type": "identify", "messageId": "ib-1", "traits": {"email": "ANN@acme.com", "firstName": "Ann"}},
        {"type": "identify", "messageId": "ib-2", "traits": {"email": "fresh@new.io", "title": "CTO"}},
        {"type": "identify", "messageId": "ib-3", "traits": {"email": " Fresh@New.IO", "firstName": "Fay"}},
        {"type": "track", "messageId": "ib-4", "event": "Demo Requested",
         "context": {"traits": {"email": "FRESH@new.io"}}},
        {"type": "track", "messageId": "ib-5", "event": "Demo Requested", "properties": {"email": "fresh@NEW.io"}},
        # an address set by an identify with a userId: a later identify by e-mail finds that contact
        {"type": "identify", "messageId": "ib-6", "userId": "ib-user", "traits": {"email": "other@new.io"}},
        {"type": "identify", "messageId": "ib-7", "traits": {"email": "Other@New.io", "lastName": "Oh"}},
        # c2 moves to another address: its old one is free again, so a new contact gets it
        {"type": "identify", "messageId": "ib-8", "userId": "c2", "traits": {"email": "bob2@gmail.com"}},
        {"type": "identify", "messageId": "ib-9", "traits": {"email": "BOB@gmail.com", "firstName": "Bo"}},
    ]}
    r = api.client().post("/v1/segment", json=batch)
    assert r.status_code == 200, r.text
    assert r.json()["identified"] == 7 and r.json()["accepted"] == 2
    rows = api.store.con.execute(
        "SELECT contact_id, email, first_name, last_name, job_title FROM contacts WHERE contact_id IN "
        "(?, ?, ?, ?, ?, ?) ORDER BY 1", ["c1", "c2", fresh, other, bob, "ib-user"]).fetchall()
    assert rows == sorted([
        ("c1", "ANN@acme.com", "Ann", None, "CEO"),
        ("c2", "bob2@gmail.com", "C2", None, "Engineer"),
        (fresh, " Fresh@New.IO", "Fay", None, "CTO"),  # traits are stored as sent
        ("ib-user", "Other@New.io", None, "Oh", None),
        (bob, "BOB@gmail.com", "Bo", None, None),
    ])
    assert api.count("SELECT count(*) FROM contacts WHERE contact_id = ?", [other]) == 0
    events = api.store.con.execute("SELECT event_id, contact_id FROM events WHERE event_id LIKE 'ib-%' ORDER BY 1")
    assert events.fetchall() == [("ib-4", fresh), ("ib-5", fresh)]
