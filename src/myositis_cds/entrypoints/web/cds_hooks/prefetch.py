"""The hook request, its prefetch, and fetching what is missing from the EHR's FHIR server.

The ``patient-view`` service asks for seven prefetch keys (:data:`PREFETCH`): the Patient and its
Observations, Conditions and MedicationRequests are required (:data:`REQUIRED_PREFETCH`); its
MedicationStatements, Procedures and DiagnosticReports (treatments taken, investigations such as
cancer screening) are used when given. A key that is absent (or, for ``patient``, null; or a search
Bundle with a ``next`` page) is fetched from ``fhirServer`` with the bearer token of
``fhirAuthorization`` — only when that server is one the calling client registered
(``fhir_servers``): this service never calls any other address. A required key that cannot be
fetched makes the call 412 (CDS Hooks 2.0); an optional one is reported on the plan card as not
provided. A null search key means "no data": no resources.

Prefetched data is checked against its template: the Patient's id must be ``context.patientId``,
search results must be Bundles of the expected resource type, and a resource that names another
patient is refused (400) rather than assessed as this one.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from myositis_cds.entrypoints.web.cds_hooks.config import CdsClient

__all__ = [
    "FHIR_ID",
    "PREFETCH",
    "REQUIRED_PREFETCH",
    "USER_ID",
    "UUID_PATTERN",
    "FetchError",
    "FhirTransport",
    "HookRequest",
    "PrefetchError",
    "PrefetchMissingError",
    "Resolved",
    "resolve_prefetch",
    "urllib_transport",
]

FHIR_ID: Final = r"^[A-Za-z0-9\-.]{1,64}$"
USER_ID: Final = r"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\-.]{1,64}$"
UUID_PATTERN: Final = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
PREFETCH: Final[Mapping[str, str]] = {
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
REQUIRED_PREFETCH: Final = ("patient", "observations", "conditions", "medicationRequests")
_TYPES: Final = {key: template.split("/")[0].split("?")[0] for key, template in PREFETCH.items()}
_MAX_RESPONSE: Final = 32 * 1024 * 1024
_PATIENT_REFERENCE: Final = re.compile(r"(?:^|/)Patient/([^/]+)$")

FhirTransport = Callable[[str, Mapping[str, str], float], tuple[int, bytes]]
"""``(url, headers, timeout) -> (status, body)``: one GET, redirects not followed."""


class FhirAuthorization(BaseModel):
    """CDS Hooks 2.0 ``fhirAuthorization``: every field but ``patient`` is REQUIRED."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    access_token: str = Field(min_length=1, max_length=16_384, repr=False)
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=0)
    scope: str = Field(min_length=1, max_length=4096)
    subject: str = Field(min_length=1, max_length=1024)
    patient: str | None = Field(default=None, pattern=FHIR_ID)


class HookContext(BaseModel):
    """The ``patient-view`` context: ``userId`` is ``Practitioner/x``, ``PractitionerRole/x``,
    ``Patient/x`` or ``RelatedPerson/x``."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)
    userId: str = Field(max_length=1024, pattern=USER_ID)  # noqa: N815 - the CDS Hooks field name
    patientId: str = Field(pattern=FHIR_ID)  # noqa: N815
    encounterId: str | None = Field(default=None, pattern=FHIR_ID)  # noqa: N815


class HookRequest(BaseModel):
    """A CDS Hooks 2.0 service request (unknown fields such as ``extension`` are ignored).

    ``hookInstance`` is a UUID; ``fhirAuthorization`` requires ``fhirServer`` (the specification:
    "If fhirAuthorization is provided, this field is REQUIRED"); a ``fhirServer`` is an absolute
    http(s) URL."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)
    hook: str
    hookInstance: str = Field(pattern=UUID_PATTERN)  # noqa: N815
    fhirServer: str | None = Field(default=None, max_length=2048, pattern=r"^https?://\S+$")  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815
    context: HookContext
    prefetch: dict[str, dict[str, Any] | None] | None = None

    @model_validator(mode="after")
    def _server_with_authorization(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            msg = "fhirServer is required when fhirAuthorization is given (CDS Hooks 2.0)"
            raise ValueError(msg)
        return self


class PrefetchError(Exception):
    """Prefetched data contradicts its template (400); the message holds no patient data."""


class PrefetchMissingError(Exception):
    """Needed data is neither prefetched nor obtainable from the FHIR server (412)."""

    def __init__(self, keys: list[str], reason: str) -> None:
        super().__init__(reason)
        self.keys = keys
        self.reason = reason


class FetchError(Exception):
    """The FHIR server did not give what was asked (412); no token or patient data in the text."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved:
    resources: list[dict[str, Any]]
    prefetched: tuple[str, ...]
    fetched: tuple[str, ...]
    not_provided: tuple[str, ...]
    """Optional keys neither prefetched nor fetched (their data is unknown, not absent)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # a redirect is answered as it is: the token never goes anywhere else


_OPENER: Final = urllib.request.build_opener(_NoRedirect)


def urllib_transport(url: str, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    """One GET with the standard library (no redirects, body at most 32 MiB)."""
    request = urllib.request.Request(url, headers=dict(headers), method="GET")  # noqa: S310 - only registered fhir_servers
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status), response.read(_MAX_RESPONSE + 1)
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"the FHIR server could not be reached ({type(exc).__name__})") from None


def _refers_to(reference: object, patient_id: str) -> bool:
    """False only when ``reference`` names another Patient (``Patient/x``, relative or absolute);
    a reference that names none (absent, ``urn:uuid:``) contradicts nothing."""
    if not isinstance(reference, str):
        return True
    named = _PATIENT_REFERENCE.search(reference.split("/_history/")[0])
    return named is None or named.group(1) == patient_id


def _check_resource(resource: object, key: str, where: str, patient_id: str) -> dict[str, Any]:
    if not isinstance(resource, dict) or resource.get("resourceType") != _TYPES[key]:
        kind = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
        msg = f"{where}: got a {kind}; expected a {_TYPES[key]} ({PREFETCH[key]})"
        raise PrefetchError(msg)
    if key == "patient":
        if resource.get("id") != patient_id:
            msg = f"{where}.id: the Patient's id is not context.patientId"
            raise PrefetchError(msg)
    else:
        subject = resource.get("subject")
        if isinstance(subject, dict) and not _refers_to(subject.get("reference"), patient_id):
            msg = f"{where}.subject: refers to another patient than context.patientId"
            raise PrefetchError(msg)
    return resource


def _has_next(bundle: Mapping[str, Any]) -> bool:
    return any(isinstance(link, dict) and link.get("relation") == "next"
               for link in bundle.get("link") or ())


def _entries(bundle: object, key: str, where: str, patient_id: str) -> list[dict[str, Any]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        msg = f"{where}: expected a searchset Bundle ({PREFETCH[key]})"
        raise PrefetchError(msg)
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
        found.append(_check_resource(resource, key, f"{where}.entry[{index}].resource", patient_id))
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class _Fetcher:
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
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            msg = f"{key}: the FHIR server's answer is not JSON"
            raise FetchError(msg) from None
        if not isinstance(data, dict):
            msg = f"{key}: the FHIR server's answer is not a JSON object"
            raise FetchError(msg)
        return data

    def fetch(self, key: str, patient_id: str) -> list[dict[str, Any]]:
        query = PREFETCH[key].replace("{{context.patientId}}", quote(patient_id, safe=""))
        url = f"{self.base}/{query}"
        if key == "patient":
            return [_check_resource(self.get(url, key), key, f"{self.base}/Patient", patient_id)]
        url += f"&_count={self.page_size}"
        found: list[dict[str, Any]] = []
        for page in range(self.max_pages):
            bundle = self.get(url, key)
            found += _entries(bundle, key, f"{key} page {page + 1}", patient_id)
            following = next((link.get("url") for link in bundle.get("link") or ()
                              if isinstance(link, dict) and link.get("relation") == "next"), None)
            if following is None:
                return found
            if not isinstance(following, str) or not following.startswith(self.base + "/"):
                msg = f"{key}: a next page outside the FHIR server was refused"
                raise FetchError(msg)
            url = following
        msg = (f"{key}: more than {self.max_pages} pages of {self.page_size} results (the service's "
               "fetch_max_pages)")
        raise FetchError(msg)


def _missing(prefetch: Mapping[str, Any]) -> list[str]:
    missing = []
    for key in PREFETCH:
        if key not in prefetch or (key == "patient" and prefetch[key] is None):
            missing.append(key)
        elif key != "patient" and isinstance(prefetch[key], dict) and _has_next(prefetch[key]):
            missing.append(key)  # a prefetch must be a single page (CDS Hooks 2.0)
    return missing


def resolve_prefetch(request: HookRequest, *, client: CdsClient, transport: FhirTransport,
                     timeout: float, max_pages: int, page_size: int = 1000) -> Resolved:
    """All resources of the four prefetch keys: the Patient first, then the search results."""
    patient_id = request.context.patientId
    prefetch = request.prefetch or {}
    missing = _missing(prefetch)
    required = [key for key in missing if key in REQUIRED_PREFETCH]
    fetched: dict[str, list[dict[str, Any]]] = {}
    server = (request.fhirServer or "").rstrip("/")
    reason = None
    if request.fhirAuthorization is None or not server:
        reason = "needed prefetch is missing and no fhirServer with fhirAuthorization was given"
    elif server not in client.fhir_servers:
        reason = "needed prefetch is missing and the fhirServer is not registered for this client"
    if required and reason is not None:
        raise PrefetchMissingError(required, reason)
    if missing and reason is None and request.fhirAuthorization is not None:
        fetcher = _Fetcher(base=server, token=request.fhirAuthorization.access_token,
                           transport=transport, timeout=timeout, max_pages=max_pages,
                           page_size=page_size)
        for key in missing:
            try:
                fetched[key] = fetcher.fetch(key, patient_id)
            except FetchError:
                if key in REQUIRED_PREFETCH:
                    raise
                # an optional key the server cannot give (e.g. an unsupported resource type) is
                # reported as not provided on the plan card
    resources: list[dict[str, Any]] = []
    not_provided = tuple(key for key in missing if key not in fetched)
    for key in PREFETCH:
        if key in fetched:
            resources += fetched[key]
        elif key in not_provided:
            continue
        elif key == "patient":
            resources.append(_check_resource(prefetch[key], key, "prefetch.patient", patient_id))
        elif prefetch[key] is not None:
            resources += _entries(prefetch[key], key, f"prefetch.{key}", patient_id)
    return Resolved(resources=resources,
                    prefetched=tuple(k for k in PREFETCH if k not in fetched and k not in missing),
                    fetched=tuple(fetched), not_provided=not_provided)
