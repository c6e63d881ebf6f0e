"""Trend plots in the style of PF2019's figure: dots are measurements, the line is LOWESS.

:func:`plot_trend` draws one series of :class:`~myositis_cds.stats.trends.PatientTrends` on an
axes it is given and returns it; ``treatment_lane.plot_treatment_lane`` draws the treatments as
bars, one row per drug, on an axes of their own; :func:`render_trend_figures` renders the three plots of a
patient (CK ×ULN, MMT-8, anti-Mi-2 titer) to SVG or PNG bytes, each with its treatment lane under
it on the same calendar-date axis. The web application and ``myositis-cds plot`` draw the same
figures.

Readable at 100 % zoom: a figure is drawn at the size it is shown (``wide`` for a desktop page,
``narrow`` for a phone), with text of at least 10 pt (13 px), one title, and the legend in a row
of its own. CK is on a log axis with ticks at 1, 2 and 5 of each decade (× ULN). Every
measurement is its own SVG group whose id is ``<series>-point-<n>``, with a ``<title>`` giving its
date and value (shown on hover when the SVG is opened); every treatment bar has its drug and
dates the same way. Output is deterministic: fixed ``svg.hashsalt``, no creation date, no software
version; figures are :class:`matplotlib.figure.Figure` objects (no pyplot, no global state) with
matplotlib's bundled DejaVu Sans.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final, Literal

import matplotlib as mpl
import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import EngineParams, Timeline, build_timeline
from myositis_cds.presentation.treatment_lane import (
    ROLES,
    date_number,
    lanes,
    plot_treatment_lane,
    treatment_titles,
)
from myositis_cds.stats.trends import PatientTrends, TrendEvent, TrendSeries, patient_trends

__all__ = [
    "FIGURE_LAYOUTS",
    "SERIES_KEYS",
    "FigureFormat",
    "FigureLayout",
    "figure_pixels",
    "log_axis",
    "log_ticks",
    "patient_trend_figures",
    "plot_trend",
    "record_trends",
    "render_trend_figures",
]

SERIES_KEYS: Final = ("ck", "mmt8", "titer")
FigureFormat = Literal["svg", "png"]
LayoutName = Literal["wide", "narrow"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FigureLayout:
    """The size a figure is drawn at (inches; 96 CSS px each) and its text size (points)."""

    width: float
    plot_height: float
    """Height of the measurement panel; the treatment lane adds a row per drug."""
    font: float
    legend_columns: int



FIGURE_LAYOUTS: Final[Mapping[str, FigureLayout]] = {
    "wide": FigureLayout(width=9.6, plot_height=2.9, font=10.5, legend_columns=4),
    "narrow": FigureLayout(width=3.9, plot_height=2.6, font=10.0, legend_columns=1),
}
"""``wide``: about 920 px, the width of the patient page on a desktop; ``narrow``: about 375 px,
a phone's width. Display choices, not clinical numbers."""
_LANE_ROW: Final = 0.42
_PNG_DPI: Final = 150
_DOT: Final = "#222222"
_LINE: Final = "#0072B2"
_EVENTS: Final[dict[str, tuple[str, Literal["-.", ":"], str]]] = {
    "titer_normalised": ("#D55E00", "-.", "titer-normalised"),
    "drug_free_since": ("#56B4E9", ":", "drug-free-since"),
}
_TITLES: Final = {"ck": "CK (× upper limit of normal)", "mmt8": "Strength: MMT-8",
                  "titer": "Anti-Mi-2 titer"}


def _style(layout: FigureLayout) -> contextlib.AbstractContextManager[None]:
    """Deterministic output with the bundled font; undone when the figure is saved."""
    return mpl.rc_context({
        "font.family": "DejaVu Sans",  # bundled with matplotlib: same glyphs on every machine
        "font.size": layout.font,
        "svg.fonttype": "path",
        "svg.hashsalt": "myositis-cds",
        "path.simplify": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "date.converter": "concise",
    })


def log_ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 of every decade from ``low`` to ``high`` (0.1, 0.2, 0.5, 1, 2, 5, 10, 20...)."""
    ticks: list[float] = []
    decade = 10.0 ** (len(str(int(max(high, 1.0)))) - 1)
    start = 10.0 ** -6
    while start * 10 <= low:
        start *= 10
    value = start
    while value <= max(high, decade) * 10:
        for step in (1, 2, 5):
            tick = round(value * step, 6)
            if low <= tick <= high:
                ticks.append(tick)
        value *= 10
    return ticks


def _day(date: dt.date) -> float:
    return date_number(date)


def _draw_points(ax: Axes, series: TrendSeries) -> list[Line2D | Patch]:
    """One artist (one SVG group, id ``<key>-point-<n>``) per measurement, then the LOWESS line."""
    handles: list[Line2D | Patch] = []
    for i, point in enumerate(series.points):
        hollow = series.cutoff is not None and point.value < series.cutoff
        ax.plot([_day(point.date)], [point.value], linestyle="none", marker="o", markersize=6,
                markeredgecolor=_DOT, markerfacecolor="white" if hollow else _DOT,
                gid=f"{series.key}-point-{i}", zorder=4)
    if series.points:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=6, color=_DOT,
                              label=f"measurement (n={len(series.points)})"))
    if series.curve is not None and series.points:
        origin = series.points[0].date - dt.timedelta(days=series.points[0].day)
        ax.plot([_day(origin + dt.timedelta(days=d)) for d in series.curve.days],
                list(series.curve.values), color=_LINE, linewidth=2.2, gid=f"{series.key}-lowess",
                zorder=3)
        handles.append(Line2D([], [], color=_LINE, linewidth=2.2, label="trend (LOWESS)"))
    return handles


def _draw_references(ax: Axes, series: TrendSeries) -> list[Line2D | Patch]:
    """The titer cut-off (dashed) and, for CK, the upper limit of normal (1 × ULN, dotted)."""
    handles: list[Line2D | Patch] = []
    if series.cutoff is not None:
        ax.axhline(series.cutoff, color="#444444", linestyle="--", linewidth=1.2,
                   gid=f"{series.key}-cutoff", zorder=2)
        handles.append(Line2D([], [], color="#444444", linestyle="--", linewidth=1.2,
                              label=f"assay cut-off {series.cutoff:g} {series.unit}"))
        if any(p.value < series.cutoff for p in series.points):
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=6,
                                  markeredgecolor=_DOT, markerfacecolor="white",
                                  label="below cut-off"))
    if series.key == "ck":
        ax.axhline(1.0, color="#444444", linestyle=":", linewidth=1.2, gid="ck-uln", zorder=2)
        handles.append(Line2D([], [], color="#444444", linestyle=":", linewidth=1.2,
                              label="upper limit of normal"))
    return handles


def _draw_events(axes: Sequence[Axes], events: Sequence[TrendEvent]) -> list[Line2D | Patch]:
    handles: list[Line2D | Patch] = []
    for event in events:
        colour, style, gid = _EVENTS[event.kind]
        for ax in axes:
            ax.axvline(_day(event.date), color=colour, linestyle=style, linewidth=1.6,
                       gid=gid if ax is axes[0] else f"{gid}-lane", zorder=3)
        handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=1.6,
                              label=event.label))
    return handles


def log_axis(ax: Axes, values: Sequence[float]) -> None:
    """A log y axis over ``values`` (and 1: the ULN or cut-off line) that ends on ticks, with
    ticks at 1, 2 and 5 of each decade written as plain numbers (0.5, 1, 2, 5, 10, 20, 50)."""
    positive = [v for v in values if v > 0]
    if not positive:
        return
    ticks = log_ticks(1e-3, 1e7)  # values beyond (an implausible ULN) are clipped at the ends
    low = max((t for t in ticks if t <= min([*positive, 1.0]) / 1.15), default=ticks[0])
    high = min((t for t in ticks if t >= max([*positive, 1.0]) * 1.15), default=ticks[-1])
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    ax.yaxis.set_major_locator(FixedLocator(log_ticks(low, high)))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def _scale_y(ax: Axes, series: TrendSeries) -> None:
    values = [p.value for p in series.points]
    if series.key == "ck" and values and min(values) > 0:
        log_axis(ax, values)
    elif series.key == "mmt8" and series.maximum is not None:
        ax.set_ylim(min([*values, series.maximum * 0.5]) * 0.95, series.maximum * 1.03)
    else:
        ax.set_ylim(bottom=0)
    if not series.points:
        message = f"No {series.label} recorded"
        if series.omitted:
            message += f": {len(series.omitted)} result(s) left out ({series.omitted[-1].reason})"
        ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
                color="#444444", wrap=True)
        ax.set_yticks([])
    elif series.curve is None and series.curve_note:
        ax.text(0.99, 0.97, "no trend line: fewer than 3 dates", transform=ax.transAxes,
                ha="right", va="top", color="#444444")


def plot_trend(ax: Axes, series: TrendSeries, *, title: str = "",
               events: Sequence[TrendEvent] = ()) -> Axes:
    """Draw one trend series on ``ax`` (x: calendar dates) and return it.

    Dots are the measurements (hollow below the titer cut-off), the line is the LOWESS curve;
    the cut-off, the upper limit of normal and the events are reference lines."""
    handles = _draw_points(ax, series) + _draw_references(ax, series)
    handles += _draw_events([ax], events)
    _scale_y(ax, series)
    if title:
        ax.set_title(title, loc="left")
    ax.set_ylabel(series.unit if series.points else "")
    ax.grid(axis="y", color="#dddddd", linewidth=0.7)
    ax.set_axisbelow(True)
    ax.legend(handles=handles).set_visible(False)  # kept for the figure's legend row
    return ax


def _point_titles(series: TrendSeries) -> dict[str, str]:
    return {f"{series.key}-point-{i}": f"{p.date.isoformat()}: {series.label} {p.value:.3g} "
                                       f"{series.unit}" for i, p in enumerate(series.points)}


def _add_titles(svg: str, titles: Mapping[str, str]) -> str:
    def add(match: re.Match[str]) -> str:
        title = titles.get(match.group(1))
        return match.group(0) if title is None else f"{match.group(0)}<title>{escape(title)}</title>"

    return re.sub(r'<g id="([^"]+)">', add, svg)


def _x_range(timeline: Timeline, trends: PatientTrends) -> tuple[dt.date, dt.date]:
    dates = [p.date for s in trends.series for p in s.points]
    dates += [t.start for t in timeline.treatment_periods] + [e.date for e in trends.events]
    if trends.origin is not None:
        dates.append(trends.origin)
    low, high = min(dates, default=timeline.as_of), max([*dates, timeline.as_of])
    pad = dt.timedelta(days=max(round((high - low).days * 0.03), 7))
    return low - pad, high + pad


def _legend_handles(ax: Axes, lane: Axes, timeline: Timeline,
                    trends: PatientTrends) -> list[Line2D | Patch]:
    legend = ax.get_legend()
    handles: list[Line2D | Patch] = []
    if legend is not None:
        handles = [h for h in legend.legend_handles if isinstance(h, Line2D | Patch)]
        legend.remove()
    handles += _draw_events([ax, lane], trends.events)
    roles = {p.role for p in timeline.treatment_periods}
    return handles + [Patch(facecolor=ROLES[r][0], label=ROLES[r][1]) for r in ROLES
                      if r in roles]


def _legend_count(timeline: Timeline, trends: PatientTrends, series: TrendSeries) -> int:
    """How many entries the figure's legend has (as drawn by :func:`_legend_handles`)."""
    count = (1 if series.points else 0) + (1 if series.curve is not None and series.points else 0)
    if series.cutoff is not None:
        count += 1 + (1 if any(p.value < series.cutoff for p in series.points) else 0)
    count += (1 if series.key == "ck" else 0) + len(trends.events)
    return count + len({p.role for p in timeline.treatment_periods} & set(ROLES))


@dataclass(frozen=True, slots=True)
class _Geometry:
    top: float
    """Inches above the panels: the title and the legend."""
    lane: float
    """Height of the treatment lane."""
    height: float


def _geometry(timeline: Timeline, trends: PatientTrends, series: TrendSeries,
              layout: FigureLayout) -> _Geometry:
    """The figure's height: the title's and legend's rows and one row per drug are added to the
    measurement panel, so that the text keeps its size whatever the patient's record holds."""
    lane = max(len(lanes(timeline.treatment_periods)), 1) * _LANE_ROW + 0.15
    rows = -(-_legend_count(timeline, trends, series) // layout.legend_columns)
    top = (0.75 if _narrow(layout) else 0.5) + (0.235 if _narrow(layout) else 0.26) * rows
    return _Geometry(top=top, lane=lane, height=top + 0.5 + layout.plot_height + lane)


def _narrow(layout: FigureLayout) -> bool:
    return layout.width < 6


def figure_pixels(timeline: Timeline, trends: PatientTrends, series: TrendSeries,
                  layout: str) -> tuple[int, int]:
    """The CSS pixel size of a figure (1 in = 96 px), known without drawing it."""
    shape = FIGURE_LAYOUTS[layout]
    return round(shape.width * 96), round(_geometry(timeline, trends, series, shape).height * 96)


def _figure(timeline: Timeline, trends: PatientTrends, series: TrendSeries,
            layout: FigureLayout) -> Figure:
    shape = _geometry(timeline, trends, series, layout)
    narrow = _narrow(layout)
    figure = Figure(figsize=(layout.width, shape.height))
    figure.subplots_adjust(left=(0.7 if narrow else 0.95) / layout.width,
                           right=1 - 0.2 / layout.width, top=1 - shape.top / shape.height,
                           bottom=0.45 / shape.height,
                           hspace=0.3 / ((layout.plot_height + shape.lane) / 2))
    ax, lane = figure.subplots(2, 1, sharex=True, height_ratios=[layout.plot_height, shape.lane])
    plot_trend(ax, series)
    plot_treatment_lane(lane, timeline.treatment_periods, end=timeline.as_of)
    handles = _legend_handles(ax, lane, timeline, trends)
    low, high = _x_range(timeline, trends)
    ax.set_xlim(_day(low), _day(high))
    locator = mdates.AutoDateLocator(  # type: ignore[no-untyped-call]
        minticks=3, maxticks=4 if narrow else 8)
    lane.xaxis.set_major_locator(locator)
    lane.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.tick_params(axis="x", length=0)
    title = f"{trends.patient_id}{chr(10) if narrow else ' — '}{_TITLES[series.key]}"
    figure.text(0.1 / layout.width, 1 - 0.12 / shape.height, title, ha="left", va="top",
                fontsize=layout.font * 1.2, fontweight="bold", linespacing=1.3)
    if handles:
        figure.legend(handles=handles, loc="upper left",
                      bbox_to_anchor=(0.05 / layout.width, 1 - (0.7 if narrow else 0.45) / shape.height),
                      ncols=layout.legend_columns, frameon=False, handlelength=1.8,
                      columnspacing=1.2, borderaxespad=0)
    return figure


def render_trend_figures(timeline: Timeline, trends: PatientTrends, *, fmt: FigureFormat,
                         layout: str = "wide") -> dict[str, bytes]:
    """The three plots of one patient, keyed ``ck``, ``mmt8`` and ``titer``, as SVG or PNG bytes
    at the size of ``layout`` (:data:`FIGURE_LAYOUTS`)."""
    if fmt not in ("svg", "png"):
        msg = f"fmt: got {fmt!r}; expected 'svg' or 'png'"
        raise ValueError(msg)
    if layout not in FIGURE_LAYOUTS:
        msg = f"layout: got {layout!r}; expected one of {', '.join(FIGURE_LAYOUTS)}"
        raise ValueError(msg)
    shape = FIGURE_LAYOUTS[layout]
    bar_titles = treatment_titles(timeline.treatment_periods, timeline.as_of)
    figures: dict[str, bytes] = {}
    for series in trends.series:
        buffer = io.BytesIO()
        with _style(shape):
            figure = _figure(timeline, trends, series, shape)
            if fmt == "svg":
                figure.savefig(buffer, format="svg", metadata={
                    "Date": None, "Creator": "myositis-cds",
                    "Title": f"{trends.patient_id}: {series.label} over time"})
            else:
                figure.savefig(buffer, format="png", dpi=_PNG_DPI, metadata={"Software": None})
        data = buffer.getvalue()
        if fmt == "svg":
            titles = {**_point_titles(series), **bar_titles}
            data = _add_titles(data.decode("utf-8"), titles).encode("utf-8")
        figures[series.key] = data
    return figures


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
