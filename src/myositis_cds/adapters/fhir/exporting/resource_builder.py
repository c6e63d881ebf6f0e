"""What the resources of an assessment Bundle share (:class:`ResourceBuilder`): entry URLs, the
knowledge pack in ``meta``, rule codings, the author, the citations each resource references, and
``CarePlan.activity`` with its ``detail``. Used by :mod:`.assessment` and :mod:`.therapy`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from myositis_cds.adapters.fhir.codes import UCUM, FhirCodes
from myositis_cds.adapters.fhir.exporting.common import (
    KNOWLEDGE_PACK_SYSTEM,
    RULE_SYSTEM,
    URI_IDENTIFIER_SYSTEM,
    full_url,
)
from myositis_cds.adapters.fhir.exporting.tables import DOSE_RANGE_EXTENSION, DOSE_UCUM

__all__ = ["STATUS_SYSTEM", "ResourceBuilder", "number_text"]

STATUS_SYSTEM: Final = "urn:myositis-cds:assessment:"
"""Prefix of the ``statusReason`` systems that keep the engine's own status of an activity."""
_AUTHOR_LABEL: Final = "myositis-cds, knowledge pack {pack} {version}"


class ResourceBuilder:
    """The pieces every resource of an assessment Bundle shares: entry URLs, ``meta`` (the pack),
    rule codings, the author, citations (collected in order of first use), plan activities."""

    def __init__(self, doc: Mapping[str, Any], *, citations: Mapping[str, str],
                 rule_titles: Mapping[str, str], codes: FhirCodes,
                 record_urls: Mapping[str, str]) -> None:
        self.doc = doc
        self.pid = str(doc["patient_id"])
        self.as_of = str(doc["as_of"])
        knowledge = doc.get("knowledge") or {}
        self.pack = str(knowledge.get("pack", ""))
        self.version = str(knowledge.get("version", ""))
        self.citations = citations
        self.titles = rule_titles
        self.codes = codes
        self.record_urls = record_urls
        self.cited: dict[str, str] = {}
        """citation key → entry URL, in order of first use."""

    def url(self, *parts: str) -> str:
        return full_url(self.pid, "assessment", self.as_of, *parts)

    def meta(self, *extra: Mapping[str, str]) -> dict[str, Any]:
        tag = {"system": KNOWLEDGE_PACK_SYSTEM, "code": self.pack, "version": self.version}
        return {"tag": [tag, *(dict(e) for e in extra)]}

    def rule(self, rule_id: str) -> dict[str, Any]:
        coding = {"system": RULE_SYSTEM, "version": self.version, "code": rule_id}
        title = self.titles.get(rule_id)
        if title:
            coding["display"] = title
        return coding

    def author(self) -> dict[str, str]:
        return {"display": _AUTHOR_LABEL.format(pack=self.pack, version=self.version)}

    def cite(self, keys: Sequence[str]) -> list[dict[str, str]]:
        refs = []
        for key in dict.fromkeys(keys):
            url = self.cited.setdefault(key, self.url("citation", key))
            refs.append({"reference": url, "type": "DocumentReference", "display": key})
        return refs

    def identifier(self, url: str) -> list[dict[str, str]]:
        return [{"system": URI_IDENTIFIER_SYSTEM, "value": url}]

    def activity(self, *, rule_id: str, status: str, description: str, citations: Sequence[str],
                 kind: str | None = None, extra: Mapping[str, Any] | None = None,
                 reason: tuple[str, str, str] | None = None) -> dict[str, Any]:
        detail: dict[str, Any] = {}
        if kind is not None:
            detail["kind"] = kind
        detail["code"] = {"coding": [self.rule(rule_id)]}
        if citations:
            detail["reasonReference"] = self.cite(citations)
        detail["status"] = status
        if reason is not None:
            category, code, text = reason
            detail["statusReason"] = {"coding": [{"system": STATUS_SYSTEM + category, "code": code}],
                                      "text": text}
        detail.update(extra or {})
        detail["description"] = description
        return {"detail": detail}

    def product(self, drug: str) -> dict[str, Any]:
        """A drug as ``productCodeableConcept``: its coding from the code tables (site codes
        first), the record's drug code as ``text``."""
        return {"coding": [self.codes.coding_for("drug", drug).to_dict()], "text": drug}

    def quantity(self, value: float, unit: str) -> dict[str, Any]:
        known = DOSE_UCUM.get(unit)
        if known is None:
            return {"value": value, "unit": unit}
        return {"value": value, "unit": known[1], "system": UCUM, "code": known[0]}

    def dose_range(self, low: object, high: object, unit: str) -> tuple[dict[str, Any], str]:
        """The ``dose-range`` extension of a dose from ``low`` to ``high``, and its words
        ("60 mg/day", "15–20 mg/week")."""
        extension = {"url": DOSE_RANGE_EXTENSION, "valueRange": {
            "low": self.quantity(float(low), unit),  # type: ignore[arg-type]
            "high": self.quantity(float(high), unit)}}  # type: ignore[arg-type]
        words = (f"{number_text(low)} {unit}" if low == high
                 else f"{number_text(low)}–{number_text(high)} {unit}")
        return extension, words


def number_text(value: object) -> str:
    """A dose number as text: 60.0 → "60", 0.5 → "0.5"."""
    number = float(value)  # type: ignore[arg-type]
    return str(int(number)) if number.is_integer() else repr(number)
