"""Properties of bitframe.analyse.linear beyond the R reference cases.

* The low-rank CR2 (per-cluster m x m algebra) equals the textbook dense formula of Bell &
  McCaffrey (2002) / Pustejovsky & Tipton (2018, eq. 7), computed here with explicit
  n_g x n_g matrices, and its df equals the Imbens & Kolesar (2016, eq. 12) definition
  ``(sum lambda)^2 / sum lambda^2`` of the eigenvalues of ``G'G``.
* Weighted HC0/CR0 with integer weights equal the unweighted fit of replicated rows.
* Lin's arm coefficient equals the difference of the two arms' own regressions evaluated at the
  overall covariate mean (Lin 2013, sec. 2).
* Argument errors name the parameter, the value and the allowed values.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from bitframe.analyse.coding import treatment_design
from bitframe.analyse.linear import fit_treatment_design, lm_lin, ols
from bitframe.analyse.variance import SE_TYPES


def _dense_cr2(y, X, cl, w=None):
    """CR2 variance and Bell-McCaffrey df straight from the definitions, O(n^2) memory."""
    n, k = X.shape
    w = np.ones(n) if w is None else np.asarray(w, float)
    W = np.diag(w)
    M = np.linalg.inv(X.T @ W @ X)
    beta = M @ X.T @ W @ y
    e = y - X @ beta
    IH = np.eye(n) - X @ M @ X.T @ W
    BB = IH @ IH.T
    groups = [np.flatnonzero(cl == g) for g in np.unique(cl)]
    A = []
    meat = np.zeros((k, k))
    for idx in groups:
        ev, V = np.linalg.eigh(BB[np.ix_(idx, idx)])
        f = np.where(ev > 1e-12, 1 / np.sqrt(np.where(ev > 1e-12, ev, 1)), 0.0)
        Ag = V @ np.diag(f) @ V.T
        A.append(Ag)
        u = X[idx].T @ W[np.ix_(idx, idx)] @ Ag @ e[idx]
        meat += np.outer(u, u)
    vcov = M @ meat @ M
    dfs = []
    for j in range(k):
        c = np.eye(k)[j]
        Gmat = np.column_stack([IH[idx, :].T @ (Ag @ (w[idx, None] * X[idx]) @ M @ c) for idx, Ag in zip(groups, A)])
        lam = np.linalg.eigvalsh(Gmat.T @ Gmat)
        dfs.append(lam.sum() ** 2 / (lam**2).sum())
    return beta, vcov, np.array(dfs)


def _cluster_data(seed: int, n_clusters: int = 25, with_fe: bool = False):
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 5, 8, 13], size=n_clusters)
    cl = np.repeat(np.arange(n_clusters), sizes)
    n = cl.size
    z = rng.integers(0, 2, n_clusters)[cl].astype(float)
    x = rng.normal(size=n)
    cols = [np.ones(n), z, x]
    if with_fe:
        block = (np.arange(n_clusters) % 4)[cl]
        cols += [(block == b).astype(float) for b in (1, 2, 3)]
    X = np.column_stack(cols)
    y = 0.3 * z + x + rng.normal(size=n_clusters)[cl] + rng.normal(size=n)
    w = rng.uniform(0.3, 3.0, n)
    perm = rng.permutation(n)
    return y[perm], X[perm], cl[perm], w[perm]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("with_fe", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_low_rank_cr2_equals_dense_definition(seed, with_fe, weighted):
    """Bell & McCaffrey (2002) CR2 and df, dense n_g x n_g computation vs the low-rank one; clusters of
    size 1-2 with fixed effects exercise the pseudo-inverse square root."""
    y, X, cl, w = _cluster_data(seed, with_fe=with_fe)
    wts = w if weighted else None
    beta, vcov, dfs = _dense_cr2(y, X, cl, wts)
    fit = ols(y, X, se_type="CR2", clusters=cl, weights=wts)
    np.testing.assert_allclose(fit.coefficients, beta, rtol=1e-9)
    np.testing.assert_allclose(fit.vcov, vcov, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose([e.df for e in fit.estimates], dfs, rtol=1e-8)


def test_cr2_many_small_clusters_uses_vectorised_path():
    """> 4000 clusters switch the per-cluster Gram matrices to segmented sums; same answer as dense
    on a subset-sized problem is covered above, so compare the two code paths directly here."""
    import bitframe.analyse.variance as var

    rng = np.random.default_rng(5)
    G = 4500
    cl = np.repeat(np.arange(G), rng.integers(1, 4, G))
    n = cl.size
    X = np.column_stack([np.ones(n), rng.integers(0, 2, G)[cl], rng.normal(size=n)])
    y = X @ [1, 0.2, 0.5] + rng.normal(size=n)
    order, starts, counts = var._segments(cl, G)
    Z = rng.normal(size=(n, 3))[order]
    loop = np.stack([Z[s : s + c].T @ Z[s : s + c] for s, c in zip(starts, counts)])
    np.testing.assert_allclose(var._group_gram(Z, starts, counts), loop, rtol=1e-12, atol=1e-12)
    fit = ols(y, X, se_type="CR2", clusters=cl)
    assert np.all(np.isfinite(fit.std_errors)) and fit.n_clusters == G


def test_integer_weights_cr0_equals_replicated_rows():
    """Cluster scores sum_i w_i e_i x_i are those of the data with row i repeated w_i times (in the
    same cluster), and the bread is the same: weighted and replicated CR0 fits agree."""
    rng = np.random.default_rng(11)
    n = 80
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n)])
    y = X @ [0.5, 1.0, -0.3] + rng.normal(size=n) * (1 + X[:, 1])
    w = rng.integers(1, 4, n)
    cl = np.arange(n) // 4
    rep = np.repeat(np.arange(n), w)
    a = ols(y, X, se_type="CR0", weights=w, clusters=cl)
    b = ols(y[rep], X[rep], se_type="CR0", clusters=cl[rep])
    np.testing.assert_allclose(a.coefficients, b.coefficients, rtol=1e-10)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-10)


@pytest.mark.parametrize("se_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3"])
def test_weighted_hc_matches_statsmodels_wls(se_type):
    """statsmodels WLS sandwich (on the whitened design sqrt(w) X, sqrt(w) e) for weighted
    classical/HC0-HC3; also checks invariance to the scale of the weights."""
    import statsmodels.api as sm

    rng = np.random.default_rng(4)
    n = 120
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=(n, 2))])
    y = X @ [0.5, 1.0, -0.3, 0.2] + rng.normal(size=n) * (1 + X[:, 1])
    w = rng.uniform(0.2, 5.0, n)
    ref = sm.WLS(y, X, weights=w).fit(cov_type=se_type)
    ours = ols(y, X, weights=7.3 * w, se_type="classical" if se_type == "nonrobust" else se_type)
    np.testing.assert_allclose(ours.coefficients, ref.params, rtol=1e-10)
    np.testing.assert_allclose(ours.std_errors, ref.bse, rtol=1e-10)


@pytest.mark.parametrize("se_type", ["classical", "HC1", "HC2", "HC3"])
def test_row_order_does_not_matter(se_type):
    y, X, _cl, _w = _cluster_data(7)
    a = ols(y, X, se_type=se_type)
    p = np.random.default_rng(0).permutation(y.size)
    b = ols(y[p], X[p], se_type=se_type)
    np.testing.assert_allclose(a.coefficients, b.coefficients, rtol=1e-10)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-10)


def test_lin_arm_effect_is_difference_of_arm_regressions_at_the_mean():
    """Lin (2013): the interacted, centred regression's arm coefficient equals
    (a_1 + b_1' xbar) - (a_0 + b_0' xbar), fitting OLS separately within each arm."""
    rng = np.random.default_rng(3)
    n = 200
    arm = rng.choice(["ctl", "t1", "t2"], n)
    x = rng.normal(size=(n, 2))
    y = x @ [1.0, -0.5] + (arm == "t1") * (1 + x[:, 0]) + rng.normal(size=n)
    fit = lm_lin(y, arm, x, control="ctl")
    xbar = x.mean(axis=0)

    def predicted(a):
        m = arm == a
        Xa = np.column_stack([np.ones(m.sum()), x[m]])
        coef = np.linalg.lstsq(Xa, y[m], rcond=None)[0]
        return coef[0] + coef[1:] @ xbar

    for a in ("t1", "t2"):
        assert fit[f"arm[{a}]"].estimate == pytest.approx(predicted(a) - predicted("ctl"), rel=1e-10)
    assert fit.terms[:6] == ("(Intercept)", "arm[t1]", "arm[t2]", "x1_c", "x2_c", "arm[t1]:x1_c")


def test_arm_confined_to_one_stratum_is_not_identified():
    rng = np.random.default_rng(1)
    arm = np.array(["c"] * 10 + ["t"] * 5 + ["c"] * 5)
    strata = np.array(["s1"] * 10 + ["s2"] * 10)
    strata[10:15] = "s3"  # the 't' units, and only they, make up stratum s3
    d = treatment_design(arm, strata=strata)
    with pytest.raises(ValueError, match="effect of 't' is not identified"):
        fit_treatment_design(rng.normal(size=20), d)


def test_collinear_covariate_is_dropped_with_a_warning():
    rng = np.random.default_rng(2)
    n = 40
    x = rng.normal(size=n)
    d = treatment_design(["a", "b"] * 20, covariates={"x": x, "x2": 2 * x}, adjustment="standard")
    with pytest.warns(UserWarning, match="Dropped collinear design columns: 'x2'"):
        fit, arms = fit_treatment_design(rng.normal(size=n), d)
    assert fit.dropped == ("x2",) and arms[0].term == "b"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"se_type": "HC4"}, r"Unknown se_type 'HC4'; did you mean 'HC[0-3]'\?"),
        ({"se_type": "CR1"}, r"se_type 'CR1' is cluster-robust and needs 'clusters'"),
        ({"se_type": "HC2", "clusters": np.arange(30) // 3}, r"se_type 'HC2' ignores 'clusters'"),
        ({"se_type": "CR2"}, r"se_type 'CR2' is cluster-robust and needs 'clusters'"),
        ({"se_type": "stata"}, r"use 'HC1'"),
        ({"ci_level": 1.5}, r"'ci_level' parameter must be a float in the open range \(0, 1\). Got 1.5"),
        ({"weights": np.r_[0.0, np.ones(29)]}, r"'weights' parameter must be positive; 1 entries"),
        ({"clusters": np.zeros(30)}, r"at least 2 clusters; got 1"),
        ({"term_names": ["a"]}, r"'term_names' parameter must have 2 names"),
        ({"collinear": "ignore"}, r"'collinear' parameter must be 'drop' or 'error'"),
    ],
)
def test_ols_argument_errors(kwargs, message):
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(30), rng.normal(size=30)])
    with pytest.raises(ValueError, match=message):
        ols(rng.normal(size=30), X, **kwargs)


def test_ols_data_errors():
    X = np.column_stack([np.ones(3), [1.0, 2, 3]])
    with pytest.raises(ValueError, match=r"'y' parameter must be finite; 1 entries"):
        ols([1.0, np.nan, 2], X)
    with pytest.raises(ValueError, match=r"'y' parameter must have 3 entries"):
        ols([1.0, 2], X)
    with pytest.raises(ValueError, match="more rows than coefficients"):
        ols([1.0, 2], X[:2])


def test_se_types_listed_once_each():
    assert len(set(SE_TYPES)) == len(SE_TYPES) == 9
    assert "CR1" in SE_TYPES and "stata" in SE_TYPES


def test_to_frame_has_tidy_columns():
    rng = np.random.default_rng(0)
    fit = ols(rng.normal(size=20), np.column_stack([np.ones(20), rng.normal(size=20)]))
    frame = fit.to_frame()
    assert list(frame["term"]) == ["x1", "x2"]
    assert {"estimate", "std_error", "df", "p_value", "ci_lower", "ci_upper", "ci_level", "se_type"} <= set(frame.columns)
    with pytest.raises(KeyError, match="did you mean 'x1'"):
        fit["x11"]


@pytest.mark.slow
def test_cr2_million_rows_thousand_clusters_is_fast():
    """Scaling target: n = 1e6, 1,000 clusters, 7 coefficients, CR2 with df in a few seconds."""
    rng = np.random.default_rng(0)
    n, G = 1_000_000, 1000
    cl = rng.integers(0, G, n)
    X = np.column_stack([np.ones(n), rng.integers(0, 2, G)[cl], rng.normal(size=(n, 5))])
    y = X @ rng.normal(size=7) + rng.normal(size=G)[cl] + rng.normal(size=n)
    t0 = time.perf_counter()
    fit = ols(y, X, se_type="CR2", clusters=cl)
    assert time.perf_counter() - t0 < 6.0
    assert np.all(np.isfinite([e.df for e in fit.estimates]))


@pytest.mark.parametrize("se_type", ["HC2", "CR2"])
def test_badly_scaled_design_takes_householder_path_and_is_equivariant(se_type, monkeypatch):
    """Rescaling a column by c divides its coefficient and SE by c and leaves the rest unchanged
    (exact algebra). A column in units 1e7 larger and a near-collinear pair push the column-scaled
    condition number past 1e6, so the Householder fallback runs; results must still obey this."""
    import bitframe.analyse.linear as lin

    calls = []
    real_qr = np.linalg.qr
    monkeypatch.setattr(lin.np.linalg, "qr", lambda *a, **k: calls.append(1) or real_qr(*a, **k))
    y, X, cl, _ = _cluster_data(9)
    rng = np.random.default_rng(9)
    X = np.column_stack([X, X[:, 2] + 1e-6 * rng.normal(size=X.shape[0])])  # near-collinear, not dropped
    kw = {"clusters": cl} if se_type == "CR2" else {}
    base = ols(y, X, se_type=se_type, **kw)
    scale = np.array([1.0, 1.0, 1e7, 1.0])
    scaled = ols(y, X * scale, se_type=se_type, **kw)
    assert calls, "Householder fallback not used"
    np.testing.assert_allclose(scaled.coefficients * scale, base.coefficients, rtol=1e-6)
    np.testing.assert_allclose(scaled.std_errors * scale, base.std_errors, rtol=1e-6)
    assert base.dropped == () and scaled.dropped == ()


def test_t_tail_areas_are_scipy_stats_values_without_importing_it():
    """t_inference calls analyse.distributions (no scipy): scipy.stats.t's numbers to 1e-13 for
    NaN, non-positive, fractional, huge and infinite df (the normal limit) and for 0, huge and
    infinite statistics (docs/decisions/0014-own-t-distribution.md; R's pt and qt in
    tests/analyse/test_distributions.py)."""
    from scipy import stats

    from bitframe.analyse.linear import t_inference

    df = np.array([np.nan, -1.0, 0.0, 0.5, 3.0, 98993.0, 1e300, np.inf, np.inf, 12.0])
    estimate = np.array([1.0, 1.0, 1.0, 0.3, -2.5, 0.2, 1e-3, 1.96, 50.0, 1.0])
    std_error = np.array([0.5, 0.5, 0.5, 0.1, 1.0, 0.01, 1.0, 1.0, 1e-300, 0.0])
    statistic, p_value, lo, hi = t_inference(estimate, std_error, df, 0.9)
    valid = np.where(df > 0, df, np.nan)
    np.testing.assert_allclose(p_value, 2.0 * stats.t.sf(np.abs(statistic), valid), rtol=1e-13, atol=0)
    crit = stats.t.ppf(0.95, valid) * std_error
    np.testing.assert_allclose(lo, estimate - crit, rtol=1e-13, atol=0)
    np.testing.assert_allclose(hi, estimate + crit, rtol=1e-13, atol=0)
