"""Parallel sign-in attempts hold the lockout limit: the check, the password and the record happen in one turn."""

from __future__ import annotations

import threading
from pathlib import Path

from access.accounts import add_user, read_users
from access.audit import MAX_FAILURES, AuditFilter, AuditLog
from dashboard.auth import password_signin

PASSWORD = "a long and good password 1"
ATTEMPTS = 16


def test_sixteen_parallel_wrong_passwords_record_exactly_the_limit(tmp_path: Path) -> None:
    users_path = tmp_path / "users.toml"
    add_user(users_path, "bob", role="analyst", password=PASSWORD)
    users = read_users(users_path)
    audit = AuditLog(tmp_path / "store.duckdb.audit.sqlite")
    start = threading.Barrier(ATTEMPTS)
    answers: list[tuple] = []

    def attempt() -> None:
        start.wait()  # all threads try at once
        answers.append(password_signin(users, audit, "bob", "wrong password", {"ip": "127.0.0.1"}))

    threads = [threading.Thread(target=attempt) for _ in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = audit.entries(AuditFilter(actions=("signin",)))["outcome"].value_counts().to_dict()
    assert outcomes == {"failure": MAX_FAILURES, "refused": ATTEMPTS - MAX_FAILURES}
    assert sum(1 for account, wait in answers if wait is not None) == ATTEMPTS - MAX_FAILURES
    assert all(account is None for account, _ in answers)
    # The right password is refused too while the username is locked, and recorded as refused.
    account, wait = password_signin(users, audit, "bob", PASSWORD, {})
    assert account is None and wait is not None


def test_a_good_password_signs_in_and_is_recorded_once(tmp_path: Path) -> None:
    users_path = tmp_path / "users.toml"
    add_user(users_path, "bob", role="analyst", password=PASSWORD)
    audit = AuditLog(tmp_path / "store.duckdb.audit.sqlite")
    account, wait = password_signin(read_users(users_path), audit, "bob", PASSWORD, {})
    assert wait is None and account is not None and account.username == "bob"
    entries = audit.entries(AuditFilter(actions=("signin",)))
    assert entries[["username", "outcome"]].values.tolist() == [["bob", "success"]]
