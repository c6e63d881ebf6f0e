"""The one CSV writer: quoted CR and LF, neutralised formulas, numbers left as numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io

from hypothesis import example, given
from hypothesis import strategies as st

from myositis_cds.csv_writer import FORMULA_PREFIXES, CsvWriter, csv_text, safe_text
from tests.spreadsheet import ATTACKS, assert_spreadsheet_safe, spreadsheet_rows


def test_a_bare_carriage_return_is_quoted_and_cannot_start_a_row() -> None:
    text = csv_text([["at", "actor"], ["2026-11-21", "probe\r=2+3\rSUMMARY"]])
    assert text == 'at,actor\n2026-11-21,"probe\r=2+3\rSUMMARY"\n'
    assert spreadsheet_rows(text) == [["at", "actor"], ["2026-11-21", "probe\r=2+3\rSUMMARY"]]


def test_every_formula_prefix_is_neutralised_in_every_cell() -> None:
    rows = assert_spreadsheet_safe(csv_text([list(ATTACKS), ["ok", *ATTACKS]]))
    assert rows[0] == [safe_text(a) for a in ATTACKS]
    assert rows[0][2] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert rows[1][0] == "ok"
    for prefix in FORMULA_PREFIXES:
        assert safe_text(prefix + "1") == "'" + prefix + "1"


def test_numbers_booleans_dates_and_none_keep_their_meaning() -> None:
    text = csv_text([[-5, -2.5, 0.1, True, False, None, dt.date(2026, 11, 21), "-"]])
    assert text == "-5,-2.5,0.1,true,false,,2026-11-21,'-\n"
    buffer = io.StringIO()
    CsvWriter(buffer, line_terminator="\r\n", float_format=lambda v: f"{v:.2g}").writerow([1 / 3])
    assert buffer.getvalue() == "0.33\r\n"


def test_a_formula_behind_any_unicode_or_zero_width_blank_is_neutralised() -> None:
    for blank in ("\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029", "\u2003",
                  "\u200b", "\ufeff", " \u00a0\u3000"):
        assert safe_text(f"{blank}=cmd") == f"'{blank}=cmd", repr(blank)
    assert safe_text("plain \x1f text") == "plain \x1f text"


@given(st.lists(st.lists(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False),
                                   st.none()), min_size=1, max_size=5), min_size=1, max_size=5))
@example([["\x1f="]])  # found by this test in CI: the unit separator is a blank to str.strip()
def test_any_rows_read_back_as_written_and_safe(rows: list[list[object]]) -> None:
    text = csv_text(rows)  # type: ignore[arg-type]
    read = assert_spreadsheet_safe(text)
    assert len(read) == len(rows)
    for written, back in zip(rows, read, strict=True):
        expected = ["" if v is None else safe_text(v) if isinstance(v, str) else repr(v)
                    for v in written]
        assert back == expected
    assert [len(r) for r in csv.reader(io.StringIO(text, newline=""))] == [len(r) for r in rows]
