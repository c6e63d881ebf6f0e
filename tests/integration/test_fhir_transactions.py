"""Transaction Bundles are idempotent: each resource is a conditional create on its identifier, so
a FHIR server that is sent the same export twice creates nothing the second time (checked against
the test FHIR server, which implements FHIR R4's conditional create in transactions)."""

from __future__ import annotations

import copy
import json
import urllib.request
from typing import Any

from myositis_cds.adapters.fhir.exporting.record import record_to_bundle
from tests.conftest import TODAY, load_example
from tests.fhir_server import FhirServer, serve_fhir


def _post(server: FhirServer, bundle: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        server.fhir_base, data=json.dumps(bundle).encode(), method="POST",
        headers={"Content-Type": "application/fhir+json", "Authorization": "Bearer system"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def test_loading_a_transaction_twice_duplicates_nothing() -> None:
    record = load_example("refractory-3-months")
    bundle = record_to_bundle(record, today=TODAY, bundle_type="transaction")
    with serve_fhir(FhirServer(static_token="system")) as server:
        first = _post(server, bundle)
        created = len(server.resources)
        assert created == len(bundle["entry"])
        assert {e["response"]["status"] for e in first["entry"]} == {"201 Created"}
        second = _post(server, bundle)
        assert len(server.resources) == created  # nothing new
        assert {e["response"]["status"] for e in second["entry"]} == {"200 OK"}
        assert [e["response"]["location"] for e in second["entry"]] == [
            e["response"]["location"] for e in first["entry"]]
        # References point at the stored Patient, not at the Bundle's urn:uuid.
        patient = next(r for r in server.resources if r["resourceType"] == "Patient")
        subjects = {r["subject"]["reference"] for r in server.resources if "subject" in r}
        assert subjects == {f"Patient/{patient['id']}"}
        # A changed item is a new resource; the rest is still found.
        changed = copy.deepcopy(record)
        changed["labs"][0]["value"] += 1
        _post(server, record_to_bundle(changed, today=TODAY, bundle_type="transaction"))
        assert len(server.resources) == created + 1
