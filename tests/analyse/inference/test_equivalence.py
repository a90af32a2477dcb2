"""TOST, non-inferiority and TOST power against PowerTOST's documentation and base R.

References: PowerTOST (Labes, Schuetz & Lang) documents ``power.TOST(CV = 0.3, n = 40)`` = 0.8158453
(2x2 crossover, theta0 0.95, margins 0.80-1.25, method "exact"); ``tests/reference/inference/
equivalence_reference.json`` from ``tests/reference/inference_equivalence_reference.R`` (exact power by
R's integrate(), normal-approximation power, TOST p-values by pt/pnorm).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bitframe.analyse.inference.equivalence import (
    equivalence_effect,
    non_inferiority,
    tost,
    tost_power,
    tost_power_two_means,
    tost_power_two_proportions,
    tost_sample_size_two_means,
)
from bitframe.analyse.results import Estimate

REF = json.loads((Path(__file__).resolve().parents[2] / "reference" / "inference" / "equivalence_reference.json").read_text())


def test_powertost_documented_example():
    """power.TOST(CV = 0.3, n = 40) = 0.8158453: se = sqrt(log(1 + CV^2)) sqrt(2 / n), df = n - 2."""
    se = math.sqrt(math.log(1 + 0.3**2)) * math.sqrt(2 / 40)
    p = tost_power(math.log(0.95), se, 38, lower=math.log(0.8), upper=math.log(1.25))
    assert p == pytest.approx(0.8158453, abs=5e-8)
    assert REF["crossover_powertost_example"] == pytest.approx(0.8158453, abs=5e-8)


def _power_case_id(c: dict) -> str:
    return f"d{c['delta']}-sd{c['sd']}-n{c['n_control']}-{c['n_treatment']}-m{c['upper']}-a{c['alpha']}"


@pytest.mark.parametrize("case", REF["power"], ids=_power_case_id)
def test_two_means_power_matches_r(case):
    kw = {"delta": case["delta"], "sd": case["sd"], "n_control": case["n_control"], "n_treatment": case["n_treatment"],
          "lower": case["lower"], "upper": case["upper"], "alpha": case["alpha"]}
    assert tost_power_two_means(**kw) == pytest.approx(case["exact"], abs=1e-8)
    assert tost_power_two_means(**kw, method="normal") == pytest.approx(case["normal"], abs=1e-10)


@pytest.mark.parametrize("case", REF["tost_p"], ids=lambda c: f"{c['estimate']}-{c['std_error']}-{c['df']}")
def test_tost_p_values_match_r(case):
    df = math.inf if case["df"] == "inf" else case["df"]
    r = tost(case["estimate"], case["std_error"], df, lower=case["lower"], upper=case["upper"])
    assert r.p_lower == pytest.approx(case["p_lower"], rel=1e-10, abs=1e-300)
    assert r.p_upper == pytest.approx(case["p_upper"], rel=1e-10, abs=1e-300)
    assert r.p_value == pytest.approx(case["p_value"], rel=1e-10)
    # duality: equivalent at alpha iff the 1 - 2 alpha CI lies inside the margins
    assert r.conclusion == (r.ci_lower > case["lower"] and r.ci_upper < case["upper"])


def test_size_of_tost_at_the_margin_is_at_most_alpha():
    """At delta = U the exact power is the type I error and is below alpha (TOST is conservative)."""
    for n in (10, 40, 200):
        p = tost_power_two_means(delta=0.5, sd=1, n_control=n, n_treatment=n, lower=-0.5, upper=0.5)
        assert p <= 0.05 + 1e-12
    assert tost_power_two_means(delta=0.5, sd=1, n_control=5000, n_treatment=5000, lower=-0.5, upper=0.5) == \
        pytest.approx(0.05, abs=1e-3)


def test_proportions_power_and_sample_size():
    # Chow, Shao & Wang (2008) 4.2 formula written out: two one-sided normal tests
    p0, p1, n = 0.65, 0.70, 300
    se = math.sqrt(p0 * (1 - p0) / n + p1 * (1 - p1) / n)
    from scipy.stats import norm

    expected = norm.cdf((0.15 - 0.05) / se - norm.ppf(0.95)) - norm.cdf((-0.15 - 0.05) / se + norm.ppf(0.95))
    assert tost_power_two_proportions(p0=p0, p1=p1, n_control=n, n_treatment=n, lower=-0.15,
                                      upper=0.15) == pytest.approx(expected, rel=1e-12)
    n0, n1, achieved = tost_sample_size_two_means(delta=0.0, sd=1.0, lower=-0.5, upper=0.5, power=0.9)
    assert achieved >= 0.9
    assert tost_power_two_means(delta=0.0, sd=1.0, n_control=n0 - 1, n_treatment=n1 - 1, lower=-0.5, upper=0.5) < 0.9


def test_non_inferiority_and_tidy_rows():
    ni = non_inferiority(-0.05, 0.04, 100, margin=0.1)
    from scipy.stats import t

    assert ni.p_value == pytest.approx(t.sf((-0.05 + 0.1) / 0.04, 100))
    worse = non_inferiority(0.05, 0.04, math.inf, margin=0.1, higher_is_better=False)
    assert worse.p_value == pytest.approx(__import__("scipy").stats.norm.cdf((0.05 - 0.1) / 0.04))
    est = Estimate(term="sms", estimate=0.02, std_error=0.05, statistic=0.4, df=200, p_value=0.7, ci_lower=-0.08,
                   ci_upper=0.12, ci_level=0.95, estimator="ols", se_type="HC2", n=202)
    row = equivalence_effect(est, lower=-0.15, upper=0.15, outcome="y")
    assert row.method == "tost" and row.ci_level == pytest.approx(0.9) and row.outcome == "y"
    assert row.p_value == pytest.approx(tost(0.02, 0.05, 200, lower=-0.15, upper=0.15).p_value)
    assert equivalence_effect(est, margin=0.1).method == "non_inferiority"


def test_argument_errors():
    with pytest.raises(ValueError, match="lower < upper"):
        tost(0.0, 1.0, lower=0.5, upper=-0.5)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        tost(0.0, 1.0, lower=-1, upper=1, alpha=0.6)
    with pytest.raises(ValueError, match="'margin' parameter"):
        non_inferiority(0.0, 1.0, margin=-1)
