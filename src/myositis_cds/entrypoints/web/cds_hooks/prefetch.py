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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from myositis_cds.adapters.fhir.chart import (
    CHART_SEARCHES,
    ChartError,
    ChartFetcher,
    FetchError,
    FhirTransport,
    check_resource,
    has_next,
    search_entries,
    urllib_transport,
)
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
PREFETCH: Final = CHART_SEARCHES
"""The prefetch templates: the chart's searches (:mod:`myositis_cds.adapters.fhir.chart`)."""
REQUIRED_PREFETCH: Final = ("patient", "observations", "conditions", "medicationRequests")
PrefetchError = ChartError
"""Prefetched data contradicts its template (400)."""


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


class PrefetchMissingError(Exception):
    """Needed data is neither prefetched nor obtainable from the FHIR server (412)."""

    def __init__(self, keys: list[str], reason: str) -> None:
        super().__init__(reason)
        self.keys = keys
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved:
    resources: list[dict[str, Any]]
    prefetched: tuple[str, ...]
    fetched: tuple[str, ...]
    not_provided: tuple[str, ...]
    """Optional keys neither prefetched nor fetched (their data is unknown, not absent)."""


def _missing(prefetch: Mapping[str, Any]) -> list[str]:
    missing = []
    for key in PREFETCH:
        if key not in prefetch or (key == "patient" and prefetch[key] is None):
            missing.append(key)
        elif key != "patient" and isinstance(prefetch[key], dict) and has_next(prefetch[key]):
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
        fetcher = ChartFetcher(base=server, token=request.fhirAuthorization.access_token,
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
            resources.append(check_resource(prefetch[key], key, "prefetch.patient", patient_id))
        elif prefetch[key] is not None:
            resources += search_entries(prefetch[key], key, f"prefetch.{key}", patient_id)
    return Resolved(resources=resources,
                    prefetched=tuple(k for k in PREFETCH if k not in fetched and k not in missing),
                    fetched=tuple(fetched), not_provided=not_provided)
