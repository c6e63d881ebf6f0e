"""The patient as seen on the assessment date: everything dated later is left out (§10).

:class:`PatientContext` is built once per assessment and indexes the record for the rules: latest
finding per code, results per antibody target, labs per test, visits and treatments in date order,
the latest weight and height, age and juvenile onset.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import replace
from functools import cached_property

from myositis_cds.domain.dates import completed_years
from myositis_cds.domain.record import (
    AntibodyResult,
    BodyMeasurement,
    Finding,
    Investigation,
    LabResult,
    PatientRecord,
    Treatment,
    Visit,
)
from myositis_cds.domain.vocabulary import DM_DIAGNOSES, MI2_TARGETS
from myositis_cds.engine.results import InputRef

__all__ = ["PatientContext", "ref_antibody", "ref_finding", "ref_investigation", "ref_lab",
           "ref_measurement", "ref_treatment", "ref_visit"]


def ref_finding(f: Finding) -> InputRef:
    return InputRef(source=f"$.findings[{f.index}]", name=f.code, value=f.present, date=f.date)


def ref_lab(lab: LabResult) -> InputRef:
    return InputRef(source=f"$.labs[{lab.index}]", name=lab.test, value=lab.value, date=lab.date,
                    unit=lab.unit)


def ref_antibody(a: AntibodyResult) -> InputRef:
    value: str = a.result if a.titer is None else f"{a.result} (titer {a.titer:g})"
    return InputRef(source=f"$.antibodies[{a.index}]", name=a.target, value=value, date=a.date,
                    unit=a.unit)


def ref_treatment(t: Treatment) -> InputRef:
    period = f"{t.start.isoformat()} to {t.stop.isoformat() if t.stop else 'ongoing'}"
    return InputRef(source=f"$.treatments[{t.index}]", name=t.drug, value=period, date=t.start)


def ref_investigation(i: Investigation) -> InputRef:
    value: str | bool | None = i.result if i.abnormal is None else (
        f"{i.result or ''} (abnormal: {str(i.abnormal).lower()})".strip()
    )
    return InputRef(source=f"$.investigations[{i.index}]", name=i.kind, value=value, date=i.date)


def ref_visit(v: Visit, field: str) -> InputRef:
    value = getattr(v, field)
    source = field
    if (field == "mmt8" and v.mmt8_computed) or (field == "haq" and v.haq_computed):
        source = "mmt8_grades" if field == "mmt8" else "haq_answers"  # the total was computed
    return InputRef(source=f"$.assessments[{v.index}].{source}", name=field, value=value,
                    date=v.date)


def ref_measurement(m: BodyMeasurement, field: str) -> InputRef:
    unit = "kg" if field == "weight_kg" else "cm"
    return InputRef(source=f"$.body_measurements[{m.index}].{field}", name=field,
                    value=getattr(m, field), date=m.date, unit=unit)


def _below_cutoff(result: AntibodyResult) -> bool:
    """Negative, or a titer below the assay's positivity cut-off (§6.3)."""
    return result.result == "negative" or (
        result.titer is not None and result.cutoff is not None and result.titer < result.cutoff)


class PatientContext:
    """A read-only, date-bounded view of one record for the rules."""

    def __init__(self, record: PatientRecord, as_of: dt.date) -> None:
        self.record = record
        self.as_of = as_of
        on_or_before = as_of.__ge__
        diagnosis = record.diagnosis
        self.diagnosis_name = diagnosis.name if diagnosis else None
        self.diagnosis_date = (
            diagnosis.date if diagnosis and diagnosis.date and on_or_before(diagnosis.date) else None
        )
        self.onset_date = diagnosis.symptom_onset_date if diagnosis else None
        self.antibodies = sorted(
            (a for a in record.antibodies if on_or_before(a.date)), key=lambda a: a.date
        )
        self.labs = sorted((x for x in record.labs if on_or_before(x.date)), key=lambda x: x.date)
        self.visits = sorted(
            (v for v in record.assessments if on_or_before(v.date)), key=lambda v: v.date
        )
        # A stop dated after the assessment date was not known then: the treatment was ongoing.
        self.treatments = sorted(
            (t if t.stop is None or on_or_before(t.stop) else replace(t, stop=None)
             for t in record.treatments if on_or_before(t.start)),
            key=lambda t: t.start,
        )
        self.investigations = sorted(
            (i for i in record.investigations if on_or_before(i.date)), key=lambda i: i.date
        )
        latest: dict[str, Finding] = {}
        for finding in sorted(
            (f for f in record.findings if on_or_before(f.date)), key=lambda f: f.date
        ):
            latest[finding.code] = finding
        self.latest_findings: Mapping[str, Finding] = latest
        self.weight = self._latest_measurement("weight_kg")
        self.height = self._latest_measurement("height_cm")

    # -- demographics -------------------------------------------------------------------------
    @cached_property
    def age(self) -> int | None:
        birth = self.record.birth_date
        return completed_years(birth, self.as_of) if birth else None

    def age_on(self, day: dt.date) -> int | None:
        birth = self.record.birth_date
        return completed_years(birth, day) if birth else None

    @cached_property
    def onset_reference_date(self) -> dt.date | None:
        """Symptom onset, or the diagnosis date when onset is unknown (§10)."""
        if self.onset_date is not None:
            return self.onset_date
        return self.record.diagnosis.date if self.record.diagnosis else None

    @cached_property
    def onset_age(self) -> int | None:
        """Completed years at symptom onset (at diagnosis if onset is unknown) (§4 as of §12.5)."""
        reference = self.onset_reference_date
        return self.age_on(reference) if reference is not None else None

    def juvenile_onset(self, juvenile_age: float) -> bool | None:
        """Age < 18 at symptom onset (or at diagnosis); ``None`` when that cannot be computed."""
        reference = self.onset_reference_date
        if reference is None or self.record.birth_date is None:
            return None
        return completed_years(self.record.birth_date, reference) < juvenile_age

    @cached_property
    def is_dm(self) -> bool:
        return self.diagnosis_name in DM_DIAGNOSES

    # -- antibodies ----------------------------------------------------------------------------
    @cached_property
    def _antibodies_by_target(self) -> dict[str, list[AntibodyResult]]:
        grouped: dict[str, list[AntibodyResult]] = {}
        for result in self.antibodies:
            key = "Mi-2" if result.target in MI2_TARGETS else result.target
            grouped.setdefault(key, []).append(result)
        return grouped

    def antibody_results(self, target: str) -> list[AntibodyResult]:
        """Results for a target in date order; ``Mi-2`` includes Mi-2α and Mi-2β."""
        return self._antibodies_by_target.get(target, [])

    @cached_property
    def mi2_results(self) -> list[AntibodyResult]:
        return self.antibody_results("Mi-2")

    @cached_property
    def mi2_ever_positive(self) -> bool:
        return any(a.result == "positive" for a in self.mi2_results)

    @cached_property
    def mi2_normalised_since(self) -> dt.date | None:
        """The titer is normalised (§12.5) when, on the latest date with any Mi-2-form result,
        every Mi-2-form result is negative or below its cut-off and an earlier date had a positive
        result; the date is the first of the trailing run of such dates. Same-day order never
        matters. ``None``: not normalised."""
        by_date: dict[dt.date, list[AntibodyResult]] = {}
        for result in self.mi2_results:
            by_date.setdefault(result.date, []).append(result)
        since: dt.date | None = None
        positive_before = False
        for day in sorted(by_date):
            results = by_date[day]
            if all(_below_cutoff(r) for r in results):
                if positive_before and since is None:
                    since = day
            else:
                since = None
            positive_before = positive_before or any(r.result == "positive" for r in results)
        return since

    # -- findings, labs, investigations ----------------------------------------------------------
    def finding(self, code: str) -> Finding | None:
        return self.latest_findings.get(code)

    def finding_present(self, code: str) -> bool | None:
        """``True``/``False`` from the latest record of ``code``; ``None`` if never recorded."""
        finding = self.latest_findings.get(code)
        return None if finding is None else finding.present

    @cached_property
    def _labs_by_test(self) -> dict[str, tuple[list[LabResult], list[dt.date]]]:
        grouped: dict[str, tuple[list[LabResult], list[dt.date]]] = {}
        for lab in self.labs:  # already in date order (stable: record order within a day)
            results, dates = grouped.setdefault(lab.test, ([], []))
            results.append(lab)
            dates.append(lab.date)
        return grouped

    def labs_of(self, test: str) -> list[LabResult]:
        found = self._labs_by_test.get(test)
        return found[0] if found else []

    def lab_near(self, test: str, day: dt.date, window_days: int) -> LabResult | None:
        """The result of ``test`` closest to ``day`` within ``window_days`` either side (§10).

        Ties (one before, one after, equally far) go to the earlier result, which was known at
        the visit; several results on the same day: the first recorded.
        """
        found = self._labs_by_test.get(test)
        if not found:
            return None
        results, dates = found
        after = bisect_left(dates, day)  # first result on or after the day
        best: LabResult | None = None
        best_distance = window_days + 1
        if after > 0:
            before_date = dates[after - 1]
            best = results[bisect_left(dates, before_date)]
            best_distance = (day - before_date).days
        if after < len(results) and (results[after].date - day).days < best_distance:
            best = results[after]
            best_distance = (best.date - day).days
        return best if best_distance <= window_days else None

    def investigations_of(self, *kinds: str) -> list[Investigation]:
        return [i for i in self.investigations if i.kind in kinds]

    # -- treatments ------------------------------------------------------------------------------
    def treatments_of(self, drugs: frozenset[str]) -> list[Treatment]:
        return [t for t in self.treatments if t.drug in drugs]

    def _latest_measurement(self, field: str) -> BodyMeasurement | None:
        found: BodyMeasurement | None = None
        for m in self.record.body_measurements:
            if getattr(m, field) is None or m.date > self.as_of:
                continue
            if found is None or m.date >= found.date:
                found = m
        return found
