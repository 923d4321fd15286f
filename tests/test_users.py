"""Dashboard users: names, roles, argon2 passwords, disabling and resets end sessions."""

from __future__ import annotations

import pytest

from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.storage.store import Store
from leadscore.users import (
    check_login,
    create_user,
    disable_user,
    enable_user,
    get_user,
    list_users,
    reset_password,
    update_user,
)
from leadscore.web.sessions import SessionCache, open_session


@pytest.fixture
def store() -> Store:
    return Store.open(":memory:")


def test_create_stores_only_an_argon2_hash_and_checks_the_password(store: Store) -> None:
    user, password = create_user(store, "Alice", "rep", owner_value=" Alice Martin ")
    assert user.username == "alice" and user.owner_value == "Alice Martin" and not user.manager
    assert len(password) >= 16
    stored = store.con.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and password not in stored
    assert check_login(store, "ALICE", password) == get_user(store, "alice")
    assert check_login(store, "alice", password + "x") is None
    assert check_login(store, "nobody", password) is None
    assert check_login(store, "", password) is None


def test_bad_names_roles_passwords_and_duplicates_are_refused(store: Store) -> None:
    with pytest.raises(LeadscoreError, match="bad user name"):
        create_user(store, "a b", "rep")
    with pytest.raises(LeadscoreError, match="unknown role"):
        create_user(store, "bob", "boss")
    with pytest.raises(LeadscoreError, match="too short"):
        create_user(store, "bob", "rep", password="short")
    create_user(store, "bob", "rep", password="long enough pw")
    with pytest.raises(LeadscoreError, match="exists already"):
        create_user(store, "BOB", "admin")
    assert [u.username for u in list_users(store)] == ["bob"]


def test_roles_decide_what_a_user_sees(store: Store) -> None:
    rep, _ = create_user(store, "r", "rep", owner_value="R")
    boss, _ = create_user(store, "m", "rep", manager=True)
    mkt, _ = create_user(store, "k", "marketing")
    adm, _ = create_user(store, "a", "admin")
    assert [u.sees_every_lead for u in (rep, boss, mkt, adm)] == [False, True, True, True]
    assert [u.edits_models for u in (rep, boss, mkt, adm)] == [False, False, True, True]
    assert [u.is_admin for u in (rep, boss, mkt, adm)] == [False, False, False, True]


def test_disable_and_reset_end_sessions(store: Store) -> None:
    user, password = create_user(store, "carol", "marketing", password="carol-password")
    token = open_session(store, user, "test")
    cache = SessionCache()
    assert cache.find(store, token) is not None
    disabled = disable_user(store, "carol")
    assert not disabled.active and check_login(store, "carol", password) is None
    cache.forget()
    assert cache.find(store, token) is None
    enable_user(store, "carol")
    token = open_session(store, get_user(store, "carol"), "test")  # type: ignore[arg-type]
    _, new_password = reset_password(store, "carol")
    cache.forget()
    assert cache.find(store, token) is None
    assert check_login(store, "carol", password) is None and check_login(store, "carol", new_password) is not None
    with pytest.raises(NotFoundError):
        disable_user(store, "nobody")


def test_update_user_changes_role_owner_and_manager(store: Store) -> None:
    create_user(store, "dan", "rep")
    user = update_user(store, "dan", role="marketing", owner_value="Dan D", manager=True)
    assert (user.role, user.owner_value, user.manager) == ("marketing", "Dan D", True)
    assert update_user(store, "dan", owner_value="").owner_value is None
