"""File names made from patient ids (downloads on the web, files written by the command line)."""

from __future__ import annotations

import re

__all__ = ["file_stem"]


def file_stem(patient_id: str) -> str:
    """A patient id as a file name part: letters, digits, ``.``, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", patient_id).strip(".-") or "patient"
