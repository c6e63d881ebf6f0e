"""The one CSV writer of every export: spreadsheets can neither split a cell nor run it as a formula.

Every CSV the package writes (the audit log export, timelines, Table 1, cohort features,
worklists) goes through :class:`CsvWriter`, because two spreadsheet behaviours turn text into
attacks (CSV or "formula" injection):

- a spreadsheet ends a row at a bare carriage return as well as at a line feed, so a cell holding
  ``"x\\r=2+3"`` written unquoted becomes a new row starting with a formula. Every cell holding a
  CR or LF (or a comma or quote) is quoted here, whatever the line terminator;
- a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a CR (and, once quoted, an LF) is
  run as a formula, also after leading spaces when the import trims them. Such text is written
  with a leading apostrophe (``'=2+3``), which spreadsheets show as text.

Numbers (``int``/``float``; floats by ``float_format``, exact ``repr`` by default) are written as
numbers, so ``-5`` stays a number; booleans are
``true``/``false`` unless the caller formats them; ``None`` is an empty cell. Only ``str`` cells
are text, and every one of them is checked, not only a known column.

Standard library only, outside the layers: the use cases, the adapters and the renderers all
import it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from typing import Final, TextIO

__all__ = ["FORMULA_PREFIXES", "Cell", "CsvWriter", "csv_text", "safe_text"]

FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r", "\n")
"""A text cell starting with one of these is neutralised (OWASP's list, plus LF)."""
_LEADING_BLANKS: Final = re.compile(r"\A[\s\u200b\u200c\u200d\u2060\ufeff]+")
"""What an import may trim before reading a cell: every Unicode blank (``str.isspace``, which
includes the C0 separators \\x1c–\\x1f) and the zero-width characters."""

Cell = str | int | float | bool | dt.date | None
"""What a CSV cell may hold: text (checked), a number, a boolean, a date or nothing."""


def safe_text(text: str) -> str:
    """``text`` with a leading apostrophe when a spreadsheet would run it as a formula: it starts
    with a formula prefix, also after leading blanks (an import that trims spaces)."""
    trimmed = _LEADING_BLANKS.sub("", text, count=1)
    if text.startswith(FORMULA_PREFIXES) or trimmed.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


FloatFormat = Callable[[float], str]


def _cell(value: Cell, float_format: FloatFormat) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float_format(value)
    return value.isoformat()  # a date


class CsvWriter:
    """Rows of cells to ``out``: RFC 4180 quoting of every cell with a comma, a quote, a CR or an
    LF (a bare CR included), formula-like text neutralised, rows ended by ``line_terminator``."""

    def __init__(self, out: TextIO, *, line_terminator: str = "\n",
                 float_format: FloatFormat = float.__repr__) -> None:
        # The csv module quotes a cell only for the characters of its line terminator: with "\n"
        # a bare CR would stay unquoted. Both are listed, the rows are ended here.
        self._out = out
        self._writer = csv.writer(_Rows(out), lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        self._end = line_terminator
        self._float = float_format

    def writerow(self, cells: Iterable[Cell]) -> None:
        self._writer.writerow([_cell(c, self._float) for c in cells])
        self._out.write(self._end)

    def writerows(self, rows: Iterable[Iterable[Cell]]) -> None:
        for row in rows:
            self.writerow(row)


class _Rows:
    """What ``csv.writer`` writes to: one row's text without its CRLF terminator."""

    __slots__ = ("_out",)

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(text.removesuffix("\r\n"))


def csv_text(rows: Iterable[Iterable[Cell]], *, line_terminator: str = "\n") -> str:
    """The CSV text of ``rows`` (see :class:`CsvWriter`)."""
    buffer = io.StringIO()
    CsvWriter(buffer, line_terminator=line_terminator).writerows(rows)
    return buffer.getvalue()
