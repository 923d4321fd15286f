"""What the API writes, as jobs for the single writer: events and contact properties.

Each function runs inside the writer's transaction (``api/writer.py``) and returns the contacts
to rescore; the writer rescores them at the end of the group, in the same transaction, so an
event, the contact it creates, that contact's new scores and history rows and any workflow
actions queued by a tier crossing commit together or not at all.

Contacts are resolved as the importer resolves them, by the rules of ``storage/identity.py``:
``contact_id`` when given; else the stored contact with that e-mail (case-insensitive); else a new
contact whose id is ``c_`` + the first 16 hex digits of sha1 of the e-mail key, the id an import
would give it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from leadscore.api.stored_keys import StoredKeys, stored_among
from leadscore.api.stored_keys import hashes as _hash_keys
from leadscore.api.values import NewEvent
from leadscore.storage.history import change_instant, record_initial_values, write_properties
from leadscore.storage.identity import email_contact_id, email_key, email_key_sql
from leadscore.storage.sql_names import quoted
from leadscore.storage.store import Store
from leadscore.storage.types import TypeKind, type_kind

#: how values checked by ``values.coerce`` travel to DuckDB, by kind of column (DuckDB casts on insert)
ARROW_TYPES: dict[TypeKind, pa.DataType] = {
    "string": pa.string(), "integer": pa.int64(), "float": pa.float64(), "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"), "other": pa.string(),
}


#: up to this many values are bound one by one (``IN (?, ?)``, ``VALUES (...), (...)``): DuckDB plans
#: those faster than a list parameter or an Arrow scan, which win for larger requests.
SMALL = 32


def _in(column: str, values: list[str]) -> tuple[str, list[Any]]:
    """``column IN (...)`` for a request's values, bound as parameters."""
    if len(values) <= SMALL:
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)
    return f"{column} IN (SELECT unnest(?))", [values]


def _insert_rows(store: Store, table: str, columns: dict[str, list[Any]], types: Mapping[str, pa.DataType],
                 returning: Sequence[str] = ()) -> pa.Table | None:
    """One INSERT of column-wise rows: bound values when few, an Arrow table when many; with
    ``returning``, those columns of the rows as stored (DuckDB's casts applied)."""
    names = list(columns)
    listed = ", ".join(quoted(c) for c in names)
    back = f" RETURNING {', '.join(quoted(c) for c in returning)}" if returning else ""

    def insert(text: str, params: list[Any] | None = None) -> pa.Table | None:
        if not returning:
            store.con.execute(text, params)
            return None
        returned = store.con.sql(text, params=params)  # executed here, once; its rows materialised
        return returned.to_arrow_table() if returned is not None else None

    n = len(columns[names[0]])
    if n <= SMALL:
        row = "(" + ", ".join("?" * len(names)) + ")"
        params = [columns[c][i] for i in range(n) for c in names]
        return insert(f"INSERT INTO {table} ({listed}) VALUES {', '.join([row] * n)}{back}", params)
    arrow = pa.table({c: pa.array(columns[c], types.get(c, pa.string())) for c in names})
    store.con.register("_api_rows", arrow)
    try:
        return insert(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM _api_rows{back}")
    finally:
        store.con.unregister("_api_rows")


@dataclass
class EventsWritten:
    results: list[tuple[str, str, bool]] = field(default_factory=list)  # event_id, contact_id, created
    rescore: list[str] = field(default_factory=list)  # contacts with new events
    created_contacts: int = 0
    scores: list[dict[str, Any]] | None = None

    @property
    def contacts(self) -> list[str]:
        return list(dict.fromkeys(cid for _, cid, _ in self.results))


def resolve_contacts(store: Store, events: list[NewEvent]) -> None:
    """Fill in ``contact_id`` of events identified only by e-mail."""
    emails = sorted({email_key(e.email) for e in events if e.contact_id is None and e.email})
    found: dict[str, str] = {}
    if emails:
        key = email_key_sql("email")
        rows = store.con.execute(
            f"SELECT {key}, min(contact_id) FROM contacts WHERE {key} IN (SELECT unnest($emails)) GROUP BY 1",
            {"emails": emails}).fetchall()
        found = dict(rows)
    for e in events:
        if e.contact_id is None and e.email:
            e.contact_id = found.get(email_key(e.email)) or email_contact_id(e.email)


class EmailContacts:
    """Contact ids for the e-mail addresses of a batch of identifies: one query for the batch.

    Answers as ``SELECT min(contact_id) FROM contacts WHERE lower(trim(email)) = ?`` would, asked
    once per identify in order, but with one query up front. Identifies of a batch run in order
    and may set contacts' e-mails (a new contact, or a trait), which a later identify must see, so
    the query loads every contact of the batch's addresses, not just the smallest id, and
    ``wrote`` keeps those groups current, with keys folded as DuckDB folds them (``textfold``),
    so a non-ASCII address needs no second query.

        emails = EmailContacts(store, ["Ann@Acme.com", "new@x.io"])  # one query
        emails.contact_for(None, "ann@acme.com")  # 'c1', the smallest id stored with that e-mail
        emails.contact_for(None, "new@x.io")      # 'c_…', the e-mail's hash, as an import gives
    """

    def __init__(self, store: Store, emails: Iterable[str]):
        self._store = store
        self._keys = sorted({email_key(e) for e in emails})
        self._members: dict[str, set[str]] = {}  # lookup key -> ids of contacts with that e-mail
        self._key_of: dict[str, str] = {}  # contact id -> its key, for contacts in _members
        self._load()

    def _load(self) -> None:
        self._members = {k: set() for k in self._keys}
        self._key_of = {}
        if not self._keys:
            return
        where, params = _in(email_key_sql("email"), self._keys)
        rows = self._store.con.execute(
            f"SELECT {email_key_sql('email')}, contact_id FROM contacts WHERE {where}", params).fetchall()
        for key, contact_id in rows:
            self._members[key].add(contact_id)
            self._key_of[contact_id] = key

    def contact_for(self, contact_id: str | None, email: str | None) -> str:
        """``contact_id`` when given; else the smallest id with that e-mail; else the e-mail's hash."""
        if contact_id:
            return contact_id
        assert email, "a contact needs an id or an e-mail address"
        key = email_key(email)
        if key not in self._members:  # an address the batch did not announce: one more query
            self._keys.append(key)
            self._load()
        ids = self._members[key]
        found = min(ids) if ids else None  # str order is code-point order, as DuckDB's on UTF-8
        return found if found else email_contact_id(email)

    def wrote(self, contact_id: str, values: Mapping[str, Any]) -> None:
        """Note that the batch wrote ``values`` to a contact (created it or changed properties)."""
        if "email" not in values:
            return
        old = self._key_of.pop(contact_id, None)
        if old is not None:
            self._members[old].discard(contact_id)
        email = values["email"]
        if email is None:
            return
        if not isinstance(email, str):
            self._load()  # not text: let DuckDB say which group it falls in
            return
        key = email_key(email)  # DuckDB's lower(trim()), non-ASCII included (textfold)
        if key in self._members:
            self._members[key].add(contact_id)
            self._key_of[contact_id] = key


def contact_for(store: Store, contact_id: str | None, email: str | None) -> str:
    """One contact's id from an id or an e-mail address, as ``resolve_contacts`` finds it."""
    return EmailContacts(store, [email] if email and not contact_id else []).contact_for(contact_id, email)


def ensure_contacts(store: Store, first_seen: Mapping[str, tuple[datetime, str | None]], now: datetime,
                    known: StoredKeys | None = None) -> int:
    """Create the contacts that do not exist yet; returns how many were created.

    A new contact's ``created_at`` is its earliest event in the request (never later than now),
    so as-of scoring counts it from when it was first seen. ``known`` (the server's) answers which
    contacts exist from memory (contacts have no index, see api/stored_keys.py).
    """
    ids = list(first_seen)
    if not ids:
        return 0
    existing, hashes = stored_among(store, known, "contacts", "contact_id", ids)
    new = [(cid, email, min(when, now)) for cid, (when, email) in first_seen.items() if cid not in existing]
    if new:
        _insert_rows(store, "contacts", {
            "contact_id": [n[0] for n in new], "email": [n[1] for n in new],
            "created_at": [n[2] for n in new], "updated_at": [now] * len(new),
        }, {"created_at": pa.timestamp("us"), "updated_at": pa.timestamp("us")})
        if known is not None:
            known.added([hashes[n[0]] for n in new])
    return len(new)


def write_events(store: Store, events: list[NewEvent], column_types: Mapping[str, str], *,
                 now: datetime, known: StoredKeys | None = None,
                 known_contacts: StoredKeys | None = None) -> EventsWritten:
    """Write a request's events (skipping stored ids) and create new contacts.

    Returns each event's id and status and, in ``rescore``, the contacts that got new events.
    ``known`` / ``known_contacts`` (the server's) answer which event ids and contacts are stored
    from memory (see api/stored_keys.py); without them the store is asked.
    """
    out = EventsWritten()
    ids: list[str] = []
    for e in events:  # before resolving: the importer hashes the e-mail, not the id it finds
        e.event_id = e.event_id or e.generated_id()
        ids.append(e.event_id)
    resolve_contacts(store, events)
    stored, hashes = stored_among(store, known, "events", "event_id", ids)
    fresh: list[NewEvent] = []
    seen: set[str] = set()
    for e in events:
        assert e.event_id is not None and e.contact_id is not None
        created = e.event_id not in stored and e.event_id not in seen
        seen.add(e.event_id)
        out.results.append((e.event_id, e.contact_id, created))
        if created:
            fresh.append(e)
    first_seen: dict[str, tuple[datetime, str | None]] = {}
    for e in fresh:
        assert e.contact_id is not None
        when, email = first_seen.get(e.contact_id, (e.occurred_at, e.email))
        first_seen[e.contact_id] = (min(when, e.occurred_at), email or e.email)
    out.created_contacts = ensure_contacts(store, first_seen, now, known_contacts)
    if fresh:
        _insert_events(store, fresh, column_types)
        if known is not None:
            known.added([hashes[e.event_id] for e in fresh if e.event_id is not None])
        out.rescore = list(first_seen)
    return out


def _insert_events(store: Store, events: list[NewEvent], column_types: Mapping[str, str]) -> None:
    """One INSERT for the request's new events, typed like the ``events`` table."""
    props = sorted({name for e in events for name in e.properties})
    columns: dict[str, list[Any]] = {
        "event_id": [e.event_id for e in events], "contact_id": [e.contact_id for e in events],
        "type": [e.type for e in events], "occurred_at": [e.occurred_at for e in events],
    }
    types: dict[str, pa.DataType] = {"occurred_at": pa.timestamp("us")}
    for name in props:
        types[name] = ARROW_TYPES[type_kind(column_types[name])]
        values = [e.properties.get(name) for e in events]
        if types[name] == pa.string():
            values = [None if v is None else str(v) for v in values]
        columns[name] = values
    memory = store.events_memory  # the server's copy of the scoring columns learns the rows as stored
    returning = ("contact_id", *memory.columns) if memory is not None and not memory.broken else ()
    stored = _insert_rows(store, "events", columns, types, returning)
    if memory is not None and stored is not None:
        memory.appended(store, stored)


def upsert_contact(store: Store, contact_id: str, values: Mapping[str, Any], *,
                   now: datetime, known: StoredKeys | None = None, changed_at: datetime | None = None,
                   source: str = "api") -> tuple[bool, bool]:
    """Create or update one contact's properties (the caller rescores it if it changed).

    Returns (created, changed). Values equal to the stored ones change nothing (no rescore, no
    ``updated_at`` bump, no history), so repeating a PUT is harmless. Each change goes into the
    property history (``storage/history.py``), true from ``changed_at`` (default ``now``). A new
    contact's values are assumed to have held since its ``created_at``, unless ``changed_at`` says
    from when: then they are changes at that moment, and the contact (unless the values name its
    ``created_at`` / ``updated_at``) was created and last updated then, not at ``now``.
    """
    con = store.con
    if con.execute("SELECT 1 FROM contacts WHERE contact_id = ?", [contact_id]).fetchone() is not None:
        changed = write_properties(con, contact_id, values, source=source, now=now, changed_at=changed_at,
                                   bump_updated_at=True)
        return False, bool(changed)
    quoted = ['"' + n.replace('"', '""') + '"' for n in values]
    cols = ["contact_id", *quoted]
    params: list[Any] = [contact_id, *values.values()]
    # a contact first heard of with a past timestamp existed by then: its traits are recorded at
    # that moment, and a created_at after them would hide them from every score as of before now
    born = change_instant(changed_at, now)
    if "created_at" not in values:
        cols.append("created_at")
        params.append(born)
    if "updated_at" not in values:
        cols.append("updated_at")
        params.append(born)
    con.execute(f"INSERT INTO contacts ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", params)
    if known is not None:  # keeps the server's contact hashes in step (else it reloads them)
        known.added(list(_hash_keys(store, [contact_id]).values()))
    if changed_at is not None:
        record_initial_values(con, contact_id, list(values), changed_at=changed_at, source=source, now=now)
    return True, True
