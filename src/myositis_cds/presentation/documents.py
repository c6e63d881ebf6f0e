"""The JSON documents of the typed results: ``myositis-cds/assessment@1`` and ``timeline@1``.

JSON is one more way of presenting a result (like text, Markdown and HTML), so entrypoints get it
here rather than from the engine: they hand over the typed result a use case returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from myositis_cds.engine.results import Assessment, assessment_shape, passthrough, to_dict
from myositis_cds.engine.timeline import Timeline, timeline_to_dict

__all__ = ["assessment_document", "assessment_json", "timeline_document"]


def assessment_document(assessment: Assessment) -> dict[str, Any]:
    """The ``myositis-cds/assessment@1`` JSON object of ``assessment`` (dicts and lists)."""
    return to_dict(assessment)


def assessment_json(assessment: Assessment, *, indent: bool = False) -> bytes:
    """The ``myositis-cds/assessment@1`` JSON text of ``assessment`` (UTF-8, no final newline).

    The same bytes as ``orjson.dumps(assessment_document(assessment))``, about twice as fast:
    the shape is the engine's one definition (``assessment_shape``) and orjson writes the result
    dataclasses directly (fields in declaration order, tuples as arrays, dates as ``YYYY-MM-DD``)
    instead of through an intermediate dict per object.
    """
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(assessment_shape(assessment, passthrough), default=_mapping, option=option)


def _mapping(value: object) -> dict[str, object]:
    """A read-only mapping of the settings (``MappingProxyType``) as the object ``plain`` makes."""
    if isinstance(value, Mapping):
        return {str(key): item for key, item in value.items()}
    msg = f"cannot serialise {type(value).__name__}"
    raise TypeError(msg)


def timeline_document(timeline: Timeline) -> dict[str, Any]:
    """The ``myositis-cds/timeline@1`` JSON object of ``timeline``."""
    return timeline_to_dict(timeline)
