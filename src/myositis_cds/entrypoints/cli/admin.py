"""Administration at the server's shell: ``users add|list|disable|enable|set-role|reset-password|
unlock``, ``db upgrade`` (``--app-role`` on PostgreSQL), ``audit verify`` and ``views render``
(pre-render every patient page for a date, e.g. nightly after midnight).

The database is ``MYOSITIS_CDS_DATABASE_URL`` or the SQLite file ``./var/myositis-cds.sqlite3``.
User commands act as ``cli:<os user>`` (trusted like an admin: whoever has the shell has the
database) and are audited under that name. They refuse to run on a database whose migrations have
not been applied (``myositis-cds db upgrade`` applies them).
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Callable
from typing import TypeVar

from myositis_cds import bootstrap
from myositis_cds.entrypoints.cli.common import as_of_from
from myositis_cds.errors import UsageError
from myositis_cds.services import audit, patient_page, users
from myositis_cds.services.ports import SystemActor, UnitOfWorkFactory

__all__ = [
    "cmd_audit_verify",
    "cmd_db_upgrade",
    "cmd_users_add",
    "cmd_users_disable",
    "cmd_users_enable",
    "cmd_users_list",
    "cmd_users_reset_password",
    "cmd_users_set_role",
    "cmd_users_unlock",
    "cmd_views_render",
    "shell_actor",
]

T = TypeVar("T")


def shell_actor() -> SystemActor:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (e.g. a bare container)
        name = f"uid{os.getuid()}"
    return SystemActor(username=f"cli:{name}")


def _with_database(action: Callable[[UnitOfWorkFactory], T]) -> T:
    database = bootstrap.make_unit_of_work()
    try:
        bootstrap.check_ready(database)
        return action(database)
    finally:
        database.dispose()


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        msg = "no terminal to ask for the password: pipe it in with --password-stdin"
        raise UsageError(msg)
    password = getpass.getpass(f"password for {args.username}: ")
    users.check_password(password)
    if getpass.getpass("again: ") != password:
        msg = "the two passwords differ: nothing was changed; run the command again"
        raise UsageError(msg)
    return password


def cmd_users_add(args: argparse.Namespace) -> int:
    password = _read_password(args)
    user = _with_database(lambda db: users.add_user(
        db, bootstrap.password_hasher(), shell_actor(), username=args.username,
        password=password, role=args.role))
    sys.stdout.write(f"added user {user.username} ({user.role})\n")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:  # noqa: ARG001 - every command takes args
    accounts = _with_database(lambda db: users.list_users(db, shell_actor()))
    if not accounts:
        sys.stdout.write("no users yet: add one with `myositis-cds users add NAME --role admin`\n")
        return 0
    width = max(len("username"), *(len(u.username) for u in accounts))
    sys.stdout.write(f"{'username':<{width}}  {'role':<10}  active\n")
    for account in accounts:
        active = "yes" if account.active else "no"
        sys.stdout.write(f"{account.username:<{width}}  {account.role:<10}  {active}\n")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    user = _with_database(lambda db: users.disable_user(db, shell_actor(), args.username))
    sys.stdout.write(f"disabled user {user.username}: it can no longer sign in\n")
    return 0


def cmd_users_unlock(args: argparse.Namespace) -> int:
    cleared = _with_database(lambda db: users.unlock_user(db, shell_actor(), args.username))
    sys.stdout.write(f"unlocked user {args.username}: {cleared} failed sign-in(s) forgotten, no "
                     "delay before the next sign-in\n")
    return 0


_ANCHOR = re.compile(r"(\d{1,12}):([0-9a-f]{64})")


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the chain is intact (and matches the anchor), 3 when it is not."""
    expect = None
    if args.expect is not None:
        match = _ANCHOR.fullmatch(args.expect.strip())
        if match is None:
            msg = (f"--expect: got {args.expect[:80]!r}; expected ID:HASH as printed by an earlier "
                   "`myositis-cds audit verify` (e.g. 1234:9f86d081...)")
            raise UsageError(msg)
        expect = (int(match.group(1)), match.group(2))
    result = _with_database(lambda db: audit.verify_audit_log(db, shell_actor(), expect=expect))
    if not result.intact:
        lines = "\n".join(f"  - {problem}" for problem in result.problems)
        more = f"\n  ... and {result.more_problems} more" if result.more_problems else ""
        sys.stderr.write(f"error: the audit log was altered ({result.events} events checked):\n"
                         f"{lines}{more}\n")
        return 3
    sys.stdout.write(f"audit log intact: {result.events} events; head {result.last_id}:"
                     f"{result.last_hash}\n(keep this line somewhere else: `audit verify --expect "
                     "ID:HASH` later proves that nothing up to it was removed or changed)\n")
    return 0


def cmd_users_enable(args: argparse.Namespace) -> int:
    user = _with_database(lambda db: users.enable_user(db, shell_actor(), args.username))
    sys.stdout.write(f"enabled user {user.username}: it can sign in again\n")
    return 0


def cmd_users_set_role(args: argparse.Namespace) -> int:
    user = _with_database(lambda db: users.set_role(db, shell_actor(), args.username, args.role))
    sys.stdout.write(f"user {user.username} is now {user.role}\n")
    return 0


def cmd_users_reset_password(args: argparse.Namespace) -> int:
    """A new generated, temporary password, printed once; the user's sessions end."""
    user, password = _with_database(lambda db: users.reset_password(
        db, bootstrap.password_hasher(), shell_actor(), args.username))
    bootstrap.end_web_sessions(user.username)
    username = user.username
    hours = int(users.TEMPORARY_PASSWORD_LIFETIME.total_seconds() // 3600)
    sys.stdout.write(f"temporary password for {username}: {password}\n(shown only now, valid "
                     f"{hours} hours; they choose their own at the next sign-in; their sessions "
                     "ended)\n")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    url = bootstrap.database_url()
    revision = bootstrap.upgrade(url)
    sys.stdout.write(f"database {bootstrap.display_url(url)} is at revision {revision} (latest)\n")
    if args.app_role:
        bootstrap.grant_app_role(url, args.app_role)
        sys.stdout.write(f"granted {args.app_role!r} the server's privileges: read and write the "
                         "clinic's tables, only SELECT and INSERT on audit_log\n")
    return 0


def cmd_views_render(args: argparse.Namespace) -> int:
    """Render and store the patient page of every stored patient for ``--as-of`` (default today)
    with the server's knowledge pack and settings, so the first opening of each page that day is as
    fast as the next. Each patient read is audited."""
    from myositis_cds.entrypoints.web.clinical import Clinic  # noqa: PLC0415 - the web app's code

    clinic = Clinic()
    as_of = as_of_from(args, clinic.today())

    def progress(done: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{done} patients checked")
            sys.stderr.flush()

    summary = _with_database(lambda db: patient_page.pre_render_pages(
        db, shell_actor(), as_of=as_of, fingerprint=clinic.fingerprint, parse=clinic.parse,
        params=clinic.params, render=clinic.render_page, progress=progress))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    sys.stdout.write(f"pages for {summary.as_of}: {summary.rendered} rendered, {summary.current} "
                     f"already current, {summary.invalid} not rendered (the stored record no "
                     "longer validates; its page lists the errors)\n")
    return 0
