"""Events of the synthetic world, drawn in chunks of about a million from a per-contact plan.

Why a plan: everything that shapes a contact's events (how many, the span they fall in, how keen
the contact is) is fixed per contact first, so deals can be made consistent with the activity
without materialising 20M events, and the events themselves can be produced chunk by chunk with a
bounded amount of memory. Each chunk has its own random stream derived from (seed, chunk number)
and chunk boundaries depend only on the per-contact counts, so the data is the same whether it is
streamed into a store, written to Parquet or collected into one table.

Everything is vectorised over events: the only Python loops run over event types and columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore.demo import vocab

#: Target number of events per chunk (a chunk ends at a contact boundary).
CHUNK_EVENTS = 1_000_000
DAY = 86_400
#: Mean days between a burst event and the burst's peak (exponential).
BURST_DAYS = 12
#: Events this many days before a peak are "fresh": pricing pages, demo requests, opens.
FRESH_DAYS = 21

#: Event types in dictionary order: an event's type code is its index here.
EVENT_TYPES = ("page_view", "email_open", "email_click", "form_submit", "content_download",
               "webinar_attended", "demo_request", "unsubscribe", "bounce")
PAGE_VIEW, OPEN, CLICK, SUBMIT, DOWNLOAD, WEBINAR, DEMO, UNSUBSCRIBE, BOUNCE = range(len(EVENT_TYPES))
SOURCES = ("web", "email", "forms", "webinar")
_SOURCE_OF_TYPE = np.array([0, 1, 1, 2, 2, 3, 2, 1, 1], dtype=np.int8)

_SECTIONS = tuple(vocab.PAGES)
_PAGE_LIST = tuple(url for section in _SECTIONS for url in vocab.PAGES[section])
_SECTION_START = np.cumsum([0] + [len(vocab.PAGES[s]) for s in _SECTIONS])[:-1]
_SECTION_LEN = np.array([len(vocab.PAGES[s]) for s in _SECTIONS])
_RESOURCES = tuple(f"/resources/{name}.pdf" for name in vocab.DOWNLOADS)
URLS = _PAGE_LIST + _RESOURCES + ("/demo",)
FORMS = vocab.FORMS + vocab.DOWNLOADS + ("demo-request",)

#: The events table's columns, as the store (storage/schema.py) and the importer expect them.
EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("contact_id", pa.string()), ("type", pa.string()),
    ("occurred_at", pa.timestamp("us")), ("url", pa.string()), ("referrer", pa.string()),
    ("campaign", pa.string()), ("form", pa.string()), ("email_subject", pa.string()),
    ("source", pa.string()),
])
_DICT = pa.dictionary(pa.int32(), pa.string())
#: The same columns as generated: repeated strings dictionary-encoded (DuckDB reads these directly).
RAW_EVENTS_SCHEMA = pa.schema([
    pa.field(f.name, _DICT if f.name not in ("event_id", "occurred_at") else f.type)
    for f in EVENTS_SCHEMA
])


@dataclass(frozen=True)
class EventPlan:
    """Per-contact facts that fix each contact's events before any event is drawn.

    Times are integer seconds since the epoch. A contact's events fall in ``[first_s, last_s]``;
    ``recent_share`` of them cluster in the few weeks before ``peak_s`` (the buying burst, which
    may be anywhere in the span), the rest spread evenly. ``last_s`` is before ``end_s`` for
    contacts that went quiet. ``demo`` marks contacts who ask for a demo: one of their burst's
    events becomes a ``demo_request`` (a contact-level decision, because people ask for a demo
    once, not at a rate per page view).
    """

    seed: int
    contact_ids: pa.Array
    counts: np.ndarray
    first_s: np.ndarray
    last_s: np.ndarray
    peak_s: np.ndarray
    intent: np.ndarray
    recent_share: np.ndarray
    demo: np.ndarray
    start_s: int
    end_s: int

    @property
    def n_events(self) -> int:
        return int(self.counts.sum())

    def chunk_bounds(self) -> list[tuple[int, int]]:
        """Contact ranges ``[lo, hi)`` of about CHUNK_EVENTS events each."""
        cum = np.cumsum(self.counts)
        total = int(cum[-1]) if len(cum) else 0
        cuts = np.searchsorted(cum, np.arange(CHUNK_EVENTS, total, CHUNK_EVENTS), side="right")
        edges = np.unique(np.concatenate([[0], cuts, [len(self.counts)]]))
        return [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every event, chunk by chunk, ordered by contact then time; ids are global.

        Batches have ``RAW_EVENTS_SCHEMA`` (dictionary-encoded strings); ``batch.cast(EVENTS_SCHEMA)``
        gives plain strings.
        """
        first_number = 0
        for number, (lo, hi) in enumerate(self.chunk_bounds()):
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, 7, number]))
            batch = _event_chunk(self, lo, hi, first_number, rng)
            first_number += batch.num_rows
            if batch.num_rows:
                yield batch


def _dictionary(indices: np.ndarray, values: tuple[str, ...] | pa.Array) -> pa.Array:
    """Strings as indices into a vocabulary (-1 is NULL): no string is copied per event."""
    dictionary = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(indices, mask=indices < 0), dictionary)


def _pick(u: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    """Category per element from per-element probabilities (the last category takes the rest)."""
    out = np.full(len(u), len(probs), dtype=np.int8)
    acc = np.zeros(len(u))
    for k, p in enumerate(probs):
        hit = (u >= acc) & (u < acc + p)
        out[hit] = k
        acc = acc + p
    return out


def _times(plan: EventPlan, owner: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    first, last = plan.first_s[owner], plan.last_s[owner]
    spread = first + (rng.random(len(owner)) * (last - first)).astype(np.int64)
    burst = plan.peak_s[owner] - rng.exponential(BURST_DAYS * DAY, len(owner)).astype(np.int64)
    recent = rng.random(len(owner)) < plan.recent_share[owner]
    return np.where(recent, np.maximum(burst, first), spread)


def _types(intent: np.ndarray, fresh: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Event type per event: demo requests from keen contacts in a burst, unsubscribes from the cold."""
    cold = 1.0 - intent
    probs = [
        0.160 + 0.060 * intent + 0.080 * intent * fresh,   # email_open
        0.060 + 0.040 * intent,                            # email_click
        0.030 + 0.030 * intent,                            # form_submit
        0.020 + 0.030 * intent,                            # content_download
        0.006 + 0.020 * intent,                            # webinar_attended
        0.004 * intent ** 4 * fresh,                       # demo_request (again)
        0.120 * cold ** 3,                                 # unsubscribe
        0.002 + 0.004 * cold,                              # bounce
    ]
    picked = _pick(u, probs)
    # _pick numbers the listed types 0..7 and the rest 8: shift so page_view is 0.
    return np.where(picked == len(probs), 0, picked + 1).astype(np.int8)


def _page_urls(intent: np.ndarray, fresh: np.ndarray, u_section: np.ndarray, u_page: np.ndarray
               ) -> np.ndarray:
    """URL index of each page view: keen contacts read pricing, cold ones the blog and careers."""
    probs = {
        "home": 0.16 * np.ones_like(intent),
        "pricing": 0.015 + 0.06 * intent + 0.35 * intent ** 2 * fresh,
        "product": 0.08 + 0.10 * intent,
        "docs": 0.05 + 0.06 * intent,
        "customers": 0.02 + 0.04 * intent,
        "company": 0.04 * np.ones_like(intent),
        "careers": 0.06 * (1.0 - intent) ** 2,
    }
    order = [s for s in _SECTIONS if s != "blog"]
    picked = _pick(u_section, [probs[s] for s in order])
    section = np.array([_SECTIONS.index(s) for s in order] + [_SECTIONS.index("blog")])[picked]
    return (_SECTION_START[section] + (u_page * _SECTION_LEN[section]).astype(np.int64)).astype(np.int32)


def _event_chunk(plan: EventPlan, lo: int, hi: int, first_number: int, rng: np.random.Generator
                 ) -> pa.RecordBatch:
    """The events of contacts ``[lo, hi)``, numbered from ``first_number + 1``."""
    owner = np.repeat(np.arange(lo, hi), plan.counts[lo:hi])
    n = len(owner)
    t = _times(plan, owner, rng)
    key = (owner - lo) * (1 << 34) + (t - plan.start_s)
    order = np.argsort(key)
    t, key = t[order], key[order]  # by contact, then time
    intent = plan.intent[owner]
    to_peak = plan.peak_s[owner] - t
    fresh = (to_peak >= 0) & (to_peak < FRESH_DAYS * DAY)
    etype = _types(intent, fresh, rng.random(n))
    # Demo requesters ask once, late in their burst: one of the events up to the peak.
    counts = plan.counts[lo:hi]
    asks = np.flatnonzero(plan.demo[lo:hi] & (counts > 0))
    starts = np.cumsum(counts) - counts
    peak_key = asks * (1 << 34) + (plan.peak_s[lo + asks] - plan.start_s)
    at_peak = np.maximum(np.searchsorted(key, peak_key, side="right") - 1, starts[asks])
    in_burst = np.maximum(1, np.rint(plan.recent_share[lo:hi][asks] * counts[asks])).astype(np.int64)
    back = np.minimum((rng.random(len(asks)) * in_burst).astype(np.int64), at_peak - starts[asks])
    etype[at_peak - back] = DEMO
    props = _properties(plan, t, etype, intent, fresh, rng.random((4, n)))

    numbers = pa.array(np.arange(first_number + 1, first_number + n + 1, dtype=np.int64))
    event_id = pc.binary_join_element_wise(
        "e", pc.utf8_lpad(pc.cast(numbers, pa.string()), width=10, padding="0"), "")
    columns = [
        event_id,
        _dictionary((owner - lo).astype(np.int32), plan.contact_ids.slice(lo, hi - lo)),
        _dictionary(etype.astype(np.int32), EVENT_TYPES),
        pa.array(t * 1_000_000, pa.timestamp("us")),
        *(_dictionary(codes, values) for codes, values in props),
        _dictionary(_SOURCE_OF_TYPE[etype].astype(np.int32), SOURCES),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=RAW_EVENTS_SCHEMA)


def _properties(plan: EventPlan, t: np.ndarray, etype: np.ndarray, intent: np.ndarray,
                fresh: np.ndarray, u: np.ndarray) -> list[tuple[np.ndarray, tuple[str, ...]]]:
    """Codes (-1 = NULL) and vocabularies of url, referrer, campaign, form and email_subject."""
    n = len(t)
    pv, click, download, webinar = (etype == PAGE_VIEW), (etype == CLICK), (etype == DOWNLOAD), (etype == WEBINAR)
    emailish = np.isin(etype, (OPEN, CLICK, UNSUBSCRIBE, BOUNCE))

    url = np.full(n, -1, dtype=np.int32)
    url[pv] = _page_urls(intent[pv], fresh[pv], u[0][pv], u[1][pv])
    url[click] = _page_urls(intent[click], fresh[click], u[1][click], u[0][click])
    pick_download = (u[1] * len(vocab.DOWNLOADS)).astype(np.int32)
    url[download] = len(_PAGE_LIST) + pick_download[download]
    url[etype == DEMO] = len(URLS) - 1

    referrer = np.where(pv & (u[2] < 0.55), (u[3] * len(vocab.REFERRERS)).astype(np.int32), -1)

    # Campaigns: monthly newsletters for e-mail events, named webinars, a few UTM campaigns on the web.
    month_names, month_starts = _months(plan)
    month = np.searchsorted(month_starts, t, side="right") - 1
    n_web, n_webinar = len(vocab.WEB_CAMPAIGNS), len(vocab.WEBINARS)
    campaign = np.full(n, -1, dtype=np.int32)
    campaign[emailish] = (n_web + n_webinar + month)[emailish]
    web_utm = pv & (u[3] < 0.10)
    campaign[web_utm] = (u[2][web_utm] * n_web).astype(np.int32)
    campaign[webinar] = n_web + (u[2][webinar] * n_webinar).astype(np.int32)

    form = np.full(n, -1, dtype=np.int32)
    submit = etype == SUBMIT
    form_choice = np.where(u[2] < 0.35 * intent, vocab.FORMS.index("pricing-quote"),
                           (u[3] * len(vocab.FORMS)).astype(np.int32))
    form[submit] = form_choice[submit]
    form[download] = len(vocab.FORMS) + pick_download[download]
    form[etype == DEMO] = len(FORMS) - 1

    subject = np.where(emailish & (etype != BOUNCE), (u[2] * len(vocab.EMAIL_SUBJECTS)).astype(np.int32), -1)
    return [(url, URLS), (referrer, vocab.REFERRERS),
            (campaign, vocab.WEB_CAMPAIGNS + vocab.WEBINARS + month_names), (form, FORMS),
            (subject, vocab.EMAIL_SUBJECTS)]


def _months(plan: EventPlan) -> tuple[tuple[str, ...], np.ndarray]:
    """Newsletter names of every month in the window and the months' first second."""
    first = np.datetime64(plan.start_s, "s").astype("datetime64[M]")
    last = np.datetime64(plan.end_s, "s").astype("datetime64[M]")
    months = np.arange(first, last + 1)
    names = tuple(f"newsletter-{m}" for m in months.astype(str))
    return names, months.astype("datetime64[s]").astype(np.int64)
