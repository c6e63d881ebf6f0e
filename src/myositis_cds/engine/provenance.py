"""Provenance of every result: the record values it read (:class:`InputRef`) and the lines a reader
must see with it (:class:`Note`: [INTERP] settings, [NOTE]s of disagreement, caveats)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from myositis_cds.domain.values import value_object

__all__ = ["InputRef", "Note", "Scalar"]

Scalar = str | int | float | bool | None


@value_object
class InputRef:
    """One record value that a result depends on."""

    source: str
    """JSON path into the patient record, e.g. ``$.labs[2]``."""
    name: str
    value: Scalar
    date: dt.date | None = None
    unit: str | None = None


@value_object
class Note:
    """A line the reader must see: an [INTERP] setting, a [NOTE] of disagreement, or a caveat."""

    kind: Literal["interpretation", "note", "caveat"]
    text: str
    setting: str | None = None
    citations: tuple[str, ...] = ()
