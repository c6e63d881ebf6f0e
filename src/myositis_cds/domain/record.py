"""The patient record as immutable value objects (``patient-record@1``, already validated).

Parsing and validation of untrusted JSON happen at the edge (``adapters.record_json``); this module
only describes the validated shape. Quantities are stored in canonical units: kilograms,
centimetres, and U/L for the five muscle enzymes. Every element keeps ``index``, its position in the
source array, so that outputs can name the exact input (``$.labs[3]``) that produced them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from myositis_cds.domain.values import value_object

__all__ = [
    "AntibodyResult",
    "BodyMeasurement",
    "Diagnosis",
    "Finding",
    "Investigation",
    "LabResult",
    "PatientRecord",
    "Treatment",
    "Visit",
]


@value_object
class Diagnosis:
    name: str
    date: dt.date | None = None
    symptom_onset_date: dt.date | None = None


@value_object
class BodyMeasurement:
    index: int
    date: dt.date
    weight_kg: float | None = None
    height_cm: float | None = None


@value_object
class AntibodyResult:
    index: int
    target: str
    result: str
    date: dt.date
    titer: float | None = None
    unit: str | None = None
    cutoff: float | None = None
    method: str | None = None


@value_object
class Finding:
    index: int
    code: str
    present: bool
    date: dt.date


@value_object
class LabResult:
    index: int
    test: str
    value: float
    unit: str
    date: dt.date
    uln: float | None = None
    original_unit: str | None = None
    """Set when the value was converted (e.g. from µkat/L), to show what the record said."""

    @property
    def multiple_of_uln(self) -> float | None:
        if self.uln is None or self.uln <= 0:
            return None
        return self.value / self.uln


@value_object
class Visit:
    """One entry of ``assessments[]``: the core set measures recorded at a visit."""

    index: int
    date: dt.date
    physician_global: float | None = None
    patient_global: float | None = None
    extramuscular_global: float | None = None
    mmt8: float | None = None
    mmt8_max: float = 80.0
    haq: float | None = None
    cdasi_activity: float | None = None
    mmt8_grades: Mapping[str, float] | None = None
    """Per-muscle grades (0–10) when recorded; ``mmt8`` is then their total."""
    haq_answers: Mapping[str, tuple[int, bool] | None] | None = None
    """HAQ-DI category answers (worst item score, aid or help) when recorded."""
    mmt8_computed: bool = False
    """``mmt8`` was computed from ``mmt8_grades`` (not written in the record)."""
    haq_computed: bool = False
    """``haq`` was computed from ``haq_answers`` (not written in the record)."""


@value_object
class Treatment:
    index: int
    drug: str
    """A code of the closed vocabulary (clinical-reference §12.4); synonyms are resolved at the edge."""
    start: dt.date
    stop: dt.date | None = None
    dose: float | None = None
    unit: str | None = None
    frequency: str | None = None
    route: str | None = None
    name: str | None = None
    """The name as prescribed (required for ``other``)."""

    @property
    def last_given(self) -> dt.date | None:
        """The last day given: ``start`` for a ``once`` entry, else ``stop`` (``None``: ongoing)."""
        return self.start if self.frequency == "once" else self.stop

    def active_on(self, day: dt.date) -> bool:
        """Given on a date (§10, §12.1): ``start`` ≤ date ≤ ``stop`` (no stop: ongoing); an entry
        with frequency ``once`` is given on its start only. Effect windows are the engine's."""
        last = self.last_given
        return self.start <= day and (last is None or last >= day)


@value_object
class Investigation:
    index: int
    kind: str
    date: dt.date
    result: str | None = None
    abnormal: bool | None = None


@value_object
class PatientRecord:
    id: str
    sex: str | None = None
    birth_date: dt.date | None = None
    diagnosis: Diagnosis | None = None
    body_measurements: tuple[BodyMeasurement, ...] = ()
    antibodies: tuple[AntibodyResult, ...] = ()
    findings: tuple[Finding, ...] = ()
    labs: tuple[LabResult, ...] = ()
    assessments: tuple[Visit, ...] = ()
    treatments: tuple[Treatment, ...] = ()
    investigations: tuple[Investigation, ...] = ()
