"""bitframe's OLS / Lin / CR2 against R: estimatr 1.0.0 and clubSandwich 0.5.8.

Every expected number comes from ``tests/reference/estimatr_reference.json``, written by
``tests/reference/estimatr_reference.R`` (which also writes the datasets in
``tests/reference/estimatr_data/``). Agreement is to relative 1e-6 on estimates, standard
errors, t statistics, df, p-values and CI limits.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.coding import treatment_design
from bitframe.analyse.linear import ols

REF = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-6
ATOL = 1e-12
FIELDS = ("estimate", "std_error", "statistic", "df", "p_value", "conf_low", "conf_high")


@cache
def _cases() -> tuple[dict, ...]:
    return tuple(json.loads((REF / "estimatr_reference.json").read_text())["cases"])


@cache
def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "estimatr_data" / f"{name}.csv")


def _ids(fn: str | tuple[str, ...]) -> list[str]:
    fns = (fn,) if isinstance(fn, str) else fn
    return [c["id"] for c in _cases() if c["fn"] in fns]


def _case(case_id: str) -> dict:
    return next(c for c in _cases() if c["id"] == case_id)


def _design(case: dict, d: pd.DataFrame):
    covs = case.get("covariates") or []
    if isinstance(covs, str):
        covs = [covs]
    if case["fn"] == "lm_lin":
        return treatment_design(d[case["treatment"]], control=case["control"], covariates=d[covs] if covs else None,
                                strata=d[case["lin_strata"]] if case.get("lin_strata") else None, adjustment="lin",
                                weights=d[case["weights"]] if case.get("weights") else None)
    fe = case.get("fe")
    adjustment = "standard" if covs else "none"
    return treatment_design(d[case["treatment"]], control=case["control"], covariates=d[covs] if covs else None,
                            strata=d[fe] if fe else None, adjustment=adjustment)


def _fit(case: dict):
    d = _data(case["dataset"])
    design = _design(case, d)
    fit = ols(d[case["outcome"]], design.X, se_type=case.get("se_type"),
              clusters=d[case["clusters"]] if case.get("clusters") else None,
              weights=d[case["weights"]] if case.get("weights") else None,
              ci_level=case.get("ci_level", 0.95), term_names=design.terms)
    return design, fit


def _compare(ours: dict[str, float], theirs: dict, where: str) -> None:
    for f in FIELDS:
        if f not in theirs:
            continue
        expected = theirs[f]
        got = ours[f]
        assert expected is not None, f"{where}: R gave NA for {f}"
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL, err_msg=f"{where}: {f}")


def _as_row(est) -> dict[str, float]:
    return {
        "estimate": est.estimate,
        "std_error": est.std_error,
        "statistic": est.statistic,
        "df": est.df,
        "p_value": est.p_value,
        "conf_low": est.ci_lower,
        "conf_high": est.ci_upper,
    }


@pytest.mark.parametrize("case_id", [i for i in _ids(("lm_robust", "lm_lin")) if i != "strata_single_ols_fe_HC2"])
def test_lm_robust_and_lm_lin_match_estimatr(case_id: str) -> None:
    """Every coefficient of estimatr::lm_robust / lm_lin (R call in the case's ``call``) to 1e-6."""
    case = _case(case_id)
    assert case["error"] is None
    design, fit = _fit(case)
    rows = case["rows"]
    assert len(rows) == len(fit.estimates) == len(design.terms), (case["call"], [r["term"] for r in rows], design.terms)
    for est, row in zip(fit.estimates, rows):
        _compare(_as_row(est), row, f"{case_id} [{row['term']} ~ {est.term}] ({case['call']})")


@pytest.mark.parametrize("case_id", _ids("coef_test"))
def test_cr2_matches_clubsandwich_satterthwaite(case_id: str) -> None:
    """CR2 SEs and Bell-McCaffrey df against clubSandwich::coef_test(vcov="CR2", test="Satterthwaite")
    (Pustejovsky & Tipton 2018), including block fixed effects, clusters of size 1-2 and WLS."""
    case = _case(case_id)
    _design_used, fit = _fit(case)
    assert fit.se_type == "CR2"
    assert len(case["rows"]) == len(fit.estimates)
    for est, row in zip(fit.estimates, case["rows"]):
        _compare(_as_row(est), row, f"{case_id} [{row['term']}] ({case['call']})")


def test_reference_has_tiny_clusters() -> None:
    """The CR2 reference data really contain clusters of size 1 and 2 (the pseudo-inverse case)."""
    sizes = _data("cluster").groupby("cl").size()
    assert (sizes == 1).sum() >= 2 and (sizes == 2).sum() >= 2


def test_collinear_column_dropped_like_r_lm() -> None:
    """R's ``lm(y ~ z + x1 + x2 + x12)`` with ``x12 = x1 + x2`` reports x12 as NA; we drop it and the
    other coefficients equal R's."""
    case = _case("simple_lm_collinear")
    d = _data("simple")
    design = treatment_design(d["z"], control="0", covariates=d[["x1", "x2", "x12"]], adjustment="standard")
    fit = ols(d["y"], design.X, se_type="HC2", term_names=design.terms)
    assert fit.dropped == ("x12",)
    expected = [r["estimate"] for r in case["rows"] if r["estimate"] is not None]
    assert [r["term"] for r in case["rows"] if r["estimate"] is None] == ["x12"]
    np.testing.assert_allclose(fit.coefficients, expected, rtol=RTOL)
    with pytest.raises(ValueError, match="rank deficient: 'x12'"):
        ols(d["y"], design.X, term_names=design.terms, collinear="error")


def test_collinear_drop_keeps_hc2_of_reduced_model() -> None:
    """After dropping the collinear column the HC2 fit is estimatr's fit without it
    (``lm_robust(y ~ z + x1 + x2 + x3)`` minus x3 is not in the file, so compare with our own
    fit of the reduced design, whose correctness the estimatr cases establish)."""
    d = _data("simple")
    full = treatment_design(d["z"], control="0", covariates=d[["x1", "x2", "x12"]], adjustment="standard")
    reduced = treatment_design(d["z"], control="0", covariates=d[["x1", "x2"]], adjustment="standard")
    a = ols(d["y"], full.X, term_names=full.terms)
    b = ols(d["y"], reduced.X, term_names=reduced.terms)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-10)


def test_singleton_stratum_hc2_is_an_error_where_estimatr_gives_nan() -> None:
    """A singleton stratum with stratum dummies has leverage 1: estimatr's HC2 is NaN for every
    coefficient; we raise a ValueError that says why and what to do. HC1 works and matches."""
    case = _case("strata_single_ols_fe_HC2")
    assert all(r["std_error"] is None for r in case["rows"])
    with pytest.raises(ValueError, match=r"leverage 1.*singleton strata"):
        _fit(case)
    hc1 = _case("strata_single_ols_fe_HC1")
    _, fit = _fit(hc1)
    for est, row in zip(fit.estimates, hc1["rows"]):
        _compare(_as_row(est), row, "strata_single_ols_fe_HC1")


@pytest.mark.parametrize("case_id", ["cluster_ols_CR0", "cluster_wls_CR0"])
def test_cr1_is_clubsandwich_cr1_from_the_estimatr_cr0_reference(case_id: str) -> None:
    """CR1 = CR0 * G/(G-1) (clubSandwich's ``vcovCR(type = "CR1")``; Stata's factor for ML
    estimators with ``vce(cluster)``), so its SE is estimatr's committed CR0 SE times
    sqrt(G/(G-1)), with the same G - 1 df; t, p and CI follow from Student's t on those df."""
    from scipy import stats

    case = _case(case_id)
    d = _data(case["dataset"])
    G = d[case["clusters"]].nunique()
    _, fit = _fit({**case, "se_type": "CR1"})
    assert fit.se_type == "CR1" and fit.n_clusters == G
    for est, row in zip(fit.estimates, case["rows"]):
        se = row["std_error"] * math.sqrt(G / (G - 1))
        t = row["estimate"] / se
        crit = stats.t.ppf(0.975, row["df"])
        expected = {"estimate": row["estimate"], "std_error": se, "statistic": t, "df": row["df"],
                    "p_value": 2 * stats.t.sf(abs(t), row["df"]), "conf_low": row["estimate"] - crit * se,
                    "conf_high": row["estimate"] + crit * se}
        _compare(_as_row(est), expected, f"{case_id} as CR1 [{row['term']}]")


def test_reference_file_covers_the_required_cases() -> None:
    """At least 30 cases spanning every se_type, lm_lin, all DiM designs and clubSandwich."""
    cases = _cases()
    assert len(cases) >= 30
    se = {c.get("se_type") for c in cases if c["fn"] == "lm_robust"}
    assert {"classical", "HC0", "HC1", "HC2", "HC3", "CR0", "stata", "CR2"} <= se
    designs = {r.get("design") for c in cases if c["fn"] == "difference_in_means" and c["rows"] for r in c["rows"]}
    assert {"Standard", "Blocked", "Clustered", "Block-clustered", "Matched-pair", "Matched-pair clustered"} <= designs


def test_ci_level_changes_only_the_interval() -> None:
    """alpha = 0.10 in estimatr: same estimate/SE/p, narrower CI (case simple_ols_HC2_ci90)."""
    case = _case("simple_ols_HC2_ci90")
    _, fit = _fit(case)
    assert fit.estimates[0].ci_level == 0.90
    base = _case("simple_ols_HC2")
    assert case["rows"][1]["p_value"] == pytest.approx(base["rows"][1]["p_value"], rel=1e-12)
    assert math.isclose(fit.estimates[1].ci_upper, case["rows"][1]["conf_high"], rel_tol=RTOL)
