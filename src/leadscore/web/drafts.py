"""Saved drafts: a model's text kept between editing sessions, never scored until it is published.

One draft per model name (the editor's slot); saving replaces it, publishing removes it. A draft
may not validate yet: it is work in progress, which is why it is kept apart from
``model_versions`` (every row there is a version that scored someone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from leadscore.errors import LeadscoreError
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

SLOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_TEXT = 200_000


@dataclass(frozen=True)
class Draft:
    model: str
    text: str
    saved_by: str
    saved_at: datetime


def check_slot(name: str) -> str:
    """A model name as the editor's address holds it (letters, digits, ``_ . -``)."""
    if not SLOT.match(name):
        raise LeadscoreError(f"bad model name {name!r}: use letters, digits, _ . - (at most 100)")
    return name


def saved_draft(store: Store, model: str) -> Draft | None:
    row = store.con.execute("SELECT model, text, saved_by, saved_at FROM model_drafts WHERE model = ?",
                            [model]).fetchone()
    return Draft(*row) if row else None


def saved_drafts(store: Store) -> dict[str, Draft]:
    rows = store.con.execute("SELECT model, text, saved_by, saved_at FROM model_drafts ORDER BY model").fetchall()
    return {r[0]: Draft(*r) for r in rows}


def save_draft(store: Store, model: str, text: str, saved_by: str) -> Draft:
    """Keep ``text`` as the draft of ``model`` (replacing the one saved before), in one transaction."""
    check_slot(model)
    if not text.strip():
        raise LeadscoreError("the draft is empty: nothing to save")
    if len(text) > MAX_TEXT:
        raise LeadscoreError(f"the draft is too long ({len(text):,} characters; at most {MAX_TEXT:,})")
    draft = Draft(model, text, saved_by, utcnow())
    with store.transaction() as con:
        con.execute("DELETE FROM model_drafts WHERE model = ?", [model])
        con.execute("INSERT INTO model_drafts VALUES (?, ?, ?, ?)", [model, text, saved_by, draft.saved_at])
    return draft


def discard_draft(store: Store, model: str) -> None:
    store.con.execute("DELETE FROM model_drafts WHERE model = ?", [model])
