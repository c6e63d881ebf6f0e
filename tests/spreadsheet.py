"""How a spreadsheet reads a CSV file, for the CSV-injection tests of every export.

A spreadsheet ends a row at a CR or an LF outside quotes (CRLF counts once) and runs a cell whose
text starts with ``=``, ``+``, ``-``, ``@``, a tab, a CR or an LF as a formula (a number such as
``-5`` is a number, not a formula).
"""

from __future__ import annotations

import csv
import io

from myositis_cds.csv_writer import FORMULA_PREFIXES

__all__ = ["ATTACKS", "assert_spreadsheet_safe", "spreadsheet_rows"]

ATTACKS = ("probe\r=2+3\rSUMMARY", "  =1+1", "=HYPERLINK(\"http://evil.example\",\"x\")",
           "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\t=1", "x\n=1+1", "\r=1")
"""Text an attacker puts where an export will copy it (an id, a username, a column name)."""


def spreadsheet_rows(text: str) -> list[list[str]]:
    """The rows and cells of ``text`` as a spreadsheet splits them."""
    rows: list[list[str]] = []
    row: list[str] = []
    cell: list[str] = []
    quoted = started = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == '"' and text[i + 1:i + 2] == '"':
                cell.append('"')
                i += 1
            elif c == '"':
                quoted = False
            else:
                cell.append(c)
        elif c == '"' and not cell:
            quoted = started = True
        elif c == ",":
            row.append("".join(cell))
            cell, started = [], False
        elif c in "\r\n":
            row.append("".join(cell))
            rows.append(row)
            row, cell, started = [], [], False
            if c == "\r" and text[i + 1:i + 2] == "\n":
                i += 1
        else:
            cell.append(c)
            started = True
        i += 1
    if cell or row or started:
        row.append("".join(cell))
        rows.append(row)
    return rows


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_spreadsheet_safe(text: str) -> list[list[str]]:
    """Every row a spreadsheet sees is a row of the CSV, and no cell would run as a formula.

    Returns the rows (as Python's csv module reads them)."""
    expected = list(csv.reader(io.StringIO(text, newline="")))
    seen = spreadsheet_rows(text)
    assert seen == expected, "a spreadsheet splits the rows differently from the CSV"
    for row in seen:
        for cell in row:
            assert _number(cell) or not cell.strip().startswith(FORMULA_PREFIXES), (
                f"cell {cell!r} would run as a formula")
    return expected
