"""Numbers for citations and notes, assigned in the order a reader meets them in the report.

Citations become ``[1]``, ``[2]`` …; notes (the ``notes`` of any result: [INTERP] settings,
[NOTE]s of disagreement, caveats) become ``N1``, ``N2`` … and are deduplicated by their text.
After the report's sections are built, :meth:`Numbering.sweep_notes` and
:meth:`Numbering.sweep_citations` walk the whole typed result (an assessment or a timeline) so
that nothing the engine attached anywhere (including parts a renderer does not show itself) goes
unnumbered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass

from myositis_cds.engine.results import Note
from myositis_cds.presentation.labels import clean, plain

__all__ = ["Marks", "NoteEntry", "Numbering"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Marks:
    """The citation numbers and note numbers shown next to one item."""

    refs: tuple[int, ...] = ()
    notes: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.refs or self.notes)

    def as_text(self) -> str:
        """``[1][3] [N2]``: citation numbers, then note numbers (plain text and Markdown)."""
        parts = ["".join(f"[{n}]" for n in sorted(self.refs)),
                 "".join(f"[N{n}]" for n in sorted(self.notes))]
        return " ".join(p for p in parts if p)


@dataclass(slots=True, kw_only=True)
class NoteEntry:
    number: int
    kind: str
    text: str
    setting: str | None
    citation_keys: tuple[str, ...]
    places: list[str] = field(default_factory=list)


def _unique(numbers: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(numbers))


def _walk(value: object) -> Iterator[object]:
    """Every result record (dataclass instance) in ``value``, parents before children."""
    if is_dataclass(value) and not isinstance(value, type):
        yield value
        for f in fields(value):
            yield from _walk(getattr(value, f.name))
    elif isinstance(value, Mapping):
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list | tuple):
        for child in value:
            yield from _walk(child)


class Numbering:
    """Hands out citation and note numbers; the same key or note text always gets the same one."""

    def __init__(self) -> None:
        self._keys: dict[str, int] = {}
        self._notes: dict[str, NoteEntry] = {}

    def cite(self, keys: Iterable[str]) -> tuple[int, ...]:
        """Numbers of the citation ``keys``, numbering new ones."""
        numbers = [self._keys.setdefault(clean(key), len(self._keys) + 1) for key in keys]
        return _unique(numbers)

    def note(self, note: Note, place: str | None) -> int:
        """Number of one note, registering it (and where it applies) on first sight."""
        text = plain(note.text)
        entry = self._notes.get(text)
        if entry is None:
            entry = NoteEntry(number=len(self._notes) + 1, kind=clean(note.kind), text=text,
                              setting=None if note.setting is None else clean(note.setting),
                              citation_keys=tuple(clean(k) for k in note.citations))
            self._notes[text] = entry
        if place is not None and place not in entry.places:
            entry.places.append(place)
        return entry.number

    def note_numbers(self, notes: Iterable[Note], place: str) -> tuple[int, ...]:
        return _unique(self.note(n, place) for n in notes)

    def marks(self, item: object, place: str) -> Marks:
        """Marks for a result record: its own ``citations`` and its ``notes`` (where it has them)."""
        return Marks(refs=self.cite(getattr(item, "citations", ())),
                     notes=self.note_numbers(getattr(item, "notes", ()), place))

    def entry(self, number: int) -> NoteEntry:
        return next(e for e in self._notes.values() if e.number == number)

    def sweep_notes(self, result: object, place: str) -> None:
        """Register notes found anywhere in ``result`` that no section has shown yet."""
        for record in _walk(result):
            for note in getattr(record, "notes", ()):
                if isinstance(note, Note) and plain(note.text) not in self._notes:
                    self.note(note, place)

    def sweep_citations(self, result: object) -> None:
        """Number citation keys found anywhere in ``result`` that no section has shown yet."""
        for record in _walk(result):
            citations = getattr(record, "citations", ())
            if isinstance(citations, tuple):
                self.cite(citations)

    @property
    def notes(self) -> list[NoteEntry]:
        return sorted(self._notes.values(), key=lambda e: e.number)

    @property
    def keys(self) -> list[tuple[int, str]]:
        return sorted((number, key) for key, number in self._keys.items())
