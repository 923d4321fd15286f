"""Hypothesis strategies for scoring models and the data they score, over one small fixed schema.

Shared by the tests (``from strategies import scenarios``). Everything is built as plain dicts,
the way a YAML file would hold it, then validated with ``ScoringModel.model_validate``, so the
strategies also exercise the language's shorthands (a bare value in ``where`` means ``equals``,
a bare list means ``in``).

The schema:

* contacts: ``job_title``, ``country``, ``email`` (string), ``company_size`` (number),
  ``created_at`` (timestamp), the custom boolean ``is_customer``; derived ``email_domain`` and
  ``is_free_email``;
* events: ``page_view``, ``email_open``, ``form_submit``, ``demo_request`` (data also holds
  ``bounce``, which no model names), with ``url`` and ``campaign``.

Values are chosen to hit the hard cases: NULLs, quotes, ``%``, ``_`` and backslashes (LIKE and
string escaping), mixed-case e-mail domains, events exactly ``within_days`` old, events after
``as_of``, contacts created after ``as_of``, timestamps given as dates, ISO strings with ``Z`` or
an offset. Regexes stay within what Python's ``re`` and RE2 read alike: literals, ``^``, ``$``, ``.``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from hypothesis import strategies as st

from leadscore.model.spec import ScoringModel

AS_OF = datetime(2025, 6, 1, 12, 0, 0)

CONTACT_SCHEMA: dict[str, str] = {
    "job_title": "string", "company_size": "number", "country": "string", "email": "string",
    "created_at": "timestamp", "updated_at": "timestamp", "is_customer": "boolean",
}
#: The custom column the store does not have until an import adds it (DuckDB type).
CUSTOM_CONTACT_COLUMNS: dict[str, str] = {"is_customer": "BOOLEAN"}
DERIVED_SCHEMA: dict[str, str] = {"email_domain": "string", "is_free_email": "boolean"}
EVENT_TYPES: tuple[str, ...] = ("page_view", "email_open", "form_submit", "demo_request")
EVENT_SCHEMA: dict[str, str] = {"url": "string", "campaign": "string"}

CONTACT_IDS = ("c0", "o'neil", "100%", "a_b", "c\\4", "c5", "c6")
JOB_TITLES = ("CEO", "VP Sales", "vp sales", "Head of 'Growth'", "100% owner", "a_b", "Zürich lead",
              "", "CEO ")
COUNTRIES = ("US", "DE", "us", "O'Land", "50%", "x_y")
EMAILS = ("ann@gmail.com", "Bob@GMail.COM", "carl@acme.io", "dee@Sub.Example.ORG", "noat.example.com",
          "a@acme.io@GMAIL.com", "x@yahoo.com@acme.io",
          "trailing@", "two@at@Example.org", "o'hara@my_co.com", "pct%@ex%ample.com", "@",
          "x@yahoo.com")
# case variants of the domains in EMAILS: the model's values are lower-cased like the domain
DOMAINS = ("gmail.com", "GMAIL.COM", "Gmail.com", "acme.io", "ACME.IO", "sub.example.org",
           "Sub.Example.ORG", "example.org", "EXAMPLE.ORG", "my_co.com", "MY_CO.com", "ex%ample.com",
           "yahoo.com")
URLS = ("/pricing", "/pricing?plan=pro", "/Pricing", "/blog/100%-growth", "/a_b", "/docs/o'reilly",
        "https://x.io/pricing", "/demo", "", "/p\\q")
CAMPAIGNS = ("spring", "Spring_2025", "q'4", "50%off", "spring%", "sp_ing")
SIZES = (0, 1, 49, 50, 200, 1000, 1001, -5)
#: Bounds in number tests: mostly values of SIZES, so that `between`/`gte`... hit their edges.
SIZE_BOUNDS = (0, 1, 49.5, 50, 50.0, 200, 1000, -5)
#: Contact timestamps as days before as_of (negative: after it), on the edges of the tests' windows.
TIMESTAMP_DAYS = (0.0, 0.5, 1.0, 7.0, 30.0, 90.0, 365.0, -1.0, -0.25)

FRAGMENTS = ("pricing", "Pricing", "%", "_", "'", "/", "ri", "spring", "%off", "a_b", "sp_ing",
             "\\", "", "CEO", "Sales", "us", "O'", "/demo")
DOMAIN_FRAGMENTS = ("gmail", "GMail", ".com", ".COM", "_", "%", "example", "Example", "ex%", "MY_", "")
REGEXES = ("^/pricing", "pricing$", "pr.cing", "^$", "ing", "^CEO$", "V. Sales", "^spring", "%", "_",
           "'", "Z.rich", "^.$")
DOMAIN_REGEXES = ("^gmail", "com$", "example", "^ex.mple", "^my_co", "^GMAIL", "Example")

#: Day counts used both as windows and as exact event ages, so ``age == within_days`` happens.
WINDOWS = (0.5, 1, 7, 30, 45.25)
EXACT_AGES = (0.0, 0.5, 1.0, 7.0, 30.0, 45.25, 90.0, 180.0, -0.5)
POINTS = (-20, -5, -1.5, 0, 0.1, 1, 2, 2.5, 5, 10, 15, 20)
MICROS_PER_DAY = 86_400_000_000

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Scenario:
    """A model and the rows it scores, as of one instant."""

    model: ScoringModel
    contacts: Rows
    events: Rows
    as_of: datetime


# --------------------------------------------------------------------------- value tests


def _one_of_values(values: tuple[Any, ...]) -> st.SearchStrategy[dict[str, Any]]:
    pick = st.sampled_from(values)
    some = st.lists(pick, min_size=1, max_size=3)
    return st.one_of(
        pick.map(lambda v: {"equals": v}), pick.map(lambda v: {"not_equals": v}),
        some.map(lambda v: {"in": v}), some.map(lambda v: {"not_in": v}),
    )


def _null_tests() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(["is_set", "is_empty"]).map(lambda op: {op: True})


@cache
def string_tests(values: tuple[str, ...], fragments: tuple[str, ...] = FRAGMENTS,
                 regexes: tuple[str, ...] = REGEXES) -> st.SearchStrategy[dict[str, Any]]:
    frag = st.sampled_from(fragments)
    return st.one_of(
        _one_of_values(values),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["contains", "starts_with", "ends_with"]), frag),
        st.sampled_from(regexes).map(lambda v: {"matches": v}),
        _null_tests(),
    )


@cache
def number_tests() -> st.SearchStrategy[dict[str, Any]]:
    bound = st.sampled_from(SIZE_BOUNDS)
    return st.one_of(
        _one_of_values(SIZE_BOUNDS),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["gt", "gte", "lt", "lte"]), bound),
        st.lists(bound, min_size=2, max_size=2).map(lambda b: {"between": sorted(b)}),
        _null_tests(),
    )


@cache
def timestamp_tests(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """Order tests against date / ISO strings, and within_days / older_than_days from as_of."""
    at = [as_of - timedelta(days=d) for d in (-1, 0, 1, 7, 30, 90)]
    naive = sorted({t.isoformat() for t in at} | {t.date().isoformat() for t in at}
                   | {(as_of - timedelta(days=7, microseconds=1)).isoformat()})
    texts = naive + [(as_of - timedelta(days=7)).isoformat() + "Z",
                     (as_of - timedelta(days=30, hours=-2)).isoformat() + "+02:00"]
    return st.one_of(
        st.builds(lambda op, v: {op: v}, st.sampled_from(["gt", "gte", "lt", "lte"]),
                  st.sampled_from(texts)),
        # naive ISO strings sort like the instants they name, as `between` checks lo <= hi as text
        st.lists(st.sampled_from(naive), min_size=2, max_size=2).map(lambda b: {"between": sorted(b)}),
        st.builds(lambda op, d: {op: d}, st.sampled_from(["within_days", "older_than_days"]),
                  st.sampled_from((0, 0.5, 1, 7, 30, 90))),
        _null_tests(),
    )


@cache
def boolean_tests() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(_one_of_values((True, False)), _null_tests())


@cache
def property_tests(name: str, as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """Value tests that make sense for contact property ``name``."""
    by_name: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "job_title": string_tests(JOB_TITLES),
        "country": string_tests(COUNTRIES),
        "email": string_tests(EMAILS),
        "email_domain": string_tests(DOMAINS, DOMAIN_FRAGMENTS, DOMAIN_REGEXES),
        "company_size": number_tests(),
        "created_at": timestamp_tests(as_of),
        "updated_at": timestamp_tests(as_of),
        "is_customer": boolean_tests(),
        "is_free_email": boolean_tests(),
    }
    return by_name[name]


# --------------------------------------------------------------------------- conditions


@cache
def property_conditions(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    names = st.sampled_from(sorted(CONTACT_SCHEMA) + sorted(DERIVED_SCHEMA))
    return names.flatmap(lambda n: property_tests(n, as_of).map(lambda t: {"property": n, **t}))


@cache
def _where_test(column: str) -> st.SearchStrategy[Any]:
    values = URLS if column == "url" else CAMPAIGNS
    return st.one_of(
        string_tests(values),
        st.sampled_from(values),  # shorthand for equals
        st.lists(st.sampled_from(values), min_size=1, max_size=2),  # shorthand for in
    )


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


_KINDS = st.sampled_from(EVENT_TYPES)
_EVENT_TYPES = st.one_of(_KINDS, st.lists(_KINDS, min_size=1, max_size=3))
# most event leaves have no `where`, so that their counts are often non-zero
_WHERE_COLUMNS = st.one_of(st.just([]), st.just([]),
                           st.lists(st.sampled_from(sorted(EVENT_SCHEMA)), unique=True, max_size=2))
_WINDOW = _opt(st.sampled_from(WINDOWS))
_K = st.integers(0, 3)
_BAND = _opt(st.one_of(
    _K.map(lambda n: {"at_least": n}), _K.map(lambda n: {"at_most": n}),
    _K.map(lambda n: {"exactly": n}),
    st.lists(_K, min_size=2, max_size=2).map(lambda b: {"between": sorted(b)}),
))


@st.composite
def _event_conditions(draw: st.DrawFn, with_band: bool) -> dict[str, Any]:
    cond: dict[str, Any] = {"event": draw(_EVENT_TYPES)}
    columns = draw(_WHERE_COLUMNS)
    if columns:
        cond["where"] = {c: draw(_where_test(c)) for c in columns}
    window = draw(_WINDOW)
    if window is not None:
        cond["within_days"] = window
    elif draw(st.integers(0, 5)) == 0:
        cond["ever"] = True
    if with_band:
        cond.update(draw(_BAND) or {})
    return cond


@cache
def event_conditions(with_band: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """An event leaf: types, ``where``, window and (unless ``with_band`` is false) a count band."""
    return _event_conditions(with_band)


@cache
def inactivity_conditions() -> st.SearchStrategy[dict[str, Any]]:
    days = st.sampled_from((0.5, 1, 7, 30))
    types = st.one_of(st.none(), st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2))
    return st.builds(
        lambda d, t: {"no_event_within_days": d} | ({"events": t} if t else {}), days, types)


@cache
def conditions(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """Any condition: half the time a single leaf (so each leaf decides its rule), else leaves
    nested in all / any / not, a few levels deep."""
    leaves = st.one_of(property_conditions(as_of), event_conditions(), inactivity_conditions())
    nested = st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
            inner.map(lambda c: {"not": c}),
        ),
        max_leaves=5,
    )
    return st.one_of(leaves, nested)


# --------------------------------------------------------------------------- rules and models


@cache
def decays() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.sampled_from((0.5, 7, 30, 45.5, 90)).map(lambda h: {"half_life_days": h}),
        st.sampled_from((3, 10, 33.3, 50, 100)).map(lambda p: {"percent_per_month": p}),
    )


_POINTS = st.sampled_from(POINTS)
_RULE_DECAY = st.one_of(st.none(), st.just(False), decays())
_GROUP_DECAY = _opt(decays())
_MAX = _opt(st.sampled_from((1, 2.5, 10, 30)))
_GROUP_NAMES = st.lists(st.sampled_from(("fit", "engagement", "behaviour")), min_size=1, max_size=3,
                        unique=True)
_TIER_BOUNDS = st.lists(st.sampled_from((-10, 0, 5, 10, 15, 20, 30, 60)), min_size=1, max_size=4,
                        unique=True)
_BAND_BOUNDS = st.lists(st.sampled_from((-5, 0, 5, 10, 20)), min_size=1, max_size=3, unique=True)


@st.composite
def _rule_dicts(draw: st.DrawFn, as_of: datetime) -> dict[str, Any]:
    """A rule without its name: ``points`` on any condition, or ``points_per_event`` (+ ``max``)."""
    rule: dict[str, Any]
    if draw(st.integers(0, 3)) == 0:
        rule = {"when": draw(event_conditions(with_band=False)), "points_per_event": draw(_POINTS)}
        cap = draw(_MAX)
        if cap is not None:
            rule["max"] = cap
    else:
        rule = {"when": draw(conditions(as_of)), "points": draw(_POINTS)}
    decay = draw(_RULE_DECAY)
    if decay is not None:
        rule["decay"] = decay
    return rule


@cache
def rule_dicts(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    return _rule_dicts(as_of)


def _bounds(draw: st.DrawFn, caps: tuple[float, ...], floors: tuple[float, ...]) -> dict[str, float]:
    cap = draw(_opt(st.sampled_from(caps)))
    floor = draw(_opt(st.sampled_from(floors)))
    out = {}
    if cap is not None:
        out["cap"] = cap
    if floor is not None and (cap is None or floor <= cap):
        out["floor"] = floor
    return out


@st.composite
def _group_dicts(draw: st.DrawFn, as_of: datetime) -> dict[str, Any]:
    rules = draw(st.lists(rule_dicts(as_of), min_size=1, max_size=4))
    group: dict[str, Any] = {"rules": [{"name": f"r{i}", **r} for i, r in enumerate(rules)]}
    group.update(_bounds(draw, (0, 5, 10, 25, 50), (-20, -5, 0, 5)))
    decay = draw(_GROUP_DECAY)
    if decay is not None:
        group["decay"] = decay
    return group


@cache
def group_dicts(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    return _group_dicts(as_of)


@st.composite
def _model_dicts(draw: st.DrawFn, as_of: datetime) -> dict[str, Any]:
    names = draw(_GROUP_NAMES)
    model: dict[str, Any] = {"name": "generated", "groups": {n: draw(group_dicts(as_of)) for n in names}}
    model["tiers"] = {f"tier{i}": b for i, b in enumerate(sorted(draw(_TIER_BOUNDS)))}
    model.update(_bounds(draw, (10, 30, 60, 100), (-10, 0, 5)))
    if draw(st.booleans()):
        group = st.sampled_from(names)
        model["matrix"] = {
            "fit": {"group": draw(group), "bands": dict(zip("ABC", draw(_BAND_BOUNDS), strict=False))},
            "engagement": {"group": draw(group),
                           "bands": dict(zip("123", draw(_BAND_BOUNDS), strict=False))},
        }
    return model


@cache
def model_dicts(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """A model as a YAML file would hold it (validate with ``ScoringModel.model_validate``)."""
    return _model_dicts(as_of)


@cache
def models(as_of: datetime = AS_OF) -> st.SearchStrategy[ScoringModel]:
    return model_dicts(as_of).map(ScoringModel.model_validate)


# --------------------------------------------------------------------------- data


@cache
def _ages() -> st.SearchStrategy[int]:
    """Ages in microseconds: exact window edges (and one microsecond either side), or any."""
    exact = st.sampled_from(EXACT_AGES).map(lambda d: round(d * MICROS_PER_DAY))
    nudged = st.builds(lambda a, n: a + n, exact, st.sampled_from((-1, 1)))
    recent = st.integers(-MICROS_PER_DAY, 50 * MICROS_PER_DAY)
    old = st.integers(50 * MICROS_PER_DAY, 400 * MICROS_PER_DAY)
    return st.one_of(exact, exact, nudged, recent, recent, old)


@cache
def contact_rows(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """A contact without its id; NULL anywhere, sometimes created after ``as_of``."""
    instants = st.sampled_from(TIMESTAMP_DAYS).map(lambda d: as_of - timedelta(days=d))
    return st.fixed_dictionaries({
        "email": _opt(st.sampled_from(EMAILS)),
        "job_title": _opt(st.sampled_from(JOB_TITLES)),
        "company_size": _opt(st.sampled_from(SIZES)),
        "country": _opt(st.sampled_from(COUNTRIES)),
        "created_at": _opt(instants),
        "updated_at": _opt(instants),  # after as_of too: a backtest sees later updates
        "is_customer": _opt(st.booleans()),
    })


@cache
def event_rows(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """An event without its ids: any type (``bounce`` included), time around ``as_of``."""
    return st.fixed_dictionaries({
        "type": st.sampled_from(EVENT_TYPES + ("bounce",)),
        "occurred_at": _ages().map(lambda micros: as_of - timedelta(microseconds=micros)),
        "url": _opt(st.sampled_from(URLS)),
        "campaign": _opt(st.sampled_from(CAMPAIGNS)),
    })




@st.composite
def _datasets(draw: st.DrawFn, as_of: datetime, max_events: int) -> tuple[Rows, Rows]:
    # sizes are drawn first: left to itself, hypothesis keeps most lists very short
    size = draw(st.integers(1, 5))
    ids = draw(st.lists(st.sampled_from(CONTACT_IDS), unique=True, min_size=size, max_size=size))
    contacts = [{"contact_id": cid, **row}
                for cid, row in zip(ids, draw(st.lists(contact_rows(as_of), min_size=len(ids),
                                                       max_size=len(ids))), strict=True)]
    # even, or skewed: the first contact owns about half the events, the last very few (where
    # the edges of windows and inactivity decide more often); a few belong to no contact at all
    if draw(st.booleans()):
        owners = [cid for k, cid in enumerate(ids) for _ in range(2 ** (len(ids) - 1 - k))] + ["ghost"]
    else:
        owners = ids * 4 + ["ghost"]
    count = draw(st.integers(0, max_events))
    rows = draw(st.lists(st.tuples(st.integers(0, len(owners) - 1), event_rows(as_of)),
                         min_size=count, max_size=count))
    events = [{"event_id": f"e{i}", "contact_id": owners[owner], **row}
              for i, (owner, row) in enumerate(rows)]
    return contacts, events


@cache
def datasets(as_of: datetime = AS_OF, max_events: int = 30) -> st.SearchStrategy[tuple[Rows, Rows]]:
    """Contacts and their events; some events belong to no contact (``ghost``), some lie after ``as_of``."""
    return _datasets(as_of, max_events)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A model, contacts and events, and the as_of to score them at."""
    as_of = draw(st.sampled_from((AS_OF, datetime(2024, 2, 29, 0, 0, 0, 1))))
    model = draw(models(as_of))
    contacts, events = draw(datasets(as_of))
    return Scenario(model, contacts, events, as_of)
