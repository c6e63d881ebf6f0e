"""The treatment lane under a trend plot: one row per drug, a bar for each span of treatment.

A drug's periods that touch or overlap (the consecutive doses of a taper) are one bar; bars are
coloured by role (Okabe-Ito colours, legible to colour-blind readers) and each is an SVG group
``treatment-<n>`` that the figure titles with the drug and its dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

import matplotlib.dates as mdates
from matplotlib.axes import Axes

from myositis_cds.engine.timeline import TreatmentPeriod
from myositis_cds.presentation.labels import drug_label

__all__ = ["ROLES", "date_number", "lanes", "plot_treatment_lane", "treatment_titles"]

ROLES: Final[dict[str, tuple[str, str]]] = {
    "glucocorticoid": ("#E69F00", "glucocorticoid"),
    "steroid_sparing": ("#009E73", "steroid-sparing agent"),
    "second_line": ("#CC79A7", "second-line agent"),
    "other": ("#999999", "other treatment"),
}
"""Role: (colour, legend label)."""


def date_number(date: dt.date) -> float:
    """A date as matplotlib's date axis places it."""
    return float(mdates.date2num(date))  # type: ignore[no-untyped-call]


def _spans(periods: Sequence[TreatmentPeriod], end: dt.date) -> list[tuple[TreatmentPeriod, dt.date]]:
    """Each drug's periods joined where they touch or overlap (a taper's consecutive doses are one
    bar): (the first period of the span, the span's last day), in order of drug and start."""
    spans: list[tuple[TreatmentPeriod, dt.date]] = []
    for period in sorted(periods, key=lambda p: (p.drug, p.start)):
        stop = min(period.stop or end, end)
        if spans and spans[-1][0].drug == period.drug \
                and period.start <= spans[-1][1] + dt.timedelta(days=1):
            spans[-1] = (spans[-1][0], max(spans[-1][1], stop))
        else:
            spans.append((period, stop))
    return spans


def lanes(periods: Sequence[TreatmentPeriod]) -> list[str]:
    """The drugs in order of first start."""
    first: dict[str, dt.date] = {}
    for period in periods:
        first[period.drug] = min(first.get(period.drug, period.start), period.start)
    return sorted(first, key=lambda d: (first[d], d))


def plot_treatment_lane(ax: Axes, periods: Sequence[TreatmentPeriod], *, end: dt.date) -> Axes:
    """The treatments as horizontal bars, one row per drug named above its bar, coloured by role;
    returns ``ax``. Each bar is an SVG group ``treatment-<n>`` (titled with the drug and its
    dates); an ongoing treatment runs to ``end`` (the as-of date)."""
    drugs = lanes(periods)
    rows = {drug: len(drugs) - 1 - i for i, drug in enumerate(drugs)}
    for i, (period, stop) in enumerate(_spans(periods, end)):
        colour, _ = ROLES.get(period.role, ROLES["other"])
        start = date_number(period.start)
        ax.broken_barh([(start, max(date_number(stop) - start + 1, 1.0))],
                       (rows[period.drug] - 0.4, 0.38), facecolors=colour, edgecolors="none",
                       gid=f"treatment-{i}")
    for drug, row in rows.items():
        ax.text(0.005, row + 0.02, drug_label(drug), transform=ax.get_yaxis_transform(),
                ha="left", va="bottom", color="#222222")
    ax.set_yticks([])
    ax.set_ylim(-0.5, max(len(drugs), 1) - 0.45)
    ax.spines["left"].set_visible(False)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.7)
    ax.set_axisbelow(True)
    if not drugs:
        ax.text(0.5, 0.5, "no treatment recorded", transform=ax.transAxes, ha="center",
                va="center", color="#444444")
    return ax


def treatment_titles(periods: Sequence[TreatmentPeriod], end: dt.date) -> dict[str, str]:
    """The title of each bar (by its SVG id): the drug and its first and last day."""
    ongoing = {p.drug for p in periods if p.stop is None or p.stop > end}
    return {f"treatment-{i}": f"{drug_label(p.drug)}: {p.start.isoformat()} to "
                              f"{'ongoing' if stop >= end and p.drug in ongoing else stop.isoformat()}"
            for i, (p, stop) in enumerate(_spans(periods, end))}
