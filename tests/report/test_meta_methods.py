"""Few-sites methods, meta-regression and effect sizes from summary data, against metafor.

Reference: ``tests/reference/metafor_methods_reference.R`` (metafor 3.8 ``rma()`` with
``method = "FE", "DL", "REML", "PM"``, ``test = "z", "knha", "adhoc"``, ``predict()``,
``rma(mods = ~ ...)`` and ``escalc()``), committed as ``metafor_methods_reference.json``.
Viechtbauer W (2010), J Stat Softw 36(3), doi:10.18637/jss.v036.i03.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bitframe.report.meta import effect_size, meta_analysis, meta_regression

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "metafor_methods_reference.json").read_text())
RTOL = 1e-6

FITS = [pytest.param(case, fit, id=f"{case['name']}-{fit['method']}-{fit['test']}-{fit['level']}")
        for case in REF["cases"] for fit in case["fits"]]
FIELD_MAP = [("estimate", "estimate"), ("std_error", "se"), ("statistic", "zval"), ("p_value", "pval"),
             ("ci_lower", "ci_lb"), ("ci_upper", "ci_ub"), ("tau2", "tau2"), ("tau2_se", "se_tau2"), ("i2", "I2"),
             ("h2", "H2"), ("q", "QE"), ("q_p_value", "QEp"), ("pi_lower", "pi_lb"), ("pi_upper", "pi_ub")]


def _close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=RTOL, abs_tol=1e-10)


def test_reference_covers_every_method_and_test():
    combos = {(f["method"], f["test"]) for c in REF["cases"] for f in c["fits"]}
    assert combos >= {(m, t) for m in ("DL", "REML", "PM") for t in ("z", "knha", "adhoc")} | {("FE", "z")}
    assert {c["name"] for c in REF["cases"]} >= {"two_sites", "three_sites", "bcg_four_heterogeneous"}


@pytest.mark.parametrize("case,fit", FITS)
def test_matches_metafor(case, fit):
    r = meta_analysis(case["yi"], case["vi"], method=fit["method"], test=fit["test"], ci_level=fit["level"] / 100)
    for ours, theirs in FIELD_MAP:
        ref = fit.get(theirs)
        if ref is None or (ours.startswith("pi_") and fit["method"] == "FE"):
            continue
        assert _close(getattr(r, ours), ref), (ours, getattr(r, ours), ref)
    assert np.allclose(100 * np.array(r.weights), fit["weights_percent"], rtol=RTOL)
    if fit["test"] != "z":
        assert r.df == fit["ddf"]


def test_adhoc_interval_never_narrower_than_z():
    """Knapp-Hartung's ad hoc correction (metafor test="adhoc"): s^2_w below 1 is raised to 1."""
    case = next(c for c in REF["cases"] if c["name"] == "homogeneous_tau2_zero")
    z = meta_analysis(case["yi"], case["vi"], method="REML")
    knha = meta_analysis(case["yi"], case["vi"], method="REML", test="knha")
    adhoc = meta_analysis(case["yi"], case["vi"], method="REML", test="adhoc")
    assert knha.std_error < z.std_error  # plain HKSJ narrows here (s^2_w < 1) ...
    assert adhoc.std_error == pytest.approx(z.std_error, rel=1e-12)  # ... the ad hoc variant does not
    assert adhoc.ci_upper - adhoc.ci_lower > z.ci_upper - z.ci_lower


REGRESSIONS = [pytest.param(r, id=f"{r['name']}-{r['method']}-{r['test']}") for r in REF["regressions"]]


@pytest.mark.parametrize("ref", REGRESSIONS)
def test_meta_regression_matches_metafor(ref):
    x = np.array(ref["X"], dtype=float).reshape(ref["k"], -1)
    r = meta_regression(ref["yi"], ref["vi"], x, ref["terms"][1:], method=ref["method"], test=ref["test"])
    for ours, theirs in [("estimate", "estimate"), ("std_error", "se"), ("statistic", "zval"), ("p_value", "pval"),
                         ("ci_lower", "ci_lb"), ("ci_upper", "ci_ub")]:
        np.testing.assert_allclose(getattr(r, ours), ref[theirs], rtol=RTOL, atol=1e-10, err_msg=ours)
    for ours, theirs in [("tau2", "tau2"), ("i2", "I2"), ("h2", "H2"), ("qe", "QE"), ("qe_p_value", "QEp"),
                         ("qm", "QM"), ("qm_p_value", "QMp")]:
        assert _close(getattr(r, ours), ref[theirs]), (ours, getattr(r, ours), ref[theirs])
    if ref["se_tau2"] is not None:
        assert _close(r.tau2_se, ref["se_tau2"])
    assert r.qm_df == ref["QMdf"][0]


def test_meta_regression_refused_with_too_few_sites():
    with pytest.raises(ValueError, match="with 3 coefficients needs at least 5 sites; got 4"):
        meta_regression([0.1, 0.2, 0.3, 0.4], [0.01] * 4, np.array([[0, 1], [1, 0], [0, 0], [1, 1.0]]), ["a", "b"])
    with pytest.raises(ValueError, match="collinear"):
        meta_regression([0.1, 0.2, 0.3, 0.4], [0.01] * 4, np.ones((4, 1)), ["same"])


ESCALC_ARGS = {
    "RD": ("risk_difference", ("events1", "ai"), ("total1", "n1i"), ("events2", "ci"), ("total2", "n2i")),
    "RR": ("log_risk_ratio", ("events1", "ai"), ("total1", "n1i"), ("events2", "ci"), ("total2", "n2i")),
    "OR": ("log_odds_ratio", ("events1", "ai"), ("total1", "n1i"), ("events2", "ci"), ("total2", "n2i")),
    "MD": ("mean_difference", ("mean1", "m1i"), ("sd1", "sd1i"), ("n1", "n1i"), ("mean2", "m2i"), ("sd2", "sd2i"),
           ("n2", "n2i")),
    "SMD": ("smd", ("mean1", "m1i"), ("sd1", "sd1i"), ("n1", "n1i"), ("mean2", "m2i"), ("sd2", "sd2i"),
            ("n2", "n2i")),
    "IRR": ("log_rate_ratio", ("events1", "x1i"), ("time1", "t1i"), ("events2", "x2i"), ("time2", "t2i")),
}


@pytest.mark.parametrize("code", sorted(ESCALC_ARGS))
def test_effect_sizes_match_escalc(code):
    """escalc(measure = code, ...) with its default continuity correction (add = 1/2, to = "only0")."""
    ref = REF["escalc"][code]
    measure, *names = ESCALC_ARGS[code]
    rows = len(ref["yi"])
    for i in range(rows):
        kwargs = {ours: ref["input"][theirs][i] for ours, theirs in names}
        yi, vi = effect_size(measure, **kwargs)
        assert math.isclose(yi, ref["yi"][i], rel_tol=1e-10, abs_tol=1e-14), (i, yi, ref["yi"][i])
        assert math.isclose(vi, ref["vi"][i], rel_tol=1e-10), (i, vi, ref["vi"][i])


def test_escalc_reference_has_zero_cells():
    """The references exercise the continuity correction: zero cells, both arms zero, a zero count."""
    rd = REF["escalc"]["RD"]["input"]
    assert 0 in rd["ai"] and 0 in rd["ci"] and any(a == 0 and c == 0 for a, c in zip(rd["ai"], rd["ci"]))
    assert 0 in REF["escalc"]["IRR"]["input"]["x1i"]


def test_effect_size_argument_errors():
    with pytest.raises(ValueError, match="needs exactly events1, total1, events2, total2"):
        effect_size("log_odds_ratio", events1=1, total1=2)
    with pytest.raises(ValueError, match="between 0 and the total"):
        effect_size("risk_difference", events1=5, total1=2, events2=1, total2=3)
    with pytest.raises(ValueError, match="Unknown effect measure 'hazard'"):
        effect_size("hazard")
