"""Compiled SQL vs a hand-written DuckDB query for the same 25-rule model, on synthetic data.

Not collected by pytest (no ``test_`` prefix): run it by hand when the query shape changes::

    .venv/bin/python tests/compiler/bench_vs_handwritten.py --contacts 200000 --events 4000000

The target is compiled ≤ 1.5 × hand-written. Both queries are checked to give the same scores.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime

import duckdb

from leadscore.compiler import render_sql
from leadscore.model.loader import parse_model
from leadscore.storage.store import Store

AS_OF = datetime(2025, 1, 1)

MODEL = """
name: bench
tiers: {cold: 0, nurture: 30, sql: 60}
groups:
  fit:
    cap: 50
    rules:
      - {name: r01, when: {property: job_title, in: [CEO, CMO, VP Sales]}, points: 10}
      - {name: r02, when: {property: job_title, contains: Director}, points: 5}
      - {name: r03, when: {property: email_domain, in: [gmail.com, hotmail.com]}, points: -10}
      - {name: r04, when: {property: is_free_email, equals: true}, points: -5}
      - {name: r05, when: {property: company_size, between: [50, 1000]}, points: 5}
      - {name: r06, when: {property: company_size, gt: 1000}, points: 8}
      - {name: r07, when: {property: industry, in: [SaaS, Software]}, points: 5}
      - {name: r08, when: {property: country, in: [US, GB, DE]}, points: 3}
      - {name: r09, when: {property: lifecycle_stage, equals: customer}, points: -20}
      - {name: r10, when: {property: created_at, within_days: 30}, points: 2}
  engagement:
    cap: 100
    decay: {half_life_days: 90}
    rules:
      - {name: r11, when: {event: page_view, where: {url: {contains: /pricing}}, within_days: 30}, points: 15}
      - {name: r12, when: {event: email_open}, points_per_event: 2, max: 10}
      - {name: r13, when: {event: email_click}, points_per_event: 3, max: 15,
         decay: {percent_per_month: 20}}
      - {name: r14, when: {event: demo_request}, points: 20}
      - {name: r15, when: {event: page_view, within_days: 7, at_least: 3}, points: 5}
      - {name: r16, when: {event: webinar_attended, within_days: 90}, points: 10}
      - {name: r17, when: {event: form_submit, where: {form: contact}}, points: 10}
      - {name: r18, when: {event: content_download, within_days: 60, at_least: 2}, points: 5}
      - {name: r19, when: {event: page_view, where: {url: {starts_with: /docs}}}, points: 3}
      - {name: r20, when: {event: trial_signup}, points: 15}
      - {name: r21, when: {no_event_within_days: 30}, points: -20}
      - {name: r22, when: {event: unsubscribe}, points: -15, decay: false}
      - {name: r23, when: {event: bounce}, points: -10}
      - {name: r24, when: {event: [email_reply, meeting_booked]}, points: 10}
      - {name: r25, when: {all: [{event: demo_request, within_days: 30}, {not: {event: unsubscribe}}]},
         points: 5}
"""

# What an engineer would write by hand for MODEL: one scan, one GROUP BY, arithmetic on top.
HANDWRITTEN = """
WITH ev AS (
  SELECT contact_id, type, url, form,
         (1735689600000000 - epoch_us(occurred_at)) / 86400000000.0 AS age
  FROM events WHERE occurred_at <= TIMESTAMP '2025-01-01 00:00:00'
), agg AS (
  SELECT contact_id,
    min(age) FILTER (type = 'page_view' AND contains(url, '/pricing') AND age <= 30) AS a11,
    count(*) FILTER (type = 'email_open') AS n12,
    sum(power(0.5, age / 90)) FILTER (type = 'email_open') AS s12,
    count(*) FILTER (type = 'email_click') AS n13,
    sum(greatest(0, 1 - 0.2 * age / 30)) FILTER (type = 'email_click') AS s13,
    min(age) FILTER (type = 'demo_request') AS a14,
    count(*) FILTER (type = 'page_view' AND age <= 7) AS n15,
    min(age) FILTER (type = 'page_view' AND age <= 7) AS a15,
    min(age) FILTER (type = 'webinar_attended' AND age <= 90) AS a16,
    min(age) FILTER (type = 'form_submit' AND form = 'contact') AS a17,
    count(*) FILTER (type = 'content_download' AND age <= 60) AS n18,
    min(age) FILTER (type = 'content_download' AND age <= 60) AS a18,
    min(age) FILTER (type = 'page_view' AND starts_with(url, '/docs')) AS a19,
    min(age) FILTER (type = 'trial_signup') AS a20,
    min(age) AS a21,
    min(age) FILTER (type = 'unsubscribe') AS a22,
    min(age) FILTER (type = 'bounce') AS a23,
    min(age) FILTER (type IN ('email_reply', 'meeting_booked')) AS a24,
    min(age) FILTER (type = 'demo_request' AND age <= 30) AS a25
  FROM ev GROUP BY contact_id
), s AS (
  SELECT c.contact_id,
    least(
      CASE WHEN job_title IN ('CEO', 'CMO', 'VP Sales') THEN 10 ELSE 0 END
      + CASE WHEN contains(job_title, 'Director') THEN 5 ELSE 0 END
      + CASE WHEN lower(split_part(email, '@', -1)) IN ('gmail.com', 'hotmail.com') THEN -10 ELSE 0 END
      + CASE WHEN lower(split_part(email, '@', -1)) IN ({free}) THEN -5 ELSE 0 END
      + CASE WHEN company_size BETWEEN 50 AND 1000 THEN 5 ELSE 0 END
      + CASE WHEN company_size > 1000 THEN 8 ELSE 0 END
      + CASE WHEN industry IN ('SaaS', 'Software') THEN 5 ELSE 0 END
      + CASE WHEN country IN ('US', 'GB', 'DE') THEN 3 ELSE 0 END
      + CASE WHEN lifecycle_stage = 'customer' THEN -20 ELSE 0 END
      + CASE WHEN created_at >= TIMESTAMP '2024-12-02 00:00:00' THEN 2 ELSE 0 END, 50)::DOUBLE AS fit,
    least(
      coalesce(15 * power(0.5, a11 / 90), 0)
      + least(2 * coalesce(s12, 0), 10)
      + least(3 * coalesce(s13, 0), 15)
      + coalesce(20 * power(0.5, a14 / 90), 0)
      + CASE WHEN n15 >= 3 THEN 5 * power(0.5, a15 / 90) ELSE 0 END
      + coalesce(10 * power(0.5, a16 / 90), 0)
      + coalesce(10 * power(0.5, a17 / 90), 0)
      + CASE WHEN n18 >= 2 THEN 5 * power(0.5, a18 / 90) ELSE 0 END
      + coalesce(3 * power(0.5, a19 / 90), 0)
      + coalesce(15 * power(0.5, a20 / 90), 0)
      + CASE WHEN a21 IS NULL OR a21 > 30 THEN -20 ELSE 0 END
      + CASE WHEN a22 IS NOT NULL THEN -15 ELSE 0 END
      + coalesce(-10 * power(0.5, a23 / 90), 0)
      + coalesce(10 * power(0.5, a24 / 90), 0)
      + CASE WHEN a25 IS NOT NULL AND a22 IS NULL THEN 5 * power(0.5, a25 / 90) ELSE 0 END, 100)
      AS engagement
  FROM contacts c LEFT JOIN agg USING (contact_id)
  WHERE c.created_at IS NULL OR c.created_at <= TIMESTAMP '2025-01-01 00:00:00'
)
SELECT contact_id, fit + engagement AS score,
  CASE WHEN fit + engagement >= 60 THEN 'sql' WHEN fit + engagement >= 30 THEN 'nurture' ELSE 'cold' END
    AS tier, fit, engagement
FROM s
"""


def generate(con: duckdb.DuckDBPyConnection, contacts: int, events: int) -> None:
    """Synthetic contacts and events, generated inside DuckDB (seconds for millions of rows)."""
    con.execute(f"""
        INSERT INTO contacts (contact_id, email, job_title, company_size, industry, country,
                              lifecycle_stage, created_at)
        SELECT 'c' || i,
               'p' || i || '@' || ['gmail.com', 'acme.com', 'Hotmail.com', 'corp.io', 'yahoo.com'][1 + i % 5],
               ['CEO', 'CMO', 'VP Sales', 'Director of IT', 'Engineer', NULL][1 + (i * 7) % 6],
               CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 37) % 5000 END,
               ['SaaS', 'Software', 'Retail', 'Health'][1 + (i * 3) % 4],
               ['US', 'GB', 'DE', 'FR', 'IN'][1 + (i * 13) % 5],
               ['lead', 'mql', 'customer'][1 + (i * 17) % 3],
               TIMESTAMP '2025-01-10' - INTERVAL (i % 400) DAY
        FROM range({contacts}) t(i)
    """)
    con.execute(f"""
        INSERT INTO events (event_id, contact_id, type, occurred_at, url, form)
        SELECT 'e' || i, 'c' || ((hash(i) % 1000000007)::BIGINT % {contacts}),
               ['page_view', 'page_view', 'page_view', 'email_open', 'email_open', 'email_click',
                'form_submit', 'demo_request', 'webinar_attended', 'content_download',
                'trial_signup', 'unsubscribe', 'bounce', 'email_reply', 'meeting_booked',
                'chat'][1 + (hash(i * 3) % 16)::BIGINT],
               TIMESTAMP '2025-01-05' - to_microseconds((hash(i * 5) % 34560000000000)::BIGINT),
               ['/pricing', '/docs/start', '/blog/x', '/', '/pricing/enterprise']
                 [1 + (hash(i * 7) % 5)::BIGINT],
               ['contact', 'newsletter', NULL][1 + (hash(i * 11) % 3)::BIGINT]
        FROM range({events}) t(i)
    """)


def run(con: duckdb.DuckDBPyConnection, sql: str, table: str) -> float:
    start = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
    return time.perf_counter() - start


def compare(con: duckdb.DuckDBPyConnection, hand: str, compiled: str, repeat: int) -> dict[str, list[float]]:
    """Alternate the two queries (so load from other processes hits both alike); seconds per run."""
    times: dict[str, list[float]] = {"hand": [], "compiled": []}
    for _ in range(repeat):
        times["hand"].append(run(con, hand, "hand_result"))
        times["compiled"].append(run(con, compiled, "compiled_result"))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=4_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--show-sql", action="store_true")
    args = parser.parse_args()

    from leadscore.model.properties import free_email_domains

    store = Store.open(":memory:")
    start = time.perf_counter()
    generate(store.con, args.contacts, args.events)
    print(f"generated {args.contacts:,} contacts / {args.events:,} events in "
          f"{time.perf_counter() - start:.1f}s")
    model = parse_model(MODEL).model
    t0 = time.perf_counter()
    compiled = render_sql(model, as_of=AS_OF)
    compile_ms = (time.perf_counter() - t0) * 1000
    if args.show_sql:
        print(compiled)
    hand = HANDWRITTEN.format(free=", ".join(f"'{d}'" for d in free_email_domains()))
    times = compare(store.con, hand, compiled, args.repeat)
    worst, tiers_differ = store.con.execute(
        "SELECT max(abs(h.score - c.score)), count(*) FILTER (h.tier <> c.tier) "
        "FROM hand_result h FULL JOIN compiled_result c USING (contact_id)").fetchone() or (None, None)
    print(f"compile: {compile_ms:.1f} ms")
    for stat in (min, statistics.median):
        hand_s, comp_s = stat(times["hand"]), stat(times["compiled"])
        print(f"{stat.__name__:>6}: hand-written {hand_s:.3f} s, compiled {comp_s:.3f} s, "
              f"ratio {comp_s / hand_s:.2f}x")
    print(f"max |score difference| {worst:.2e}, contacts with another tier: {tiers_differ}")
    one = store.con.execute("SELECT min(contact_id) FROM contacts").fetchone()
    one_sql = render_sql(model, as_of=AS_OF, contact_id=one[0] if one else "c0")
    one_s = min(run(store.con, one_sql, "one_result") for _ in range(args.repeat))
    print(f"one contact (compiled, contact_id=...): {one_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
