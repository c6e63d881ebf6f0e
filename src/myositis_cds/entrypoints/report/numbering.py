"""Numbers for citations and notes, assigned in the order a reader meets them in the report.

Citations become ``[1]``, ``[2]`` …; notes (the ``notes`` of any result: [INTERP] settings,
[NOTE]s of disagreement, caveats) become ``N1``, ``N2`` … and are deduplicated by their text.
After the report's sections are built, :meth:`Numbering.sweep_notes` and
:meth:`Numbering.sweep_citations` walk the whole assessment so that nothing the engine attached
anywhere (including parts a renderer does not show itself) goes unnumbered.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from myositis_cds.entrypoints.report.labels import clean

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


def _walk(value: object, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every mapping in ``value`` with its JSON path, parents before children."""
    if isinstance(value, Mapping):
        yield path, value
        for key, child in value.items():
            yield from _walk(child, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from _walk(child, f"{path}[{index}]")


class Numbering:
    """Hands out citation and note numbers; the same key or note text always gets the same one."""

    def __init__(self) -> None:
        self._keys: dict[str, int] = {}
        self._notes: dict[str, NoteEntry] = {}

    def cite(self, keys: object) -> tuple[int, ...]:
        """Numbers of the citation ``keys`` (a list from the assessment), numbering new ones."""
        if not isinstance(keys, list | tuple):
            return ()
        numbers = []
        for key in keys:
            text = clean(key)
            numbers.append(self._keys.setdefault(text, len(self._keys) + 1))
        return _unique(numbers)

    def note(self, note: Mapping[str, Any], place: str | None) -> int:
        """Number of one note object, registering it (and where it applies) on first sight."""
        text = clean(note.get("text"))
        entry = self._notes.get(text)
        if entry is None:
            keys = note.get("citations")
            entry = NoteEntry(
                number=len(self._notes) + 1,
                kind=clean(note.get("kind") or "note"),
                text=text,
                setting=None if note.get("setting") is None else clean(note.get("setting")),
                citation_keys=tuple(clean(k) for k in keys) if isinstance(keys, list | tuple) else (),
            )
            self._notes[text] = entry
        if place is not None and place not in entry.places:
            entry.places.append(place)
        return entry.number

    def note_numbers(self, notes: object, place: str) -> tuple[int, ...]:
        if not isinstance(notes, list | tuple):
            return ()
        return _unique(self.note(n, place) for n in notes if isinstance(n, Mapping))

    def marks(self, item: Mapping[str, Any], place: str) -> Marks:
        """Marks for an item: its own ``citations`` and its ``notes``."""
        return Marks(refs=self.cite(item.get("citations")),
                     notes=self.note_numbers(item.get("notes"), place))

    def entry(self, number: int) -> NoteEntry:
        return next(e for e in self._notes.values() if e.number == number)

    def sweep_notes(self, document: Mapping[str, Any]) -> None:
        """Register notes found anywhere in ``document`` that no section has shown yet."""
        for path, mapping in _walk(document, "$"):
            notes = mapping.get("notes")
            if not isinstance(notes, list | tuple):
                continue
            for note in notes:
                if isinstance(note, Mapping) and clean(note.get("text")) not in self._notes:
                    self.note(note, path)

    def sweep_citations(self, document: Mapping[str, Any]) -> None:
        """Number citation keys found anywhere in ``document`` that no section has shown yet."""
        for _, mapping in _walk(document, "$"):
            self.cite(mapping.get("citations"))

    @property
    def notes(self) -> list[NoteEntry]:
        return sorted(self._notes.values(), key=lambda e: e.number)

    @property
    def keys(self) -> list[tuple[int, str]]:
        return sorted((number, key) for key, number in self._keys.items())
