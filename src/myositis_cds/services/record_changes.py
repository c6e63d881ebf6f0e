"""Entry-level changes to a stored patient, merged onto the latest version (clinic data entry).

A form changes one part of a record: it adds entries (a visit adds an assessment, findings and
labs at once), corrects, stops or deletes one entry, or changes patient details. The change names
the version its form was loaded at and, for an existing entry, the entry as it was loaded. When
the patient has changed meanwhile, the change is applied to the latest version instead of being
refused, whenever it still applies there:

- adding entries always applies: an addition touches no other entry;
- correcting, stopping or deleting an entry applies when that entry is still stored exactly as the
  form loaded it (at its place or, when other entries were added or removed, elsewhere in its
  list);
- patient details apply field by field: a field the form changed must still hold the value the
  form was loaded with (or already hold the new one).

Anything else is a real conflict (:class:`~myositis_cds.errors.EntryConflictError`): nothing is
written, and the error carries the entry as stored now and who changed the patient last (from the
audit trail), so the form can keep the user's input and offer to apply it to the new version.
The whole new record is validated by the same parser as every other input before it is stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from myositis_cds.errors import (
    ChangeValidationError,
    EntryConflictError,
    NotFoundError,
    RecordValidationError,
    StaleEditError,
)
from myositis_cds.services.access import PATIENT_ROLES, event, require
from myositis_cds.services.assessing import RecordParser
from myositis_cds.services.ports import (
    Actor,
    AuditAction,
    AuditQuery,
    StoredPatient,
    UnitOfWork,
    UnitOfWorkFactory,
)

__all__ = [
    "DELETE_REASONS",
    "DETAIL_FIELDS",
    "ENTRY_KEYS",
    "ENTRY_LABELS",
    "AddEntries",
    "Applied",
    "Change",
    "ChangeOutcome",
    "DeleteEntry",
    "EntryKey",
    "ReplaceEntry",
    "SetDetails",
    "apply_change",
    "change_patient",
    "detail_value",
    "entry_digest",
    "last_changed_by",
]

EntryKey = Literal["assessments", "labs", "antibodies", "findings", "treatments", "investigations",
                   "body_measurements"]
ENTRY_KEYS: Final[tuple[EntryKey, ...]] = (
    "assessments", "labs", "antibodies", "findings", "treatments", "investigations",
    "body_measurements")
ENTRY_LABELS: Final[Mapping[str, str]] = {
    "assessments": "visit", "labs": "lab result", "antibodies": "antibody result",
    "findings": "finding", "treatments": "treatment", "investigations": "investigation",
    "body_measurements": "body measurement"}
DETAIL_FIELDS: Final = ("id", "sex", "birth_date", "diagnosis.name", "diagnosis.date",
                        "diagnosis.symptom_onset_date")
"""The patient details a details form changes (``diagnosis.date`` is a key of ``diagnosis``)."""
DELETE_REASONS: Final[Mapping[str, str]] = {
    "entered_in_error": "entered in error", "duplicate": "a duplicate",
    "wrong_patient": "recorded for the wrong patient", "other": "another reason"}
"""Why an entry or a patient is deleted: chosen from a list, so no free text (which could hold
patient data) reaches the audit trail."""
RETRIES: Final = 3
"""How often a change is re-applied when another write lands between its read and its write."""


def entry_digest(entry: object) -> str:
    """SHA-256 of an entry's canonical JSON: equal digests, equal entries."""
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class AddEntries:
    """New entries, appended to their lists (``(key, entry)`` pairs, in order)."""

    entries: tuple[tuple[EntryKey, Mapping[str, object]], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceEntry:
    """Correct (or stop) the entry ``before`` of list ``key`` (loaded at ``index``): ``after``."""

    key: EntryKey
    index: int
    before: Mapping[str, object]
    after: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteEntry:
    key: EntryKey
    index: int
    before: Mapping[str, object]
    reason: str
    """A key of :data:`DELETE_REASONS`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetDetails:
    """Patient details by :data:`DETAIL_FIELDS` name as loaded (``before``) and as submitted
    (``after``); None is "absent"."""

    before: Mapping[str, object]
    after: Mapping[str, object]


Change = AddEntries | ReplaceEntry | DeleteEntry | SetDetails


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    document: dict[str, object]
    paths: tuple[str, ...]
    """JSON paths of the added or changed entries in ``document`` (none for a deletion)."""


class _Conflict(Exception):  # noqa: N818 - internal signal, turned into EntryConflictError
    def __init__(self, what: str, *, current: object = None, index: int | None = None,
                 fields: Sequence[str] = ()) -> None:
        super().__init__(what)
        self.what = what
        self.current = current
        self.index = index
        self.fields = tuple(fields)


def _entries(document: Mapping[str, object], key: str) -> list[object]:
    entries = document.get(key)
    return list(entries) if isinstance(entries, list) else []


_IDENTITY: Final[Mapping[str, tuple[str, ...]]] = {
    "assessments": ("date",), "labs": ("test", "date"), "antibodies": ("target", "date"),
    "findings": ("code", "date"), "treatments": ("drug", "start"),
    "investigations": ("kind", "date"), "body_measurements": ("date",)}
"""What makes an entry "the same entry" after someone else corrected it (to show it in a
conflict): the same test on the same date, the same drug started the same day..."""


def _nearest(candidates: Sequence[int], index: int) -> int | None:
    return min(candidates, key=lambda i: (abs(i - index), i)) if candidates else None


def _locate(entries: Sequence[object], key: str, index: int, before: Mapping[str, object]) -> int:
    """Where the entry ``before`` (loaded at ``index``) is stored now; :class:`_Conflict` when it
    is no longer stored as loaded (with its corrected form, when one entry looks like it)."""
    digest = entry_digest(before)
    if 0 <= index < len(entries) and entry_digest(entries[index]) == digest:
        return index
    found = _nearest([i for i, e in enumerate(entries) if entry_digest(e) == digest], index)
    if found is not None:
        return found
    identity = [(name, before.get(name)) for name in _IDENTITY.get(key, ())]
    similar = [i for i, e in enumerate(entries)
               if isinstance(e, Mapping) and all(e.get(n) == v for n, v in identity)]
    near = _nearest(similar, index)
    raise _Conflict(ENTRY_LABELS.get(key, "entry"), current=None if near is None else entries[near],
                    index=near)


def detail_value(document: Mapping[str, object], name: str) -> object:
    """A :data:`DETAIL_FIELDS` value of a record (None when absent)."""
    head, _, tail = name.partition(".")
    value = document.get(head)
    if tail:
        return value.get(tail) if isinstance(value, Mapping) else None
    return value


def _set_detail(document: dict[str, object], name: str, value: object) -> None:
    head, _, tail = name.partition(".")
    if not tail:
        if value is None:
            document.pop(head, None)
        else:
            document[head] = value
        return
    part = document.get(head)
    inner = dict(part) if isinstance(part, Mapping) else {}
    if value is None:
        inner.pop(tail, None)
    else:
        inner[tail] = value
    if inner:
        document[head] = inner
    else:
        document.pop(head, None)


def _set_details(document: dict[str, object], change: SetDetails) -> None:
    clashes = []
    for name in DETAIL_FIELDS:
        mine, base = change.after.get(name), change.before.get(name)
        if mine == base:
            continue  # not changed by this form: whatever is stored now stays
        theirs = detail_value(document, name)
        if theirs not in (base, mine):
            clashes.append(name)
            continue
        _set_detail(document, name, mine)
    if clashes:
        raise _Conflict("patient details", current={n: detail_value(document, n) for n in DETAIL_FIELDS},
                        fields=clashes)


def apply_change(record: Mapping[str, object], change: Change) -> Applied:
    """``record`` with ``change`` applied (a new document; ``record`` is not changed).

    Raises ``_Conflict`` (turned into :class:`EntryConflictError` by :func:`change_patient`) when
    the change touches an entry or detail that is no longer stored as the form loaded it."""
    document: dict[str, object] = dict(record)
    if isinstance(change, AddEntries):
        paths = []
        for key, entry in change.entries:
            entries = _entries(document, key)
            paths.append(f"$.{key}[{len(entries)}]")
            document[key] = [*entries, dict(entry)]
        return Applied(document=document, paths=tuple(paths))
    if isinstance(change, SetDetails):
        _set_details(document, change)
        return Applied(document=document, paths=("$",))
    entries = _entries(document, change.key)
    where = _locate(entries, change.key, change.index, change.before)
    if isinstance(change, ReplaceEntry):
        entries[where] = dict(change.after)
        document[change.key] = entries
        return Applied(document=document, paths=(f"$.{change.key}[{where}]",))
    del entries[where]
    if entries:
        document[change.key] = entries
    else:
        document.pop(change.key, None)
    return Applied(document=document, paths=())


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeOutcome:
    stored: StoredPatient
    base_version: int
    """The version the form was loaded at."""
    merged: bool
    """The patient had changed since: the change was applied to the newer version."""
    paths: tuple[str, ...]


def last_changed_by(work: UnitOfWork, patient_key: str) -> str | None:
    """Who wrote the patient last, from the audit trail (None when it does not say)."""
    writes = ("patient.create", "patient.update", "patient.entry_delete")
    for logged in work.audit.list(AuditQuery(patient_key=patient_key), limit=20):
        if logged.action in writes:
            return logged.actor
    return None


def _describe(change: Change) -> tuple[AuditAction, str]:
    if isinstance(change, AddEntries):
        counts: dict[str, int] = {}
        for key, _entry in change.entries:
            counts[key] = counts.get(key, 0) + 1
        added = ", ".join(f"{n} {ENTRY_LABELS[k]}{'s' if n != 1 else ''}" for k, n in counts.items())
        return "patient.update", f"added {added}"
    if isinstance(change, SetDetails):
        return "patient.update", "changed patient details"
    label = ENTRY_LABELS[change.key]
    if isinstance(change, ReplaceEntry):
        stopped = change.key == "treatments" and change.before.get("stop") != change.after.get("stop")
        return "patient.update", f"{'stopped' if stopped else 'corrected'} a {label}"
    reason = DELETE_REASONS.get(change.reason, DELETE_REASONS["other"])
    return "patient.entry_delete", f"deleted a {label} (reason: {reason})"


def _check(change: Change) -> None:
    if isinstance(change, AddEntries) and not change.entries:
        msg = "nothing to add: the change holds no entry"
        raise ValueError(msg)
    if isinstance(change, DeleteEntry) and change.reason not in DELETE_REASONS:
        msg = f"reason: got {change.reason!r}; expected one of {', '.join(DELETE_REASONS)}"
        raise ValueError(msg)


def change_patient(uow: UnitOfWorkFactory, actor: Actor, patient_id: int, change: Change, *,
                   base_version: int, parse: RecordParser, dry_run: bool = False) -> ChangeOutcome:
    """Apply ``change`` (made on a form loaded at ``base_version``) to the latest version of the
    patient, validate the whole record and store it with one audit event (module docstring).

    Raises :class:`EntryConflictError` on a real conflict, :class:`ChangeValidationError` when the
    record would be invalid, NotFoundError when the patient is gone; nothing is written then.
    ``dry_run``: check only (a form that has problems of its own still lists the record's), store
    nothing and audit nothing; the outcome's ``stored`` is then the unchanged patient."""
    require(uow, actor, "patient.update", PATIENT_ROLES, what="change patient records")
    _check(change)
    action, summary = _describe(change)
    last: StoredPatient | None = None
    for _attempt in range(RETRIES):
        with uow() as work:
            current = work.patients.get(patient_id)
            if current is None:
                msg = f"no stored patient with id {patient_id}: it may have been deleted"
                raise NotFoundError(msg)
            last = current
            try:
                applied = apply_change(current.record, change)
            except _Conflict as conflict:
                raise EntryConflictError(
                    patient_key=current.patient_key, current_version=current.version,
                    base_version=base_version, what=conflict.what, current=conflict.current,
                    current_index=conflict.index, fields=conflict.fields,
                    changed_by=last_changed_by(work, current.patient_key)) from None
            try:
                key = parse(applied.document, prefix="$", source="patient record").id
            except RecordValidationError as exc:
                raise ChangeValidationError(exc.errors, paths=applied.paths,
                                            source=exc.source) from None
            merged = current.version != base_version
            if dry_run:
                return ChangeOutcome(stored=current, base_version=base_version, merged=merged,
                                     paths=applied.paths)
            changed = dataclasses.replace(current, patient_key=key, record=applied.document)
            try:
                stored = work.patients.update(changed, expected_version=current.version)
            except StaleEditError:
                continue  # written meanwhile: leave without committing and apply again
            note = (f"; applied to version {current.version} (the form was loaded at version "
                    f"{base_version})") if merged else ""
            work.audit.append(event(actor, action, patient_key=key,
                                    detail=f"id {stored.id}, version {current.version} → "
                                           f"{stored.version}: {summary}{note}"))
            work.commit()
            return ChangeOutcome(stored=stored, base_version=base_version, merged=merged,
                                 paths=applied.paths)
    assert last is not None
    # Three other writes landed between our read and our write: say so rather than loop.
    raise StaleEditError(patient_key=last.patient_key, current_version=last.version + 1,
                         expected_version=base_version)
