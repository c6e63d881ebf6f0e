"""``myositis-cds users add|list|disable`` and ``db upgrade`` as an administrator runs them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from myositis_cds.adapters.storage import Database, head_revision
from myositis_cds.entrypoints.cli import main

PASSWORD = "correct horse battery staple"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'var' / 'cds.sqlite3'}"
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", url)
    return url


@pytest.fixture
def upgraded(database_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    return database_url


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str,
        stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def audit_of(url: str) -> Iterator[tuple[str, str, str]]:
    with Database(url) as database, database() as work:
        return iter([(e.actor, e.action, e.detail) for e in work.audit.export()])


def test_db_upgrade_creates_the_database(database_url: str, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    assert main(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert out == f"database {database_url} is at revision {head_revision()} (latest)\n"
    assert (tmp_path / "var" / "cds.sqlite3").is_file()
    assert main(["db", "upgrade"]) == 0


def test_users_commands_need_an_upgraded_database(database_url: str,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, monkeypatch, "users", "list")
    assert (code, out) == (2, "")
    assert err.startswith("error: the database sqlite:///")
    assert f"has no tables yet; expected revision {head_revision()}: run `myositis-cds db upgrade`" in err


def test_add_list_disable(upgraded: str, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, monkeypatch, "users", "list")
    assert (code, err) == (0, "")
    assert "no users yet" in out
    code, out, err = run(capsys, monkeypatch, "users", "add", "alice", "--role", "admin",
                         "--password-stdin", stdin=PASSWORD + "\n")
    assert (code, out, err) == (0, "added user alice (admin)\n", "")
    run(capsys, monkeypatch, "users", "add", "bob.smith", "--role", "researcher", "--password-stdin",
        stdin=PASSWORD)
    code, out, _ = run(capsys, monkeypatch, "users", "disable", "alice")
    assert (code, out) == (0, "disabled user alice: it can no longer sign in\n")
    code, out, _ = run(capsys, monkeypatch, "users", "list")
    assert code == 0
    assert out == ("username   role        active\n"
                   "alice      admin       no\n"
                   "bob.smith  researcher  yes\n")
    assert "argon2" not in out
    actors = {actor for actor, _, _ in audit_of(upgraded)}
    assert len(actors) == 1
    assert actors.pop().startswith("cli:")
    assert [(action, detail) for _, action, detail in audit_of(upgraded)] == [
        ("user.add", "alice (admin)"), ("user.add", "bob.smith (researcher)"),
        ("user.disable", "alice")]


def test_short_password_refused(upgraded: str, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, monkeypatch, "users", "add", "alice", "--role", "clinician",
                         "--password-stdin", stdin="short pass\n")
    assert (code, out) == (2, "")
    assert err == ("error: password: got 10 characters; expected at least 12 (a passphrase of "
                   "several words is easiest)\n")
    assert "no users yet" in run(capsys, monkeypatch, "users", "list")[1]


def test_duplicate_user_refused(upgraded: str, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ("users", "add", "alice", "--role", "clinician", "--password-stdin")
    assert run(capsys, monkeypatch, *argv, stdin=PASSWORD)[0] == 0
    code, out, err = run(capsys, monkeypatch, *argv, stdin=PASSWORD)
    assert (code, out) == (2, "")
    assert err == "error: user 'alice' already exists: choose another username\n"


def test_disable_unknown_user(upgraded: str, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(capsys, monkeypatch, "users", "disable", "nobody")
    assert code == 2
    assert err == "error: no user 'nobody': `myositis-cds users list` shows the users\n"


def test_password_prompt_on_a_terminal(upgraded: str, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([PASSWORD, PASSWORD, PASSWORD, PASSWORD + "typo"])
    monkeypatch.setattr("getpass.getpass", lambda _prompt: next(answers))
    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["users", "add", "alice", "--role", "clinician"]) == 0
    assert main(["users", "add", "bob", "--role", "clinician"]) == 2
    assert "the two passwords differ: nothing was changed" in capsys.readouterr().err


def test_without_a_terminal_the_password_must_come_from_stdin(
        upgraded: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(capsys, monkeypatch, "users", "add", "alice", "--role", "clinician")
    assert code == 2
    assert err == "error: no terminal to ask for the password: pipe it in with --password-stdin\n"


def test_console_script_prints_no_traceback(upgraded: str) -> None:
    env = {**os.environ, "MYOSITIS_CDS_DATABASE_URL": upgraded}
    script = Path(sys.executable).parent / "myositis-cds"
    result = subprocess.run(
        [str(script), "users", "add", "alice", "--role", "admin", "--password-stdin"],
        input="too short\n", capture_output=True, text=True, env=env, check=False, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error: password: got 9 characters")
    assert "Traceback" not in result.stderr


def test_enable_set_role_and_reset_password(upgraded: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, monkeypatch, "users", "add", "alice", "--role", "clinician", "--password-stdin",
        stdin=PASSWORD)
    run(capsys, monkeypatch, "users", "disable", "alice")
    assert run(capsys, monkeypatch, "users", "enable", "alice")[1] == \
        "enabled user alice: it can sign in again\n"
    assert run(capsys, monkeypatch, "users", "set-role", "alice", "admin")[1] == \
        "user alice is now admin\n"
    code, out, err = run(capsys, monkeypatch, "users", "reset-password", "alice")
    assert (code, err) == (0, "")
    temporary = out.split("temporary password for alice: ", 1)[1].split("\n", 1)[0]
    assert len(temporary) >= 20
    with Database(upgraded) as database, database() as work:
        alice = work.users.get("alice")
        assert alice is not None
        assert (alice.active, alice.role, alice.must_change_password) == (True, "admin", True)
    assert [(action, detail) for _, action, detail in audit_of(upgraded)][-3:] == [
        ("user.enable", "alice"), ("user.role_change", "alice: clinician → admin"),
        ("user.password_reset", "alice")]
    code, out, err = run(capsys, monkeypatch, "users", "reset-password", "nobody")
    assert (code, out) == (2, "")
    assert "no user 'nobody'" in err
