"""Feedback on a score from the field: "looks right", "too high" or "too low".

A rep gives it on the lead page, a CRM through ``POST /v1/contacts/{id}/feedback``. Each row keeps
what the verdict was about: the model version, score and tier stored at that moment, and the rules
that had fired (as ``leadscore explain`` shows them), so publishing a new version later does not
change what the rep was judging. ``reports.feedback_audit`` turns the disputes into findings
(which rules fire far more often on leads called over- or under-scored).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from leadscore.engine.account_sql import contact_model_names
from leadscore.engine.explain import explain_contact
from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

VERDICTS = {"right": "score looks right", "too_high": "score too high", "too_low": "score too low"}
OUTCOMES = {"not_a_fit": "not a fit", "already_customer": "already a customer", "converted": "converted"}
SOURCES = ("dashboard", "api")
MAX_REASON = 2000


@dataclass
class Feedback:
    feedback_id: str
    contact_id: str
    model: str
    model_version: int
    score: float
    tier: str
    verdict: str
    reason: str | None
    outcome: str | None
    author: str
    source: str
    created_at: datetime
    rules_fired: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict_words(self) -> str:
        return VERDICTS.get(self.verdict, self.verdict)

    @property
    def outcome_words(self) -> str | None:
        return OUTCOMES.get(self.outcome, self.outcome) if self.outcome else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = ("feedback_id, contact_id, model, model_version, score, tier, verdict, reason, outcome, author, "
            "source, created_at, rules_fired")


def _feedback(row: tuple[Any, ...]) -> Feedback:
    return Feedback(*row[:12], rules_fired=json.loads(row[12]) if row[12] else [])  # type: ignore[misc]


def check_feedback(verdict: str, outcome: str | None, reason: str | None) -> tuple[str | None, str | None]:
    """The reason and outcome as stored; a LeadscoreError naming what is wrong."""
    if verdict not in VERDICTS:
        raise LeadscoreError(f"unknown verdict {verdict!r}: use one of {', '.join(VERDICTS)}")
    if outcome is not None and outcome != "" and outcome not in OUTCOMES:
        raise LeadscoreError(f"unknown outcome {outcome!r}: use one of {', '.join(OUTCOMES)} (or none)")
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise LeadscoreError(f"the reason is too long ({len(text)} characters; at most {MAX_REASON})")
    return text or None, outcome or None


def record_feedback(store: Store, contact_id: str, *, verdict: str, author: str, source: str,
                    model: str | None = None, reason: str | None = None,
                    outcome: str | None = None) -> Feedback:
    """Store a verdict on the contact's current score under ``model`` (default: the first published
    model that scored it). NotFoundError for an unknown contact; LeadscoreError when it has no score."""
    reason, outcome = check_feedback(verdict, outcome, reason)
    if source not in SOURCES:
        raise LeadscoreError(f"unknown feedback source {source!r}")
    if store.con.execute("SELECT 1 FROM contacts WHERE contact_id = ?", [contact_id]).fetchone() is None:
        raise NotFoundError(f"no contact with id `{contact_id}`")
    published = contact_model_names(store)  # account models score companies, not this contact
    if model is not None and model not in published:
        raise NotFoundError(f"no published model `{model}` (published: {', '.join(published) or 'none yet'})")
    row = store.con.execute(
        "SELECT model, model_version, score, tier FROM scores WHERE contact_id = ? AND (? IS NULL OR model = ?) "
        "ORDER BY model LIMIT 1", [contact_id, model, model]).fetchone()
    if row is None:
        which = f"model `{model}`" if model else "any model"
        raise LeadscoreError(f"contact `{contact_id}` has no score under {which} yet: run `leadscore score` first")
    name, version, score, tier = row
    explanation = explain_contact(store, contact_id, model=name)
    fired = [{"group": r.group, "rule": r.name, "points": r.points} for r in explanation.rules if r.fired]
    item = Feedback(f"fb_{uuid.uuid4().hex[:16]}", contact_id, name, int(version), float(score), tier, verdict,
                    reason, outcome, author[:200], source, utcnow(), fired)
    store.con.execute(f"INSERT INTO feedback ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      [item.feedback_id, item.contact_id, item.model, item.model_version, item.score, item.tier,
                       item.verdict, item.reason, item.outcome, item.author, item.source, item.created_at,
                       json.dumps(fired)])
    return item


def feedback_of(store: Store, contact_id: str, *, model: str | None = None, limit: int = 100) -> list[Feedback]:
    """The contact's feedback, newest first."""
    rows = store.con.execute(
        f"SELECT {_COLUMNS} FROM feedback WHERE contact_id = ? AND (? IS NULL OR model = ?) "
        "ORDER BY created_at DESC, feedback_id DESC LIMIT ?", [contact_id, model, model, limit]).fetchall()
    return [_feedback(r) for r in rows]


def disputed(store: Store, *, model: str, verdict: str, limit: int = 50, offset: int = 0
             ) -> tuple[list[Feedback], int]:
    """Each contact's latest feedback on ``model`` when its verdict is ``verdict``, newest first;
    with the number of such contacts (for paging)."""
    latest = f"""SELECT {_COLUMNS} FROM feedback WHERE model = $model
                 QUALIFY row_number() OVER (PARTITION BY contact_id ORDER BY created_at DESC, feedback_id DESC) = 1"""
    params: dict[str, Any] = {"model": model, "verdict": verdict}
    total = store.con.execute(f"SELECT count(*) FROM ({latest}) WHERE verdict = $verdict", params).fetchone()
    rows = store.con.execute(
        f"SELECT * FROM ({latest}) WHERE verdict = $verdict ORDER BY created_at DESC, feedback_id DESC "
        "LIMIT $limit OFFSET $offset", {**params, "limit": limit, "offset": offset}).fetchall()
    return [_feedback(r) for r in rows], int(total[0]) if total else 0


def verdict_counts(store: Store, model: str) -> dict[str, int]:
    """Contacts per verdict of their latest feedback on ``model``."""
    rows = store.con.execute(
        """SELECT verdict, count(*) FROM (SELECT arg_max(verdict, created_at) AS verdict FROM feedback
           WHERE model = ? GROUP BY contact_id) GROUP BY verdict""", [model]).fetchall()
    counts = dict.fromkeys(VERDICTS, 0)
    counts.update({v: int(n) for v, n in rows})
    return counts
