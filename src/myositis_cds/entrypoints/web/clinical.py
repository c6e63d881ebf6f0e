"""The clinical side of the web application: the use cases with the server's parser, pack and
settings, and the presentation of their typed results (pages, JSON, trend figures).

Everything here works on decoded ``patient-record@1`` documents with the same parser, pack and
settings as the command line, so the API's assessment of a record equals ``myositis-cds assess
--format json``. "Today" is read at each call (``MYOSITIS_CDS_TODAY`` pins it), because the server
runs for days.

Trend figures are our matplotlib SVG, each served at its own URL (the page only references
them with ``<img>``), stored per record version and date (:mod:`.figures`); a launched (SMART)
record's are kept here in a bounded LRU instead, since it is not stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

from myositis_cds import __version__, bootstrap
from myositis_cds.bootstrap import EngineParams
from myositis_cds.domain.record import PatientRecord
from myositis_cds.entrypoints.dates import as_of_problem
from myositis_cds.entrypoints.web.figures import (
    FIGURE_NAMES,
    draw_figures,
    figures_fingerprint,
    svg_with_attributes,
)
from myositis_cds.errors import FieldError, RecordValidationError
from myositis_cds.presentation import assessment_document, timeline_document
from myositis_cds.presentation.labels import LABELS_FILE
from myositis_cds.presentation.letter import Letter, build_letter
from myositis_cds.presentation.patient_page import render_patient_page
from myositis_cds.services import RecordParser, assess_document, timeline_of_document
from myositis_cds.services.patient_results import PatientResults, patient_results
from myositis_cds.services.ports import StoredPatient

__all__ = ["FIGURE_NAMES", "SEVERITIES", "AlertCounts", "Clinic", "PageParts", "svg_with_attributes"]

SEVERITIES: Final = ("critical", "warning", "info")


VIEW_FORMAT: Final = b"page-parts@3"
"""Changes whenever what :meth:`Clinic.render_page` produces changes shape."""


def view_fingerprint(params: EngineParams) -> str:
    """What a stored page view depends on besides the record, version and date: this release,
    the view format, the knowledge pack and settings in force, and the presentation's code,
    templates and labels table.

    Equal fingerprints mean equal pages for equal inputs; anything else is a miss, so a new pack,
    a site setting or an upgraded release never shows a page made with the old ones."""
    digest = hashlib.sha256(__version__.encode() + b"\0" + VIEW_FORMAT + b"\0")
    digest.update(repr(params.pack).encode() + b"\0")
    digest.update(repr(sorted(params.settings.values.items())).encode() + b"\0")
    presentation = resources.files("myositis_cds.presentation")
    packs = resources.files("myositis_cds.knowledge").joinpath("packs")
    parts = [*presentation.iterdir(), *presentation.joinpath("templates").iterdir(),
             packs.joinpath(LABELS_FILE)]
    for part in sorted(parts, key=lambda t: t.name):
        if part.is_file() and part.name.endswith((".py", ".j2", ".toml")):
            digest.update(part.name.encode() + b"\0" + part.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class PageParts:
    """What the patient page shows of a stored patient at one version and date, already escaped:
    its content (act now, the details, the trend figure references and the references)."""

    page: str

    def encode(self) -> bytes:
        """zlib of the page's UTF-8."""
        return zlib.compress(self.page.encode("utf-8"), 6)

    @classmethod
    def decode(cls, body: bytes) -> PageParts:
        return cls(page=zlib.decompress(body).decode("utf-8"))


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertCounts:
    critical: int = 0
    warning: int = 0
    info: int = 0
    invalid: bool = False
    """The stored record no longer validates (e.g. the pack changed): no assessment."""

    def to_summary(self) -> dict[str, int]:
        return {"critical": self.critical, "warning": self.warning, "info": self.info}

    @classmethod
    def from_summary(cls, summary: Mapping[str, int]) -> AlertCounts:
        return cls(critical=summary["critical"], warning=summary["warning"], info=summary["info"])


def _alert_counts(severities: Iterable[str]) -> AlertCounts:
    counts = dict.fromkeys(SEVERITIES, 0)
    for severity in severities:
        counts[severity] += 1
    return AlertCounts.from_summary(counts)


@dataclass(slots=True, kw_only=True)
class Clinic:
    params: EngineParams = field(default_factory=bootstrap.default_params)
    parse: RecordParser = field(default_factory=bootstrap.make_live_parser)
    figure_cache_size: int = 96
    """Rendered SVG figures kept (three per patient page)."""
    _figures: OrderedDict[tuple[int, int, dt.date, str], bytes] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fingerprint: str = field(init=False)
    """:func:`view_fingerprint` of :attr:`params` (stored page views are keyed by it)."""
    figures_fingerprint: str = field(init=False)
    """The stored trend figures' (:func:`~.figures.figures_fingerprint`)."""
    draw_lock: threading.Lock = field(default_factory=threading.Lock)
    """Held while drawing (matplotlib's ``rc_context`` is process-global: one figure at a time)."""

    def __post_init__(self) -> None:
        self.fingerprint = view_fingerprint(self.params)
        self.figures_fingerprint = figures_fingerprint(self.fingerprint)

    @property
    def citations(self) -> dict[str, str]:
        return dict(self.params.pack.citations)

    @staticmethod
    def today() -> dt.date:
        return bootstrap.current_date()

    def as_of(self, value: dt.date | None) -> dt.date:
        """The assessment date: ``value`` (from 1900-01-01 to today) or today."""
        today = self.today()
        if value is None:
            return today
        problem = as_of_problem(value, today)
        if problem is not None:
            raise RecordValidationError(
                [FieldError(path="as_of", value=value.isoformat(), expected=problem)],
                source="query")
        return value

    def record(self, document: object) -> PatientRecord:
        return self.parse(document, prefix="$", source="patient record")

    def assessment(self, document: object, as_of: dt.date) -> dict[str, Any]:
        return assessment_document(assess_document(document, parse=self.parse, as_of=as_of,
                                                   params=self.params))

    def timeline(self, document: object, as_of: dt.date) -> dict[str, Any]:
        return timeline_document(timeline_of_document(document, parse=self.parse, as_of=as_of,
                                                      params=self.params))

    def alert_counts(self, document: Mapping[str, object], as_of: dt.date) -> AlertCounts:
        try:
            assessment = assess_document(document, parse=self.parse, as_of=as_of, params=self.params)
        except RecordValidationError:
            return AlertCounts(invalid=True)
        return _alert_counts(a.severity for a in assessment.alerts)

    @staticmethod
    def figure_url(stored: StoredPatient, as_of: dt.date, name: str) -> str:
        """The versioned URL of one trend figure (it never changes, so browsers may keep it)."""
        return (f"/patients/{stored.id}/figures/{name}.svg?v={stored.version}"
                f"&as_of={as_of.isoformat()}")

    def letter(self, stored: StoredPatient, results: PatientResults, *, printed_by: str) -> Letter:
        """The clinic letter of ``stored`` from its results (for the HTML letter and the PDF)."""
        return build_letter(record=results.record, assessment=results.assessment,
                            timeline=results.timeline, citations=self.citations,
                            name=stored.patient_key, printed_on=self.today(), printed_by=printed_by)

    def render_page(self, stored: StoredPatient, results: PatientResults, *,
                    figure_url: Callable[[str], str] | None = None) -> tuple[bytes, dict[str, int]]:
        """The page parts of ``stored`` from its results (the "patient page view" use case's
        ``render`` port): the page's content with the trend figure references, encoded; and the
        alert counts for the patient list. ``figure_url`` names where a figure is served (default:
        the stored patient's figure URLs; the SMART launch serves its own)."""
        from myositis_cds.presentation import trend_html  # noqa: PLC0415 - loads matplotlib

        as_of = results.assessment.as_of
        figures = trend_html.trend_figure_references_html(
            results.timeline, results.trends,
            src_of=figure_url or (lambda name: self.figure_url(stored, as_of, name)))
        page = render_patient_page(record=results.record, assessment=results.assessment,
                                   timeline=results.timeline, citations=self.citations,
                                   figures=figures, name=stored.patient_key)
        counts = _alert_counts(a.severity for a in results.assessment.alerts)
        return PageParts(page=page).encode(), counts.to_summary()

    def figures(self, results: PatientResults) -> dict[str, bytes]:
        """Every trend figure (:data:`FIGURE_NAMES`) of ``results``, drawn now."""
        with self.draw_lock:
            return draw_figures(results)

    def figure_svg(self, *, patient_id: int, version: int, document: object, as_of: dt.date,
                   name: str) -> bytes:
        """One trend figure (``name`` in :data:`FIGURE_NAMES`) of a record that is not stored (a
        SMART launch's) as a standalone SVG document without inline CSS, from a bounded LRU of
        drawn figures. A miss draws the patient's three figures of that width at once (a page
        asks for all three)."""
        if name not in FIGURE_NAMES:
            raise KeyError(name)
        key = (patient_id, version, as_of, name)
        with self._lock:
            cached = self._figures.get(key)
            if cached is not None:
                self._figures.move_to_end(key)
                return cached
            results = patient_results(document, parse=self.parse, as_of=as_of, params=self.params)
            layout = "narrow" if name.endswith("-narrow") else "wide"
            with self.draw_lock:
                drawn = draw_figures(results, layouts=(layout,))
            for figure, svg in drawn.items():
                self._figures[(patient_id, version, as_of, figure)] = svg
                self._figures.move_to_end((patient_id, version, as_of, figure))
            while len(self._figures) > self.figure_cache_size:
                self._figures.popitem(last=False)
            return self._figures.get(key, b"")
