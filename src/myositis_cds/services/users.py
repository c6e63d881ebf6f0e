"""Accounts: add, list, disable, unlock, and password verification (argon2 through the hasher port).

Only an admin (or a :class:`~myositis_cds.services.ports.SystemActor` at the server's shell) manages
accounts. :func:`authenticate` takes the same time whether or not the user exists (an unknown name
costs one hash), says the same thing for every failure, and audits a failure as
``auth.failed`` with the username only.
"""

from __future__ import annotations

import re

from myositis_cds.errors import (
    AlreadyExistsError,
    AuthenticationError,
    NotFoundError,
    UsageError,
)
from myositis_cds.services.access import USER_ADMIN_ROLES, event, require, utc_now
from myositis_cds.services.ports import (
    ROLES,
    Actor,
    PasswordHasher,
    Role,
    UnitOfWorkFactory,
    User,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "add_user",
    "authenticate",
    "check_password",
    "disable_user",
    "get_user",
    "list_users",
    "unlock_user",
]

MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_FAILED = "sign-in failed: unknown username, wrong password or disabled account"


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = (f"password: got {len(password)} characters; expected at least {MIN_PASSWORD_LENGTH} "
               "(a passphrase of several words is easiest)")
        raise UsageError(msg)


def _check_username(username: str) -> None:
    if not _USERNAME.fullmatch(username):
        msg = (f"username: got {username!r}; expected 1–64 letters, digits or . _ @ - "
               "(starting with a letter or digit)")
        raise UsageError(msg)


def _check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    msg = f"role: got {role!r}; expected one of {', '.join(ROLES)}"
    raise UsageError(msg)


def add_user(uow: UnitOfWorkFactory, hasher: PasswordHasher, actor: Actor, *, username: str,
             password: str, role: str) -> User:
    require(uow, actor, "user.add", USER_ADMIN_ROLES, what="add users")
    _check_username(username)
    checked_role = _check_role(role)
    check_password(password)
    user = User(username=username, password_hash=hasher.hash(password), role=checked_role,
                active=True, created_at=utc_now())
    with uow() as work:
        if work.users.get(username) is not None:
            msg = f"user {username!r} already exists: choose another username"
            raise AlreadyExistsError(msg)
        stored = work.users.add(user)
        work.audit.append(event(actor, "user.add", detail=f"{username} ({checked_role})"))
        work.commit()
    return stored


def get_user(uow: UnitOfWorkFactory, username: str) -> User | None:
    """The account ``username`` (active or not), or ``None``: who a session belongs to.

    Not audited and not permission-checked: it resolves the signed-in user of a session (the
    username comes from the server's own session store, never from the request).
    """
    with uow() as work:
        return work.users.get(username)


def list_users(uow: UnitOfWorkFactory, actor: Actor) -> list[User]:
    require(uow, actor, "user.list", USER_ADMIN_ROLES, what="list users")
    with uow() as work:
        return work.users.list()


def disable_user(uow: UnitOfWorkFactory, actor: Actor, username: str) -> User:
    """Disable an account (it can no longer sign in); disabling twice is harmless."""
    require(uow, actor, "user.disable", USER_ADMIN_ROLES, what="disable users")
    with uow() as work:
        if work.users.get(username) is None:
            msg = f"no user {username!r}: `myositis-cds users list` shows the users"
            raise NotFoundError(msg)
        user = work.users.set_active(username, active=False)
        work.audit.append(event(actor, "user.disable", detail=username))
        work.commit()
    return user


def unlock_user(uow: UnitOfWorkFactory, actor: Actor, username: str) -> int:
    """End a user's sign-in delay at once (its failed attempts are forgotten); audited with how
    many were cleared. Returns that number."""
    require(uow, actor, "user.unlock", USER_ADMIN_ROLES, what="unlock users")
    with uow() as work:
        if work.users.get(username) is None:
            msg = f"no user {username!r}: `myositis-cds users list` shows the users"
            raise NotFoundError(msg)
        cleared = work.users.clear_sign_in_failures(username)
        work.audit.append(event(actor, "user.unlock",
                                detail=f"{username}: {cleared} failed sign-in(s) cleared"))
        work.commit()
    return cleared


def authenticate(uow: UnitOfWorkFactory, hasher: PasswordHasher, *, username: str,
                 password: str) -> User:
    """The active user whose password matches; :class:`AuthenticationError` otherwise (audited)."""
    with uow() as work:
        user = work.users.get(username)
        if user is None:
            hasher.hash(password)  # the same work as a verification: timing does not tell
            matches = False
        else:
            matches = hasher.verify(user.password_hash, password)
        if user is None or not matches or not user.active:
            work.audit.append(event(username, "auth.failed"))
            work.commit()
            raise AuthenticationError(_FAILED)
        if hasher.needs_rehash(user.password_hash):
            user = work.users.set_password_hash(username, hasher.hash(password))
        work.audit.append(event(username, "auth.login"))
        work.commit()
    return user
