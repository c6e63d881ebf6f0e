"""PF2019's figure for a cohort: CK, strength and anti-Mi-2 titer over time since diagnosis, one
LOWESS line per group.

Dots are every measurement of a group (small, translucent), lines the group's pooled LOWESS
(:func:`myositis_cds.services.cohort_analysis.course_curves`). CK (× ULN) and the titer
(× its assay's cut-off) are on log axes with ticks at 1, 2 and 5 of each decade. Drawn ``wide``
(three panels side by side) or ``narrow`` (stacked, for a phone) with text of at least 10 pt.
Deterministic output, matplotlib's bundled font, no pyplot (as
:mod:`myositis_cds.presentation.plots`). A synthetic cohort says so in the title.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from myositis_cds.presentation.plots import FigureFormat, log_axis
from myositis_cds.stats.cohort_longitudinal import CourseCurves, GroupCurve

__all__ = ["plot_group_curves", "render_cohort_figure"]

_COLOURS: Final = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")  # Okabe-Ito
_DAYS_PER_YEAR: Final = 365.25


def plot_group_curves(ax: Axes, curves: Sequence[GroupCurve], *, title: str, y_label: str,
                      log: bool) -> Axes:
    """Dots and LOWESS line of each group on ``ax``; returns ``ax``."""
    for colour, group in zip(_COLOURS * 4, curves, strict=False):
        if group.points:
            ax.scatter([d / _DAYS_PER_YEAR for d, _ in group.points], [v for _, v in group.points],
                       s=9, alpha=0.3, color=colour, linewidths=0, rasterized=False)
        label = f"{group.group} ({group.patients} patients)"
        if group.curve is not None:
            ax.plot([d / _DAYS_PER_YEAR for d in group.curve.days], list(group.curve.values),
                    color=colour, linewidth=2.2, label=label)
        else:
            ax.plot([], [], color=colour, linewidth=2.2, label=f"{label}: no line")
    if log:
        log_axis(ax, [v for group in curves for _, v in group.points])
    if not any(group.points for group in curves):
        ax.text(0.5, 0.5, "no measurement", transform=ax.transAxes, ha="center", va="center",
                color="#444444")
    ax.set_title(title, loc="left", fontweight="bold")
    ax.set_xlabel("years since diagnosis")
    ax.set_ylabel(y_label)
    ax.grid(axis="y", color="#dddddd", linewidth=0.7)
    ax.set_axisbelow(True)
    return ax


def render_cohort_figure(curves: CourseCurves, *, fmt: FigureFormat, synthetic: bool, source: str,
                         layout: str = "wide") -> bytes:
    """Three panels (CK × ULN and titer × cut-off on log axes, MMT-8 % of maximum) as SVG or PNG
    bytes; ``layout`` ``wide`` (side by side) or ``narrow`` (stacked)."""
    if fmt not in ("svg", "png"):
        msg = f"--format: got {fmt!r}; expected svg or png"
        raise ValueError(msg)
    if layout not in ("wide", "narrow"):
        msg = f"layout: got {layout!r}; expected wide or narrow"
        raise ValueError(msg)
    prefix = "SYNTHETIC cohort — " if synthetic else ""
    wide = layout == "wide"
    buffer = io.BytesIO()
    with mpl.rc_context({"font.family": "DejaVu Sans", "font.size": 10.5 if wide else 10,
                         "svg.fonttype": "path", "svg.hashsalt": "myositis-cds",
                         "path.simplify": False, "axes.spines.top": False,
                         "axes.spines.right": False}):
        figure = Figure(figsize=(12, 5.0) if wide else (3.9, 11.5))
        panels = figure.subplots(1, 3) if wide else figure.subplots(3, 1)
        if wide:
            figure.subplots_adjust(left=0.06, right=0.99, bottom=0.27, top=0.85, wspace=0.3)
        else:
            figure.subplots_adjust(left=0.2, right=0.96, bottom=0.16, top=0.93, hspace=0.55)
        plot_group_curves(panels[0], curves.ck, title="CK", y_label="× upper limit of normal",
                          log=True)
        plot_group_curves(panels[1], curves.mmt8, title="Strength (MMT-8)",
                          y_label="% of maximum", log=False)
        plot_group_curves(panels[2], curves.titer, title="Anti-Mi-2 titer",
                          y_label="× assay cut-off", log=True)
        handles, labels = panels[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower left", ncols=2 if wide else 1, frameon=False,
                      bbox_to_anchor=(0.01, 0.0))
        title = f"{prefix}Course by group since diagnosis (dots: measurements; lines: LOWESS)"
        figure.suptitle(title if wide else title.replace(" (", "\n("), x=0.01, ha="left",
                        fontweight="bold", fontsize=11.5 if wide else 10.5)
        if fmt == "svg":
            figure.savefig(buffer, format="svg", metadata={
                "Date": None, "Creator": "myositis-cds", "Title": f"{prefix}cohort course: {source}"})
        else:
            figure.savefig(buffer, format="png", dpi=150, metadata={"Software": None})
    return buffer.getvalue()
