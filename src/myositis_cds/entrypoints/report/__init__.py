"""Report renderers: an assessment dict (``myositis-cds/assessment@1``) as text, Markdown or HTML.

Each renderer takes the JSON dict of :func:`myositis_cds.engine.to_dict` (so the web application
can render what it received over the API) and the knowledge pack's citations (key → reference),
and returns a ``str``. The report puts the plan first, then alerts by severity, then the details;
every note that affected a result is marked where it applies and listed; every citation is
numbered in reading order and listed under References.
"""

from myositis_cds.entrypoints.report.html import render_html, render_html_document
from myositis_cds.entrypoints.report.markdown import render_markdown
from myositis_cds.entrypoints.report.text import render_text

__all__ = ["render_html", "render_html_document", "render_markdown", "render_text"]
