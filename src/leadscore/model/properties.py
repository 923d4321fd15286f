"""What a model may refer to: contact properties, derived properties, event types and their types.

The store adds custom columns at import time; ``model.validate`` checks a model against the real
columns of a workspace, falling back to these built-ins when no store is at hand (``compile``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

#: Built-in contact columns and their logical types (string, number, boolean, timestamp).
CONTACT_COLUMNS: dict[str, str] = {
    "contact_id": "string",
    "email": "string",
    "first_name": "string",
    "last_name": "string",
    "job_title": "string",
    "company": "string",
    "company_size": "number",
    "industry": "string",
    "country": "string",
    "city": "string",
    "phone": "string",
    "website": "string",
    "lifecycle_stage": "string",
    "lead_source": "string",
    "owner": "string",
    "created_at": "timestamp",
    "updated_at": "timestamp",
}

#: Built-in columns of ``companies`` and their logical types (imports add custom ones).
COMPANY_COLUMNS: dict[str, str] = {
    "company_id": "string",
    "name": "string",
    "domain": "string",
    "industry": "string",
    "employees": "number",
    "annual_revenue": "number",
    "country": "string",
    "city": "string",
    "owner": "string",
    "created_at": "timestamp",
    "updated_at": "timestamp",
}

#: Properties computed from others in SQL (never stored): name -> (type, what it is).
DERIVED_PROPERTIES: dict[str, tuple[str, str]] = {
    "email_domain": ("string", "lower-cased part of `email` after the last @"),
    "is_free_email": ("boolean", "email_domain is in the shipped list of free-mail domains"),
}

#: Built-in event columns (beyond these, imports add typed custom columns).
EVENT_COLUMNS: dict[str, str] = {
    "event_id": "string",
    "contact_id": "string",
    "type": "string",
    "occurred_at": "timestamp",
    "url": "string",
    "referrer": "string",
    "campaign": "string",
    "form": "string",
    "email_subject": "string",
    "source": "string",
}

#: Event types the language knows without seeing them in the store (others give a warning).
KNOWN_EVENT_TYPES: tuple[str, ...] = (
    "page_view", "email_open", "email_click", "email_reply", "form_submit", "webinar_registered",
    "webinar_attended", "demo_request", "content_download", "trial_signup", "meeting_booked",
    "chat", "unsubscribe", "bounce", "spam_report", "product_login",
)

#: Columns that describe the event itself, not a property usable in `where`.
EVENT_SYSTEM_COLUMNS = ("event_id", "contact_id", "type", "occurred_at", "imported_at")


@lru_cache(maxsize=1)
def free_email_domains() -> tuple[str, ...]:
    """The shipped list of free-mail domains (``is_free_email``), lower-case and sorted."""
    text = resources.files("leadscore.data").joinpath("free_email_domains.txt").read_text("utf-8")
    return tuple(sorted({ln.strip().lower() for ln in text.splitlines()
                         if ln.strip() and not ln.startswith("#")}))
