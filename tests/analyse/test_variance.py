"""Tests of bitframe.analyse.variance: one registry of se_types, and one meaning per name in every
estimator that uses it (OLS and the GLMs). The formulas themselves are checked against R through the
estimators (test_linear_reference.py: estimatr and clubSandwich; test_glm.py: sandwich)."""

from __future__ import annotations

import numpy as np
import pytest

from bitframe.analyse import glm
from bitframe.analyse.linear import ols
from bitframe.analyse.variance import (
    CR_SE_TYPES,
    SE_TYPES,
    VARIANCE_ESTIMATORS,
    Clusters,
    SandwichInputs,
    resolve_se_type,
    variance,
)
from bitframe.protocol.vocabulary import LIBRARY_SE_TYPES


def _trial(seed: int = 3):
    rng = np.random.default_rng(seed)
    G, m = 14, 6
    cl = np.repeat(np.arange(G), m)
    arm = np.where(rng.permutation(G)[cl] % 2 == 0, "control", "sms")
    x = rng.normal(size=cl.size)
    y = (rng.random(cl.size) < 1 / (1 + np.exp(-(0.4 * (arm == "sms") + 0.5 * x + rng.normal(size=G)[cl])))).astype(float)
    return y, arm, x, cl


def test_every_name_is_registered_once_and_unknown_names_list_the_valid_ones():
    assert set(VARIANCE_ESTIMATORS.names()) == set(SE_TYPES) == set(LIBRARY_SE_TYPES)
    assert all(VARIANCE_ESTIMATORS.get(s).clustered == (s in CR_SE_TYPES) for s in SE_TYPES)
    with pytest.raises(ValueError, match=r"Unknown se_type 'CR3'; did you mean '\w+'\? Valid values: 'CR0', 'CR1', 'CR2', 'HC0'"):
        VARIANCE_ESTIMATORS.get("CR3")


@pytest.mark.parametrize("fit", ["ols", "logit"])
def test_small_sample_factors_mean_the_same_in_ols_and_glm(fit):
    """CR1 = CR0 G/(G-1), stata = CR0 G(n-1)/((G-1)(n-k)) and HC1 = HC0 n/(n-k), whichever
    estimator supplies the scores (bitframe 0.1 had 'stata' mean CR1 in the GLMs)."""
    y, arm, x, cl = _trial()
    n, k, G = y.size, 3, 14
    if fit == "ols":
        X = np.column_stack([np.ones(n), arm == "sms", x])

        def var(se_type, clusters=None):
            return ols(y, X, se_type=se_type, clusters=clusters).std_errors ** 2
    else:
        def var(se_type, clusters=None):
            res = glm.logistic_regression(y, arm, control="control", covariates=x, clusters=clusters, se_type=se_type)
            return np.array([e.std_error for e in res.coefficients]) ** 2

    cr0 = var("CR0", cl)
    np.testing.assert_allclose(var("CR1", cl), cr0 * G / (G - 1), rtol=1e-12)
    np.testing.assert_allclose(var("stata", cl), cr0 * G * (n - 1) / ((G - 1) * (n - k)), rtol=1e-12)
    np.testing.assert_allclose(var("HC1"), var("HC0") * n / (n - k), rtol=1e-12)


def test_glm_default_with_clusters_is_cr1_and_cr2_is_least_squares_only():
    y, arm, _, cl = _trial()
    assert glm.logistic_regression(y, arm, clusters=cl).se_type == "CR1"
    with pytest.raises(ValueError, match=r"Unknown se_type 'CR2'"):
        glm.logistic_regression(y, arm, clusters=cl, se_type="CR2")
    codes = cl.astype(np.intp)
    inputs = SandwichInputs.likelihood(np.ones((y.size, 1)), np.eye(1), y - y.mean(), np.ones(y.size),
                                       clusters=Clusters.from_codes(codes, 14, "CR2"))
    with pytest.raises(ValueError, match="least-squares fits only"):
        variance("CR2", inputs)


@pytest.mark.parametrize(
    ("se_type", "clustered", "message"),
    [
        ("HC2", True, r"se_type 'HC2' ignores 'clusters'; with clusters use one of 'CR0', 'stata', 'CR2', 'CR1'\."),
        ("CR1", False, r"se_type 'CR1' is cluster-robust and needs 'clusters'; none were given\."),
        ("stata", False, r"none were given \(for Stata's HC1 without clusters use 'HC1'\)"),
    ],
)
def test_resolve_se_type_messages(se_type, clustered, message):
    with pytest.raises(ValueError, match=message):
        resolve_se_type(se_type, clustered)
    assert resolve_se_type(None, clustered) == ("CR2" if clustered else "HC2")
