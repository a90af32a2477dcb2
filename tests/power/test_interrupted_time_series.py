"""Power of an interrupted time series' level change with AR(1) errors (issue 19 item 6).

References (``tests/reference/its_power_reference.R``, R 4.2 with nlme 3.1):
* the variance of the level change under generalised least squares equals nlme ``gls`` with the
  AR(1) correlation fixed (an independent implementation) to 1e-10, and with no autocorrelation the
  ordinary least squares ``(X'X)^-1``;
* the analytic power equals the rejection rate of 2,000 simulated series (Prais-Winsten-transformed
  regression with the autocorrelation known, lm's t-test) within 3 Monte Carlo standard errors, the
  simulation design of Zhang, Wagner & Ross-Degnan (2011, J Clin Epidemiol 64:1252);
* the note's warning holds: with the autocorrelation estimated (ARIMA by maximum likelihood, what
  ``errors: arima`` runs) short series reject more often than the analytic power.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bitframe.power import CALCULATORS, evaluate
from bitframe.power.interrupted_time_series import interrupted_time_series, its_level_change_variance

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "its_power_reference.json").read_text())
CASES = [pytest.param(c, id=c["name"]) for c in REF["cases"]]


def _args(case):
    return {"sd": case["sd"], "pre_periods": case["pre_periods"], "post_periods": case["post_periods"],
            "autocorrelation": case["autocorrelation"], "slope_change": case["slope_change"]}


@pytest.mark.parametrize("case", CASES)
def test_the_variance_equals_nlme_gls_and_the_ols_sandwich(case):
    args = _args(case)
    del args["sd"]
    assert its_level_change_variance(**args, errors="arima") == pytest.approx(case["gls_variance_unscaled"],
                                                                               rel=1e-9)
    assert its_level_change_variance(**args, errors="newey_west") == pytest.approx(
        case["ols_sandwich_variance_unscaled"], rel=1e-10)


@pytest.mark.parametrize("case", CASES)
def test_the_power_equals_the_simulated_rejection_rate_with_known_autocorrelation(case):
    r = interrupted_time_series("power", mde=case["mde"], **_args(case))
    assert abs(r.power - case["simulated_power_known_phi"]) <= 3 * case["mc_se_known_phi"], r.power
    # the note's warning: with the autocorrelation estimated, a short series rejects more often
    assert case["simulated_power_arima"] > r.power + 3 * case["mc_se_arima"]


def test_without_autocorrelation_both_estimators_agree_and_the_mde_inverts_the_power():
    gls = interrupted_time_series("power", sd=2, pre_periods=12, post_periods=12, mde=1.5)
    ols = interrupted_time_series("power", sd=2, pre_periods=12, post_periods=12, mde=1.5, errors="newey_west")
    assert gls.power == pytest.approx(ols.power, rel=1e-12)
    mde = interrupted_time_series("mde", sd=2, pre_periods=12, post_periods=12, power=0.8, autocorrelation=0.4)
    again = interrupted_time_series("power", sd=2, pre_periods=12, post_periods=12, mde=mde.mde, autocorrelation=0.4)
    assert again.power == pytest.approx(0.8, abs=1e-9) and mde.df == 20


def test_autocorrelation_costs_least_squares_power_and_a_longer_series_buys_it_back():
    base = {"sd": 1.0, "mde": 1.0, "errors": "newey_west"}
    short = [interrupted_time_series("power", pre_periods=12, post_periods=12, autocorrelation=phi, **base).power
             for phi in (0.0, 0.3, 0.6)]
    assert short[0] > short[1] > short[2]
    longer = interrupted_time_series("power", pre_periods=36, post_periods=36, autocorrelation=0.6, **base).power
    assert longer > short[2]
    # generalised least squares uses the autocorrelation: its level change is never less precise
    gls = interrupted_time_series("power", pre_periods=12, post_periods=12, autocorrelation=0.6, sd=1.0, mde=1.0)
    assert gls.power >= short[2]


def test_a_power_curve_varies_the_periods_after_the_start():
    from bitframe.power import power_curve

    r = interrupted_time_series("power", sd=1, pre_periods=24, post_periods=24, mde=0.8, autocorrelation=0.3)
    curve = power_curve(r, [12, 24, 48])
    assert float(curve.power[1]) == pytest.approx(r.power, rel=1e-12)
    assert list(curve.power) == sorted(curve.power) and len(set(curve.power)) == 3


def test_it_is_a_registered_calculator_and_bad_inputs_are_plain_errors():
    assert "interrupted_time_series" in CALCULATORS
    r = evaluate("interrupted_time_series", "power", {"sd": 1, "pre_periods": 24, "post_periods": 24, "mde": 0.8})
    assert r.design == "interrupted_time_series" and r.n_periods == 48 and "AR(1)" in r.note
    with pytest.raises(ValueError, match="'autocorrelation' parameter"):
        interrupted_time_series("power", sd=1, pre_periods=24, post_periods=24, mde=1, autocorrelation=1.0)
    with pytest.raises(ValueError, match="at least 2 periods from the start"):
        interrupted_time_series("power", sd=1, pre_periods=24, post_periods=1, mde=1)
    with pytest.raises(ValueError, match="solving for power needs mde"):
        interrupted_time_series("power", sd=1, pre_periods=24, post_periods=24)


def test_bitframe_power_reads_a_time_series_design(tmp_path, capsys):
    """A protocol's `design: power:` for a time series gives the calculator's power and MDE (GLS for ARIMA errors)."""
    from bitframe.cli import main
    from bitframe.power.protocol import power_for_protocol
    from bitframe.protocol import load_protocol

    protocol = tmp_path / "series.yaml"
    protocol.write_text("""bitframe: 1
trial: {id: series, title: A series, site: Reference, programme_area: helping_ourselves}
context: {target_behaviour: Someone does something}
arms:
  - {id: scheme, name: Scheme, role: intervention, mechanism: {east: [easy]}}
no_control: true
design:
  type: interrupted_time_series
  time_column: month
  intervention_start: 25
  interrupted_time_series: {errors: arima}
  power: {pre_periods: 24, post_periods: 24, autocorrelation: 0.3}
outcomes:
  - {id: y, role: primary, type: continuous, column: y, assumptions: {control_mean: 40, sd: 1, mde: 1}}
""", encoding="utf-8")
    (row,) = power_for_protocol(load_protocol(protocol))
    expected = interrupted_time_series("power", sd=1, pre_periods=24, post_periods=24, mde=1, autocorrelation=0.3)
    assert row.power == expected.power and row.design == "interrupted_time_series" and row.size_unit == "periods"
    assert main(["power", str(protocol)]) == 0
    out = capsys.readouterr().out
    assert f"power {expected.power:.1%} at 48 periods; needed not solved for (periods fixed)" in out
    from bitframe.register import write_pack

    write_pack(protocol, tmp_path / "pack", docx=False)
    html = (tmp_path / "pack" / "protocol.html").read_text(encoding="utf-8")
    assert "lag-1 autocorrelation of 0.3 in the errors" in html and "one series of 48 periods" in html
