"""Accounts: the users file (TOML) with argon2id password hashes, read by the dashboard and edited by `minqing users`.

The file looks like this (written by `minqing users`; never holds a plaintext password):

    [auth]                      # optional
    oidc = false                # true: sign in through the intranet SSO (st.login), see docs/security.md
    session_hours = 0           # a sign-in lasts at most this many hours however active (0: no such limit; sessions
                                # also end after the dashboard's idle limit, --session-idle-hours)

    [users."zhangsan"]
    role = "official"           # command_center | official | analyst | admin
    scope = ["440101001001001"] # large or medium grid codes; [] = the whole city
    name = "张三"
    email = "zhangsan@example.gov.cn"   # optional; matched against the SSO identity
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."   # "" = SSO only, no password sign-in

Writes are atomic (a temporary file in the same folder, fsync, rename) with mode 0600, under `<file>.lock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import tomli_w
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from store.errors import ConfigError, Problem, UserError
from access.principal import ROLES, Principal

MIN_PASSWORD_LENGTH = 8
USERNAME_PATTERN = re.compile(r"^[\w.@-]{1,64}$")  # letters (Chinese too), digits, . _ @ -
DEFAULT_SESSION_HOURS = 0.0  # no limit since sign-in: sessions end when idle (the dashboard's idle setting)
AUTH_KEYS = {"oidc": bool, "provider": str, "session_hours": (int, float)}

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (t=3, m=64 MiB, p=4), 16-byte random salt
_DUMMY_HASH: str | None = None  # verified against for unknown users so both paths take the same time


@dataclass(frozen=True)
class Account:
    """One entry of the users file."""

    username: str
    role: str
    scope: tuple[str, ...] = ()
    name: str = ""
    email: str = ""
    password_hash: str = ""

    @property
    def principal(self) -> Principal:
        return Principal(username=self.username, role=self.role, scope=self.scope, display_name=self.name)

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


@dataclass(frozen=True)
class UsersFile:
    """A parsed users file: the accounts by username and the [auth] settings."""

    path: Path
    accounts: dict[str, Account] = field(default_factory=dict)
    auth: dict[str, Any] = field(default_factory=dict)

    @property
    def oidc(self) -> bool:
        """Sign-in goes through the intranet SSO (Streamlit's st.login) instead of the password form."""
        return bool(self.auth.get("oidc", False))

    @property
    def provider(self) -> str | None:
        """The named st.login provider ([auth.<provider>] in secrets.toml), or None for the default [auth]."""
        return self.auth.get("provider") or None

    @property
    def session_hours(self) -> float:
        return float(self.auth.get("session_hours", DEFAULT_SESSION_HOURS))

    def find_identity(self, claims: dict[str, Any]) -> Account | None:
        """The account an SSO identity maps to: its email equals the claim `email`, or its username equals the
        claim `preferred_username` or `email` (case-insensitive). None when nothing or more than one matches."""
        email = str(claims.get("email") or "").strip().lower()
        preferred = str(claims.get("preferred_username") or "").strip().lower()
        found = {a.username for a in self.accounts.values()
                 if (email and a.email.lower() == email) or (a.username in {email, preferred} - {""})}
        return self.accounts[found.pop()] if len(found) == 1 else None


def normalize_username(text: str) -> str:
    """Usernames are compared trimmed and lower-cased."""
    return text.strip().lower()


# --------------------------------------------------------------------------- hashing

def hash_password(password: str) -> str:
    """A salted argon2id hash of `password` (refuses passwords shorter than MIN_PASSWORD_LENGTH)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}")
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches the hash; False for a wrong password, an empty or a malformed hash."""
    if not password_hash:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _HASHER.hash(os.urandom(16).hex())
    return _DUMMY_HASH


def authenticate(users: UsersFile, username: str, password: str) -> Account | None:
    """The account when the username and password match, else None (unknown users take as long as wrong
    passwords). A matching hash made with old parameters is upgraded in the file (best effort)."""
    account = users.accounts.get(normalize_username(username))
    if account is None or not account.has_password:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(account.password_hash, password):
        return None
    if needs_rehash(account.password_hash):
        with contextlib.suppress(OSError, UserError):
            set_password(users.path, account.username, password)
    return account


# --------------------------------------------------------------------------- reading

def read_users(path: Path) -> UsersFile:
    """Parse and validate the users file; every problem is reported at once (ConfigError)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such users file; create it with `minqing users add NAME --role admin "
                        f"--users {path}`") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the users file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a users file (not UTF-8 text); pass the TOML file written by "
                        "`minqing users add`") from None
    try:
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), "", "", f"not valid UTF-8 TOML: {exc}")]) from None
    return parse_users(raw, path=path)


def parse_users(raw: dict[str, Any], *, path: Path) -> UsersFile:
    """Validate an already-parsed users file."""
    problems: list[Problem] = []

    def problem(key: str, value: object, fix: str) -> None:
        problems.append(Problem(str(path), key, repr(value) if value not in ("", None) else "", fix))

    auth = raw.get("auth", {})
    if not isinstance(auth, dict):
        problem("auth", auth, "make [auth] a table")
        auth = {}
    for key, value in auth.items():
        wanted = AUTH_KEYS.get(key)
        if wanted is None:
            problem(f"auth.{key}", value, f"known settings are {', '.join(AUTH_KEYS)}")
        elif not isinstance(value, wanted) or (key == "session_hours" and (isinstance(value, bool) or value < 0)):
            problem(f"auth.{key}", value, "oidc is true or false, provider a name, session_hours a number >= 0")
    for key in raw:
        if key not in ("auth", "users"):
            problem(key, "", "a users file holds only [auth] and [users.<name>] tables")
    accounts: dict[str, Account] = {}
    entries = raw.get("users", {})
    if not isinstance(entries, dict):
        problem("users", entries, "make [users.<name>] tables")
        entries = {}
    for username, spec in entries.items():
        key = f"users.{username}"
        if not isinstance(spec, dict):
            problem(key, spec, "make it a table with role, scope, name and password_hash")
            continue
        if username != normalize_username(username) or not USERNAME_PATTERN.match(username):
            problem(key, username, "usernames are lower-case letters, digits and . _ @ - (at most 64)")
        if "password" in spec:
            problem(f"{key}.password", "", "plaintext passwords are not read; remove the line and set the password "
                    f"with `minqing users passwd {username} --users {path}`")
        role = spec.get("role")
        if role not in ROLES:
            problem(f"{key}.role", role, f"use one of {', '.join(ROLES)}")
            continue
        scope = spec.get("scope", [])
        if not isinstance(scope, list) or not all(isinstance(c, str) and c for c in scope):
            problem(f"{key}.scope", scope, "give a list of grid codes as strings, e.g. scope = [\"L1\"]")
            continue
        if role == "official" and not scope:
            problem(f"{key}.scope", "", "an official needs the large or medium grid codes they are responsible for")
            continue
        password_hash = spec.get("password_hash", "")
        if not isinstance(password_hash, str) or (password_hash and not password_hash.startswith("$argon2")):
            problem(f"{key}.password_hash", "", "not an argon2 hash; set the password with `minqing users passwd`")
            continue
        unknown = set(spec) - {"role", "scope", "name", "email", "password_hash", "password"}
        for extra in sorted(unknown):
            problem(f"{key}.{extra}", "", "known keys are role, scope, name, email, password_hash")
        accounts[username] = Account(username=username, role=role, scope=tuple(scope), name=str(spec.get("name", "")),
                                     email=str(spec.get("email", "")), password_hash=password_hash)
    if problems:
        raise ConfigError(problems)
    return UsersFile(path=path, accounts=accounts, auth=dict(auth))


# --------------------------------------------------------------------------- writing

USERS_HEADER = ("# 民情地图 accounts, written by `minqing users`. Passwords are argon2id hashes: change them with\n"
                "# `minqing users passwd NAME --users FILE`, never by editing this file. Keep it private (mode 0600).\n")


def users_document(users: UsersFile) -> dict[str, Any]:
    """The users file as the TOML document it is written as: [auth] (when set), then [users.<name>] by name."""
    document: dict[str, Any] = {}
    if users.auth:
        document["auth"] = dict(users.auth)
    entries: dict[str, dict[str, Any]] = {}
    for account in sorted(users.accounts.values(), key=lambda a: a.username):
        entry: dict[str, Any] = {"role": account.role, "scope": list(account.scope), "name": account.name}
        if account.email:
            entry["email"] = account.email
        entry["password_hash"] = account.password_hash
        entries[account.username] = entry
    if entries:
        document["users"] = entries
    return document


def users_text(users: UsersFile) -> str:
    """The users file as TOML text (tomli-w), under a comment for whoever opens it."""
    return USERS_HEADER + "\n" + tomli_w.dumps(users_document(users))


def write_users(users: UsersFile) -> None:
    """Write the users file atomically with mode 0600 (a rewrite tightens a looser mode back to 0600)."""
    path = Path(users.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(users_text(users))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


@contextlib.contextmanager
def _editing(path: Path, *, create: bool = False) -> Iterator[list[UsersFile]]:
    """Read the users file under its lock, let the caller replace it (holder[0]), write it back if changed."""
    path = Path(path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        users = read_users(path) if (path.exists() or not create) else UsersFile(path=path)
        holder = [users]
        yield holder
        if holder[0] is not users:
            write_users(holder[0])
    finally:
        os.close(lock_fd)  # closing drops the flock


def _check_username(username: str) -> str:
    name = normalize_username(username)
    if not USERNAME_PATTERN.match(name):
        raise UserError(f"username {username!r}: use letters, digits and . _ @ - (1 to 64 characters)")
    return name


def check_account(username: str, role: str, scope: Iterable[str]) -> tuple[str, str, tuple[str, ...]]:
    """Normalised username, role and scope, or a UserError saying what to change."""
    name = _check_username(username)
    if role not in ROLES:
        choices = ", ".join(f"{k} ({v})" for k, v in ROLES.items())
        raise UserError(f"--role was {role!r}; pass one of {choices}")
    codes = tuple(dict.fromkeys(c.strip() for c in scope if c.strip()))
    if role == "official" and not codes:
        raise UserError("an official (网格负责人) needs --scope CODE: the large or medium grid(s) they are "
                        "responsible for; repeat --scope for several")
    return name, role, codes


def add_user(path: Path, username: str, *, role: str, scope: Iterable[str] = (), name: str = "", email: str = "",
             password: str | None) -> Account:
    """Add an account (password None: SSO only). Creates the file when missing; an existing user is an error."""
    username, role, codes = check_account(username, role, scope)
    password_hash = hash_password(password) if password is not None else ""
    with _editing(path, create=True) as holder:
        users = holder[0]
        if username in users.accounts:
            raise UserError(f"user {username!r} already exists in {users.path}; change the password with "
                            f"`minqing users passwd {username}` or remove the account first")
        account = Account(username=username, role=role, scope=codes, name=name.strip(), email=email.strip(),
                          password_hash=password_hash)
        holder[0] = replace(users, accounts={**users.accounts, username: account})
    return account


def remove_user(path: Path, username: str) -> Account:
    """Remove an account; an unknown user is an error (access.sessions.end_account ends its sessions and links)."""
    with _editing(path) as holder:
        users = holder[0]
        account = get_account(users, username)
        holder[0] = replace(users, accounts={k: v for k, v in users.accounts.items() if k != account.username})
    return account


def set_password(path: Path, username: str, password: str) -> Account:
    """Replace an account's password hash (access.sessions.end_account ends the user's sessions at once; they also
    fail their next check, the account's stamp having changed)."""
    password_hash = hash_password(password)
    with _editing(path) as holder:
        users = holder[0]
        account = replace(get_account(users, username), password_hash=password_hash)
        holder[0] = replace(users, accounts={**users.accounts, account.username: account})
    return account


def set_auth(path: Path, **settings: Any) -> UsersFile:
    """Set [auth] settings (oidc, provider, session_hours) in the users file, creating it when missing."""
    with _editing(path, create=True) as holder:
        updated = replace(holder[0], auth={**holder[0].auth, **settings})
        parse_users({"auth": updated.auth}, path=updated.path)  # validate before writing
        holder[0] = updated
    return holder[0]


def get_account(users: UsersFile, username: str) -> Account:
    """The account of `username`, or a UserError listing the known users."""
    account = users.accounts.get(normalize_username(username))
    if account is None:
        known = ", ".join(sorted(users.accounts)) or "none"
        raise UserError(f"no user {username!r} in {users.path}; known users: {known}")
    return account


def stamp(account: Account) -> str:
    """A short fingerprint of the account's credentials and rights: a session whose stamp no longer matches
    (password changed, role or scope changed, account removed) is signed out."""
    import hashlib

    text = json.dumps([account.username, account.role, list(account.scope), account.password_hash])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
