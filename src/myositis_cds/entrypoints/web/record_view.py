"""The record page's tables: every entry of a stored record in plain words, newest first.

Each row keeps its entry and its index in the record (what the correct, stop and delete actions
name); the cells are display text only. An absent value shows as "—", never as a blank that could
be read as normal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from myositis_cds.domain.vocabulary import canonical_drug
from myositis_cds.entrypoints.web.choices import word
from myositis_cds.presentation.labels import EMPTY, fmt_recorded

__all__ = ["Row", "Section", "record_sections"]

Cell = Callable[[Mapping[str, object]], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    index: int
    entry: Mapping[str, object]
    cells: tuple[str, ...]
    ongoing: bool = False
    """A treatment without a stop date (it can be stopped)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    key: str
    title: str
    add_slug: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


def _v(name: str) -> Cell:
    return lambda e: EMPTY if e.get(name) is None else fmt_recorded(e.get(name))


def _code(kind: str, name: str) -> Cell:
    return lambda e: EMPTY if e.get(name) is None else word(kind, e.get(name))


def _capitalised(name: str) -> Cell:
    return lambda e: EMPTY if e.get(name) is None else str(e[name]).capitalize()


def _yes_no(name: str, yes: str, no: str) -> Cell:
    return lambda e: EMPTY if e.get(name) is None else (yes if e.get(name) else no)


def _with_unit(name: str, unit: str) -> Cell:
    def cell(e: Mapping[str, object]) -> str:
        value = e.get(name)
        return EMPTY if value is None else f"{fmt_recorded(value)} {fmt_recorded(e.get(unit) or '')}".strip()
    return cell


def _mmt8(e: Mapping[str, object]) -> str:
    grades = e.get("mmt8_grades")
    if e.get("mmt8") is None and isinstance(grades, Mapping):
        total = sum(v for v in grades.values() if isinstance(v, int | float))
        return f"{fmt_recorded(total)} (by muscle group)"
    if e.get("mmt8") is None:
        return EMPTY
    maximum = e.get("mmt8_max")
    return f"{fmt_recorded(e.get('mmt8'))} / {fmt_recorded(maximum if maximum is not None else 80)}"


def _drug(e: Mapping[str, object]) -> str:
    """The drug in words whatever spelling the record holds (``MTX`` → Methotrexate), with the
    name as prescribed when one is recorded ("Other treatment: abatacept")."""
    drug, name = e.get("drug"), e.get("name")
    if drug is None:
        return EMPTY
    text = word("drug", canonical_drug(str(drug)) or drug)
    return f"{text}: {fmt_recorded(name)}" if name is not None else text


def _dose(e: Mapping[str, object]) -> str:
    dose = _with_unit("dose", "unit")(e)
    frequency = e.get("frequency")
    return dose if frequency is None else f"{dose}, {word('frequency', frequency).lower()}"


def _titer(e: Mapping[str, object]) -> str:
    text = _with_unit("titer", "unit")(e)
    if e.get("cutoff") is not None:
        text += f" (cut-off {fmt_recorded(e.get('cutoff'))})"
    return text


_SECTIONS: Final[tuple[tuple[str, str, str, str, tuple[tuple[str, Cell], ...]], ...]] = (
    ("assessments", "Visits (core set)", "visit", "date", (
        ("Date", _v("date")), ("Physician global", _v("physician_global")),
        ("Patient global", _v("patient_global")),
        ("Extramuscular global", _v("extramuscular_global")), ("MMT-8", _mmt8),
        ("HAQ", _v("haq")), ("CDASI", _v("cdasi_activity")))),
    ("treatments", "Treatments", "treatment", "start", (
        ("Drug", _drug), ("Dose", _dose), ("Route", _v("route")),
        ("Start", _v("start")), ("Stop", lambda e: fmt_recorded(e["stop"]) if e.get("stop")
                                 else "ongoing"))),
    ("labs", "Lab results", "lab", "date", (
        ("Date", _v("date")), ("Test", _v("test")), ("Value", _with_unit("value", "unit")),
        ("Upper limit of normal", _v("uln")))),
    ("findings", "Clinical findings", "finding", "date", (
        ("Date", _v("date")), ("Finding", _code("finding", "code")),
        ("", _yes_no("present", "present", "absent")))),
    ("antibodies", "Antibodies", "antibody", "date", (
        ("Date", _v("date")), ("Target", _v("target")), ("Result", _capitalised("result")),
        ("Titer", _titer), ("Method", _v("method")))),
    ("investigations", "Investigations", "investigation", "date", (
        ("Date", _v("date")), ("Investigation", _code("investigation", "kind")), ("Result", _v("result")),
        ("Abnormal", _yes_no("abnormal", "yes", "no")))),
    ("body_measurements", "Weight and height", "measurement", "date", (
        ("Date", _v("date")), ("Weight (kg)", _v("weight_kg")), ("Height (cm)", _v("height_cm")),
        ("Weight (lb)", _v("weight_lb")), ("Height (in)", _v("height_in")))),
)


def _rows(entries: Sequence[object], date_key: str,
          cells: Sequence[tuple[str, Cell]]) -> tuple[Row, ...]:
    rows = [Row(index=i, entry=e, cells=tuple(cell(e) for _, cell in cells),
                ongoing=not e.get("stop"))
            for i, e in enumerate(entries) if isinstance(e, Mapping)]
    return tuple(sorted(rows, key=lambda r: (str(r.entry.get(date_key) or ""), r.index),
                        reverse=True))


def record_sections(record: Mapping[str, object]) -> list[Section]:
    sections = []
    for key, title, slug, date_key, cells in _SECTIONS:
        entries = record.get(key)
        rows = _rows(entries if isinstance(entries, list) else [], date_key, cells)
        columns = tuple(name for name, _ in cells)
        if key == "body_measurements":  # the pound and inch columns only when used
            used = [i for i in range(len(columns)) if i < 3 or any(r.cells[i] != EMPTY for r in rows)]
            columns = tuple(columns[i] for i in used)
            rows = tuple(Row(index=r.index, entry=r.entry, cells=tuple(r.cells[i] for i in used))
                         for r in rows)
        sections.append(Section(key=key, title=title, add_slug=slug, columns=columns, rows=rows))
    return sections
