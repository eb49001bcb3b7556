from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from safer_engine.report.charts import (
    Band,
    Series,
    histogram_chart,
    line_chart,
    nice_ticks,
    spark_histogram,
)

SVG = "{http://www.w3.org/2000/svg}"


def test_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0.81, 0.97) == [0.85, 0.9, 0.95]
    assert nice_ticks(-12.0, 31.0, 8) == [-10.0, 0.0, 10.0, 20.0, 30.0]  # at most 8
    assert nice_ticks(2.0, 2.0) == [2.0]


def test_a_line_chart_draws_each_series_its_band_and_an_escaped_legend() -> None:
    svg = line_chart(
        "Accuracy <by> ratio",
        [
            Series("SAFER & co", [0, 5, 10], [0.9, 0.8, 0.7], [0.85, 0.75, 0.6], [0.95, 0.85, 0.8]),
            Series("random", [0, 5, 10], [0.9, math.nan, 0.88], dashed=True),
        ],
        "% edited",
        "accuracy",
        band=Band("clean", 0.9, 0.85, 0.95),
    )
    root = ET.fromstring(svg)  # well-formed: every text escaped
    assert root.find(f"{SVG}title").text == "Accuracy <by> ratio"  # type: ignore[union-attr]
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2 and "stroke-dasharray" in lines[1].attrib
    assert len(lines[1].attrib["points"].split()) == 2  # the NaN point is left out
    assert len(root.findall(f"{SVG}polygon")) == 1  # only the first series has intervals
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"SAFER & co", "random", "clean", "% edited", "accuracy"} <= set(texts)
    assert line_chart("empty", [], "x", "y") == ""


def test_histograms_draw_a_bar_per_filled_bin() -> None:
    svg = histogram_chart(
        "scores", [-1.0, 0.0, 1.0, 2.0], {"safety": [3, 0, 1], "general": [0, 2, 0]}, "score"
    )
    root = ET.fromstring(svg)
    assert len(root.findall(f"{SVG}rect")) == 3
    assert {"safety (4)", "general (2)"} <= {t.text for t in root.iter(f"{SVG}text")}
    assert histogram_chart("none", [], {}, "score") == ""
    spark = ET.fromstring(spark_histogram([4, 1, 0, 2, 0, 0], [0, 1, 2, 3, 4, 5, 6], "#c82828"))
    assert len(spark.findall(f"{SVG}rect")) == 3
    assert [t.text for t in spark.iter(f"{SVG}text")] == ["0", "4"]  # to the last filled bin
    assert spark_histogram([0, 0], [0, 1, 2], "#000") == ""
