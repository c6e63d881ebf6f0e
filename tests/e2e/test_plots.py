"""Trend plots (PF2019-style: dots = measurements, line = LOWESS): SVG content, PNG, CLI and HTML."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.text import Text

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import Timeline, assess
from myositis_cds.entrypoints.cli import main
from myositis_cds.presentation import render_html_document
from myositis_cds.presentation.plots import (
    SERIES_KEYS,
    figure_pixels,
    log_axis,
    log_ticks,
    plot_trend,
    record_trends,
    render_trend_figures,
)
from myositis_cds.presentation.treatment_lane import plot_treatment_lane
from myositis_cds.presentation.trend_html import inline_svg
from myositis_cds.stats.trends import PatientTrends
from tests.conftest import ROOT, TODAY, load_example

DRUG_FREE = ROOT / "examples" / "drug-free-remission.json"


@cache
def trends_of(name: str) -> tuple[Timeline, PatientTrends]:
    record = parse_record(load_example(name), today=TODAY)
    return record_trends(record, as_of=TODAY, params=default_params())


@cache
def svgs_of(name: str) -> dict[str, str]:
    timeline, trends = trends_of(name)
    return {k: v.decode("utf-8") for k, v in render_trend_figures(timeline, trends, fmt="svg").items()}


def ids(svg: str) -> list[str]:
    return re.findall(r'\bid="([^"]+)"', svg)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- SVG content ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["drug-free-remission", "juvenile", "incomplete-data"])
@pytest.mark.parametrize("key", SERIES_KEYS)
def test_exactly_one_svg_element_per_measurement(name: str, key: str) -> None:
    _, trends = trends_of(name)
    series = next(s for s in trends.series if s.key == key)
    point_ids = [i for i in ids(svgs_of(name)[key]) if re.fullmatch(rf"{key}-point-\d+", i)]
    assert sorted(point_ids) == sorted(f"{key}-point-{n}" for n in range(len(series.points)))
    other = [i for i in ids(svgs_of(name)[key]) if "-point-" in i and not i.startswith(key)]
    assert other == []


def test_point_counts_of_the_drug_free_remission_example() -> None:
    svgs = svgs_of("drug-free-remission")
    counts = {k: sum(1 for i in ids(svgs[k]) if re.fullmatch(rf"{k}-point-\d+", i)) for k in SERIES_KEYS}
    assert counts == {"ck": 8, "mmt8": 8, "titer": 6}  # 2026.2: a visit with CK on 2026-10-12


def test_each_point_and_treatment_carries_its_date_and_value_as_a_tooltip() -> None:
    svg = svgs_of("drug-free-remission")["titer"]
    assert re.search(r'<g id="titer-point-0"><title>2021-09-27: anti-Mi-2 titer 92 U/mL</title>',
                     svg)
    assert "$." not in svg  # no JSON path faces the reader
    titles = re.findall(r'<g id="treatment-\d+"><title>([^<]+)</title>', svg)
    # Prednisone's three consecutive doses are one bar; methotrexate's two are one.
    assert titles == ["Methotrexate: 2021-10-05 to 2024-06-30",
                      "Prednisone: 2021-10-05 to 2023-03-31"]


def test_titer_cutoff_line_and_lowess_line_are_drawn() -> None:
    svgs = svgs_of("drug-free-remission")
    assert 'id="titer-cutoff"' in svgs["titer"]
    for key in SERIES_KEYS:
        assert f'id="{key}-lowess"' in svgs[key]
    assert 'id="ck-uln"' in svgs["ck"]
    assert "cutoff" not in "".join(ids(svgs["ck"]) + ids(svgs["mmt8"]))


def test_normalisation_and_drug_free_markers_for_drug_free_remission() -> None:
    for svg in svgs_of("drug-free-remission").values():
        assert ids(svg).count("titer-normalised") == 1
        assert ids(svg).count("drug-free-since") == 1


def test_no_event_marker_when_nothing_happened() -> None:
    for svg in svgs_of("juvenile").values():
        assert "titer-normalised" not in ids(svg)
        assert "drug-free-since" not in ids(svg)


def test_treatments_are_bars_in_a_lane_of_their_own_one_row_per_drug() -> None:
    timeline, _ = trends_of("drug-free-remission")
    figure = Figure()
    lane = figure.add_subplot()
    assert plot_treatment_lane(lane, timeline.treatment_periods, end=TODAY) is lane
    bars = [c for c in lane.collections if (c.get_gid() or "").startswith("treatment-")]
    assert len(bars) == 2  # one bar per drug here: consecutive doses are joined
    rows = sorted(round(c.get_paths()[0].get_extents().y0, 3) for c in bars)
    assert rows[0] != rows[1]  # each drug in its own row
    assert sorted(t.get_text() for t in lane.texts) == ["Methotrexate", "Prednisone"]
    svg = svgs_of("drug-free-remission")["ck"]
    assert len([i for i in ids(svg) if re.fullmatch(r"treatment-\d+", i)]) == len(bars)


def test_no_curve_below_three_dates_but_the_points_are_drawn() -> None:
    svg = svgs_of("juvenile")["titer"]
    assert "titer-point-0" in ids(svg)
    assert "titer-lowess" not in ids(svg)


def test_svg_output_is_deterministic_and_undated() -> None:
    timeline, trends = trends_of("drug-free-remission")
    first = render_trend_figures(timeline, trends, fmt="svg")
    second = render_trend_figures(timeline, trends, fmt="svg")
    assert first == second
    text = first["ck"].decode("utf-8")
    assert "<dc:date>" not in text
    assert "Matplotlib v" not in text
    assert "<script" not in text.lower()


def test_plot_trend_takes_and_returns_the_axes_with_dates_and_readable_log_ticks() -> None:
    _, trends = trends_of("drug-free-remission")
    figure = Figure()
    ax = figure.add_subplot()
    assert plot_trend(ax, trends.ck, title="CK") is ax
    assert ax.get_yscale() == "log"
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert ticks == [0.5, 1, 2, 5, 10, 20, 50]  # 1, 2, 5 of each decade (× ULN)
    first = trends.ck.points[0]
    x = list(np.asarray(ax.lines[0].get_xdata(), dtype=float))
    assert x[0] == (first.date - dt.date(1970, 1, 1)).days  # calendar dates


def test_log_ticks_are_one_two_and_five_of_each_decade() -> None:
    assert log_ticks(1, 50) == [1, 2, 5, 10, 20, 50]
    assert log_ticks(0.3, 3) == [0.5, 1, 2]
    assert log_ticks(150, 1100) == [200, 500, 1000]


def test_figures_are_readable_at_their_size(tmp_path: Path) -> None:
    """No text under 10 pt (13 px at 100 %), and the title does not overlap the legend or the
    plot: checked on the drawn text boxes of each layout."""
    from myositis_cds.presentation import plots  # noqa: PLC0415

    timeline, trends = trends_of("drug-free-remission")
    for layout in plots.FIGURE_LAYOUTS:
        shape = plots.FIGURE_LAYOUTS[layout]
        with plots._style(shape):
            figure = plots._figure(timeline, trends, trends.titer, shape)
            renderer = FigureCanvasAgg(figure).get_renderer()  # type: ignore[no-untyped-call]
            figure.draw(renderer)
            texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text()]
            assert min(float(t.get_fontsize()) for t in texts) >= 10, layout
            title = next(t for t in figure.texts if trends.patient_id in t.get_text())
            box = title.get_window_extent(renderer)
            legend = figure.legends[0].get_window_extent(renderer)
            assert box.y0 >= legend.y1 - 1, layout  # the title is above the legend
            for ax in figure.axes:
                assert legend.y0 >= ax.get_window_extent(renderer).y1 - 1, layout
            assert box.x1 <= figure.bbox.width, layout  # not cut off


# -- PNG ------------------------------------------------------------------------------------------

def test_png_renders_with_the_expected_size_and_is_not_blank() -> None:
    timeline, trends = trends_of("drug-free-remission")
    pngs = render_trend_figures(timeline, trends, fmt="png")
    assert set(pngs) == set(SERIES_KEYS)
    assert pngs["titer"].startswith(b"\x89PNG\r\n\x1a\n")
    image = imread(io.BytesIO(pngs["titer"]), format="png")
    _, height = figure_pixels(*trends_of("drug-free-remission"), trends.titer, "wide")
    assert image.shape[1] == 1440  # 9.6 inches at 150 dpi
    assert abs(image.shape[0] - height * 150 / 96) <= 1  # the height the page reserves
    pixels = image[..., :3].reshape(-1, 3)
    assert float(np.std(pixels)) > 0.05
    assert len(np.unique(pixels, axis=0)) > 50
    dark = np.all(pixels < 0.3, axis=1).mean()  # dots, text and axes
    assert 0.001 < dark < 0.5


def test_unknown_format_is_refused() -> None:
    timeline, trends = trends_of("juvenile")
    with pytest.raises(ValueError, match="'pdf'"):
        render_trend_figures(timeline, trends, fmt="pdf")  # type: ignore[arg-type]


# -- inline SVG and the HTML report ---------------------------------------------------------------

def test_inline_svg_prefixes_every_id_and_reference() -> None:
    svg = svgs_of("drug-free-remission")["ck"].encode("utf-8")
    markup = inline_svg(svg, id_prefix="p1-ck-")
    assert not markup.startswith("<?xml")
    assert "<!DOCTYPE" not in markup
    assert all(i.startswith("p1-ck-") for i in ids(markup))
    references = re.findall(r'(?:url\(#|href="#)([^)"]+)', markup)
    assert references
    assert set(references) <= set(ids(markup))


def test_render_html_document_strips_scripts_from_figures() -> None:
    assessment = assess(parse_record(load_example("juvenile"), today=TODAY), TODAY, default_params())
    figure = ('<figure><svg onload="alert(1)"><script>alert(2)</script><g id="x"/>'
              '<a href="javascript:alert(3)">x</a></svg></figure>')
    html = render_html_document([assessment], {}, title="t", figures={assessment.patient_id: figure})
    assert "<script" not in html.lower()
    assert "onload" not in html
    assert "javascript:" not in html
    assert '<g id="x"/>' in html
    assert "7. Trends" in html


def test_assess_html_embeds_the_three_svgs_and_no_script(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "assess", str(DRUG_FREE), "--format", "html", "--as-of", "2026-11-21")
    assert code == 0, err
    assert out.count("<svg ") == 3
    assert "<script" not in out.lower()
    assert "7. Trends" in out
    page_ids = ids(out)
    assert len(page_ids) == len(set(page_ids)), "duplicate ids on the page"
    assert sum(1 for i in page_ids if re.search(r"-titer-titer-point-\d+$", i)) == 6
    assert sum(1 for i in page_ids if i.endswith("-titer-titer-normalised")) == 1
    assert out.index("7. Trends") > out.index("6. References")


def test_batch_html_has_figures_for_each_patient(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"format": "myositis-cds/patient-records@1", "records": [
        load_example("drug-free-remission"), load_example("juvenile")]}), encoding="utf-8")
    code, out, err = run(capsys, "assess", str(batch), "--format", "html", "--as-of", "2026-11-21")
    assert code == 0, err
    assert out.count("<svg ") == 6
    page_ids = ids(out)
    assert len(page_ids) == len(set(page_ids))


def test_other_formats_do_not_draw(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "assess", str(DRUG_FREE), "--format", "markdown", "--as-of", "2026-11-21")
    assert code == 0
    assert "<svg" not in out


# -- the plot command -----------------------------------------------------------------------------

def test_plot_command_writes_the_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "plots"
    code, out, err = run(capsys, "plot", str(DRUG_FREE), "--out", str(out_dir), "--format", "both")
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(f"ex-drug-free-remission-{k}.{ext}" for k in SERIES_KEYS
                           for ext in ("svg", "png"))
    assert out.split() == [str(out_dir / f"ex-drug-free-remission-{k}.{ext}")
                           for ext in ("svg", "png") for k in SERIES_KEYS]
    svg = (out_dir / "ex-drug-free-remission-titer.svg").read_text("utf-8")
    assert svg.startswith("<?xml")
    assert 'id="titer-cutoff"' in svg
    assert imread(out_dir / "ex-drug-free-remission-ck.png").shape[1] == 1440  # 9.6 in at 150 dpi
    code, _, err = run(capsys, "plot", str(DRUG_FREE), "--out", str(out_dir), "--layout", "narrow")
    assert code == 0, err
    narrow = (out_dir / "ex-drug-free-remission-ck.svg").read_text("utf-8")
    assert re.search(r'<svg [^>]*width="280\.8pt"', narrow)  # 3.9 in


def test_plot_command_defaults_to_svg_and_honours_as_of(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    code, out, _ = run(capsys, "plot", str(DRUG_FREE), "--out", str(tmp_path), "--as-of", "2022-12-31")
    assert code == 0
    assert len(out.split()) == 3
    svg = (tmp_path / "ex-drug-free-remission-titer.svg").read_text("utf-8")
    assert len(re.findall(r'id="titer-point-\d+"', svg)) == 2
    assert "titer-normalised" not in svg


def test_plot_command_writes_nothing_for_a_bad_record(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    data = load_example("drug-free-remission")
    data["labs"][0]["value"] = "high"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    out_dir = tmp_path / "plots"
    code, _, err = run(capsys, "plot", str(bad), "--out", str(out_dir))
    assert code == 2
    assert "$.labs[0].value" in err
    assert not out_dir.exists() or list(out_dir.iterdir()) == []
    code, _, err = run(capsys, "plot", str(tmp_path / "missing.json"), "--out", str(out_dir))
    assert code == 2
    assert "no such file" in err


def test_plot_file_names_are_safe(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = load_example("juvenile")
    data["id"] = "../evil id/1"
    path = tmp_path / "record.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, _out, _ = run(capsys, "plot", str(path), "--out", str(tmp_path / "o"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "evil-id-1-ck.svg", "evil-id-1-mmt8.svg", "evil-id-1-titer.svg"]


def test_a_log_axis_over_values_beyond_its_ticks_is_clipped_not_a_crash() -> None:
    """An implausible ULN (1e12, found by the CLI fuzz, issue 13) made a CK ratio of 2.6e-10:
    ``max() arg is an empty sequence``. The axis now ends at its outermost ticks."""
    for values in ([2.6e-10], [3e9], [2.6e-10, 3e9]):
        ax = Figure().subplots()
        log_axis(ax, values)
        low, high = ax.get_ylim()
        assert 0 < low <= 1 <= high
