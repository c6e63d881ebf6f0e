"""Table 1 renderers: text, JSON, CSV, HTML and LaTeX (clinical-reference §8).

Categorical cells are ``n/N (%)`` with the missing count when there is one; numeric cells are
``median [Q1–Q3]``. The p-value column names its test; odds ratios (two groups) and pairwise
comparisons (more groups, Holm-adjusted) follow. A synthetic cohort says so in the title of every
format (CSV: a ``data`` column holding ``synthetic``).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any, Final, Literal

import orjson

from myositis_cds.csv_writer import Cell as CsvCell
from myositis_cds.csv_writer import CsvWriter

if TYPE_CHECKING:  # only for annotations: rendering does not load scipy
    from myositis_cds.stats.contingency import OddsRatio
    from myositis_cds.stats.table1 import Cell, Table1, Table1Row

__all__ = [
    "TABLE1_FORMATS",
    "Table1Format",
    "format_p",
    "render_table1",
    "table1_html_fragment",
]

Table1Format = Literal["text", "json", "csv", "html", "latex"]
TABLE1_FORMATS: Final[tuple[Table1Format, ...]] = ("text", "json", "csv", "html", "latex")


def format_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _cell(cell: Cell, kind: str) -> str:
    missing = f"; {cell.missing} missing" if cell.missing else ""
    if kind == "numeric":
        if cell.median is None:
            return f"— (N=0{missing})"
        return f"{_num(cell.median)} [{_num(cell.q1)}–{_num(cell.q3)}] (N={cell.N}{missing})"
    percent = "—" if cell.percent is None else f"{cell.percent:.1f}%"
    return f"{cell.n}/{cell.N} ({percent}){missing}"


def _label(row: Table1Row) -> str:
    if row.kind == "numeric":
        return f"{row.variable}, median [IQR]"
    if row.kind == "binary":
        return f"{row.variable}: {row.level}"
    return f"{row.variable}: {row.level}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if 0.01 <= value < 1000 else f"{value:.2g}"


def _or(odds: OddsRatio | None) -> str:
    if odds is None or odds.estimate is None:
        return "—"
    mark = "*" if odds.note else ""
    return f"{_ratio(odds.estimate)} ({_ratio(odds.ci_low)}–{_ratio(odds.ci_high)}){mark}"


def _header(table: Table1) -> list[str]:
    return [f"{g} (n={table.group_sizes[g]})" for g in table.groups]


def _two_groups(table: Table1) -> bool:
    return len(table.groups) == 2


def _grid(table: Table1) -> tuple[list[str], list[list[str]]]:
    header = ["Variable", *_header(table), "p", "test"]
    if _two_groups(table):
        header.insert(-2, f"OR (95% CI), {table.groups[0]} vs {table.groups[1]}")
    rows = []
    for row in table.rows:
        cells = [_label(row), *(_cell(row.groups[g], row.kind) for g in table.groups)]
        if _two_groups(table):
            cells.append(_or(row.odds_ratio) if row.kind == "binary" else "")
        cells += [format_p(row.p_value) if row.test else "", row.test or ""]
        rows.append(cells)
    return header, rows


def _pairwise(table: Table1) -> list[list[str]]:
    lines = []
    for row in table.rows:
        for pair in row.pairwise:
            lines.append([row.variable, f"{pair.groups[0]} vs {pair.groups[1]}", format_p(pair.p_value),
                          format_p(pair.p_adjusted), _or(pair.odds_ratio) if row.kind == "binary" else "",
                          pair.test])
    return lines


_PAIR_HEADER: Final = ["Variable", "Groups", "p", f"p ({'Holm'})", "OR (95% CI)", "test"]


def _footer(table: Table1) -> list[str]:
    lines = [f"Policy: {table.policy} — {table.policy_description}.", *table.notes]
    if any(r.odds_ratio is not None and r.odds_ratio.note for r in table.rows):
        lines.append("* a zero cell: 0.5 added to every cell (Haldane–Anscombe).")
    excluded = {k: v for k, v in table.excluded.items() if v}
    if excluded:
        lines.append("Excluded patients: " + "; ".join(f"{k}: {v}" for k, v in excluded.items()) + ".")
    lines.append(f"Source: {table.source}. Citation: {', '.join(table.citations)}.")
    return lines


def _text(table: Table1) -> str:
    header, rows = _grid(table)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = [f"{table.title}" + ("  [SYNTHETIC]" if table.synthetic else ""), ""]
    out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    pairs = _pairwise(table)
    if pairs:
        out += ["", f"Pairwise comparisons (p adjusted by {table.pairwise_correction} across the pairs "
                "of each variable):"]
        pw = [max(len(r[i]) for r in [_PAIR_HEADER, *pairs]) for i in range(len(_PAIR_HEADER))]
        out.append("  ".join(h.ljust(w) for h, w in zip(_PAIR_HEADER, pw, strict=True)).rstrip())
        out += ["  ".join(c.ljust(w) for c, w in zip(r, pw, strict=True)).rstrip() for r in pairs]
    out += ["", *_footer(table)]
    return "\n".join(out) + "\n"


def _csv(table: Table1) -> str:
    buffer = io.StringIO()
    writer = CsvWriter(buffer)
    header = ["variable", "level", "kind"]
    for g in table.groups:
        header += [f"{g} n", f"{g} N", f"{g} missing", f"{g} percent", f"{g} median", f"{g} q1", f"{g} q3"]
    header += ["p_value", "test", "odds_ratio", "or_ci_low", "or_ci_high"]
    if table.synthetic:
        header.insert(0, "data")
    writer.writerow(header)
    for row in table.rows:
        line: list[CsvCell] = [row.variable, row.level or "", row.kind]
        for g in table.groups:
            c = row.groups[g]
            line += [c.n, c.N, c.missing, c.percent, c.median, c.q1, c.q3]
        odds = row.odds_ratio
        line += [row.p_value, row.test or "", odds.estimate if odds else None,
                 odds.ci_low if odds else None, odds.ci_high if odds else None]
        if table.synthetic:
            line.insert(0, "synthetic")
        writer.writerow(line)
    return buffer.getvalue()


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str) -> list[str]:
    out = ["<table class=\"table1\">", f"<caption>{escape(caption)}</caption>", "<thead><tr>"]
    out += [f"<th scope=\"col\">{escape(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + f"<th scope=\"row\">{escape(r[0])}</th>"
                   + "".join(f"<td>{escape(c)}</td>" for c in r[1:]) + "</tr>")
    out.append("</tbody></table>")
    return out


def table1_html_fragment(table: Table1, *,
                         names: Callable[[str], str] | None = None) -> str:
    """Table 1, its pairwise comparisons and its notes as HTML to put in a page (no document, no
    styles: the page's stylesheet applies); every value escaped. ``names`` gives each variable
    (a column name) the words it is shown with."""
    if names is not None:
        table = dataclasses.replace(table, rows=tuple(
            dataclasses.replace(row, variable=names(row.variable)) for row in table.rows))
    header, rows = _grid(table)
    title = table.title + (" — SYNTHETIC DATA, not patients" if table.synthetic else "")
    out = _html_table(header, rows, title)
    pairs = _pairwise(table)
    if pairs:
        caption = f"Pairwise comparisons ({table.pairwise_correction}-adjusted)"
        out += [f"<details><summary>{escape(caption)}</summary>",
                *_html_table(_PAIR_HEADER, pairs, caption), "</details>"]
    out += [f'<p class="muted">{escape(line)}</p>' for line in _footer(table)]
    return "\n".join(out) + "\n"


def _html(table: Table1) -> str:
    header, rows = _grid(table)
    title = table.title + (" — SYNTHETIC DATA, not patients" if table.synthetic else "")
    out = ["<!doctype html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>{escape(title)}</title>",
           "<style>table.table1{border-collapse:collapse;font:13px sans-serif}"
           "table.table1 th,table.table1 td{border-bottom:1px solid #ccc;padding:3px 8px;"
           "text-align:left;vertical-align:top}caption{font-weight:bold;text-align:left}</style>",
           "</head><body>", f"<h1>{escape(title)}</h1>"]
    out += _html_table(header, rows, title)
    pairs = _pairwise(table)
    if pairs:
        caption = f"Pairwise comparisons ({table.pairwise_correction}-adjusted)"
        out += _html_table(_PAIR_HEADER, pairs, caption)
    out += [f"<p>{escape(line)}</p>" for line in _footer(table)]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


_LATEX_ESCAPES: Final = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                         "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                         "^": r"\textasciicircum{}", "<": r"$<$", ">": r"$>$", "–": "--", "—": "---",
                         "≥": r"$\geq$", "≤": r"$\leq$", "×": r"$\times$"}


def _tex(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def _latex(table: Table1) -> str:
    header, rows = _grid(table)
    title = table.title + (" (SYNTHETIC DATA, not patients)" if table.synthetic else "")
    out = [r"% requires \usepackage{booktabs}", r"\begin{table}[htbp]", r"\centering", r"\small",
           f"\\caption{{{_tex(title)}}}", f"\\begin{{tabular}}{{l{'l' * (len(header) - 1)}}}",
           r"\toprule", " & ".join(_tex(h) for h in header) + r" \\", r"\midrule"]
    out += [" & ".join(_tex(c) for c in r) + r" \\" for r in rows]
    out += [r"\bottomrule", r"\end{tabular}"]
    out += [f"\\par\\footnotesize {_tex(line)}" for line in _footer(table)]
    out.append(r"\end{table}")
    pairs = _pairwise(table)
    if pairs:
        out += [r"\begin{table}[htbp]", r"\centering", r"\small",
                f"\\caption{{{_tex(title)}: pairwise comparisons, {table.pairwise_correction}-adjusted}}",
                r"\begin{tabular}{llllll}", r"\toprule", " & ".join(_tex(h) for h in _PAIR_HEADER) + r" \\",
                r"\midrule", *(" & ".join(_tex(c) for c in r) + r" \\" for r in pairs),
                r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def render_table1(table: Table1, fmt: Table1Format) -> str:
    if fmt == "json":
        document: dict[str, Any] = table.to_dict()
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    renderers = {"text": _text, "csv": _csv, "html": _html, "latex": _latex}
    if fmt not in renderers:
        msg = f"--format: got {fmt!r}; expected one of {', '.join(TABLE1_FORMATS)}"
        raise ValueError(msg)
    return renderers[fmt](table)
