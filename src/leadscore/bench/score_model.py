"""The benchmark's 25-rule model and the hand-written DuckDB query that computes the same scores.

Why a hand-written query: the requirement is that ``leadscore score`` costs at most 1.5× what an
engineer would write by hand for the same model, so the baseline must be written by hand — one
pass over the events with ``FILTER`` aggregates, then plain arithmetic per contact — and not be
produced by the compiler it is compared with. Being independent, it doubles as a differential
check of the compiler: both must agree to 1e-9 (``tests/bench/test_score.py``).

The model exercises what real models use: property rules with ``in``/``contains``/``between``/
``gt``, ``email_domain`` and ``is_free_email``; event rules with ``where`` on the URL and form,
``within_days``, ``at_least`` and ``between`` bands, ``points_per_event`` with ``max``, a group
decay, a rule-level decay and ``decay: false``, inactivity, group caps and floors, a total cap.
"""

from __future__ import annotations

from datetime import datetime

from leadscore.model.properties import free_email_domains

BENCH_MODEL_YAML = """\
version: 1
name: bench
description: 25 rules over fit, engagement (decayed) and risk; the `leadscore bench` model
tiers: {cold: 0, warm: 25, mql: 50, sql: 85}
cap: 100
groups:
  fit:
    cap: 40
    floor: -20
    rules:
      - name: target title
        when: {property: job_title, in: [CEO, CMO, VP Sales, VP Marketing, Head of Marketing]}
        points: 12
      - {name: manager, when: {property: job_title, contains: Manager}, points: 5}
      - {name: student, when: {property: job_title, in: [Student, Intern]}, points: -15}
      - {name: free mail, when: {property: is_free_email, equals: true}, points: -10}
      - {name: university, when: {property: email_domain, ends_with: .edu}, points: -5}
      - {name: mid-market, when: {property: company_size, between: [50, 1000]}, points: 8}
      - {name: enterprise, when: {property: company_size, gt: 1000}, points: 10}
      - {name: target industry, when: {property: industry, in: [SaaS, Fintech]}, points: 6}
  engagement:
    cap: 80
    decay: {half_life_days: 60}
    rules:
      - name: pricing page
        when: {event: page_view, where: {url: {contains: /pricing}}, within_days: 30}
        points: 15
      - name: pricing 3x in 2 weeks
        when: {event: page_view, where: {url: {contains: /pricing}}, within_days: 14, at_least: 3}
        points: 10
      - name: product pages
        when: {event: page_view, where: {url: {starts_with: /product/}}}
        points_per_event: 1
        max: 8
      - name: docs reader
        when: {event: page_view, where: {url: {starts_with: /docs/}}, within_days: 60}
        points_per_event: 0.5
        max: 5
      - name: blog reader
        when: {event: page_view, where: {url: {contains: /blog/}}}
        points_per_event: 0.25
        max: 3
      - {name: email opens, when: {event: email_open}, points_per_event: 1, max: 6}
      - {name: email clicks, when: {event: email_click}, points_per_event: 2, max: 8}
      - name: form submit
        when: {event: form_submit, where: {form: {not_in: [newsletter-signup]}}}
        points: 8
      - {name: download, when: {event: content_download, within_days: 90}, points: 5}
      - {name: webinar, when: {event: webinar_attended}, points: 10, decay: false}
      - {name: demo request, when: {event: demo_request}, points: 25, decay: {half_life_days: 30}}
      - name: 3+ visits this week
        when: {event: page_view, within_days: 7, at_least: 3}
        points: 5
      - {name: busy month, when: {event: page_view, within_days: 30, between: [10, 40]}, points: 4}
      - {name: gone quiet, when: {no_event_within_days: 45}, points: -15}
  risk:
    floor: -40
    rules:
      - {name: unsubscribed, when: {event: unsubscribe}, points: -20}
      - {name: bounced, when: {event: bounce}, points: -25}
      - name: job seeker
        when: {event: page_view, where: {url: {starts_with: /careers}}, within_days: 90, at_least: 2}
        points: -10
"""

#: Group names in model order: the engine's g_0, g_1, g_2.
BENCH_GROUPS = ("fit", "engagement", "risk")


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def HAND_WRITTEN_SQL(as_of: datetime) -> str:  # noqa: N802 - the name the bench contract uses
    """The hand-written DuckDB query for ``BENCH_MODEL_YAML`` as of ``as_of`` (naive UTC).

    Output columns as the compiler's: ``contact_id, score, tier, g_0, g_1, g_2``.
    """
    t = f"TIMESTAMP {_text(as_of.isoformat(sep=' '))}"
    free = ", ".join(_text(d) for d in free_email_domains())
    pv = "type = 'page_view'"
    pricing = f"{pv} AND contains(url, '/pricing')"
    return f"""
WITH e AS (
    SELECT contact_id, type, url, form,
           (epoch_us({t}) - epoch_us(occurred_at)) / 86400000000.0 AS age
    FROM events
    WHERE occurred_at <= {t}
),
a AS (
    SELECT contact_id,
        min(age) FILTER (WHERE {pricing} AND age <= 30)                      AS pricing30_age,
        count(*) FILTER (WHERE {pricing} AND age <= 14)                      AS pricing14_n,
        min(age) FILTER (WHERE {pricing} AND age <= 14)                      AS pricing14_age,
        sum(pow(0.5, age / 60)) FILTER (WHERE {pv} AND starts_with(url, '/product/')) AS product_d,
        sum(pow(0.5, age / 60)) FILTER (WHERE {pv} AND starts_with(url, '/docs/') AND age <= 60) AS docs_d,
        sum(pow(0.5, age / 60)) FILTER (WHERE {pv} AND contains(url, '/blog/')) AS blog_d,
        sum(pow(0.5, age / 60)) FILTER (WHERE type = 'email_open')          AS open_d,
        sum(pow(0.5, age / 60)) FILTER (WHERE type = 'email_click')         AS click_d,
        min(age) FILTER (WHERE type = 'form_submit' AND form <> 'newsletter-signup') AS form_age,
        min(age) FILTER (WHERE type = 'content_download' AND age <= 90)     AS download_age,
        count(*) FILTER (WHERE type = 'webinar_attended')                   AS webinar_n,
        min(age) FILTER (WHERE type = 'demo_request')                       AS demo_age,
        count(*) FILTER (WHERE {pv} AND age <= 7)                            AS pv7_n,
        min(age) FILTER (WHERE {pv} AND age <= 7)                            AS pv7_age,
        count(*) FILTER (WHERE {pv} AND age <= 30)                           AS pv30_n,
        min(age) FILTER (WHERE {pv} AND age <= 30)                           AS pv30_age,
        count(*) FILTER (WHERE age <= 45)                                    AS any45_n,
        count(*) FILTER (WHERE type = 'unsubscribe')                         AS unsub_n,
        count(*) FILTER (WHERE type = 'bounce')                              AS bounce_n,
        count(*) FILTER (WHERE {pv} AND starts_with(url, '/careers') AND age <= 90) AS careers_n
    FROM e
    GROUP BY contact_id
),
c AS (
    SELECT contact_id, job_title, company_size, industry,
           lower(nullif(regexp_extract(email, '@([^@]*)$', 1), '')) AS email_domain
    FROM contacts
    WHERE created_at IS NULL OR created_at <= {t}
),
g AS (
    SELECT c.contact_id,
        greatest(least(
            CASE WHEN job_title IN ('CEO', 'CMO', 'VP Sales', 'VP Marketing', 'Head of Marketing')
                 THEN 12 ELSE 0 END
          + CASE WHEN contains(job_title, 'Manager') THEN 5 ELSE 0 END
          + CASE WHEN job_title IN ('Student', 'Intern') THEN -15 ELSE 0 END
          + CASE WHEN email_domain IN ({free}) THEN -10 ELSE 0 END
          + CASE WHEN ends_with(email_domain, '.edu') THEN -5 ELSE 0 END
          + CASE WHEN company_size BETWEEN 50 AND 1000 THEN 8 ELSE 0 END
          + CASE WHEN company_size > 1000 THEN 10 ELSE 0 END
          + CASE WHEN industry IN ('SaaS', 'Fintech') THEN 6 ELSE 0 END,
        40), -20)::DOUBLE AS fit,
        least(
            coalesce(15 * pow(0.5, pricing30_age / 60), 0)
          + CASE WHEN pricing14_n >= 3 THEN 10 * pow(0.5, pricing14_age / 60) ELSE 0 END
          + least(coalesce(product_d, 0), 8)
          + least(coalesce(0.5 * docs_d, 0), 5)
          + least(coalesce(0.25 * blog_d, 0), 3)
          + least(coalesce(open_d, 0), 6)
          + least(coalesce(2 * click_d, 0), 8)
          + coalesce(8 * pow(0.5, form_age / 60), 0)
          + coalesce(5 * pow(0.5, download_age / 60), 0)
          + CASE WHEN webinar_n >= 1 THEN 10 ELSE 0 END
          + coalesce(25 * pow(0.5, demo_age / 30), 0)
          + CASE WHEN pv7_n >= 3 THEN 5 * pow(0.5, pv7_age / 60) ELSE 0 END
          + CASE WHEN pv30_n BETWEEN 10 AND 40 THEN 4 * pow(0.5, pv30_age / 60) ELSE 0 END
          + CASE WHEN coalesce(any45_n, 0) = 0 THEN -15 ELSE 0 END,
        80) AS engagement,
        greatest(
            CASE WHEN unsub_n >= 1 THEN -20 ELSE 0 END
          + CASE WHEN bounce_n >= 1 THEN -25 ELSE 0 END
          + CASE WHEN careers_n >= 2 THEN -10 ELSE 0 END,
        -40)::DOUBLE AS risk
    FROM c LEFT JOIN a ON a.contact_id = c.contact_id
)
SELECT contact_id, total AS score,
       CASE WHEN total >= 85 THEN 'sql' WHEN total >= 50 THEN 'mql' WHEN total >= 25 THEN 'warm'
            ELSE 'cold' END AS tier,
       fit AS g_0, engagement AS g_1, risk AS g_2
FROM (SELECT *, least(fit + engagement + risk, 100) AS total FROM g)
"""
