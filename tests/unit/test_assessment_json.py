"""The direct JSON encoder of an assessment writes the same bytes as ``to_dict`` + ``orjson.dumps``.

Both come from the engine's one definition of the shape (``assessment_shape``); what differs is
who turns the result dataclasses into JSON (``plain`` into dicts, or orjson itself). Checked on
every example and on generated patients (the golden digests cover the CLI's bytes for 2,000 more).
"""

from __future__ import annotations

import dataclasses
import random
import sys

import orjson
import pytest

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import Assessment, assess, to_dict
from myositis_cds.engine.results import Scope
from myositis_cds.presentation import assessment_json
from tests.conftest import EXAMPLES, ROOT, TODAY, load_example

sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic import generate_patient

GENERATED = 300


def _assessed(document: dict[str, object]) -> Assessment:
    return assess(parse_record(document, today=TODAY), TODAY, default_params())


def _same_bytes(assessment: Assessment) -> None:
    document = to_dict(assessment)
    assert assessment_json(assessment) == orjson.dumps(document)
    assert assessment_json(assessment, indent=True) == orjson.dumps(document, option=orjson.OPT_INDENT_2)


@pytest.mark.parametrize("example", [p.stem for p in EXAMPLES])
def test_every_example_encodes_to_the_bytes_of_its_dict(example: str) -> None:
    _same_bytes(_assessed(load_example(example)))


def test_generated_patients_encode_to_the_bytes_of_their_dicts() -> None:
    rng = random.Random(20261121)
    for i in range(GENERATED):
        _same_bytes(_assessed(generate_patient(rng, i)))


def test_a_changed_result_changes_both_encodings_alike() -> None:
    assessment = _assessed(load_example(EXAMPLES[0].stem))
    changed = dataclasses.replace(assessment, scope=Scope(status="not_evaluable", reasons=("x",)))
    assert assessment_json(changed) != assessment_json(assessment)
    assert orjson.loads(assessment_json(changed))["scope"] == {"status": "not_evaluable", "reasons": ["x"]}
    _same_bytes(changed)
