"""The clinic letter: one patient's plan on at most two A4 pages, as HTML and as PDF.

:func:`render_letter_html` lays out the same act-now summary as the patient page (:mod:`.act_now`:
who, alerts, due items, current therapy, latest response) with the treatment options and their
doses in one line each, and only the references the letter cites, numbered from 1 in reading
order: one list. It is a standalone page with its CSS inline (A4, page numbers "page n of m"), so
a browser prints it as it is and :func:`render_letter_pdf` renders it with WeasyPrint (a real PDF
library; it needs Debian's Pango) without fetching anything.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine.results import Assessment
from myositis_cds.engine.timeline import Timeline
from myositis_cds.presentation.act_now import ActNow, build_act_now
from myositis_cds.presentation.assessment_builder import ResultViews, regimen_dose
from myositis_cds.presentation.assessment_view import ReferenceView
from myositis_cds.presentation.html import jinja_environment
from myositis_cds.presentation.labels import clean, drug_label, fmt_date, label, role_label
from myositis_cds.presentation.numbering import Marks

__all__ = ["Letter", "OptionLine", "build_letter", "inline_style_sources", "render_letter_html",
           "render_letter_pdf"]

_STYLE: Final = re.compile(r"<style>(.*?)</style>", re.DOTALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionLine:
    """One treatment option in one line: drug, role, this patient's dose, schedule."""

    drug: str
    role: str
    dose: str
    schedule: str
    marks: Marks


@dataclass(frozen=True, slots=True, kw_only=True)
class Letter:
    title: str
    act: ActNow
    tier: str
    options: tuple[OptionLine, ...]
    references: tuple[ReferenceView, ...]
    pack: str
    printed: str
    """"printed 2026-11-21 by clara" (who asked for it, when)."""


def build_letter(*, record: PatientRecord, assessment: Assessment, timeline: Timeline,
                 citations: Mapping[str, str], name: str | None = None, printed_on: dt.date,
                 printed_by: str) -> Letter:
    """The letter's display records; citations numbered for the letter alone."""
    views = ResultViews(citations)
    act = build_act_now(views, assessment, record=record, timeline=timeline, name=name)
    options = []
    for reg in assessment.treatment_plan.regimens:
        ok, dose = regimen_dose(reg)
        options.append(OptionLine(drug=drug_label(reg.drug), role=role_label(reg.role), dose=dose,
                                  schedule=clean(reg.schedule) if ok else "",
                                  marks=Marks(refs=views.num.cite(reg.citations))))
    return Letter(title=f"Clinic letter — {clean(name or record.id)}", act=act,
                  tier=label("status", assessment.treatment_plan.tier), options=tuple(options),
                  references=views.references(),
                  pack=f"{clean(assessment.pack)} {clean(assessment.version)}",
                  printed=f"printed {fmt_date(printed_on)} by {clean(printed_by)}")


def render_letter_html(letter: Letter) -> str:
    """The letter as a standalone HTML page (CSS inline, nothing fetched, no script)."""
    return jinja_environment().get_template("letter.html.j2").render(letter=letter)


def inline_style_sources(html: str) -> tuple[str, ...]:
    """The Content-Security-Policy sources (``'sha256-…'``) that allow exactly the ``<style>``
    elements of a page this package rendered (the letter's CSS is inline so that it prints alone)."""
    return tuple("'sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()
                 + "'" for css in _STYLE.findall(html))


def render_letter_pdf(letter: Letter) -> bytes:
    """The letter as PDF, rendered by WeasyPrint from :func:`render_letter_html`."""
    import weasyprint  # noqa: PLC0415 - loads Pango only when a PDF is asked for

    def refuse(url: str) -> dict[str, object]:
        msg = f"the letter fetches nothing (asked for {url[:80]!r})"
        raise ValueError(msg)

    document = weasyprint.HTML(string=render_letter_html(letter), url_fetcher=refuse)
    pdf: bytes = document.write_pdf()
    return pdf
