"""Hypothesis strategies for scoring models and the data they score, over one small fixed schema.

``scenarios()`` draws contacts, events and property histories first, then a model (built as the
dicts a YAML file holds, so the ``where`` shorthands are exercised too) plus a group of rules on
the edges of that data: operands equal to the contacts' values as of ``as_of``, windows exactly as
old as their events. Values are chosen for the hard cases: NULLs, quotes, ``%``, ``_``,
backslashes, mixed-case e-mail domains, several ``@``, events after ``as_of``, contacts created
after it, dates as ISO strings with ``Z`` or an offset, property changes exactly at ``as_of`` (and
a microsecond either side), values that go back and forth, cleared values, values assumed with no
change time. Regexes keep to literals, ``^``, ``$`` and ``.``, which Python and RE2 read alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from hypothesis import strategies as st

from leadscore.engine.properties_as_of import contact_as_of
from leadscore.model.properties import free_email_domains
from leadscore.model.spec import ScoringModel

AS_OF = datetime(2025, 6, 1, 12, 0, 0)
CONTACT_SCHEMA: dict[str, str] = {
    "job_title": "string", "company_size": "number", "country": "string", "email": "string",
    "created_at": "timestamp", "updated_at": "timestamp", "is_customer": "boolean",
}
#: The custom column the store does not have until an import adds it (DuckDB type).
CUSTOM_CONTACT_COLUMNS: dict[str, str] = {"is_customer": "BOOLEAN"}
DERIVED_SCHEMA: dict[str, str] = {"email_domain": "string", "is_free_email": "boolean"}
PROPERTIES: dict[str, str] = CONTACT_SCHEMA | DERIVED_SCHEMA
EVENT_TYPES: tuple[str, ...] = ("page_view", "email_open", "form_submit", "demo_request")
EVENT_SCHEMA: dict[str, str] = {"url": "string", "campaign": "string"}

CONTACT_IDS = ("c0", "o'neil", "100%", "a_b", "c\\4", "c5", "c6")
JOB_TITLES = ("CEO", "VP Sales", "vp sales", "Head of 'Growth'", "100% owner", "a_b", "Zürich lead",
              "", "CEO ")
COUNTRIES = ("US", "DE", "us", "O'Land", "50%", "x_y")
EMAILS = ("ann@gmail.com", "Bob@GMail.COM", "carl@acme.io", "dee@Sub.Example.ORG", "noat.example.com",
          "a@acme.io@GMAIL.com", "x@yahoo.com@acme.io", "trailing@", "two@at@Example.org",
          "o'hara@my_co.com", "pct%@ex%ample.com", "@", "x@yahoo.com")
#: Case variants of the domains in EMAILS: the model's values are lower-cased like the domain.
DOMAINS = ("gmail.com", "GMAIL.COM", "Gmail.com", "acme.io", "ACME.IO", "sub.example.org",
           "Sub.Example.ORG", "example.org", "EXAMPLE.ORG", "my_co.com", "MY_CO.com", "ex%ample.com",
           "yahoo.com")
URLS = ("/pricing", "/pricing?plan=pro", "/Pricing", "/blog/100%-growth", "/a_b", "/docs/o'reilly",
        "https://x.io/pricing", "/demo", "", "/p\\q")
CAMPAIGNS = ("spring", "Spring_2025", "q'4", "50%off", "spring%", "sp_ing")
SIZES = (0, 1, 49, 50, 200, 1000, -5)
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
    """A model and the rows it scores, as of one instant; ``history`` holds recorded property
    changes (``contact_id, property, value, changed_at``; ``changed_at`` None: an assumed value)."""

    model: ScoringModel
    contacts: Rows
    events: Rows
    as_of: datetime
    history: Rows = field(default_factory=list)


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _op(ops: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``{op: value}`` for one of ``ops``."""
    return st.builds(lambda op, v: {op: v}, st.sampled_from(ops), values)


# --------------------------------------------------------------------------- value tests
# Built once (@cache): constructing hypothesis strategies per draw is what makes generation slow.

_NULL_TESTS = st.sampled_from(["is_set", "is_empty"]).map(lambda op: {op: True})


def _membership(values: tuple[Any, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(_op(["equals", "not_equals"], st.sampled_from(values)),
                     _op(["in", "not_in"], st.lists(st.sampled_from(values), min_size=1, max_size=3)))


@cache
def string_tests(values: tuple[str, ...], fragments: tuple[str, ...] = FRAGMENTS,
                 regexes: tuple[str, ...] = REGEXES) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(_membership(values), _NULL_TESTS,
                     _op(["contains", "starts_with", "ends_with"], st.sampled_from(fragments)),
                     st.sampled_from(regexes).map(lambda v: {"matches": v}))


@cache
def number_tests() -> st.SearchStrategy[dict[str, Any]]:
    bound = st.sampled_from(SIZE_BOUNDS)
    return st.one_of(_membership(SIZE_BOUNDS), _op(["gt", "gte", "lt", "lte"], bound), _NULL_TESTS,
                     st.lists(bound, min_size=2, max_size=2).map(lambda b: {"between": sorted(b)}))


@cache
def timestamp_tests(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """Order tests against date / ISO strings, and within_days / older_than_days from as_of."""
    at = [as_of - timedelta(days=d) for d in (-1, 0, 1, 7, 30, 90)]
    naive = sorted({t.isoformat() for t in at} | {t.date().isoformat() for t in at}
                   | {(as_of - timedelta(days=7, microseconds=1)).isoformat()})
    texts = naive + [(as_of - timedelta(days=7)).isoformat() + "Z",
                     (as_of - timedelta(days=30, hours=-2)).isoformat() + "+02:00"]
    return st.one_of(
        _op(["gt", "gte", "lt", "lte"], st.sampled_from(texts)), _NULL_TESTS,
        # naive ISO strings sort like the instants they name, as `between` checks lo <= hi as text
        st.lists(st.sampled_from(naive), min_size=2, max_size=2).map(lambda b: {"between": sorted(b)}),
        _op(["within_days", "older_than_days"], st.sampled_from((0, 0.5, 1, 7, 30, 90))),
    )


@cache
def property_tests(name: str, as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """Value tests that make sense for contact property ``name``."""
    strings = {"job_title": (JOB_TITLES,), "country": (COUNTRIES,), "email": (EMAILS,),
               "email_domain": (DOMAINS, DOMAIN_FRAGMENTS, DOMAIN_REGEXES)}
    if name in strings:
        return string_tests(*strings[name])
    kind = PROPERTIES[name]
    if kind == "timestamp":
        return timestamp_tests(as_of)
    return number_tests() if kind == "number" else st.one_of(_membership((True, False)), _NULL_TESTS)


# --------------------------------------------------------------------------- conditions


@cache
def property_conditions(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    names = st.sampled_from(sorted(PROPERTIES))
    return names.flatmap(lambda n: property_tests(n, as_of).map(lambda t: {"property": n, **t}))


@cache
def _where_test(column: str) -> st.SearchStrategy[Any]:
    values = URLS if column == "url" else CAMPAIGNS
    return st.one_of(string_tests(values), st.sampled_from(values),  # shorthand for equals
                     st.lists(st.sampled_from(values), min_size=1, max_size=2))  # shorthand for in


_KINDS = st.sampled_from(EVENT_TYPES)
_EVENT_TYPES = st.one_of(_KINDS, st.lists(_KINDS, min_size=1, max_size=3))
# most event leaves have no `where`, so that their counts are often non-zero
_WHERE_COLUMNS: st.SearchStrategy[list[str]] = st.one_of(st.just([]), st.just([]),
                           st.lists(st.sampled_from(sorted(EVENT_SCHEMA)), unique=True, max_size=2))
_K = st.integers(0, 3)
_BAND = _opt(st.one_of(_K.map(lambda n: {"at_least": n}), _K.map(lambda n: {"at_most": n}),
                       _K.map(lambda n: {"exactly": n}),
                       st.lists(_K, min_size=2, max_size=2).map(lambda b: {"between": sorted(b)})))


@st.composite
def event_conditions(draw: st.DrawFn, with_band: bool = True) -> dict[str, Any]:
    """An event leaf: types, ``where``, window and (unless ``with_band`` is false) a count band."""
    cond: dict[str, Any] = {"event": draw(_EVENT_TYPES)}
    columns = draw(_WHERE_COLUMNS)
    if columns:
        cond["where"] = {c: draw(_where_test(c)) for c in columns}
    window = draw(_opt(st.sampled_from(WINDOWS)))
    if window is not None:
        cond["within_days"] = window
    elif draw(st.integers(0, 5)) == 0:
        cond["ever"] = True
    return cond | ((draw(_BAND) or {}) if with_band else {})


@cache
def inactivity_conditions() -> st.SearchStrategy[dict[str, Any]]:
    types = _opt(st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2))
    return st.builds(lambda d, t: {"no_event_within_days": d} | ({"events": t} if t else {}),
                     st.sampled_from((0.5, 1, 7, 30)), types)


@cache
def conditions(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """Any condition: half the time one leaf (so each leaf decides its rule), else leaves nested
    in all / any / not, a few levels deep."""
    leaves = st.one_of(property_conditions(as_of), event_conditions(), inactivity_conditions())
    nested = st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
        inner.map(lambda c: {"not": c}),
    ), max_leaves=5)
    return st.one_of(leaves, nested)


# --------------------------------------------------------------------------- rules and models

_DECAYS = st.one_of(st.sampled_from((0.5, 7, 30, 45.5, 90)).map(lambda h: {"half_life_days": h}),
                    st.sampled_from((3, 10, 33.3, 50, 100)).map(lambda p: {"percent_per_month": p}))
_POINTS = st.sampled_from(POINTS)
_TIER_BOUNDS = st.lists(st.sampled_from((-10, 0, 5, 10, 15, 20, 30, 60)), min_size=1, max_size=4,
                        unique=True)
_BAND_BOUNDS = st.lists(st.sampled_from((-5, 0, 5, 10, 20)), min_size=1, max_size=3, unique=True)


def _given(**items: Any) -> dict[str, Any]:
    return {k: v for k, v in items.items() if v is not None}


@st.composite
def rule_dicts(draw: st.DrawFn, as_of: datetime = AS_OF) -> dict[str, Any]:
    """A rule without its name: ``points`` on any condition, or ``points_per_event`` (+ ``max``)."""
    decay = draw(st.one_of(st.none(), st.just(False), _DECAYS))
    if draw(st.integers(0, 3)) == 0:
        return _given(when=draw(event_conditions(with_band=False)), points_per_event=draw(_POINTS),
                      max=draw(_opt(st.sampled_from((1, 2.5, 10, 30)))), decay=decay)
    return _given(when=draw(conditions(as_of)), points=draw(_POINTS), decay=decay)


def _bounds(draw: st.DrawFn, caps: tuple[float, ...], floors: tuple[float, ...]) -> dict[str, float]:
    cap, floor = draw(_opt(st.sampled_from(caps))), draw(_opt(st.sampled_from(floors)))
    return _given(cap=cap, floor=floor if cap is None or floor is None or floor <= cap else None)


@st.composite
def group_dicts(draw: st.DrawFn, as_of: datetime = AS_OF) -> dict[str, Any]:
    rules = draw(st.lists(rule_dicts(as_of), min_size=1, max_size=4))
    return {"rules": [{"name": f"r{i}", **r} for i, r in enumerate(rules)],
            **_bounds(draw, (0, 5, 10, 25, 50), (-20, -5, 0, 5)), **_given(decay=draw(_opt(_DECAYS)))}


@st.composite
def model_dicts(draw: st.DrawFn, as_of: datetime = AS_OF) -> dict[str, Any]:
    """A model as a YAML file would hold it (validate with ``ScoringModel.model_validate``)."""
    names = draw(st.lists(st.sampled_from(("fit", "engagement", "behaviour")), min_size=1, max_size=3,
                          unique=True))
    model: dict[str, Any] = {"name": "generated", "groups": {n: draw(group_dicts(as_of)) for n in names}}
    model["tiers"] = {f"tier{i}": b for i, b in enumerate(sorted(draw(_TIER_BOUNDS)))}
    model.update(_bounds(draw, (10, 30, 60, 100), (-10, 0, 5)))
    if draw(st.booleans()):
        group = st.sampled_from(names)
        model["matrix"] = {axis: {"group": draw(group), "bands": dict(zip(labels, draw(_BAND_BOUNDS),
                                                                          strict=False))}
                           for axis, labels in (("fit", "ABC"), ("engagement", "123"))}
    return model


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
    """A contact without its id; NULL anywhere, sometimes created (or updated) after ``as_of``."""
    instants = _opt(st.sampled_from(TIMESTAMP_DAYS).map(lambda d: as_of - timedelta(days=d)))
    pools = {"email": EMAILS, "job_title": JOB_TITLES, "company_size": SIZES, "country": COUNTRIES}
    return st.fixed_dictionaries({**{k: _opt(st.sampled_from(v)) for k, v in pools.items()},
                                  "created_at": instants, "updated_at": instants,
                                  "is_customer": _opt(st.booleans())})


@cache
def event_rows(as_of: datetime = AS_OF) -> st.SearchStrategy[dict[str, Any]]:
    """An event without its ids: any type (``bounce`` included), time around ``as_of``."""
    return st.fixed_dictionaries({
        "type": st.sampled_from(EVENT_TYPES + ("bounce",)),
        "occurred_at": _ages().map(lambda micros: as_of - timedelta(microseconds=micros)),
        "url": _opt(st.sampled_from(URLS)), "campaign": _opt(st.sampled_from(CAMPAIGNS)),
    })


@st.composite
def datasets(draw: st.DrawFn, as_of: datetime = AS_OF, max_events: int = 30) -> tuple[Rows, Rows]:
    """Contacts and their events; some events belong to no contact (``ghost``), some lie after as_of."""
    # sizes are drawn first: left to itself, hypothesis keeps most lists very short
    size, count = draw(st.integers(1, 5)), draw(st.integers(0, max_events))
    ids = draw(st.lists(st.sampled_from(CONTACT_IDS), unique=True, min_size=size, max_size=size))
    rows = draw(st.lists(contact_rows(as_of), min_size=size, max_size=size))
    contacts = [{"contact_id": cid, **row} for cid, row in zip(ids, rows, strict=True)]
    # even, or skewed: the first contact owns about half the events, the last very few (where
    # the edges of windows and inactivity decide more often)
    if draw(st.booleans()):
        owners = [cid for k, cid in enumerate(ids) for _ in range(2 ** (size - 1 - k))] + ["ghost"]
    else:
        owners = ids * 4 + ["ghost"]
    drawn = draw(st.lists(st.tuples(st.integers(0, len(owners) - 1), event_rows(as_of)),
                          min_size=count, max_size=count))
    events = [{"event_id": f"e{i}", "contact_id": owners[o], **row} for i, (o, row) in enumerate(drawn)]
    return contacts, events


#: Properties with a history (every stored one but created_at) and the values a change may set.
HISTORY_VALUES: dict[str, tuple[Any, ...]] = {
    "job_title": JOB_TITLES[:4] + ("",), "company_size": SIZES[:5], "country": COUNTRIES[:3],
    "email": EMAILS[:6], "is_customer": (True, False),
}
#: When changes happen, in days before as_of: exactly at it, a microsecond either side, and around.
CHANGE_DAYS = (0.0, 0.0, 1e-6 / 86_400, -1e-6 / 86_400, 0.5, 1.0, 7.0, 30.0, 400.0, -0.5, -3.0)


@st.composite
def property_histories(draw: st.DrawFn, contacts: Rows, as_of: datetime = AS_OF) -> Rows:
    """Recorded changes of some contacts' properties: several per property, some exactly at
    ``as_of``, values that go back and forth (drawn from a few), NULL (cleared), an assumed value
    with no change time; at most one change per (contact, property, moment), as the store keeps."""
    changes: Rows = []
    for contact in contacts:
        if not draw(st.booleans()):
            continue
        names = draw(st.lists(st.sampled_from(sorted(HISTORY_VALUES) + ["updated_at"]), unique=True,
                              min_size=1, max_size=3))
        for name in names:
            pool = (tuple(as_of - timedelta(days=d) for d in (0, 1, 30)) if name == "updated_at"
                    else HISTORY_VALUES[name])
            count = draw(st.integers(1, 4))
            times: dict[datetime | None, Any] = {}
            for _ in range(count):
                days = draw(_opt(st.sampled_from(CHANGE_DAYS)))
                when = None if days is None else as_of - timedelta(microseconds=round(days * MICROS_PER_DAY))
                times[when] = draw(_opt(st.sampled_from(pool)))
            changes += [{"contact_id": contact["contact_id"], "property": name, "value": value,
                         "changed_at": when} for when, value in times.items()]
    return changes


# --------------------------------------------------------------------------- edges of the data


def _derived(contact: dict[str, Any], name: str) -> Any:
    email = contact.get("email")
    domain = email.rsplit("@", 1)[1].lower() or None if email and "@" in email else None
    if name == "email_domain":
        return domain
    if name == "is_free_email":
        return None if domain is None else domain in free_email_domains()
    return contact.get(name)


def _edge_test(draw: st.DrawFn, name: str, value: Any, as_of: datetime) -> dict[str, Any]:
    """A test whose operand is ``value`` itself (or a part of it): the edge of every operator."""
    if value is None:  # an e-mail without a domain
        other = "x" if name == "email_domain" else True
        return draw(st.sampled_from([{"is_empty": True}, {"is_set": True}, {"not_equals": other}]))
    if name == "email_domain":  # the model's values are lower-cased like the domain
        value = draw(st.sampled_from((value, value.upper(), value.title())))
    ops: list[dict[str, Any]]
    if PROPERTIES[name] == "timestamp":
        age = round((as_of - value) / timedelta(microseconds=1)) / MICROS_PER_DAY
        text = value.isoformat()
        ops = [{"gt": text}, {"gte": text}, {"lt": text}, {"lte": text}, {"between": [text, text]},
               {"equals": text}]
        ops += ([{"within_days": age}, {"older_than_days": age}] if age >= 0 else
                [{"within_days": 0}, {"within_days": 30}, {"older_than_days": 0}])
    elif PROPERTIES[name] == "number":
        v = draw(st.sampled_from((value, float(value))))
        ops = [{"gt": v}, {"gte": v}, {"lt": v}, {"lte": v}, {"between": [v, v]}, {"between": [v - 1, v]},
               {"equals": v}, {"not_equals": v}, {"in": [v]}, {"not_in": [v, 12345]}]
    elif PROPERTIES[name] == "boolean":
        ops = [{"equals": value}, {"not_equals": value}, {"in": [value]}, {"not_in": [value]}]
    else:
        cut = draw(st.integers(0, len(value)))
        ops = [{"equals": value}, {"not_equals": value}, {"in": [value, "zz"]}, {"not_in": [value]},
               {"contains": value[cut // 2:cut]}, {"starts_with": value[:cut]}, {"ends_with": value[cut:]},
               {"equals": value.upper()}, {"ends_with": value[cut:].upper()}]
        if all(ch.isalnum() or ch in " /-_%'@" for ch in value[:cut]):
            ops.append({"matches": "^" + value[:cut]})
    return draw(st.sampled_from(ops))


def _event_edge(draw: st.DrawFn, event: dict[str, Any], as_of: datetime) -> dict[str, Any]:
    """A window exactly as old as ``event``: it is just inside ``within_days``, just not quiet."""
    age = (as_of - event["occurred_at"]) / timedelta(microseconds=1) / MICROS_PER_DAY
    return draw(st.sampled_from([
        {"event": event["type"], "within_days": age}, {"no_event_within_days": age},
        {"no_event_within_days": age, "events": [event["type"]]},
        {"event": event["type"], "within_days": age, "exactly": 1},
    ]))


@st.composite
def edge_groups(draw: st.DrawFn, contacts: Rows, events: Rows, as_of: datetime) -> dict[str, Any] | None:
    """One-leaf rules (or their ``not``) on the edges of the data: operands the contacts hold,
    windows as old as their events. None when the data has no edges."""
    found: list[Any] = [(name, c) for c in contacts for name in PROPERTIES
                        if _derived(c, name) is not None or c["email"] and name in DERIVED_SCHEMA]
    found += [e for e in events if e["occurred_at"] < as_of]
    if not found:
        return None
    rules = []
    for i in range(draw(st.integers(2, 10))):
        picked = draw(st.sampled_from(found))
        if isinstance(picked, dict):
            when = _event_edge(draw, picked, as_of)
        else:
            when = {"property": picked[0], **_edge_test(draw, picked[0], _derived(picked[1], picked[0]), as_of)}
        rules.append({"name": f"x{i}", "when": when if draw(st.booleans()) else {"not": when},
                      "points": draw(_POINTS)})
    return {"rules": rules}


def contacts_seen(contacts: Rows, history: Rows, as_of: datetime) -> Rows:
    """The contacts with the values the rules read: their properties as of ``as_of``."""
    by_contact: dict[Any, Rows] = {}
    for change in history:
        by_contact.setdefault(change["contact_id"], []).append(change)
    return [contact_as_of(c, by_contact.get(c["contact_id"], []), as_of) for c in contacts]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Contacts and events, then a model with a group ``edges`` on their edges, and the as_of."""
    as_of = draw(st.sampled_from((AS_OF, datetime(2024, 2, 29, 0, 0, 0, 1))))
    contacts, events = draw(datasets(as_of))
    history = draw(property_histories(contacts, as_of))
    model = draw(model_dicts(as_of))
    edges = draw(edge_groups(contacts_seen(contacts, history, as_of), events, as_of))
    if edges is not None:
        model["groups"]["edges"] = edges
    return Scenario(ScoringModel.model_validate(model), contacts, events, as_of, history)
