"""What both FHIR exporters share: stable entry URLs, stable identifiers, the project's URIs, Bundle
assembly and validation against the FHIR R4B models of ``fhir.resources``.

Entry URLs are ``urn:uuid:`` names derived (UUID version 5) from the patient identifier and what
the resource stands for, so exporting the same data twice gives the same Bundle, and the Patient
of a record Bundle and of an assessment Bundle of the same patient share one URL. The project's
own code systems and extensions are URNs under ``urn:myositis-cds:`` (docs/fhir.md lists them):
they name things, nothing is fetched from them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import orjson
from pydantic import BaseModel, ValidationError

__all__ = [
    "CITATION_SYSTEM",
    "EXTENSION_PREFIX",
    "ITEM_ID_SYSTEM",
    "KNOWLEDGE_PACK_SYSTEM",
    "PATIENT_ID_SYSTEM",
    "RULE_SYSTEM",
    "URI_IDENTIFIER_SYSTEM",
    "BundleEntry",
    "bundle",
    "citation_uri",
    "full_url",
    "item_identifier",
    "patient_resource_id",
    "patient_url",
    "resolve_input",
    "validate_bundle",
]

_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:myositis-cds:fhir")
URI_IDENTIFIER_SYSTEM: Final = "urn:ietf:rfc:3986"
"""Identifier system of a value that is itself a URI (the entry's ``urn:uuid:``)."""
PATIENT_ID_SYSTEM: Final = "urn:myositis-cds:patient-id"
"""Identifier system of ``patient-record@1`` ``id`` (the patient's identifier within its source)."""
ITEM_ID_SYSTEM: Final = "urn:myositis-cds:record-item"
"""Identifier system of an exported record item: a UUID derived from the patient and the item's
content (:func:`item_identifier`), the same at every export of the same item."""
RULE_SYSTEM: Final = "urn:myositis-cds:rule"
"""Code system of the knowledge pack's rule IDs (``Coding.version`` = the pack version)."""
KNOWLEDGE_PACK_SYSTEM: Final = "urn:myositis-cds:knowledge-pack"
"""``meta.tag`` system: code = pack name, version = pack version."""
CITATION_SYSTEM: Final = "urn:myositis-cds:citation"
"""Identifier system of a citation key of the pack (``DocumentReference.identifier``)."""
EXTENSION_PREFIX: Final = "urn:myositis-cds:extension:"
_FHIR_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_DOI: Final = re.compile(r"doi:\s*(10\.\d{4,9}/[^\s,;()]+)", re.IGNORECASE)

BundleEntry = tuple[str, dict[str, Any]]
"""(fullUrl, resource)."""


def full_url(patient_id: str, *parts: str) -> str:
    """The stable ``urn:uuid:`` of what ``parts`` name for this patient."""
    name = "\x1f".join((patient_id, *parts))
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, name)}"


def item_identifier(patient_id: str, resource: Mapping[str, Any], occurrence: int = 0) -> dict[
        str, str]:
    """The stable identifier of an exported record item: a UUID v5 of the patient identifier, the
    resource's canonical JSON (sorted keys, without ``identifier``) and ``occurrence`` (the
    n-th identical item of the record), so that exporting the same item again gives the same
    identifier and a conditional create finds it."""
    content = orjson.dumps({k: v for k, v in resource.items() if k != "identifier"},
                           option=orjson.OPT_SORT_KEYS).decode()
    name = "\x1f".join((patient_id, "item", content, str(occurrence)))
    return {"system": ITEM_ID_SYSTEM, "value": f"urn:uuid:{uuid.uuid5(_NAMESPACE, name)}"}


def patient_url(patient_id: str) -> str:
    return full_url(patient_id, "Patient")


def patient_resource_id(patient_id: str) -> str:
    """``Patient.id``: the record id when it is a valid FHIR id (1–64 of A–Z a–z 0–9 - .), else a
    UUID derived from it (the exact id is always in ``Patient.identifier``)."""
    if _FHIR_ID.fullmatch(patient_id):
        return patient_id
    return full_url(patient_id, "id").removeprefix("urn:uuid:")


def citation_uri(key: str, text: str) -> str:
    """The URI of a citation: its DOI as ``https://doi.org/…`` if the text has one, else a URN."""
    match = _DOI.search(text)
    if match is not None:
        return "https://doi.org/" + match.group(1).rstrip(".")
    return f"urn:myositis-cds:citation:{key}"


def resolve_input(source: str, record_urls: Mapping[str, str]) -> str | None:
    """The entry URL of an input's JSON path, trying ever shorter prefixes (``$.labs[2].value`` →
    ``$.labs[2]``)."""
    path = source
    while path:
        found = record_urls.get(path)
        if found is not None:
            return found
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 1:
            return None
        path = path[:cut]
    return None


def bundle(entries: Sequence[BundleEntry], *, bundle_type: str, tags: Sequence[Mapping[str, str]] = (),
           timestamp: str | None = None) -> dict[str, Any]:
    """A Bundle of ``entries``; ``transaction`` entries get a ``request``: a POST to the type,
    conditional (``ifNoneExist``) on the resource's first identifier when it has one, so that
    loading the same Bundle twice creates nothing the second time."""
    out: dict[str, Any] = {"resourceType": "Bundle", "type": bundle_type}
    if tags:
        out["meta"] = {"tag": [dict(tag) for tag in tags]}
    if timestamp is not None:
        out["timestamp"] = timestamp
    items = []
    for url, resource in entries:
        item: dict[str, Any] = {"fullUrl": url, "resource": resource}
        if bundle_type == "transaction":
            item["request"] = {"method": "POST", "url": resource["resourceType"]}
            identifiers = resource.get("identifier")
            if isinstance(identifiers, list) and identifiers:
                first = identifiers[0]
                item["request"]["ifNoneExist"] = f"identifier={first['system']}|{first['value']}"
        items.append(item)
    out["entry"] = items
    return out


def validate_bundle(data: Mapping[str, Any]) -> list[str]:
    """Problems of a Bundle under the FHIR R4B models; ``[]`` when it is valid.

    ``fhir.resources`` checks structure, types and cardinality; it does not check the codes of
    required bindings, so every code element whose model lists its allowed values is checked here
    too (an extensible list, marked ``+``, is not), and so are two Bundle rules: each ``fullUrl``
    once (bdl-7), and every ``urn:uuid:`` reference resolving to an entry of the Bundle.
    """
    from fhir.resources.R4B.bundle import Bundle  # noqa: PLC0415 - heavy import, only when validating

    try:
        model = Bundle.model_validate(data)
    except ValidationError as exc:
        return [f"{_loc(error['loc'])}: {error['msg']}" for error in exc.errors()]
    problems = [f"{path}: got {value!r}; expected one of {', '.join(allowed)}"
                for path, value, allowed in _bad_codes(model, "Bundle")]
    urls = [entry.get("fullUrl") for entry in data.get("entry", ()) if isinstance(entry, Mapping)]
    seen: set[object] = set()
    for index, url in enumerate(urls):
        if url in seen:
            problems.append(f"Bundle.entry[{index}].fullUrl: got {url!r}; expected a fullUrl not "
                            "already used in the Bundle (bdl-7)")
        seen.add(url)
    problems += [f"{path}: got {ref!r}; expected the fullUrl of an entry of the Bundle"
                 for path, ref in _local_references(data, "Bundle") if ref not in seen]
    return problems


def _local_references(value: object, path: str) -> Iterator[tuple[str, str]]:
    """(path, reference) of every ``reference`` naming a ``urn:uuid:``."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.startswith("urn:uuid:"):
                yield f"{path}.{key}", item
            elif isinstance(item, Mapping | list):
                yield from _local_references(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _local_references(item, f"{path}[{index}]")


def _loc(loc: tuple[int | str, ...]) -> str:
    return "Bundle" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _bad_codes(model: BaseModel, path: str) -> Iterator[tuple[str, object, tuple[str, ...]]]:
    for name, spec in type(model).model_fields.items():
        value = getattr(model, name, None)
        if value is None:
            continue
        extra = spec.json_schema_extra if isinstance(spec.json_schema_extra, Mapping) else {}
        allowed = extra.get("enum_values")
        if isinstance(allowed, list) and "+" not in allowed:
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, str) and item not in allowed:
                    yield f"{path}.{name}", item, tuple(str(a) for a in allowed)
        if isinstance(value, BaseModel):
            yield from _bad_codes(value, f"{path}.{name}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _bad_codes(item, f"{path}.{name}[{index}]")
