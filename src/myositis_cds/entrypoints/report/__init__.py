"""Report renderers: an assessment dict (``myositis-cds/assessment@1``) as text, Markdown or HTML.

Each renderer takes the JSON dict of :func:`myositis_cds.engine.to_dict` (so the web application
can render what it received over the API) and the knowledge pack's citations (key → reference),
and returns a ``str``. The report puts the plan first, then alerts by severity, then the details;
every note that affected a result is marked where it applies and listed; every citation is
numbered in reading order and listed under References.

The timeline renderers do the same for a ``myositis-cds/timeline@1`` dict
(:func:`myositis_cds.engine.timeline_to_dict`): text, CSV, and HTML (fragment or page).
"""

from myositis_cds.entrypoints.report.html import render_html, render_html_document
from myositis_cds.entrypoints.report.markdown import render_markdown
from myositis_cds.entrypoints.report.text import render_text
from myositis_cds.entrypoints.report.timeline import (
    render_timeline_csv,
    render_timeline_html_document,
    render_timeline_html_fragment,
    render_timeline_text,
)

__all__ = [
    "render_html",
    "render_html_document",
    "render_markdown",
    "render_text",
    "render_timeline_csv",
    "render_timeline_html_document",
    "render_timeline_html_fragment",
    "render_timeline_text",
]
