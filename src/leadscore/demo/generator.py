"""A seeded synthetic B2B data set: contacts, their events and their deals.

One generator serves the demo workspace, the tests and the benchmark, so all three see the same
kind of data. The world it draws is small but shaped like the real thing:

* contacts work at companies of lognormal size (1..50k) across industries and countries, have a
  job title with a seniority, and a work e-mail at the company's domain or (~30%) a free-mail one;
* each contact has a hidden *intent* driven by fit (seniority, company size, work e-mail,
  industry) plus noise. Intent decides how many events they produce (heavy-tailed), which ones
  (demo requests and pricing pages from keen contacts, unsubscribes from cold ones) and when:
  activity spreads over the year, keen contacts *in market* add a buying burst at some moment of
  it (spread over the year), and some contacts went quiet months ago (after their burst, for some);
* companies are imported too (``companies.csv``: id, name, domain, industry, employees, owner):
  ~80% of contacts carry their employer's ``company_id``; the others are found by their work
  e-mail's domain (the demo workspace sets ``accounts.match_by_domain``), and a deal carries its
  contact's company. These draws use their own random stream, so the contacts, events and deals
  are the same as without them;
* ~10% of contacts get a deal, likelier with fit and engagement. Deals are the outcome a score
  should predict: created during the contact's burst, they close a sales cycle later (~40 days)
  and are won with a probability rising with fit and engagement before the deal. Nothing happens
  after ``end`` (the data's "now"): a deal still in its cycle there is ``open``, so a backtest
  as of a date a horizon before ``end`` sees every outcome of its window.

Calibration (seed 42, 20k contacts / 500k events): the starter model (``data/starter_model.yml``)
puts ~0.2% of contacts in ``sql`` and ~6–8% in ``nurture`` on any day (few are in a buying burst
at once); backtested as of 2025-07-01 and 2025-10-01 with a 90-day horizon it finds ~250 and ~330
converters, tiers converting at ~1% / ~17% / ~30–60% in cold / nurture / sql, AUC ~0.89.

Everything is vectorised with numpy and pyarrow; events come in chunks (``events.py``) so 20M of
them can be streamed into a store without holding them all.

>>> data = generate(1_000, 20_000, seed=1)
>>> data.contacts.num_rows, data.events.num_rows
(1000, 20000)
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from leadscore.demo import vocab
from leadscore.demo.deals import make_deals
from leadscore.demo.events import DAY, EVENTS_SCHEMA, EventPlan

if TYPE_CHECKING:
    from leadscore.storage.store import Store

#: Share of contacts that never produced an event (imported from a list, never engaged).
NEVER_ENGAGED = 0.08
#: Rows per Arrow batch handed to DuckDB (its row-group size): one batch per thread-task.
INSERT_BATCH_ROWS = 122_880


@dataclass
class DemoData:
    """A generated data set. ``events`` is built on first access; ``event_batches`` streams it."""

    contacts: pa.Table
    deals: pa.Table
    as_of: datetime
    plan: EventPlan = field(repr=False)
    companies: pa.Table | None = None
    _events: pa.Table | None = field(default=None, init=False, repr=False)

    @property
    def n_events(self) -> int:
        return self.plan.n_events

    @property
    def events(self) -> pa.Table:
        """All events as one table (memory grows with the count: prefer ``event_batches`` at scale)."""
        if self._events is None:
            self._events = pa.Table.from_batches(self.event_batches(), schema=EVENTS_SCHEMA)
        return self._events

    def event_batches(self, *, dictionary: bool = False) -> Iterator[pa.RecordBatch]:
        """The events in chunks of about a million, the same rows as ``events``.

        With ``dictionary=True`` repeated strings stay dictionary-encoded as generated (unless
        ``events`` was already built): cheaper to produce and to hand to DuckDB, which is what
        ``load_into_store`` does.
        """
        if self._events is not None:
            yield from self._events.to_batches()
            return
        for batch in self.plan.batches():
            yield batch if dictionary else batch.cast(EVENTS_SCHEMA)


def _epoch_s(when: datetime) -> int:
    return int((when - datetime(1970, 1, 1)).total_seconds())


def _choice(rng: np.random.Generator, n: int, weights: Any) -> np.ndarray:
    """Index per draw with probability proportional to ``weights`` (vectorised inverse CDF)."""
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(cum) - 1)


def _take(values: tuple[str, ...] | pa.Array, idx: np.ndarray, missing: np.ndarray | None = None
          ) -> pa.Array:
    array = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return array.take(pa.array(idx, mask=missing))


def _join(*parts: Any) -> pa.Array:
    """Element-wise concatenation of string arrays and scalars (NULL if any part is NULL)."""
    return pc.binary_join_element_wise(*parts, "")


def _numbered(prefix: str, n: int, width: int) -> pa.Array:
    digits = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    return _join(prefix, pc.utf8_lpad(digits, width=width, padding="0"))


def _timestamps(seconds: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pa.array(seconds.astype("datetime64[s]").astype("datetime64[us]"), mask=missing)


def _companies(rng: np.random.Generator, n: int) -> dict[str, Any]:
    """A pool of companies: name, domain, size, industry, country, city, website."""
    pre, core, suf = vocab.COMPANY_PREFIXES, vocab.COMPANY_CORES, vocab.COMPANY_SUFFIXES
    combo = rng.permutation(n)
    a, b = combo % len(pre), (combo // len(pre)) % len(core)
    s, k = (combo // (len(pre) * len(core))) % len(suf), combo // (len(pre) * len(core) * len(suf))
    number = pc.cast(pa.array(k + 1), pa.string())
    tail = pc.if_else(pa.array(k > 0), _join(" ", number), "")
    stem = _join(_take(pre, a), _take(core, b))
    name = _join(stem, " ", _take(suf, s), tail)
    industry = _choice(rng, n, [w for _, w, _ in vocab.INDUSTRIES])
    tld = np.where(rng.random(n) < 0.25 * (industry <= 1), ".io", ".com")
    domain = _join(pc.utf8_lower(stem), pc.utf8_lower(_take(suf, s)),
                   pc.if_else(pa.array(k > 0), number, ""), pa.array(tld))
    country = _choice(rng, n, [w for _, w, _, _ in vocab.COUNTRIES])
    n_cities = np.array([len(c[3]) for c in vocab.COUNTRIES])
    city_start = np.cumsum(np.concatenate([[0], n_cities]))[:-1]
    city = city_start[country] + (rng.random(n) * n_cities[country]).astype(np.int64)
    size = np.clip(np.rint(rng.lognormal(np.log(80), 1.7, n)), 1, 50_000).astype(np.int64)
    return {"name": name, "domain": domain, "size": size, "industry": industry, "country": country,
            "city": city, "website": _join("https://www.", domain)}


def _fit(seniority: np.ndarray, size: np.ndarray, work_mail: np.ndarray, industry_fit: np.ndarray
         ) -> np.ndarray:
    """How well a contact matches the ideal buyer, 0..1 (the world's truth, not a model's guess)."""
    size_fit = np.select([(size >= 50) & (size <= 5000), size > 5000, size >= 10], [1.0, 0.7, 0.6], 0.2)
    return 0.40 * seniority + 0.25 * size_fit + 0.20 * work_mail + 0.15 * industry_fit


@dataclass(frozen=True)
class _People:
    """Who the contacts are: the facts the contacts table shows and the fit they imply."""

    title: np.ndarray
    no_title: np.ndarray
    free: np.ndarray
    edu: np.ndarray
    fit: np.ndarray
    intent: np.ndarray


@dataclass(frozen=True)
class _Activity:
    """When contacts exist and act (epoch seconds), and how much."""

    created: np.ndarray
    first: np.ndarray
    last: np.ndarray
    peak: np.ndarray
    quiet: np.ndarray
    in_market: np.ndarray
    demo: np.ndarray
    counts: np.ndarray
    recent_share: np.ndarray


def _people(rng: np.random.Generator, n: int, size: np.ndarray, industry: np.ndarray) -> _People:
    title = _choice(rng, n, [w for _, w, _ in vocab.TITLES])
    no_title = rng.random(n) < vocab.TITLE_MISSING
    seniority = np.where(no_title, 0.3, np.array([s for _, _, s in vocab.TITLES])[title])
    student = np.isin(title, [i for i, t in enumerate(vocab.TITLES) if t[0] in vocab.STUDENT_TITLES])
    mail_kind = rng.random(n)  # below a threshold: free mail; some students use a university address
    free = np.where(no_title, mail_kind < 0.4, np.where(student, mail_kind < 0.55, mail_kind < 0.28))
    edu = student & ~free & (mail_kind < 0.85)
    fit = _fit(seniority, size, (~free & ~edu).astype(float),
               np.array([f for _, _, f in vocab.INDUSTRIES])[industry])
    intent = 1.0 / (1.0 + np.exp(-(9.0 * (fit - 0.72) + rng.normal(0.0, 1.0, n))))
    return _People(title, no_title, free, edu, fit, intent)


def _activity(rng: np.random.Generator, n_events: int, intent: np.ndarray, start_s: int, end_s: int
              ) -> _Activity:
    """Creation dates, active spans, buying bursts and event counts (exactly ``n_events`` in all).

    Every contact's burst ends at ``peak``: anywhere in its active span (uniformly, so bursts and
    the deals they bring are spread over the year rather than piled up at its end), and for
    contacts that went quiet, just before the silence. Activity goes on after the peak at the
    contact's usual pace: a won customer keeps reading, a lost one too.
    """
    n, span = len(intent), end_s - start_s
    old = rng.random(n) < 0.35
    created = np.where(old, start_s - (rng.random(n) * 365 * DAY),
                       start_s + rng.random(n) ** 0.8 * (span - DAY)).astype(np.int64)
    first = np.maximum(created, start_s)
    quiet_gap = ((40 + rng.random(n) * 260) * DAY).astype(np.int64)
    quiet = (rng.random(n) < 0.05 + 0.45 * (1 - intent) ** 2) & (end_s - quiet_gap > first + 7 * DAY)
    last = np.where(quiet, end_s - quiet_gap, end_s)
    # In market: a buying burst somewhere in the activity (just before going quiet, for the quiet).
    in_market = rng.random(n) < np.where(quiet, 0.4 * intent ** 2, 0.05 + 0.9 * intent ** 2)
    earliest = np.minimum(first + 7 * DAY, last)
    peak = np.where(quiet, last, earliest + (rng.random(n) * (last - earliest)).astype(np.int64))
    demo = rng.random(n) < np.where(in_market, 0.4 + 0.55 * intent ** 2, 0.03 * intent ** 4)

    # Heavy-tailed event counts, skewed to keen contacts and to those around for longer.
    weight = rng.lognormal(0.0, 1.0, n) * (0.2 + 2.5 * intent ** 2) * np.where(in_market, 2.5, 1.0)
    weight *= np.sqrt((last - first) / span) * (rng.random(n) >= NEVER_ENGAGED)
    counts = (rng.multinomial(n_events, weight / weight.sum()) if weight.sum() > 0
              else np.zeros(n, dtype=np.int64)).astype(np.int64)
    # A burst is a few dozen events however active the contact is otherwise.
    burst = np.where(in_market, rng.poisson(10 + 30 * intent ** 2), 0) + rng.poisson(0.5, n)
    recent_share = np.minimum(1.0, burst / np.maximum(counts, 1))
    return _Activity(created, first, last, peak, quiet, in_market, demo, counts, recent_share)


def generate(n_contacts: int, n_events: int, *, seed: int = 42, end: datetime = datetime(2026, 1, 1),
             days: int = 365, n_companies: int | None = None) -> DemoData:
    """Draw a data set of ``n_contacts`` contacts and exactly ``n_events`` events before ``end``.

    The same arguments always give the same data. ``as_of`` of the result is ``end``: every event
    happened in the ``days`` before it and after its contact was created. ``n_companies`` (default
    a third of the contacts, at least 20) is the size of the pool contacts work at.
    """
    if n_contacts < 1 or n_events < 0 or days < 1 or (n_companies is not None and n_companies < 1):
        raise ValueError("need n_contacts >= 1, n_events >= 0, days >= 1 and n_companies >= 1")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    n = n_contacts
    end_s = _epoch_s(end)
    start_s = end_s - days * DAY

    company = _companies(rng, n_companies if n_companies is not None else max(20, n // 3))
    employer = _choice(rng, n, np.sqrt(company["size"]))
    size, industry = company["size"][employer], company["industry"][employer]
    who = _people(rng, n, size, industry)
    act = _activity(rng, n_events, who.intent, start_s, end_s)

    contact_ids = _numbered("c", n, max(7, len(str(n))))
    plan = EventPlan(seed=seed, contact_ids=contact_ids, counts=act.counts, first_s=act.first,
                     last_s=act.last, peak_s=act.peak, intent=who.intent, recent_share=act.recent_share, demo=act.demo,
                     start_s=start_s, end_s=end_s)
    company_name = company["name"].take(pa.array(employer))
    deals, stage = make_deals(np.random.default_rng(np.random.SeedSequence([seed, 3])), plan,
                              contact_ids=contact_ids, fit=who.fit, quiet=act.quiet,
                              in_market=act.in_market, created=act.created, size=size,
                              company=company_name)

    first_name = rng.integers(0, len(vocab.FIRST_NAMES), n)
    last_name = rng.integers(0, len(vocab.LAST_NAMES), n)
    country = company["country"][employer]
    active_last = np.where(act.counts > 0, act.last - (rng.random(n) * 2 * DAY).astype(np.int64),
                           act.created)
    contacts = pa.table({
        "contact_id": contact_ids,
        "email": _emails(rng, who, first_name, last_name, company["domain"].take(pa.array(employer))),
        "first_name": _take(vocab.FIRST_NAMES, first_name),
        "last_name": _take(vocab.LAST_NAMES, last_name),
        "job_title": _take(tuple(t for t, _, _ in vocab.TITLES), who.title, who.no_title),
        "company": company_name,
        "company_size": pa.array(size, pa.int64(), mask=rng.random(n) < 0.03),
        "industry": _take(tuple(i for i, _, _ in vocab.INDUSTRIES), industry),
        "country": _take(tuple(c[0] for c in vocab.COUNTRIES), country),
        "city": _take(tuple(city for c in vocab.COUNTRIES for city in c[3]), company["city"][employer]),
        "phone": _phones(rng, country),
        "website": company["website"].take(pa.array(employer)),
        "lifecycle_stage": stage,
        "lead_source": _take(tuple(s for s, _ in vocab.LEAD_SOURCES),
                             _choice(rng, n, [w for _, w in vocab.LEAD_SOURCES])),
        "owner": _take(vocab.OWNERS, rng.integers(0, len(vocab.OWNERS), n),
                       rng.random(n) < vocab.OWNER_MISSING),
        "created_at": _timestamps(act.created),
        "updated_at": _timestamps(np.minimum(np.maximum(act.created, active_last), end_s)),
    })
    companies, contact_company = _company_rows(np.random.default_rng(np.random.SeedSequence([seed, 4])), company,
                                               employer, start_s)
    contacts = contacts.append_column("company_id", contact_company)
    deal_employer = pc.index_in(deals["contact_id"], contact_ids).to_numpy(zero_copy_only=False)
    deals = deals.append_column("company_id", companies["company_id"].take(pa.array(employer[deal_employer])))
    return DemoData(contacts=contacts, deals=deals, as_of=end, plan=plan, companies=companies)


#: Share of contacts whose export lacks the company id (found by e-mail domain instead, if any).
COMPANY_ID_MISSING = 0.2


def _company_rows(rng: np.random.Generator, company: dict[str, Any], employer: np.ndarray, start_s: int
                  ) -> tuple[pa.Table, pa.Array]:
    """The companies table and each contact's ``company_id`` (``COMPANY_ID_MISSING`` left empty).

    Half the domains are written as a CRM's website field (``https://www.acme.com``): the importer
    stores every domain the one way (``acme.com``), which is what contacts' e-mails meet.
    """
    n = len(company["size"])
    ids = _numbered("k", n, max(5, len(str(n))))
    domain = pc.if_else(pa.array(rng.random(n) < 0.5), company["website"], company["domain"])
    created = start_s - (rng.random(n) * 3 * 365 * DAY).astype(np.int64)
    table = pa.table({
        "company_id": ids,
        "name": company["name"],
        "domain": domain,
        "industry": _take(tuple(i for i, _, _ in vocab.INDUSTRIES), company["industry"]),
        "employees": pa.array(company["size"], pa.int64()),
        "country": _take(tuple(c[0] for c in vocab.COUNTRIES), company["country"]),
        "city": _take(tuple(city for c in vocab.COUNTRIES for city in c[3]), company["city"]),
        "owner": _take(vocab.OWNERS, rng.integers(0, len(vocab.OWNERS), n)),
        "created_at": _timestamps(created),
    })
    missing = rng.random(len(employer)) < COMPANY_ID_MISSING
    return table, ids.take(pa.array(employer, mask=missing))


def _emails(rng: np.random.Generator, who: _People, first_name: np.ndarray, last_name: np.ndarray,
            work_domain: pa.Array) -> pa.Array:
    """first.last@company for work mail, first.last123@gmail.com etc. for free mail; ~1% missing."""
    n = len(first_name)
    local = pc.utf8_lower(
        _join(_take(vocab.FIRST_NAMES, first_name), ".", _take(vocab.LAST_NAMES, last_name)))
    local = pc.replace_substring(pc.replace_substring(local, " ", ""), "ü", "ue")
    free_domain = _choice(rng, n, [w for _, w in vocab.FREE_MAIL])
    digits = pc.cast(pa.array(rng.integers(1, 1000, n)), pa.string())
    private = _join(local, digits, "@", _take(tuple(d for d, _ in vocab.FREE_MAIL), free_domain))
    university = _join(local, "@", _take(vocab.UNIVERSITY_DOMAINS,
                                         rng.integers(0, len(vocab.UNIVERSITY_DOMAINS), n)))
    work = _join(local, "@", work_domain)
    email = pc.if_else(pa.array(who.free), private, pc.if_else(pa.array(who.edu), university, work))
    return pc.if_else(pa.array(rng.random(n) < 0.01), pa.scalar(None, pa.string()), email)


def _phones(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
    """A dialling prefix and ten digits for ~65% of contacts."""
    n = len(country)
    dial = _take(tuple(c[2] for c in vocab.COUNTRIES), country)
    phone = _join(dial, " ", pc.cast(pa.array(rng.integers(2_000_000_000, 9_999_999_999, n)), pa.string()))
    return pc.if_else(pa.array(rng.random(n) < 0.65), phone, pa.scalar(None, pa.string()))


def write_files(data: DemoData, directory: str | Path) -> dict[str, Path]:
    """Write ``companies.csv``, ``contacts.csv``, ``events.parquet`` and ``deals.csv`` for the real importer.

    Events are streamed chunk by chunk into one Parquet file, so memory stays flat at any size.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"contacts": out / "contacts.csv", "events": out / "events.parquet", "deals": out / "deals.csv"}
    if data.companies is not None:
        paths["companies"] = out / "companies.csv"
        pacsv.write_csv(_whole_seconds(data.companies), paths["companies"])
    pacsv.write_csv(_whole_seconds(data.contacts), paths["contacts"])
    pacsv.write_csv(_whole_seconds(data.deals), paths["deals"])
    with pq.ParquetWriter(paths["events"], EVENTS_SCHEMA, compression="zstd") as writer:
        for batch in data.event_batches():
            writer.write_batch(batch)
    return paths


def _whole_seconds(table: pa.Table) -> pa.Table:
    """Timestamps as ``2025-05-10 03:42:19`` in CSV (the generator draws whole seconds anyway)."""
    schema = pa.schema([f.with_type(pa.timestamp("s")) if pa.types.is_timestamp(f.type) else f
                        for f in table.schema])
    return table.cast(schema)


def load_into_store(store: Store, data: DemoData) -> None:
    """Bulk-insert the data set straight into the store's tables, in one transaction.

    For the benchmark and tests, where going through the importer (mapping, validation, rejects)
    would measure the importer instead. Events are inserted chunk by chunk while the next chunk
    is generated in a second thread (numpy, pyarrow and DuckDB all release the GIL), and each chunk
    is cut into row-group-sized batches so DuckDB converts them on every core.
    """
    with store.transaction() as con:
        tables = [("contacts", data.contacts), ("deals", data.deals)]
        if data.companies is not None:  # stored domains are normalised: these are written as the importer would
            tables.append(("companies", data.companies.set_column(
                2, "domain", pc.replace_substring_regex(data.companies["domain"], "^https://www\\.", ""))))
        for table, rows in tables:
            con.register("_demo_rows", rows)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _demo_rows")
            con.unregister("_demo_rows")
        for batch in _prefetched(data.event_batches(dictionary=True)):
            slices = pa.Table.from_batches([batch]).to_batches(max_chunksize=INSERT_BATCH_ROWS)
            con.register("_demo_rows", pa.Table.from_batches(slices, schema=batch.schema))
            con.execute("INSERT INTO events BY NAME SELECT * FROM _demo_rows")
            con.unregister("_demo_rows")


def _prefetched(items: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Yield from ``items`` while the next one is already being produced in a worker thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item
