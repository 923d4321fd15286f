"""Why a contact has its score: every rule, its raw and decayed points, matched events, caps.

The numbers come from the compiled query itself (run with ``detail=True`` for one contact), so
they add up to exactly what a score run stores. The list of events behind each rule comes from
the reference scorer, which the differential test keeps in agreement with the SQL.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from leadscore.compiler import compile_model
from leadscore.engine.account_sql import contact_model_names
from leadscore.engine.limits import Deadline
from leadscore.engine.lookup import find_contact
from leadscore.engine.reference import score_reference
from leadscore.engine.run import compiled_sql, history_table, model_of
from leadscore.errors import NotFoundError
from leadscore.model.conditions import AllCondition, AnyCondition, Condition, NotCondition, PropertyCondition
from leadscore.model.loader import contact_model
from leadscore.model.properties import DERIVED_PROPERTIES
from leadscore.model.spec import ScoringModel
from leadscore.storage.history import assumed_values
from leadscore.storage.store import Store, used_params
from leadscore.timeutil import epoch_micros, utcnow

if TYPE_CHECKING:
    from leadscore.engine.explain_accounts import CompanyPart

MAX_EVENTS_PER_RULE = 10


@dataclass
class RuleExplanation:
    group: str
    name: str
    fired: bool
    points: float
    raw: float
    count: int | None
    matched_events: list[dict[str, Any]] = field(default_factory=list)
    #: properties the rule read whose value as of the explanation's instant was *assumed*: the
    #: value first imported, with no change time, taken to hold since the contact's created_at
    #: (docs/model-reference.md "Properties as of a date"); property -> value as text
    assumed: dict[str, str] = field(default_factory=dict)

    @property
    def decayed_by(self) -> float:
        return self.raw - self.points if self.fired else 0.0


@dataclass
class GroupExplanation:
    name: str
    rules_sum: float
    points: float
    cap: float | None
    floor: float | None

    @property
    def clamped(self) -> bool:
        return abs(self.rules_sum - self.points) > 1e-9


@dataclass
class PredictionPart:
    """The contact's stored prediction (``leadscore predict``), shown beside the rule part."""

    model: str
    model_version: int
    probability: float
    priority: str
    positive: list[str]
    negative: list[str]
    as_of: datetime
    #: ``(1 - weight) × total + weight × 100 × probability`` when the model file asks for it.
    blended: float | None = None


@dataclass
class Explanation:
    contact_id: str
    model: str
    model_version: int | None
    as_of: datetime
    total: float
    tier: str
    grade: str | None
    groups: list[GroupExplanation]
    rules: list[RuleExplanation]
    groups_sum: float
    stored_score: float | None = None
    stored_as_of: datetime | None = None
    prediction: PredictionPart | None = None
    #: the contact's company and its stored account scores, when it belongs to one
    company: CompanyPart | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for g, raw in zip(data["groups"], self.groups, strict=True):
            g["clamped"] = raw.clamped
        return data

    def reasons(self, n: int = 3) -> list[str]:
        """The rules that moved the score most, as short phrases for a sales rep."""
        fired = sorted((r for r in self.rules if r.fired and r.points), key=lambda r: -abs(r.points))
        return [reason_phrase(r) for r in fired[:n]]


def reason_phrase(rule: RuleExplanation) -> str:
    """``pricing page +15``, ``email opens (4×) +8``: one fired rule as a rep reads it."""
    sign = "+" if rule.points > 0 else "−"
    detail = f" ({rule.count}×)" if rule.count and rule.count > 1 else ""
    return f"{rule.name}{detail} {sign}{abs(rule.points):.0f}"


def _contact_and_events(store: Store, contact_id: str, as_of: datetime) -> tuple[dict[str, Any],
                                                                                 list[dict[str, Any]]]:
    cur = store.con.execute("SELECT * FROM contacts WHERE contact_id = ?", [contact_id])
    row = cur.fetchone()
    if row is None:
        raise NotFoundError(f"no contact with id `{contact_id}`")
    names = [d[0] for d in cur.description]
    contact = dict(zip(names, row, strict=True))
    cur = store.con.execute(
        "SELECT * FROM events WHERE contact_id = ? AND occurred_at <= ? ORDER BY occurred_at DESC",
        [contact_id, as_of],
    )
    names = [d[0] for d in cur.description]
    events = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return contact, events


#: (model, store columns, history) → the model's detail query with the as-of and contacts as parameters
_DETAIL_SQL: dict[tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], str | None], str] = {}


def _detail_sql(store: Store, model: ScoringModel, history: str | None = None) -> str:
    """The detail query of ``model`` for this store's columns, compiled once and bound per call.

    Compiling costs tens of milliseconds (most of a lead page's time); binding costs nothing. The
    key is the model's canonical JSON, so a draft and a published version with the same rules
    share it, and a changed rule compiles anew. ``history``: the property history table, when the
    as-of needs it (``engine.run.history_table``).
    """
    contacts, events = store.scoring_columns()
    key = (model.model_dump_json(), tuple(contacts.items()), tuple(events.items()), history)
    sql = _DETAIL_SQL.get(key)
    if sql is None:
        sql = compile_model(model, as_of=datetime(1970, 1, 1), dialect="duckdb", detail=True, params=True,
                            contact_columns=contacts, event_columns=events,
                            history_table=history).sql(dialect="duckdb")
        if len(_DETAIL_SQL) >= 64:
            _DETAIL_SQL.clear()
        _DETAIL_SQL[key] = sql
    return sql


def explain_with_model(store: Store, model: ScoringModel, contact_id: str, *,
                       as_of: datetime | None = None, version: int | None = None,
                       deadline: Deadline | None = None) -> Explanation:
    """Explain one contact under any model (published or draft) at ``as_of`` (default now).

    With a ``deadline`` (the API's), the work stops with ``TimeLimitError`` once it is past.
    """
    deadline = deadline or Deadline.none()
    when = as_of or utcnow()
    contact, events = _contact_and_events(store, contact_id, when)
    if store.scored_by is not None:  # a store mirroring an external engine: that engine answers the query
        cur = store.con.execute(compiled_sql(store, model, when, contact_id=contact_id, detail=True))
    else:
        sql = _detail_sql(store, model, history_table(store, when))
        cur = store.con.execute(sql, used_params(sql, {"as_of": when, "as_of_us": epoch_micros(when),
                                                       "contact_ids": [contact_id]}))
    row = cur.fetchone()
    if row is None:
        raise NotFoundError(
            f"contact `{contact_id}` is not scored at {when:%Y-%m-%d %H:%M}: it was created later"
        )
    values = dict(zip([d[0] for d in cur.description], row, strict=True))
    deadline.check()
    reference = score_reference(model, contact, events, when)
    deadline.check()
    read = {i: _properties_read(rule.when, contact) for i, (_, rule) in enumerate(model.rules())}
    assumed = assumed_values(store.con, contact_id, [p for ps in read.values() for p in ps], when)
    rules: list[RuleExplanation] = []
    for i, (group, rule) in enumerate(model.rules()):
        matched = [
            {k: v for k, v in e.items() if v is not None and k != "contact_id"}
            for e in reference.rules[i].matched[:MAX_EVENTS_PER_RULE]
        ]
        rules.append(RuleExplanation(
            group=group, name=rule.name, fired=bool(values[f"rf_{i}"]),
            points=float(values[f"r_{i}"] or 0.0), raw=float(values[f"rraw_{i}"] or 0.0),
            count=values[f"rn_{i}"], matched_events=matched,
            assumed={p: assumed[p] for p in read[i] if p in assumed},
        ))
    groups = []
    for gi, (group_name, spec) in enumerate(model.groups.items()):
        rules_sum = sum(r.points for r in rules if r.group == group_name)
        groups.append(GroupExplanation(group_name, rules_sum, float(values[f"g_{gi}"]), spec.cap, spec.floor))
    return Explanation(
        contact_id=contact_id, model=model.name, model_version=version, as_of=when,
        total=float(values["score"]), tier=values["tier"], grade=values["grade"], groups=groups,
        rules=rules, groups_sum=sum(g.points for g in groups),
    )


def _properties_read(cond: Condition, contact: dict[str, Any]) -> list[str]:
    """The stored properties a condition reads (a derived one reads ``email``, unless stored)."""
    if isinstance(cond, PropertyCondition):
        name = cond.property
        return [name if name in contact or name not in DERIVED_PROPERTIES else "email"]
    if isinstance(cond, AllCondition | AnyCondition):
        parts = cond.all if isinstance(cond, AllCondition) else cond.any
        return [p for part in parts for p in _properties_read(part, contact)]
    if isinstance(cond, NotCondition):
        return _properties_read(cond.not_, contact)
    return []


def explain_contact(store: Store, contact_id: str, *, model: str | None = None,
                    as_of: datetime | None = None, deadline: Deadline | None = None) -> Explanation:
    """Explain the stored score of a contact: by default at the as-of and version that made it.

    ``contact_id`` may also be the contact's e-mail or a value of another id column (``engine/lookup.py``).
    The explanation also carries the contact's company and its account scores (``company``).
    """
    names = [model] if model else contact_model_names(store)
    if not names:
        raise NotFoundError("no published model yet; run `leadscore publish models/NAME.yml`")
    contact_id = find_contact(store, contact_id)
    name = names[0]
    stored = store.con.execute(
        "SELECT model_version, score, as_of FROM scores WHERE model = ? AND contact_id = ?",
        [name, contact_id],
    ).fetchone()
    if as_of is None and stored is not None:
        version = store.get_version(name, stored[0])
        when: datetime | None = stored[2]
    else:
        version = store.get_version(name)
        when = as_of
    scoring_model = contact_model(model_of(version), version.file or version.model)
    result = explain_with_model(store, scoring_model, contact_id, as_of=when, version=version.version,
                                deadline=deadline)
    if stored is not None:
        result.stored_score, result.stored_as_of = float(stored[1]), stored[2]
    blend = scoring_model.predictive
    result.prediction = stored_prediction(store, contact_id, blend.model if blend else None)
    if blend is not None and result.prediction is not None:
        probability = result.prediction.probability
        result.prediction.blended = (1 - blend.weight) * result.total + blend.weight * 100 * probability
    from leadscore.engine.explain_accounts import company_part  # it imports this module

    result.company = company_part(store, contact_id)
    return result


def stored_prediction(store: Store, contact_id: str, model: str | None = None) -> PredictionPart | None:
    """The contact's latest prediction (of ``model``, or of any), read from the predictions table,
    which is empty until `leadscore predict` runs."""
    row = store.con.execute(
        "SELECT model, model_version, probability, priority, factors, as_of FROM predictions "
        "WHERE contact_id = ? AND (? IS NULL OR model = ?) ORDER BY computed_at DESC, model LIMIT 1",
        [contact_id, model, model]).fetchone()
    if row is None:
        return None
    factors = json.loads(row[4]) if row[4] else {}
    return PredictionPart(row[0], row[1], float(row[2]), row[3],
                          [f["factor"] for f in factors.get("positive", [])],
                          [f["factor"] for f in factors.get("negative", [])], row[5])
