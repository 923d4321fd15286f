"""Explain, preview and the API find a contact by its id, its e-mail or another id column (engine/lookup.py)."""

from __future__ import annotations

import pytest

from leadscore.engine.lookup import find_contact
from leadscore.errors import NotFoundError
from leadscore.storage.store import Store


@pytest.fixture
def store() -> Store:
    s = Store.open(":memory:")
    s.con.execute('ALTER TABLE contacts ADD COLUMN lead_number BIGINT')
    s.con.execute('ALTER TABLE contacts ADD COLUMN "Prospect ID" VARCHAR')
    s.con.execute("INSERT INTO contacts (contact_id, email, city, lead_number, \"Prospect ID\") VALUES "
                  "('c1', 'Ann@Acme.io', 'Mumbai', 660737, 'p-aa'), ('c2', 'bob@x.io', 'Mumbai', 660728, 'p-bb'), "
                  "('c3', 'shared@x.io', 'Pune', 1, 'p-cc'), ('c4', 'shared@x.io', NULL, 2, NULL)")
    return s


def test_by_id_email_and_other_id_columns(store: Store) -> None:
    assert find_contact(store, "c2") == "c2"
    assert find_contact(store, " ann@acme.IO ") == "c1"
    assert find_contact(store, "660737") == "c1"
    assert find_contact(store, "p-bb") == "c2"


def test_what_is_not_one_contacts_is_said(store: Store) -> None:
    with pytest.raises(NotFoundError, match="`Mumbai` is not an id: 2 contacts have it in `city`"):
        find_contact(store, "Mumbai")
    with pytest.raises(NotFoundError, match="belongs to several contacts"):
        find_contact(store, "shared@x.io")
    with pytest.raises(NotFoundError, match="no contact with id `nobody@x.io`, nor with that e-mail"):
        find_contact(store, "nobody@x.io")


def test_digits_python_calls_digits_are_not_numbers_to_look_up(store: Store) -> None:
    """`"²".isdigit()` is true, `int("²")` fails: found by the API fuzzer as a 500 on /explain."""
    for ref in ("²", "١٢", "12²"):
        with pytest.raises(NotFoundError):
            find_contact(store, ref)
