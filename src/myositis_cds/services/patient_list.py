"""The use case "patient list": a worklist page of stored patients, sorted and filtered by what
needs attention, from stored summaries.

A summary (:class:`~myositis_cds.domain.patient_list.PatientSummary`) is made from a patient's
typed results whenever its page is rendered (:mod:`.patient_page`, also by the nightly
``views render``) and is kept until the patient's version or the knowledge fingerprint changes or
its ``recheck_on`` date comes (:func:`~.recheck.recheck_on`: the first date on which any result
could differ). A list request is then one query over the summaries; only the rows shown whose
summary is missing or no longer current are summarised again, so a request costs at most one
page of assessments, never the whole clinic's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from myositis_cds.domain.dates import completed_years
from myositis_cds.domain.patient_list import ListRow, PatientListQuery, PatientSummary
from myositis_cds.engine import Assessment, EngineParams
from myositis_cds.errors import RecordValidationError
from myositis_cds.services.access import PATIENT_ROLES, event, require
from myositis_cds.services.assessing import RecordParser
from myositis_cds.services.patient_results import PatientResults, patient_results
from myositis_cds.services.ports import Actor, StoredPatient, UnitOfWorkFactory
from myositis_cds.services.recheck import durations_of, recheck_on

__all__ = ["MAX_PAGE", "REFRESH_ROUNDS", "PatientListPage", "list_patient_page", "summarise"]

MAX_PAGE = 200
REFRESH_ROUNDS = 3
"""A request reads its page again after summarising its outdated rows, at most this often (the
new summaries may reorder the page); it summarises at most this many pages of patients."""


def _open_items(a: Assessment) -> list[tuple[dt.date | None, bool, str, str]]:
    """Open items, overdue first, then by date (an undated one is due now): (date, not overdue,
    what, status). They are the screening occasions due or overdue and the safety checks (pack
    2026.2) overdue, due or missing. A missing check whose date has come (e.g. Pneumocystis
    prophylaxis not started after 4 weeks of high-dose glucocorticoid) is past its date and not
    done: the list counts it as overdue."""
    items: list[tuple[dt.date | None, bool, str, str]] = [
        (o.due, o.status != "overdue", "screening", o.status)
        for o in a.cancer_screening.occasions if o.status in ("overdue", "due")]
    for check in a.safety:
        if check.status not in ("overdue", "due", "missing"):
            continue
        overdue = check.status == "overdue" or (
            check.status == "missing" and check.due is not None and check.due <= a.as_of)
        items.append((check.due, not overdue, check.id, "overdue" if overdue else check.status))
    return sorted(items, key=lambda item: (item[1], item[0] or a.as_of))


def summarise(stored: StoredPatient, results: PatientResults, *, fingerprint: str,
              params: EngineParams) -> PatientSummary:
    """The list's summary of ``stored`` from its page results."""
    record, a = results.record, results.assessment
    items = _open_items(a)
    next_due = items[0] if items else None
    severities = [alert.severity for alert in a.alerts]
    return PatientSummary(
        patient_id=stored.id, version=stored.version, fingerprint=fingerprint, as_of=a.as_of,
        recheck_on=recheck_on(record, a, a.as_of, durations_of(params)),
        age=None if record.birth_date is None else completed_years(record.birth_date, a.as_of),
        sex=record.sex, phase=a.current_therapy.phase,
        next_due=None if next_due is None else next_due[2],
        next_due_date=None if next_due is None else next_due[0],
        next_due_status=None if next_due is None else next_due[3],
        critical=severities.count("critical"), warning=severities.count("warning"),
        info=severities.count("info"),
        overdue=sum(status == "overdue" for *_, status in items),
        inadequate=a.response.inadequate_response.status == "inadequate")


def _invalid(stored: StoredPatient, as_of: dt.date, fingerprint: str) -> PatientSummary:
    return PatientSummary(patient_id=stored.id, version=stored.version, fingerprint=fingerprint,
                          as_of=as_of, recheck_on=as_of + dt.timedelta(days=1), age=None, sex=None,
                          phase=None, next_due=None, next_due_date=None, next_due_status=None,
                          critical=0, warning=0, info=0, overdue=0, inadequate=False, invalid=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientListPage:
    rows: tuple[ListRow, ...]
    """The patients shown, each with its summary (current for ``as_of`` unless more than
    :data:`REFRESH_ROUNDS` pages of the list needed summarising in this request)."""
    total: int
    query: PatientListQuery
    as_of: dt.date
    refreshed: int
    """Rows of this page summarised by this request (their summary was missing or outdated)."""


def list_patient_page(uow: UnitOfWorkFactory, actor: Actor, query: PatientListQuery, *,
                      as_of: dt.date, fingerprint: str, parse: RecordParser,
                      params: EngineParams) -> PatientListPage:
    """One page of the patient list on ``as_of`` (audited as one ``patient.list``)."""
    require(uow, actor, "patient.list", PATIENT_ROLES, what="list identifiable patient records")
    query = PatientListQuery(text=query.text, attention=query.attention, phase=query.phase,
                             sort=query.sort, limit=max(1, min(query.limit, MAX_PAGE)),
                             offset=max(0, query.offset))
    with uow() as work:
        rows, total = work.patient_list.page(query)
        work.audit.append_read(event(actor, "patient.list",
                                     detail=f"{len(rows)} of {total} shown (offset {query.offset})"
                                     + (", filtered" if query.text or query.attention != "all"
                                        or query.phase else "")))
        work.commit()
    refreshed = 0
    for _ in range(REFRESH_ROUNDS):
        stale = [row.patient for row in rows
                 if row.summary is None or not row.summary.current_on(
                     as_of, version=row.patient.version, fingerprint=fingerprint)]
        if not stale:
            break
        _refresh(uow, stale, as_of=as_of, fingerprint=fingerprint, parse=parse, params=params)
        refreshed += len(stale)
        with uow() as work:  # the order may change with the new summaries: read the page again
            rows, total = work.patient_list.page(query)
    return PatientListPage(rows=tuple(rows), total=total, query=query, as_of=as_of,
                           refreshed=refreshed)


def _refresh(uow: UnitOfWorkFactory, stale: list[StoredPatient], *, as_of: dt.date,
             fingerprint: str, parse: RecordParser, params: EngineParams) -> None:
    """Summarise ``stale`` patients again and keep the summaries (of unchanged versions only)."""
    new: list[PatientSummary] = []
    for stored in stale:
        try:
            results = patient_results(stored.record, parse=parse, as_of=as_of, params=params)
            new.append(summarise(stored, results, fingerprint=fingerprint, params=params))
        except RecordValidationError:
            new.append(_invalid(stored, as_of, fingerprint))
    with uow() as work:
        for summary in new:
            current = work.patients.get(summary.patient_id)
            if current is not None and current.version == summary.version:
                work.patient_list.put(summary)
        work.commit()
