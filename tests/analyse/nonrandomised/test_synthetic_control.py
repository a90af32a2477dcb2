"""The synthetic control against Abadie, Diamond & Hainmueller (2010), California's Proposition 99.

Reference values: tests/reference/synthetic_control/adh2010_reference.json (Tables 1 and 2 and
section 4.3 of ADH 2010, JASA 105:493-505); data: tests/reference/synthetic_control/smoking.csv
(see the README beside it for provenance and licence).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.nonrandomised.synthetic_control import (
    Predictor,
    SyntheticControlResult,
    donor_weights_for,
    synthetic_control,
)
from bitframe.errors import DataError

REFERENCE = Path(__file__).parents[2] / "reference" / "synthetic_control"


@cache
def reference() -> dict:
    return json.loads((REFERENCE / "adh2010_reference.json").read_text())


@cache
def smoking() -> pd.DataFrame:
    frame = pd.read_csv(REFERENCE / "smoking.csv")
    frame["year"] = frame["year"].astype(int)
    return frame


def adh_predictors() -> list[Predictor]:
    return [Predictor(p["column"], tuple(range(p["periods"][0], p["periods"][1] + 1)))
            for p in reference()["specification"]["predictors"]]


@cache
def california() -> SyntheticControlResult:
    spec = reference()["specification"]
    first, last = spec["optimise_periods"]
    return synthetic_control(smoking(), unit="state", time="year", outcome="cigsale", treated=spec["treated"],
                             first_treated_period=spec["first_treated_period"], predictors=adh_predictors(),
                             optimise_periods=range(first, last + 1), placebos=False)


def _predictor_values(weights: dict[str, float]) -> dict[str, tuple[float, float, float]]:
    """(California, synthetic, bound on the synthetic's rounding error) per Table 1 row."""
    frame = smoking()
    out = {}
    for predictor in adh_predictors():
        rows = frame[frame["year"].isin(predictor.periods)]
        means = rows.groupby("state")[predictor.column].mean()
        key = predictor.column if len(predictor.periods) > 1 else f"{predictor.column}_{predictor.periods[0]}"
        synthetic = sum(w * means[s] for s, w in weights.items())
        # Each printed weight is exact to +-0.0005: the synthetic value is exact to that times the donors' values.
        rounding = 0.0005 * sum(abs(means[s]) for s in weights)
        out[key] = (float(means["California"]), float(synthetic), rounding)
    return out


def test_table1_balance_from_the_printed_weights():
    # ADH Table 1 to its printed two decimals: California's predictor means, and the synthetic
    # California of Table 2's weights (their rounding to three decimals is allowed for).
    values = _predictor_values(reference()["table2_state_weights"]["nonzero"])
    for row in reference()["table1_predictor_means"]["rows"]:
        treated, synthetic, rounding = values[row["column"]]
        assert round(treated, 2) == pytest.approx(row["california"], abs=1e-9), row["column"]
        assert abs(synthetic - row["synthetic"]) <= 0.005 + rounding, row["column"]


def test_fit_recovers_table2_donor_weights():
    # ADH Table 2: the same five donors, each within 0.005 of its printed weight (the nested
    # optimisation is not unique to the last digit: docs/decisions/0008-synthetic-control.md),
    # every other donor zero to three decimals.
    printed = reference()["table2_state_weights"]["nonzero"]
    fitted = california().donor_weights
    assert sum(fitted.values()) == pytest.approx(1.0, abs=1e-10)
    assert set(california().weights(threshold=0.0005)) == set(printed)
    for state, weight in printed.items():
        assert fitted[state] == pytest.approx(weight, abs=0.005), state


def test_fit_is_at_least_as_good_as_the_printed_weights_before_treatment():
    # The nested problem minimises the pre-1989 MSPE: the fitted weights may not fit worse than
    # Table 2's (rounded) weights.
    frame = smoking().pivot(index="year", columns="state", values="cigsale").loc[1970:1988]
    printed = reference()["table2_state_weights"]["nonzero"]
    synthetic = sum(w * frame[s] for s, w in printed.items())
    printed_rmspe = float(np.sqrt(np.mean((frame["California"] - synthetic) ** 2)))
    assert california().pre_rmspe <= printed_rmspe + 1e-6
    gap = {g.period: g.gap for g in california().gaps}
    # ADH abstract: "by the year 2000 annual per-capita cigarette sales in California were about
    # 26 packs lower than what they would have been in the absence of Proposition 99".
    assert round(gap[2000]) == -26


def test_inner_weights_agree_with_pysyncon():
    # pysyncon 1.7 (MIT; written to reconcile with R's Synth) solves the inner problem with SLSQP.
    # With equal predictor weights both find the same donor weights; with the V the nested fit
    # chose, where an exact match of the predictors is possible, SLSQP stops at its default
    # tolerance and ours gets at least as close (the reason recorded in docs/decisions/0008-synthetic-control.md).
    from pysyncon import Synth

    result = california()
    frame = smoking()
    units = ["California", *result.donor_weights]
    X = pd.DataFrame({p.label: frame[frame["year"].isin(p.periods)].groupby("state")[p.column].mean()
                      for p in adh_predictors()}).T[units]
    Z = frame.pivot(index="year", columns="state", values="cigsale").loc[1970:1988, units]
    scaled = X.div(X.std(axis=1), axis=0)
    X0, X1 = scaled[units[1:]].to_numpy(), scaled["California"].to_numpy()

    def objective(w: np.ndarray, v: np.ndarray) -> float:
        return float((X1 - X0 @ w) @ np.diag(v) @ (X1 - X0 @ w))

    fitted_v = np.array([b.weight for b in result.predictor_balance])
    np.testing.assert_allclose(donor_weights_for(X0, X1, fitted_v), list(result.donor_weights.values()), atol=1e-12)
    for v, tolerance in ((np.full(len(X), 1 / len(X)), 1e-3), (fitted_v, None)):
        synth = Synth()
        synth.fit(X0=X[units[1:]], X1=X["California"], Z0=Z[units[1:]], Z1=Z["California"], custom_V=v)
        ours = donor_weights_for(X0, X1, v)
        assert objective(ours, v) <= objective(synth.W, v) + 1e-12
        if tolerance is not None:
            np.testing.assert_allclose(ours, synth.W, atol=tolerance)


@pytest.mark.slow
def test_placebo_in_space_p_value_is_one_in_39():
    # ADH section 4.3: California's post/pre RMSPE ratio is the largest of all 39 states: p = 1/39.
    spec = reference()["specification"]
    result = synthetic_control(smoking(), unit="state", time="year", outcome="cigsale", treated="California",
                               first_treated_period=spec["first_treated_period"], predictors=adh_predictors())
    expected = reference()["section_4_inference"]
    assert len(result.placebos) == expected["units"]
    assert result.p_value == pytest.approx(expected["p_value"], abs=1e-15)
    assert max(result.placebos, key=lambda r: r.ratio).unit == "California"


def _toy_panel(effect: float = 30.0, units: int = 6, periods: int = 12, start: int = 9) -> pd.DataFrame:
    rng = np.random.default_rng(20100)
    rows = []
    trend = np.linspace(100, 80, periods)
    for u in range(units):
        level = 5.0 * u
        for t in range(periods):
            y = trend[t] + level + rng.normal(0, 0.5) + (effect if (u == 2 and t >= start) else 0.0)
            rows.append({"area": f"a{u}", "month": t, "y": y})
    return pd.DataFrame(rows)


def test_placebos_rank_a_clear_effect_first():
    # A unit whose outcome jumps by 30 (noise sd 0.5) after treatment has the largest RMSPE
    # ratio of the six: the smallest placebo p-value possible, 1/6.
    result = synthetic_control(_toy_panel(), unit="area", time="month", outcome="y", treated="a2",
                               first_treated_period=9)
    assert result.p_value == pytest.approx(1 / 6)
    assert result.average_gap == pytest.approx(30.0, abs=2.0)
    frame = result.to_frame()
    assert list(frame.columns) == ["period", "treated", "synthetic", "gap", "post"]
    assert frame["post"].sum() == 3


def _error(**changes) -> DataError:
    kwargs = {"unit": "area", "time": "month", "outcome": "y", "treated": "a2", "first_treated_period": 9,
              "placebos": False, "label": "panel.csv"}
    panel = changes.pop("panel", _toy_panel())
    kwargs.update(changes)
    with pytest.raises(DataError) as caught:
        synthetic_control(panel, **kwargs)
    return caught.value


def test_treated_unit_missing_is_located():
    problem = _error(treated="a9").problems[0]
    assert (problem.code, problem.file, problem.field) == ("BF271", "panel.csv", "area")
    assert "'a9' is not in the panel" in problem.message


def test_donor_pool_of_one_is_refused():
    problem = _error(donors=["a1"]).problems[0]
    assert problem.code == "BF272"
    assert "donor pool has 1 unit" in problem.message


def test_too_few_pre_periods_is_refused():
    problem = _error(first_treated_period=1).problems[0]
    assert problem.code == "BF274"
    assert "1 period(s) before 1" in problem.message


def test_unbalanced_panel_names_the_missing_unit_and_period():
    panel = _toy_panel()
    panel = panel[~((panel["area"] == "a4") & (panel["month"] == 3))]
    problem = _error(panel=panel).problems[0]
    assert (problem.code, problem.field) == ("BF275", "y")
    assert "'a4' in 3" in problem.message


def test_repeated_unit_period_is_refused():
    panel = _toy_panel()
    panel = pd.concat([panel, panel.iloc[[5]]])
    assert _error(panel=panel).problems[0].code == "BF273"


def test_predictor_after_treatment_is_refused():
    problem = _error(predictors=[Predictor("y", (10,))]).problems[0]
    assert problem.code == "BF274"
    assert "not pre-treatment" in problem.message
