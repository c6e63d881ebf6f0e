"""Trend figures in HTML: inline SVG for the reports (``assess --format html``, ``demo``) and
``<figure>`` references by URL for the clinic application's patient page.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from html import escape
from typing import Final

from myositis_cds.engine import Timeline
from myositis_cds.presentation.plots import figure_pixels, render_trend_figures
from myositis_cds.stats.trends import PatientTrends, TrendSeries

__all__ = ["NARROW_SCREEN", "inline_svg", "trend_figure_references_html", "trend_figures_html"]

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
    blocks.append(f'<p class="muted">{escape(trends.method)}. Under each plot: the treatments, '
                  "one row per drug, coloured by role.</p>")
    return "\n".join(blocks)


NARROW_SCREEN: Final = "(max-width: 40rem)"
"""Screens that get the ``narrow`` figures (a phone held upright)."""


def trend_figure_references_html(timeline: Timeline, trends: PatientTrends, *,
                                 src_of: Callable[[str], str]) -> str:
    """The three plots as ``<figure>`` elements referencing each SVG by URL: ``src_of(key)`` for
    the wide figure, ``src_of(key + "-narrow")`` for phones (``<picture>``); with alt text, their
    size and captions. Nothing is drawn here (no matplotlib work). A click opens the figure, where
    hovering a point shows its date and value."""
    blocks = []
    for series in trends.series:
        width, height = figure_pixels(timeline, trends, series, "wide")
        alt = (f"{trends.patient_id}: {series.label} ({series.unit}) over time, "
               f"{len(series.points)} measurement(s), with the treatments")
        wide, narrow = escape(src_of(series.key)), escape(src_of(f"{series.key}-narrow"))
        blocks.append(f'<figure class="trend-figure trend-{series.key}">\n<a href="{wide}">'
                      f'<picture><source media="{NARROW_SCREEN}" srcset="{narrow}">'
                      f'<img src="{wide}" alt="{escape(alt)}" width="{width}" height="{height}" '
                      f'loading="lazy" decoding="async"></picture></a>\n'
                      f"<figcaption>{escape(_caption(series, trends))}</figcaption>\n</figure>")
    blocks.append(f'<p class="muted">{escape(trends.method)}. Under each plot: the treatments, '
                  "one row per drug, coloured by role.</p>")
    return "\n".join(blocks)
