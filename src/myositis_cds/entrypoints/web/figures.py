"""The patient page's trend figures as a stored view: drawn once per record version and date, kept
in the database, served from there by every server process.

The six SVG documents of a patient (``ck``, ``mmt8`` and ``titer``, each at the width of a page and
of a phone, :data:`FIGURE_NAMES`) are one stored view (``page_views``) under their own fingerprint
(:func:`figures_fingerprint`: the page view's, which covers this release, the knowledge pack, the
settings and the presentation code, plus :data:`FIGURE_FORMAT`). A stored view is read back only
for exactly its version and date, so a figure of an older record version is never shown. They are
drawn off the request path (:mod:`.background`) when a record is stored and, when a page asks for
one that is missing, then; until it is ready the figure's URL serves :data:`BEING_DRAWN_SVG`.

Our matplotlib SVG is made to work under a Content Security Policy without ``'unsafe-inline'``
styles: every ``style="..."`` declaration becomes the equivalent SVG presentation attribute and the
``<style>`` element (stroke defaults) becomes attributes of the root element.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Mapping
from html import escape
from typing import Final

import orjson

from myositis_cds.services.patient_results import PatientResults

__all__ = ["BEING_DRAWN_SVG", "FIGURE_FORMAT", "FIGURE_NAMES", "SERIES", "decode_figures",
           "draw_figures", "encode_figures", "figures_fingerprint", "svg_with_attributes"]

SERIES: Final = ("ck", "mmt8", "titer")
FIGURE_NAMES: Final = (*SERIES, *(f"{key}-narrow" for key in SERIES))
"""A figure per series at the width of a page, and (``-narrow``) of a phone."""
FIGURE_FORMAT: Final = b"trend-figures@1"
"""Changes whenever what :func:`draw_figures` produces, or its encoding, changes shape."""

BEING_DRAWN_SVG: Final = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="120" viewBox="0 0 640 120" '
    b'role="img" aria-label="This figure is being drawn: reload the page in a few seconds">'
    b'<rect x="1" y="1" width="638" height="118" fill="#f6f6f6" stroke="#999999" '
    b'stroke-dasharray="6 4"/><text x="320" y="55" text-anchor="middle" font-family="sans-serif" '
    b'font-size="18" fill="#333333">This figure is being drawn.</text><text x="320" y="85" '
    b'text-anchor="middle" font-family="sans-serif" font-size="15" fill="#555555">Reload the '
    b"page in a few seconds to see it.</text></svg>")
"""What a figure's URL serves while the figure is not drawn yet (never cached by the browser)."""

_PRESENTATION: Final = frozenset({
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
    "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "stroke-miterlimit", "opacity",
    "font-family", "font-size", "font-style", "font-weight", "text-anchor", "clip-path",
    "dominant-baseline", "visibility", "display", "color",
})
_TAG: Final = re.compile(r"<([A-Za-z][\w:.-]*)(\s[^<>]*?)?(/?)>")
_STYLE_ATTRIBUTE: Final = re.compile(r"""\sstyle\s*=\s*"([^"]*)\"""")
_STYLE_ELEMENT: Final = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.DOTALL | re.IGNORECASE)
_ATTRIBUTE_NAME: Final = re.compile(r"""\s([\w:.-]+)\s*=""")
_ROOT_DEFAULTS: Final = re.compile(r"\*\s*\{([^}]*)\}")


def _declarations(css: str) -> list[tuple[str, str]]:
    pairs = []
    for part in css.split(";"):
        name, colon, value = part.partition(":")
        if colon and name.strip().lower() in _PRESENTATION and value.strip():
            pairs.append((name.strip().lower(), value.strip()))
    return pairs


def svg_with_attributes(markup: str) -> str:
    """``markup`` with inline CSS turned into SVG presentation attributes (nothing else changes).

    Declarations that are not presentation attributes (e.g. ``max-width`` on the root) are dropped:
    the page's stylesheet sizes the figures.
    """
    defaults: list[tuple[str, str]] = []
    for block in _STYLE_ELEMENT.findall(markup):
        for rule in _ROOT_DEFAULTS.findall(block):
            defaults += _declarations(rule)
    markup = _STYLE_ELEMENT.sub("", markup)
    root_done = False

    def rewrite(tag: re.Match[str]) -> str:
        nonlocal root_done
        name, attributes, closing = tag.group(1), tag.group(2) or "", tag.group(3)
        match = _STYLE_ATTRIBUTE.search(attributes)
        pairs = _declarations(match.group(1)) if match else []
        if match:
            attributes = attributes[:match.start()] + attributes[match.end():]
        if name == "svg" and not root_done:
            root_done = True
            pairs = defaults + pairs
        present = {n.lower() for n in _ATTRIBUTE_NAME.findall(attributes)}
        added = "".join(f' {n}="{escape(v)}"' for n, v in dict(pairs).items() if n not in present)
        return f"<{name}{attributes}{added}{closing}>"

    return _TAG.sub(rewrite, markup)


def figures_fingerprint(view_fingerprint: str) -> str:
    """The stored figures' fingerprint: the page view's (same release, pack, settings and
    presentation code) and :data:`FIGURE_FORMAT`."""
    return hashlib.sha256(FIGURE_FORMAT + b"\0" + view_fingerprint.encode()).hexdigest()


def draw_figures(results: PatientResults, *,
                 layouts: tuple[str, ...] = ("wide", "narrow")) -> dict[str, bytes]:
    """A patient's figures (:data:`FIGURE_NAMES` of ``layouts``) as standalone SVG documents
    without inline CSS. Not thread-safe (matplotlib's ``rc_context`` is process-global): callers
    draw one patient at a time."""
    from myositis_cds.presentation import plots  # noqa: PLC0415 - matplotlib loads only to draw

    figures: dict[str, bytes] = {}
    for layout in layouts:
        suffix = "-narrow" if layout == "narrow" else ""
        for key, data in plots.render_trend_figures(results.timeline, results.trends, fmt="svg",
                                                    layout=layout).items():
            figures[key + suffix] = svg_with_attributes(data.decode("utf-8")).encode("utf-8")
    return figures


def encode_figures(figures: Mapping[str, bytes]) -> bytes:
    """zlib of a JSON object of the SVG texts by name (the stored view's body)."""
    return zlib.compress(orjson.dumps({name: svg.decode("utf-8") for name, svg in figures.items()}),
                         6)


def decode_figures(body: bytes) -> dict[str, bytes]:
    decoded = orjson.loads(zlib.decompress(body))
    return {str(name): str(svg).encode("utf-8") for name, svg in decoded.items()}
