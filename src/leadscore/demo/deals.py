"""Deals of the synthetic world: who buys, when, for how much — and the lifecycle stage that follows.

Why deals come from the event plan rather than from the events: the plan already knows each
contact's fit, intent, event count and active span, which is all a deal needs, so deals stay
consistent with activity without materialising millions of events first.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.demo.events import DAY, EventPlan

#: Expected share of contacts with a deal.
DEAL_RATE = 0.10
#: Median length of a sales cycle, deal created to closed (lognormal).
CYCLE_MEDIAN_DAYS = 40
PLANS = ("Team plan", "Business plan", "Enterprise plan")
PIPELINES = ("new business", "expansion")
STAGES = ("subscriber", "lead", "marketingqualifiedlead", "opportunity", "customer")


def make_deals(rng: np.random.Generator, plan: EventPlan, *, contact_ids: pa.Array, fit: np.ndarray,
               quiet: np.ndarray, in_market: np.ndarray, created: np.ndarray, size: np.ndarray,
               company: pa.Array
               ) -> tuple[pa.Table, pa.Array]:
    """Draw deals and each contact's lifecycle stage as of ``plan.end_s``.

    A deal is likelier for contacts with fit, intent and many events, most of all in a buying
    burst; it is created during the burst (or soon after creation for contacts without events)
    and closes a sales cycle later (lognormal, median ~40 days). Whether it is won depends
    on what was true before it: fit, intent and engagement, with noise. Nothing happens after
    ``plan.end_s``: a deal whose cycle would end later is still ``open`` there.
    """
    n = len(fit)
    intent, counts = plan.intent, plan.counts
    engagement = np.log1p(counts) * np.where(quiet, 0.4, 1.0) * np.where(in_market, 2.0, 1.0)
    weight = (0.15 + fit) ** 2 * (0.05 + intent ** 2) * (0.2 + engagement)
    p_deal = np.minimum(0.9, DEAL_RATE * n * weight / weight.sum())
    owner = np.flatnonzero(rng.random(n) < p_deal)
    k = len(owner)

    first, peak = plan.first_s[owner], plan.peak_s[owner]
    active = counts[owner] > 0
    during = np.maximum(peak - (rng.random(k) * 10 * DAY).astype(np.int64), first)
    after_signup = np.minimum(created[owner] + (rng.random(k) * 60 * DAY).astype(np.int64), plan.end_s)
    deal_created = np.where(active, during, np.maximum(after_signup, created[owner]))
    cycle = (rng.lognormal(np.log(CYCLE_MEDIAN_DAYS), 0.5, k) * DAY).astype(np.int64)
    closed = deal_created + np.maximum(cycle, DAY)
    # Engagement before the deal: the burst (its share of the events) and the contact's pace.
    before = counts[owner] * np.clip((peak - first) / np.maximum(plan.last_s[owner] - first, 1), 0, 1)
    engaged = np.log1p(before * (1 - plan.recent_share[owner]) + plan.recent_share[owner] * counts[owner])
    logit = (-3.0 + 3.0 * (fit[owner] - 0.55) + 2.5 * (intent[owner] - 0.5) + 0.35 * engaged
             + 0.5 * in_market[owner] + rng.normal(0.0, 0.8, k))
    won = rng.random(k) < 1.0 / (1.0 + np.exp(-logit))
    is_open = closed > plan.end_s
    status = np.where(is_open, 0, np.where(won, 1, 2))
    amount = np.round(2000.0 * size[owner] ** 0.35 * rng.lognormal(0.0, 0.5, k), -1)
    plan_name = np.select([size[owner] >= 1000, size[owner] >= 50], [2, 1], 0)

    deal_ids = pc.binary_join_element_wise(
        "d", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, k + 1)), pa.string()),
                          width=max(6, len(str(k))), padding="0"), "")
    deals = pa.table({
        "deal_id": deal_ids,
        "contact_id": contact_ids.take(pa.array(owner)),
        "status": pa.array(["open", "won", "lost"], pa.string()).take(pa.array(status)),
        "amount": pa.array(amount, pa.float64()),
        "created_at": pa.array(deal_created.astype("datetime64[s]").astype("datetime64[us]")),
        "closed_at": pa.array(closed.astype("datetime64[s]").astype("datetime64[us]"), mask=is_open),
        "name": pc.binary_join_element_wise(
            company.take(pa.array(owner)), pa.array(PLANS, pa.string()).take(pa.array(plan_name)), " — "),
        "pipeline": pa.array(PIPELINES, pa.string()).take(pa.array((rng.random(k) < 0.15).astype(np.int8))),
    })

    # Lifecycle stage as a CRM would show it at the end of the window.
    stage = np.where(rng.random(n) < 0.35, 0, 1)
    stage = np.where((intent > 0.6) & ~quiet & (counts > 0), 2, stage)
    has_deal = np.zeros(n, dtype=bool)
    has_deal[owner] = True
    stage = np.where(has_deal, 3, stage)
    customer = np.zeros(n, dtype=bool)
    customer[owner[status == 1]] = True
    stage = np.where(customer, 4, stage)
    return deals, pa.array(STAGES, pa.string()).take(pa.array(stage))
