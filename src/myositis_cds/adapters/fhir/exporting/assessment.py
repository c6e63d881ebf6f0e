"""An assessment (``myositis-cds/assessment@1``) as a FHIR R4B ``collection`` Bundle.

- every alert → a ``DetectedIssue`` (status ``final``, severity from :data:`SEVERITY`); every alert
  that could not be evaluated → a ``DetectedIssue`` with status ``registered`` (no result), no
  severity and the reason in ``detail`` — exported, never dropped;
- the plan → one ``CarePlan`` (status ``active``, intent ``proposal``) with one activity per
  recommendation: each action of the therapy-aware plan and each safety companion item first
  (:mod:`.therapy`; the current therapy is a ``note`` and the ``therapy-phase`` extension), then
  each regimen (dose range in the ``dose-range`` extension), each of its safety
  considerations, each cancer-screening occasion (``scheduledPeriod`` = its window), each work-up
  item;
- every cited reference → one ``DocumentReference`` (identifier = citation key), referenced from
  what cites it: ``DetectedIssue.extension[citation]`` (and ``DetectedIssue.reference`` = the URI of
  the first citation) and ``CarePlan.activity.detail.reasonReference``;
- the assessment@1 JSON itself → a ``DocumentReference`` (``CarePlan.supportingInfo``): nothing
  (phenotype, response scores) is lost to a FHIR consumer.

Rule IDs are codes of ``urn:myositis-cds:rule`` whose ``version`` is the knowledge-pack version;
every resource carries the pack in ``meta.tag``; the mapping tables are in
:mod:`.tables`. ``record_urls`` (JSON path → entry URL, from
:func:`~myositis_cds.adapters.fhir.exporting.record.record_entries`) turns the inputs of an alert into
``implicated`` references when the record's resources are in the same Bundle.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from myositis_cds.adapters.fhir.codes import FhirCodes
from myositis_cds.adapters.fhir.exporting.common import (
    CITATION_SYSTEM,
    KNOWLEDGE_PACK_SYSTEM,
    PATIENT_ID_SYSTEM,
    BundleEntry,
    bundle,
    citation_uri,
    patient_resource_id,
    patient_url,
    resolve_input,
)
from myositis_cds.adapters.fhir.exporting.resource_builder import ResourceBuilder
from myositis_cds.adapters.fhir.exporting.tables import (
    CITATION_EXTENSION,
    EVALUATION_SYSTEM,
    OCCASION_STATUS,
    SEVERITY,
    WORKUP_STATUS,
    mapped,
)
from myositis_cds.adapters.fhir.exporting.therapy import (
    action_activities,
    phase_extension,
    safety_activities,
    therapy_note,
)

__all__ = ["assessment_bundle", "assessment_entries"]


class _Builder(ResourceBuilder):
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

    def regimen(self, regimen: Mapping[str, Any]) -> list[dict[str, Any]]:
        drug = str(regimen["drug"])
        notes = list(regimen.get("notes", ()))
        keys = [str(k) for k in regimen.get("citations", ())]
        for note in notes:
            keys += [str(k) for k in note.get("citations", ())]
        extra: dict[str, Any] = {"productCodeableConcept": self.product(drug)}
        low, high = regimen.get("dose_min"), regimen.get("dose_max")
        dose = ""
        if low is not None and high is not None:
            extension, words = self.dose_range(low, high, str(regimen.get("unit", "")))
            extra["extension"] = [extension]
            dose = f" {words}"
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
        therapy = doc.get("current_therapy")
        activities = action_activities(self, plan.get("actions", ()))
        activities += safety_activities(self, doc.get("safety", ()))
        for regimen in plan.get("regimens", ()):
            activities += self.regimen(regimen)
        activities += self.screening(screening)
        activities += [self.workup(item) for item in doc.get("workup", ())]
        url = self.url("CarePlan")
        description = (
            f"Severity tier {severity.get('tier')} ("
            f"{'; '.join(str(r) for r in severity.get('reasons', ()))}); treatment plan tier "
            f"{plan.get('tier')}"
            + (f", dosing {plan['dosing']}" if plan.get("dosing") else "")
            + (f"; therapy phase {therapy['phase']}" if therapy else "")
            + f"; cancer screening level {screening.get('level')}.")
        care_plan: dict[str, Any] = {
            "resourceType": "CarePlan", "meta": self.meta(), "identifier": self.identifier(url),
            "status": "active", "intent": "proposal",
            "title": f"myositis-cds management plan as of {self.as_of}",
            "description": description,
            "subject": {"reference": patient_url(self.pid), "type": "Patient"},
            "created": self.as_of, "author": self.author(),
        }
        if therapy:
            care_plan["extension"] = [phase_extension(therapy)]
        if document_url is not None:
            care_plan["supportingInfo"] = [{"reference": document_url, "type": "DocumentReference",
                                            "display": "myositis-cds/assessment@1"}]
        if activities:
            care_plan["activity"] = activities
        notes = [str(n.get("text", "")) for part in (severity, screening, plan)
                 for n in part.get("notes", ())]
        if therapy:
            notes.insert(0, therapy_note(therapy, self.as_of))
        if notes:
            care_plan["note"] = [{"text": text} for text in notes]
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
