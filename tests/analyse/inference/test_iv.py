"""2SLS and CACE against ``estimatr::iv_robust`` (estimatr 1.0.0), to 1e-6.

Reference: ``tests/reference/inference/iv_reference.json`` written by
``tests/reference/inference_iv_reference.R`` (which also writes ``iv_data.csv``): classical, HC0-HC3,
CR0, stata, CR2, a two-endogenous multi-arm case and over-identified cases, with
``diagnostic_first_stage_fstatistic``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bitframe.analyse.inference.iv import cace, iv_robust

REF = Path(__file__).resolve().parents[2] / "reference" / "inference"
CASES = json.loads((REF / "iv_reference.json").read_text())["cases"]
DATA = pd.read_csv(REF / "iv_data.csv")


def _fit(case):
    lhs, rhs = case["formula"].split("~")
    regs, insts = rhs.split("|")
    regs = [r.strip() for r in regs.split("+")]
    insts = [r.strip() for r in insts.split("+")]
    exo = [r for r in regs if r in insts]
    endog = [r for r in regs if r not in insts]
    excluded = [r for r in insts if r not in regs]
    return iv_robust(DATA[lhs.strip()], DATA[endog], DATA[excluded], DATA[exo], se_type=case["se_type"],
                     clusters=DATA["cl"] if case["clustered"] else None)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_estimatr_iv_robust(case):
    fit = _fit(case)
    assert list(fit.terms) == case["term"]
    for field, ref in (("estimate", "estimate"), ("std_error", "std_error"), ("statistic", "statistic"),
                       ("p_value", "p_value"), ("ci_lower", "conf_low"), ("ci_upper", "conf_high"), ("df", "df")):
        got = [getattr(e, field) for e in fit.estimates]
        assert np.allclose(got, case[ref], rtol=1e-6, atol=1e-12), field
    fs = case["first_stage"]
    values = [v for k, v in fs.items() if k.endswith("value") and "p.value" not in k]
    assert np.allclose([f.f_statistic for f in fit.first_stage], values, rtol=1e-6)
    assert all(f.df1 == fs["nomdf"] and f.df2 == pytest.approx(fs["dendf"]) for f in fit.first_stage)
    pvals = [v for k, v in fs.items() if "p.value" in k]
    assert np.allclose([f.p_value for f in fit.first_stage], pvals, rtol=1e-6, atol=1e-300)


def test_cace_is_the_2sls_coefficient_and_reports_compliance():
    """Multi-arm CACE through the trial interface equals iv_robust's da/db coefficients (case multi_HC2)."""
    case = next(c for c in CASES if c["id"] == "multi_HC2")
    arms = DATA["z3"].astype(str)
    received = np.where(DATA["da"] == 1, "a", np.where(DATA["db"] == 1, "b", "none"))
    res = cace(DATA["y3"], arms, received, control="c", covariates={"x": DATA["x"]}, se_type="HC2")
    got = {e.arm: e for e in res.effects}
    idx = {t: i for i, t in enumerate(case["term"])}
    for arm, term in (("a", "da"), ("b", "db")):
        assert got[arm].estimate == pytest.approx(case["estimate"][idx[term]], rel=1e-6)
        assert got[arm].std_error == pytest.approx(case["std_error"][idx[term]], rel=1e-6)
        assert got[arm].method == "iv"
    rates = {r["assigned"]: r for r in res.compliance}
    assert rates["a"]["received_a"] == pytest.approx(DATA.loc[arms == "a", "da"].mean())
    assert rates["c"]["received_a"] == 0.0


def test_wald_estimator_identity_for_two_arms():
    """Without covariates the CACE is ITT_Y / ITT_D (the Wald estimator)."""
    y, z, d = DATA["y"].to_numpy(), DATA["z"].to_numpy(), DATA["d"].to_numpy()
    res = cace(y, np.where(z == 1, "t", "c"), d, control="c")
    wald = (y[z == 1].mean() - y[z == 0].mean()) / (d[z == 1].mean() - d[z == 0].mean())
    assert res.effects[0].estimate == pytest.approx(wald, rel=1e-10)


def test_argument_errors():
    with pytest.raises(ValueError, match="Not identified"):
        iv_robust(DATA["y"], DATA[["d", "da"]], DATA[["z"]])
    with pytest.raises(ValueError, match="needs 'clusters'"):
        iv_robust(DATA["y"], DATA[["d"]], DATA[["z"]], se_type="CR2")
