"""Interrupted time series against R on the Sicily smoking-ban example.

Reference: Lopez Bernal, Cummins & Gasparrini (2017) Int J Epidemiol 46:348-355 (data and R code
published with the paper); R's glm, lm, sandwich::NeweyWest, arima, lmtest::dwtest and Box.test,
committed in tests/reference/nonrandomised/its_sicily_reference.{R,json}.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from bitframe.analyse.nonrandomised.its import interrupted_time_series, newey_west_lags
from bitframe.errors import DataError

REF = Path(__file__).parents[2] / "reference" / "nonrandomised"
R = json.loads((REF / "its_sicily_reference.json").read_text())
# R's names for our terms
R_NAMES = {"const": "(Intercept)", "level_change": "smokban", "slope_change": "after_time", "time": "time",
           "sin1": "sin1", "cos1": "cos1", "sin2": "sin2", "cos2": "cos2"}
LINEAR_NAMES = {**R_NAMES, "const": "intercept"}


@pytest.fixture(scope="module")
def sicily() -> pd.DataFrame:
    data = pd.read_csv(REF / "sicily.csv")
    return data.assign(rate=data.aces / data.stdpop * 1e5)


def _agree(result, reference, names=R_NAMES, *, estimate=1e-8, se=1e-8):
    ref = dict(zip(reference["names"], zip(reference["estimate"], reference["std_error"], strict=True), strict=True))
    for c in result.coefficients:
        b, s = ref[names[c.term]]
        assert c.estimate == pytest.approx(b, rel=estimate, abs=estimate), c.term
        assert c.std_error == pytest.approx(s, rel=se, abs=se), c.term


def test_quasi_poisson_with_seasonality_matches_the_tutorial(sicily):
    """Model 3 of the tutorial: step change, harmonic(month, 2, 12), quasi-Poisson."""
    result = interrupted_time_series(sicily, time="time", outcome="aces", start=37, model="poisson",
                                     errors="model", offset="stdpop", season_period=12, harmonics=2,
                                     season_column="month", slope_change=False)
    _agree(result, R["model3"], se=1e-5)  # quasi SEs scale with the dispersion (below)
    # R's IRLS stops when the deviance changes by under 1e-8 (relative): the Pearson dispersion agrees to 1e-5
    assert result.dispersion == pytest.approx(R["model3"]["dispersion"], rel=1e-5)
    # the rate ratio and its 95% CI as the tutorial's code prints them (round(ci.lin(model3, Exp=T), 3))
    assert round(math.exp(result.level_change.estimate), 3) == round(R["model3"]["rr_smokban"], 3) == 0.885
    assert round(math.exp(result.level_change.ci_lower), 3) == round(R["model3"]["rr_ci1"], 3) == 0.839
    assert round(math.exp(result.level_change.ci_upper), 3) == round(R["model3"]["rr_ci2"], 3) == 0.933
    assert result.ljung_box_lags == 12
    assert result.ljung_box_statistic == pytest.approx(R["model3_ljung_box_lag12"]["statistic"], rel=1e-8)
    assert result.ljung_box_p_value == pytest.approx(R["model3_ljung_box_lag12"]["p_value"], rel=1e-6)


def test_models_without_seasonality_and_with_a_slope_change(sicily):
    model2 = interrupted_time_series(sicily, time="time", outcome="aces", start=37, model="poisson",
                                     errors="model", offset="stdpop", slope_change=False)
    _agree(model2, R["model2"], se=1e-5)
    model4 = interrupted_time_series(sicily, time="time", outcome="aces", start=37, model="poisson",
                                     errors="model", offset="stdpop", season_period=12, harmonics=2,
                                     season_column="month")
    _agree(model4, R["model4"], se=1e-5)


def test_newey_west_errors_match_sandwich(sicily):
    assert newey_west_lags(60) == 3
    poisson = interrupted_time_series(sicily, time="time", outcome="aces", start=37, model="poisson",
                                      errors="newey_west", offset="stdpop", season_period=12, harmonics=2,
                                      season_column="month", slope_change=False)
    _agree(poisson, R["model3_poisson_newey_west_lag3"], se=1e-5)  # R glm converged to 1e-8 in deviance
    linear = interrupted_time_series(sicily, time="time", outcome="rate", start=37)
    assert linear.lags == 3
    _agree(linear, R["linear_newey_west_lag3"])
    assert linear.durbin_watson == pytest.approx(R["linear_durbin_watson"], rel=1e-10)


def test_arima_errors_match_r_arima(sicily):
    result = interrupted_time_series(sicily, time="time", outcome="rate", start=37, errors="arima")
    # maximum likelihood by two optimisers: agreement to the optimiser's tolerance
    _agree(result, R["linear_ar1"], LINEAR_NAMES, estimate=1e-3, se=2e-3)


def test_a_comparison_series_gives_the_difference_in_changes(sicily):
    treated = sicily.assign(area="sicily")
    # a comparison series with the same trend and no ban effect: the difference is Sicily's own change
    comparison = sicily.assign(area="control", rate=194.1 + 1.036 * sicily.time)
    both = pd.concat([treated, comparison], ignore_index=True)
    result = interrupted_time_series(both, time="time", outcome="rate", start=37, unit="area",
                                     comparison_unit="control", errors="model")
    alone = interrupted_time_series(sicily, time="time", outcome="rate", start=37, errors="model")
    assert result.comparison
    assert result.level_change.estimate == pytest.approx(alone.level_change.estimate, abs=1e-8)
    assert result.slope_change is not None and alone.slope_change is not None
    assert result.slope_change.estimate == pytest.approx(alone.slope_change.estimate, abs=1e-8)


def test_bad_series_are_located_errors(sicily):
    with pytest.raises(DataError) as err:
        interrupted_time_series(sicily, time="time", outcome="rate", start=3, source="sicily.csv")
    assert err.value.problems[0].code == "BF235" and err.value.problems[0].file == "sicily.csv"
    with pytest.raises(DataError) as err:
        interrupted_time_series(pd.concat([sicily, sicily.head(1)]), time="time", outcome="rate", start=37)
    assert err.value.problems[0].code == "BF232"
    gap = sicily.astype({"rate": object})
    gap.loc[10, "rate"] = ""
    with pytest.raises(DataError) as err:
        interrupted_time_series(gap, time="time", outcome="rate", start=37)
    assert err.value.problems[0].code == "BF237" and err.value.problems[0].row == 12
