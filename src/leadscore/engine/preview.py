"""Try a draft model before publishing it: on one or two leads, or on the whole base.

Without ``as_of`` a preview compares at the as-of of the model's latest score run, so the
"published" side shows the scores the user already sees (not scores decayed to today).

``preview_contacts`` explains each lead under the draft and under the published version of the
same model, rule by rule. ``preview_distribution`` counts how many contacts land in each tier
under both and how many would change tier, without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadscore.engine.explain import Explanation, explain_with_model
from leadscore.engine.limits import Deadline
from leadscore.engine.lookup import find_contact
from leadscore.engine.run import compiled_sql, last_as_of, model_of
from leadscore.model.loader import LoadedModel, contact_model
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow


@dataclass
class RuleDiff:
    group: str
    name: str
    published: float | None  # None: the rule does not exist in that version
    draft: float | None

    @property
    def delta(self) -> float:
        return (self.draft or 0.0) - (self.published or 0.0)


@dataclass
class ContactPreview:
    contact_id: str
    draft: Explanation
    published: Explanation | None
    rules: list[RuleDiff] = field(default_factory=list)

    @property
    def delta(self) -> float:
        return self.draft.total - (self.published.total if self.published else 0.0)

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``leadscore preview --json`` and ``POST /v1/models/preview``."""
        return {"contact_id": self.contact_id, "draft": self.draft.to_dict(),
                "published": self.published.to_dict() if self.published else None,
                "delta": self.delta,
                "rules": [{"group": r.group, "rule": r.name, "published": r.published,
                           "draft": r.draft, "delta": r.delta} for r in self.rules]}


@dataclass
class DistributionPreview:
    model: str
    as_of: datetime
    published_version: int | None
    draft_counts: dict[str, int]
    published_counts: dict[str, int]
    moves: dict[tuple[str | None, str], int]  # (published tier, draft tier) -> contacts

    @property
    def changed_tier(self) -> int:
        return sum(n for (a, b), n in self.moves.items() if a is not None and a != b)

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``leadscore preview --distribution --json`` and the API's preview."""
        return {"model": self.model, "as_of": self.as_of, "published_version": self.published_version,
                "draft": self.draft_counts, "published": self.published_counts,
                "changed_tier": self.changed_tier,
                "moves": [{"from": a, "to": b, "contacts": n} for (a, b), n in self.moves.items()]}


def _when(store: Store, draft: LoadedModel, as_of: datetime | None) -> datetime:
    if as_of is None:
        return last_as_of(store, draft.model.name) or utcnow()
    return as_of


def _rule_diffs(draft: Explanation, published: Explanation | None) -> list[RuleDiff]:
    pub = {(r.group, r.name): r.points for r in published.rules} if published else {}
    out = [RuleDiff(r.group, r.name, pub.get((r.group, r.name)), r.points) for r in draft.rules]
    seen = {(r.group, r.name) for r in draft.rules}
    if published:
        out += [RuleDiff(r.group, r.name, r.points, None) for r in published.rules
                if (r.group, r.name) not in seen]
    return out


def preview_contacts(store: Store, draft: LoadedModel, contact_ids: list[str], *,
                     as_of: datetime | None = None,
                     deadline: Deadline | None = None) -> list[ContactPreview]:
    """Score each contact with the draft and the published model, rule by rule."""
    when = _when(store, draft, as_of)
    published = store.latest_version(draft.model.name)
    out = []
    model = draft.contact_model  # previewing a draft account model on leads has no meaning
    for cid in (find_contact(store, ref) for ref in contact_ids):  # an id, an e-mail or another id column
        d = explain_with_model(store, model, cid, as_of=when, deadline=deadline)
        p = (explain_with_model(store, contact_model(model_of(published)), cid, as_of=when,
                                version=published.version, deadline=deadline) if published else None)
        out.append(ContactPreview(cid, d, p, _rule_diffs(d, p)))
    return out


def preview_distribution(store: Store, draft: LoadedModel, *,
                         as_of: datetime | None = None) -> DistributionPreview:
    """Tier counts under the draft and the published model, and the moves between them."""
    when = _when(store, draft, as_of)
    published = store.latest_version(draft.model.name)
    draft_sql = compiled_sql(store, draft.contact_model, when)
    if published is not None:
        pub_sql = compiled_sql(store, contact_model(model_of(published)), when)
        rows = store.con.execute(
            f"SELECT p.tier, d.tier, count(*) FROM ({draft_sql}) d "
            f"LEFT JOIN ({pub_sql}) p USING (contact_id) GROUP BY ALL"
        ).fetchall()
    else:
        rows = store.con.execute(
            f"SELECT NULL, d.tier, count(*) FROM ({draft_sql}) d GROUP BY ALL").fetchall()
    moves = {(a, b): int(n) for a, b, n in rows}
    draft_counts = {t: 0 for t in draft.model.tiers}
    pub_counts: dict[str, int] = {t: 0 for t in model_of(published).tiers} if published else {}
    for (a, b), n in moves.items():
        draft_counts[b] = draft_counts.get(b, 0) + n
        if a is not None:
            pub_counts[a] = pub_counts.get(a, 0) + n
    return DistributionPreview(draft.model.name, when, published.version if published else None,
                               draft_counts, pub_counts, moves)
