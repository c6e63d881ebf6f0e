"""Trend plots in the style of PF2019's figure: dots are measurements, the line is LOWESS.

:func:`plot_trend` draws one series of :class:`~myositis_cds.stats.trends.PatientTrends` on an
axes it is given and returns it; :func:`render_trend_figures` renders the three plots of a
patient (CK ×ULN, MMT-8, anti-Mi-2 titer) to SVG or PNG bytes. Treatment periods are shaded by
role, the titer cut-off is a dashed line, and the dates of titer normalisation and drug-free
remission are marked.

Figures are built as :class:`matplotlib.figure.Figure` objects (no pyplot, no global figure
state) with matplotlib's bundled DejaVu Sans. Output is deterministic: fixed ``svg.hashsalt``, no
creation date, no software version. Every measurement is its own SVG group whose id is
``<series>-point-<n>`` (a ``<title>`` in it shows the date, value and JSON path on hover).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final, Literal

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import EngineParams, Timeline, build_timeline
from myositis_cds.engine.timeline import TreatmentPeriod
from myositis_cds.stats.trends import PatientTrends, TrendEvent, TrendSeries, patient_trends

__all__ = [
    "SERIES_KEYS",
    "FigureFormat",
    "TimeUnit",
    "inline_svg",
    "patient_trend_figures",
    "plot_trend",
    "record_trends",
    "render_trend_figures",
    "time_unit_for",
    "trend_figure_references_html",
    "trend_figures_html",
]

SERIES_KEYS: Final = ("ck", "mmt8", "titer")
FigureFormat = Literal["svg", "png"]


def _style() -> contextlib.AbstractContextManager[None]:
    """Deterministic output with the bundled font; undone when the figure is saved."""
    return mpl.rc_context({
        "font.family": "DejaVu Sans",  # bundled with matplotlib: same glyphs on every machine
        "font.size": 8.5,
        "svg.fonttype": "path",
        "svg.hashsalt": "myositis-cds",
        "path.simplify": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


_FIGSIZE: Final = (7.5, 3.2)
_PNG_DPI: Final = 150
_DOT: Final = "#222222"
_LINE: Final = "#0072B2"
_ROLES: Final[dict[str, tuple[str, str, str]]] = {  # Okabe-Ito colours, legible to colour-blind readers
    # role: (colour, hatch, legend label). Fills for one role, hatching for the others, so that
    # overlapping periods stay readable (two translucent fills would blend into a third colour).
    "glucocorticoid": ("#E69F00", "", "glucocorticoid"),
    "steroid_sparing": ("#009E73", "////", "steroid-sparing agent"),
    "second_line": ("#CC79A7", "\\\\\\\\", "second-line agent"),
    "other": ("#999999", "....", "other treatment"),
}
_EVENTS: Final[dict[str, tuple[str, Literal["-.", ":"], str]]] = {
    "titer_normalised": ("#D55E00", "-.", "titer-normalised"),
    "drug_free_since": ("#56B4E9", ":", "drug-free-since"),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class TimeUnit:
    """How days since the origin are shown on the x axis (days, months or years)."""

    name: str
    divisor: float


def time_unit_for(span_days: float) -> TimeUnit:
    """Days up to 4 months, months up to 3 years, then years (a display choice)."""
    if span_days <= 120:
        return TimeUnit(name="days", divisor=1.0)
    if span_days <= 3 * 365.25:
        return TimeUnit(name="months", divisor=365.25 / 12)
    return TimeUnit(name="years", divisor=365.25)


def _merged_spans(periods: Sequence[TreatmentPeriod],
                  end: dt.date) -> dict[str, list[tuple[dt.date, dt.date]]]:
    """Per role, the union of its periods (a taper's consecutive doses become one span)."""
    spans: dict[str, list[tuple[dt.date, dt.date]]] = {}
    for period in sorted(periods, key=lambda p: (p.role, p.start)):
        stop = min(period.stop or end, end)
        merged = spans.setdefault(period.role, [])
        if merged and period.start <= merged[-1][1] + dt.timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((period.start, stop))
    return spans


def _shade_treatments(ax: Axes, periods: Sequence[TreatmentPeriod], *, origin: dt.date,
                      end: dt.date, x_of: Callable[[float], float]) -> list[Line2D | Patch]:
    handles: list[Line2D | Patch] = []
    for role, spans in _merged_spans(periods, end).items():
        colour, hatch, label = _ROLES.get(role, _ROLES["other"])
        face, edge, alpha = (colour, "none", 0.2) if not hatch else ("none", colour, 0.45)
        for i, (start, stop) in enumerate(spans):
            ax.axvspan(x_of((start - origin).days), x_of((stop - origin).days + 1),
                       facecolor=face, edgecolor=edge, hatch=hatch or None, alpha=alpha,
                       linewidth=0, gid=f"treatment-{role}-{i}", zorder=1)
        handles.append(Patch(facecolor=face, edgecolor=edge, hatch=hatch or None, alpha=alpha,
                             linewidth=0, label=label))
    return handles


def _draw_points(ax: Axes, series: TrendSeries, x_of: Callable[[float], float]) -> list[Line2D | Patch]:
    """One artist (one SVG group, id ``<key>-point-<n>``) per measurement, then the LOWESS line."""
    handles: list[Line2D | Patch] = []
    for i, point in enumerate(series.points):
        hollow = series.cutoff is not None and point.value < series.cutoff
        ax.plot([x_of(point.day)], [point.value], linestyle="none", marker="o", markersize=4.5,
                markeredgecolor=_DOT, markerfacecolor="white" if hollow else _DOT,
                gid=f"{series.key}-point-{i}", zorder=4)
    if series.points:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=4.5, color=_DOT,
                              label=f"measurement (n={len(series.points)})"))
    if series.curve is not None:
        ax.plot([x_of(d) for d in series.curve.days], list(series.curve.values), color=_LINE,
                linewidth=2, gid=f"{series.key}-lowess", zorder=3)
        handles.append(Line2D([], [], color=_LINE, linewidth=2, label="LOWESS"))
    return handles


def _draw_references(ax: Axes, series: TrendSeries) -> list[Line2D | Patch]:
    """The titer cut-off (dashed) and, for CK, the upper limit of normal (1 × ULN, dotted)."""
    handles: list[Line2D | Patch] = []
    if series.cutoff is not None:
        ax.axhline(series.cutoff, color="#444444", linestyle="--", linewidth=1,
                   gid=f"{series.key}-cutoff", zorder=2)
        handles.append(Line2D([], [], color="#444444", linestyle="--", linewidth=1,
                              label=f"cut-off {series.cutoff:g} {series.unit}"))
        if any(p.value < series.cutoff for p in series.points):
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=4.5,
                                  markeredgecolor=_DOT, markerfacecolor="white",
                                  label="below cut-off"))
    if series.key == "ck":
        ax.axhline(1.0, color="#444444", linestyle=":", linewidth=1, gid="ck-uln", zorder=2)
        handles.append(Line2D([], [], color="#444444", linestyle=":", linewidth=1,
                              label="upper limit of normal"))
    return handles


def _draw_events(ax: Axes, events: Sequence[TrendEvent],
                 x_of: Callable[[float], float]) -> list[Line2D | Patch]:
    handles: list[Line2D | Patch] = []
    for event in events:
        colour, style, gid = _EVENTS[event.kind]
        ax.axvline(x_of(event.day), color=colour, linestyle=style, linewidth=1.5, gid=gid, zorder=3)
        handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=1.5, label=event.label))
    return handles


def _scale_y(ax: Axes, series: TrendSeries) -> None:
    if series.key == "ck" and series.points:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    elif series.key == "mmt8" and series.maximum is not None:
        ax.set_ylim(0, series.maximum * 1.04)
    elif series.key != "ck":
        ax.set_ylim(bottom=0)
    if not series.points:
        message = f"No {series.label} to draw"
        if series.omitted:
            message += f": {len(series.omitted)} result(s) left out ({series.omitted[-1].reason})"
        ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
                color="#555555")
        ax.set_yticks([])
    elif series.curve is None and series.curve_note:
        ax.text(0.99, 0.97, "no LOWESS line: fewer than 3 dates", transform=ax.transAxes,
                ha="right", va="top", fontsize=7, color="#555555")


def plot_trend(ax: Axes, series: TrendSeries, *, title: str, origin: dt.date | None,
               unit: TimeUnit | None = None, x_label: str = "",
               treatment_periods: Sequence[TreatmentPeriod] = (), events: Sequence[TrendEvent] = (),
               end: dt.date | None = None) -> Axes:
    """Draw one trend series on ``ax`` and return it.

    Dots are the measurements (hollow below the titer cut-off), the line is the LOWESS curve;
    treatment periods are shaded by role, and the cut-off, ULN and events are reference lines.
    ``origin`` is day 0 of the series (treatment and event dates are placed against it); ``end``
    (the as-of date) closes ongoing treatment periods.
    """
    time_unit = unit or time_unit_for(max([p.day for p in series.points] or [1]))

    def x_of(day: float) -> float:
        return day / time_unit.divisor

    handles = _draw_points(ax, series, x_of)
    if origin is not None:
        last = end or max([p.date for p in series.points] or [origin])
        handles += _shade_treatments(ax, treatment_periods, origin=origin, end=last, x_of=x_of)
    handles += _draw_references(ax, series)
    handles += _draw_events(ax, events, x_of)
    _scale_y(ax, series)
    ax.set_title(title, loc="left", fontsize=10)
    ax.set_title("dots: measurements · line: LOWESS", loc="right", fontsize=7, color="#555555")
    ax.set_xlabel(x_label or f"{time_unit.name} since day 0")
    ax.set_ylabel(f"{series.label} ({series.unit})" if series.points else series.label)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  fontsize=7.5)
    return ax


def _point_titles(series: TrendSeries) -> dict[str, str]:
    return {f"{series.key}-point-{i}": f"{p.date.isoformat()}: {series.label} {p.value:.3g} "
                                       f"{series.unit} ({p.source})"
            for i, p in enumerate(series.points)}


def _add_titles(svg: str, titles: Mapping[str, str]) -> str:
    def add(match: re.Match[str]) -> str:
        title = titles.get(match.group(1))
        return match.group(0) if title is None else f"{match.group(0)}<title>{escape(title)}</title>"

    return re.sub(r'<g id="([^"]+)">', add, svg)


def _x_range(timeline: Timeline, trends: PatientTrends) -> tuple[float, float]:
    origin = trends.origin
    if origin is None:
        return (0.0, 1.0)
    days = [p.day for s in trends.series for p in s.points]
    days += [(t.start - origin).days for t in timeline.treatment_periods]
    days += [e.day for e in trends.events]
    return (float(min([0, *days])), float(max([(timeline.as_of - origin).days, *days])))


def render_trend_figures(timeline: Timeline, trends: PatientTrends, *,
                         fmt: FigureFormat) -> dict[str, bytes]:
    """The three plots of one patient, keyed ``ck``, ``mmt8`` and ``titer``, as SVG or PNG bytes."""
    if fmt not in ("svg", "png"):
        msg = f"fmt: got {fmt!r}; expected 'svg' or 'png'"
        raise ValueError(msg)
    low, high = _x_range(timeline, trends)
    unit = time_unit_for(high - low)
    pad = max((high - low) * 0.03, 1.0)
    what = "diagnosis" if trends.x_axis == "days_since_diagnosis" else "first measurement"
    day0 = trends.origin.isoformat() if trends.origin else "—"
    x_label = f"{unit.name} since {what} ({day0}); data as of {timeline.as_of.isoformat()}"
    titles = {"ck": "CK (× ULN)", "mmt8": "Strength: MMT-8", "titer": "Anti-Mi-2 titer"}
    figures: dict[str, bytes] = {}
    for series in trends.series:
        buffer = io.BytesIO()
        with _style():
            figure = Figure(figsize=_FIGSIZE)
            # Fixed margins (the legend sits in the right one): faster than a layout engine.
            figure.subplots_adjust(left=0.085, right=0.71, bottom=0.15, top=0.9)
            ax = figure.add_subplot()
            plot_trend(ax, series, title=f"{trends.patient_id} — {titles[series.key]}",
                       origin=trends.origin, unit=unit, x_label=x_label,
                       treatment_periods=timeline.treatment_periods, events=trends.events,
                       end=timeline.as_of)
            ax.set_xlim((low - pad) / unit.divisor, (high + pad) / unit.divisor)
            if fmt == "svg":
                figure.savefig(buffer, format="svg", metadata={
                    "Date": None, "Creator": "myositis-cds",
                    "Title": f"{trends.patient_id}: {series.label} over time"})
            else:
                figure.savefig(buffer, format="png", dpi=_PNG_DPI, metadata={"Software": None})
        data = buffer.getvalue()
        if fmt == "svg":
            data = _add_titles(data.decode("utf-8"), _point_titles(series)).encode("utf-8")
        figures[series.key] = data
    return figures


_ID: Final = re.compile(r'\bid="([^"]+)"')
_REF: Final = re.compile(r'(url\(#|href="#)([^)"]+)')


def inline_svg(data: bytes, *, id_prefix: str, label: str = "") -> str:
    """SVG bytes as markup for an HTML page: no XML prolog, every id prefixed (unique per page)."""
    text = data.decode("utf-8")
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    ids = set(_ID.findall(text))
    text = _ID.sub(lambda m: f'id="{id_prefix}{m.group(1)}"', text)
    text = _REF.sub(lambda m: m.group(1) + (id_prefix if m.group(2) in ids else "") + m.group(2),
                    text)
    aria = f' role="img" aria-label="{escape(label)}"' if label else ""
    return text.replace("<svg ", f'<svg style="max-width:100%;height:auto"{aria} ', 1).strip()


def _caption(series: TrendSeries, trends: PatientTrends) -> str:
    parts = [f"{series.label} ({series.unit}): {len(series.points)} measurement(s) as dots"]
    if series.curve is not None:
        scale = " fitted on a log scale" if series.smoothed_on == "log10" else ""
        parts.append(f"the line is a LOWESS curve{scale}")
    elif series.curve_note:
        parts.append(series.curve_note)
    if series.cutoff is not None:
        parts.append(f"dashed line: assay cut-off {series.cutoff:g} {series.unit}")
    if series.omitted:
        parts.append(f"{len(series.omitted)} result(s) not drawn: "
                     + "; ".join(f"{o.date.isoformat()} {o.reason}" for o in series.omitted))
    parts += [e.label for e in trends.events]
    parts += list(series.notes)
    return "; ".join(parts) + "."


def trend_figures_html(timeline: Timeline, trends: PatientTrends) -> str:
    """The three plots as inline SVG ``<figure>`` elements with captions, ids unique per patient."""
    base = "t" + hashlib.sha256(f"{trends.patient_id}\x00{trends.as_of}".encode()).hexdigest()[:10]
    figures = render_trend_figures(timeline, trends, fmt="svg")
    blocks = []
    for series in trends.series:
        svg = inline_svg(figures[series.key], id_prefix=f"{base}-{series.key}-",
                         label=f"{trends.patient_id}: {series.label} over time")
        blocks.append(f'<figure class="trend-figure trend-{series.key}">\n{svg}\n'
                      f"<figcaption>{escape(_caption(series, trends))}</figcaption>\n</figure>")
    blocks.append(f'<p class="muted">Time axis: {escape(trends.x_description)}. {escape(trends.method)}. '
                  "Shaded: treatment periods by role.</p>")
    return "\n".join(blocks)


FIGURE_PIXELS: Final = (round(_FIGSIZE[0] * 96), round(_FIGSIZE[1] * 96))
"""CSS pixel size of an SVG trend figure (matplotlib writes points; 1 in = 96 px)."""


def trend_figure_references_html(trends: PatientTrends, *, src_of: Callable[[str], str]) -> str:
    """The three plots as ``<figure>`` elements referencing each SVG by URL (``src_of(key)``),
    with alt text and captions: nothing is drawn here (no matplotlib work)."""
    width, height = FIGURE_PIXELS
    blocks = []
    for series in trends.series:
        alt = (f"{trends.patient_id}: {series.label} ({series.unit}) over time, "
               f"{len(series.points)} measurement(s)")
        blocks.append(f'<figure class="trend-figure trend-{series.key}">\n'
                      f'<img src="{escape(src_of(series.key))}" alt="{escape(alt)}" '
                      f'width="{width}" height="{height}" loading="lazy" decoding="async">\n'
                      f"<figcaption>{escape(_caption(series, trends))}</figcaption>\n</figure>")
    blocks.append(f'<p class="muted">Time axis: {escape(trends.x_description)}. {escape(trends.method)}. '
                  "Shaded: treatment periods by role.</p>")
    return "\n".join(blocks)


def record_trends(record: PatientRecord, *, as_of: dt.date,
                  params: EngineParams) -> tuple[Timeline, PatientTrends]:
    """The engine timeline of a record and its trends, day 0 at diagnosis when it is known."""
    timeline = build_timeline(record, as_of, params)
    diagnosis = record.diagnosis.date if record.diagnosis else None
    return timeline, patient_trends(timeline, diagnosis_date=diagnosis)


def patient_trend_figures(record: PatientRecord, *, as_of: dt.date, params: EngineParams,
                          fmt: FigureFormat) -> dict[str, bytes]:
    timeline, trends = record_trends(record, as_of=as_of, params=params)
    return render_trend_figures(timeline, trends, fmt=fmt)
