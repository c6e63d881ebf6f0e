"""Card text: record values as literal Markdown, summaries under 140 characters (CDS Hooks 2.0)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MAX_SUMMARY", "markdown_text", "summary"]

MAX_SUMMARY: Final = 139
"""A summary is shorter than 140 characters (CDS Hooks 2.0)."""
_MARKDOWN: Final = re.compile(r"([\\`*_\[\]<>#+!|~])")


def markdown_text(value: object) -> str:
    """``value`` as literal Markdown text: special characters escaped, one line."""
    text = " ".join(str(value).split())
    return _MARKDOWN.sub(r"\\\1", text)


def summary(text: str) -> str:
    """``text`` on one line, cut at a word boundary with "…" so that it is < 140 characters."""
    line = " ".join(text.split())
    if len(line) <= MAX_SUMMARY:
        return line
    cut = line[:MAX_SUMMARY - 1]
    if " " in cut[MAX_SUMMARY // 2:]:
        cut = cut[:cut.rfind(" ")]
    return cut.rstrip(" ,;:—-") + "…"
