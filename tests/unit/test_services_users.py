"""Account use cases on in-memory fakes: adding, listing, disabling and signing in, all audited."""

from __future__ import annotations

import datetime as dt

import pytest

from myositis_cds.adapters.passwords import Argon2PasswordHasher
from myositis_cds.errors import (
    AlreadyExistsError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)
from myositis_cds.services import users
from myositis_cds.services.ports import SystemActor, User
from tests.unit.fakes import FakeDatabase, FakeHasher

SHELL = SystemActor(username="cli:root")
PASSWORD = "correct horse battery staple"


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def hasher() -> FakeHasher:
    return FakeHasher()


def add(db: FakeDatabase, hasher: FakeHasher, name: str = "alice", role: str = "clinician") -> User:
    return users.add_user(db, hasher, SHELL, username=name, password=PASSWORD, role=role)


def audit_trail(db: FakeDatabase) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.detail) for e in db.committed.audit]


def test_add_user_stores_a_hash_and_audits(db: FakeDatabase, hasher: FakeHasher) -> None:
    user = add(db, hasher)
    assert (user.username, user.role, user.active) == ("alice", "clinician", True)
    stored = db.committed.users["alice"]
    assert stored.password_hash == hasher.hash(PASSWORD)
    assert PASSWORD not in stored.password_hash
    assert PASSWORD not in repr(stored)
    assert audit_trail(db) == [("cli:root", "user.add", "alice (clinician)")]


@pytest.mark.parametrize(("given", "message"), [
    (("alice", "elevenchars", "clinician"), "password: got 11 characters; expected at least 12"),
    (("", PASSWORD, "clinician"), "username: got ''"),
    (("al ice", PASSWORD, "clinician"), "username: got 'al ice'"),
    (("alice", PASSWORD, "superuser"), "role: got 'superuser'; expected one of clinician, researcher"),
])
def test_bad_input_refused_and_nothing_written(db: FakeDatabase, hasher: FakeHasher,
                                               given: tuple[str, str, str], message: str) -> None:
    username, password, role = given
    with pytest.raises(UsageError, match=message):
        users.add_user(db, hasher, SHELL, username=username, password=password, role=role)
    assert db.committed.users == {}
    assert db.committed.audit == []


def test_twelve_characters_are_enough(db: FakeDatabase, hasher: FakeHasher) -> None:
    users.add_user(db, hasher, SHELL, username="bob", password="x" * 12, role="admin")
    assert "bob" in db.committed.users


def test_duplicate_username_refused(db: FakeDatabase, hasher: FakeHasher) -> None:
    add(db, hasher)
    with pytest.raises(AlreadyExistsError, match="user 'alice' already exists: choose another"):
        add(db, hasher, role="admin")
    assert db.committed.users["alice"].role == "clinician"
    assert len(db.committed.audit) == 1


@pytest.mark.parametrize("role", ["clinician", "researcher"])
def test_only_admins_manage_users(db: FakeDatabase, hasher: FakeHasher, role: str) -> None:
    actor = add(db, hasher, name="someone", role=role)
    with pytest.raises(PermissionDeniedError, match=f"the role '{role}' may not add users"):
        users.add_user(db, hasher, actor, username="eve", password=PASSWORD, role="admin")
    with pytest.raises(PermissionDeniedError):
        users.list_users(db, actor)
    with pytest.raises(PermissionDeniedError):
        users.disable_user(db, actor, "someone")
    assert "eve" not in db.committed.users
    assert [a for _, a, _ in audit_trail(db)] == ["user.add"] + ["access.denied"] * 3


def test_an_admin_user_manages_users(db: FakeDatabase, hasher: FakeHasher) -> None:
    admin = add(db, hasher, name="root", role="admin")
    users.add_user(db, hasher, admin, username="bob", password=PASSWORD, role="researcher")
    assert [u.username for u in users.list_users(db, admin)] == ["bob", "root"]
    assert audit_trail(db)[-1] == ("root", "user.add", "bob (researcher)")


def test_disable_user(db: FakeDatabase, hasher: FakeHasher) -> None:
    add(db, hasher)
    assert users.disable_user(db, SHELL, "alice").active is False
    assert db.committed.users["alice"].active is False
    assert audit_trail(db)[-1] == ("cli:root", "user.disable", "alice")
    with pytest.raises(NotFoundError, match="no user 'nobody'"):
        users.disable_user(db, SHELL, "nobody")


def test_authenticate_success_is_audited(db: FakeDatabase, hasher: FakeHasher) -> None:
    add(db, hasher)
    assert users.authenticate(db, hasher, username="alice", password=PASSWORD).username == "alice"
    assert audit_trail(db)[-1] == ("alice", "auth.login", "")


@pytest.mark.parametrize(("username", "password"), [
    ("alice", "wrong password!"), ("nobody", PASSWORD), ("disabled", PASSWORD)])
def test_failed_sign_in_says_the_same_and_audits_the_username_only(
        db: FakeDatabase, hasher: FakeHasher, username: str, password: str) -> None:
    add(db, hasher)
    add(db, hasher, name="disabled")
    users.disable_user(db, SHELL, "disabled")
    hasher.calls = 0
    with pytest.raises(AuthenticationError) as caught:
        users.authenticate(db, hasher, username=username, password=password)
    assert str(caught.value) == ("sign-in failed: unknown username, wrong password or disabled "
                                 "account")
    assert hasher.calls == 1  # one hash's work whether or not the user exists
    last = db.committed.audit[-1]
    assert (last.actor, last.action, last.patient_key, last.detail) == (
        username, "auth.failed", None, "")
    assert password not in repr(db.committed.audit)


def test_old_hashes_are_upgraded_at_sign_in(db: FakeDatabase, hasher: FakeHasher) -> None:
    db.committed.users["old"] = User(username="old", password_hash="legacy", role="clinician",
                                     active=True, created_at=dt.datetime.now(dt.UTC))

    class Legacy(FakeHasher):
        def verify(self, password_hash: str, password: str) -> bool:
            return password_hash == "legacy" or super().verify(password_hash, password)

    legacy = Legacy()
    users.authenticate(db, legacy, username="old", password=PASSWORD)
    assert db.committed.users["old"].password_hash == legacy.hash(PASSWORD)


def test_argon2_hasher_stores_argon2id_hashes_not_passwords(db: FakeDatabase) -> None:
    argon = Argon2PasswordHasher()
    users.add_user(db, argon, SHELL, username="alice", password=PASSWORD, role="clinician")
    stored = db.committed.users["alice"].password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert argon.hash(PASSWORD) != stored  # salted
    assert argon.verify(stored, PASSWORD)
    assert not argon.verify(stored, PASSWORD + "!")
    assert not argon.verify("not a hash", PASSWORD)
    assert not argon.needs_rehash(stored)
    assert argon.needs_rehash("not a hash")
    assert users.authenticate(db, argon, username="alice", password=PASSWORD).username == "alice"
    users.disable_user(db, SHELL, "alice")
    with pytest.raises(AuthenticationError):
        users.authenticate(db, argon, username="alice", password=PASSWORD)


def test_get_user_resolves_a_session_username(db: FakeDatabase, hasher: FakeHasher) -> None:
    assert users.get_user(db, "alice") is None
    users.add_user(db, hasher, SHELL, username="alice", password=PASSWORD, role="clinician")
    users.disable_user(db, SHELL, "alice")
    found = users.get_user(db, "alice")
    assert found is not None
    assert (found.username, found.active) == ("alice", False)


@pytest.mark.parametrize("role", ["clinician", "researcher"])
def test_only_admins_enable_reset_and_change_roles(db: FakeDatabase, hasher: FakeHasher,
                                                  role: str) -> None:
    actor = add(db, hasher, name="someone", role=role)
    add(db, hasher)
    for attempt in (lambda: users.enable_user(db, actor, "alice"),
                    lambda: users.set_role(db, actor, "alice", "admin"),
                    lambda: users.reset_password(db, hasher, actor, "alice")):
        with pytest.raises(PermissionDeniedError):
            attempt()
    assert db.committed.users["alice"].role == "clinician"
    assert not db.committed.users["alice"].must_change_password


def test_set_role_refuses_ones_own_and_unknown_roles(db: FakeDatabase, hasher: FakeHasher) -> None:
    admin = add(db, hasher, name="root", role="admin")
    add(db, hasher)
    with pytest.raises(UsageError, match="you cannot change your own role"):
        users.set_role(db, admin, "root", "clinician")
    with pytest.raises(UsageError, match="role: got 'boss'"):
        users.set_role(db, admin, "alice", "boss")
    assert users.set_role(db, admin, "alice", "researcher").role == "researcher"
    users.set_role(db, admin, "alice", "researcher")  # no change: nothing to audit
    assert [a for _, a, _ in audit_trail(db)].count("user.role_change") == 1


def test_reset_gives_a_temporary_password_that_must_be_replaced(db: FakeDatabase,
                                                                hasher: FakeHasher) -> None:
    alice = add(db, hasher)
    user, temporary = users.reset_password(db, hasher, SHELL, "alice")
    assert user.must_change_password
    assert user.password_temporary_until is not None
    assert user.password_temporary_until - dt.datetime.now(dt.UTC) <= users.TEMPORARY_PASSWORD_LIFETIME
    assert temporary not in repr(db.committed.audit)
    with pytest.raises(AuthenticationError):
        users.authenticate(db, hasher, username="alice", password=PASSWORD)
    signed_in = users.authenticate(db, hasher, username="alice", password=temporary)
    assert signed_in.must_change_password
    with pytest.raises(UsageError, match="it is the current one"):
        users.change_password(db, hasher, signed_in, current_password=temporary,
                              new_password=temporary)
    with pytest.raises(UsageError, match="does not match"):
        users.change_password(db, hasher, signed_in, current_password=PASSWORD,
                              new_password="another long passphrase")
    changed = users.change_password(db, hasher, signed_in, current_password=temporary,
                                    new_password="another long passphrase")
    assert not changed.must_change_password
    assert alice.username == changed.username
    assert audit_trail(db)[-1] == ("alice", "user.password_change", "alice")
