"""A ten-contact world whose backtest figures are worked out by hand below.

Model ``tiny`` (no decay, no caps): exec (job_title = CEO) +10, demo (any demo_request) +15,
spam (any email_open) -5; tiers low ≥ 0, mid ≥ 10, high ≥ 20. As of T = 2025-06-01, horizon 30
days: converted = a won deal closed in [2025-06-01, 2025-07-01).

| id | CEO | visible events (≤ T)  | score | tier | deals                                  | converted       |
|----|-----|-----------------------|-------|------|----------------------------------------|-----------------|
| a  | yes | demo 05-10            | 25    | high | won 06-10 (1000), won 06-20 (500)      | yes, 9 d, 1500  |
| b  | yes | —                     | 10    | mid  | won 07-15: after the horizon           | no              |
| c  | no  | demo 05-20            | 15    | mid  | won 06-21 (3000)                       | yes, 20 d, 3000 |
| d  | no  | (demo 06-05: after T) | 0     | low  | won 06-15 (500)                        | yes, 14 d, 500  |
| e  | no  | email_open 05-01      | -5    | low  | —                                      | no              |
| f  | yes | email_open 05-02      | 5     | low  | lost 06-10                             | no              |
| g  | yes | demo 05-01            | 25    | high | won 05-20: converted before T          | not in the population |
| h  | yes | —                     |       |      | (created 06-15, after T)               | not in the population |
| i  | no  | — (created_at NULL)   | 0     | low  | —                                      | no              |
| j  | yes | demo 05-25            | 25    | high | won 07-01 (= T + 30 d: excluded), open | no              |

Population 8, converters 3 (a, c, d), base rate 3/8.
Tiers: high {a, j} 1/2; mid {b, c} 1/2; low {d, e, f, i} 1/4 → ordered (weakly); missed = 1 (d).
Avg days to close: high 9, mid 20, low 14; avg deal value: high 1500, mid 3000, low 500.
AUC: positives {25, 15, 0} vs negatives {25, 10, 5, 0, -5}: 25 → 4.5, 15 → 4, 0 → 1.5 of 5 each,
so 10/15 = 2/3.
Top 10%: k = ceil(0.8) = 1; the cut is inside the tie {a, j} at 25 → 0.5 converters expected,
precision 0.5, lift 0.5 / 0.375 = 4/3, capture 0.5/3 = 1/6. Top 20%: k = 2 = both at 25 → 1
converter, precision 0.5, lift 4/3, capture 1/3.
Rules: exec fires on {a, b, f, j}: 4/8, converts 1/4 vs 2/4 without, lift 0.25/0.375 = 2/3;
demo on {a, c, j}: 3/8, converts 2/3 vs 1/5, lift (2/3)/0.375 = 16/9;
spam on {e, f}: 2/8, converts 0 vs 3/6, lift 0.
Thresholds (score ≥ t: precision): 25 → 1/2, 15 → 2/3, 10 → 2/4, 5 → 2/5, 0 → 3/7, -5 → 3/8.
"""

from __future__ import annotations

from datetime import datetime

from leadscore.workspace import Workspace

T = datetime(2025, 6, 1)

TINY_MODEL = """\
version: 1
name: tiny
tiers: {low: 0, mid: 10, high: 20}
groups:
  fit:
    rules:
      - {name: exec, when: {property: job_title, equals: CEO}, points: 10}
  engagement:
    rules:
      - {name: demo, when: {event: demo_request}, points: 15}
      - {name: spam, when: {event: email_open}, points: -5}
"""

JAN = datetime(2025, 1, 1)
CONTACTS = [  # contact_id, job_title, created_at
    ("a", "CEO", JAN), ("b", "CEO", JAN), ("c", "Engineer", JAN), ("d", "Engineer", JAN),
    ("e", "Engineer", JAN), ("f", "CEO", JAN), ("g", "CEO", JAN), ("h", "CEO", datetime(2025, 6, 15)),
    ("i", None, None), ("j", "CEO", JAN),
]
EVENTS = [  # event_id, contact_id, type, occurred_at
    ("e1", "a", "demo_request", datetime(2025, 5, 10)),
    ("e2", "c", "demo_request", datetime(2025, 5, 20)),
    ("e3", "d", "demo_request", datetime(2025, 6, 5)),
    ("e4", "e", "email_open", datetime(2025, 5, 1)),
    ("e5", "f", "email_open", datetime(2025, 5, 2)),
    ("e6", "g", "demo_request", datetime(2025, 5, 1)),
    ("e7", "j", "demo_request", datetime(2025, 5, 25)),
]
DEALS = [  # deal_id, contact_id, status, amount, closed_at
    ("d1", "a", "won", 1000.0, datetime(2025, 6, 10)),
    ("d2", "a", "won", 500.0, datetime(2025, 6, 20)),
    ("d3", "b", "won", 9999.0, datetime(2025, 7, 15)),
    ("d4", "c", "won", 3000.0, datetime(2025, 6, 21)),
    ("d5", "d", "won", 500.0, datetime(2025, 6, 15)),
    ("d6", "f", "lost", 700.0, datetime(2025, 6, 10)),
    ("d7", "g", "won", 800.0, datetime(2025, 5, 20)),
    ("d8", "j", "won", 600.0, datetime(2025, 7, 1)),
    ("d9", "j", "open", 100.0, None),
]

POPULATION = {"a", "b", "c", "d", "e", "f", "i", "j"}
CONVERTED = {"a", "c", "d"}
SCORES = {"a": 25.0, "b": 10.0, "c": 15.0, "d": 0.0, "e": -5.0, "f": 5.0, "i": 0.0, "j": 25.0}


def fill_tiny(ws: Workspace) -> None:
    """Write the table above into the workspace's store and the model into models/tiny.yml."""
    (ws.models_dir / "tiny.yml").write_text(TINY_MODEL)
    with ws.open_store() as store, store.transaction() as con:
        for cid, title, created in CONTACTS:
            con.execute("INSERT INTO contacts (contact_id, job_title, created_at) VALUES (?, ?, ?)",
                        [cid, title, created])
        for eid, cid, etype, at in EVENTS:
            con.execute("INSERT INTO events (event_id, contact_id, type, occurred_at) VALUES (?, ?, ?, ?)",
                        [eid, cid, etype, at])
        for did, cid, status, amount, closed in DEALS:
            con.execute("INSERT INTO deals (deal_id, contact_id, status, amount, created_at, closed_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", [did, cid, status, amount, JAN, closed])
