"""Server-side sessions, grants and wall links (access.sessions): revocable at once, idle expiry, account changes,
wall links renewed while used, the file private (0600)."""

from __future__ import annotations

import stat

import pytest

from access.accounts import Account, UsersFile
from access.sessions import (
    GRANT_SECONDS, TOUCH_SECONDS, WALL_IDLE_DAYS, SessionStore, digest, end_account, sessions_path,
)

BOB = Account("bob", "official", ("L1",), password_hash="$argon2id$v=19$m=65536,t=3,p=4$bob")
WALL = Account("lobby", "wall")


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def env(tmp_path):
    clock = Clock()
    users = UsersFile(tmp_path / "users.toml", {"bob": BOB, "lobby": WALL})
    return SessionStore(sessions_path(users.path), clock=clock), users, clock


def test_a_session_is_valid_until_ended_and_the_file_is_private(env):
    sessions, users, _ = env
    token, sid = sessions.start(BOB, via="password")
    assert sid == digest(token) and token not in sessions.path.read_bytes().decode("latin-1")
    assert sessions.check_token(token, users, idle_hours=12).account == BOB
    assert stat.S_IMODE(sessions.path.stat().st_mode) == 0o600
    assert sessions.end(sid, "signout") and not sessions.end(sid, "signout")
    check = sessions.check(sid, users, idle_hours=12)
    assert check.account is None and check.reason == "signout" and not check.ended_now
    assert sessions.check_token("forged", users, idle_hours=12).reason == "unknown"


def test_idle_sessions_end_and_use_keeps_them(env):
    sessions, users, clock = env
    _, sid = sessions.start(BOB, via="password")
    for _ in range(30):  # used every 30 minutes for 15 hours: stays valid past the 12-hour idle limit
        clock.now += 1800
        assert sessions.check(sid, users, idle_hours=12).account == BOB
    clock.now += 12 * 3600 + TOUCH_SECONDS + 1
    check = sessions.check(sid, users, idle_hours=12)
    assert check.account is None and check.reason == "idle" and check.ended_now


def test_a_changed_or_removed_account_ends_its_sessions(env, tmp_path):
    sessions, users, _ = env
    _, sid = sessions.start(BOB, via="password")
    changed = UsersFile(users.path, {"bob": Account("bob", "official", ("L2",), password_hash=BOB.password_hash)})
    assert sessions.check(sid, changed, idle_hours=12).reason == "account_changed"
    _, other = sessions.start(BOB, via="password")
    assert end_account(users.path, "bob", "password_changed") == 1
    assert sessions.check(other, users, idle_hours=12).reason == "password_changed"


def test_a_grant_is_traded_once_and_expires(env):
    sessions, _, clock = env
    token, _ = sessions.start(BOB, via="password")
    code = sessions.grant(token)
    assert sessions.granted(code) and sessions.redeem(code) == token
    assert sessions.redeem(code) is None and not sessions.granted(code)
    late = sessions.grant(token)
    clock.now += GRANT_SECONDS + 1
    assert sessions.redeem(late) is None


def test_a_wall_link_signs_in_until_revoked_and_a_new_link_replaces_it(env):
    sessions, users, clock = env
    key = sessions.make_wall_link("lobby")
    username, link_id = sessions.wall_link(key)
    assert username == "lobby"
    _, sid = sessions.start(WALL, via="wall_link", link_id=link_id)
    clock.now += (WALL_IDLE_DAYS - 1) * 86400  # a wall left off for weeks still signs in: walls are not people
    assert sessions.check(sid, users, idle_hours=12).account == WALL
    newer = sessions.make_wall_link("lobby")
    assert sessions.wall_link(key) is None and sessions.wall_link(newer) is not None
    assert sessions.check(sid, users, idle_hours=12).reason == "new_link"
    _, sid2 = sessions.start(WALL, via="wall_link", link_id=sessions.wall_link(newer)[1])
    assert sessions.revoke_wall_links("lobby") == 1
    assert sessions.wall_link(newer) is None and sessions.check(sid2, users, idle_hours=12).account is None
