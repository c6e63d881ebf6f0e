"""One exception tree for myositis-cds.

Every user-facing error names the field (as a JSON path), the value it found, what was expected
and, where there is one, the remedy. The CLI prints these and exits with code 2; it never prints a
traceback for them. Nothing here imports beyond the standard library so that every layer may raise
them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "ChangeValidationError",
    "DatabaseNotReadyError",
    "DatabaseUnavailableError",
    "EntryConflictError",
    "FieldError",
    "KnowledgePackError",
    "MyositisCdsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RecordValidationError",
    "SettingsError",
    "StaleEditError",
    "UsageError",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldError:
    """One problem with one value of an input document."""

    path: str
    """JSON path of the offending value, e.g. ``$.labs[2].value``."""
    value: object
    """The value found (``<missing>`` when the field is absent)."""
    expected: str
    """What would have been accepted."""

    def __str__(self) -> str:
        return f"{self.path}: got {_show(self.value)}; expected {self.expected}"

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "value": _jsonable(self.value), "expected": self.expected}


class MyositisCdsError(Exception):
    """Base class of every error this package raises on purpose."""


class UsageError(MyositisCdsError):
    """The caller asked for something that cannot be done (unknown example, unreadable file...)."""


class RecordValidationError(MyositisCdsError):
    """A patient record (or batch) does not satisfy ``patient-record@1``.

    ``errors`` holds every problem found, not only the first, so that a clinician or integrator can
    fix the document in one pass.
    """

    def __init__(self, errors: Iterable[FieldError], *, source: str = "record") -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.source = source
        count = len(self.errors)
        plural = "s" if count != 1 else ""
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(f"{source}: {count} error{plural} in the patient record\n{lines}")


class SettingsError(MyositisCdsError):
    """A site settings file names an unknown setting or gives a value of the wrong kind."""

    def __init__(self, errors: Iterable[FieldError], *, source: str = "settings") -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(f"{source}: invalid settings\n{lines}")


class KnowledgePackError(MyositisCdsError):
    """The knowledge pack is malformed: a rule without a citation, a threshold without a source..."""

    def __init__(self, problems: Iterable[str], *, pack: str = "knowledge pack") -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{pack}: {len(self.problems)} problem(s)\n{lines}")


class NotFoundError(MyositisCdsError):
    """A stored patient or user does not exist (or no longer exists)."""


class AlreadyExistsError(MyositisCdsError):
    """A patient key or username is already taken."""


class StaleEditError(MyositisCdsError):
    """An edit of a whole record was based on a version of a stored patient that has since changed
    (by someone else, or by the same user elsewhere, e.g. in another tab).

    Nothing was written; the caller reloads the patient and applies the change again.
    """

    def __init__(self, *, patient_key: str, current_version: int, expected_version: int) -> None:
        self.patient_key = patient_key
        self.current_version = current_version
        self.expected_version = expected_version
        super().__init__(
            f"patient {patient_key} has changed since your copy was read (now version "
            f"{current_version}, your edit was based on {expected_version}): reload and apply your "
            "change again")


class ChangeValidationError(RecordValidationError):
    """The record a change of entries would make is invalid (nothing was stored).

    ``paths`` are the JSON paths, in that record, of the entries the change added or changed, so
    that a form can put each message next to its own field.
    """

    def __init__(self, errors: Iterable[FieldError], *, paths: Iterable[str],
                 source: str = "record") -> None:
        super().__init__(errors, source=source)
        self.paths = tuple(paths)


class EntryConflictError(MyositisCdsError):
    """A change touches an entry (or patient detail) that was changed since the form was loaded:
    a real conflict, which is not merged. Nothing was written.

    ``current`` is the entry as stored now (None when it is no longer stored), ``changed_by`` the
    user who changed the patient last (None when unknown), ``fields`` the patient details that
    were changed by both.
    """

    def __init__(self, *, patient_key: str, current_version: int, base_version: int, what: str,
                 current: object = None, current_index: int | None = None,
                 changed_by: str | None = None, fields: Iterable[str] = ()) -> None:
        self.patient_key = patient_key
        self.current_version = current_version
        self.base_version = base_version
        self.what = what
        self.current = current
        self.current_index = current_index
        self.changed_by = changed_by
        self.fields = tuple(fields)
        state = "changed" if current is not None or self.fields else "removed"
        super().__init__(
            f"patient {patient_key}: the {what} you changed was {state} since your form was "
            f"loaded (now version {current_version}, your form was based on {base_version}); "
            "nothing was stored: compare, then apply your change to the current version")


class PermissionDeniedError(MyositisCdsError):
    """The acting user's role (or a disabled account) does not allow the action."""


class AuthenticationError(MyositisCdsError):
    """Sign-in failed. The message never says whether the user exists."""


class DatabaseNotReadyError(MyositisCdsError):
    """The database has no tables yet or an older schema: the migrations must be applied first."""


class DatabaseUnavailableError(DatabaseNotReadyError):
    """The database cannot be used right now: not reachable, credentials refused, a file that
    cannot be opened, or locked for longer than the wait allowed."""


def _show(value: object) -> str:
    if value is MISSING_VALUE:
        return "<missing>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(value: object) -> object:
    if value is MISSING_VALUE:
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING_VALUE: object = _Missing()
"""Sentinel for :attr:`FieldError.value` when the field is absent."""
