"""Callaway & Sant'Anna difference-in-differences against R's `did` on the minimum-wage example.

Reference: Callaway & Sant'Anna (2021), J Econometrics 225:200-230, and the did package's
vignette; R output committed in tests/reference/nonrandomised/ (see its README for the source).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bitframe.analyse.nonrandomised.did import difference_in_differences
from bitframe.errors import DataError

REF = Path(__file__).parents[2] / "reference" / "nonrandomised"
SCENARIOS = {"never_treated": "mpdta_nev_dr", "not_yet_treated": "mpdta_nyt_dr"}


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(REF / "mpdta.csv")


@pytest.fixture(scope="module", params=list(SCENARIOS))
def fitted(request, mpdta):
    return request.param, difference_in_differences(
        mpdta, unit="countyreal", time="year", outcome="lemp", first_treated="first.treat", comparison=request.param)


def test_group_time_effects_match_r_did(fitted):
    comparison, result = fitted
    ref = pd.read_csv(REF / "mpdta_did_attgt.csv")
    ref = ref[ref.scenario == SCENARIOS[comparison]]
    ours = {(g, t): e for g, t, e in result.group_time}
    assert len(ours) == len(ref) == 12
    for row in ref.itertuples():
        assert ours[(row.group, row.t)].estimate == pytest.approx(row.att, abs=1e-10)
        assert ours[(row.group, row.t)].std_error == pytest.approx(row.se, abs=1e-8)


def test_aggregations_match_r_did(fitted):
    comparison, result = fitted
    ref = pd.read_csv(REF / "mpdta_did_aggte.csv")
    ref = ref[ref.scenario == SCENARIOS[comparison]]
    simple = ref[ref.type == "simple"].iloc[0]
    assert result.overall.estimate == pytest.approx(simple.overall_att, abs=1e-10)
    assert result.overall.std_error == pytest.approx(simple.overall_se, abs=1e-8)
    dynamic = ref[ref.type == "dynamic"]
    event = dict(result.event_study)
    for row in dynamic.itertuples():
        assert event[int(row.egt)].estimate == pytest.approx(row.att_egt, abs=1e-10)
        assert event[int(row.egt)].std_error == pytest.approx(row.se_egt, abs=1e-8)
    groups = dict(result.groups)
    for row in ref[ref.type == "group"].itertuples():
        assert groups[int(row.egt)].estimate == pytest.approx(row.att_egt, abs=1e-10)
        assert groups[int(row.egt)].std_error == pytest.approx(row.se_egt, abs=1e-8)


def test_printed_vignette_values_to_their_precision(mpdta):
    """The did vignette prints ATT(g,t) to 4 decimals and the overall simple ATT -0.04 (never treated)."""
    result = difference_in_differences(mpdta, unit="countyreal", time="year", outcome="lemp",
                                       first_treated="first.treat")
    printed = {(2004, 2004): -0.0105, (2004, 2005): -0.0704, (2004, 2006): -0.1373, (2004, 2007): -0.1008,
               (2006, 2004): 0.0065, (2006, 2005): -0.0028, (2006, 2006): -0.0046, (2006, 2007): -0.0412,
               (2007, 2004): 0.0305, (2007, 2005): -0.0027, (2007, 2006): -0.0311, (2007, 2007): -0.0261}
    ours = {(g, t): round(e.estimate, 4) for g, t, e in result.group_time}
    assert ours == printed
    assert round(result.overall.estimate, 2) == -0.04
    # the pre-trend test has three pre-start event times (-3, -2, -1); the event-study Wald test is ours,
    # not did's test over every pre-start ATT(g,t) (p = 0.168), so only its shape is pinned here
    assert result.pretrend_df == 3 and 0 < result.pretrend_p_value < 1


def test_bootstrap_inference_is_seeded_and_close_to_the_analytic_se(mpdta):
    kwargs = {"unit": "countyreal", "time": "year", "outcome": "lemp", "first_treated": "first.treat",
                  "inference": "bootstrap", "bootstrap_reps": 999}
    first = difference_in_differences(mpdta, seed=7, **kwargs)
    again = difference_in_differences(mpdta, seed=7, **kwargs)
    assert first.overall == again.overall
    assert first.overall.estimate == pytest.approx(-0.0399512751551763, abs=1e-12)
    assert first.overall.std_error == pytest.approx(0.0120340127701854, rel=0.15)


def _panel(starts: dict[str, int], periods=(1, 2, 3, 4)) -> pd.DataFrame:
    return pd.DataFrame([(u, t, g, float(t)) for u, g in starts.items() for t in periods],
                        columns=["area", "month", "start", "y"])


def test_an_unbalanced_panel_is_a_located_error():
    panel = _panel({"a": 3, "b": 0, "c": 0}).drop(index=5).reset_index(drop=True)
    with pytest.raises(DataError) as err:
        difference_in_differences(panel, unit="area", time="month", outcome="y", first_treated="start",
                                  source="panel.csv")
    problem = err.value.problems[0]
    assert problem.code == "BF233" and problem.file == "panel.csv"
    assert "unit 'b' lacks period(s) 2" in problem.message and problem.row == 6


def test_a_start_that_changes_within_a_unit_is_a_located_error():
    panel = _panel({"a": 3, "b": 0, "c": 0})
    panel.loc[2, "start"] = 0  # unit a, third row: treatment "switches off"
    with pytest.raises(DataError) as err:
        difference_in_differences(panel, unit="area", time="month", outcome="y", first_treated="start")
    assert err.value.problems[0].code == "BF234" and err.value.problems[0].row == 2


def test_too_few_pre_periods_and_no_comparison_are_located_errors():
    with pytest.raises(DataError) as err:
        difference_in_differences(_panel({"a": 2, "b": 0}), unit="area", time="month", outcome="y",
                                  first_treated="start", pre_periods=2)
    assert err.value.problems[0].code == "BF235" and "1 period(s) before its start (2)" in err.value.problems[0].message
    with pytest.raises(DataError) as err:
        difference_in_differences(_panel({"a": 3, "b": 3}), unit="area", time="month", outcome="y",
                                  first_treated="start")
    assert err.value.problems[0].code == "BF236"


def test_missing_columns_and_non_numeric_periods_are_located_errors():
    with pytest.raises(DataError) as err:
        difference_in_differences(_panel({"a": 3, "b": 0}), unit="area", time="monht", outcome="y",
                                  first_treated="start")
    assert err.value.problems[0].code == "BF230" and "month" in (err.value.problems[0].hint or "")
    panel = _panel({"a": 3, "b": 0}).astype({"month": object})
    panel.loc[4, "month"] = "May"
    with pytest.raises(DataError) as err:
        difference_in_differences(panel, unit="area", time="month", outcome="y", first_treated="start")
    assert err.value.problems[0].code == "BF231" and err.value.problems[0].row == 6


def _roll_out(pre_trend: float, seed: int) -> pd.DataFrame:
    """8 areas starting two a quarter (months 7, 10, 13, 16) over 24 months; later starters drift by
    ``pre_trend`` a month more than earlier ones before they start (a violation of parallel trends)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for i, start in enumerate([7, 7, 10, 10, 13, 13, 16, 16]):
        level = rng.normal(40, 4)
        for month in range(1, 25):
            drift = pre_trend * (i // 2) * month if month < start else pre_trend * (i // 2) * start
            rows.append((f"area{i}", month, start, level + drift + 3.0 * (month >= start) + rng.normal(0, 1)))
    return pd.DataFrame(rows, columns=["area", "month", "start", "y"])


def test_with_few_units_the_pre_trend_check_is_a_slope_that_finds_a_built_in_drift():
    kwargs = {"unit": "area", "time": "month", "outcome": "y", "first_treated": "start",
              "comparison": "not_yet_treated"}
    parallel = difference_in_differences(_roll_out(0.0, seed=5), **kwargs)
    drifting = difference_in_differences(_roll_out(0.5, seed=5), **kwargs)
    assert parallel.pretrend_kind == drifting.pretrend_kind == "slope" and parallel.pretrend_df == 1
    assert parallel.pretrend_p_value > 0.05
    assert drifting.pretrend_p_value < 0.01
    assert parallel.overall.estimate == pytest.approx(3.0, abs=1.0)  # the built-in effect
