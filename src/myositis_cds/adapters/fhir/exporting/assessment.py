"""An assessment (``myositis-cds/assessment@1``) as a FHIR R4B ``collection`` Bundle.

- every alert → a ``DetectedIssue`` (status ``final``, severity from :data:`SEVERITY`); every alert
  that could not be evaluated → a ``DetectedIssue`` with status ``registered`` (no result), no
  severity and the reason in ``detail`` — exported, never dropped;
- the plan → one ``CarePlan`` (status ``active``, intent ``proposal``) with one activity per
  recommendation: each regimen (dose range in the ``dose-range`` extension), each of its safety
  considerations, each cancer-screening occasion (``scheduledPeriod`` = its window), each work-up
  item;
- every cited reference → one ``DocumentReference`` (identifier = citation key), referenced from
  what cites it: ``DetectedIssue.extension[citation]`` (and ``DetectedIssue.reference`` = the URI of
  the first citation) and ``CarePlan.activity.detail.reasonReference``;
- the assessment@1 JSON itself → a ``DocumentReference`` (``CarePlan.supportingInfo``): nothing
  (phenotype, response scores) is lost to a FHIR consumer.

Rule IDs are codes of ``urn:myositis-cds:rule`` whose ``version`` is the knowledge-pack version;
every resource carries the pack in ``meta.tag``; the mapping tables are in
:mod:`.export_tables`. ``record_urls`` (JSON path → entry URL, from
:func:`~myositis_cds.adapters.fhir.exporting.record.record_entries`) turns the inputs of an alert into
``implicated`` references when the record's resources are in the same Bundle.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

from myositis_cds.adapters.fhir.codes import UCUM, FhirCodes
from myositis_cds.adapters.fhir.exporting.common import (
    CITATION_SYSTEM,
    KNOWLEDGE_PACK_SYSTEM,
    PATIENT_ID_SYSTEM,
    RULE_SYSTEM,
    URI_IDENTIFIER_SYSTEM,
    BundleEntry,
    bundle,
    citation_uri,
    full_url,
    patient_resource_id,
    patient_url,
    resolve_input,
)
from myositis_cds.adapters.fhir.exporting.tables import (
    CITATION_EXTENSION,
    DOSE_RANGE_EXTENSION,
    DOSE_UCUM,
    EVALUATION_SYSTEM,
    OCCASION_STATUS,
    SEVERITY,
    WORKUP_STATUS,
    mapped,
)

__all__ = ["assessment_bundle", "assessment_entries"]

_STATUS_SYSTEM: Final = "urn:myositis-cds:assessment:"
_AUTHOR_LABEL: Final = "myositis-cds, knowledge pack {pack} {version}"


class _Builder:
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

    # -- shared pieces ----------------------------------------------------------------------

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

    # -- alerts -----------------------------------------------------------------------------

    def alert(self, alert: Mapping[str, Any]) -> BundleEntry:
        drug = alert.get("drug")  # alerts given once per agent (ALERT-DOSE-CHECK, …)
        url = self.url("alert", f"{alert['id']} {drug}" if drug else str(alert["id"]))
        keys = [str(k) for k in alert.get("citations", ())]
        notes = [str(n.get("text", "")) for n in alert.get("notes", ())]
        for note in alert.get("notes", ()):
            keys += [str(k) for k in note.get("citations", ())]
        issue: dict[str, Any] = {
            "resourceType": "DetectedIssue",
            "meta": self.meta({"system": EVALUATION_SYSTEM, "code": "fired"}),
            "identifier": self.identifier(url),
            "status": "final",
            "code": {"coding": [self.rule(str(alert["rule_id"]))], "text": str(alert["title"])},
            "severity": mapped(SEVERITY, alert.get("severity"), "alerts[].severity"),
            "patient": {"reference": patient_url(self.pid), "type": "Patient"},
            "identifiedDateTime": self.as_of,
            "author": self.author(),
            "detail": "\n".join([str(alert["message"]), *notes]),
        }
        inputs = list(alert.get("inputs", ()))
        implicated = [u for u in (resolve_input(str(i["source"]), self.record_urls) for i in inputs) if u]
        if implicated:
            issue["implicated"] = [{"reference": u} for u in dict.fromkeys(implicated)]
        if inputs:
            issue["evidence"] = [self.evidence(i) for i in inputs]
        if keys:
            issue["extension"] = [{"url": CITATION_EXTENSION, "valueReference": ref}
                                  for ref in self.cite(keys)]
            issue["reference"] = citation_uri(keys[0], self.citations.get(keys[0], ""))
        return url, issue

    def evidence(self, item: Mapping[str, Any]) -> dict[str, Any]:
        value = item.get("value")
        shown = "missing" if value is None else str(value).lower() if isinstance(value, bool) \
            else str(value)
        unit = f" {item['unit']}" if item.get("unit") else ""
        date = f" on {item['date']}" if item.get("date") else ""
        out: dict[str, Any] = {"code": [{"text": f"{item['name']} = {shown}{unit}{date} "
                                                 f"({item['source']})"}]}
        url = resolve_input(str(item["source"]), self.record_urls)
        if url is not None:
            out["detail"] = [{"reference": url}]
        return out

    def not_evaluable(self, alert: Mapping[str, Any]) -> BundleEntry:
        alert_id = str(alert["id"])
        url = self.url("alert-not-evaluable", alert_id)  # the same alert may also have fired
        title = self.titles.get(alert_id, alert_id)
        return url, {
            "resourceType": "DetectedIssue",
            "meta": self.meta({"system": EVALUATION_SYSTEM, "code": "not_evaluable"}),
            "identifier": self.identifier(url),
            "status": "registered",
            "code": {"coding": [self.rule(alert_id)], "text": title},
            "patient": {"reference": patient_url(self.pid), "type": "Patient"},
            "identifiedDateTime": self.as_of,
            "author": self.author(),
            "detail": f"Not evaluable: {alert['reason']}. This check neither fired nor can be said "
                      "not to apply; the missing data are needed to decide.",
        }

    # -- plan -------------------------------------------------------------------------------

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
            detail["statusReason"] = {"coding": [{"system": _STATUS_SYSTEM + category, "code": code}],
                                      "text": text}
        detail.update(extra or {})
        detail["description"] = description
        return {"detail": detail}

    def regimen(self, regimen: Mapping[str, Any]) -> list[dict[str, Any]]:
        drug = str(regimen["drug"])
        notes = list(regimen.get("notes", ()))
        keys = [str(k) for k in regimen.get("citations", ())]
        for note in notes:
            keys += [str(k) for k in note.get("citations", ())]
        extra: dict[str, Any] = {"productCodeableConcept": {
            "coding": [self.codes.coding_for("drug", drug).to_dict()], "text": drug}}
        low, high = regimen.get("dose_min"), regimen.get("dose_max")
        unit = str(regimen.get("unit", ""))
        dose = ""
        if low is not None and high is not None:
            extra["extension"] = [{"url": DOSE_RANGE_EXTENSION, "valueRange": {
                "low": self.quantity(float(low), unit), "high": self.quantity(float(high), unit)}}]
            dose = f" {_num(low)} {unit}" if low == high else f" {_num(low)}–{_num(high)} {unit}"
        lines = [f"{drug}{dose} ({regimen.get('basis', '')}); {regimen.get('schedule', '')}",
                 *(str(n.get("text", "")) for n in notes)]
        reason = None
        if regimen.get("status") == "not_evaluable":
            reason = ("regimen-status", "not_evaluable", f"dose not evaluable: {regimen.get('reason')}")
        out = [self.activity(rule_id=str(regimen["rule_id"]), status="not-started",
                             description="\n".join(lines), citations=keys, kind="MedicationRequest",
                             extra=extra, reason=reason)]
        for item in regimen.get("safety", ()):
            out.append(self.activity(
                rule_id=str(item["rule_id"]), status="not-started",
                description=f"With {drug}: {item['message']}",
                citations=[str(k) for k in item.get("citations", ())]))
        return out

    def quantity(self, value: float, unit: str) -> dict[str, Any]:
        known = DOSE_UCUM.get(unit)
        if known is None:
            return {"value": value, "unit": unit}
        return {"value": value, "unit": known[1], "system": UCUM, "code": known[0]}

    def screening(self, screening: Mapping[str, Any]) -> list[dict[str, Any]]:
        level = str(screening.get("level"))
        keys = [str(k) for k in screening.get("citations", ())]
        required = [str(r) for r in screening.get("required_investigations", ())]
        reasons = "; ".join(str(r) for r in screening.get("reasons", ())) or "no reason given"
        rule_id = str(screening.get("rule_id", "SCREEN-CANCER"))
        occasions = list(screening.get("occasions", ()))
        what = ", ".join(required) or "no investigation"
        if not occasions:
            status = "cancelled" if level == "not_routinely_required" else "unknown"
            return [self.activity(
                rule_id=rule_id, status=status, citations=keys, kind="ServiceRequest",
                description=f"Cancer screening level {level}: {reasons}",
                reason=("screening-level", level, reasons))]
        out = []
        for occasion in occasions:
            state = str(occasion["status"])
            done = f", satisfied by the investigation of {occasion['satisfied_by']}" \
                if occasion.get("satisfied_by") else ""
            extra = {
                "code": {"coding": [self.rule(rule_id),
                                    *(self.codes.coding_for("investigation", r).to_dict()
                                      for r in required)]},
                "scheduledPeriod": {"start": occasion["window_start"], "end": occasion["window_end"]}}
            out.append(self.activity(
                rule_id=rule_id, status=mapped(OCCASION_STATUS, state, "occasions[].status"),
                citations=keys, kind="ServiceRequest",
                description=f"Cancer screening ({level}: {reasons}): {what}, due {occasion['due']} — "
                            f"{state}{done}",
                reason=("screening-occasion-status", state, state), extra=extra))
        return out

    def workup(self, item: Mapping[str, Any]) -> dict[str, Any]:
        state = str(item["status"])
        parts = [str(item.get("title", item["id"]))]
        if item.get("date"):
            parts.append(f"done {item['date']}")
        if item.get("missing"):
            parts.append("missing: " + ", ".join(str(m) for m in item["missing"]))
        reasons = "; ".join(str(r) for r in item.get("reasons", ()))
        if reasons:
            parts.append(reasons)
        return self.activity(rule_id=str(item["rule_id"]),
                             status=mapped(WORKUP_STATUS, state, "workup[].status"),
                             citations=[str(k) for k in item.get("citations", ())],
                             kind="ServiceRequest", description=" — ".join(parts),
                             reason=("workup-status", state, reasons or state))

    def care_plan(self, document_url: str | None) -> BundleEntry:
        doc = self.doc
        plan = doc.get("treatment_plan") or {}
        severity = doc.get("severity") or {}
        screening = doc.get("cancer_screening") or {}
        activities: list[dict[str, Any]] = []
        for regimen in plan.get("regimens", ()):
            activities += self.regimen(regimen)
        activities += self.screening(screening)
        activities += [self.workup(item) for item in doc.get("workup", ())]
        url = self.url("CarePlan")
        description = (
            f"Severity tier {severity.get('tier')} ("
            f"{'; '.join(str(r) for r in severity.get('reasons', ()))}); treatment plan tier "
            f"{plan.get('tier')}; cancer screening level {screening.get('level')}.")
        care_plan: dict[str, Any] = {
            "resourceType": "CarePlan", "meta": self.meta(), "identifier": self.identifier(url),
            "status": "active", "intent": "proposal",
            "title": f"myositis-cds management plan as of {self.as_of}",
            "description": description,
            "subject": {"reference": patient_url(self.pid), "type": "Patient"},
            "created": self.as_of, "author": self.author(),
        }
        if document_url is not None:
            care_plan["supportingInfo"] = [{"reference": document_url, "type": "DocumentReference",
                                            "display": "myositis-cds/assessment@1"}]
        if activities:
            care_plan["activity"] = activities
        notes = [n for part in (severity, screening, plan) for n in part.get("notes", ())]
        if notes:
            care_plan["note"] = [{"text": str(n.get("text", ""))} for n in notes]
        return url, care_plan

    def citation_entries(self) -> list[BundleEntry]:
        out = []
        for key, url in self.cited.items():
            text = self.citations.get(key, key)
            attachment: dict[str, str] = {"title": text}
            uri = citation_uri(key, text)
            if uri.startswith("https://"):
                attachment["url"] = uri
            out.append((url, {
                "resourceType": "DocumentReference", "meta": self.meta(),
                "identifier": [{"system": CITATION_SYSTEM, "value": key}],
                "status": "current", "description": text,
                "content": [{"attachment": attachment}]}))
        return out

    def document_entry(self) -> BundleEntry:
        url = self.url("assessment@1")
        data = orjson.dumps(dict(self.doc))
        return url, {
            "resourceType": "DocumentReference", "meta": self.meta(),
            "identifier": self.identifier(url), "status": "current",
            "subject": {"reference": patient_url(self.pid), "type": "Patient"},
            "date": f"{self.as_of}T00:00:00Z",
            "description": f"{_doc_format(self.doc)} as of {self.as_of}",
            "content": [{"attachment": {"contentType": "application/json",
                                        "data": base64.b64encode(data).decode("ascii"),
                                        "title": f"{_doc_format(self.doc)}.json"},
                         "format": {"system": "urn:myositis-cds:format",
                                    "code": _doc_format(self.doc)}}]}


def _doc_format(doc: Mapping[str, Any]) -> str:
    return str(doc.get("format", "myositis-cds/assessment@1"))


def _num(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    return str(int(number)) if number.is_integer() else repr(number)


def assessment_entries(doc: Mapping[str, Any], *, citations: Mapping[str, str], codes: FhirCodes,
                       rule_titles: Mapping[str, str] | None = None,
                       record_urls: Mapping[str, str] | None = None,
                       with_patient: bool = True, with_document: bool = True) -> list[BundleEntry]:
    """The Bundle entries of one assessment@1 document, in reading order: Patient (identifier only;
    leave it out with ``with_patient=False`` when the record's Patient is in the Bundle), the
    DetectedIssues (fired, then not evaluable), the CarePlan, the assessment document, the
    citations."""
    builder = _Builder(doc, citations=citations, rule_titles=rule_titles or {}, codes=codes,
                       record_urls=record_urls or {})
    entries: list[BundleEntry] = []
    if with_patient:
        entries.append((patient_url(builder.pid), {
            "resourceType": "Patient", "id": patient_resource_id(builder.pid),
            "identifier": [{"system": PATIENT_ID_SYSTEM, "value": builder.pid}]}))
    entries += [builder.alert(a) for a in doc.get("alerts", ())]
    entries += [builder.not_evaluable(a) for a in doc.get("alerts_not_evaluable", ())]
    document = builder.document_entry() if with_document else None
    entries.append(builder.care_plan(document[0] if document else None))
    if document is not None:
        entries.append(document)
    entries += builder.citation_entries()
    return entries


def assessment_bundle(doc: Mapping[str, Any], *, citations: Mapping[str, str], codes: FhirCodes,
                      rule_titles: Mapping[str, str] | None = None, with_document: bool = True,
                      record: tuple[Sequence[BundleEntry], Mapping[str, str]] | None = None,
                      ) -> dict[str, Any]:
    """One assessment@1 document as a FHIR R4B ``collection`` Bundle (see the module docstring).

    ``record`` = :func:`~myositis_cds.adapters.fhir.exporting.record.record_entries` of the assessed
    record: its resources come first, and the alerts' ``implicated`` and ``evidence.detail`` point
    at them.
    """
    knowledge = doc.get("knowledge") or {}
    tag = {"system": KNOWLEDGE_PACK_SYSTEM, "code": str(knowledge.get("pack", "")),
           "version": str(knowledge.get("version", ""))}
    head, urls = record if record is not None else ((), {})
    entries = [*head, *assessment_entries(doc, citations=citations, codes=codes,
                                          rule_titles=rule_titles, record_urls=urls,
                                          with_patient=record is None,
                                          with_document=with_document)]
    return bundle(entries, bundle_type="collection", tags=[tag], timestamp=f"{doc['as_of']}T00:00:00Z")
