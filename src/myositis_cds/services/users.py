"""Accounts: add, list, disable, enable, change role, reset and change passwords, unlock, and
password verification (argon2 through the hasher port).

Only an admin (or a :class:`~myositis_cds.services.ports.SystemActor` at the server's shell) manages
accounts; every user changes their own password. :func:`authenticate` takes the same time whether
or not the user exists (an unknown name costs one hash), says the same thing for every failure,
and audits a failure as ``auth.failed`` with the username only.

A password the system generated (the demo account's, an administrator's reset) is *temporary*:
the user must choose their own at the next sign-in (:attr:`User.must_change_password`), and it is
refused once :data:`TEMPORARY_PASSWORD_LIFETIME` has passed. Every account change is audited.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from myositis_cds.errors import (
    AlreadyExistsError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)
from myositis_cds.services.access import USER_ADMIN_ROLES, event, require, utc_now
from myositis_cds.services.ports import (
    ROLES,
    Actor,
    AuditAction,
    PasswordHasher,
    Role,
    UnitOfWork,
    UnitOfWorkFactory,
    User,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "TEMPORARY_PASSWORD_LIFETIME",
    "add_user",
    "authenticate",
    "change_password",
    "check_password",
    "disable_user",
    "enable_user",
    "generate_password",
    "get_user",
    "list_users",
    "reset_password",
    "set_role",
    "unlock_user",
]

MIN_PASSWORD_LENGTH = 12
TEMPORARY_PASSWORD_LIFETIME = dt.timedelta(hours=72)
"""How long a generated password may be used (once signed in, the user must replace it). An
operational choice: long enough to hand it over, short enough that a forgotten one lapses."""
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


def generate_password() -> str:
    """A random password of 20 URL-safe characters (120 bits), to be given once and replaced."""
    return secrets.token_urlsafe(15)


def add_user(uow: UnitOfWorkFactory, hasher: PasswordHasher, actor: Actor, *, username: str,
             password: str, role: str, temporary: bool = False) -> User:
    """Add an account. ``temporary``: the password was chosen for the user (generated, or typed
    by an administrator), so they must replace it at their first sign-in."""
    require(uow, actor, "user.add", USER_ADMIN_ROLES, what="add users")
    _check_username(username)
    checked_role = _check_role(role)
    check_password(password)
    now = utc_now()
    user = User(username=username, password_hash=hasher.hash(password), role=checked_role,
                active=True, created_at=now,
                password_temporary_until=now + TEMPORARY_PASSWORD_LIFETIME if temporary else None)
    with uow() as work:
        if work.users.get(username) is not None:
            msg = f"user {username!r} already exists: choose another username"
            raise AlreadyExistsError(msg)
        stored = work.users.add(user)
        work.audit.append(event(actor, "user.add", detail=f"{username} ({checked_role})"
                                + (", temporary password" if temporary else "")))
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


def _existing(work: UnitOfWork, username: str) -> User:
    user = work.users.get(username)
    if user is None:
        msg = f"no user {username!r}: `myositis-cds users list` shows the users"
        raise NotFoundError(msg)
    return user


def _set_active(uow: UnitOfWorkFactory, actor: Actor, username: str, *, active: bool) -> User:
    action: AuditAction = "user.enable" if active else "user.disable"
    require(uow, actor, action, USER_ADMIN_ROLES, what="enable users" if active else "disable users")
    with uow() as work:
        _existing(work, username)
        user = work.users.set_active(username, active=active)
        work.audit.append(event(actor, action, detail=username))
        work.commit()
    return user


def disable_user(uow: UnitOfWorkFactory, actor: Actor, username: str) -> User:
    """Disable an account (it can no longer sign in); disabling twice is harmless."""
    return _set_active(uow, actor, username, active=False)


def enable_user(uow: UnitOfWorkFactory, actor: Actor, username: str) -> User:
    """Enable a disabled account again (its password is unchanged); enabling twice is harmless."""
    return _set_active(uow, actor, username, active=True)


def set_role(uow: UnitOfWorkFactory, actor: Actor, username: str, role: str) -> User:
    """Change an account's role. Administrators cannot change their own (another must), so the
    last administrator cannot lock everyone out of account management."""
    require(uow, actor, "user.role_change", USER_ADMIN_ROLES, what="change roles")
    checked = _check_role(role)
    if username == actor.username:
        msg = (f"role: you cannot change your own role ({actor.role}); another administrator "
               "can")
        raise UsageError(msg)
    with uow() as work:
        before = _existing(work, username).role
        user = work.users.set_role(username, checked)
        if before != checked:
            work.audit.append(event(actor, "user.role_change",
                                    detail=f"{username}: {before} → {checked}"))
        work.commit()
    return user


def reset_password(uow: UnitOfWorkFactory, hasher: PasswordHasher, actor: Actor,
                   username: str) -> tuple[User, str]:
    """Give ``username`` a new generated, temporary password (returned once, never stored in
    clear): they must replace it at their next sign-in. The caller ends their sessions."""
    require(uow, actor, "user.password_reset", USER_ADMIN_ROLES, what="reset passwords")
    password = generate_password()
    digest = hasher.hash(password)
    with uow() as work:
        _existing(work, username)
        user = work.users.set_password_hash(username, digest,
                                            temporary_until=utc_now() + TEMPORARY_PASSWORD_LIFETIME)
        work.audit.append(event(actor, "user.password_reset", detail=username))
        work.commit()
    return user, password


def change_password(uow: UnitOfWorkFactory, hasher: PasswordHasher, actor: Actor, *,
                    current_password: str, new_password: str) -> User:
    """The signed-in user replaces their own password (the current one is asked again, so an
    unattended session cannot be taken over). The new one is the user's: no longer temporary."""
    if not actor.active:
        msg = f"permission denied: the account {actor.username!r} is disabled"
        raise PermissionDeniedError(msg)
    with uow() as work:
        user = _existing(work, actor.username)
        if not hasher.verify(user.password_hash, current_password):
            work.audit.append(event(actor, "auth.failed", detail="password change: wrong current "
                                                                 "password"))
            work.commit()
            msg = "current password: it does not match; expected your current password"
            raise UsageError(msg)
    check_password(new_password)
    if new_password == current_password:
        msg = "new password: it is the current one; expected a different password"
        raise UsageError(msg)
    digest = hasher.hash(new_password)
    with uow() as work:
        user = work.users.set_password_hash(actor.username, digest)
        work.audit.append(event(actor, "user.password_change", detail=actor.username))
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
        expired = (user is not None and user.password_temporary_until is not None
                   and user.password_temporary_until <= utc_now())
        if user is None or not matches or not user.active or expired:
            work.audit.append(event(username, "auth.failed",
                                    detail="temporary password expired" if matches and expired
                                    else ""))
            work.commit()
            raise AuthenticationError(_FAILED)
        if hasher.needs_rehash(user.password_hash):
            user = work.users.set_password_hash(username, hasher.hash(password),
                                                temporary_until=user.password_temporary_until)
        work.audit.append(event(username, "auth.login"))
        work.commit()
    return user
