"""Tests for bitframe.report.figures: well-formed, accessible, self-contained SVG.

Geometry is checked from the parsed XML (positions monotone in the data, log axes
symmetric about 1).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitframe.report.figures import (
    OKABE_ITO,
    ConsortArm,
    PooledEstimate,
    consort_diagram,
    diagnosis_figure,
    figure_row,
    forest_plot,
    mde_curve,
    power_curve,
    power_curve_figure,
    simulated_power_curve,
    write_svg,
)

NS = "http://www.w3.org/2000/svg"
Q = "{" + NS + "}"
NASTY = "<script>alert('x')</script> & \"Co\""


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(Q + "text")]


def all_text(root: ET.Element) -> str:
    return "\n".join(texts(root))


def flat_text(root: ET.Element) -> str:
    """All text with wrapped lines re-joined and every space (incl. no-break) as one ' '."""
    return re.sub(r"\s+", " ", " ".join(texts(root)))


def check_common(svg: str) -> ET.Element:
    """Checks every figure must pass: XML, accessibility, self-containment."""
    root = parse(svg)
    assert root.tag == Q + "svg"
    assert root.get("role") == "img"
    title, desc = root[0], root[1]
    assert title.tag == Q + "title" and (title.text or "").strip()
    assert desc.tag == Q + "desc" and (desc.text or "").strip()
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert root.get("viewBox")
    # The only URL is the SVG namespace; nothing is fetched from outside.
    urls = re.findall(r"https?://[^\s\"'<>]*", svg)
    assert urls and set(urls) == {NS}
    lowered = svg.lower()
    for banned in ("href", "<image", "<script", "@import", "@font-face", "<foreignobject", "javascript:"):
        assert banned not in lowered
    for ref in re.findall(r"url\(([^)]*)\)", svg):
        assert ref.startswith("#")
        assert root.find(f".//*[@id='{ref[1:]}']") is not None
    # Colours come from the Okabe-Ito palette or neutral greys/white.
    palette = {c.upper() for c in OKABE_ITO.values()} | {"#FFFFFF", "#595959", "#D9D9D9"}
    for colour in re.findall(r'(?:fill|stroke)="(#[0-9A-Fa-f]{6})"', svg):
        assert colour.upper() in palette, colour
    # ids are unique within the figure.
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids))
    return root


def rect_centres_x(root: ET.Element, cls: str) -> list[float]:
    return [float(r.get("x")) + float(r.get("width")) / 2 for r in root.iter(Q + "rect") if r.get("class") == cls]


def diamond_centres_x(root: ET.Element) -> list[float]:
    out = []
    for poly in root.iter(Q + "polygon"):
        if poly.get("class") == "bf-pooled":
            pts = [tuple(map(float, p.split(","))) for p in poly.get("points").split()]
            out.append(pts[1][0])  # top vertex sits at the estimate
    return out


def null_x(root: ET.Element) -> float:
    line = next(el for el in root.iter(Q + "line") if el.get("class") == "bf-null")
    assert line.get("x1") == line.get("x2")
    return float(line.get("x1"))


# ---------------------------------------------------------------------------
# Forest plot
# ---------------------------------------------------------------------------


def test_forest_basic_contents_and_geometry():
    labels = ["Site A", "Site B", "Site C", "Site D"]
    est = [0.12, -0.05, 0.30, 0.01]
    lo = [0.02, -0.20, 0.10, -0.08]
    hi = [0.22, 0.10, 0.50, 0.10]
    svg = forest_plot(labels, est, lo, hi, weights=[1, 2, 3, 4], x_label="Risk difference", digits=2)
    root = check_common(svg)
    body = all_text(root)
    for lab in labels:
        assert lab in body
    assert "0.12 [0.02, 0.22]" in body
    assert "-0.05 [-0.20, 0.10]" in body
    assert "Estimate [95% CI]" in body
    assert "Risk difference" in body
    assert "10.0%" in body and "40.0%" in body  # weights as percentages of the total
    xs = rect_centres_x(root, "bf-point")
    assert len(xs) == 4
    order = sorted(range(4), key=lambda i: est[i])
    assert [xs[i] for i in order] == sorted(xs)
    # 0.01 is right of the null line at 0 and -0.05 left of it.
    x0 = null_x(root)
    assert xs[1] < x0 < xs[3]
    # Bigger weight, bigger square.
    sides = [float(r.get("width")) for r in root.iter(Q + "rect") if r.get("class") == "bf-point"]
    assert sides == sorted(sides)
    # CI whiskers span from lower to upper bound around the square.
    cis = [el for el in root.iter(Q + "line") if el.get("class") == "bf-ci"]
    for line, x in zip(cis, xs):
        assert float(line.get("x1")) < x < float(line.get("x2"))


def test_forest_log_scale_is_symmetric_about_one():
    """On a log axis, ratios r and 1/r are equidistant from the null line at 1."""
    svg = forest_plot(["half", "one", "double"], [0.5, 1.0, 2.0], [0.4, 0.8, 1.6], [0.625, 1.25, 2.5], log_scale=True)
    root = check_common(svg)
    xs = rect_centres_x(root, "bf-point")
    x1 = null_x(root)
    assert math.isclose(xs[1], x1, abs_tol=0.02)
    assert math.isclose(x1 - xs[0], xs[2] - x1, abs_tol=0.02)
    assert xs[0] < xs[1] < xs[2]
    assert "logarithmic" in root[1].text


def test_forest_null_value_and_favours():
    svg = forest_plot(
        ["a", "b"], [4.0, 6.0], [3.0, 5.5], [5.0, 6.5], null_value=5.0, favours=("Favours control", "Favours nudge")
    )
    root = check_common(svg)
    xs = rect_centres_x(root, "bf-point")
    assert xs[0] < null_x(root) < xs[1]
    body = all_text(root)
    assert "Favours control" in body and "Favours nudge" in body


def test_forest_pooled_diamonds_and_pi():
    pooled = [PooledEstimate("Fixed", 0.10, 0.05, 0.15), PooledEstimate("Random", 0.20, 0.00, 0.40, -0.3, 0.7)]
    svg = forest_plot(["a", "b"], [0.0, 0.3], [-0.2, 0.1], [0.2, 0.5], pooled=pooled)
    root = check_common(svg)
    d = diamond_centres_x(root)
    assert len(d) == 2 and d[0] < d[1]
    pis = [el for el in root.iter(Q + "line") if el.get("class") == "bf-pi"]
    assert len(pis) == 1 and float(pis[0].get("x1")) < d[1] < float(pis[0].get("x2"))
    body = all_text(root)
    assert "0.10 [0.05, 0.15]" in body and "0.20 [0.00, 0.40]" in body
    assert "prediction interval -0.30 to 0.70" in root[1].text


def test_forest_escapes_text():
    svg = forest_plot([NASTY], [0.1], [0.0], [0.2], title=NASTY, x_label=NASTY, note=NASTY)
    root = check_common(svg)
    assert "<script>" not in svg
    assert NASTY in texts(root)
    assert root[0].text == NASTY


def test_forest_is_deterministic_with_distinct_ids():
    a = forest_plot(["a"], [0.1], [0.0], [0.2])
    b = forest_plot(["a"], [0.1], [0.0], [0.2])
    c = forest_plot(["a"], [0.2], [0.1], [0.3])
    assert a == b
    assert parse(a)[0].get("id") != parse(c)[0].get("id")
    d = forest_plot(["a"], [0.1], [0.0], [0.2], id_prefix="fig1")
    assert parse(d)[0].get("id") == "fig1-title"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"labels": ["a", "b"], "estimates": [0.1], "ci_lower": [0.0], "ci_upper": [0.2]},
            r"'estimates' parameter must have one value per label \(2\); got 1",
        ),
        ({"labels": ["a"], "estimates": [0.3], "ci_lower": [0.0], "ci_upper": [0.2]}, r"ci_lower <= estimate <= ci_upper"),
        (
            {"labels": ["a"], "estimates": [float("nan")], "ci_lower": [0.0], "ci_upper": [0.2]},
            r"'estimates' parameter must be finite",
        ),
        (
            {"labels": ["a"], "estimates": [0.1], "ci_lower": [-0.1], "ci_upper": [0.2], "log_scale": True},
            r"log-scale forest plot needs positive values",
        ),
        (
            {"labels": ["a"], "estimates": [0.1], "ci_lower": [0.0], "ci_upper": [0.2], "weights": [-1]},
            r"'weights' parameter must be >= 0",
        ),
        (
            {"labels": ["a"], "estimates": [0.1], "ci_lower": [0.0], "ci_upper": [0.2], "ci_level": 95},
            r"'ci_level' parameter must be in the open range \(0, 1\); got 95",
        ),
        (
            {"labels": ["a"], "estimates": [0.1], "ci_lower": [0.0], "ci_upper": [0.2], "id_prefix": "1 bad"},
            r"'id_prefix' parameter must start with a letter",
        ),
        ({"labels": [], "estimates": [], "ci_lower": [], "ci_upper": []}, r"at least one row"),
    ],
)
def test_forest_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        forest_plot(**kwargs)


rows = st.lists(
    st.tuples(
        st.floats(-5, 5, allow_nan=False), st.floats(0.01, 2, allow_nan=False), st.floats(0.01, 2, allow_nan=False)
    ),
    min_size=2,
    max_size=15,
)


@settings(max_examples=40, deadline=None)
@given(rows=rows, log_scale=st.booleans())
def test_forest_positions_monotone_property(rows, log_scale):
    """Any data: a larger estimate is drawn further right, and every square lies inside its CI."""
    est = [r[0] for r in rows]
    lo = [r[0] - r[1] for r in rows]
    hi = [r[0] + r[2] for r in rows]
    if log_scale:
        est, lo, hi = ([math.exp(v) for v in seq] for seq in (est, lo, hi))
    root = check_common(forest_plot([f"row {i}" for i in range(len(rows))], est, lo, hi, log_scale=log_scale))
    xs = rect_centres_x(root, "bf-point")
    for i in range(len(xs)):
        for j in range(len(xs)):
            if est[i] > est[j]:
                assert xs[i] >= xs[j] - 1e-9
    cis = [el for el in root.iter(Q + "line") if el.get("class") == "bf-ci"]
    for line, x in zip(cis, xs):
        assert float(line.get("x1")) - 0.01 <= x <= float(line.get("x2")) + 0.01


# ---------------------------------------------------------------------------
# CONSORT
# ---------------------------------------------------------------------------


def _arms() -> list[ConsortArm]:
    return [
        ConsortArm(
            "Control letter",
            allocated=5000,
            analysed=4800,
            lost_to_follow_up=200,
            excluded_from_analysis=200,
            clusters_allocated=40,
            clusters_analysed=39,
            lost_reasons={"Moved away": 150, "Unknown": 50},
        ),
        ConsortArm(
            "Social norms letter",
            allocated=5100,
            analysed=4950,
            received=5050,
            lost_to_follow_up=150,
            excluded_from_analysis=150,
            clusters_allocated=41,
            clusters_analysed=41,
        ),
    ]


def test_consort_contents():
    svg = consort_diagram(_arms(), assessed=11000, excluded_reasons={"No valid address": 600, "Opted out": 300})
    root = check_common(svg)
    body = flat_text(root)
    for stage in ("Enrolment", "Allocation", "Follow-up", "Analysis"):
        assert stage in body
    for needle in (
        "Assessed for eligibility (n = 11,000)",
        "Excluded (n = 900)",
        "No valid address (n = 600)",
        "Randomised (n = 10,100)",
        "81 clusters",
        "Allocated to Control letter (n = 5,000)",
        "Received allocated intervention (n = 5,050)",
        "Did not receive allocated intervention (n = 50)",
        "Lost to follow-up (n = 200)",
        "Moved away (n = 150)",
        "Analysed (n = 4,800)",
        "39 clusters",
        "Excluded from analysis (n = 150)",
    ):
        assert needle in body, needle
    desc = root[1].text
    assert "10,100 participants randomised in 81 clusters" in desc
    # Arms run left to right in the order given.
    boxes = [g for g in root.iter(Q + "g") if g.get("class") == "bf-box bf-allocated"]
    xs = [float(g.find(Q + "rect").get("x")) for g in boxes]
    assert xs == sorted(xs) and len(xs) == 2
    # Each stage sits below the previous one in every column.
    ys = {}
    for cls in ("bf-allocated", "bf-follow-up", "bf-analysed"):
        ys[cls] = [float(g.find(Q + "rect").get("y")) for g in root.iter(Q + "g") if g.get("class") == f"bf-box {cls}"]
    assert all(a < b < c for a, b, c in zip(ys["bf-allocated"], ys["bf-follow-up"], ys["bf-analysed"]))


def test_consort_minimal_and_escaping():
    arms = [
        ConsortArm(NASTY, allocated=10, analysed=10),
        ConsortArm("B", allocated=12, analysed=11, lost_to_follow_up=1),
    ]
    svg = consort_diagram(arms)
    root = check_common(svg)
    body = flat_text(root)
    assert "Randomised (n = 22)" in body
    assert "Assessed" not in body
    assert "<script>" not in svg
    assert "Analysed (n = 11)" in body


@pytest.mark.parametrize(
    ("arms", "kwargs", "message"),
    [
        (
            [ConsortArm("A", allocated=10, analysed=11)],
            {},
            r"'arms\[0\].analysed' count must be <= allocated \(10\); got 11",
        ),
        (
            [ConsortArm("A", allocated=-1, analysed=0)],
            {},
            r"'arms\[0\].allocated' count must be a non-negative integer; got -1",
        ),
        (
            [ConsortArm("A", allocated=10, analysed=8, excluded_from_analysis=3)],
            {},
            r"analysed \+ excluded_from_analysis <= allocated",
        ),
        (
            [ConsortArm("A", allocated=10, analysed=10)],
            {"randomised": 12},
            r"'randomised' count \(12\) must equal the sum",
        ),
        (
            [ConsortArm("A", allocated=10, analysed=10)],
            {"assessed": 20, "excluded": 5},
            r"assessed - excluded = randomised",
        ),
        (
            [ConsortArm("A", allocated=10, analysed=10)],
            {"assessed": 5},
            r"'assessed' count \(5\) must be >= randomised",
        ),
        (
            [ConsortArm("A", allocated=10, analysed=10)],
            {"assessed": 12, "excluded_reasons": {"x": 3}},
            r"sum to 3, more than excluded \(2\)",
        ),
        (
            [ConsortArm("A", allocated=10, analysed=10, lost_to_follow_up=1, lost_reasons={"x": 2})],
            {},
            r"lost_reasons' counts sum to 2",
        ),
        ([ConsortArm("A", allocated=10, analysed=10, clusters_analysed=3)], {}, r"needs clusters_allocated"),
        (
            [ConsortArm("A", allocated=10, analysed=10, clusters_allocated=2, clusters_analysed=3)],
            {},
            r"must be <= clusters_allocated \(2\)",
        ),
        ([ConsortArm("A", allocated=True, analysed=0)], {}, r"non-negative integer; got True"),
        ([], {}, r"at least one arm"),
    ],
)
def test_consort_argument_errors(arms, kwargs, message):
    with pytest.raises(ValueError, match=message):
        consort_diagram(arms, **kwargs)


# ---------------------------------------------------------------------------
# Power curve
# ---------------------------------------------------------------------------


def _points(poly: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in poly.get("points").split()]


def test_power_curve_geometry_and_labels():
    n = [100, 200, 400, 800, 1600]
    power = [0.10, 0.25, 0.50, 0.80, 0.97]
    svg = power_curve(n, power, planned_n=800, target_power=0.8)
    root = check_common(svg)
    body = all_text(root)
    assert "Planned n = 800" in body
    assert "Target power 80%" in body
    assert "Sample size (n)" in body and "Power" in body
    polys = [p for p in root.iter(Q + "polyline") if p.get("class") == "bf-series"]
    assert len(polys) == 1
    pts = _points(polys[0])
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # larger n further right
    assert ys == sorted(ys, reverse=True)  # higher power drawn higher (smaller SVG y)
    # Linear x axis: equal gaps in n give equal gaps in pixels.
    assert math.isclose(xs[4] - xs[3], 2 * (xs[3] - xs[2]), rel_tol=1e-3)
    # The target line is at the same height as the curve point with power 0.80.
    target = next(el for el in root.iter(Q + "line") if el.get("class") == "bf-target")
    assert math.isclose(float(target.get("y1")), ys[3], abs_tol=0.02)
    planned = next(el for el in root.iter(Q + "line") if el.get("class") == "bf-planned")
    assert math.isclose(float(planned.get("x1")), xs[3], abs_tol=0.02)
    dot = next(el for el in root.iter(Q + "circle") if el.get("class") == "bf-planned-point")
    assert math.isclose(float(dot.get("cy")), ys[3], abs_tol=0.02)
    assert "first reaches 80% at n = 800" in root[1].text


def test_power_curve_several_series():
    n = [50, 100, 150, 200]
    series = {"d = 0.2": [0.1, 0.2, 0.3, 0.4], "d = 0.5": [0.4, 0.7, 0.85, 0.94], NASTY: [0.05, 0.06, 0.07, 0.08]}
    svg = power_curve(n, series, planned_n=120)
    root = check_common(svg)
    polys = [p for p in root.iter(Q + "polyline") if p.get("class") == "bf-series"]
    assert [p.get("data-series") for p in polys] == list(series)
    # Distinct colours and dash patterns, so curves differ without colour vision.
    assert len({p.get("stroke") for p in polys}) == 3
    assert len({p.get("stroke-dasharray") for p in polys}) == 3
    # At each n the curve with more power is drawn higher.
    a, b = _points(polys[0]), _points(polys[1])
    assert all(pb[1] < pa[1] for pa, pb in zip(a, b))
    body = all_text(root)
    assert "d = 0.2" in body and "d = 0.5" in body and NASTY in texts(root)
    assert "does not reach 80%" in root[1].text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": [100, 50], "power": [0.2, 0.3]}, r"'n' parameter must be positive and strictly increasing"),
        ({"n": [100], "power": [0.2]}, r"at least 2 sample sizes"),
        ({"n": [50, 100], "power": [0.2, 1.3]}, r"must lie in \[0, 1\]; got 1.3"),
        ({"n": [50, 100], "power": [0.2]}, r"one value per n \(2\); got 1"),
        ({"n": [50, 100], "power": [0.2, 0.3], "target_power": 80}, r"'target_power' parameter must be in the open range"),
        ({"n": [50, 100], "power": [0.2, 0.3], "planned_n": -5}, r"'planned_n' parameter must be a positive number"),
        ({"n": [50, 100], "power": {}}, r"at least one series"),
    ],
)
def test_power_curve_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        power_curve(**kwargs)


def test_mde_curve_leaves_out_sizes_without_a_detectable_effect():
    svg = mde_curve([10, 20, 40, 80], [math.nan, 0.9, 0.6, 0.4], effect=0.5, planned_n=40)
    root = check_common(svg)
    (poly,) = [p for p in root.iter(Q + "polyline") if p.get("class") == "bf-series"]
    pts = _points(poly)
    assert len(pts) == 3 and [y for _, y in pts] == sorted(y for _, y in pts)  # smaller MDE drawn lower
    target = next(el for el in root.iter(Q + "line") if el.get("class") == "bf-target")
    assert "Planned effect 0.5" in all_text(root)
    assert pts[1][1] < float(target.get("y1")) < pts[2][1]  # 0.6 above the 0.5 line, 0.4 below it
    assert "No effect is detectable at 1 of the sizes" in root[1].text
    with pytest.raises(ValueError, match="at least one finite value"):
        mde_curve([10, 20], [math.nan, math.nan])


def test_power_curve_figure_draws_power_and_mde_of_a_power_curve():
    from bitframe.power import power_curve as compute_curve
    from bitframe.power import two_means

    r = two_means("n", sd=1, mde=0.5, power=0.8)
    curve = compute_curve(r, list(range(10, 160, 10)), planned=50)
    svg = power_curve_figure(curve, title="two means")
    root = check_common(svg)
    assert root[0].text == "two means"
    panels = [el for el in root if el.tag == Q + "svg"]
    assert [p.get("class") for p in panels] == ["bf-figure bf-power", "bf-figure bf-mde"]
    body = all_text(root)
    assert "Participants per control arm" in body and "Target power 80%" in body and "Planned n = 50" in body
    assert "Planned effect 0.5" in body and "Mean difference" in body
    points = {c.find(Q + "title").text for c in root.iter(Q + "circle") if c.get("class") == "bf-planned-point"}
    assert points == {f"Power: power {curve.planned_power:.2f} at n = 50", f"MDE {curve.mde[4]:.4g} at n = 50"}
    assert f"{curve.planned_power:.2f}" == "0.70"
    # Side by side: the second panel starts right of the first.
    assert float(panels[1].get("x")) >= float(panels[0].get("width"))


def test_simulated_power_curve_intervals_and_any_grid():
    svg = simulated_power_curve([0.0, 0.1, 0.2], {"y: nudge": [0.05, 0.4, 0.9]}, {"y: nudge": [0.01, 0.05, 0.02]},
                                x_label="effect")
    root = check_common(svg)
    bars = [g for g in root.iter(Q + "g") if g.get("class") == "bf-interval"]
    assert len(bars) == 3
    (poly,) = [p for p in root.iter(Q + "polyline") if p.get("class") == "bf-series"]
    (_, y_mid) = _points(poly)[1]
    vertical = bars[1].find(Q + "line")
    # The interval 0.4 +/- 1.96 * 0.05 spans the point.
    assert float(vertical.get("y1")) > y_mid > float(vertical.get("y2"))
    assert "y: nudge: 0.05 at 0, 0.40 at 0.1, 0.90 at 0.2." in root[1].text
    with pytest.raises(ValueError, match="'mcse' parameter must hold a series for every power series"):
        simulated_power_curve([1, 2], {"a": [0.1, 0.2]}, {})


def test_diagnosis_figure_has_one_series_per_outcome_arm_and_other_grid_value():
    from types import SimpleNamespace as Row

    rows = [Row(outcome="y", arm=arm, grid={"n": n, "effect": e}, power=p, power_mcse=0.01)
            for arm in ("a", "b") for e in (0.2, 0.5) for n, p in ((400, 0.3), (100, 0.1))]
    svg = diagnosis_figure(Row(trial_id="t", sims=100, rows=rows))
    root = check_common(svg)
    polys = [p for p in root.iter(Q + "polyline") if p.get("class") == "bf-series"]
    assert [p.get("data-series") for p in polys] == [
        "y: a, effect = 0.2", "y: a, effect = 0.5", "y: b, effect = 0.2", "y: b, effect = 0.5"]
    assert root[0].text == "Design diagnosis: t (100 simulations each)"
    xs = [x for x, _ in _points(polys[0])]
    assert xs == sorted(xs)  # sorted by n, whatever the grid's order
    with pytest.raises(ValueError, match="needs a grid"):
        diagnosis_figure(Row(trial_id="t", sims=1, rows=[Row(grid={})]))


def test_figure_row_and_write_svg(tmp_path):
    row = figure_row([power_curve([1, 2], [0.1, 0.2]), mde_curve([1, 2], [0.3, 0.2])], title=NASTY)
    root = check_common(row)
    assert root[0].text == NASTY
    assert "Line chart of statistical power" in root[1].text and "Line chart of the minimum detectable" in root[1].text
    path = write_svg(tmp_path / "f.svg", row)
    assert path.read_text(encoding="utf-8").startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')
    with pytest.raises(ValueError, match=r"must end in .svg \(only SVG is written\); got '.*f.png'"):
        write_svg(tmp_path / "f.png", row)
    assert not (tmp_path / "f.png").exists()
