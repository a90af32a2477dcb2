"""Tests for bitframe.report.meta against metafor.

Reference values come from ``tests/reference/metafor_reference.R`` (metafor 3.8,
``rma()`` and ``predict()``), committed as ``metafor_reference.json`` together
with the inputs. Method: Viechtbauer W (2010), Conducting meta-analyses in R with
the metafor package, J Stat Softw 36(3), doi:10.18637/jss.v036.i03.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitframe.analyse.results import Estimate
from bitframe.errors import BitframeError
from bitframe.report.meta import METHODS, MetaResult, meta_analysis, meta_from_estimates

REF_PATH = Path(__file__).resolve().parents[1] / "reference" / "metafor_reference.json"
REF = json.loads(REF_PATH.read_text())
RTOL = 1e-6

FITS = [
    pytest.param(case, fit, id=f"{case['name']}-{fit['method']}-{fit['test']}-{fit['level']}")
    for case in REF["cases"]
    for fit in case["fits"]
]

# (our field, metafor field)
FIELD_MAP = [
    ("estimate", "estimate"),
    ("std_error", "se"),
    ("statistic", "zval"),
    ("p_value", "pval"),
    ("ci_lower", "ci_lb"),
    ("ci_upper", "ci_ub"),
    ("tau2", "tau2"),
    ("tau2_se", "se_tau2"),
    ("i2", "I2"),
    ("h2", "H2"),
    ("q", "QE"),
    ("q_p_value", "QEp"),
    ("pi_lower", "pi_lb"),
    ("pi_upper", "pi_ub"),
    ("k", "k"),
]


def _close(ours: float, theirs: float) -> bool:
    # Relative 1e-6, with an absolute floor for values that are exactly 0 in metafor (tau2, I2).
    return math.isclose(ours, theirs, rel_tol=RTOL, abs_tol=1e-12)


def test_reference_covers_required_cases():
    """The metafor reference holds >= 5 cases, each fitted with FE, DL and REML (Viechtbauer 2010)."""
    assert len(REF["cases"]) >= 5
    names = {c["name"] for c in REF["cases"]}
    assert {"bcg_log_rr", "normand1999_md", "hackshaw1998_log_or", "homogeneous_tau2_zero", "two_sites"} <= names
    for case in REF["cases"]:
        assert {f["method"] for f in case["fits"]} >= {"FE", "DL", "REML"}


@pytest.mark.parametrize(("case", "fit"), FITS)
def test_matches_metafor(case, fit):
    """Every summary statistic agrees with metafor::rma()/predict() to 1e-6 (metafor 3.8; Viechtbauer 2010)."""
    r = meta_analysis(case["yi"], case["vi"], method=fit["method"], test=fit["test"], ci_level=fit["level"] / 100)
    mismatches = []
    for ours, theirs in FIELD_MAP:
        ref = fit[theirs]
        got = getattr(r, ours)
        if ref is None:
            # metafor reports no value (tau2 SE for FE or k = 1; no PI for FE).
            assert math.isnan(got), f"{ours}: metafor gives none, we give {got}"
            continue
        if not _close(got, ref):
            mismatches.append(f"{ours}: {got!r} vs metafor {ref!r}")
    assert not mismatches, "\n".join(mismatches)
    expected_df = math.inf if fit["ddf"] is None else fit["ddf"]
    assert r.df == expected_df
    np.testing.assert_allclose(np.array(r.weights) * 100, fit["weights_percent"], rtol=RTOL)


def test_bcg_published_values():
    """BCG log risk ratios, REML: mu = -0.7145 (SE 0.1798), tau^2 = 0.3132, I^2 = 92.22 %, Q(12) = 152.23.

    Published in Viechtbauer (2010), section 3.1 output of ``rma(yi, vi, data=dat)``.
    """
    case = next(c for c in REF["cases"] if c["name"] == "bcg_log_rr")
    r = meta_analysis(case["yi"], case["vi"], method="REML")
    assert round(r.estimate, 4) == -0.7145
    assert round(r.std_error, 4) == 0.1798
    assert round(r.tau2, 4) == 0.3132
    assert round(r.i2, 2) == 92.22
    assert round(r.q, 2) == 152.23
    assert r.q_df == 12


def test_sei_equals_vi():
    """Passing standard errors is the same as passing their squares (metafor's ``sei=``)."""
    case = REF["cases"][0]
    a = meta_analysis(case["yi"], case["vi"], method="DL")
    b = meta_analysis(case["yi"], sei=np.sqrt(case["vi"]), method="DL")
    assert math.isclose(a.estimate, b.estimate, rel_tol=1e-12)
    assert math.isclose(a.tau2, b.tau2, rel_tol=1e-12)


def test_homogeneous_case_truncates_tau2():
    """Q < k - 1 gives tau^2 = 0 for DL and REML, so RE equals FE (metafor reference case)."""
    case = next(c for c in REF["cases"] if c["name"] == "homogeneous_tau2_zero")
    fe = meta_analysis(case["yi"], case["vi"], method="FE")
    for m in ("DL", "REML"):
        r = meta_analysis(case["yi"], case["vi"], method=m)
        assert r.tau2 == 0.0
        assert r.i2 == 0.0
        assert math.isclose(r.estimate, fe.estimate, rel_tol=1e-12)
        assert math.isclose(r.pi_lower, r.ci_lower, rel_tol=1e-12)


def test_reml_is_likelihood_maximum():
    """REML tau^2 maximises the restricted likelihood (independent check with scipy, Viechtbauer 2005 eq. 8)."""
    from scipy.optimize import minimize_scalar

    case = next(c for c in REF["cases"] if c["name"] == "hackshaw1998_log_or")
    y, v = np.array(case["yi"]), np.array(case["vi"])

    def neg_ll(t2: float) -> float:
        w = 1 / (v + t2)
        mu = (w * y).sum() / w.sum()
        return 0.5 * (np.log(v + t2).sum() + np.log(w.sum()) + (w * (y - mu) ** 2).sum())

    opt = minimize_scalar(neg_ll, bounds=(0, 1), method="bounded", options={"xatol": 1e-10})
    r = meta_analysis(y, v, method="REML")
    # Fisher scoring stops at |step| <= 1e-5, so agreement is to that order, not machine precision.
    assert abs(r.tau2 - opt.x) < 1e-5
    assert r.iterations >= 1


def test_to_frame_and_sites_frame():
    """to_frame gives one tidy row with argument-independent columns; sites_frame one row per site."""
    case = REF["cases"][0]
    r = meta_analysis(case["yi"], case["vi"], labels=case["labels"], scale="log_risk_ratio", ci_level=0.9)
    frame = r.to_frame()
    assert frame.shape[0] == 1
    for col in (
        "method",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "ci_lower",
        "ci_upper",
        "ci_level",
        "tau2",
        "tau2_se",
        "i2",
        "h2",
        "q",
        "q_df",
        "q_p_value",
        "pi_lower",
        "pi_upper",
        "k",
    ):
        assert col in frame.columns
    assert frame.loc[0, "ci_level"] == 0.9
    assert list(meta_analysis(case["yi"], case["vi"]).to_frame().columns) == list(frame.columns)
    sites = r.sites_frame()
    assert list(sites["label"]) == case["labels"]
    assert math.isclose(sites["weight"].sum(), 1.0, rel_tol=1e-12)
    assert (sites["ci_lower"] < sites["yi"]).all() and (sites["yi"] < sites["ci_upper"]).all()
    d = meta_analysis(case["yi"], case["vi"], method="FE").to_dict()
    assert d["pi_lower"] is None and d["tau2_se"] is None
    with pytest.raises(AttributeError):
        r.estimate = 0.0  # type: ignore[misc]


def test_meta_from_estimates():
    """Pooling Estimate records equals pooling their (estimate, std_error) pairs."""
    case = REF["cases"][2]
    recs = [
        Estimate(
            term="treat",
            estimate=y,
            std_error=math.sqrt(v),
            statistic=0,
            df=math.inf,
            p_value=1,
            ci_lower=0,
            ci_upper=0,
            ci_level=0.95,
            estimator="x",
            se_type="y",
            n=10,
            scale="log_odds_ratio",
        )
        for y, v in zip(case["yi"], case["vi"])
    ]
    r = meta_from_estimates(recs, method="DL")
    ref = meta_analysis(case["yi"], case["vi"], method="DL")
    assert math.isclose(r.estimate, ref.estimate, rel_tol=1e-12)
    assert r.scale == "log_odds_ratio"
    ratio = [Estimate(**{**recs[0].__dict__, "scale": "odds_ratio"})]
    with pytest.raises(ValueError, match="log scale"):
        meta_from_estimates(ratio)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"yi": [0.1, 0.2], "vi": [0.01, 0.02], "method": "REMl"}, r"Unknown method 'REMl'; did you mean 'REML'"),
        ({"yi": [0.1, 0.2], "vi": [0.01, 0.02], "method": "dl"}, r"Unknown method 'dl'; valid values: 'DL', 'FE', 'PM', 'REML'"),
        ({"yi": [0.1, 0.2], "vi": [0.01, 0.02], "test": "t"}, r"Unknown test 't'"),
        ({"yi": [0.1, 0.2], "vi": [0.01, 0.0]}, r"'vi' parameter must be > 0 .* position 1"),
        ({"yi": [0.1, 0.2], "vi": [0.01]}, r"'vi' parameter must have one value per estimate \(2\); got 1"),
        ({"yi": [0.1, float("nan")], "vi": [0.01, 0.02]}, r"'yi' parameter must be finite"),
        ({"yi": [0.1, 0.2]}, r"exactly one of 'vi'"),
        ({"yi": [0.1, 0.2], "vi": [0.01, 0.02], "sei": [0.1, 0.1]}, r"exactly one of 'vi'"),
        (
            {"yi": [0.1, 0.2], "vi": [0.01, 0.02], "ci_level": 95},
            r"'ci_level' parameter must be a number in the open range \(0, 1\); got 95",
        ),
        ({"yi": [], "vi": []}, r"at least one estimate"),
        ({"yi": [0.1, 0.2], "vi": [0.01, 0.02], "method": "FE", "test": "knha"}, r"'knha' needs a random-effects method"),
        ({"yi": [0.1, 0.2], "vi": [0.01, 0.02], "labels": ["a"]}, r"'labels' parameter must have one label"),
    ],
)
def test_argument_errors(kwargs, message):
    """Bad arguments raise ValueError naming the parameter, the value and what is allowed."""
    with pytest.raises(ValueError, match=message):
        meta_analysis(**kwargs)


def test_methods_registry():
    assert METHODS.names() == ["DL", "FE", "PM", "REML"]


def test_reml_nonconvergence_is_reported(monkeypatch):
    """Hitting the iteration cap raises a BitframeError with a hint instead of returning a wrong value."""
    import bitframe.report.meta as meta

    monkeypatch.setattr(meta, "REML_MAXITER", 1)
    case = next(c for c in REF["cases"] if c["name"] == "normand1999_md")
    with pytest.raises(BitframeError, match="did not converge"):
        meta_analysis(case["yi"], case["vi"], method="REML")


site_data = st.integers(min_value=2, max_value=12).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.001, 2.0, allow_nan=False), min_size=k, max_size=k),
    )
)


@settings(max_examples=60, deadline=None)
@given(data=site_data, method=st.sampled_from(["FE", "DL", "REML"]), perm_seed=st.integers(0, 2**32 - 1))
def test_properties(data, method, perm_seed):
    """CI contains the estimate, PI contains the CI, p in [0, 1], weights sum to 1, order invariance."""
    y, v = map(np.array, data)
    r = meta_analysis(y, v, method=method)
    assert isinstance(r, MetaResult)
    assert r.ci_lower <= r.estimate <= r.ci_upper
    assert 0.0 <= r.p_value <= 1.0 and 0.0 <= r.q_p_value <= 1.0
    assert r.tau2 >= 0.0 and 0.0 <= r.i2 <= 100.0
    assert math.isclose(sum(r.weights), 1.0, rel_tol=1e-9)
    assert min(y) - 1e-9 <= r.estimate <= max(y) + 1e-9
    if method != "FE":
        assert r.pi_lower <= r.ci_lower + 1e-12 and r.ci_upper <= r.pi_upper + 1e-12
    perm = np.random.default_rng(perm_seed).permutation(y.size)
    r2 = meta_analysis(y[perm], v[perm], method=method)
    assert math.isclose(r.estimate, r2.estimate, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(r.tau2, r2.tau2, rel_tol=1e-6, abs_tol=1e-9)


def test_reml_falls_back_to_metafors_step_halving_when_scoring_oscillates():
    """metafor 3.8: rma(yi, vi, method = "REML") stops with "Fisher scoring algorithm did not
    converge" on these data; its documented remedy control = list(stepadj = 0.5, maxiter = 1000)
    gives tau^2 = 0.0839389506, estimate 0.3419695066, SE 0.3159820523 (Rscript, this machine)."""
    y = np.array([0, 0, 0, 0, 0, 2.0, 0, 0, 0, 0])
    v = np.array([1, 1, 1, 1, 1, 0.5, 1, 1, 1, 1.0])
    r = meta_analysis(y, v, method="REML")
    np.testing.assert_allclose([r.tau2, r.estimate, r.std_error], [0.0839389506, 0.3419695066, 0.3159820523], rtol=1e-6)
