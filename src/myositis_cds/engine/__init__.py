"""The clinical engine: pure functions from (record, as-of date, pack, settings) to a cited plan."""

from myositis_cds.engine.assess import assess, evaluate_rule
from myositis_cds.engine.context import PatientContext
from myositis_cds.engine.params import EngineParams
from myositis_cds.engine.results import ASSESSMENT_FORMAT, Assessment, plain, to_dict
from myositis_cds.engine.timeline import Timeline, build_timeline, timeline_to_dict

__all__ = [
    "ASSESSMENT_FORMAT",
    "Assessment",
    "EngineParams",
    "PatientContext",
    "Timeline",
    "assess",
    "build_timeline",
    "evaluate_rule",
    "plain",
    "timeline_to_dict",
    "to_dict",
]
