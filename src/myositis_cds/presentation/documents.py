"""The JSON documents of the typed results: ``myositis-cds/assessment@1`` and ``timeline@1``.

JSON is one more way of presenting a result (like text, Markdown and HTML), so entrypoints get it
here rather than from the engine: they hand over the typed result a use case returned.
"""

from __future__ import annotations

from typing import Any

from myositis_cds.engine.results import Assessment, to_dict
from myositis_cds.engine.timeline import Timeline, timeline_to_dict

__all__ = ["assessment_document", "timeline_document"]


def assessment_document(assessment: Assessment) -> dict[str, Any]:
    """The ``myositis-cds/assessment@1`` JSON object of ``assessment``."""
    return to_dict(assessment)


def timeline_document(timeline: Timeline) -> dict[str, Any]:
    """The ``myositis-cds/timeline@1`` JSON object of ``timeline``."""
    return timeline_to_dict(timeline)
