"""The researcher's page: PF2019's analyses of the stored cohort, de-identified.

Table 1 by the four groups, the course of CK, strength and anti-Mi-2 titer by group (pooled
LOWESS), the mixed models of CK and strength on the titer and the long titer courses — the same
use case as ``myositis-cds cohort table1|figure|titers db:``
(:func:`myositis_cds.services.cohort_analysis.analyse_stored_cohort`). Patients appear only under
random pseudonyms, with no identifiers or dates. One page view is one audited ``cohort.export``:
the figures are drawn into the page (no further requests); each CSV download is an export of its
own.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from myositis_cds.entrypoints.web.auth import PagePrincipal, Principal
from myositis_cds.entrypoints.web.choices import FINDING_LABELS, word
from myositis_cds.entrypoints.web.clinical import svg_with_attributes
from myositis_cds.entrypoints.web.state import web_state
from myositis_cds.services.cohort_analysis import CohortAnalysis, analyse_stored_cohort
from myositis_cds.stats.cohort_features import COHORT_GROUPS

__all__ = ["router", "variable_name"]

router = APIRouter(include_in_schema=False)
_CSV: Final = "text/csv; charset=utf-8"
_VARIABLES: Final = {
    "sex": "Sex", "age_at_diagnosis": "Age at diagnosis (years)",
    "follow_up_years": "Follow-up (years)", "ck_onset_x_uln": "CK at onset (× ULN)",
    "ck_peak_x_uln": "Peak CK (× ULN)", "mmt8_onset_pct": "MMT-8 at onset (% of maximum)",
    "mmt8_lowest_pct": "Lowest MMT-8 (% of maximum)", "weakness": "Weakness"}


def variable_name(column: str) -> str:
    """A Table 1 variable (a feature column) in words: ``gottron_papules_onset`` → "Gottron's
    papules at onset"."""
    if column in _VARIABLES:
        return _VARIABLES[column]
    for suffix, words in (("_onset", " at onset"), ("_ever", " ever")):
        if column.endswith(suffix):
            base = column.removesuffix(suffix)
            return (_VARIABLES.get(base) or FINDING_LABELS.get(base) or word("finding", base)) + words
    return word("finding", column)


def _analysis(request: Request, principal: Principal) -> CohortAnalysis:
    state = web_state(request)
    clinic = state.clinic
    return analyse_stored_cohort(state.uow, principal.user, parse=clinic.parse,
                                 params=clinic.params, as_of=clinic.today())


def _figures(analysis: CohortAnalysis) -> Markup:
    """The figure at a page's width and, for phones, stacked (the stylesheet shows one)."""
    from myositis_cds.presentation.cohort_figure import (  # noqa: PLC0415 - matplotlib
        render_cohort_figure,
    )
    from myositis_cds.presentation.trend_html import inline_svg  # noqa: PLC0415

    blocks = []
    for layout in ("wide", "narrow"):
        svg = render_cohort_figure(analysis.curves, fmt="svg", synthetic=analysis.cohort.synthetic,
                                   source="clinic database", layout=layout)
        markup = inline_svg(svg_with_attributes(svg.decode("utf-8")).encode("utf-8"),
                            id_prefix=f"cohort-{layout}-",
                            label="CK, strength and anti-Mi-2 titer by group over time since "
                                  "diagnosis")
        markup = markup.replace(' style="max-width:100%;height:auto"', "", 1)
        blocks.append(f'<div class="figure-{layout}">{markup}</div>')
    return Markup("\n".join(blocks))  # noqa: S704 - our own SVG, rewritten without styles


@router.get("/cohort")
def cohort_page(request: Request, principal: PagePrincipal) -> HTMLResponse:
    from myositis_cds.presentation.table1_report import table1_html_fragment  # noqa: PLC0415

    analysis = _analysis(request, principal)
    table = analysis.table1
    counts = Counter(patient.group for patient in analysis.cohort.patients)
    groups = {name: counts[name] for name in COHORT_GROUPS if counts[name]}
    if counts[None]:
        groups["in none of the four groups"] = counts[None]
    html = web_state(request).templates.get_template("cohort.html.j2").render(
        title="Cohort", principal=principal, analysis=analysis, groups=groups,
        table1=None if table is None else Markup(  # noqa: S704 - escaped by the renderer
            table1_html_fragment(table, names=variable_name)),
        figure=_figures(analysis), model=analysis.cohort.titer_model, course=analysis.titer_course)
    return HTMLResponse(html)


def _download(body: str, name: str) -> Response:
    return Response(body.encode("utf-8"), media_type=_CSV,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/cohort/table1.csv")
def table1_csv(request: Request, principal: PagePrincipal) -> Response:
    from myositis_cds.presentation.table1_report import render_table1  # noqa: PLC0415

    analysis = _analysis(request, principal)
    if analysis.table1 is None:
        return Response(f"{analysis.table1_problem}\n", status_code=409, media_type="text/plain")
    return _download(render_table1(analysis.table1, "csv"), "table1.csv")


@router.get("/cohort/features.csv")
def features_csv(request: Request, principal: PagePrincipal) -> Response:
    """One row per patient (pseudonym, group, derived features): the input of Table 1."""
    from myositis_cds.stats.cohort_features import cohort_csv_text  # noqa: PLC0415

    analysis = _analysis(request, principal)
    return _download(cohort_csv_text(analysis.data.columns), "cohort-features.csv")
