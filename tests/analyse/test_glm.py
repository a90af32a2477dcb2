"""Tests of bitframe.analyse.glm against R (glm, MASS::glm.nb, sandwich), plus properties and errors.

Reference values come from ``tests/reference/glm_reference.R`` (R 4.2, sandwich, MASS), which also
wrote the datasets. Sources: R ``stats::glm``; Venables & Ripley (2002) MASS 4th ed. sec. 7.4
(``glm.nb``); Zeileis (2004, 2006), Zeileis, Koell & Graham (2020) for ``vcovHC``/``vcovCL``;
Williams (2012) Stata Journal 12(2) for the average marginal effect with delta-method SE.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse import glm
from bitframe.analyse.results import Estimate
from bitframe.analyse.variance import CR_SE_TYPES

REF = __import__("pathlib").Path(__file__).resolve().parents[1] / "reference" / "glm"
RESULTS = pd.read_csv(REF / "glm_results.csv")
CASES = json.loads((REF / "glm_cases.json").read_text())
FITTERS = {
    "binomial": glm.logistic_regression,
    "poisson": glm.poisson_regression,
    "negative_binomial": glm.negative_binomial_regression,
}
FIELDS = ("estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper")
#: glm_reference.R names its vcovCL cases after bitframe 0.1's GLM se_types; one name now means one
#: formula everywhere (bitframe.analyse.variance): its "stata" column, vcovCL(type = "HC0",
#: cadjust = TRUE) = CR0 * G/(G-1), is "CR1"; its "CR1" column, vcovCL(type = "HC1") =
#: CR0 * G/(G-1) * (n-1)/(n-k), is "stata" (CR1S).
SE_TYPE_OF_R_CASE = {"stata": "CR1", "CR1": "stata"}


def _se_type(case: dict) -> str:
    return SE_TYPE_OF_R_CASE.get(case["se_type"], case["se_type"])


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{name}.csv")


def _fit_case(case: dict):
    data = _data(case["dataset"])
    terms = case["rhs"].split(" + ")
    covs = [t for t in ("x1", "x2") if t in terms]
    kwargs = {}
    if any(t.startswith("offset") for t in terms):
        kwargs["exposure"] = data["exposure"]
    if _se_type(case) in CR_SE_TYPES:
        kwargs["clusters"] = data["cluster"]
    return FITTERS[case["family"]](
        data["y"], data["arm"], control="control", covariates=data[covs] if covs else None,
        se_type=_se_type(case), **kwargs,
    )


def _r_term(term: str) -> str:
    # R names arm dummies "armsms"; bitframe "arm[sms]"
    return f"arm[{term[3:]}]" if term.startswith("arm") else term


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_matches_r(case):
    """Coefficients, per-arm ratios and AMEs, SEs, z, p and CIs match R to relative 1e-6.

    Reference: R glm(family=binomial|poisson) / MASS::glm.nb with sandwich::vcovHC/vcovCL
    (tests/reference/glm_reference.R). GLMs agree to ~1e-12, glm.nb to ~1e-9 (its theta is
    found by alternating optimisation with MASS's own stopping rule).
    """
    res = _fit_case(case)
    ref = RESULTS[RESULTS["case"] == case["case"]]
    # R's rows: every coefficient, then ratio and AME per arm (the log ratio is the arm coefficient)
    assert len(ref) == len(res.coefficients) + 2 * len(res.arms)
    log_scale = "log_odds_ratio" if case["family"] == "binomial" else "log_rate_ratio"
    for arm in res.arms:
        coef = next(e for e in res.coefficients if e.term == f"arm[{arm}]")
        assert res.effect(arm, log_scale).estimate == coef.estimate
        assert res.effect(arm, log_scale).std_error == coef.std_error
    for _, row in ref.iterrows():
        if row["scale"] == "coefficient":
            est = next(e for e in res.coefficients if e.term == _r_term(row["term"]))
        else:
            est = res.effect(row["term"], row["scale"])
        for f in FIELDS:
            assert getattr(est, f) == pytest.approx(row[f], rel=1e-6, abs=1e-300), (row["term"], row["scale"], f)
    assert res.n == case["n"]
    assert res.log_likelihood == pytest.approx(case["loglik"], rel=1e-9)
    assert res.converged
    if case["family"] == "negative_binomial":
        assert res.theta == pytest.approx(case["theta"], rel=1e-6)
        assert res.theta_std_error == pytest.approx(case["theta_se_at_mle"], rel=1e-6)
        # MASS reports the SE from the information at its last-but-one Newton iterate
        # (theta.ml), so it differs from the value at the MLE in the 5th digit.
        assert res.theta_std_error == pytest.approx(case["theta_se"], rel=1e-4)
    else:
        assert res.deviance == pytest.approx(case["deviance"], rel=1e-9)


def test_reference_covers_every_se_type():
    """Every GLM se_type is checked against R in at least one case (guards the reference set)."""
    assert {_se_type(c) for c in CASES} == set(glm.GLM_SE_TYPES)
    assert {c["family"] for c in CASES} == set(FITTERS)


@pytest.fixture(scope="module")
def bin3():
    return _data("binary_3arm")


@pytest.fixture(scope="module")
def cnt():
    return _data("count_3arm")


def test_effect_scales_and_consistency(bin3):
    """OR = exp(log OR); OR CI = exp(log-OR CI); OR shares z and p with the log scale."""
    res = glm.logistic_regression(bin3.y, bin3.arm, control="control", covariates=bin3[["x1", "x2"]])
    assert res.arms == ("letter", "sms") and res.control == "control"
    assert res.se_type == "HC1"
    for arm in res.arms:
        lo, orr = res.effect(arm, "log_odds_ratio"), res.effect(arm, "odds_ratio")
        assert orr.estimate == pytest.approx(math.exp(lo.estimate), rel=1e-14)
        assert orr.ci_lower == pytest.approx(math.exp(lo.ci_lower), rel=1e-14)
        assert orr.ci_upper == pytest.approx(math.exp(lo.ci_upper), rel=1e-14)
        assert (orr.statistic, orr.p_value) == (lo.statistic, lo.p_value)
        me = res.effect(arm, "marginal_effect")
        for e in (lo, orr, me):
            assert e.ci_lower <= e.estimate <= e.ci_upper
            assert 0.0 <= e.p_value <= 1.0
            assert e.df == math.inf
    assert res.control_mean == pytest.approx(bin3.y[bin3.arm == "control"].mean())


def test_to_frame_is_tidy(bin3):
    res = glm.logistic_regression(bin3.y, bin3.arm, control="control", clusters=bin3.cluster)
    frame = res.to_frame()
    assert list(frame.columns[:4]) == ["arm", "contrast", "estimator", "se_type"]
    assert len(frame) == 6
    assert set(frame["scale"]) == {"log_odds_ratio", "odds_ratio", "marginal_effect"}
    assert frame["contrast"].iloc[0] == "letter - control"
    assert (frame["n_clusters"] == 60).all() and (frame["se_type"] == "CR1").all()
    assert len(res.coefficients_frame()) == 3


def test_row_order_invariance(cnt):
    """Estimates do not depend on the order of the rows."""
    perm = np.random.default_rng(7).permutation(len(cnt))
    shuffled = cnt.iloc[perm].reset_index(drop=True)
    a = glm.negative_binomial_regression(cnt.y, cnt.arm, covariates=cnt.x1, exposure=cnt.exposure)
    b = glm.negative_binomial_regression(shuffled.y, shuffled.arm, covariates=shuffled.x1, exposure=shuffled.exposure)
    for ea, eb in zip(a.effects, b.effects):
        assert ea.estimate == pytest.approx(eb.estimate, rel=1e-9)
        assert ea.std_error == pytest.approx(eb.std_error, rel=1e-9)


def test_two_by_two_closed_form():
    """Without covariates the logit OR is the sample odds ratio and the classical SE is Woolf's
    sqrt(1/a + 1/b + 1/c + 1/d) (Woolf 1955, Ann Hum Genet 19:251); the AME is the risk difference."""
    a, b, c, d = 30, 70, 18, 82  # treated events/non-events, control events/non-events
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    arm = np.r_[np.repeat("t", a + b), np.repeat("c", c + d)]
    res = glm.logistic_regression(y, arm, control="c", se_type="classical")
    assert res.effect("t", "odds_ratio").estimate == pytest.approx((a * d) / (b * c), rel=1e-12)
    assert res.effect("t", "log_odds_ratio").std_error == pytest.approx(math.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-10)
    assert res.effect("t", "marginal_effect").estimate == pytest.approx(a / (a + b) - c / (c + d), rel=1e-12)


def test_poisson_rate_ratio_closed_form():
    """Poisson with one binary arm and exposure: RR = (sum y1 / sum e1) / (sum y0 / sum e0) and the
    classical SE of log RR is sqrt(1/sum y1 + 1/sum y0) (Rothman, Modern Epidemiology, ch. 14)."""
    rng = np.random.default_rng(3)
    e = rng.uniform(0.5, 2.0, 200)
    arm = np.repeat(["c", "t"], 100)
    y = rng.poisson(e * np.where(arm == "t", 1.5, 1.0))
    res = glm.poisson_regression(y, arm, control="c", exposure=e, se_type="classical")
    t, c = arm == "t", arm == "c"
    rr = (y[t].sum() / e[t].sum()) / (y[c].sum() / e[c].sum())
    assert res.effect("t", "rate_ratio").estimate == pytest.approx(rr, rel=1e-10)
    assert res.effect("t", "log_rate_ratio").std_error == pytest.approx(math.sqrt(1 / y[t].sum() + 1 / y[c].sum()), rel=1e-8)


def test_categorical_covariate_equals_manual_dummies(bin3):
    """A string covariate is dummy-coded with the first sorted level as reference."""
    lvl = np.where(bin3.x1 > 0.5, "high", np.where(bin3.x1 < -0.5, "low", "mid"))
    a = glm.logistic_regression(bin3.y, bin3.arm, covariates=pd.DataFrame({"band": lvl}))
    manual = pd.DataFrame({"low": (lvl == "low").astype(float), "mid": (lvl == "mid").astype(float)})
    b = glm.logistic_regression(bin3.y, bin3.arm, covariates=manual)
    assert [e.term for e in a.coefficients][-2:] == ["band[low]", "band[mid]"]
    for ea, eb in zip(a.effects, b.effects):
        assert ea.estimate == pytest.approx(eb.estimate, rel=1e-12)


def test_missing_rows_dropped_or_rejected(bin3):
    y = bin3.y.astype(float).to_numpy().copy()
    y[:5] = np.nan
    res = glm.logistic_regression(y, bin3.arm)
    assert (res.n, res.n_dropped) == (595, 5)
    full = glm.logistic_regression(bin3.y[5:], bin3.arm[5:])
    assert res.effects[0].estimate == pytest.approx(full.effects[0].estimate, rel=1e-12)
    with pytest.raises(ValueError, match=r"5 unit\(s\) have a missing .* \(first at index 0\)"):
        glm.logistic_regression(y, bin3.arm, missing="error")


def test_boolean_outcome_and_integer_arms():
    rng = np.random.default_rng(1)
    arm = rng.integers(0, 2, 300)
    y = rng.random(300) < np.where(arm == 1, 0.4, 0.25)
    res = glm.logistic_regression(y, arm)
    assert res.control == "0" and res.arms == ("1",)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"se_type": "HC4"}, r"Unknown se_type 'HC4'; did you mean 'HC3'\? Valid values: 'CR0', 'CR1', 'HC0'"),
        ({"se_type": "CR0"}, r"se_type 'CR0' is cluster-robust and needs 'clusters'"),
        ({"ci_level": 95}, r"'ci_level' parameter must be a float in the open range \(0, 1\). Got 95"),
        ({"control": "placebo"}, r"Unknown control arm 'placebo'"),
        ({"missing": "impute"}, r"Unknown missing 'impute'"),
    ],
)
def test_argument_errors(bin3, kwargs, message):
    with pytest.raises(ValueError, match=message):
        glm.logistic_regression(bin3.y, bin3.arm, **kwargs)


def test_clusters_with_hc_type_rejected(bin3):
    with pytest.raises(ValueError, match=r"se_type 'HC1' ignores 'clusters'"):
        glm.logistic_regression(bin3.y, bin3.arm, clusters=bin3.cluster, se_type="HC1")


def test_data_errors(bin3, cnt):
    with pytest.raises(ValueError, match="must be 0/1"):
        glm.logistic_regression(bin3.y * 2, bin3.arm)
    with pytest.raises(ValueError, match="single arm"):
        glm.logistic_regression(bin3.y, np.repeat("a", len(bin3)))
    y = bin3.y.to_numpy().copy()
    y[bin3.arm == "sms"] = 0
    with pytest.raises(ValueError, match="Arm 'sms' has no events"):
        glm.logistic_regression(y, bin3.arm)
    with pytest.raises(ValueError, match="column 'x1_copy' is constant or a linear combination"):
        glm.logistic_regression(bin3.y, bin3.arm, covariates=pd.DataFrame({"x1": bin3.x1, "x1_copy": 2 * bin3.x1}))
    with pytest.raises(ValueError, match="non-negative"):
        glm.poisson_regression(-cnt.y, cnt.arm)
    with pytest.raises(ValueError, match="strictly positive"):
        glm.poisson_regression(cnt.y, cnt.arm, exposure=np.zeros(len(cnt)))
    with pytest.raises(ValueError, match="must have 600 entries"):
        glm.logistic_regression(bin3.y, bin3.arm[:10])
    with pytest.raises(ValueError, match="at least 2 clusters"):
        glm.logistic_regression(bin3.y, bin3.arm, clusters=np.repeat("k", len(bin3)))


def test_result_is_frozen(bin3):
    res = glm.logistic_regression(bin3.y, bin3.arm)
    with pytest.raises(AttributeError):
        res.n = 3  # type: ignore[misc]
    assert isinstance(res.effects[0], Estimate)



def test_registered_estimators(bin3, cnt):
    """The registry entries return the log-ratio Estimates of the direct call; strata enter as
    fixed effects (the same fit as a categorical covariate); weights and missing outcomes are refused."""
    from bitframe.analyse.estimators import estimate_effects, get_estimator

    got = estimate_effects("logit", bin3.y, bin3.arm, control="control", covariates=bin3[["x1"]], strata=bin3.x2,
                           clusters=bin3.cluster, se_type="CR0")
    direct = glm.logistic_regression(bin3.y, bin3.arm, control="control",
                                     covariates=pd.DataFrame({"x1": bin3.x1, "stratum": bin3.x2.astype(str)}),
                                     clusters=bin3.cluster, se_type="CR0")
    assert [e.term for e in got] == ["letter", "sms"]
    assert got == [direct.effect(a, "log_odds_ratio") for a in ("letter", "sms")]
    assert get_estimator("logit").outcome_types == ("binary",)
    for name in ("poisson", "negative_binomial"):
        est = estimate_effects(name, cnt.y, cnt.arm)
        assert [e.scale for e in est] == ["log_rate_ratio"] * 2 and est[0].estimator == name
    with pytest.raises(ValueError, match="does not take weights"):
        estimate_effects("poisson", cnt.y, cnt.arm, weights=np.ones(len(cnt)))
    y = bin3.y.astype(float).to_numpy().copy()
    y[0] = np.nan
    with pytest.raises(ValueError, match="missing='drop'"):
        estimate_effects("logit", y, bin3.arm)
