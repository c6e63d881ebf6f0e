"""Typed numbers for the rules, read once from the knowledge pack and the site settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from myositis_cds.engine.results import Note
from myositis_cds.knowledge.pack import KnowledgePack
from myositis_cds.knowledge.settings import Settings
from myositis_cds.scores.imacs_doi import DoiThresholds
from myositis_cds.scores.tis import TisTables

__all__ = ["EngineParams"]


def _triple(values: tuple[float, ...]) -> tuple[float, float, float]:
    low, mid, high = values
    return (low, mid, high)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineParams:
    pack: KnowledgePack
    settings: Settings
    tis_tables: TisTables
    doi_thresholds: DoiThresholds
    _notes: dict[tuple[str, str], Note] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, pack: KnowledgePack, settings: Settings) -> EngineParams:
        def dec(name: str) -> tuple[Decimal, ...]:
            return tuple(Decimal(repr(v)) for v in pack.threshold(name).numbers())

        tables = TisTables(
            band_edges=dec("tis_band_edges"),
            mmt_band_edges=dec("tis_mmt_band_edges"),
            points={
                "physician_global": pack.threshold("tis_points_physician_global").numbers(),
                "patient_global": pack.threshold("tis_points_patient_global").numbers(),
                "haq": pack.threshold("tis_points_haq").numbers(),
                "enzyme": pack.threshold("tis_points_enzyme").numbers(),
                "extramuscular": pack.threshold("tis_points_extramuscular").numbers(),
                "mmt": pack.threshold("tis_points_mmt").numbers(),
            },
            adult_thresholds=_triple(pack.threshold("tis_adult_thresholds").numbers()),
            juvenile_thresholds=_triple(pack.threshold("tis_juvenile_thresholds").numbers()),
            vas_range=dec("vas_range")[0],
            haq_range=dec("haq_range")[0],
            maximum=pack.threshold("tis_maximum").number(),
        )
        doi = DoiThresholds(
            improvement_percent=dec("doi_improvement_percent")[0],
            worsening_percent=dec("doi_worsening_percent")[0],
            min_improved=int(pack.threshold("doi_min_improved").number()),
            max_worsened=int(pack.threshold("doi_max_worsened").number()),
        )
        return cls(pack=pack, settings=settings, tis_tables=tables, doi_thresholds=doi)

    @property
    def version(self) -> str:
        return self.pack.version

    def number(self, name: str) -> float:
        return self.pack.threshold(name).number()

    def numbers(self, name: str) -> tuple[float, ...]:
        return self.pack.threshold(name).numbers()

    def setting_int(self, name: str) -> int:
        return self.settings.integer(name)

    def setting_text(self, name: str) -> str:
        return self.settings.text(name)

    def interp_note(self, name: str, text: str) -> Note:
        """The visible line for an [INTERP] setting that affected a result (built once per text)."""
        key = (name, text)
        note = self._notes.get(key)
        if note is None:
            spec = self.pack.settings[name]
            note = Note(
                kind="interpretation",
                text=f"interpretation ({spec.source}): {text} [{self.settings.describe(name)}]",
                setting=name,
            )
            self._notes[key] = note
        return note
