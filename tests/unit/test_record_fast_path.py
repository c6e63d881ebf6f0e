"""The fast acceptance path (msgspec structs) agrees with the pydantic models it mirrors.

The structs only ever accept: a record they refuse is validated again by the pydantic models, whose
errors are the ones reported. So they must refuse whatever the models refuse, and accept (with the
same values) whatever the models accept. Checked three ways: field by field against every bound and
vocabulary the models declare (a probe per value, on each part alone), and whole records — the
examples, generated patients and the CLI fuzzer's mutants of the examples.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from pydantic import BaseModel, ValidationError

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.adapters.record_json import structs as fast
from myositis_cds.adapters.record_json.checks import check_record, parts_of
from myositis_cds.adapters.record_json.convert import to_domain
from myositis_cds.adapters.record_json.models import (
    MODEL_AT,
    NESTED_MODELS,
    HaqCategoryModel,
    PatientRecordModel,
)
from myositis_cds.errors import RecordValidationError
from myositis_cds.knowledge.plausibility import default_plausibility
from tests.conftest import EXAMPLES, ROOT, TODAY
from tests.fuzz_cli import mutate_bytes, mutate_json, mutate_mild

sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic import generate_patient

PAIRS: dict[type[BaseModel], type[msgspec.Struct]] = {
    PatientRecordModel: fast.PatientRecordStruct,
    MODEL_AT["diagnosis"]: fast.DiagnosisStruct,
    MODEL_AT["body_measurements"]: fast.BodyMeasurementStruct,
    MODEL_AT["antibodies"]: fast.AntibodyStruct,
    MODEL_AT["findings"]: fast.FindingStruct,
    MODEL_AT["labs"]: fast.LabStruct,
    MODEL_AT["assessments"]: fast.AssessmentStruct,
    MODEL_AT["treatments"]: fast.TreatmentStruct,
    MODEL_AT["investigations"]: fast.InvestigationStruct,
    NESTED_MODELS["mmt8_grades"]: fast.Mmt8GradesStruct,
    NESTED_MODELS["haq_answers"]: fast.HaqAnswersStruct,
    HaqCategoryModel: fast.HaqCategoryStruct,
}
GRADES = dict.fromkeys(NESTED_MODELS["mmt8_grades"].model_fields, 5)
VALID: dict[type[BaseModel], dict[str, Any]] = {
    PatientRecordModel: {"id": "p"},
    MODEL_AT["diagnosis"]: {"name": "dermatomyositis"},
    MODEL_AT["body_measurements"]: {"date": "2020-01-01", "weight_kg": 60},
    MODEL_AT["antibodies"]: {"target": "Mi-2", "result": "positive", "date": "2020-01-01"},
    MODEL_AT["findings"]: {"code": "v_sign", "present": True, "date": "2020-01-01"},
    MODEL_AT["labs"]: {"test": "ck", "value": 100, "unit": "U/L", "date": "2020-01-01"},
    MODEL_AT["assessments"]: {"date": "2020-01-01", "mmt8_grades": GRADES,
                              "haq_answers": {"eating": {"score": 1}}},
    MODEL_AT["treatments"]: {"drug": "prednisone", "start": "2020-01-01"},
    MODEL_AT["investigations"]: {"kind": "emg", "date": "2020-01-01"},
    NESTED_MODELS["mmt8_grades"]: GRADES,
    NESTED_MODELS["haq_answers"]: {"arising": {"score": 2, "aid_or_help": True}},
    HaqCategoryModel: {"score": 0},
}
GENERIC: list[Any] = [
    None, True, False, 0, -0.0, 1, -1, 0.5, 1.5, 2, 2.5, 3, 3.5, 4, 7.25, 10, 10.5, 79, 80, 81,
    1e308, -1e-300, 10**20, "", "a", "é" * 3, "2020-01-01", "2020-02-29", "2021-02-29", "2020-1-1",
    "20200101", "2020-01-01T00:00:00", "0000-01-01", [], {}, [1], {"a": 1}, GRADES, {"score": 1},
    {"eating": {"score": 3}}, [VALID[MODEL_AT["labs"]]], {"name": "dermatomyositis"},
]


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schema_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_nodes(value)


def _probes() -> list[Any]:
    """Every value the models' schema names (vocabularies, bounds and lengths, and their edges)."""
    probes = list(GENERIC)
    for node in _schema_nodes(PatientRecordModel.model_json_schema()):
        probes += node.get("enum", [])
        if "const" in node:
            probes += [node["const"], node["const"] + "x"]
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if key in node:
                probes += [node[key] + d for d in (-1, -0.5, -1e-9, 0, 1e-9, 0.5, 1)]
        for key in ("minLength", "maxLength"):
            if key in node:
                probes += ["x" * max(node[key] + d, 0) for d in (-1, 0, 1)]
    unique: dict[str, Any] = {json.dumps(p): p for p in probes}
    return list(unique.values())


def _both(model: type[BaseModel], raw: bytes) -> tuple[Any, Any]:
    try:
        by_model: Any = model.model_validate_json(raw).model_dump()
    except ValidationError:
        by_model = None
    try:
        by_struct: Any = msgspec.to_builtins(msgspec.json.decode(raw, type=PAIRS[model]),
                                             builtin_types=(type(TODAY),))
    except (msgspec.ValidationError, msgspec.DecodeError):
        by_struct = None
    return by_model, by_struct


@pytest.mark.parametrize("model", list(PAIRS), ids=lambda m: m.__name__)
def test_each_struct_has_its_models_fields_in_order(model: type[BaseModel]) -> None:
    assert PAIRS[model].__struct_fields__ == tuple(model.model_fields)


@pytest.mark.parametrize("model", list(PAIRS), ids=lambda m: m.__name__)
def test_each_field_accepts_and_refuses_what_the_model_does(model: type[BaseModel]) -> None:
    base = VALID[model]
    assert all(_both(model, json.dumps(base).encode())), "the valid base is accepted by both"
    candidates = [{**base, "unknown": 1}]
    for name in model.model_fields:
        candidates.append({k: v for k, v in base.items() if k != name})
        candidates += [{**base, name: value} for value in _probes()]
    accepted = 0
    for candidate in candidates:
        raw = json.dumps(candidate).encode()
        by_model, by_struct = _both(model, raw)
        assert repr(by_struct) == repr(by_model), raw  # repr: 1 and 1.0 differ
        accepted += by_model is not None
    assert 0 < accepted < len(candidates)


def _duplicate_keys(raw: bytes) -> bool:
    """Whether an object of ``raw`` repeats a key (the models keep the last value unchecked)."""
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({key for key, _ in items}) < len(items):
            raise KeyError
        return dict(items)
    try:
        json.loads(raw, object_pairs_hook=pairs)
    except KeyError:
        return True
    except ValueError:
        return False
    return False


def _dates(model: PatientRecordModel) -> Iterator[object]:
    for name in PatientRecordModel.model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, BaseModel):
                yield from (getattr(item, f) for f in ("date", "start", "stop", "symptom_onset_date")
                            if getattr(item, f, None) is not None)
            elif isinstance(item, type(TODAY)):
                yield item


def _agree(raw: bytes) -> bool:
    """Both forms accept ``raw`` (with the same checks and domain record) or both refuse it."""
    structs = fast.decode_record(raw)
    try:
        model: PatientRecordModel | None = PatientRecordModel.model_validate_json(raw)
    except ValidationError:
        model = None
    if structs is None and model is not None:
        # Where the models are more lenient, the record takes the slow path and is judged as before:
        # a repeated key (the models check the last value only), a date given as a Unix time
        # ("0" is 1970-01-01 to pydantic).
        dates = {str(d) for d in _dates(model)}
        assert _duplicate_keys(raw) or any(f'"{d}"'.encode() not in raw for d in dates), raw[:300]
    assert model is not None or structs is None, raw[:300]  # never accepts what the models refuse
    if structs is None or model is None:
        return False
    limits = default_plausibility()
    errors = check_record(parts_of(structs), "$", TODAY, limits)
    assert errors == check_record(parts_of(model), "$", TODAY, limits)
    if not errors:
        assert repr(to_domain(structs)) == repr(to_domain(model))
    return not errors


def test_examples_and_generated_patients_take_the_fast_path_to_the_same_record() -> None:
    rng = random.Random(20261121)
    documents = [json.loads(p.read_text("utf-8")) for p in EXAMPLES]
    documents += [generate_patient(rng, i) for i in range(1_000)]
    for document in documents:
        assert _agree(json.dumps(document).encode())


def test_the_fuzzers_mutants_are_accepted_or_refused_alike() -> None:
    rng = random.Random(15)
    examples = [json.loads(p.read_text("utf-8")) for p in EXAMPLES]
    outcomes = []
    for _ in range(1_500):
        document = rng.choice(examples)
        mutate = rng.choice((mutate_json, mutate_mild,
                             lambda r, d: mutate_bytes(r, json.dumps(d).encode())))
        outcomes.append(_agree(mutate(rng, document)))
    assert any(outcomes), "some mutants are still valid records"
    assert not all(outcomes)


@pytest.mark.parametrize("raw", [b"", b"null", b"[]", b'{"id": "a"} x', '{"id": "\ud800"}',
                                 b"[" * 5000 + b"]" * 5000])
def test_what_is_not_a_record_is_left_to_the_models(raw: bytes | str) -> None:
    assert fast.decode_record(raw) is None


def test_a_record_the_fast_path_refuses_still_gets_every_error() -> None:
    document = json.loads(EXAMPLES[0].read_text("utf-8"))
    document["labs"][0]["value"] = "12"
    document["treatments"][0]["stop"] = "1900-01-01"
    document["sex"] = "F"
    assert fast.decode_record(json.dumps(document).encode()) is None
    with pytest.raises(RecordValidationError) as caught:
        parse_record(document, today=TODAY)
    paths = {error.path for error in caught.value.errors}
    assert {"$.labs[0].value", "$.treatments[0].stop", "$.sex"} <= paths
