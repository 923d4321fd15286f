"""A small, hand-checkable data set and model shared by engine and CLI tests."""

from __future__ import annotations

from datetime import datetime

from leadscore.workspace import Workspace

AS_OF = datetime(2025, 6, 1)

SMALL_MODEL = """\
version: 1
name: small
tiers: {cold: 0, nurture: 20, sql: 40}
groups:
  fit:
    cap: 30
    rules:
      - {name: exec, when: {property: job_title, in: [CEO, VP Sales]}, points: 20}
      - {name: big company, when: {property: company_size, gte: 100}, points: 15}
      - {name: free mail, when: {property: is_free_email, equals: true}, points: -10}
  engagement:
    cap: 50
    decay: {half_life_days: 30}
    rules:
      - {name: pricing, when: {event: page_view, where: {url: {contains: /pricing}}, within_days: 60}, points: 10}
      - {name: opens, when: {event: email_open}, points_per_event: 2, max: 6}
      - {name: demo, when: {event: demo_request}, points: 25}
      - {name: quiet, when: {no_event_within_days: 90}, points: -5}
"""

CONTACTS = [
    # contact_id, email, job_title, company_size, created_at
    ("c1", "ann@acme.com", "CEO", 500, datetime(2025, 1, 1)),
    ("c2", "bob@gmail.com", "Engineer", 20, datetime(2025, 1, 1)),
    ("c3", "cy@big.io", "VP Sales", 50, datetime(2025, 1, 1)),
    ("c4", None, None, None, None),
    ("c5", "late@new.com", "CEO", 1000, datetime(2025, 7, 1)),  # created after AS_OF
]

EVENTS = [
    # event_id, contact_id, type, occurred_at, url
    ("e1", "c1", "page_view", datetime(2025, 5, 2), "/pricing"),
    ("e2", "c1", "email_open", datetime(2025, 5, 20), None),
    ("e3", "c1", "email_open", datetime(2025, 5, 21), None),
    ("e4", "c1", "demo_request", datetime(2025, 5, 31), None),
    ("e5", "c2", "page_view", datetime(2025, 1, 10), "/blog"),
    ("e6", "c3", "email_open", datetime(2025, 5, 1), None),
    ("e7", "c3", "demo_request", datetime(2025, 7, 1), None),  # after AS_OF: invisible
]


def fill_store(ws: Workspace) -> None:
    with ws.open_store() as store, store.transaction() as con:
        for cid, email, title, size, created in CONTACTS:
            con.execute(
                "INSERT INTO contacts (contact_id, email, first_name, job_title, company_size, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", [cid, email, cid.upper(), title, size, created])
        for eid, cid, etype, at, url in EVENTS:
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at, url) VALUES (?, ?, ?, ?, ?)",
                        [eid, cid, etype, at, url])
