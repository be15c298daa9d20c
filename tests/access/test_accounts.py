"""Accounts: argon2id hashing, the users file (validation, atomic 0600 writes), `minqing users`, the demo's
accounts and `minqing serve --users`."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from access.accounts import (Account, UsersFile, add_user, authenticate, hash_password, needs_rehash, read_users,
                          remove_user, set_password, verify_password)
from store.errors import ConfigError, UserError
from fixtures import FixtureStore, fixture_store  # noqa: F401  (pytest fixture)
from minqing.cli import main
from minqing.demo.build import DEMO_ACCOUNTS, demo_users_path, write_demo_accounts

PASSWORD = "correct horse 9"


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- hashing

def test_hash_is_salted_argon2id_and_never_the_password():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and PASSWORD not in first
    assert first != second, "every hash has its own salt"
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)


def test_wrong_empty_or_malformed_never_verify():
    hashed = hash_password(PASSWORD)
    assert not verify_password(hashed, PASSWORD + "x")
    assert not verify_password(hashed, "")
    assert not verify_password("", PASSWORD)
    assert not verify_password("not a hash", PASSWORD)


def test_short_passwords_are_refused():
    with pytest.raises(UserError, match="at least 8"):
        hash_password("short")


def test_weak_hashes_are_upgraded_on_sign_in(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "alice", role="analyst", password=PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    text = path.read_text(encoding="utf-8")
    old = read_users(path).accounts["alice"].password_hash
    path.write_text(text.replace(old, weak), encoding="utf-8")
    assert needs_rehash(weak)
    assert authenticate(read_users(path), "Alice ", PASSWORD).username == "alice"
    upgraded = read_users(path).accounts["alice"].password_hash
    assert upgraded != weak and not needs_rehash(upgraded) and verify_password(upgraded, PASSWORD)


def test_authenticate_unknown_user_wrong_password_and_sso_only(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "alice", role="analyst", password=PASSWORD)
    add_user(path, "sso", role="analyst", password=None, email="sso@example.gov.cn")
    users = read_users(path)
    assert authenticate(users, "alice", PASSWORD) is not None
    assert authenticate(users, "alice", "wrong password") is None
    assert authenticate(users, "nobody", PASSWORD) is None
    assert authenticate(users, "sso", "") is None and authenticate(users, "sso", PASSWORD) is None


# --------------------------------------------------------------------------- the file

def test_file_is_written_atomically_with_mode_0600(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "alice", role="admin", name="管理员", password=PASSWORD)
    add_user(path, "bob", role="official", scope=["L1", "L2"], name='张"三\\', password=PASSWORD)
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.toml", "users.toml.lock"], "no temporary files left"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert raw["users"]["bob"]["scope"] == ["L1", "L2"] and raw["users"]["bob"]["name"] == '张"三\\'
    assert PASSWORD not in path.read_text(encoding="utf-8")
    path.chmod(0o644)
    set_password(path, "bob", "another password")
    assert mode(path) == 0o600, "a rewrite tightens a loosened mode"
    bob = read_users(path).accounts["bob"]
    assert bob.principal.scope == ("L1", "L2") and bob.principal.display_name == '张"三\\'


def test_file_problems_are_all_reported(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text(
        '[users.alice]\nrole = "boss"\npassword_hash = ""\n'
        '[users.bob]\nrole = "official"\npassword_hash = ""\n'
        '[users.carol]\nrole = "analyst"\npassword = "plain"\n'
        '[users.dave]\nrole = "analyst"\npassword_hash = "md5:abc"\n',
        encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_users(path)
    text = str(caught.value)
    assert "4 problem(s)" in text
    for expected in ("users.alice.role", "users.bob.scope", "users.carol.password", "plaintext", "users.dave"):
        assert expected in text, text


def test_missing_or_broken_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such users file"):
        read_users(tmp_path / "nowhere.toml")
    (tmp_path / "bad.toml").write_text("[users\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid UTF-8 TOML"):
        read_users(tmp_path / "bad.toml")


def test_sso_identity_maps_by_email_or_username():
    users = UsersFile(path=Path("u.toml"), accounts={
        "alice": Account("alice", "analyst", email="Alice@Example.gov.cn"),
        "bob": Account("bob", "admin"),
        "bob@example.gov.cn": Account("bob@example.gov.cn", "analyst"),
    })
    assert users.find_identity({"email": "alice@example.gov.cn"}).username == "alice"
    assert users.find_identity({"preferred_username": "BOB"}).username == "bob"
    assert users.find_identity({"email": "bob@example.gov.cn"}).username == "bob@example.gov.cn"
    assert users.find_identity({"email": "bob@example.gov.cn", "preferred_username": "bob"}) is None, "ambiguous"
    assert users.find_identity({"email": "eve@example.gov.cn"}) is None
    assert users.find_identity({}) is None


# --------------------------------------------------------------------------- minqing users

def test_users_add_list_passwd_remove(tmp_path):
    path = tmp_path / "users.toml"
    result = invoke("users", "add", "Alice", "--role", "admin", "--name", "管理员", "--users", str(path),
                    "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    result = invoke("users", "add", "bob", "--role", "official", "--scope", "L1", "--users", str(path),
                    input="bob password\nbob password\n")  # prompted twice
    assert result.exit_code == 0, result.output
    result = invoke("users", "list", "--users", str(path))
    assert result.exit_code == 0
    assert "alice" in result.output and "系统管理员" in result.output and "L1" in result.output
    assert "$argon2" not in result.output
    users = read_users(path)
    assert authenticate(users, "alice", PASSWORD) and authenticate(users, "bob", "bob password")
    result = invoke("users", "passwd", "bob", "--users", str(path), "--password-stdin", input="new bob password\n")
    assert result.exit_code == 0, result.output
    users = read_users(path)
    assert authenticate(users, "bob", "new bob password") and not authenticate(users, "bob", "bob password")
    result = invoke("users", "remove", "bob", "--users", str(path))
    assert result.exit_code == 0 and set(read_users(path).accounts) == {"alice"}


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "boss"], "--role was 'boss'"),
    (["--role", "official"], "needs --scope"),
    (["--role", "analyst", "--password-stdin"], "at least 8"),
])
def test_users_add_errors(tmp_path, args, message):
    path = tmp_path / "users.toml"
    result = invoke("users", "add", "carol", *args, "--users", str(path), input="short\n")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not path.exists()


def test_duplicate_and_unknown_users(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "alice", role="admin", password=PASSWORD)
    result = invoke("users", "add", "ALICE", "--role", "analyst", "--users", str(path), "--password-stdin",
                    input=PASSWORD + "\n")
    assert result.exit_code == 2 and "already exists" in result.output
    for command in (["remove", "nobody"], ["passwd", "nobody"]):
        result = invoke("users", *command, "--users", str(path), input=PASSWORD + "\n")
        assert result.exit_code == 2 and "no user 'nobody'" in result.output and "alice" in result.output
    result = invoke("users", "list", "--users", str(tmp_path / "none.toml"))
    assert result.exit_code == 2 and "no such users file" in result.output


def test_scope_is_checked_against_the_store(tmp_path, fixture_store: FixtureStore):  # noqa: F811
    path = tmp_path / "users.toml"
    base = ["users", "add", "bob", "--role", "official", "--users", str(path), "--db", str(fixture_store.path),
            "--password-stdin"]
    result = invoke(*base, "--scope", "L9", input=PASSWORD + "\n")
    assert result.exit_code == 2 and "'L9': no such grid" in result.output
    small = fixture_store.grids.loc[fixture_store.grids["level"] == "small", "grid_code"].iloc[0]
    result = invoke(*base, "--scope", small, input=PASSWORD + "\n")
    assert result.exit_code == 2 and "small grid" in result.output
    result = invoke(*base, "--scope", "L1", "--scope", "L2M1", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert read_users(path).accounts["bob"].scope == ("L1", "L2M1")


def test_settings_and_removal_keep_the_auth_table(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "alice", role="admin", password=PASSWORD)
    result = invoke("users", "settings", "--users", str(path), "--oidc", "--session-hours", "8")
    assert result.exit_code == 0 and "oidc = true" in result.output
    add_user(path, "bob", role="analyst", password=PASSWORD)
    remove_user(path, "bob")
    users = read_users(path)
    assert users.oidc and users.session_hours == 8


# --------------------------------------------------------------------------- the demo and serve

def test_demo_creates_one_account_per_role(demo_dir: Path, demo_db: Path):
    import duckdb

    path = demo_users_path(demo_dir / "minqing.toml")
    assert path == (demo_dir / "users.toml").resolve() and mode(path) == 0o600
    users = read_users(path)
    assert sorted(a.role for a in users.accounts.values()) == sorted(["admin", "command_center", "official",
                                                                       "analyst"])
    with duckdb.connect(str(demo_db), read_only=True) as con:
        first_large = con.execute("SELECT min(grid_code) FROM grids WHERE level = 'large'").fetchone()[0]
    (official,) = [a for a in users.accounts.values() if a.role == "official"]
    assert official.scope == (first_large,)
    assert all(a.scope == () for a in users.accounts.values() if a.role != "official")


def test_demo_passwords_are_printed_once_and_work(tmp_path):
    lines: list[str] = []
    write_demo_accounts(tmp_path, ["440002", "440001"], echo=lines.append)
    users = read_users(tmp_path / "users.toml")
    printed = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert set(printed) == {name for name, _, _ in DEMO_ACCOUNTS} == set(users.accounts)
    for name, password in printed.items():
        assert authenticate(users, name, password) is not None
        assert password not in (tmp_path / "users.toml").read_text(encoding="utf-8")
    assert users.accounts["official"].scope == ("440001",)
    again: list[str] = []
    write_demo_accounts(tmp_path, ["440001"], echo=again.append)
    assert len(again) == 1 and "already" in again[0] and not any(p in again[0] for p in printed.values())


def test_serve_passes_the_users_file(tmp_path, monkeypatch, fixture_store: FixtureStore):  # noqa: F811
    seen: list[dict[str, str]] = []
    monkeypatch.setattr("minqing.cli._serve", lambda database, port, settings, **kw: seen.append(settings))
    path = tmp_path / "users.toml"
    result = invoke("serve", "--db", str(fixture_store.path), "--users", str(path))
    assert result.exit_code == 2 and "no such users file" in result.output
    add_user(path, "alice", role="admin", password=PASSWORD)
    result = invoke("serve", "--db", str(fixture_store.path), "--users", str(path),
                    "--audit", str(tmp_path / "a.sqlite"))
    assert result.exit_code == 0, result.output
    assert seen[-1]["MINQING_USERS"] == str(path.resolve())
    assert seen[-1]["MINQING_AUDIT"] == str((tmp_path / "a.sqlite").resolve())
    monkeypatch.delenv("MINQING_USERS", raising=False)
    result = invoke("serve", "--db", str(fixture_store.path))
    assert result.exit_code == 0 and "MINQING_USERS" not in seen[-1] and "未启用登录" in result.output


def test_only_administrators_may_reveal_personal_data() -> None:
    from access.principal import ROLES, Principal

    may = {role: Principal("u", role, ("441502001000000",) if role == "official" else ()).may_reveal_personal_data
           for role in ROLES}
    assert may == {"command_center": False, "official": False, "analyst": False, "admin": True, "wall": False}
