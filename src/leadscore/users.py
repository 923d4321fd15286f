"""People who log in to the dashboard: create, list, disable, reset a password, check a log-in.

Separate from API keys (machines): a user has a role, and a rep sees the contacts whose ``owner``
property equals the user's ``owner_value`` unless the user is a ``manager``.

=========  ============================================================================
role       may
=========  ============================================================================
rep        work their leads and tasks, give feedback on scores
marketing  also see every lead, edit, try and publish models, reports, feedback review,
           deliveries and lists
admin      also API keys and users
=========  ============================================================================

Passwords are hashed with argon2id (``argon2-cffi``, its default cost); only the hash is stored.
Usernames are compared in lower case. Every function takes a store open for writing where it
writes; the server calls them through its single writer.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from leadscore.errors import LeadscoreError, NotFoundError
from leadscore.storage.store import Store
from leadscore.timeutil import utcnow

ROLES = ("rep", "marketing", "admin")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,63}$")
_HASHER = PasswordHasher()
#: verified against when the user does not exist, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
_COLUMNS = "username, role, owner_value, manager, created_at, password_changed_at, disabled_at, last_login_at"


@dataclass(frozen=True)
class User:
    username: str
    role: str
    owner_value: str | None
    manager: bool
    created_at: datetime
    password_changed_at: datetime
    disabled_at: datetime | None
    last_login_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def sees_every_lead(self) -> bool:
        """Marketing, admins and managers see every contact; a rep only those they own."""
        return self.role != "rep" or self.manager

    @property
    def edits_models(self) -> bool:
        return self.role in ("marketing", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role, "owner_value": self.owner_value,
                "manager": self.manager, "created_at": self.created_at,
                "password_changed_at": self.password_changed_at, "disabled_at": self.disabled_at,
                "last_login_at": self.last_login_at, "active": self.active}


def normal_username(name: str) -> str:
    """``Alice`` → ``alice``; a LeadscoreError naming the rule for anything else."""
    folded = name.strip().lower()
    if not _USERNAME.match(folded):
        raise LeadscoreError(f"bad user name {name!r}: use 1-64 letters, digits and . _ @ + - "
                             "(starting with a letter or digit)")
    return folded


def check_role(role: str) -> str:
    if role not in ROLES:
        raise LeadscoreError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise LeadscoreError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise LeadscoreError(f"the password is too long: use at most {MAX_PASSWORD} characters")
    return password


def generate_password() -> str:
    """A random password (about 96 bits), readable enough to type once."""
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _user(row: tuple[Any, ...]) -> User:
    return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6], row[7])


def get_user(store: Store, username: str) -> User | None:
    row = store.con.execute(f"SELECT {_COLUMNS} FROM users WHERE username = ?",
                            [username.strip().lower()]).fetchone()
    return _user(row) if row else None


def _existing(store: Store, username: str) -> User:
    user = get_user(store, username)
    if user is None:
        raise NotFoundError(f"no user `{username}`; list them with `leadscore users list`")
    return user


def list_users(store: Store) -> list[User]:
    rows = store.con.execute(f"SELECT {_COLUMNS} FROM users ORDER BY username").fetchall()
    return [_user(r) for r in rows]


def create_user(store: Store, username: str, role: str, *, owner_value: str | None = None,
                manager: bool = False, password: str | None = None) -> tuple[User, str]:
    """Add a user; returns it and its password (the one given, or a generated one)."""
    name = normal_username(username)
    check_role(role)
    secret = check_password(password) if password is not None else generate_password()
    owner = owner_value.strip() if owner_value and owner_value.strip() else None
    with store.transaction() as con:
        if get_user(store, name) is not None:
            raise LeadscoreError(f"a user `{name}` exists already (reset its password with "
                                 f"`leadscore users reset-password {name}`)")
        now = utcnow()
        con.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    [name, role, owner, manager, hash_password(secret), now, now])
    return _existing(store, name), secret


def update_user(store: Store, username: str, *, role: str | None = None,
                owner_value: str | None = None, manager: bool | None = None) -> User:
    """Change a user's role, owner value (empty text clears it) or manager flag."""
    with store.transaction() as con:
        user = _existing(store, username)
        new_owner = user.owner_value if owner_value is None else (owner_value.strip() or None)
        con.execute("UPDATE users SET role = ?, owner_value = ?, manager = ? WHERE username = ?",
                    [check_role(role) if role else user.role, new_owner,
                     user.manager if manager is None else manager, user.username])
    return _existing(store, username)


def disable_user(store: Store, username: str) -> User:
    """Stop a user logging in; their open sessions end at once. Their feedback stays."""
    with store.transaction() as con:
        user = _existing(store, username)
        if user.active:
            con.execute("UPDATE users SET disabled_at = ? WHERE username = ?", [utcnow(), user.username])
        con.execute("DELETE FROM sessions WHERE username = ?", [user.username])
    return _existing(store, username)


def enable_user(store: Store, username: str) -> User:
    with store.transaction() as con:
        user = _existing(store, username)
        con.execute("UPDATE users SET disabled_at = NULL WHERE username = ?", [user.username])
    return _existing(store, username)


def reset_password(store: Store, username: str, password: str | None = None) -> tuple[User, str]:
    """Set a new password (given or generated); the user's open sessions end."""
    secret = check_password(password) if password is not None else generate_password()
    with store.transaction() as con:
        user = _existing(store, username)
        con.execute("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE username = ?",
                    [hash_password(secret), utcnow(), user.username])
        con.execute("DELETE FROM sessions WHERE username = ?", [user.username])
    return _existing(store, username), secret


def check_login(store: Store, username: str, password: str) -> User | None:
    """The user if the name and password match an active user; None otherwise.

    Costs one argon2 verification whether or not the user exists (no timing hint at which names
    exist). Reads only: the caller records the log-in.
    """
    try:
        name = normal_username(username)
    except LeadscoreError:
        name = ""
    row = store.con.execute(f"SELECT {_COLUMNS}, password_hash FROM users WHERE username = ?",
                            [name]).fetchone() if name else None
    if row is None:
        password_matches(_DUMMY_HASH, password)
        return None
    user = _user(row[:-1])
    if not password_matches(row[-1], password) or not user.active:
        return None
    return user
