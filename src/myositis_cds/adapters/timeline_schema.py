"""JSON Schema of ``myositis-cds/timeline@1``, derived from the engine's timeline records.

Like :mod:`myositis_cds.adapters.assessment_schema`: pydantic reads the annotations of the engine's
standard-library dataclasses (:class:`~myositis_cds.engine.timeline.Timeline` and the records it
holds) and this module adds what :func:`~myositis_cds.engine.timeline.timeline_to_dict` adds on top,
the ``format`` marker. A test validates the timeline of every example against this schema, so the
two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from myositis_cds.engine.timeline import TIMELINE_FORMAT, Timeline
from myositis_cds.scores.tis import CATEGORIES, MEASURES

__all__ = ["timeline_json_schema"]


def timeline_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of one ``timeline@1`` document."""
    generated = TypeAdapter(Timeline).json_schema(mode="serialization",
                                                  ref_template="#/$defs/{model}")
    defs: dict[str, Any] = generated.pop("$defs", {})
    # Annotated as plain strings in the records; their values are closed sets.
    defs["TisResult"]["properties"]["category"] = {"enum": [*CATEGORIES, None]}
    defs["MeasureScore"]["properties"]["measure"] = {"enum": list(MEASURES)}
    defs["DoiMeasure"]["properties"]["measure"] = {"enum": list(MEASURES)}
    generated.pop("title", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://myositis-cds.example/schemas/timeline@1.json",
        "title": TIMELINE_FORMAT,
        **generated,
        "properties": {"format": {"const": TIMELINE_FORMAT}, **generated["properties"]},
        "required": ["format", *generated["required"]],
        "$defs": defs,
    }
