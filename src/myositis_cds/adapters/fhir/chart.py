"""A patient's chart as a FHIR server answers the searches of :data:`CHART_SEARCHES`, read by the
CDS Hooks service (its prefetch templates, and what it fetches when they were not prefetched) and by
the SMART launch (everything, with the token the EHR issued).

The chart: the Patient, its Observations, Conditions, MedicationRequests and MedicationStatements
(with the Medications they reference: ``_include``), Procedures and DiagnosticReports. Searches
ask ``_count`` results a page and follow ``next`` links on the same server only (``max_pages`` at
most), never follow redirects, and time out; the token goes to that server only. Every resource is
checked against its search: the Patient's id, the resource type, and a ``subject`` naming another
patient is refused (:class:`ChartError`) rather than read as this patient's.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.http_requests import send

__all__ = [
    "CHART_SEARCHES",
    "ChartError",
    "ChartFetcher",
    "FetchError",
    "FhirTransport",
    "check_resource",
    "has_next",
    "search_entries",
    "urllib_transport",
]

CHART_SEARCHES: Final[Mapping[str, str]] = {
    "patient": "Patient/{{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}"
                          "&_include=MedicationRequest:medication",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}"
                            "&_include=MedicationStatement:medication",
    "procedures": "Procedure?patient={{context.patientId}}",
    "diagnosticReports": "DiagnosticReport?patient={{context.patientId}}",
}
_TYPES: Final = {key: template.split("/")[0].split("?")[0] for key, template in
                 CHART_SEARCHES.items()}
_MAX_RESPONSE: Final = 32 * 1024 * 1024
_PATIENT_REFERENCE: Final = re.compile(r"(?:^|/)Patient/([^/]+)$")

FhirTransport = Callable[[str, Mapping[str, str], float], tuple[int, bytes]]
"""``(url, headers, timeout) -> (status, body)``: one GET, redirects not followed."""


class ChartError(Exception):
    """FHIR data contradicts its search (another patient, another type); the message holds no
    patient data."""


class FetchError(Exception):
    """The FHIR server did not give what was asked (412); no token or patient data in the text."""


def urllib_transport(url: str, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    """One GET with the standard library (no redirects, body at most 32 MiB)."""
    request = urllib.request.Request(url, headers=dict(headers), method="GET")  # noqa: S310 - only registered servers
    try:
        return send(request, timeout=timeout, max_bytes=_MAX_RESPONSE)
    except OSError as exc:
        raise FetchError(f"the FHIR server could not be reached ({exc})") from None


def _refers_to(reference: object, patient_id: str) -> bool:
    """False only when ``reference`` names another Patient (``Patient/x``, relative or absolute);
    a reference that names none (absent, ``urn:uuid:``) contradicts nothing."""
    if not isinstance(reference, str):
        return True
    named = _PATIENT_REFERENCE.search(reference.split("/_history/")[0])
    return named is None or named.group(1) == patient_id


def check_resource(resource: object, key: str, where: str, patient_id: str) -> dict[str, Any]:
    if not isinstance(resource, dict) or resource.get("resourceType") != _TYPES[key]:
        kind = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
        msg = f"{where}: got a {kind}; expected a {_TYPES[key]} ({CHART_SEARCHES[key]})"
        raise ChartError(msg)
    if key == "patient":
        if resource.get("id") != patient_id:
            msg = f"{where}.id: the Patient's id is not context.patientId"
            raise ChartError(msg)
    else:
        subject = resource.get("subject")
        if isinstance(subject, dict) and not _refers_to(subject.get("reference"), patient_id):
            msg = f"{where}.subject: refers to another patient than context.patientId"
            raise ChartError(msg)
    return resource


def has_next(bundle: Mapping[str, Any]) -> bool:
    return any(isinstance(link, dict) and link.get("relation") == "next"
               for link in bundle.get("link") or ())


def search_entries(bundle: object, key: str, where: str, patient_id: str) -> list[dict[str, Any]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        msg = f"{where}: expected a searchset Bundle ({CHART_SEARCHES[key]})"
        raise ChartError(msg)
    found = []
    for index, entry in enumerate(bundle.get("entry") or ()):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        search = entry.get("search") if isinstance(entry, dict) else None
        mode = search.get("mode") if isinstance(search, dict) else None
        if mode == "outcome" or (isinstance(resource, dict)
                                 and resource.get("resourceType") == "OperationOutcome"):
            continue
        if mode == "include":  # e.g. the Medication of a medicationReference: kept as it is
            if isinstance(resource, dict) and resource.get("resourceType") == "Medication":
                found.append(resource)
            continue
        found.append(check_resource(resource, key, f"{where}.entry[{index}].resource", patient_id))
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartFetcher:
    """Reads the chart's searches from one FHIR server with one bearer token."""

    base: str
    token: str
    transport: FhirTransport
    timeout: float
    max_pages: int
    page_size: int

    def get(self, url: str, key: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/fhir+json"}
        status, body = self.transport(url, headers, self.timeout)
        if status != 200:
            msg = f"{key}: the FHIR server answered HTTP {status}"
            raise FetchError(msg)
        if len(body) > _MAX_RESPONSE:
            msg = f"{key}: the FHIR server's answer is larger than {_MAX_RESPONSE} bytes"
            raise FetchError(msg)
        try:
            data = json_edge.loads(body, max_bytes=len(body), refuse_nul=True)
        except json_edge.JsonRefusedError as exc:
            msg = f"{key}: the FHIR server's answer is not acceptable JSON ({exc.msg})"
            raise FetchError(msg) from None
        if not isinstance(data, dict):
            msg = f"{key}: the FHIR server's answer is not a JSON object"
            raise FetchError(msg)
        return data

    def fetch(self, key: str, patient_id: str) -> list[dict[str, Any]]:
        query = CHART_SEARCHES[key].replace("{{context.patientId}}", quote(patient_id, safe=""))
        url = f"{self.base}/{query}"
        if key == "patient":
            return [check_resource(self.get(url, key), key, f"{self.base}/Patient", patient_id)]
        url += f"&_count={self.page_size}"
        found: list[dict[str, Any]] = []
        for page in range(self.max_pages):
            bundle = self.get(url, key)
            found += search_entries(bundle, key, f"{key} page {page + 1}", patient_id)
            following = next((link.get("url") for link in bundle.get("link") or ()
                              if isinstance(link, dict) and link.get("relation") == "next"), None)
            if following is None:
                return found
            if not isinstance(following, str) or not following.startswith(self.base + "/"):
                msg = f"{key}: a next page outside the FHIR server was refused"
                raise FetchError(msg)
            url = following
        msg = f"{key}: more than {self.max_pages} pages of {self.page_size} results"
        raise FetchError(msg)


