"""Tests of bitframe.analyse.mixed (random cluster intercept LMM) against lme4 and nlme.

Reference: ``tests/reference/lme4_reference.R`` -- lme4::lmer (Bates et al. 2015, J Stat Softw
67(1)) with bobyqa tightened to rhoend = 1e-12, and nlme::lme for the between-within df
(Pinheiro & Bates 2000, sec. 2.4.2). Tolerances: lme4's optimiser stops ~1e-8 (relative) from the
REML optimum, so estimates, SEs and variance components are compared at relative 1e-6; p-values in
the far tail amplify that (d log p ~ t^2 d log se), so they are compared at 1e-4.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.mixed import mixed_model

REF = Path(__file__).resolve().parents[1] / "reference" / "lme4"
CASES = json.loads((REF / "lmer_results.json").read_text())


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{name}.csv")


def _fit(case: dict, **kw):
    d = _data(case["dataset"])
    covs = [t for t in ("x", "z") if t in case["rhs"].split(" + ")]
    return mixed_model(d.y, d.arm, d.cluster, control="control", covariates=d[covs] if covs else None,
                       reml=case["reml"], **kw)


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_matches_lme4_and_nlme(case):
    """Fixed effects, SEs, tau^2, sigma^2, ICC and the (RE)ML log-likelihood match lme4::lmer;
    df and p-values match nlme's between-within rule applied to lme4's t statistic."""
    res = _fit(case)
    assert [e.term for e in res.coefficients] == [
        f"arm[{t[3:]}]" if t.startswith("arm") else t for t in case["term"]
    ]
    for e, b, se, df, p in zip(res.coefficients, case["estimate"], case["std_error"], case["nlme_df"],
                               case["p_between_within"]):
        assert e.estimate == pytest.approx(b, rel=1e-6)
        assert e.std_error == pytest.approx(se, rel=1e-6)
        assert e.df == df
        assert e.p_value == pytest.approx(p, rel=1e-4)
    if case["singular"]:
        assert res.singular and res.tau2 == 0.0 and case["tau2"] < 1e-12
        assert res.icc == pytest.approx(case["icc"], abs=1e-12)
    else:
        assert not res.singular
        assert res.tau2 == pytest.approx(case["tau2"], rel=1e-6)
        assert res.icc == pytest.approx(case["icc"], rel=1e-6)
    assert res.sigma2 == pytest.approx(case["sigma2"], rel=1e-6)
    assert res.log_likelihood == pytest.approx(case["reml_loglik"], rel=1e-9)
    assert (res.n, res.n_clusters) == (case["n"], case["n_clusters"])
    assert res.method == ("REML" if case["reml"] else "ML")


def test_normal_df_uses_lme4_t():
    """df_method='normal' gives z tests on lme4's t statistic (2 * pnorm(-|t|), computed in R)."""
    case = next(c for c in CASES if c["case"] == "c3_x_z")
    res = _fit(case, df_method="normal")
    for e, p in zip(res.coefficients, case["p_normal"]):
        assert e.df == math.inf
        assert e.p_value == pytest.approx(p, rel=1e-4)


def _balanced(seed: int, tau: float):
    rng = np.random.default_rng(seed)
    G, m = 24, 8
    cl = np.repeat(np.arange(G), m)
    arm = np.where(cl % 2 == 0, "control", "treat")
    y = 0.3 * (arm == "treat") + rng.normal(0, tau, G)[cl] + rng.normal(size=G * m)
    return y, arm, cl, G, m


@pytest.mark.parametrize("seed, tau", [(1, 0.6), (2, 0.3), (3, 0.0), (5, 0.05)])
def test_balanced_anova_closed_form(seed, tau):
    """Balanced one-way design, arm at cluster level: REML equals the ANOVA estimator truncated at 0,
    tau^2 = max(0, (MSB - MSW) / m) with MSB on G - 2 df after the arm means (Searle, Casella &
    McCulloch 1992, Variance Components, sec. 3.7 / 6.7); the arm effect is the difference of arm
    means with SE sqrt(2 (sigma^2 + m tau^2) / (m G/2))."""
    y, arm, cl, G, m = _balanced(seed, tau)
    cm = y.reshape(G, m).mean(axis=1)
    carm = arm[::m]
    fitted = np.where(carm == "treat", cm[carm == "treat"].mean(), cm[carm == "control"].mean())
    msb = m * np.sum((cm - fitted) ** 2) / (G - 2)
    msw = np.sum((y.reshape(G, m) - cm[:, None]) ** 2) / (G * (m - 1))
    res = mixed_model(y, arm, cl, control="control")
    tau2 = max(0.0, (msb - msw) / m)
    sigma2 = msw if tau2 > 0 else (np.sum((y - np.repeat(fitted, m)) ** 2) / (G * m - 2))
    assert res.tau2 == pytest.approx(tau2, rel=1e-8, abs=1e-12)
    assert res.sigma2 == pytest.approx(sigma2, rel=1e-8)
    eff = res.effect("treat")
    assert eff.estimate == pytest.approx(cm[carm == "treat"].mean() - cm[carm == "control"].mean(), rel=1e-10)
    assert eff.std_error == pytest.approx(math.sqrt(2 * (sigma2 + m * tau2) / (m * G / 2)), rel=1e-8)
    assert eff.df == G - 2
    assert eff.ci_lower < eff.estimate < eff.ci_upper


def test_frame_and_record():
    case = next(c for c in CASES if c["case"] == "c3_plain")
    res = _fit(case)
    frame = res.to_frame()
    assert frame["arm"].tolist() == ["poster", "sms"]
    assert {"tau2", "sigma2", "icc", "estimate", "ci_lower", "df"} <= set(frame.columns)
    assert (frame["n_clusters"] == 36).all()
    assert len(res.coefficients_frame()) == 3
    with pytest.raises(AttributeError):
        res.icc = 0.5  # type: ignore[misc]


def test_row_order_invariance():
    d = _data("cluster_2arm")
    perm = np.random.default_rng(3).permutation(len(d))
    s = d.iloc[perm]
    a = mixed_model(d.y, d.arm, d.cluster, covariates=d[["x"]])
    b = mixed_model(s.y, s.arm, s.cluster, covariates=s[["x"]])
    assert a.effects[0].estimate == pytest.approx(b.effects[0].estimate, rel=1e-10)
    assert a.tau2 == pytest.approx(b.tau2, rel=1e-8)


def test_errors():
    d = _data("cluster_2arm")
    with pytest.raises(ValueError, match="'clusters' parameter is required"):
        mixed_model(d.y, d.arm, None)
    with pytest.raises(ValueError, match="at least 2 clusters"):
        mixed_model(d.y, d.arm, np.repeat("k", len(d)))
    with pytest.raises(ValueError, match=r"Unknown df_method 'satterthwaite'"):
        mixed_model(d.y, d.arm, d.cluster, df_method="satterthwaite")
    with pytest.raises(ValueError, match="single arm"):
        mixed_model(d.y, np.repeat("a", len(d)), d.cluster)
    y = d.y.to_numpy().copy()
    y[3] = np.nan
    assert mixed_model(y, d.arm, d.cluster).n_dropped == 1
    with pytest.raises(ValueError, match="missing='drop'"):
        mixed_model(y, d.arm, d.cluster, missing="error")


def test_registered_mixed_estimator():
    from bitframe.analyse.estimators import estimate_effects

    case = next(c for c in CASES if c["case"] == "c3_plain")
    d = _data(case["dataset"])
    got = estimate_effects("mixed", d.y, d.arm, control="control", clusters=d.cluster)
    assert got == list(_fit(case).effects)
    with pytest.raises(ValueError, match="needs 'clusters'"):
        estimate_effects("mixed", d.y, d.arm)
    with pytest.raises(ValueError, match="se_type must be unset"):
        estimate_effects("mixed", d.y, d.arm, clusters=d.cluster, se_type="HC2")


@pytest.mark.parametrize(("f", "lo", "hi", "root"), [
    (lambda x: 2.0 - x * x, 1.0, 10.0, math.sqrt(2.0)),  # closed form
    (lambda x: math.exp(-x) - x, 0.0, 1.0, 0.5671432904097838),  # the omega constant W(1) (OEIS A030178)
    (lambda x: 1e-30 * (3.0 - x), 0.0, 1e8, 3.0),  # a flat slope over a wide bracket
    (lambda x: 1.0 if x < 0.25 else -1.0, 0.0, 1.0, 0.25),  # a step: regula falsi must fall back to halving
])
def test_falling_root_is_within_four_epsilons(f, lo, hi, root):
    """The REML root finder (Illinois regula falsi) meets the tolerance brentq was given: 4 machine epsilons."""
    from bitframe.analyse.mixed import _falling_root

    got = _falling_root(f, lo, hi, f(lo), f(hi))
    assert abs(got - root) <= 4.0 * np.finfo(float).eps * root * 2
