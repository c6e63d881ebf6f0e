"""A test EHR for the CDS Hooks service: it signs JWTs (ES384 by default) and builds hook calls.

The prefetch of an example patient is made with the FHIR exporter (``record_to_bundle``) and
reshaped as an EHR's FHIR server would answer the prefetch templates: the Patient resource and
one ``searchset`` Bundle per search, with ``subject`` references ``Patient/<id>``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from myositis_cds.adapters.fhir.exporting.record import record_to_bundle
from myositis_cds.entrypoints.web.cds_hooks.config import CdsHooksConfig, load_config
from tests.conftest import TODAY, load_example

PUBLIC_URL = "https://cds.example.org"
SERVICE_URL = f"{PUBLIC_URL}/cds-services/anti-mi2-dm-plan"
DISCOVERY_URL = f"{PUBLIC_URL}/cds-services"
FEEDBACK_URL = f"{SERVICE_URL}/feedback"
EHR_ISS = "https://ehr.example.org"
FHIR_BASE = "https://ehr.example.org/fhir"
_SEARCH_KEYS = {"Observation": "observations", "Condition": "conditions",
                "MedicationRequest": "medicationRequests",
                "MedicationStatement": "medicationStatements", "Procedure": "procedures",
                "DiagnosticReport": "diagnosticReports"}


@dataclass
class Ehr:
    """A CDS client: its iss, its signing key (EC P-384 or RSA) and its public JWK Set."""

    iss: str = EHR_ISS
    kid: str = "ehr-key-1"
    algorithm: str = "ES384"
    key: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.key is None:
            self.key = (ec.generate_private_key(ec.SECP384R1()) if self.algorithm.startswith("ES")
                        else rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwks(self) -> dict[str, Any]:
        public = self.key.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig"}]}

    def claims(self, aud: str | list[str], /, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.iss, "aud": aud, "exp": now + 60, "iat": now,
                                  "jti": str(uuid.uuid4()), "tenant": "clinic-1"}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, aud: str | list[str], /, *, headers: Mapping[str, Any] | None = None,
              **changes: Any) -> str:
        head = {"kid": self.kid, "typ": "JWT", **(headers or {})}
        return jwt.encode(self.claims(aud, **changes), self.key, algorithm=self.algorithm,
                          headers=head)

    def auth(self, aud: str, /, **changes: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(aud, **changes)}"}


def write_config(tmp_path: Path, *ehrs: Ehr, inline: bool = False, extra: str = "",
                 fhir_servers: tuple[str, ...] = (FHIR_BASE,)) -> CdsHooksConfig:
    """A clients file registering ``ehrs`` (JWKS in files, or inline), loaded as the app does."""
    lines = [f'public_url = "{PUBLIC_URL}"', extra]
    for index, ehr in enumerate(ehrs):
        lines += ["[[client]]", f'iss = "{ehr.iss}"',
                  f"fhir_servers = {json.dumps(list(fhir_servers))}"]
        if inline:
            lines.append(f"jwks = {_toml_inline(ehr.jwks())}")
        else:
            (tmp_path / f"ehr-{index}.jwks.json").write_text(json.dumps(ehr.jwks()), "utf-8")
            lines.append(f'jwks_file = "ehr-{index}.jwks.json"')
    path = tmp_path / "cds-clients.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return load_config(path)


def _toml_inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[ " + ", ".join(_toml_inline(v) for v in value) + " ]"
    return json.dumps(value)


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{FHIR_BASE}/{r['resourceType']}/{r.get('id', i)}",
                       "resource": r, "search": {"mode": "match"}}
                      for i, r in enumerate(resources)]}


def example_resources(name: str, *, today: dt.date = TODAY) -> tuple[str, list[dict[str, Any]]]:
    """(patient id, resources) of an example patient as an EHR's FHIR server holds them."""
    bundle = record_to_bundle(load_example(name), today=today)
    patient = next(e["resource"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Patient")
    patient_id = str(patient["id"])
    resources = []
    for index, entry in enumerate(bundle["entry"]):
        resource = dict(entry["resource"])
        if "subject" in resource:
            resource["subject"] = {"reference": f"Patient/{patient_id}"}
        resource.setdefault("id", f"r{index}")
        resources.append(resource)
    return patient_id, resources


def prefetch_of(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The seven prefetch keys filled from ``resources`` (an empty search is null, as specified)."""
    prefetch: dict[str, Any] = {"patient": next(r for r in resources
                                                if r["resourceType"] == "Patient")}
    for resource_type, key in _SEARCH_KEYS.items():
        found = [r for r in resources if r["resourceType"] == resource_type]
        prefetch[key] = searchset(found) if found else None
    return prefetch


def hook_call(patient_id: str, prefetch: Mapping[str, Any] | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"hook": "patient-view", "hookInstance": str(uuid.uuid4()),
                            "context": {"userId": "Practitioner/example", "patientId": patient_id}}
    if prefetch is not None:
        body["prefetch"] = dict(prefetch)
    body.update(extra)
    return body


@dataclass
class FakeFhirServer:
    """A FHIR server in memory, called through the service's transport (no network)."""

    resources: list[dict[str, Any]]
    token: str = "fhir-access-token-7f3a"
    base: str = FHIR_BASE
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    """Resource type → HTTP status to answer instead (e.g. 500)."""

    def __call__(self, url: str, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
        self.calls.append((url, dict(headers)))
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, b""
        assert url.startswith(self.base + "/"), url
        path = url[len(self.base) + 1:]
        resource_type = path.split("/")[0].split("?")[0]
        if resource_type in self.status:
            return self.status[resource_type], b""
        if "/" in path:
            patient_id = path.split("/", 1)[1]
            match = [r for r in self.resources
                     if r["resourceType"] == "Patient" and r["id"] == patient_id]
            return (200, json.dumps(match[0]).encode()) if match else (404, b"")
        found = [r for r in self.resources if r["resourceType"] == resource_type]
        return 200, json.dumps(searchset(found)).encode()
