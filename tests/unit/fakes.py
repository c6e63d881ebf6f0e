"""In-memory fakes of the service ports (fakes over mocks): same behaviour, no database.

:class:`FakeDatabase` keeps the committed state; each unit of work works on a copy and writes it
back only on ``commit()``, so rollback behaves as in the real storage.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Collection, Iterator, Mapping
from types import TracebackType
from typing import Self

from myositis_cds.errors import AlreadyExistsError, NotFoundError, StaleEditError
from myositis_cds.services.ports import (
    AuditEvent,
    AuditQuery,
    AuditVerification,
    ListRow,
    PatientListQuery,
    PatientSummary,
    Role,
    StoredPatient,
    StoredView,
    User,
    ViewSummary,
)


@dataclasses.dataclass
class State:
    patients: dict[int, StoredPatient] = dataclasses.field(default_factory=dict)
    users: dict[str, User] = dataclasses.field(default_factory=dict)
    audit: list[AuditEvent] = dataclasses.field(default_factory=list)
    views: dict[tuple[int, str], StoredView] = dataclasses.field(default_factory=dict)
    sign_in_failures: dict[str, int] = dataclasses.field(default_factory=dict)
    summaries: dict[int, PatientSummary] = dataclasses.field(default_factory=dict)
    next_id: int = 1


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FakePatients:
    def __init__(self, state: State) -> None:
        self._state = state

    def add(self, *, patient_key: str, record: Mapping[str, object]) -> StoredPatient:
        if self.get_by_key(patient_key) is not None:
            msg = f"a patient with id {patient_key!r} is already stored"
            raise AlreadyExistsError(msg)
        now = _now()
        stored = StoredPatient(id=self._state.next_id, patient_key=patient_key, record=dict(record),
                               version=1, created_at=now, updated_at=now)
        self._state.next_id += 1
        self._state.patients[stored.id] = stored
        return stored

    def get(self, patient_id: int) -> StoredPatient | None:
        return self._state.patients.get(patient_id)

    def get_by_key(self, patient_key: str) -> StoredPatient | None:
        return next((p for p in self._state.patients.values() if p.patient_key == patient_key), None)

    def _matching(self, query: str) -> list[StoredPatient]:
        found = [p for p in self._state.patients.values() if query.lower() in p.patient_key.lower()]
        return sorted(found, key=lambda p: p.patient_key)

    def list(self, *, query: str = "", limit: int = 50, offset: int = 0) -> list[StoredPatient]:
        return self._matching(query)[offset:offset + limit]

    def count(self, *, query: str = "") -> int:
        return len(self._matching(query))

    def _check(self, patient_id: int, key: str, expected_version: int) -> StoredPatient:
        current = self.get(patient_id)
        if current is None:
            msg = f"patient {key} no longer exists"
            raise NotFoundError(msg)
        if current.version != expected_version:
            raise StaleEditError(patient_key=key, current_version=current.version,
                                 expected_version=expected_version)
        return current

    def update(self, patient: StoredPatient, *, expected_version: int) -> StoredPatient:
        current = self._check(patient.id, patient.patient_key, expected_version)
        stored = dataclasses.replace(patient, version=current.version + 1,
                                     created_at=current.created_at, updated_at=_now())
        self._state.patients[patient.id] = stored
        return stored

    def delete(self, patient_id: int, *, expected_version: int) -> None:
        self._check(patient_id, f"#{patient_id}", expected_version)
        del self._state.patients[patient_id]
        for key in [k for k in self._state.views if k[0] == patient_id]:
            del self._state.views[key]
        self._state.summaries.pop(patient_id, None)


class FakeUsers:
    def __init__(self, state: State) -> None:
        self._state = state

    def add(self, user: User) -> User:
        if user.username in self._state.users:
            msg = f"user {user.username!r} already exists"
            raise AlreadyExistsError(msg)
        self._state.users[user.username] = user
        return user

    def get(self, username: str) -> User | None:
        return self._state.users.get(username)

    def list(self) -> list[User]:
        return sorted(self._state.users.values(), key=lambda u: u.username)

    def _replace(self, username: str, **changes: object) -> User:
        if username not in self._state.users:
            msg = f"no user {username!r}"
            raise NotFoundError(msg)
        user = dataclasses.replace(self._state.users[username], **changes)  # type: ignore[arg-type]
        self._state.users[username] = user
        return user

    def set_active(self, username: str, active: bool) -> User:
        return self._replace(username, active=active)

    def set_password_hash(self, username: str, password_hash: str, *,
                          temporary_until: dt.datetime | None = None) -> User:
        return self._replace(username, password_hash=password_hash,
                             password_temporary_until=temporary_until)

    def set_role(self, username: str, role: Role) -> User:
        return self._replace(username, role=role)

    def clear_sign_in_failures(self, username: str) -> int:
        return self._state.sign_in_failures.pop(username, 0)


class FakeAudit:
    def __init__(self, state: State) -> None:
        self._state = state

    def append(self, event: AuditEvent) -> None:
        self._state.audit.append(event)

    def append_read(self, event: AuditEvent) -> None:
        """Committed with the rest of the fake unit of work (there is nothing to batch)."""
        self._state.audit.append(event)

    def _matching(self, query: AuditQuery | None) -> list[AuditEvent]:
        q = query or AuditQuery()
        return [e for e in self._state.audit
                if (q.actor is None or e.actor == q.actor)
                and (q.action is None or e.action == q.action)
                and (q.patient_key is None or e.patient_key == q.patient_key)
                and (q.since is None or e.at >= q.since)
                and (q.until is None or e.at < q.until)]

    def list(self, query: AuditQuery | None = None, *, limit: int = 100,
             offset: int = 0) -> list[AuditEvent]:
        return list(reversed(self._matching(query)))[offset:offset + limit]

    def export(self, query: AuditQuery | None = None) -> Iterator[AuditEvent]:
        yield from self._matching(query)

    def verify(self, *, expect: tuple[int, str] | None = None) -> AuditVerification:
        """A list cannot be rewritten behind the fake's back: always intact."""
        del expect
        return AuditVerification(events=len(self._state.audit), last_id=len(self._state.audit),
                                 last_hash="0" * 64, problems=())


class FakeViews:
    """Views go with their patient, as the real table's ``ON DELETE CASCADE`` does."""

    def __init__(self, state: State) -> None:
        self._state = state

    def get(self, patient_id: int, fingerprint: str) -> StoredView | None:
        return self._state.views.get((patient_id, fingerprint))

    def summaries(self, patient_ids: Collection[int], fingerprint: str) -> list[ViewSummary]:
        return [ViewSummary(patient_id=v.patient_id, version=v.version, as_of=v.as_of,
                            summary=v.summary)
                for (patient_id, kept), v in self._state.views.items()
                if patient_id in patient_ids and kept == fingerprint]

    def put(self, view: StoredView) -> None:
        if view.patient_id not in self._state.patients:
            msg = f"no patient {view.patient_id} for the view (foreign key)"
            raise NotFoundError(msg)
        self._state.views[(view.patient_id, view.fingerprint)] = view


def _sort_key(sort: str, row: ListRow) -> tuple[object, ...]:
    s, name = row.summary, row.patient.patient_key
    if sort == "name":
        return (name,)
    if s is None:
        return (1, name)
    far = dt.date.max
    keys: dict[str, tuple[object, ...]] = {
        "attention": (-s.critical, -s.overdue, -s.inadequate, -s.warning, s.next_due_date or far),
        "next_due": (s.next_due_date or far,), "age": (s.age if s.age is not None else 10**6,),
        "phase": (s.phase or "\uffff",), "critical": (-s.critical, -s.warning),
        "warning": (-s.warning, -s.critical), "overdue": (-s.overdue, s.next_due_date or far)}
    return (0, *keys[sort], name)


def _attends(query: PatientListQuery, s: PatientSummary | None) -> bool:
    if query.attention == "all" and not query.phase:
        return True
    if s is None:
        return False
    wanted = {"all": True, "critical": s.critical > 0, "warning": s.critical + s.warning > 0,
              "overdue": s.overdue > 0, "inadequate": s.inadequate}[query.attention]
    return wanted and (not query.phase or s.phase == query.phase)


class FakePatientList:
    """The patient list's summaries, sorted and filtered as the SQL store does."""

    def __init__(self, state: State) -> None:
        self._state = state

    def put(self, summary: PatientSummary) -> None:
        if summary.patient_id not in self._state.patients:
            msg = f"no patient {summary.patient_id} for the summary (foreign key)"
            raise NotFoundError(msg)
        self._state.summaries[summary.patient_id] = summary

    def page(self, query: PatientListQuery) -> tuple[list[ListRow], int]:
        rows = [ListRow(patient=p, summary=self._state.summaries.get(p.id))
                for p in self._state.patients.values()
                if query.text.lower() in p.patient_key.lower()]
        rows = [r for r in rows if _attends(query, r.summary)]
        rows.sort(key=lambda r: _sort_key(query.sort, r))
        return rows[query.offset:query.offset + query.limit], len(rows)


class FakeUnitOfWork:
    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self._state = State()

    def __enter__(self) -> Self:
        self._state = copy.deepcopy(self._database.committed)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.rollback()

    @property
    def patients(self) -> FakePatients:
        return FakePatients(self._state)

    @property
    def users(self) -> FakeUsers:
        return FakeUsers(self._state)

    @property
    def audit(self) -> FakeAudit:
        return FakeAudit(self._state)

    @property
    def views(self) -> FakeViews:
        return FakeViews(self._state)

    @property
    def patient_list(self) -> FakePatientList:
        return FakePatientList(self._state)

    def commit(self) -> None:
        self._database.committed = copy.deepcopy(self._state)
        self._database.commits += 1

    def rollback(self) -> None:
        self._state = copy.deepcopy(self._database.committed)


class FakeDatabase:
    """A ``UnitOfWorkFactory``: call it for a unit of work."""

    def __init__(self) -> None:
        self.committed = State()
        self.commits = 0

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class FakeHasher:
    """Reversible and obviously fake; counts its calls to check the work done per attempt."""

    PREFIX = "fake$v2$"

    def __init__(self) -> None:
        self.calls = 0

    def hash(self, password: str) -> str:
        self.calls += 1
        return self.PREFIX + password[::-1]

    def verify(self, password_hash: str, password: str) -> bool:
        self.calls += 1
        return password_hash == self.PREFIX + password[::-1]

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(self.PREFIX)
