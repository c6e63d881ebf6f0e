"""The clinical engine: pure functions from (record, as-of date, pack, settings) to a cited plan."""

from myositis_cds.engine.assess import assess, evaluate_rule
from myositis_cds.engine.context import PatientContext
from myositis_cds.engine.params import EngineParams
from myositis_cds.engine.results import ASSESSMENT_FORMAT, Assessment, to_dict

__all__ = [
    "ASSESSMENT_FORMAT",
    "Assessment",
    "EngineParams",
    "PatientContext",
    "assess",
    "evaluate_rule",
    "to_dict",
]
