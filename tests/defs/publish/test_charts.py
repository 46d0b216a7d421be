"""The SVG chart functions: pure, escaped, sized to their data."""

from __future__ import annotations

from datetime import date

from pipelines.defs.publish import charts


def test_nice_ceiling_leaves_little_headroom_and_round_ticks():
    assert [charts.nice_ceiling(v) for v in (0, 7, 55, 79, 100, 101, 2600)] == [
        1,
        8,
        60,
        80,
        100,
        120,
        3200,
    ]


def test_labels_from_data_are_escaped():
    # Dynamic segment names are analyst-written: they must not become markup.
    svg = charts.hbar_chart("x", "t", [("<script>alert(1)</script>", 3, "3")], ["#000"])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_heatmap_draws_one_mark_per_cell_and_blanks_zero_moves():
    cells = {("A", "A"): (5, ""), ("A", "B"): (0, "")}
    svg = charts.heatmap("m", "t", ["A", "B"], ["A", "B"], cells, "from", "to", diagonal=True)
    assert svg.count('class="mark"') == 4
    assert ">0<" not in svg  # zero moves are blank in a migration matrix


def test_line_chart_of_one_snapshot_still_draws_a_point():
    svg = charts.line_chart(
        "h",
        "t",
        [date(2024, 6, 30)],
        {"Champions": {date(2024, 6, 30): 7}},
        {"Champions": "#1a9850"},
    )
    assert "<circle" in svg and "2024-06-30" in svg
