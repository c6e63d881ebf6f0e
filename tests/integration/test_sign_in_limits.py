"""The sign-in limiter on SQLite and PostgreSQL, with a fake clock (issue 13, items 1 and 13):
per address a window, per username a progressive delay that never locks the owner out for good,
an administrator's unlock, and a bounded table."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from myositis_cds.adapters.storage import Database
from myositis_cds.adapters.storage.sign_in_limits import (
    AddressWindow,
    SignInLimitedError,
    SqlLoginLimiter,
    UserDelay,
)
from myositis_cds.errors import PermissionDeniedError
from myositis_cds.services import users
from myositis_cds.services.ports import SystemActor, User
from tests.unit.fakes import FakeHasher

ADMIN = SystemActor(username="test:admin")
START = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _limiter(database: Database, clock: Clock, *, max_keys: int = 100) -> SqlLoginLimiter:
    return SqlLoginLimiter(database.engine, clock=clock, max_keys=max_keys,
                           address=AddressWindow(max_failures=3, window=60),
                           user=UserDelay(max_failures=3, delay=10, max_delay=80, memory=3600))


def _fail(limiter: SqlLoginLimiter, address: str, username: str = "alice") -> None:
    limiter.reserve(address=address, username=username)  # a wrong password keeps the attempt


def test_an_address_is_held_back_until_its_oldest_attempt_leaves_the_window(
        database: Database) -> None:
    clock = Clock()
    limiter = _limiter(database, clock)
    for n in range(3):
        _fail(limiter, "10.0.0.1", f"user{n}")
        clock.now += 10
    with pytest.raises(SignInLimitedError) as held:
        limiter.reserve(address="10.0.0.1", username="bob")
    assert held.value.retry_after == 30  # the first attempt (at 0) leaves the window at 60
    clock.now = START + 60
    limiter.reserve(address="10.0.0.1", username="bob")


def test_a_username_gets_a_doubling_delay_not_a_lockout(database: Database) -> None:
    clock = Clock()
    limiter = _limiter(database, clock)
    for n in range(3):  # free attempts, from three addresses
        _fail(limiter, f"10.0.1.{n}")
    waits = []
    for n in range(6):
        with pytest.raises(SignInLimitedError) as held:
            limiter.reserve(address=f"10.0.2.{n}", username="alice")
        waits.append(held.value.retry_after)
        clock.now += held.value.retry_after  # the owner waits as told, then tries (and fails)
        _fail(limiter, f"10.0.3.{n}")
    assert waits == [10, 20, 40, 80, 80, 80]  # doubles, then stays at max_delay: never forever
    assert limiter.retry_after(username="ALICE") == 80  # usernames are case-insensitive


def test_a_success_forgets_the_usernames_failures_and_its_own_attempt(database: Database) -> None:
    clock = Clock()
    limiter = _limiter(database, clock)
    _fail(limiter, "10.0.0.1")
    _fail(limiter, "10.0.0.1")
    reservation = limiter.reserve(address="10.0.0.1", username="alice")
    limiter.succeeded(reservation, username="alice")
    assert limiter.retry_after(address="10.0.0.1", username="alice") is None  # 2 of 3 counted
    _fail(limiter, "10.0.0.1", "bob")  # the third failure of the address
    assert limiter.retry_after(address="10.0.0.1") == 60
    with pytest.raises(SignInLimitedError):
        limiter.reserve(address="10.0.0.1", username="carol")


def test_an_administrator_unlocks_a_user_at_once_and_it_is_audited(database: Database) -> None:
    clock = Clock()
    limiter = _limiter(database, clock)
    hasher = FakeHasher()
    users.add_user(database, hasher, ADMIN, username="alice", password="a long enough passphrase",
                   role="clinician")
    for n in range(3):
        _fail(limiter, f"10.0.4.{n}")
    assert limiter.retry_after(username="alice") == 10
    assert users.unlock_user(database, ADMIN, "alice") == 3
    assert limiter.retry_after(username="alice") is None
    limiter.reserve(address="10.0.5.1", username="alice")
    clerk = User(username="clerk", password_hash="x", role="clinician", active=True,
                 created_at=dt.datetime.now(dt.UTC))
    with pytest.raises(PermissionDeniedError, match="may not unlock users"):
        users.unlock_user(database, clerk, "alice")
    with database() as work:
        actions = [(e.actor, e.action, e.detail) for e in work.audit.export()]
    assert ("test:admin", "user.unlock", "alice: 3 failed sign-in(s) cleared") in actions
    assert ("clerk", "access.denied", "user.unlock refused for role clinician") in actions


def test_the_table_stays_bounded_and_holds_no_address_or_username(database: Database) -> None:
    clock = Clock()
    limiter = _limiter(database, clock, max_keys=4)
    for n in range(10):
        clock.now += 1
        _fail(limiter, f"192.0.2.{n}", f"user{n}")
    assert len(limiter) <= 4 + 2  # each reservation adds two keys, then trims the oldest
    clock.now += 3601  # everything forgotten after the longest memory
    _fail(limiter, "192.0.2.99", "zed")
    with database.engine.connect() as connection:
        stored = {row[0] for row in connection.execute(text(
            "SELECT key_digest FROM sign_in_failures UNION SELECT key_digest FROM sign_in_keys"))}
        assert connection.execute(text("SELECT count(*) FROM sign_in_failures")).scalar() == 2
    assert all(len(d) == 64 and "192.0.2" not in d and "user" not in d for d in stored)
