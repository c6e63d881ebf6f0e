"""PF2019's figure for a cohort: CK and strength over time since diagnosis, one LOWESS line per group.

Dots are every measurement of a group (small, translucent), lines the group's pooled LOWESS
(:func:`myositis_cds.stats.cohort_longitudinal.group_curves`). Deterministic output, matplotlib's
bundled font, no pyplot (as :mod:`myositis_cds.presentation.plots`). A synthetic cohort says
so in the title.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from myositis_cds.presentation.plots import FigureFormat
from myositis_cds.stats.cohort_longitudinal import GroupCurve

__all__ = ["plot_group_curves", "render_cohort_figure"]

_COLOURS: Final = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")  # Okabe-Ito
_DAYS_PER_YEAR: Final = 365.25


def plot_group_curves(ax: Axes, curves: Sequence[GroupCurve], *, title: str, y_label: str,
                      log: bool) -> Axes:
    """Dots and LOWESS line of each group on ``ax``; returns ``ax``."""
    for colour, group in zip(_COLOURS * 4, curves, strict=False):
        if group.points:
            ax.scatter([d / _DAYS_PER_YEAR for d, _ in group.points], [v for _, v in group.points],
                       s=4, alpha=0.25, color=colour, linewidths=0, rasterized=False)
        label = f"{group.group} ({group.patients} patients)"
        if group.curve is not None:
            ax.plot([d / _DAYS_PER_YEAR for d in group.curve.days], list(group.curve.values),
                    color=colour, linewidth=2, label=label)
        else:
            ax.plot([], [], color=colour, linewidth=2, label=f"{label}: no curve")
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("years since diagnosis")
    ax.set_ylabel(y_label)
    ax.legend(loc="best", fontsize=7, frameon=False)
    return ax


def render_cohort_figure(ck: Sequence[GroupCurve], mmt8: Sequence[GroupCurve], *, fmt: FigureFormat,
                         synthetic: bool, source: str) -> bytes:
    """Two panels (CK × ULN on a log scale, MMT-8 % of maximum) as SVG or PNG bytes."""
    if fmt not in ("svg", "png"):
        msg = f"--format: got {fmt!r}; expected svg or png"
        raise ValueError(msg)
    prefix = "SYNTHETIC cohort — " if synthetic else ""
    buffer = io.BytesIO()
    with mpl.rc_context({"font.family": "DejaVu Sans", "font.size": 8.5, "svg.fonttype": "path",
                         "svg.hashsalt": "myositis-cds", "path.simplify": False,
                         "axes.spines.top": False, "axes.spines.right": False}):
        figure = Figure(figsize=(10, 4))
        figure.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.85, wspace=0.25)
        left, right = figure.subplots(1, 2)
        plot_group_curves(left, ck, title="CK", y_label="CK (× ULN, log scale)", log=True)
        plot_group_curves(right, mmt8, title="Strength", y_label="MMT-8 (% of maximum)", log=False)
        figure.suptitle(f"{prefix}CK and strength by group over time since diagnosis "
                        "(dots: measurements; lines: LOWESS) [PF2019]")
        if fmt == "svg":
            figure.savefig(buffer, format="svg", metadata={
                "Date": None, "Creator": "myositis-cds", "Title": f"{prefix}cohort course: {source}"})
        else:
            figure.savefig(buffer, format="png", dpi=150, metadata={"Software": None})
    return buffer.getvalue()
